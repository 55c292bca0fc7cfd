"""The request: one question from an agent to humans, and its audit events."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime
from typing import Any

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from inloop.domain.channels import ChannelChoice
from inloop.domain.durations import parse_duration
from inloop.domain.enums import EventType, Kind, Priority, Resolution, Status
from inloop.domain.errors import InvalidError
from inloop.domain.specs import (
    ApprovalStage,
    Assignee,
    Assignment,
    Display,
    Duration,
    Escalation,
    Option,
    Quorum,
    candidate_refs,
    escalation_actions,
)

DEFAULT_APPROVAL_OPTIONS = (Option(value="approve"), Option(value="reject"))
APPROVAL_WORDS = frozenset({"approve", "approved", "accept", "yes"})
REJECTION_WORDS = frozenset({"reject", "rejected", "deny", "denied", "decline", "no"})
#: Answers that change the request's payload: they come with the edited payload.
EDIT_WORDS = frozenset({"modify", "edit"})
#: The largest payload (and edited payload), as compact JSON.
MAX_PAYLOAD_BYTES = 256 * 1024


class NewRequest(BaseModel):
    """What an agent sends to ask a question. Unknown fields are refused.

    Rules that span several fields raise InvalidError (with the field) while validating.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Kind | None = Field(
        default=None,
        description="Inferred when left out: form with a response_schema, approval when "
        "the options include 'approve', choice with other options, otherwise input.",
    )
    prompt: str = Field(min_length=1, max_length=20_000)
    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    options: list[Option] | None = Field(default=None, min_length=1, max_length=50)
    response_schema: dict[str, Any] | None = None
    context: Any = None
    display: Display | None = None
    priority: Priority = Priority.MEDIUM
    assignee: Assignee | None = None
    timeout: Duration | None = None
    escalation: Escalation | None = None
    conversation_id: str | None = Field(default=None, min_length=1, max_length=200)
    user_id: str | None = Field(default=None, min_length=1, max_length=200)
    metadata: dict[str, Any] = Field(default_factory=dict)
    callback_url: AnyHttpUrl | None = None
    assignment: Assignment | None = None
    approvals: list[ApprovalStage] | None = Field(default=None, min_length=1, max_length=20)
    quorum: Quorum | None = None
    payload: dict[str, Any] | None = Field(
        default=None,
        description="The proposed action, e.g. {'function': 'send_email', 'arguments': {...}}; "
        "an answer of modify or edit sends it back changed, as 'edited'.",
    )
    channels: list[ChannelChoice] | None = Field(
        default=None,
        max_length=20,
        description="Where people are told, by channel name (['slack', 'email']: only there; "
        "[]: the desk only), and destinations of their own ({'channel': 'slack', 'to': "
        "'C0123456789'}). Left out: each person on the channels they chose.",
    )

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise _invalid("prompt is blank: say what you are asking", "prompt")
        return value

    @field_validator("context", "metadata")
    @classmethod
    def _plain_json(cls, value: Any, info: ValidationInfo) -> Any:
        problem = json_problem(value)
        if problem is not None:
            where, message = problem
            field = str(info.field_name) + (f".{where}" if where else "")
            raise _invalid(f"{field} {message}", field)
        return value

    @field_validator("payload", mode="before")
    @classmethod
    def _payload_object(cls, value: Any) -> Any:
        check_payload(value, "payload")
        return value

    @field_validator("options", mode="before")
    @classmethod
    def _options_from_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"value": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _fits_kind(self) -> NewRequest:
        if self.kind is None:
            self.kind = _infer_kind(self)
        kind = self.kind
        if self.options is not None:
            values = [o.value for o in self.options]
            if len(set(values)) != len(values):
                raise _invalid("options must have distinct values", "options")
            if kind not in (Kind.APPROVAL, Kind.CHOICE):
                raise _invalid(
                    f"options go with kind approval or choice, not {kind.value}", "options"
                )
        elif kind == Kind.CHOICE:
            raise _invalid("kind choice needs options", "options")
        elif kind == Kind.APPROVAL:
            self.options = list(DEFAULT_APPROVAL_OPTIONS)
        if kind == Kind.FORM:
            if self.response_schema is None:
                raise _invalid(
                    "kind form needs a response_schema (a JSON Schema)", "response_schema"
                )
            check_schema(self.response_schema)
        elif self.response_schema is not None:
            raise _invalid(
                f"response_schema goes with kind form, not {kind.value}", "response_schema"
            )
        auto = escalation_actions(self.escalation) & {"auto_approve", "auto_reject"}
        if auto and kind not in (Kind.APPROVAL, Kind.CONFIRMATION):
            raise _invalid(
                f"escalation {sorted(auto)[0]} needs kind approval or confirmation, "
                f"not {kind.value}",
                "escalation",
            )
        if self.approvals is not None or self.quorum is not None:
            field = "approvals" if self.approvals is not None else "quorum"
            if kind != Kind.APPROVAL:
                raise _invalid(f"{field} go with kind approval, not {kind.value}", field)
            if self.approvals is not None and self.quorum is not None:
                raise _invalid("give approvals (levels) or a quorum, not both", field)
            if self.assignee is not None:
                raise _invalid(
                    f"with {field}, who approves is said there: leave assignee out", "assignee"
                )
        if self.escalation is not None and self.timeout is None and self.approvals is None:
            raise _invalid(
                "an escalation needs a timeout: it acts when the timeout passes", "timeout"
            )
        if self.title is None:
            self.title = next(line for line in self.prompt.splitlines() if line.strip())
            self.title = self.title.strip()[:120]
        return self

    def fingerprint(self) -> str:
        """A digest of the request as parsed, to tell a retried create from a different one."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    def due_at(self, now: datetime) -> datetime | None:
        return now + parse_duration(self.timeout) if self.timeout else None


def _infer_kind(new: NewRequest) -> Kind:
    if new.response_schema is not None:
        return Kind.FORM
    if new.options is not None:
        values = {o.value.lower() for o in new.options}
        return Kind.APPROVAL if values & APPROVAL_WORDS else Kind.CHOICE
    return Kind.INPUT


def _invalid(message: str, field: str) -> InvalidError:
    # Raised from validators on purpose: pydantic lets non-ValueErrors through, so the
    # caller learns the field at fault rather than a location-less model error.
    return InvalidError(message, field=field, code="invalid_request")


def check_schema(schema: dict[str, Any]) -> None:
    """Refuse a response_schema that is not a valid JSON Schema (draft 2020-12), or that
    could not be used to check answers (see :func:`inloop.domain.responses.schema_problem`).
    """
    from jsonschema import Draft202012Validator, SchemaError

    from inloop.domain.responses import schema_problem

    problem = json_problem(schema)
    if problem is not None:
        where, message = problem
        raise _invalid(f"response_schema {message} (at {where})", "response_schema")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise _invalid(
            f"response_schema is not a valid JSON Schema: {exc.message}"
            + (f" (at {where})" if where else ""),
            "response_schema",
        ) from None
    unusable = schema_problem(schema)
    if unusable is not None:
        raise _invalid(f"response_schema cannot be used: {unusable}", "response_schema")


# What the store's JSON encoder and every JSON reader agree on: 64-bit integers, finite
# numbers. Anything else is refused rather than stored as null or rounded on the way back.
_INT_RANGE = range(-(2**63), 2**64)


def check_payload(value: Any, field: str) -> None:
    """Refuse a payload (or edited payload) that is not a storable JSON object of bounded size."""
    if value is None:
        return
    code = "invalid_request" if field == "payload" else "invalid_response"
    if not isinstance(value, dict):
        raise InvalidError(
            f"{field} must be a JSON object, got {_json_type(value)}", field=field, code=code
        )
    problem = json_problem(value)
    if problem is not None:
        where, message = problem
        at = f"{field}.{where}" if where else field
        raise InvalidError(f"{at} {message}", field=at, code=code)
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidError(
            f"{field} is {size} bytes as JSON: at most {MAX_PAYLOAD_BYTES} are allowed",
            field=field,
            code=code,
        )


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", str: "a string", int: "a number", float: "a number"}
    if isinstance(value, list | tuple):
        return "an array"
    return "null" if value is None else names.get(type(value), type(value).__name__)


def json_problem(value: Any) -> tuple[str, str] | None:
    """(dotted path, what is wrong) for a value that cannot be stored as JSON, or None."""
    if _plain_json(value):
        return None
    return _json_problem_at(value)


_SCALARS = (str, bool, type(None))


def _plain_json(value: Any) -> bool:
    """Whether ``value`` surely holds nothing ``json_problem`` refuses: the same walk
    without building the path of every item (every step and answer checks its payload).
    False sends the value to the walk that finds and names the problem."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind in _SCALARS:
            continue
        elif kind is int:
            if item not in _INT_RANGE:
                return False
        elif kind is float:
            if not math.isfinite(item):
                return False
        elif isinstance(item, int | float | dict | list | tuple):
            return False  # a subclass: the careful walk decides
    return True


def _json_problem_at(value: Any) -> tuple[str, str] | None:
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return where, f"holds {item}: JSON numbers must be finite"
        if isinstance(item, int) and item not in _INT_RANGE:
            return where, "holds an integer too large to store: at most 64 bits"
        if isinstance(item, dict):
            stack += [(f"{where}.{k}".lstrip("."), v) for k, v in item.items()]
        elif isinstance(item, list | tuple):
            stack += [(f"{where}.{i}".lstrip("."), v) for i, v in enumerate(item)]
    return None


class Vote(BaseModel):
    """One human's answer to a multi-level or quorum approval."""

    actor: str
    stage: int
    response: Any
    comment: str | None = None
    at: datetime


class Request(BaseModel):
    """A request as stored: what was asked, where it stands, how it ended."""

    id: str
    kind: Kind
    status: Status
    resolution: Resolution | None = None
    title: str
    prompt: str
    description: str | None = None
    options: list[Option] | None = None
    response_schema: dict[str, Any] | None = None
    context: Any = None
    display: Display | None = None
    priority: Priority
    assignee: Any = None
    timeout: str | None = None
    escalation: Any = None
    conversation_id: str | None = None
    user_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    callback_url: str | None = None
    idempotency_key: str | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    response: Any = None
    comment: str | None = None
    assignment: Assignment | None = None
    approvals: list[ApprovalStage] | None = None
    quorum: Quorum | None = None
    candidates: list[str] = Field(
        default_factory=list, description="Refs of who may answer; '*' means any responder."
    )
    assigned_to: str | None = Field(default=None, description="Handle of the assignee.")
    assigned_at: datetime | None = None
    level: int = Field(default=0, description="Escalation level reached; 0 is the first.")
    stage: int = Field(default=0, description="Approval stage reached (with approvals).")
    reminders: int = Field(default=0, description="Reminders sent at this level.")
    votes: list[Vote] = Field(default_factory=list)
    payload: dict[str, Any] | None = Field(
        default=None, description="The proposed action the human approves or edits."
    )
    edited: dict[str, Any] | None = Field(
        default=None, description="The payload as the human edited it (answer modify or edit)."
    )
    channels: list[Any] | None = Field(
        default=None, description="Where people are told (see NewRequest.channels)."
    )
    responded_via: dict[str, Any] | None = Field(
        default=None,
        description="Where the answer came from: {'channel': 'slack', 'user_id': ..., "
        "'user_name': ...}; null for the API.",
    )

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def is_rejection(self) -> bool:
        """True unless an approval was approved: it fails closed.

        An approval answered with anything but an approving option (approve, approved,
        accept, yes) is a rejection, and so is an auto-rejection; a confirmation answered
        false is one. Other kinds never are.
        """
        if self.resolution == Resolution.AUTO_REJECTED:
            return True
        if self.resolution != Resolution.RESPONDED:
            return False
        if self.kind == Kind.CONFIRMATION:
            return self.response is False
        return self.kind == Kind.APPROVAL and not (
            isinstance(self.response, str) and self.response.lower() in APPROVAL_WORDS
        )


def new_record(
    new: NewRequest, *, id: str, created_by: str, now: datetime, idempotency_key: str | None
) -> Request:
    """The stored form of a freshly created request."""
    assert new.kind is not None and new.title is not None  # set by NewRequest's validator
    data = new.model_dump(exclude={"callback_url"})
    # Assignee and escalation are stored as given: without the defaults of unset keys.
    data.update(new.model_dump(include={"assignee", "escalation", "channels"}, exclude_none=True))
    request = Request(
        **data,
        id=id,
        status=Status.PENDING,
        callback_url=str(new.callback_url) if new.callback_url else None,
        idempotency_key=idempotency_key,
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    request.candidates = stage_candidates(request, 0)
    timeout = stage_timeout(request, 0)
    request.due_at = now + parse_duration(timeout) if timeout else None
    return request


def stage_candidates(request: Request, stage: int) -> list[str]:
    """Who may answer at ``stage``: the stage's assignee, the quorum, or the assignee spec."""
    if request.approvals:
        return candidate_refs(request.approvals[stage].assignee)
    if request.quorum:
        return list(request.quorum.of)
    return candidate_refs(request.assignee)


def stage_timeout(request: Request, stage: int) -> str | None:
    if request.approvals:
        return request.approvals[stage].timeout or request.timeout
    return request.timeout


class Event(BaseModel):
    """One append-only audit record: what changed, who did it, why, when."""

    id: int
    request_id: str
    type: EventType
    actor: str
    reason: str | None = None
    at: datetime
    data: dict[str, Any] = Field(default_factory=dict)


class NewEvent(BaseModel):
    request_id: str
    type: EventType
    actor: str
    reason: str | None = None
    at: datetime
    data: dict[str, Any] = Field(default_factory=dict)
