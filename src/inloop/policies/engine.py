"""A policy decides: the rules that match an action, the one that wins, and why.

Precedence: **the highest risk wins; among equal risks, the rule written first**. A
policy file gathers concerns written by different people at different times; with
first-match-wins, a lenient rule placed early ("book" is medium) would hide a dangerous
one placed later ("payment" is high) for "book and pay", and reordering a file would
change what is safe. With highest-risk-wins, adding a rule can only raise a risk, never
lower one, and an exception is written into the risky rule itself (a ``when``).
When nothing matches, the policy's ``default`` applies (low, auto unless it says other).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from inloop.policies.actions import Action, ActionView
from inloop.policies.rules import Risk, Rule, Strategy

__all__ = ["Considered", "Decision", "Matched", "Policy"]


class Matched(BaseModel):
    """A rule that matched the action, and the evidence."""

    rule: str
    kind: str
    risk: Risk
    strategy: Strategy
    reason: str
    where: str | None = None


class Considered(BaseModel):
    """One rule of the policy and what it said about the action (for explanations)."""

    rule: str
    kind: str
    risk: Risk
    strategy: Strategy
    matched: bool
    reason: str


class Decision(BaseModel):
    """The policy's verdict on one action: the risk, the strategy, and why.

    ``rule`` is the rule that won (None: nothing matched, the default applied); ``matched``
    every rule that matched, the winner first; ``considered`` (only with ``explain=True``)
    every rule in the policy, in order, with what it found or why it did not match.
    """

    risk: Risk
    strategy: Strategy
    rule: str | None
    reason: str
    matched: list[Matched]
    considered: list[Considered] | None = None
    policy: str
    action_digest: str
    priority: str | None = None

    def explain(self) -> str:
        """The decision in a few lines of plain text."""
        head = f"{self.risk.value} risk -> {self.strategy.value}"
        if self.rule is None:
            lines = [f"{head}: no rule matched, the policy's default applies"]
        else:
            lines = [f"{head}: rule {self.rule!r} matched: {self.reason}"]
        for other in self.matched[1:]:
            lines.append(
                f"  also matched {other.rule!r} ({other.risk.value}, {other.strategy.value}): "
                f"{other.reason}"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class Policy:
    """Rules compiled once; ``decide`` is pure and needs no server."""

    rules: Sequence[Rule]
    default_risk: Risk = Risk.LOW
    default_strategy: Strategy = Strategy.AUTO
    source: str = "<rules>"
    _order: tuple[Rule, ...] = field(init=False, repr=False, compare=False)
    _priorities: dict[str, str | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The winner is the first match in this order: risk descending, then as written.
        ranked = sorted(enumerate(self.rules), key=lambda pair: (-pair[1].risk.rank, pair[0]))
        object.__setattr__(self, "_order", tuple(rule for _, rule in ranked))
        object.__setattr__(self, "_priorities", {r.name: r.priority for r in self.rules})

    def decide(self, action: Action, *, explain: bool = False) -> Decision:
        """The decision for ``action``; ``explain`` adds what every rule said."""
        view = ActionView(action)
        matched: list[Matched] = []
        for rule in self._order:
            evidence = rule.matcher.match(view)
            if evidence is not None:
                matched.append(
                    Matched(
                        rule=rule.name,
                        kind=rule.matcher.kind,
                        risk=rule.risk,
                        strategy=rule.strategy,
                        reason=evidence.reason,
                        where=evidence.where,
                    )
                )
        considered = self._considered(view, matched) if explain else None
        if matched:
            winner = matched[0]
            priority = self._priorities.get(winner.rule)
            return Decision(
                risk=winner.risk,
                strategy=winner.strategy,
                rule=winner.rule,
                reason=winner.reason,
                matched=matched,
                considered=considered,
                policy=self.source,
                action_digest=action.digest,
                priority=priority,
            )
        return Decision(
            risk=self.default_risk,
            strategy=self.default_strategy,
            rule=None,
            reason="no rule matched",
            matched=[],
            considered=considered,
            policy=self.source,
            action_digest=action.digest,
        )

    def _considered(self, view: ActionView, matched: list[Matched]) -> list[Considered]:
        reasons = {m.rule: m.reason for m in matched}
        return [
            Considered(
                rule=rule.name,
                kind=rule.matcher.kind,
                risk=rule.risk,
                strategy=rule.strategy,
                matched=rule.name in reasons,
                reason=reasons.get(rule.name) or rule.matcher.miss(view),
            )
            for rule in self.rules
        ]
