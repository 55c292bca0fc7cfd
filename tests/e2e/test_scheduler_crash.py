"""A server killed with SIGKILL while firing a batch loses no timer and doubles none."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from itertools import repeat
from pathlib import Path

import pytest

from inloop.server.store.engine import make_engine
from tests.e2e.test_scheduler_replicas import (
    assert_fired_exactly_once,
    seed_timeouts,
    timed_out_count,
    wait_for_timed_out,
)
from tests.support import ServerProcess

pytestmark = pytest.mark.e2e


def test_sigkill_mid_batch_loses_and_doubles_no_timer(database_url: str, tmp_path: Path) -> None:
    """20,000 overdue timeouts (40 batches); killed part-way, restarted: each fires once."""
    count = 20_000
    engine = make_engine(database_url, pool_size=2)
    try:
        seed_timeouts(engine, repeat(datetime.now(UTC) - timedelta(seconds=1)), count)
        server = ServerProcess(database_url, tmp_path).start()
        try:
            deadline = time.monotonic() + 30
            while (fired := timed_out_count(engine)) == 0:
                assert time.monotonic() < deadline, "no timer fired"
                time.sleep(0.01)  # polling for the first batch's arrival
            server.kill()
            assert fired < count, "every timer fired before the kill: nothing was tested"
            server.start()
            wait_for_timed_out(engine, count, seconds=50)
        finally:
            server.stop()
        assert_fired_exactly_once(engine, count)
    finally:
        engine.dispose()
