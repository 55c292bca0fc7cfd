"""The service layer: every change of state goes through here, from every entry point."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from inloop.server.config import Settings
from inloop.server.services.clock import Clock, SystemClock
from inloop.server.services.hub import Hub
from inloop.server.services.identity import IdentityService
from inloop.server.services.requests import RequestService
from inloop.server.store.database import Database
from inloop.server.store.engine import make_engine


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    hub: Hub
    requests: RequestService
    identity: IdentityService

    def close(self) -> None:
        self.db.dispose()


def build_services(settings: Settings, *, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    db = Database(engine, origin=secrets.token_hex(8))
    hub = Hub()
    db.on_commit = hub.publish
    return Services(
        settings=settings,
        db=db,
        clock=clock,
        hub=hub,
        requests=RequestService(db, clock, hub),
        identity=IdentityService(db, clock, admin_token=settings.admin_token),
    )
