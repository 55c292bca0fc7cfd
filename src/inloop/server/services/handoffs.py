"""Live handoff sessions: start_hitl, stop_hitl, a human joining, talking, transferring and
closing, the customer's close command, the assignment timeout, and the provider's webhooks.

The session's state changes only through :meth:`HandoffService.change` (the domain's
transition table, then a conditional UPDATE). With the desk provider the session follows
its desk ticket: claiming, routing, releasing and reassigning the ticket assign or release
the session (``Lifecycle.on_change``), so every way a human picks up work also picks up
a conversation. Ending a session closes its ticket, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from inloop.domain.access import check_can_see
from inloop.domain.conversations import (
    Audience,
    Conversation,
    ConversationEventType,
    Message,
    NewMessage,
    Role,
)
from inloop.domain.enums import EventType, Scope
from inloop.domain.errors import ConflictError, InvalidError, NotFoundError, PermissionDeniedError
from inloop.domain.handoff_settings import EXTRA_DEFAULTS, KEYS, check_settings, shown
from inloop.domain.handoffs import (
    EndReason,
    HandoffSession,
    SessionAction,
    SessionStatus,
    StartHitl,
    effective_config,
    render,
    session_transition,
)
from inloop.domain.identity import Principal
from inloop.domain.ids import new_id
from inloop.domain.requests import Request
from inloop.domain.runs import RunEventStatus
from inloop.server.services.chatlog import ChatLog
from inloop.server.services.clock import Clock
from inloop.server.services.lifecycle import SYSTEM, Lifecycle
from inloop.server.services.providers import (
    AgentAssigned,
    AgentMessage,
    HitlProvider,
    SessionStopped,
)
from inloop.server.store import conversations as sql
from inloop.server.store import identity as identity_sql
from inloop.server.store import requests as request_sql
from inloop.server.store import runs as run_sql
from inloop.server.store import timers
from inloop.server.store.database import Database, Tx

ASSIGN_TIMER = "handoff_assign"
CONTINUE_EVENT = "HitlContinueEvent"  # the run event a linked run receives
BROKEN = (
    "Something went wrong: you are not connected to a human agent. The assistant will continue."
)


class HandoffService:
    def __init__(self, db: Database, clock: Clock, lifecycle: Lifecycle, log: ChatLog) -> None:
        self.db = db
        self.clock = clock
        self.lifecycle = lifecycle
        self.log = log
        self.providers: dict[str, HitlProvider] = {}
        #: Called after a commit that appended to a run's inbox (wakes parked claims).
        self.runs_woken: list[Any] = []
        lifecycle.on_change.append(self._ticket_changed)
        lifecycle.on_close.append(self._tickets_closed)

    # settings

    def settings_tx(self, conn: Any) -> dict[str, Any]:
        """Every setting in force: the eleven keys' project values and Inloop's own."""
        stored = sql.get_settings(conn)
        return {**EXTRA_DEFAULTS, **stored}

    async def settings(self, principal: Principal) -> dict[str, Any]:
        principal.require(Scope.AGENT, Scope.RESPONDER)
        return shown(await self.db.read(sql.get_settings))

    async def configure(
        self, principal: Principal, values: dict[str, Any], unset: list[str]
    ) -> dict[str, Any]:
        """Set (and unset, back to the default) project-wide settings; admins only."""
        principal.require()
        checked = check_settings(values)
        for key in unset:
            if key not in KEYS:
                raise InvalidError(f"unknown setting {key!r}", field=key, code="invalid_setting")

        def apply(tx: Tx) -> dict[str, Any]:
            sql.set_settings(tx.conn, checked, unset)
            return shown(sql.get_settings(tx.conn))

        return await self.db.write(apply)

    def provider(self, name: str) -> HitlProvider:
        found = self.providers.get(name)
        if found is None:
            raise InvalidError(f"no handoff provider {name!r}", field="provider")
        return found

    # the agent's side: start_hitl and stop_hitl

    async def start(
        self, principal: Principal, conversation_id: str, start: StartHitl
    ) -> HandoffSession:
        """Hand the conversation to a human; a second start while one is open is a 409."""
        principal.require(Scope.AGENT)
        now = self.clock.now()

        def begin(tx: Tx) -> HandoffSession:
            conversation = self.agents_conversation(tx, principal, conversation_id)
            return self.start_tx(
                tx,
                conversation,
                title=start.title,
                description=start.description,
                user_id=start.user_id,
                user_email=start.user_email,
                overrides=start.configuration_overrides.given(),
                created_by=principal.actor,
                now=now,
            )

        return await self.db.write(begin)

    def start_tx(
        self,
        tx: Tx,
        conversation: Conversation,
        *,
        title: str,
        description: str | None,
        user_id: str,
        user_email: str | None,
        overrides: dict[str, Any],
        created_by: str,
        now: datetime,
    ) -> HandoffSession:
        settings = self.settings_tx(tx.conn)
        config = effective_config(settings, overrides)
        existing = sql.open_session(tx.conn, conversation.id)
        if existing is not None:
            raise _already_open(existing)
        provider = self.provider(settings["provider"])
        row = {
            "id": new_id("hs", now),
            "conversation_id": conversation.id,
            "status": SessionStatus.PENDING,
            "end_reason": None,
            "title": title,
            "description": description,
            "user_id": user_id,
            "user_email": user_email or conversation.user_email,
            "provider": provider.name,
            "external_id": None,
            "request_id": None,
            "human": None,
            "human_name": None,
            "config": config,
            "created_by": created_by,
            "created_at": now,
            "updated_at": now,
            "assigned_at": None,
            "ended_at": None,
            "provider_data": {},
        }
        if not sql.insert_session(tx.conn, row):  # lost a race with another start
            raise _already_open(sql.open_session(tx.conn, conversation.id))
        session = HandoffSession.model_validate(row)
        history = sql.list_messages(tx.conn, conversation.id, limit=100_000)
        self.log.system(
            tx, conversation, config["on_hitl_handoff_message"], now, session_id=session.id
        )
        self.log.event(
            tx,
            conversation.id,
            ConversationEventType.HANDOFF_STARTED,
            {"session_id": session.id, "provider": provider.name, "title": title},
            now,
        )
        provider.create_user(tx, conversation, now)
        started = provider.start_session(tx, session, conversation, history, now)
        changes = {"request_id": started.request_id, "external_id": started.external_id}
        session = self._write(tx, session, None, changes, now)
        seconds = int(config["agent_assigned_timeout_seconds"] or 0)
        if seconds > 0:
            tx.add_timer(
                ASSIGN_TIMER, now + timedelta(seconds=seconds), data={"session_id": session.id}
            )
        return sql.get_session(tx.conn, session.id) or session

    async def stop(
        self, principal: Principal, conversation_id: str, reason: str | None = None
    ) -> HandoffSession:
        """stop_hitl: the AI ends the open session (reason stop_called)."""
        principal.require(Scope.AGENT)
        now = self.clock.now()

        def end(tx: Tx) -> HandoffSession:
            conversation = self.agents_conversation(tx, principal, conversation_id)
            session = sql.open_session(tx.conn, conversation.id)
            if session is None:
                raise ConflictError(
                    f"conversation {conversation_id} has no open handoff session to stop",
                    code="no_open_handoff",
                )
            return self.end_tx(
                tx,
                conversation,
                session,
                EndReason.STOP_CALLED,
                now,
                actor=principal.actor,
                note=reason,
            )

        return await self.db.write(end)

    async def current(self, principal: Principal, conversation_id: str) -> HandoffSession | None:
        def read(conn: Any) -> HandoffSession | None:
            conversation = sql.get_conversation(conn, conversation_id)
            if conversation is None:
                raise NotFoundError(f"no conversation with id {conversation_id!r}", field="id")
            self.check_sees(conn, principal, conversation)
            return sql.last_session(conn, conversation_id)

        return await self.db.read(read)

    async def get(self, principal: Principal, session_id: str) -> HandoffSession:
        def read(conn: Any) -> HandoffSession:
            session = sql.get_session(conn, session_id)
            if session is None:
                raise NotFoundError(f"no handoff session with id {session_id!r}", field="id")
            conversation = sql.get_conversation(conn, session.conversation_id)
            assert conversation is not None
            self.check_sees(conn, principal, conversation)
            return session

        return await self.db.read(read)

    # the human's side

    async def join(self, principal: Principal, session_id: str) -> HandoffSession:
        """Take the session (claim its desk ticket): the human now speaks, the AI is muted."""
        handle = _handle(principal)
        now = self.clock.now()

        def take(tx: Tx) -> HandoffSession:
            session, request = self._desk_session(tx, principal, session_id)
            if request.assigned_to == handle:
                return session
            if request.assigned_to is not None and not principal.is_admin:
                raise ConflictError(
                    f"{request.assigned_to} has this conversation; they or an admin hand it on",
                    code="assigned_to_another",
                )
            from inloop.domain.access import is_candidate

            if not (principal.is_admin or is_candidate(principal, request)):
                raise PermissionDeniedError(
                    f"{principal.actor} is not among the people this handoff is offered to",
                    code="forbidden",
                )
            self.lifecycle.assign(
                tx,
                request,
                handle,
                now,
                EventType.CLAIMED,
                actor=principal.actor,
                candidates=sorted({*request.candidates, f"user:{handle}"}),
            )
            found = sql.get_session(tx.conn, session.id)
            assert found is not None
            return found

        return await self.db.write(take)

    async def say(self, principal: Principal, session_id: str, new: NewMessage) -> Message:
        """A human agent's message to the customer (they must hold the session)."""
        handle = _handle(principal)
        now = self.clock.now()

        def send(tx: Tx) -> Message:
            session, request = self._desk_session(tx, principal, session_id)
            if session.status != SessionStatus.ACTIVE or request.assigned_to != handle:
                raise ConflictError(
                    "join the conversation before writing to the customer"
                    if request.assigned_to is None
                    else f"{request.assigned_to} holds this conversation: only they write to the "
                    "customer",
                    code="not_holder",
                )
            conversation = self._locked_conversation(tx, session.conversation_id)
            return self.deliver_human(
                tx,
                conversation,
                session,
                new,
                now,
                author=principal.actor,
                author_name=session.human_name,
                external_id=new.external_id,
            )

        return await self.db.write(send)

    def deliver_human(
        self,
        tx: Tx,
        conversation: Conversation,
        session: HandoffSession,
        new: NewMessage,
        now: datetime,
        *,
        author: str,
        author_name: str | None,
        external_id: str | None,
    ) -> Message:
        """Store a human agent's message for the customer, once per external id."""
        if external_id is not None:
            known = sql.by_external_id(tx.conn, conversation.id, external_id)
            if known is not None:
                return known
        wrong = new.types() - set(conversation.accepts)
        if wrong:
            text = session.config.get("on_incompatible_msg_type_message") or (
                f"the customer's channel cannot show {', '.join(sorted(wrong))} messages"
            )
            raise InvalidError(text, field="type", code="incompatible_message_type")
        shown_name = author_name if session.config.get("use_human_agent_info") else None
        stored = self.log.message(
            tx,
            conversation,
            Role.HUMAN,
            new.content(),
            now,
            author=author,
            author_name=shown_name or "Human agent",
            external_id=external_id,
            session_id=session.id,
            metadata=new.metadata,
        )
        if stored is None:  # a concurrent retry stored it first
            found = sql.by_external_id(tx.conn, conversation.id, external_id or "")
            assert found is not None
            return found
        return stored

    async def close(self, principal: Principal, session_id: str) -> HandoffSession:
        """The human agent ends the session: the AI takes the conversation back."""
        _handle(principal)
        now = self.clock.now()

        def end(tx: Tx) -> HandoffSession:
            session, request = self._desk_session(tx, principal, session_id)
            if not (principal.is_admin or request.assigned_to == principal.handle):
                raise PermissionDeniedError(
                    f"only the human holding the conversation ({request.assigned_to or 'nobody'}) "
                    "or an admin ends it",
                    code="forbidden",
                )
            conversation = self._locked_conversation(tx, session.conversation_id)
            return self.end_tx(
                tx, conversation, session, EndReason.AGENT_CLOSED, now, actor=principal.actor
            )

        return await self.db.write(end)

    async def transfer(
        self, principal: Principal, session_id: str, to: str, *, reason: str | None = None
    ) -> HandoffSession:
        """Hand the live conversation to another human, a team or a role."""
        _handle(principal)
        if ":" not in to:
            to = f"user:{to}"
        from inloop.domain.specs import REF

        if not REF.fullmatch(to):
            raise InvalidError(
                "transfer to user:<handle>, team:<name> or role:<name>",
                field="to",
                code="validation_error",
            )
        now = self.clock.now()

        def move(tx: Tx) -> HandoffSession:
            session, request = self._desk_session(tx, principal, session_id)
            if not (principal.is_admin or request.assigned_to == principal.handle):
                raise PermissionDeniedError(
                    "only the human holding the conversation or an admin transfers it",
                    code="forbidden",
                )
            why = f"transferred by {principal.actor}" + (f": {reason}" if reason else "")
            self.lifecycle.transfer(tx, request, to, now, why=why, actor=principal.actor)
            found = sql.get_session(tx.conn, session.id)
            assert found is not None
            return found

        return await self.db.write(move)

    # the customer's side (called by ConversationService inside its transaction)

    def customer_wrote(
        self,
        tx: Tx,
        conversation: Conversation,
        session: HandoffSession,
        message: Message,
        now: datetime,
    ) -> None:
        """A customer's message during a session: the close command ends it, anything
        else goes to the human (the desk reads it; other providers are sent it)."""
        if _is_close(message, session.config.get("user_hitl_close_command")):
            self.end_tx(
                tx,
                conversation,
                session,
                EndReason.USER_CLOSED,
                now,
                actor=f"customer:{conversation.user_id}",
            )
            return
        self.provider(session.provider).send_message(tx, session, message, now)

    # ending

    def end_tx(
        self,
        tx: Tx,
        conversation: Conversation,
        session: HandoffSession,
        reason: EndReason,
        now: datetime,
        *,
        actor: str,
        note: str | None = None,
    ) -> HandoffSession:
        """End the session for ``reason``: the messages that go with it, the ticket closed,
        and the AI given the conversation back (``continue``)."""
        ended = self.change(
            tx, session, SessionAction.END, {"end_reason": reason, "ended_at": now}, now
        )
        config = ended.config
        name = ended.human_name if config.get("use_human_agent_info") else None
        humans = Audience.HUMANS
        if reason == EndReason.USER_CLOSED:
            self.log.system(
                tx,
                conversation,
                config["on_user_hitl_cancelled_message"],
                now,
                audience=humans,
                session_id=ended.id,
            )
            self.log.system(
                tx, conversation, config["on_user_hitl_close_message"], now, session_id=ended.id
            )
        elif reason == EndReason.AGENT_CLOSED:
            text = render(config["on_hitl_stopped_message"], agent_name=name)
            self.log.system(tx, conversation, text, now, session_id=ended.id)
        elif reason == EndReason.ASSIGNMENT_TIMEOUT:
            self.log.system(
                tx,
                conversation,
                config["on_agent_assigned_timeout_message"],
                now,
                session_id=ended.id,
            )
        elif reason == EndReason.STOP_CALLED:
            self.log.system(
                tx,
                conversation,
                config["on_user_hitl_cancelled_message"],
                now,
                audience=humans,
                session_id=ended.id,
            )
        else:
            self.log.system(tx, conversation, BROKEN, now, session_id=ended.id)
        self.provider(ended.provider).stop_session(tx, ended, reason, now, actor=actor)
        data = {"session_id": ended.id, "end_reason": reason.value, "by": actor}
        if note:
            data["note"] = note
        self.log.event(tx, conversation.id, ConversationEventType.HANDOFF_ENDED, data, now)
        if config.get("flow_on_hitl_stopped"):
            self.log.event(tx, conversation.id, ConversationEventType.CONTINUE, data, now)
            self._continue_run(tx, conversation, data, now)
        return ended

    def _continue_run(
        self, tx: Tx, conversation: Conversation, data: dict[str, Any], now: datetime
    ) -> None:
        """A conversation linked to a durable run: the continue event joins its inbox."""
        if conversation.run_id is None:
            return
        run = run_sql.get_run(tx.conn, conversation.run_id, lock=True)
        if run is None or not run.status.is_open:
            return
        payload = {"conversation_id": conversation.id, **data}
        run_sql.append(
            tx.conn,
            [
                run_sql.event_row(
                    run.id, run.agent, CONTINUE_EVENT, payload, RunEventStatus.PENDING, now
                )
            ],
        )
        run_sql.resume_runs(tx.conn, [run.id], now)
        for wake in self.runs_woken:
            tx.after_commit(wake)

    # the session's one writer

    def change(
        self,
        tx: Tx,
        session: HandoffSession,
        action: SessionAction | None,
        values: dict[str, Any],
        now: datetime,
    ) -> HandoffSession:
        """Apply ``values`` (and ``action``'s transition) if the session is still where the
        action may start from; a lost race is a conflict, never a second write."""
        return self._write(tx, session, action, values, now)

    def _write(
        self,
        tx: Tx,
        session: HandoffSession,
        action: SessionAction | None,
        values: dict[str, Any],
        now: datetime,
    ) -> HandoffSession:
        if action is None:
            allowed = frozenset({session.status})
            changes = {**values, "updated_at": now}
        else:
            rule = session_transition(session.status, action)
            allowed = rule.allowed_from
            changes = {**values, "status": rule.to, "updated_at": now}
        updated = sql.update_session_if_status(tx.conn, session.id, allowed, changes)
        if updated is None:
            current = sql.get_session(tx.conn, session.id)
            if current is None:
                raise NotFoundError(f"no handoff session with id {session.id!r}", field="id")
            if action is not None:
                session_transition(current.status, action)
            raise ConflictError(
                f"handoff session {session.id} changed meanwhile (now {current.status.value})",
                code="handoff_changed",
            )
        self.log.touched(tx, session.conversation_id)
        return updated

    def assign_tx(
        self, tx: Tx, session: HandoffSession, human: str, human_name: str | None, now: datetime
    ) -> HandoffSession:
        """A human agent is assigned: the customer is told who (use_human_agent_info)."""
        if session.status == SessionStatus.ACTIVE and session.human == human:
            return session
        assigned = self.change(
            tx,
            session,
            SessionAction.ASSIGN,
            {"human": human, "human_name": human_name, "assigned_at": now},
            now,
        )
        conversation = self._locked_conversation(tx, session.conversation_id)
        name = human_name if session.config.get("use_human_agent_info") else None
        text = render(session.config.get("on_human_agent_assigned_message"), agent_name=name)
        self.log.system(tx, conversation, text, now, session_id=session.id)
        self.log.event(
            tx,
            conversation.id,
            ConversationEventType.HUMAN_ASSIGNED,
            {"session_id": session.id, "human": human, "human_name": name},
            now,
        )
        return assigned

    # the desk's ticket drives the session

    def _ticket_changed(self, tx: Tx, before: Request, after: Request, now: datetime) -> None:
        session_id = after.metadata.get("handoff_session")
        if not session_id:
            return
        session = sql.get_session(tx.conn, str(session_id))
        if session is None or not session.is_open:
            return
        if not after.is_open:
            conversation = self._locked_conversation(tx, session.conversation_id)
            self.end_tx(
                tx,
                conversation,
                session,
                EndReason.AGENT_CLOSED,
                now,
                actor=after.resolved_by or SYSTEM,
            )
            return
        if after.assigned_to is not None and after.assigned_to != session.human:
            user = identity_sql.get_user(tx.conn, after.assigned_to)
            self.assign_tx(tx, session, after.assigned_to, user.name, now)
        elif after.assigned_to is None and session.status == SessionStatus.ACTIVE:
            self.change(
                tx, session, SessionAction.RELEASE, {"human": None, "human_name": None}, now
            )

    def _tickets_closed(self, tx: Tx, closed: list[Request], now: datetime) -> None:
        """Tickets closed in bulk by the scheduler (``change`` covers the rest)."""
        for request in closed:
            session_id = request.metadata.get("handoff_session")
            if not session_id:
                continue
            session = sql.get_session(tx.conn, str(session_id))
            if session is not None and session.is_open:
                conversation = self._locked_conversation(tx, session.conversation_id)
                self.end_tx(tx, conversation, session, EndReason.AGENT_CLOSED, now, actor=SYSTEM)

    # timers

    def assignment_timer(self, tx: Tx, timer: timers.Timer, now: datetime) -> None:
        """agent_assigned_timeout_seconds passed: still nobody, so the AI takes it back."""
        session = sql.get_session(tx.conn, str(timer.data.get("session_id")))
        if (
            session is None
            or session.status != SessionStatus.PENDING
            or session.assigned_at is not None
        ):
            return
        conversation = self._locked_conversation(tx, session.conversation_id)
        session = sql.get_session(tx.conn, session.id)
        if session is None or session.status != SessionStatus.PENDING:
            return
        self.end_tx(tx, conversation, session, EndReason.ASSIGNMENT_TIMEOUT, now, actor=SYSTEM)

    # providers' webhooks

    async def provider_webhook(
        self, provider_name: str, body: bytes, headers: Mapping[str, str]
    ) -> int:
        """Verify and apply what a provider's webhook says; how many events it carried."""
        provider = self.provider(provider_name)
        now = self.clock.now()
        settings = await self.db.read(self.settings_tx)
        events = provider.handle_webhook(body, headers, settings, now)

        def apply(tx: Tx) -> int:
            for event in events:
                session = sql.session_by_external(tx.conn, provider.name, event.external_id)
                if session is None:
                    raise NotFoundError(
                        f"no {provider.name} handoff session with ticket id {event.external_id!r}",
                        field="external_id",
                    )
                conversation = self._locked_conversation(tx, session.conversation_id)
                session = sql.get_session(tx.conn, session.id)
                assert session is not None
                if isinstance(event, AgentAssigned):
                    if session.is_open:
                        self.assign_tx(tx, session, event.agent_id, event.agent_name, now)
                elif isinstance(event, AgentMessage):
                    if not session.is_open:
                        raise ConflictError(
                            f"handoff session {session.id} has ended: the message was not relayed",
                            code="handoff_ended",
                        )
                    if session.status == SessionStatus.PENDING and event.agent_id:
                        session = self.assign_tx(tx, session, event.agent_id, event.agent_name, now)
                    self.deliver_human(
                        tx,
                        conversation,
                        session,
                        event.message,
                        now,
                        author=f"{provider.name}:{event.agent_id or 'agent'}",
                        author_name=event.agent_name or session.human_name,
                        external_id=f"{provider.name}:{event.message_id}",
                    )
                elif isinstance(event, SessionStopped) and session.is_open:
                    self.end_tx(
                        tx,
                        conversation,
                        session,
                        EndReason.AGENT_CLOSED,
                        now,
                        actor=f"{provider.name}:agent",
                    )
            return len(events)

        return await self.db.write(apply)

    # reading with access checks

    def agents_conversation(
        self, tx: Tx, principal: Principal, conversation_id: str
    ) -> Conversation:
        conversation = self._locked_conversation(tx, conversation_id)
        if not principal.is_admin and conversation.created_by != principal.actor:
            raise PermissionDeniedError(
                f"conversation {conversation_id} belongs to another agent", code="forbidden"
            )
        return conversation

    def _locked_conversation(self, tx: Tx, conversation_id: str) -> Conversation:
        conversation = sql.get_conversation(tx.conn, conversation_id, lock=True)
        if conversation is None:
            raise NotFoundError(f"no conversation with id {conversation_id!r}", field="id")
        return conversation

    def check_sees(self, conn: Any, principal: Principal, conversation: Conversation) -> None:
        """Its agent and admins; a human who may see one of its desk tickets."""
        if principal.is_admin or conversation.created_by == principal.actor:
            return
        if Scope.RESPONDER in principal.scopes:
            from inloop.domain.access import can_see
            from inloop.server.store.requests import RequestFilter, list_requests

            found, _ = list_requests(
                conn,
                RequestFilter(conversation_id=conversation.id, visible_to=principal),
                limit=1,
                cursor=None,
            )
            if found and can_see(principal, found[0]):
                return
        raise PermissionDeniedError(
            f"{principal.actor} may not see conversation {conversation.id}", code="forbidden"
        )

    def _desk_session(
        self, tx: Tx, principal: Principal, session_id: str
    ) -> tuple[HandoffSession, Request]:
        principal.require(Scope.RESPONDER)
        session = sql.get_session(tx.conn, session_id)
        if session is None:
            raise NotFoundError(f"no handoff session with id {session_id!r}", field="id")
        self._locked_conversation(tx, session.conversation_id)
        session = sql.get_session(tx.conn, session_id)
        assert session is not None
        if session.request_id is None:
            raise ConflictError(
                f"handoff session {session_id} is with the {session.provider} provider: "
                "it is answered there, not in the desk",
                code="not_a_desk_session",
            )
        request = request_sql.get_request(tx.conn, session.request_id, lock=True)
        assert request is not None
        check_can_see(principal, request)
        if not session.is_open:
            raise ConflictError(f"handoff session {session_id} has ended", code="handoff_ended")
        return session, request


def _already_open(session: HandoffSession | None) -> ConflictError:
    which = f" ({session.id}, {session.status.value})" if session else ""
    return ConflictError(
        f"this conversation is already handed off to a human{which}: stop it first, or wait "
        "for it to end",
        code="handoff_active",
    )


def _handle(principal: Principal) -> str:
    principal.require(Scope.RESPONDER)
    if principal.handle is None:
        raise InvalidError(
            "a human agent acts with a desk session or a key that acts for a user",
            field="Authorization",
            code="no_user",
        )
    return principal.handle


def _is_close(message: Message, command: Any) -> bool:
    from inloop.domain.conversations import MessageType, is_command

    return message.type == MessageType.TEXT and is_command(message.content.get("text"), command)
