"""Risk policies: declarative rules that map an action to a risk and a strategy, and say why.

``load_policy("rules.yaml").decide(Action(tool="refund", arguments={"amount": 250}))`` is
pure (no server, no clock); ``inloop.guard`` and ``@inloop.guarded`` carry the decision
out. See docs/policies.md.
"""

from inloop.policies.actions import Action, canonical_bytes, digest
from inloop.policies.decorator import guarded
from inloop.policies.engine import Considered, Decision, Matched, Policy
from inloop.policies.guard import aguard, aresend, aresume, guard, resend, resume
from inloop.policies.loading import (
    DEFAULT_RULES,
    PolicyError,
    Problem,
    default_policy,
    load_policy,
    loads_policy,
)
from inloop.policies.outcomes import (
    ActionRefusedError,
    ActionTamperedError,
    Escalated,
    EscalatedError,
    InvalidEditError,
    NeedsConfirmationError,
    Outcome,
    Pending,
    Ran,
    Refused,
)
from inloop.policies.rules import Risk, Strategy

__all__ = [
    "DEFAULT_RULES",
    "Action",
    "ActionRefusedError",
    "ActionTamperedError",
    "Considered",
    "Decision",
    "Escalated",
    "EscalatedError",
    "InvalidEditError",
    "Matched",
    "NeedsConfirmationError",
    "Outcome",
    "Pending",
    "Policy",
    "PolicyError",
    "Problem",
    "Ran",
    "Refused",
    "Risk",
    "Strategy",
    "aguard",
    "aresend",
    "aresume",
    "canonical_bytes",
    "default_policy",
    "digest",
    "guard",
    "guarded",
    "load_policy",
    "loads_policy",
    "resend",
    "resume",
]
