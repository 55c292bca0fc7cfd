"""What a timeout leads to: the escalation maths, pure and clock-free.

Given a request's escalation policy (as stored), the level it has reached and the
reminders sent at that level, :func:`on_timeout` says what happens next. The scheduler
carries the step out; nothing here reads the clock or the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inloop.domain.specs import EscalationPolicy
from inloop.domain.transitions import Action

DEFAULT_RETRIES = 3


@dataclass(frozen=True)
class Resolve:
    """Close the request by policy: auto_approve, auto_reject, time_out or cancel."""

    action: Action


@dataclass(frozen=True)
class Escalate:
    """Hand the request to ``to`` at ``level``; a new timer of ``timeout`` if there is one."""

    to: Any
    level: int
    timeout: str | None


@dataclass(frozen=True)
class Remind:
    """Notify the same people again and restart the timer."""

    reminders: int


@dataclass(frozen=True)
class Requeue:
    """Priority low, released to the candidates, no further timer."""


Step = Resolve | Escalate | Remind | Requeue

_FINAL: dict[str | None, Step] = {
    None: Resolve(Action.TIME_OUT),
    "auto_approve": Resolve(Action.AUTO_APPROVE),
    "auto_reject": Resolve(Action.AUTO_REJECT),
    "cancel": Resolve(Action.CANCEL),
    "queue": Requeue(),
}


def on_timeout(
    escalation: Any, *, level: int, reminders: int, default_to: str, timeout: str | None
) -> Step:
    """The step a timeout at ``level`` leads to.

    ``escalation`` is the stored policy: None, an action word, or a policy object.
    ``timeout`` is the request's own, reused by levels and retries that give none.
    """
    if escalation is None:
        return _FINAL[None]
    if isinstance(escalation, str):
        if escalation == "escalate":  # the last resort: no further timer after it
            return Escalate(default_to, level + 1, None) if level == 0 else _FINAL[None]
        if escalation == "retry":
            # No timeout in force means nothing to restart: the retries are spent.
            retry = timeout is not None and reminders < DEFAULT_RETRIES
            return Remind(reminders + 1) if retry else _FINAL[None]
        return _FINAL[escalation]
    policy = EscalationPolicy.model_validate(escalation)
    final = _FINAL[policy.final_action]
    if policy.action == "escalate":
        chain = _chain(policy)
        if level < len(chain):
            to, level_timeout = chain[level]
            return Escalate(to, level + 1, level_timeout or timeout)
        return final
    if policy.action == "retry":
        limit = policy.max_retries or DEFAULT_RETRIES
        return Remind(reminders + 1) if timeout is not None and reminders < limit else final
    return _FINAL[policy.action]


def level_timeout(escalation: Any, level: int, timeout: str | None) -> str | None:
    """The timeout in force at ``level``: the request's at 0, then each level's own."""
    if level == 0 or not isinstance(escalation, dict):
        return timeout
    chain = _chain(EscalationPolicy.model_validate(escalation))
    return (chain[level - 1][1] if level <= len(chain) else None) or timeout


def _chain(policy: EscalationPolicy) -> list[tuple[Any, str | None]]:
    if policy.to is not None:
        return [(policy.to, policy.timeout)]
    return [(stage.to, stage.timeout) for stage in policy.levels or []]
