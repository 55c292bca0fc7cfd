"""Everything ``guard`` and ``resume`` do that is not I/O: building the calls, reading the
answers, and the one check that the action about to run is the one a human approved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from inloop.domain.requests import EDIT_WORDS
from inloop.errors import UsageError
from inloop.models import ANSWERED, Kind, Request, Resolution
from inloop.policies.actions import Action, digest
from inloop.policies.engine import Decision, Policy
from inloop.policies.loading import default_policy, load_policy
from inloop.policies.outcomes import (
    ActionTamperedError,
    InvalidEditError,
    Pending,
)
from inloop.policies.rules import Risk, Strategy

#: The session-state key that holds what guard is waiting on (beside the seed's own keys).
GUARD_KEY = "inloop_guard"
YES = frozenset({"yes", "y", "confirm", "confirmed", "proceed", "ok", "okay", "sure"})
NO = frozenset({"no", "n", "cancel", "stop", "decline", "nope", "don't", "dont"})
#: Tools registered by @guarded, so that resume can run them in a later turn.
TOOLS: dict[str, Callable[..., Any]] = {}

PolicySpec = Policy | str | Path | None


def as_action(action: Action | Mapping[str, Any]) -> Action:
    if isinstance(action, Action):
        return action
    try:
        return Action.model_validate(action)
    except ValidationError as exc:
        raise UsageError(f"not an action: {exc}") from None


def as_policy(policy: PolicySpec) -> Policy:
    if policy is None:
        return default_policy()
    if isinstance(policy, Policy):
        return policy
    path = Path(policy).resolve()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return load_policy(path)  # raises the PolicyError that names the file
    return _loaded(str(path), mtime)


@lru_cache(maxsize=64)
def _loaded(path: str, mtime: int) -> Policy:
    return load_policy(path)


def runner(action: Action, run: Callable[..., Any] | None) -> Callable[..., Any]:
    """``run``, or the @guarded tool of that name."""
    if run is not None:
        return run
    tool = TOOLS.get(action.tool)
    if tool is None:
        raise UsageError(
            f"nothing to run {action.tool!r} with: pass run=, or decorate the tool with @guarded"
        )
    return tool


def needs_session(strategy: Strategy, session_id: str | None) -> str:
    if session_id is None:
        raise UsageError(
            f"the strategy {strategy.value} talks to the end user or a human agent: "
            "pass session_id="
        )
    return session_id


def decision_json(decision: Decision) -> dict[str, Any]:
    return decision.model_dump(mode="json", exclude={"considered"})


# -- approvals -------------------------------------------------------------------------


def approval_fields(
    action: Action, decision: Decision, session_id: str | None, extra: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The prompt and the fields of the approval request: its payload is the action."""
    fields: dict[str, Any] = {
        "kind": Kind.APPROVAL,
        "title": f"Approve {action.tool}?"[:120],
        "options": ["approve", "reject", "modify"],
        "context": {"decision": decision_json(decision)}
        | ({"session_id": session_id} if session_id else {}),
        "display": {"highlight": ["decision"]},  # the desk shows why first
        "metadata": {"action_digest": action.digest, "policy_rule": decision.rule},
    }
    if decision.priority in ("urgent", "high", "low"):
        fields["priority"] = decision.priority
    if "payload" in extra or "idempotency_key" in extra:
        raise UsageError("guard sets the approval's payload (the action) and asks afresh each time")
    for key in ("context", "metadata"):  # the caller's keys beside guard's own
        given = extra.get(key)
        if isinstance(given, Mapping):
            fields[key] = {**given, **fields[key]}
    fields.update({k: v for k, v in extra.items() if k not in ("context", "metadata")})
    fields["payload"] = action.canonical()
    prompt = str(
        extra.get("prompt")
        or f"The agent wants to run {action.describe()}.\n{decision.explain()}\n"
        "Approve to run it as shown, modify to change it, or reject."
    )
    fields.pop("prompt", None)
    return prompt, fields


def pending_key(session_id: str, version: int, action: Action) -> str:
    """The idempotency key of a pending approval: a guard retried after a crash (the
    state not yet saved, so its version unchanged) finds the same request; the same
    action later in the session (the state has moved on) asks afresh."""
    key = f"guard:{session_id}:{version}:{action.digest[:32]}"
    return key if len(key) <= 255 else f"guard:{digest(key)}"


def approved_action(request: Request, expected: str) -> Action | None:
    """The action a closed approval request approved (the edited one, after modify), or
    None if it was not approved. The payload the approver saw must be ours."""
    payload = request.payload or {}
    if digest(payload) != expected:
        raise ActionTamperedError(expected, digest(payload), f"request {request.id}")
    if request.resolution in ANSWERED and not request.is_rejection:
        return Action.model_validate(payload)
    edits = isinstance(request.response, str) and request.response.lower() in EDIT_WORDS
    if request.resolution == Resolution.RESPONDED and edits and request.edited is not None:
        try:
            edited = Action.model_validate(request.edited)
        except ValidationError as exc:
            raise InvalidEditError(request.id, str(exc.errors()[0]["msg"])) from None
        original = Action.model_validate(payload)
        if edited.tool != original.tool:
            raise InvalidEditError(
                request.id, f"it names another tool ({edited.tool!r}, not {original.tool!r})"
            )
        return edited
    return None


def denial(request: Request) -> str:
    if request.resolution == Resolution.RESPONDED:
        who = request.resolved_by or "the approver"
        said = f": {request.comment}" if request.comment else ""
        return f"rejected by {who}{said}"
    return (request.resolution or request.status).value


# -- session state ---------------------------------------------------------------------


def pending_state(pending: Pending) -> dict[str, Any]:
    """The keys guard sets while it waits: its own record (strategy, id, digest,
    decision), and for an approval the seed's keys. A confirmation sets the seed's
    ``requires_confirmation`` and ``pending_action`` itself, on the server."""
    record = {
        "strategy": pending.strategy,
        "id": pending.id,
        "digest": pending.action.digest,
        "decision": decision_json(pending.decision),
    }
    state: dict[str, Any] = {GUARD_KEY: record}
    if pending.strategy == "approve":
        state |= {
            "pending_approval": True,
            "approval_id": pending.id,
            "approval_status": "pending",
            "pending_action": pending.action.canonical(),
        }
    return state


def cleared_state(strategy: str, outcome: str, result: Any = None) -> dict[str, Any]:
    state: dict[str, Any] = {GUARD_KEY: None, "pending_action": None}
    if strategy == "approve":
        state |= {"pending_approval": False, "approval_status": outcome}
    else:
        state["requires_confirmation"] = False
    if outcome in ("ran", "approved"):
        state["last_action_result"] = _jsonable(result)
    return state


def read_pending(
    state: Mapping[str, Any],
) -> tuple[dict[str, Any], Action | None, Decision] | None:
    """What guard waits on in this state, or None. The state's ``pending_action`` must be
    the one guard recorded (a state rewritten between the turns is refused); it is None
    when the server closed a confirmation itself (expired, locked)."""
    record = state.get(GUARD_KEY)
    if not isinstance(record, dict):
        record = _server_record(state)
        if record is None:
            return None
    decision = Decision.model_validate(record["decision"])
    held = state.get("pending_action")
    if held is None and record.get("strategy") != "approve":
        return record, None, decision
    if not isinstance(held, dict) or digest(held) != record.get("digest"):
        raise ActionTamperedError(
            str(record.get("digest")), digest(held), "the session state's pending_action"
        )
    return record, Action.model_validate(held), decision


def _server_record(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """A confirmation the server recorded in the state when guard's own record was not
    saved (the process died between the two writes): resume can still close it."""
    confirmation_id = state.get("pending_confirmation_id")
    held = state.get("pending_action")
    if not state.get("requires_confirmation") or not isinstance(confirmation_id, str):
        return None
    mfa = state.get("confirmation_kind") == "mfa"
    decision = Decision(
        risk=Risk.HIGH if mfa else Risk.MEDIUM,
        strategy=Strategy.MFA if mfa else Strategy.CONFIRM,
        rule=None,
        reason="recovered from the session state: the guard's own record was not saved",
        matched=[],
        policy="<unknown>",
        action_digest=digest(held),
    )
    return {
        "strategy": "mfa" if mfa else "confirm",
        "id": confirmation_id,
        "digest": digest(held),
        "decision": decision_json(decision),
    }


def reply_word(reply: Any) -> bool | None:
    """True for a yes, False for a no, None when it is neither (ask again)."""
    if isinstance(reply, bool):
        return reply
    text = str(reply or "").strip().lower().rstrip(".!")
    if text in YES:
        return True
    if text in NO:
        return False
    return None


def _jsonable(value: Any) -> Any:
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value, fallback=repr)
