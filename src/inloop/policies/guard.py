"""``inloop.guard`` and ``inloop.resume``: decide an action by a policy and carry the
decision out, blocking or across the turns of a conversation (sync and asyncio).

    auto      run it now                                 -> Ran
    approve   an approval request, its payload the action    -> Pending (waiting: Ran | Refused)
    confirm   the end user says yes in a later turn      -> Pending; resume -> Ran | Refused
    mfa       the end user enters the code sent to them  -> Pending; resume -> Ran | Refused
    escalate  a handoff ticket; the action does not run  -> Escalated

What runs is decoded from what the human approved (the request's payload, or its edited
payload, or the confirmation's action), after checking that its canonical bytes are the
ones guard sent: the arguments the approver saw are the ones that run.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, Literal

from inloop.client import AsyncClient, Client
from inloop.domain.confirmations import Confirmation, ConfirmationStatus
from inloop.domain.tickets import Ticket
from inloop.errors import ConflictError, InvalidError, RateLimitError
from inloop.imperative._asking import ausing, await_closed, using, wait_closed
from inloop.models import Request
from inloop.policies import _flow as flow
from inloop.policies.actions import Action, digest
from inloop.policies.engine import Decision
from inloop.policies.outcomes import (
    ActionTamperedError,
    Escalated,
    Outcome,
    Pending,
    Ran,
    Refused,
)
from inloop.policies.rules import Strategy

__all__ = ["aguard", "aresend", "aresume", "guard", "resend", "resume"]

WRONG_CODE = "wrong_code"

Run = Callable[[Action], Any]


def guard(
    action: Action | Mapping[str, Any],
    *,
    run: Run | None = None,
    policy: flow.PolicySpec = None,
    client: Client | None = None,
    session_id: str | None = None,
    wait: bool = False,
    to_email: str | None = None,
    to_phone: str | None = None,
    **request: Any,
) -> Outcome:
    """Decide ``action`` by ``policy`` (the default rules if None) and carry it out.

    ``run(action)`` runs it, with the action as approved. Without ``wait``, confirm, mfa
    and approve return Pending, kept in the session's state (``session_id``) for
    ``resume``; with ``wait=True`` an approval is waited for. ``request`` holds fields of
    the approval request (assignee, timeout, escalation, priority, ...).
    """
    action = flow.as_action(action)
    decision = flow.as_policy(policy).decide(action)
    strategy = decision.strategy
    if strategy == Strategy.AUTO:
        return Ran(action, decision, flow.runner(action, run)(action))
    with using(client) as c:
        if strategy == Strategy.APPROVE:
            prompt, fields = flow.approval_fields(action, decision, session_id, request)
            if session_id is not None and not wait:
                version = c.sessions.get(session_id).version
                fields["idempotency_key"] = flow.pending_key(session_id, version, action)
            created = c.create(prompt, **fields)
            if wait or session_id is None:
                return _approval_closed(action, decision, wait_closed(c, created), run)
            pending = Pending(action, decision, "approve", created.id, _awaiting(created))
            _save(
                c,
                session_id,
                flow.pending_state(pending),
                "Awaiting approval: " + decision.explain(),
            )
            return pending
        session = flow.needs_session(strategy, session_id)
        if strategy == Strategy.ESCALATE:
            # The server marks the session escalated, with the ticket, in the same write.
            return _escalated(
                action, decision, c.tickets.open(**_ticket_fields(action, decision, session))
            )
        confirmation = c.confirmations.request(
            **_confirmation_fields(action, decision, strategy, session, to_email, to_phone)
        )
        pending = _pending_confirmation(action, decision, strategy, confirmation)
        _save(c, session, flow.pending_state(pending), decision.explain())
        return pending


def resume(
    session_id: str,
    reply: Any = None,
    *,
    run: Run | None = None,
    client: Client | None = None,
) -> Outcome | None:
    """Carry on what guard left pending in the session: ``reply`` is the end user's
    answer (yes/no for confirm, the code for mfa; not needed for approve). None when
    nothing is pending."""
    with using(client) as c:
        state = c.sessions.get(session_id).state
        found = flow.read_pending(state)
        if found is None:
            return None
        record, action, decision = found
        strategy: Literal["confirm", "mfa", "approve"] = record["strategy"]
        if strategy == "approve":
            request = c.get(record["id"])
            assert action is not None  # read_pending refuses an approval without one
            if request.is_open:
                return Pending(action, decision, "approve", request.id, _awaiting(request))
            outcome = _approval_closed(action, decision, request, run)
        else:
            step = _confirmation_step(strategy, reply, action)
            if isinstance(step, str):
                assert action is not None  # _confirmation_step asks again only with one
                return Pending(action, decision, strategy, record["id"], step)
            try:
                if action is None:  # the server closed it (expired, locked): only look
                    confirmation = c.confirmations.get(record["id"])
                elif strategy == "confirm":
                    confirmation = c.confirmations.answer(record["id"], yes=step)
                else:
                    confirmation = c.confirmations.verify(record["id"], str(reply or "").strip())
            except InvalidError as exc:
                if exc.code != WRONG_CODE:
                    raise
                confirmation = c.confirmations.get(record["id"])
            except ConflictError as exc:
                if not exc.code.startswith("confirmation_"):
                    raise
                confirmation = c.confirmations.get(record["id"])
            found_action = _confirmation_outcome(record["digest"], decision, confirmation)
            if isinstance(found_action, Action):
                result = flow.runner(found_action, run)(found_action)
                outcome = Ran(found_action, decision, result)
            else:
                outcome = found_action
        if not isinstance(outcome, Pending):
            _save(c, session_id, _closing_state(strategy, outcome), _closing_reason(outcome))
        return outcome


async def aguard(
    action: Action | Mapping[str, Any],
    *,
    run: Run | None = None,
    policy: flow.PolicySpec = None,
    client: AsyncClient | None = None,
    session_id: str | None = None,
    wait: bool = False,
    to_email: str | None = None,
    to_phone: str | None = None,
    **request: Any,
) -> Outcome:
    """The asyncio form of ``guard``; ``run`` may be a coroutine function."""
    action = flow.as_action(action)
    decision = flow.as_policy(policy).decide(action)
    strategy = decision.strategy
    if strategy == Strategy.AUTO:
        return Ran(action, decision, await _call(flow.runner(action, run), action))
    async with ausing(client) as c:
        if strategy == Strategy.APPROVE:
            prompt, fields = flow.approval_fields(action, decision, session_id, request)
            if session_id is not None and not wait:
                version = (await c.sessions.get(session_id)).version
                fields["idempotency_key"] = flow.pending_key(session_id, version, action)
            created = await c.create(prompt, **fields)
            if wait or session_id is None:
                closed = await await_closed(c, created)
                return await _aapproval_closed(action, decision, closed, run)
            pending = Pending(action, decision, "approve", created.id, _awaiting(created))
            await _asave(
                c,
                session_id,
                flow.pending_state(pending),
                "Awaiting approval: " + decision.explain(),
            )
            return pending
        session = flow.needs_session(strategy, session_id)
        if strategy == Strategy.ESCALATE:
            ticket = await c.tickets.open(**_ticket_fields(action, decision, session))
            return _escalated(action, decision, ticket)
        confirmation = await c.confirmations.request(
            **_confirmation_fields(action, decision, strategy, session, to_email, to_phone)
        )
        pending = _pending_confirmation(action, decision, strategy, confirmation)
        await _asave(c, session, flow.pending_state(pending), decision.explain())
        return pending


async def aresume(
    session_id: str,
    reply: Any = None,
    *,
    run: Run | None = None,
    client: AsyncClient | None = None,
) -> Outcome | None:
    """The asyncio form of ``resume``."""
    async with ausing(client) as c:
        state = (await c.sessions.get(session_id)).state
        found = flow.read_pending(state)
        if found is None:
            return None
        record, action, decision = found
        strategy: Literal["confirm", "mfa", "approve"] = record["strategy"]
        if strategy == "approve":
            request = await c.get(record["id"])
            assert action is not None  # read_pending refuses an approval without one
            if request.is_open:
                return Pending(action, decision, "approve", request.id, _awaiting(request))
            outcome = await _aapproval_closed(action, decision, request, run)
        else:
            step = _confirmation_step(strategy, reply, action)
            if isinstance(step, str):
                assert action is not None  # _confirmation_step asks again only with one
                return Pending(action, decision, strategy, record["id"], step)
            try:
                if action is None:  # the server closed it (expired, locked): only look
                    confirmation = await c.confirmations.get(record["id"])
                elif strategy == "confirm":
                    confirmation = await c.confirmations.answer(record["id"], yes=step)
                else:
                    code = str(reply or "").strip()
                    confirmation = await c.confirmations.verify(record["id"], code)
            except InvalidError as exc:
                if exc.code != WRONG_CODE:
                    raise
                confirmation = await c.confirmations.get(record["id"])
            except ConflictError as exc:
                if not exc.code.startswith("confirmation_"):
                    raise
                confirmation = await c.confirmations.get(record["id"])
            found_action = _confirmation_outcome(record["digest"], decision, confirmation)
            if isinstance(found_action, Action):
                result = await _call(flow.runner(found_action, run), found_action)
                outcome = Ran(found_action, decision, result)
            else:
                outcome = found_action
        if not isinstance(outcome, Pending):
            await _asave(c, session_id, _closing_state(strategy, outcome), _closing_reason(outcome))
        return outcome


def resend(session_id: str, *, client: Client | None = None) -> Outcome | None:
    """Send the pending mfa code again (a new code; the old one stops working): Pending
    with what to tell the user, also when it is too soon or too often; Refused if the
    confirmation closed meanwhile; None when no code is pending."""
    with using(client) as c:
        found = _pending_mfa(c.sessions.get(session_id).state)
        if found is None:
            return None
        record, action, decision = found
        try:
            confirmation = c.confirmations.resend(record["id"])
        except RateLimitError as exc:
            return _resend_refused(action, decision, record["id"], exc)
        except ConflictError as exc:
            if exc.code == "resend_limit":
                return _resend_refused(action, decision, record["id"], exc)
            if not exc.code.startswith("confirmation_"):
                raise
            return _closed(record, decision, c.confirmations.get(record["id"]))
        return _resent(action, decision, confirmation)


async def aresend(session_id: str, *, client: AsyncClient | None = None) -> Outcome | None:
    """The asyncio form of ``resend``."""
    async with ausing(client) as c:
        found = _pending_mfa((await c.sessions.get(session_id)).state)
        if found is None:
            return None
        record, action, decision = found
        try:
            confirmation = await c.confirmations.resend(record["id"])
        except RateLimitError as exc:
            return _resend_refused(action, decision, record["id"], exc)
        except ConflictError as exc:
            if exc.code == "resend_limit":
                return _resend_refused(action, decision, record["id"], exc)
            if not exc.code.startswith("confirmation_"):
                raise
            return _closed(record, decision, await c.confirmations.get(record["id"]))
        return _resent(action, decision, confirmation)


def _pending_mfa(state: Mapping[str, Any]) -> tuple[dict[str, Any], Action, Decision] | None:
    found = flow.read_pending(state)
    if found is None or found[0]["strategy"] != "mfa" or found[1] is None:
        return None
    return found[0], found[1], found[2]


def _closed(record: dict[str, Any], decision: Decision, confirmation: Confirmation) -> Outcome:
    """What a resend of a confirmation that closed meanwhile tells the user."""
    found = _confirmation_outcome(record["digest"], decision, confirmation)
    if isinstance(found, Action):  # confirmed: resume runs it
        message = "The code was accepted already."
        return Pending(found, decision, "mfa", confirmation.id, message, 0)
    return found


def _resent(action: Action, decision: Decision, confirmation: Confirmation) -> Pending:
    held = _held_action(confirmation, action.digest)
    message = "I've sent you a new code. Please enter it to proceed."
    return Pending(held, decision, "mfa", confirmation.id, message, confirmation.attempts_left)


def _resend_refused(
    action: Action, decision: Decision, id: str, exc: ConflictError | RateLimitError
) -> Pending:
    if isinstance(exc, RateLimitError) and exc.retry_after is not None:
        message = f"Please wait {exc.retry_after} seconds before asking for a new code."
    else:
        message = "No more codes can be sent for this action: please enter the last one."
    return Pending(action, decision, "mfa", id, message)


# -- shared steps ----------------------------------------------------------------------


def _approval_closed(
    action: Action, decision: Decision, request: Request, run: Run | None
) -> Outcome:
    approved = flow.approved_action(request, action.digest)
    if approved is None:
        reason = flow.denial(request)
        return Refused(action, decision, reason, f"This was not approved ({reason}).")
    result = flow.runner(approved, run)(approved)
    return Ran(approved, decision, result, request.resolved_by, request.id)


async def _aapproval_closed(
    action: Action, decision: Decision, request: Request, run: Run | None
) -> Outcome:
    approved = flow.approved_action(request, action.digest)
    if approved is None:
        reason = flow.denial(request)
        return Refused(action, decision, reason, f"This was not approved ({reason}).")
    result = await _call(flow.runner(approved, run), approved)
    return Ran(approved, decision, result, request.resolved_by, request.id)


def _awaiting(request: Request) -> str:
    return f"This needs approval; I've asked for it ({request.id})."


def _confirmation_fields(
    action: Action,
    decision: Decision,
    strategy: Strategy,
    session_id: str,
    to_email: str | None,
    to_phone: str | None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "session_id": session_id,
        "action": action.canonical(),
        "kind": "mfa" if strategy == Strategy.MFA else "yes_no",
        "reason": f"{decision.risk.value} risk: {decision.reason}"[:500],
    }
    if strategy == Strategy.MFA:
        fields |= {"to_email": to_email, "to_phone": to_phone}
    return fields


def _pending_confirmation(
    action: Action, decision: Decision, strategy: Strategy, confirmation: Confirmation
) -> Pending:
    held = _held_action(confirmation, action.digest)
    if strategy == Strategy.MFA:
        message = (
            "For security, I've sent a confirmation code to your email and phone. "
            "Please enter it to proceed."
        )
        return Pending(held, decision, "mfa", confirmation.id, message, confirmation.attempts_left)
    message = f"I can {held.describe()}. Confirm? [Yes/No]"
    return Pending(held, decision, "confirm", confirmation.id, message)


def _held_action(confirmation: Confirmation, expected: str) -> Action:
    """The action the confirmation holds on the server: it must be the one guard sent."""
    found = digest(confirmation.action)
    if found != expected or confirmation.action_digest != expected:
        raise ActionTamperedError(expected, found, f"confirmation {confirmation.id}")
    return Action.model_validate(confirmation.action)


def _confirmation_step(strategy: str, reply: Any, action: Action | None) -> bool | str:
    """confirm: True/False for a yes/no, or what to ask again; mfa: True (verify it)."""
    if action is None:
        return True
    if strategy == "mfa":
        return True if str(reply or "").strip() else "Please enter the code we sent you."
    yes = flow.reply_word(reply)
    return "Please answer Yes or No." if yes is None else yes


_REFUSALS = {
    ConfirmationStatus.DECLINED: "Okay, I've cancelled that action.",
    ConfirmationStatus.EXPIRED: "Confirmation code expired. Please request a new one.",
    ConfirmationStatus.LOCKED: "Too many failed attempts. Action cancelled for security.",
}


def _confirmation_outcome(
    expected: str, decision: Decision, confirmation: Confirmation
) -> Action | Pending | Refused:
    """The action to run (the one the server holds and the user confirmed), or the
    outcome that stops here."""
    held = _held_action(confirmation, expected)
    if confirmation.status == ConfirmationStatus.CONFIRMED:
        return held
    if confirmation.status == ConfirmationStatus.PENDING:
        left = confirmation.attempts_left
        message = f"Incorrect code. Please try again ({left} attempts left)."
        return Pending(held, decision, "mfa", confirmation.id, message, left)
    status = confirmation.status.value
    return Refused(held, decision, status, _REFUSALS.get(confirmation.status, "Cancelled."))


def _ticket_fields(action: Action, decision: Decision, session_id: str) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "reason": f"{decision.risk.value} risk: {action.describe()} ({decision.reason})",
        "priority": decision.priority,
        "metadata": {"decision": flow.decision_json(decision), "action_digest": action.digest},
        "action": action.canonical(),
    }


def _escalated(action: Action, decision: Decision, ticket: Ticket) -> Escalated:
    message = f"I've escalated this to a specialist (Ticket #{ticket.number})."
    return Escalated(action, decision, ticket, message)


def _closing_state(strategy: str, outcome: Outcome) -> dict[str, Any]:
    if isinstance(outcome, Ran):
        return flow.cleared_state(
            strategy, "ran" if strategy != "approve" else "approved", outcome.result
        )
    return flow.cleared_state(strategy, "rejected" if strategy == "approve" else "declined")


def _closing_reason(outcome: Outcome) -> str:
    if isinstance(outcome, Ran):
        who = f" (approved by {outcome.approved_by})" if outcome.approved_by else ""
        return f"Ran {outcome.action.describe()}{who}"
    if isinstance(outcome, Refused):
        return f"Not run: {outcome.reason}"
    return "Escalated"


def _save(client: Client, session_id: str, state: dict[str, Any], reasoning: str) -> None:
    client.sessions.update_state(session_id=session_id, state=state, reasoning=reasoning)


async def _asave(
    client: AsyncClient, session_id: str, state: dict[str, Any], reasoning: str
) -> None:
    await client.sessions.update_state(session_id=session_id, state=state, reasoning=reasoning)


async def _call(fn: Callable[..., Any], action: Action) -> Any:
    result = fn(action)
    if inspect.isawaitable(result):
        return await result
    return result
