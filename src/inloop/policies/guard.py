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
from typing import Any

from inloop.client import AsyncClient, Client
from inloop.domain.tickets import Ticket
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

__all__ = ["aguard", "aresume", "guard", "resume"]

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
        confirmations = flow.server_calls(c, "confirmations", strategy)
        confirmation = confirmations.request(
            **_confirmation_fields(action, strategy, session, to_email, to_phone)
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
        strategy = record["strategy"]
        if strategy == "approve":
            request = c.get(record["id"])
            if request.is_open:
                return Pending(action, decision, "approve", request.id, _awaiting(request))
            outcome = _approval_closed(action, decision, request, run)
        elif strategy == "confirm":
            yes = flow.reply_word(reply)
            if yes is None:
                return Pending(
                    action, decision, "confirm", record["id"], "Please answer Yes or No."
                )
            confirmations = flow.server_calls(c, "confirmations", Strategy.CONFIRM)
            answered = confirmations.answer(record["id"], yes=yes)
            outcome = _confirmed(action, decision, answered, run, "confirm")
        else:
            confirmations = flow.server_calls(c, "confirmations", Strategy.MFA)
            verified = confirmations.verify(record["id"], str(reply or "").strip())
            outcome = _confirmed(action, decision, verified, run, "mfa")
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
        confirmations = flow.server_calls(c, "confirmations", strategy)
        confirmation = await confirmations.request(
            **_confirmation_fields(action, strategy, session, to_email, to_phone)
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
        strategy = record["strategy"]
        if strategy == "approve":
            request = await c.get(record["id"])
            if request.is_open:
                return Pending(action, decision, "approve", request.id, _awaiting(request))
            outcome = await _aapproval_closed(action, decision, request, run)
        elif strategy == "confirm":
            yes = flow.reply_word(reply)
            if yes is None:
                return Pending(
                    action, decision, "confirm", record["id"], "Please answer Yes or No."
                )
            confirmations = flow.server_calls(c, "confirmations", Strategy.CONFIRM)
            answered = await confirmations.answer(record["id"], yes=yes)
            outcome = await _aconfirmed(action, decision, answered, run, "confirm")
        else:
            confirmations = flow.server_calls(c, "confirmations", Strategy.MFA)
            verified = await confirmations.verify(record["id"], str(reply or "").strip())
            outcome = await _aconfirmed(action, decision, verified, run, "mfa")
        if not isinstance(outcome, Pending):
            await _asave(c, session_id, _closing_state(strategy, outcome), _closing_reason(outcome))
        return outcome


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
    strategy: Strategy,
    session_id: str,
    to_email: str | None,
    to_phone: str | None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "session_id": session_id,
        "action": action.canonical(),
        "kind": "mfa" if strategy == Strategy.MFA else "yes_no",
    }
    if strategy == Strategy.MFA:
        fields |= {"to_email": to_email, "to_phone": to_phone}
    return fields


def _pending_confirmation(
    action: Action, decision: Decision, strategy: Strategy, confirmation: Any
) -> Pending:
    held = _held_action(confirmation, action.digest)
    if strategy == Strategy.MFA:
        message = (
            "For security, I've sent a confirmation code to your email and phone. "
            "Please enter it to proceed."
        )
        return Pending(
            held,
            decision,
            "mfa",
            confirmation.id,
            message,
            getattr(confirmation, "attempts_left", None),
        )
    return Pending(
        held, decision, "confirm", confirmation.id, f"I can {held.describe()}. Confirm? [Yes/No]"
    )


def _held_action(confirmation: Any, expected: str) -> Action:
    """The action the confirmation holds on the server: it must be the one guard sent."""
    held = getattr(confirmation, "action", None)
    if not isinstance(held, dict) or digest(held) != expected:
        raise ActionTamperedError(expected, digest(held), f"confirmation {confirmation.id}")
    return Action.model_validate(held)


def _confirmation_outcome(
    action: Action, decision: Decision, confirmation: Any, kind: str
) -> Outcome | Action:
    """The action to run (the one the server holds), or the outcome that stops here."""
    status = str(getattr(confirmation, "status", ""))
    if status == "confirmed":
        return _held_action(confirmation, action.digest)
    if status == "pending" and kind == "mfa":
        left = getattr(confirmation, "attempts_left", None)
        more = f" {left} attempts left." if left is not None else ""
        return Pending(
            action,
            decision,
            "mfa",
            confirmation.id,
            "Incorrect code. Please try again." + more,
            left,
        )
    messages = {
        "declined": "Okay, I've cancelled that action.",
        "expired": "Confirmation code expired. Please request a new one.",
        "locked": "Too many failed attempts. Action cancelled for security.",
    }
    return Refused(action, decision, status or "not confirmed", messages.get(status, "Cancelled."))


def _confirmed(
    action: Action, decision: Decision, confirmation: Any, run: Run | None, kind: str
) -> Outcome:
    found = _confirmation_outcome(action, decision, confirmation, kind)
    if not isinstance(found, Action):
        return found
    return Ran(found, decision, flow.runner(found, run)(found))


async def _aconfirmed(
    action: Action, decision: Decision, confirmation: Any, run: Run | None, kind: str
) -> Outcome:
    found = _confirmation_outcome(action, decision, confirmation, kind)
    if not isinstance(found, Action):
        return found
    return Ran(found, decision, await _call(flow.runner(found, run), found))


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
        return f"Confirmed; ran {outcome.action.describe()}"
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
