"""An answer committed while a completion judges its run's state (PostgreSQL, two
transactions at once) leaves the run running, not paused with the answer pending.

It holds because appending the response event (a foreign key to the run) takes a key-share
lock on the run's row, which waits for the completion's ``FOR UPDATE``; the answer's
``resume_runs`` then sees the status the completion wrote. This test keeps it so."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, text

from inloop.domain.runs import Run, RunEventStatus, RunStatus
from inloop.server.store import runs as sql
from inloop.server.store.engine import make_engine
from tests.support import Databases

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _blocked_on_a_lock(conn: Connection, pid: int) -> bool:
    row = conn.execute(
        text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
    ).first()
    return row is not None and row.wait_event_type == "Lock"


@pytest.mark.postgres
def test_an_answer_during_a_completion_resumes_the_run(databases: Databases) -> None:
    with databases.postgres() as url:
        engine = make_engine(url)
        try:
            run = Run(
                id="run_race", agent="A", status=RunStatus.RUNNING, start_event={},
                created_by="key:test", created_at=NOW, updated_at=NOW,
            )  # fmt: skip
            with engine.begin() as conn:
                sql.insert_run(conn, run)
                sql.append(
                    conn,
                    [sql.event_row(run.id, "A", "Q", {}, RunEventStatus.WAITING, NOW,
                                   request_id="req_1", reply_type="R")],
                )  # fmt: skip
            answered = threading.Event()
            answer_pid: list[int] = []

            def answer() -> None:  # what closing req_1 does to the run, in its transaction
                with engine.begin() as conn:
                    answer_pid.append(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
                    [taken] = sql.take_waiting(conn, ["req_1"], NOW)
                    sql.append(
                        conn,
                        [sql.event_row(run.id, "A", "R", {}, RunEventStatus.PENDING, NOW,
                                       emitted_by=taken[0], request_id="req_1")],
                    )  # fmt: skip
                    sql.resume_runs(conn, [run.id], NOW)
                answered.set()

            with engine.connect() as completion, engine.connect() as observer:
                with completion.begin():
                    # A completion of another step locks the run and sees only a wait...
                    sql.lock_run(completion, run.id)
                    assert sql.has_pending(completion, run.id) == (False, True)
                    thread = threading.Thread(target=answer)
                    thread.start()
                    # ... while the answer runs up to the run's row (or, unfixed, commits).
                    while not answered.is_set() and not (
                        answer_pid and _blocked_on_a_lock(observer, answer_pid[0])
                    ):
                        observer.rollback()  # a fresh snapshot of pg_stat_activity
                    sql.set_status(completion, run.id, RunStatus.PAUSED, NOW)
                thread.join(30)
            with engine.connect() as conn:
                found = sql.get_run(conn, run.id)
                assert found is not None
                assert sql.has_pending(conn, run.id) == (True, False)
                assert found.status == RunStatus.RUNNING
        finally:
            engine.dispose()
