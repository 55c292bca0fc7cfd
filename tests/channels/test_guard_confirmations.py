"""inloop.aguard and aresume on the real confirmation and ticket calls, on SQLite and
PostgreSQL: the mfa code by email and SMS, a wrong code, lockout, expiry, the exact
action run; a declined confirmation, an escalation, an async @guarded tool."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

import inloop
from inloop.policies import (
    Action,
    Escalated,
    NeedsConfirmationError,
    Pending,
    Ran,
    Refused,
    default_policy,
)
from inloop.server.services import Services
from tests.channels import test_confirmations
from tests.channels.fakes import Peer
from tests.channels.test_email import Inbox
from tests.integration.session_support import agent_sdk
from tests.support import FakeClock

# The email (a real SMTP server) and SMS (a Twilio fake) channels of the confirmation tests.
smtp = test_confirmations.smtp
channels = test_confirmations.channels
Channels = tuple[Inbox, Peer]


@pytest.fixture
def codes(channels: Channels) -> Callable[[], list[str]]:
    """The codes sent so far, in the order the emails arrived (each also by SMS; within one
    dispatcher pass the two channels' sends run side by side, in no set order)."""

    def read() -> list[str]:
        mails, texts = test_confirmations.sent_codes(channels)
        assert sorted(mails) == sorted(texts)
        return mails

    return read


DELETE = Action(tool="delete_user_data", arguments={"scope": "all"}, text="Delete all my data")


async def start(bot: inloop.AsyncClient, session_id: str) -> Pending:
    pending = await inloop.aguard(
        DELETE,
        run=pytest.fail,
        session_id=session_id,
        client=bot,
        to_email="dana@example.com",
        to_phone="+41790000001",
    )
    assert isinstance(pending, Pending) and pending.strategy == "mfa"
    return pending


async def test_the_right_code_runs_the_held_action_after_a_wrong_one(
    api: httpx.AsyncClient, services: Services, codes: Callable[[], list[str]]
) -> None:
    """The default rules make a deletion mfa; a wrong code asks again with the attempts
    left; the right one runs exactly the action the confirmation holds."""
    assert default_policy().decide(DELETE).strategy == "mfa"
    bot = await agent_sdk(api)
    pending = await start(bot, "s-mfa")
    assert pending.attempts_left == 3
    assert pending.message.startswith("For security, I've sent a confirmation code")
    state = (await bot.sessions.get("s-mfa")).state
    assert state["requires_confirmation"] is True and state["pending_action"] == DELETE.canonical()
    await services.dispatcher.run_due()
    (code,) = codes()
    empty = await inloop.aresume("s-mfa", "  ", run=pytest.fail, client=bot)
    assert isinstance(empty, Pending) and empty.message == "Please enter the code we sent you."
    wrong = "000000" if code != "000000" else "111111"
    again = await inloop.aresume("s-mfa", wrong, run=pytest.fail, client=bot)
    assert isinstance(again, Pending) and again.attempts_left == 2
    assert again.message == "Incorrect code. Please try again (2 attempts left)."
    ran: list[Action] = []
    done = await inloop.aresume("s-mfa", code, run=ran.append, client=bot)
    assert isinstance(done, Ran) and ran == [DELETE]
    state = (await bot.sessions.get("s-mfa")).state
    assert state["requires_confirmation"] is False and state["inloop_guard"] is None


async def test_three_wrong_codes_refuse_the_action(
    api: httpx.AsyncClient, services: Services, codes: Callable[[], list[str]]
) -> None:
    """The third wrong code locks the confirmation: Refused, nothing ran."""
    bot = await agent_sdk(api)
    await start(bot, "s-lock")
    await services.dispatcher.run_due()
    (code,) = codes()
    wrong = "000000" if code != "000000" else "111111"
    for left in (2, 1):
        outcome = await inloop.aresume("s-lock", wrong, run=pytest.fail, client=bot)
        assert isinstance(outcome, Pending) and outcome.attempts_left == left
    locked = await inloop.aresume("s-lock", wrong, run=pytest.fail, client=bot)
    assert isinstance(locked, Refused) and locked.reason == "locked"
    assert locked.message == "Too many failed attempts. Action cancelled for security."
    assert await inloop.aresume("s-lock", code, run=pytest.fail, client=bot) is None


async def test_an_expired_code_refuses_the_action(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, codes: Callable[[], list[str]]
) -> None:
    """Five minutes on: the right code is refused as expired, also when the scheduler
    expired the confirmation (and cleared the state) before the user answered."""
    bot = await agent_sdk(api)
    await start(bot, "s-late")
    await services.dispatcher.run_due()  # one pass each: the codes arrive in this order
    await start(bot, "s-timer")
    await services.dispatcher.run_due()
    sent = codes()
    clock.advance(minutes=5)
    late = await inloop.aresume("s-late", sent[0], run=pytest.fail, client=bot)
    assert isinstance(late, Refused) and late.reason == "expired"
    assert late.message == "Confirmation code expired. Please request a new one."
    await services.scheduler.run_due()
    timed = await inloop.aresume("s-timer", sent[1], run=pytest.fail, client=bot)
    assert isinstance(timed, Refused) and timed.reason == "expired"


async def test_the_asyncio_forms_confirm_decline_and_escalate(api: httpx.AsyncClient) -> None:
    """aguard/aresume: confirm then "no" refuses; escalate opens a ticket with the
    rule's priority; an async @guarded tool raises NeedsConfirmationError, then runs."""
    bot = await agent_sdk(api)
    booking = Action(tool="book_flight", arguments={"to": "Rome"})
    pending = await inloop.aguard(booking, run=pytest.fail, session_id="s-async", client=bot)
    assert isinstance(pending, Pending) and pending.strategy == "confirm"
    declined = await inloop.aresume("s-async", "no", run=pytest.fail, client=bot)
    assert isinstance(declined, Refused) and declined.reason == "declined"
    assert (await bot.confirmations.get(pending.id)).status == "declined"

    refund = Action(tool="refund", arguments={"order": "A-1"}, text="refund my order")
    escalated = await inloop.aguard(refund, run=pytest.fail, session_id="s-async", client=bot)
    assert isinstance(escalated, Escalated)
    assert escalated.ticket.priority == "urgent"  # the default rules' financial priority
    assert (
        escalated.message
        == f"I've escalated this to a specialist (Ticket #{escalated.ticket.number})."
    )
    assert (await bot.sessions.get("s-async")).escalated is True

    calls: list[str] = []

    @inloop.guarded(client=bot, session_id="s-tool")
    async def book_hotel(city: str) -> str:
        calls.append(city)
        return f"hotel in {city}"

    with pytest.raises(NeedsConfirmationError):
        await book_hotel("Bern")
    done = await inloop.aresume("s-tool", "yes", client=bot)
    assert isinstance(done, Ran) and done.result == "hotel in Bern" and calls == ["Bern"]


async def test_resend_sends_a_new_code_within_the_limits(
    api: httpx.AsyncClient, services: Services, clock: FakeClock, codes: Callable[[], list[str]]
) -> None:
    """aresend: too soon says how long to wait; then a new code that resume accepts (and
    the old one no longer); nothing pending: None."""
    bot = await agent_sdk(api)
    await start(bot, "s-resend")
    await services.dispatcher.run_due()
    clock.advance(seconds=10)
    soon = await inloop.aresend("s-resend", client=bot)
    assert isinstance(soon, Pending)
    assert soon.message == "Please wait 20 seconds before asking for a new code."
    clock.advance(seconds=20)
    resent = await inloop.aresend("s-resend", client=bot)
    assert isinstance(resent, Pending) and resent.message.startswith("I've sent you a new code")
    await services.dispatcher.run_due()
    first, second = codes()
    if first != second:
        stale = await inloop.aresume("s-resend", first, run=pytest.fail, client=bot)
        assert isinstance(stale, Pending) and stale.attempts_left == 2
    ran: list[Action] = []
    done = await inloop.aresume("s-resend", second, run=ran.append, client=bot)
    assert isinstance(done, Ran) and ran == [DELETE]
    assert await inloop.aresend("s-resend", client=bot) is None
