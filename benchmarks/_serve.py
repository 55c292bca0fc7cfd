"""``inloop serve``'s app plus two probes: did each answer find its long-poll parked, and
when (wall clock) did each answer's transaction commit?

Run as ``python -m benchmarks._serve DATABASE_URL PORT`` by the HTTP round-trip benchmark.
The app, its settings and its uvicorn set-up (``run_app``) are those of ``inloop serve``; the only
additions are a wrapper on the commit hook and ``GET /_bench/wakeups`` to read it.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from inloop.server.app import create_app
from inloop.server.config import Settings
from inloop.server.serve import run_app
from inloop.server.services import build_services
from inloop.server.store.database import Published
from inloop.server.store.migrations import upgrade


def main(database_url: str, port: int) -> None:
    settings = Settings.from_env(database_url=database_url, port=port)
    upgrade(settings.database_url)
    services = build_services(settings)
    hub = services.hub
    woken: list[str] = []
    unparked: list[str] = []

    committed: dict[str, float] = {}
    writer = services.db._writer
    transaction = writer._transaction

    def timed_transaction(group: list[Any], *, isolate: bool) -> bool:
        # The wall-clock moment each answer's transaction committed, read in the writer
        # thread right after COMMIT returned: where the wake latency starts.
        done = transaction(group, isolate=isolate)
        if done:
            at = time.time()
            for job in group:
                if job.error is None:
                    for _, request in job.published:
                        if not request.is_open:
                            committed[request.id] = at
        return done

    writer._transaction = timed_transaction  # type: ignore[method-assign]

    def publish(published: Published) -> None:
        for _, request in published:
            if not request.is_open:
                # The hub's own table of parked waiters, read before it wakes them.
                (woken if request.id in hub._waiters else unparked).append(request.id)
        hub.publish(published)

    services.db.on_commit = publish
    app = create_app(settings, services=services)

    @app.get("/_bench/wakeups", include_in_schema=False)
    async def wakeups() -> dict[str, object]:
        return {"woken": len(woken), "unparked": unparked, "committed": committed}

    run_app(app, settings)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
