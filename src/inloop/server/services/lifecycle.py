"""The changes a request goes through after it is created, inside one transaction.

Routing, assignment, escalation steps, reminders and policy decisions all land here, so
the API, the scheduler and the desk change requests the same way: a conditional update
of the row, the candidates kept in step, an audit event, and the timers of the new state.

Timers are never deleted here, only added: each carries the level and stage it was set
for (and a timeout timer its due time), and a timer that no longer matches its request
is dropped when it comes due. So no write path but the scheduler touches timer rows,
which keeps replicas on PostgreSQL free of lock cycles between answers and timers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from inloop.domain.durations import parse_duration
from inloop.domain.enums import EventType, Kind, Priority
from inloop.domain.errors import NotFoundError
from inloop.domain.escalation import (
    Escalate,
    Remind,
    Requeue,
    Resolve,
    Step,
    level_timeout,
    on_timeout,
)
from inloop.domain.requests import APPROVAL_WORDS, REJECTION_WORDS, NewEvent, Request
from inloop.domain.routing import choose
from inloop.domain.specs import AssigneeStrategy, EscalationPolicy, Transfer, candidate_refs
from inloop.domain.transitions import TRANSITIONS, Action, transition
from inloop.server.store import bulk
from inloop.server.store import requests as sql
from inloop.server.store import routing as routing_sql
from inloop.server.store.database import Tx

SYSTEM = "system"
POLICY = "policy"


@dataclass(frozen=True)
class Policy:
    """Server-wide routing and escalation settings."""

    escalate_to: str
    fallback: str  # "queue", "escalate" or "transfer:<ref>"
    away_after: timedelta
    offline_grace: timedelta


class Lifecycle:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        #: Called inside the transaction that closed these requests, however they closed
        #: (answered, timed out, decided by policy, cancelled): durable runs append the
        #: response event to the run's inbox there, so the two commit together.
        self.on_close: list[Callable[[Tx, list[Request], datetime], None]] = []
        #: Called inside the transaction after every change made through ``change``, with
        #: the request before and after: handoff sessions follow their desk ticket here.
        self.on_change: list[Callable[[Tx, Request, Request, datetime], None]] = []

    # the one way a request changes

    def change(
        self,
        tx: Tx,
        request: Request,
        action: Action | None,
        changes: dict[str, Any],
        event: EventType,
        *,
        actor: str,
        now: datetime,
        reason: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Request:
        """Apply ``changes`` if the request is still where ``action`` may start from."""
        allowed = TRANSITIONS[action].allowed_from if action else frozenset({request.status})
        values = {**changes, "updated_at": now}
        if action is not None:
            rule = transition(request.status, action)
            values["status"] = rule.to
            if rule.resolution is not None:
                values.update(resolution=rule.resolution, resolved_at=now)
        updated = sql.update_if_status(tx.conn, request.id, allowed, values)
        if updated is None:  # changed by a concurrent transaction since it was read
            current = sql.get_request(tx.conn, request.id)
            if current is None:
                raise NotFoundError(f"no request with id {request.id!r}", field="id")
            if action is not None:
                transition(current.status, action)
            raise AssertionError("conditional update matched no row")
        if "candidates" in changes:
            sql.set_candidates(tx.conn, request.id, changes["candidates"])
        tx.emit(
            NewEvent(
                request_id=request.id,
                type=event,
                actor=actor,
                reason=reason,
                at=now,
                data=data or {},
            ),
            updated,
        )
        if request.is_open and not updated.is_open:
            for hook in self.on_close:
                hook(tx, [updated], now)
        for on_change in self.on_change:
            on_change(tx, request, updated, now)
        return updated

    # starting out

    def start(self, tx: Tx, request: Request, now: datetime) -> Request:
        """Route a new request and set its timers."""
        request = self.route(tx, request, self._stage_assignee(request), now)
        if request.is_open:
            self.schedule(tx, request, now, assignment=True)
        return request

    def _stage_assignee(self, request: Request) -> Any:
        if request.approvals:
            return request.approvals[request.stage].assignee
        return None if request.quorum else request.assignee

    def schedule(
        self, tx: Tx, request: Request, now: datetime, *, assignment: bool = False
    ) -> None:
        """Timers for the request's current level and stage."""
        self.schedule_timeout(tx, request)
        self.schedule_reminder(tx, request, now)
        if assignment and request.assignment is not None and request.assigned_to is None:
            due = now + parse_duration(request.assignment.timeout)
            marks = {"level": request.level, "stage": request.stage}
            tx.add_timer("assignment", due, request_id=request.id, data=marks)

    def schedule_timeout(self, tx: Tx, request: Request) -> None:
        if request.due_at is not None:
            marks = {"level": request.level, "stage": request.stage}
            tx.add_timer("timeout", request.due_at, request_id=request.id, data=marks)

    def schedule_reminder(self, tx: Tx, request: Request, now: datetime) -> None:
        every = _remind_every(request.escalation)
        if every is not None:
            marks = {"level": request.level, "stage": request.stage}
            tx.add_timer("remind", now + every, request_id=request.id, data=marks)

    # routing

    def route(self, tx: Tx, request: Request, spec: Any, now: datetime) -> Request:
        """Assign as the spec says: a single user at once, a strategy by choosing."""
        if isinstance(spec, str) and spec.startswith("user:"):
            return self.assign(
                tx,
                request,
                spec.removeprefix("user:"),
                now,
                EventType.ASSIGNED,
                actor=SYSTEM,
                reason=f"assigned to {spec} as asked",
            )
        if isinstance(spec, dict):
            spec = AssigneeStrategy.model_validate(spec)
        if not isinstance(spec, AssigneeStrategy):
            return request
        pool_key = _pool_key(spec)
        robin = spec.strategy == "round_robin"
        routing_sql.lock_pool(tx.conn, pool_key)
        last = routing_sql.last_chosen(tx.conn, pool_key) if robin else None
        handle = routing_sql.pick(tx.conn, spec.refs, spec.strategy, last)
        if handle is not None:
            if robin:
                routing_sql.set_last_chosen(tx.conn, pool_key, handle)
            how = f"round robin after {last or 'the start'}" if robin else "least busy"
            return self.assign(
                tx,
                request,
                handle,
                now,
                EventType.ASSIGNED,
                actor=SYSTEM,
                reason=f"{how}: {handle} of {', '.join(spec.refs)}",
            )
        # Nobody: the whole pool, through the same rule, says why.
        members = routing_sql.pool_members(tx.conn, spec.refs)
        counts = {m.handle: m.open_assigned for m in members}
        choice = choose(
            spec.strategy, members, counts, last=last, now=now, away_after=self.policy.away_after
        )
        return self._fallback(
            tx, request, spec.fallback or self._default_fallback(), choice.reason, now
        )

    def _default_fallback(self) -> Any:
        if self.policy.fallback.startswith("transfer:"):
            return Transfer(transfer=self.policy.fallback.removeprefix("transfer:"))
        return self.policy.fallback

    def _fallback(
        self, tx: Tx, request: Request, fallback: Any, why: str, now: datetime
    ) -> Request:
        if isinstance(fallback, Transfer):
            return self.transfer(tx, request, fallback.transfer, now, why=why)
        request = self.change(
            tx,
            request,
            None,
            {},
            EventType.ROUTING_FAILED,
            actor=SYSTEM,
            now=now,
            reason=f"{why}: " + ("escalating" if fallback == "escalate" else "waits in the queue"),
        )
        if fallback == "escalate":
            return self.step(tx, request, self.escalation_step(request), now, why=why)
        return request

    def transfer(
        self, tx: Tx, request: Request, to: str, now: datetime, *, why: str, actor: str = SYSTEM
    ) -> Request:
        """Hand the request to other people (seed 003's transfer to live agents)."""
        request = self.change(
            tx,
            request,
            Action.ESCALATE,
            {"candidates": [to], "assigned_to": None, "assigned_at": None},
            EventType.TRANSFERRED,
            actor=actor,
            now=now,
            reason=f"{why}: transferred to {to}",
            data={"to": to},
        )
        return self.route(tx, request, to, now)

    def put_back(
        self, tx: Tx, request: Request, now: datetime, *, why: str, actor: str = SYSTEM
    ) -> Request:
        """Release held work to its candidates, and route it again if a strategy chose."""
        request = self.change(
            tx,
            request,
            Action.RELEASE,
            {"assigned_to": None, "assigned_at": None},
            EventType.RELEASED,
            actor=actor,
            now=now,
            reason=why,
        )
        spec = self._stage_assignee(request)
        if not isinstance(spec, dict):
            return request
        strategy = AssigneeStrategy.model_validate(spec)
        # Route again only among the people the request is still meant for: after an
        # escalation, transfer or reassignment its candidates are others than the pool.
        if sorted(set(strategy.refs)) != sorted(set(request.candidates)):
            return request
        return self.route(tx, request, strategy, now)

    def assign(
        self,
        tx: Tx,
        request: Request,
        handle: str,
        now: datetime,
        event: EventType,
        *,
        actor: str,
        reason: str | None = None,
        candidates: list[str] | None = None,
    ) -> Request:
        changes: dict[str, Any] = {"assigned_to": handle, "assigned_at": now}
        if candidates is not None:
            changes["candidates"] = candidates
        return self.change(
            tx,
            request,
            Action.ASSIGN,
            changes,
            event,
            actor=actor,
            now=now,
            reason=reason,
            data={"assigned_to": handle},
        )

    # escalation

    def next_step(self, request: Request) -> Step:
        return on_timeout(
            request.escalation,
            level=request.level,
            reminders=request.reminders,
            default_to=self.policy.escalate_to,
            timeout=self.current_timeout(request),
        )

    def escalation_step(self, request: Request) -> Step:
        """What escalating now means: the policy's next step, or, with no policy, handing
        the request to ``INLOOP_ESCALATE_TO`` (never closing it as if it had timed out)."""
        if request.escalation is None:
            return Escalate(self.policy.escalate_to, request.level + 1, None)
        return self.next_step(request)

    def current_timeout(self, request: Request) -> str | None:
        """The timeout running now, for the stage and escalation level reached."""
        return level_timeout(request.escalation, request.level, self._timeout(request))

    def _timeout(self, request: Request) -> str | None:
        if request.approvals:
            return request.approvals[request.stage].timeout or request.timeout
        return request.timeout

    def step(
        self, tx: Tx, request: Request, step: Step, now: datetime, *, why: str, actor: str = SYSTEM
    ) -> Request:
        """Carry out an escalation step; ``why`` starts the audit reason."""
        if isinstance(step, Resolve):
            return self.decide(tx, request, step.action, now, reason=why, actor=actor)
        if isinstance(step, Escalate):
            refs = candidate_refs(step.to)
            due = now + parse_duration(step.timeout) if step.timeout else None
            request = self.change(
                tx,
                request,
                Action.ESCALATE,
                {
                    "candidates": refs,
                    "assigned_to": None,
                    "assigned_at": None,
                    "level": step.level,
                    "reminders": 0,
                    "due_at": due,
                    "priority": request.priority.raised(),
                    "priority_order": request.priority.raised().order,
                },
                EventType.ESCALATED,
                actor=actor,
                now=now,
                reason=f"{why}: escalated to {', '.join(refs)}",
                data={"level": step.level},
            )
            self.schedule(tx, request, now)
            return self.route(tx, request, step.to, now)
        if isinstance(step, Remind):
            timeout = self.current_timeout(request)
            assert timeout is not None  # on_timeout retries only while a timeout is in force
            request = self.change(
                tx,
                request,
                None,
                {"reminders": step.reminders, "due_at": now + parse_duration(timeout)},
                EventType.REMINDED,
                actor=actor,
                now=now,
                reason=f"{why}: reminder {step.reminders}",
                data={"retry": step.reminders},
            )
            # Only the deadline restarts: the remind_every chain of this level runs on.
            self.schedule_timeout(tx, request)
            return request
        assert isinstance(step, Requeue)
        return self.change(
            tx,
            request,
            Action.ESCALATE,
            {
                "priority": Priority.LOW,
                "priority_order": Priority.LOW.order,
                "assigned_to": None,
                "assigned_at": None,
                "due_at": None,
            },
            EventType.QUEUED,
            actor=actor,
            now=now,
            reason=f"{why}: moved to the low-priority queue",
        )

    def decide(
        self,
        tx: Tx,
        request: Request,
        action: Action,
        now: datetime,
        *,
        reason: str,
        actor: str = SYSTEM,
    ) -> Request:
        """Close by policy: the audit names the system, ``resolved_by`` says policy."""
        changes = _decision(request, action)
        return self.change(
            tx,
            request,
            action,
            changes,
            _DECISION_EVENT[action],
            actor=actor,
            now=now,
            reason=reason,
            data={"response": changes.get("response")},
        )

    def decide_many(
        self, tx: Tx, decided: dict[Action, list[tuple[Request, str]]], now: datetime
    ) -> None:
        """``decide`` for a batch of requests at once: one UPDATE per (action, answer) and
        one multi-row INSERT of their events. The scheduler's path for timeouts."""
        for action, items in decided.items():
            rule = TRANSITIONS[action]
            groups: dict[Any, list[tuple[Request, str]]] = {}
            for request, why in items:
                groups.setdefault(_decision(request, action).get("response"), []).append(
                    (request, why)
                )
            for response, group in groups.items():
                values = {
                    "status": rule.to,
                    "resolution": rule.resolution,
                    "resolved_at": now,
                    "resolved_by": POLICY,
                    "updated_at": now,
                }
                if response is not None:
                    values["response"] = response
                closed = bulk.close_open(tx.conn, [r.id for r, _ in group], values)
                # what the UPDATE wrote, without reading the rows back
                written = [(r.model_copy(update=values), why) for r, why in group if r.id in closed]
                bulk.emit_many(
                    tx,
                    [
                        (
                            {
                                "request_id": r.id,
                                "type": _DECISION_EVENT[action],
                                "actor": SYSTEM,
                                "reason": why,
                                "at": now,
                                "data": {"response": response},
                            },
                            r,
                        )
                        for r, why in written
                    ],
                )
                if written:
                    for hook in self.on_close:
                        hook(tx, [r for r, _ in written], now)


_DECISION_EVENT = {
    Action.AUTO_APPROVE: EventType.AUTO_APPROVED,
    Action.AUTO_REJECT: EventType.AUTO_REJECTED,
    Action.TIME_OUT: EventType.TIMED_OUT,
    Action.CANCEL: EventType.CANCELLED,
}


def _decision(request: Request, action: Action) -> dict[str, Any]:
    changes: dict[str, Any] = {"resolved_by": POLICY}
    if action in (Action.AUTO_APPROVE, Action.AUTO_REJECT):
        changes["response"] = policy_answer(request, approve=action == Action.AUTO_APPROVE)
    return changes


def _pool_key(spec: AssigneeStrategy) -> str:
    key = f"{spec.strategy}:{','.join(sorted(set(spec.refs)))}"
    if len(key) <= 200:
        return key
    return f"{spec.strategy}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def policy_answer(request: Request, *, approve: bool) -> Any:
    """The answer a policy gives: true/false for a confirmation, else the fitting option."""
    if request.kind == Kind.CONFIRMATION:
        return approve
    values = [o.value for o in request.options or []]
    words = APPROVAL_WORDS if approve else REJECTION_WORDS
    return next((v for v in values if v.lower() in words), values[0 if approve else -1])


def _remind_every(escalation: Any) -> timedelta | None:
    if isinstance(escalation, dict) and escalation.get("remind_every"):
        return parse_duration(EscalationPolicy.model_validate(escalation).remind_every or "")
    return None
