"""Answers that come back through a channel: verified, mapped to an Inloop user, and
recorded by ``RequestService.respond_in`` under the same rules as the desk.

Every platform proves itself first (Slack's signing secret within 5 minutes, the Bot
Connector's JWT, Twilio's signature, Standard Webhooks, a signed single-use email link);
then the platform's user is looked up among the channel's addresses, and the answer is
that user's, a candidate or not as the request says. A refused answer (a second one, an
unlinked account, someone outside the allow-list) is told to the person in the channel.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from inloop.domain.channels import ChannelKind, ChannelTarget
from inloop.domain.errors import (
    AuthenticationError,
    ConflictError,
    DomainError,
    InvalidError,
    NotFoundError,
    PermissionDeniedError,
)
from inloop.domain.identity import Principal
from inloop.domain.requests import Request
from inloop.server.channels.render import card_for, outcome
from inloop.server.services.answer_codes import AnswerCodes
from inloop.server.services.channels import ChannelService
from inloop.server.services.clock import Clock
from inloop.server.services.deliveries import DeliveryService
from inloop.server.services.requests import RequestService
from inloop.server.services.sessions import principal_of
from inloop.server.store import channels as channel_sql
from inloop.server.store import deliveries as delivery_sql
from inloop.server.store import identity as identity_sql
from inloop.server.store import requests as request_sql
from inloop.server.store.answer_codes import AnswerCode
from inloop.server.store.channels import ChannelRecord
from inloop.server.store.database import Database, Tx


@dataclass(frozen=True)
class Answered:
    request: Request


@dataclass(frozen=True)
class Refused:
    """Why an answer was not taken, in words for the person who sent it."""

    message: str
    code: str
    field: str | None = None


Result = Answered | Refused


@dataclass(frozen=True)
class Sender:
    """Who answered, in the platform's terms: what ``responded_via`` keeps."""

    address: str  # what the channel's addresses are matched on
    via: dict[str, Any]
    platform_ids: tuple[str, ...] = ()  # every id of the sender an allow-list may name


class Inbound:
    """Shared steps of every channel's callbacks."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        channels: ChannelService,
        requests: RequestService,
        deliveries: DeliveryService,
        codes: AnswerCodes,
    ) -> None:
        self.db = db
        self.clock = clock
        self.channels = channels
        self.requests = requests
        self.deliveries = deliveries
        self.codes = codes

    async def channel(self, name: str, kind: ChannelKind) -> tuple[ChannelRecord, dict[str, str]]:
        """The enabled channel of this kind and name, with its secrets; else 404."""
        record = await self.db.read(lambda conn: _find(conn, name))
        if record is None or record.kind != kind or not record.enabled:
            raise NotFoundError(f"no enabled {kind.value} channel named {name!r}", field="channel")
        return record, self.channels.secrets_of(record)

    async def seen(self, record: ChannelRecord, message_id: str) -> bool:
        """Note a callback's id; True when it was handled before (a replay or a retry)."""
        now = self.clock.now()
        return await self.db.write(
            lambda tx: delivery_sql.seen_inbound(tx.conn, record.name, message_id, now)
        )

    async def request(self, request_id: str) -> Request:
        found = await self.db.read(request_sql.get_request, request_id)
        if found is None:
            raise NotFoundError(f"no request with id {request_id!r}", field="request_id")
        return found

    async def request_of_message(self, ref_key: str) -> Request | None:
        """The request whose notice the platform knows by ``ref_key`` (a thread's root)."""

        def read(conn: Connection) -> Request | None:
            found = delivery_sql.request_of_ref(conn, ref_key)
            if found is None or found[0] is None:
                return None
            return request_sql.get_request(conn, found[0])

        return await self.db.read(read)

    async def answer(
        self,
        record: ChannelRecord,
        sender: Sender,
        request_id: str,
        response: Any,
        *,
        code: AnswerCode | None = None,
        handle: str | None = None,
    ) -> Result:
        """Record ``response`` as the answer of the user behind ``sender`` (or ``handle``,
        for a code that names them), in one transaction with the code it uses up."""
        now = self.clock.now()

        def apply(tx: Tx) -> Result:
            principal = self._principal(tx.conn, record, sender, handle)
            if isinstance(principal, Refused):
                return principal
            request = request_sql.get_request(tx.conn, request_id)
            if request is None:
                return Refused(f"request {request_id} does not exist", "not_found")
            refused = _allowed(record, request, sender, principal)
            if refused is not None:
                return refused
            if code is not None:
                self.codes.use(tx.conn, code, now)
            return Answered(
                self.requests.respond_in(tx, principal, request_id, response, now, via=sender.via)
            )

        try:
            return await self.db.write(apply)
        except ConflictError as exc:
            return await self._conflict(request_id, exc)
        except (InvalidError, PermissionDeniedError, NotFoundError) as exc:
            return Refused(exc.message, exc.code, exc.field)

    def _principal(
        self, conn: Connection, record: ChannelRecord, sender: Sender, handle: str | None
    ) -> Principal | Refused:
        for address in (sender.address, *sender.platform_ids):
            if handle is None and address:
                handle = channel_sql.user_at(conn, record.id, address)
        if handle is None:
            return Refused(
                f"your {record.kind.value} account ({sender.address}) is not linked to an "
                f"Inloop user: an admin links it with `inloop channels link <handle> "
                f"{record.name} {sender.address}`",
                "not_linked",
            )
        user = identity_sql.get_user(conn, handle)
        if user.disabled:
            return Refused(f"the Inloop user {handle} is disabled", "forbidden")
        return principal_of(user)

    async def _conflict(self, request_id: str, exc: ConflictError) -> Refused:
        if exc.code != "request_closed":
            return Refused(exc.message, exc.code, exc.field)
        request = await self.db.read(request_sql.get_request, request_id)
        if request is None or request.is_open:
            return Refused(exc.message, exc.code, exc.field)
        handles = [request.resolved_by.removeprefix("user:")] if request.resolved_by else []
        names = await self.db.read(channel_sql.names_of, handles)
        return Refused(f"Already closed: {outcome(request, names)}.", "request_closed")

    async def card(self, request: Request) -> Any:
        handles = [request.resolved_by.removeprefix("user:")] if request.resolved_by else []
        names = await self.db.read(channel_sql.names_of, handles)
        return card_for(request, base_url=self.channels.base_url, names=names)

    async def note(
        self, record: ChannelRecord, event: dict[str, Any], to: str | None = None
    ) -> None:
        """Tell one person something in the channel (through the outbox, so it is retried)."""
        now = self.clock.now()
        row = delivery_sql.row(
            key=f"note:{record.name}:{secrets.token_hex(12)}",
            channel=record.name,
            kind=record.kind.value,
            topic="channel.note",
            now=now,
            address=to,
            payload={"event": event},
        )
        await self.db.write(lambda tx: self.deliveries.enqueue_rows(tx, [row]))


def _find(conn: Connection, name: str) -> ChannelRecord | None:
    try:
        return channel_sql.get_channel(conn, name)
    except NotFoundError:
        return None


def _allowed(
    record: ChannelRecord, request: Request, sender: Sender, principal: Principal
) -> Refused | None:
    """The channel's allow-list, and that of the request's destination on it."""
    lists: list[list[str]] = []
    channel_list = record.config.get("allowed_responders")
    if channel_list:
        lists.append(list(channel_list))
    for item in request.channels or []:
        if isinstance(item, dict) and item.get("allowed"):
            target = ChannelTarget.model_validate(item)
            if target.channel in (record.name, record.kind.value) and target.allowed:
                lists.append(target.allowed)
    names = set(sender.platform_ids) | {sender.address} | set(principal.refs)
    for allowed in lists:
        if not names.intersection(allowed):
            return Refused(
                "you are not on the list of people allowed to answer this here", "forbidden"
            )
    return None


def verify_failed(what: str) -> AuthenticationError:
    return AuthenticationError(what, field="signature")


def as_domain_error(result: Refused) -> DomainError:
    """A refusal as the API's error (for callbacks answered with JSON)."""
    classes: dict[str, type[DomainError]] = {
        "request_closed": ConflictError,
        "conflict": ConflictError,
        "code_used": ConflictError,
        "assigned_to_another": ConflictError,
        "not_found": NotFoundError,
        "forbidden": PermissionDeniedError,
        "not_linked": PermissionDeniedError,
    }
    return classes.get(result.code, InvalidError)(
        result.message, field=result.field, code=result.code
    )


def utcnow(clock: Clock) -> datetime:
    return clock.now()
