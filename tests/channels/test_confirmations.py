"""Confirmations on SQLite and PostgreSQL: a yes/no, and the multi-factor code sent by
email (a real SMTP server) and SMS (a local fake of Twilio) through the outbox; expiry on
the fake clock, the attempt limit and lockout, resend limits, the code never stored or
logged in plain text, and the confirmed action byte-exact."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import select

import inloop
from inloop.server.services import Services
from tests.channels.fakes import Peer
from tests.channels.test_email import Inbox, parts
from tests.integration.session_support import agent_sdk
from tests.support import FakeClock

SID = "AC" + "0123456789abcdef" * 2
ACTION = {"tool": "delete_account", "arguments": {"user": "u-42", "hard": True, "note": "adiós"}}


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, int]]:
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
async def channels(
    api: httpx.AsyncClient, smtp: tuple[Inbox, int], peer: Peer, peer_url: str
) -> tuple[Inbox, Peer]:
    """An email channel on the SMTP server and an SMS channel on the Twilio fake."""
    from starlette.responses import JSONResponse

    box, port = smtp
    box.messages.clear()
    mail = await api.post("/v1/channels", json={"name": "mail", "kind": "email", "config": {
        "host": "127.0.0.1", "port": port, "security": "none",
        "from_address": "inloop@example.com"}})  # fmt: skip
    assert mail.status_code == 201, mail.text
    peer.reset(JSONResponse({"sid": "SM" + "1" * 32, "status": "queued"}, 201))
    text = await api.post("/v1/channels", json={"name": "text", "kind": "sms", "config": {
        "account_sid": SID, "from_number": "+14155550100", "api_url": peer_url},
        "secrets": {"auth_token": "twilio-auth-token-1"}})  # fmt: skip
    assert text.status_code == 201, text.text
    return box, peer


def sent_codes(channels: tuple[Inbox, Peer]) -> tuple[list[str], list[str]]:
    """The codes in the emails and the SMS sent so far, oldest first."""
    box, peer = channels
    mails = []
    for _sender, _to, message in box.messages:
        found = re.search(r"code is (\d{6})", parts(message)[0])
        assert found is not None
        mails.append(found[1])
    texts = []
    for got in peer.received:
        body = parse_qs(got.body.decode())["Body"][0]
        found = re.search(r"code is (\d{6})", body)
        assert found is not None
        texts.append(found[1])
    return mails, texts


async def mfa(bot: inloop.AsyncClient, session_id: str = "sess_123") -> inloop.Confirmation:
    return await bot.confirmations.request(
        session_id=session_id,
        action=ACTION,
        kind="mfa",
        to_email="dana@example.com",
        to_phone="+41790000001",
        reason="Delete all my data",
    )


def all_rows(services: Services) -> str:
    """Every row of every table, as text."""
    from inloop.server.store.schema import metadata

    def read(conn):  # type: ignore[no-untyped-def]
        return "\n".join(
            repr(tuple(row))
            for table in metadata.sorted_tables
            for row in conn.execute(select(table))
        )

    return str(services.db.read_sync(read))


async def test_the_code_goes_by_email_and_sms_and_confirms_the_exact_action(
    api: httpx.AsyncClient,
    services: Services,
    channels: tuple[Inbox, Peer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One code, by both channels; only its HMAC is stored, the outbox keeps it sealed and
    erases it once sent, no log line or row holds it; the right code confirms."""
    caplog.set_level(logging.DEBUG)
    bot = await agent_sdk(api)
    pending = await mfa(bot)
    assert pending.status == "pending" and pending.kind == "mfa"
    assert pending.attempts_left == 3 and pending.resends_left == 3
    assert pending.expires_at == services.clock.now() + timedelta(minutes=5)
    assert pending.sent_to == ["email:d***@example.com", "sms:+41*******01"]
    assert pending.action == ACTION
    canonical = json.dumps(ACTION, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert pending.action_json == canonical
    assert pending.action_digest == hashlib.sha256(canonical.encode()).hexdigest()

    from inloop.server.store.schema import confirmations, deliveries

    queued = services.db.read_sync(lambda c: list(c.execute(select(deliveries))))
    assert [(d.kind, d.topic, d.sensitive) for d in queued] == [
        ("email", "confirmation_code", True),
        ("sms", "confirmation_code", True),
    ]
    assert all(d.payload is None and d.sealed for d in queued)
    assert await services.dispatcher.run_due() == 2
    (mail_code,), (sms_code,) = sent_codes(channels)
    assert mail_code == sms_code
    code = mail_code

    stored = services.db.read_sync(lambda c: c.execute(select(confirmations)).one())
    key = services.keyring.derive("confirmation-codes")
    assert stored.code_hmac == hmac.new(key, f"{pending.id}:{code}".encode(), "sha256").hexdigest()
    sent = services.db.read_sync(lambda c: list(c.execute(select(deliveries))))
    assert all(d.status == "delivered" and d.sealed is None and d.payload is None for d in sent)
    assert code not in all_rows(services)
    assert code not in (await api.get("/v1/deliveries")).text
    assert code not in (await api.get(f"/v1/sessions/{pending.session_id}/history")).text

    state = (await bot.sessions.get("sess_123")).state
    assert state["requires_confirmation"] is True and state["pending_action"] == ACTION
    assert "confirmation_code" not in state

    confirmed = await bot.confirmations.verify(pending.id, code)
    assert confirmed.status == "confirmed" and confirmed.confirmed
    assert confirmed.action_json == canonical and confirmed.action_digest == pending.action_digest
    assert confirmed.attempts_left == 0 and confirmed.decided_by is not None
    state = (await bot.sessions.get("sess_123")).state
    assert state["requires_confirmation"] is False and state["pending_action"] == ACTION
    steps = [
        h.data["step"] for h in await bot.sessions.history("sess_123") if h.type == "confirmation"
    ]
    assert steps == ["created", "sent", "confirmed"]
    with pytest.raises(inloop.ConflictError) as again:
        await bot.confirmations.verify(pending.id, code)
    assert again.value.code == "confirmation_confirmed"
    # Every log record at DEBUG, Inloop's and its libraries' (httpx, httpcore, SQLAlchemy);
    # aiosmtpd's "mail.log" is the receiving SMTP server of the test, which shows the mail.
    leaks = [r.name for r in caplog.records if code in r.getMessage() + str(r.args)]
    assert [name for name in leaks if name != "mail.log"] == []
    assert code not in all_rows(services)


async def test_three_wrong_codes_lock_it(
    api: httpx.AsyncClient, services: Services, channels: tuple[Inbox, Peer]
) -> None:
    bot = await agent_sdk(api)
    pending = await mfa(bot)
    await services.dispatcher.run_due()
    (code,), _ = sent_codes(channels)
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(inloop.InvalidError) as first:
        await bot.confirmations.verify(pending.id, wrong)
    assert first.value.code == "wrong_code" and first.value.field == "code"
    assert "2 attempts left" in first.value.message
    assert (await bot.confirmations.get(pending.id)).attempts_left == 2
    with pytest.raises(inloop.InvalidError) as second:
        await bot.confirmations.verify(pending.id, "not a code")
    assert "1 attempt left" in second.value.message
    with pytest.raises(inloop.ConflictError) as third:
        await bot.confirmations.verify(pending.id, wrong)
    assert third.value.code == "confirmation_locked"
    with pytest.raises(inloop.ConflictError) as right_too_late:
        await bot.confirmations.verify(pending.id, code)
    assert right_too_late.value.code == "confirmation_locked"
    with pytest.raises(inloop.ConflictError):
        await bot.confirmations.resend(pending.id)
    locked = await bot.confirmations.get(pending.id)
    assert locked.status == "locked" and locked.attempts_left == 0
    steps = [
        h.data["step"] for h in await bot.sessions.history("sess_123") if h.type == "confirmation"
    ]
    assert steps == [
        "created",
        "sent",
        "attempt_failed",
        "attempt_failed",
        "attempt_failed",
        "locked",
    ]
    trail = await bot.confirmations.events(pending.id)
    assert [e.data["step"] for e in trail] == steps
    assert [e.data.get("attempts_left") for e in trail][2:5] == [2, 1, 0]
    assert {e.data["action_digest"] for e in trail} == {pending.action_digest}
    other = await mfa(bot, "sess_other")
    assert [e.data["step"] for e in await bot.confirmations.events(other.id)] == ["created", "sent"]
    state = (await bot.sessions.get("sess_123")).state
    assert state["requires_confirmation"] is False and state["pending_action"] is None
    from inloop.server.store.schema import confirmations

    where = confirmations.c.id == pending.id
    row = services.db.read_sync(lambda c: c.execute(select(confirmations).where(where)).one())
    assert row.code_hmac is None and row.attempts == 3


async def test_the_code_expires_after_five_minutes(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, channels: tuple[Inbox, Peer]
) -> None:
    """On the fake clock: at 4:59 the code still works on another confirmation; at 5:00
    a right code is refused as expired, and the scheduler expires one nobody touches."""
    bot = await agent_sdk(api)
    first = await mfa(bot, "s-a")
    second = await mfa(bot, "s-b")
    await services.dispatcher.run_due()
    codes, _ = sent_codes(channels)
    clock.advance(minutes=4, seconds=59)
    assert (await bot.confirmations.verify(second.id, codes[1])).status == "confirmed"
    clock.advance(seconds=1)
    assert (await bot.confirmations.get(first.id)).status == "expired"
    with pytest.raises(inloop.ConflictError) as late:
        await bot.confirmations.verify(first.id, codes[0])
    assert late.value.code == "confirmation_expired"
    steps = [h.data["step"] for h in await bot.sessions.history("s-a") if h.type == "confirmation"]
    assert steps == ["created", "sent", "expired"]

    third = await mfa(bot, "s-c")
    clock.advance(minutes=5)
    await services.scheduler.run_due()
    from inloop.server.store.schema import confirmations

    row = services.db.read_sync(
        lambda c: c.execute(select(confirmations).where(confirmations.c.id == third.id)).one()
    )
    assert row.status == "expired" and row.code_hmac is None
    history = await bot.sessions.history("s-c")
    assert [h.data.get("step") for h in history if h.type == "confirmation"][-1] == "expired"
    assert (await bot.sessions.get("s-c")).state["requires_confirmation"] is False


async def test_resends_are_rate_limited(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, channels: tuple[Inbox, Peer]
) -> None:
    """Once every 30 s (429 with Retry-After), 3 times at most; each resend sends a new
    code, the old one stops working, and the expiry restarts."""
    bot = await agent_sdk(api)
    pending = await mfa(bot)
    await services.dispatcher.run_due()
    clock.advance(seconds=10)
    too_soon = await api.post(f"/v1/confirmations/{pending.id}/resend")
    assert too_soon.status_code == 429 and too_soon.headers["retry-after"] == "20"
    assert too_soon.json()["error"]["code"] == "resend_too_soon"
    with pytest.raises(inloop.RateLimitError) as limited:
        await bot.confirmations.resend(pending.id)
    assert limited.value.retry_after == 20
    for n in range(3):
        clock.advance(seconds=30)
        await services.dispatcher.run_due()
        resent = await bot.confirmations.resend(pending.id)
        assert resent.resends_left == 2 - n
        assert resent.expires_at == clock.now() + timedelta(minutes=5)
    clock.advance(seconds=30)
    with pytest.raises(inloop.ConflictError) as exhausted:
        await bot.confirmations.resend(pending.id)
    assert exhausted.value.code == "resend_limit"
    await services.dispatcher.run_due()  # one batch per code, so the lists are in order
    mails, texts = sent_codes(channels)
    assert len(mails) == 4 and mails == texts
    if mails[0] != mails[-1]:
        with pytest.raises(inloop.InvalidError):
            await bot.confirmations.verify(pending.id, mails[0])
    assert (await bot.confirmations.verify(pending.id, mails[-1])).status == "confirmed"
    steps = [
        h.data["step"] for h in await bot.sessions.history("sess_123") if h.type == "confirmation"
    ]
    assert steps.count("resent") == 3


async def test_yes_no_confirms_or_declines_once(api: httpx.AsyncClient) -> None:
    """The seed's simple confirmation: the state says it waits; yes confirms, no clears
    the pending action; a second answer is a conflict; the kinds' calls do not mix."""
    bot = await agent_sdk(api)
    asked = await bot.confirmations.request(
        session_id="s-yn", action={"book": "flight", "to": "NYC"}, reason="Book a flight"
    )
    assert asked.kind == "yes_no" and asked.sent_to == [] and asked.resends_left == 0
    state = (await bot.sessions.get("s-yn")).state
    assert state["requires_confirmation"] is True
    assert state["pending_action"] == {"book": "flight", "to": "NYC"}
    with pytest.raises(inloop.ConflictError) as wrong_call:
        await bot.confirmations.verify(asked.id, "123456")
    assert wrong_call.value.code == "confirmation_needs_answer"
    yes = await bot.confirmations.answer(asked.id, yes=True)
    assert yes.status == "confirmed" and yes.action == {"book": "flight", "to": "NYC"}
    assert (await bot.sessions.get("s-yn")).state["requires_confirmation"] is False
    with pytest.raises(inloop.ConflictError) as twice:
        await bot.confirmations.answer(asked.id, yes=False)
    assert twice.value.code == "confirmation_confirmed"

    other = await bot.confirmations.request(session_id="s-yn", action={"order": 2})
    no = await bot.confirmations.answer(other.id, yes=False)
    assert no.status == "declined"
    state = (await bot.sessions.get("s-yn")).state
    assert state["requires_confirmation"] is False and state["pending_action"] is None
    listed = await bot.confirmations.list(session_id="s-yn")
    assert {c.id: c.status for c in listed} == {other.id: "declined", asked.id: "confirmed"}


async def test_the_digest_is_the_canonical_json_whatever_the_key_order(
    api: httpx.AsyncClient,
) -> None:
    bot = await agent_sdk(api)
    a = await bot.confirmations.request("s-d", {"b": [1, 2.5, "é"], "a": {"y": None, "x": True}})
    b = await bot.confirmations.request("s-d", {"a": {"x": True, "y": None}, "b": [1, 2.5, "é"]})
    assert a.action_json == b.action_json == '{"a":{"x":true,"y":null},"b":[1,2.5,"é"]}'
    assert a.action_digest == b.action_digest == hashlib.sha256(a.action_json.encode()).hexdigest()
    c = await bot.confirmations.request("s-d", {"a": {"x": True, "y": None}, "b": [2.5, 1, "é"]})
    assert c.action_digest != a.action_digest


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"session_id": "s", "action": {"x": 1}, "kind": "mfa"}, "to_email", "invalid_confirmation"),
        ({"session_id": "s", "action": {"x": 1}, "to_email": "a@b.c"}, "to_email", "invalid_confirmation"),
        ({"session_id": "s", "action": {"x": 1}, "ttl": "soon"}, "ttl", "invalid_ttl"),
        ({"session_id": "s", "action": {"x": 1}, "ttl": "2h"}, "ttl", "invalid_ttl"),
        ({"session_id": "s"}, "action", "validation_error"),
        ({"session_id": "s", "action": {"x": 1}, "kind": "mfa", "to_phone": "0790000001"}, "to_phone", "validation_error"),
        ({"session_id": "s", "action": {"x": 1}, "kind": "mfa", "to_email": "dana@example.com"}, "to_email", "channel_unavailable"),
    ],
)  # fmt: skip
async def test_bad_requests_are_refused_clearly(
    api: httpx.AsyncClient, body: dict[str, object], field: str, code: str
) -> None:
    """No channels are configured here, so an email destination has nothing to go by."""
    response = await api.post("/v1/confirmations", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["field"], error["code"]) == (field, code) and error["message"]
    assert (await api.get("/v1/confirmations")).json()["items"] == []


async def test_parallel_guesses_from_two_replicas_are_each_counted(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, channels: tuple[Inbox, Peer]
) -> None:
    """Eight wrong codes at once, half through a second server on the same database: the
    locks (the session's, then the confirmation's) count each, so exactly two say wrong_code and the rest find it locked."""
    import asyncio

    from inloop.domain.errors import DomainError
    from inloop.server.services import build_services

    bot = await agent_sdk(api)
    pending = await mfa(bot)
    assert bot.token is not None
    principal = await services.identity.authenticate(bot.token)
    other = build_services(services.settings, clock=clock)
    try:

        async def guess(i: int) -> str:
            replica = services if i % 2 else other
            try:
                await replica.confirmations.verify(principal, pending.id, f"guess-{i}")
            except DomainError as exc:
                return exc.code
            return "confirmed"

        outcomes = await asyncio.gather(*(guess(i) for i in range(8)))
    finally:
        other.close()
    assert sorted(outcomes) == ["confirmation_locked"] * 6 + ["wrong_code"] * 2
    from inloop.server.store.schema import confirmations

    row = services.db.read_sync(lambda c: c.execute(select(confirmations)).one())
    assert row.attempts == 3 and row.status == "locked"
    steps = [
        h.data["step"] for h in await bot.sessions.history("sess_123") if h.type == "confirmation"
    ]
    assert steps.count("attempt_failed") == 3 and steps.count("locked") == 1
