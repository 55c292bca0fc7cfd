"""The service layer: every change of state goes through here, from every entry point."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from inloop.domain.durations import parse_duration
from inloop.server.config import Settings
from inloop.server.services.assignment import AssignmentService
from inloop.server.services.clock import Clock, SystemClock
from inloop.server.services.desk import DeskService
from inloop.server.services.hub import Hub
from inloop.server.services.identity import IdentityService
from inloop.server.services.lifecycle import Lifecycle, Policy
from inloop.server.services.requests import RequestService
from inloop.server.services.runs import RunService
from inloop.server.services.scheduler import Scheduler
from inloop.server.services.sessions import SessionService
from inloop.server.services.stats import StatsService
from inloop.server.services.workflows import WorkflowService
from inloop.server.store.database import Database
from inloop.server.store.engine import make_engine


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    hub: Hub
    requests: RequestService
    assignment: AssignmentService
    identity: IdentityService
    scheduler: Scheduler
    runs: RunService
    sessions: SessionService
    desk: DeskService
    stats: StatsService
    workflows: WorkflowService

    def close(self) -> None:
        self.db.dispose()


def build_services(settings: Settings, *, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    db = Database(engine, origin=secrets.token_hex(8))
    hub = Hub()
    db.on_commit = hub.publish
    policy = Policy(
        escalate_to=settings.escalate_to,
        fallback=settings.routing_fallback,
        away_after=parse_duration(settings.away_after),
        offline_grace=parse_duration(settings.offline_grace),
    )
    lifecycle = Lifecycle(policy)
    requests = RequestService(db, clock, hub, lifecycle)
    runs = RunService(db, clock, hub, lifecycle, requests)
    return Services(
        settings=settings,
        db=db,
        clock=clock,
        hub=hub,
        requests=requests,
        assignment=AssignmentService(db, clock, lifecycle, requests),
        identity=IdentityService(db, clock, policy, admin_token=settings.admin_token),
        scheduler=Scheduler(db, clock, lifecycle, batch=settings.scheduler_batch),
        runs=runs,
        sessions=SessionService(db, clock, lifetime=timedelta(hours=12)),
        desk=DeskService(db),
        stats=StatsService(db, clock, policy),
        workflows=WorkflowService(db, runs),
    )
