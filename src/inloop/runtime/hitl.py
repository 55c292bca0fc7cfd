"""Human-in-the-loop event pairs: a step returns ``X.invoke(...)`` (an ``X.request`` event)
and the run pauses; the human's answer comes back as an ``X.response`` event to the step
that consumes that type.

Each interaction point needs its own pair, because steps are chosen by event type. A
subclass that names no pair gets a fresh one, named after it::

    class ShallIContinue(HumanInTheLoopConfirmation): ...   # ShallIContinue.request/.response

The seed's long form (declaring the two event classes and assigning ``request`` and
``response``) works too.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from inloop.domain.enums import Kind, Resolution
from inloop.domain.errors import DomainError
from inloop.domain.requests import APPROVAL_WORDS, NewRequest
from inloop.errors import UsageError
from inloop.runtime.events import ControlEvent, DisplayEvent, Event

#: The request fields ``invoke`` accepts besides the question (see ``NewRequest``).
REQUEST_FIELDS = (
    "title",
    "description",
    "options",
    "response_schema",
    "context",
    "display",
    "priority",
    "assignee",
    "timeout",
    "escalation",
    "conversation_id",
    "user_id",
    "metadata",
    "assignment",
    "approvals",
    "quorum",
    "payload",
    "callback_url",
)
_ANSWERED = {Resolution.RESPONDED, Resolution.AUTO_APPROVED, Resolution.AUTO_REJECTED}


class HumanInTheLoopRequestEvent(ControlEvent, DisplayEvent):
    """Pauses the run and asks a human; carries every field of a core request.

    A control event (the run pauses on it) that is also a display event (it is shown to
    the human who answers: in the desk, Slack, Teams, ...)."""

    model_config = ConfigDict(extra="forbid")

    kind: ClassVar[Kind] = Kind.INPUT
    #: The response event type this request is answered with (set by the pair).
    response_type: ClassVar[type[HumanInTheLoopResponseEvent]]

    question: str
    title: str | None = None
    description: str | None = None
    options: list[Any] | None = None
    response_schema: dict[str, Any] | None = None
    context: Any = None
    display: dict[str, Any] | None = None
    priority: str | None = None
    assignee: Any = None
    timeout: str | None = None
    escalation: Any = None
    conversation_id: str | None = None
    user_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    assignment: dict[str, Any] | None = None
    approvals: list[dict[str, Any]] | None = None
    quorum: dict[str, Any] | None = None
    payload: dict[str, Any] | None = None
    callback_url: str | None = None

    @model_validator(mode="after")
    def _valid_request(self) -> HumanInTheLoopRequestEvent:
        try:
            self.new_request()  # a bad field is an error here, in the step, not later
        except DomainError as exc:
            where = exc.field.replace("prompt", "question") if exc.field else None
            message = exc.message.replace("prompt", "question")
            raise UsageError(
                f"{type(self).__name__}: {message}" + (f" (field {where})" if where else "")
            ) from None
        return self

    def request_body(self) -> dict[str, Any]:
        """The request to create, as ``POST /v1/requests`` takes it (given fields only)."""
        fields = self.model_dump(mode="json", include=set(REQUEST_FIELDS), exclude_none=True)
        if not fields.get("metadata"):
            fields.pop("metadata", None)
        return {"kind": self.kind.value, "prompt": self.question, **fields}

    def new_request(self) -> NewRequest:
        """The request to create, through the core's own checks."""
        return NewRequest.model_validate(self.request_body())


class HumanInTheLoopResponseEvent(Event):
    """The human's answer (``response``), and how and by whom the request was closed.

    ``response`` is None when the request closed without an answer (timed out, or cancelled);
    ``resolution`` says which. ``request_event`` is the request event that asked. ``edited``
    is the request's ``payload`` as the human changed it (an answer of modify or edit).
    """

    model_config = ConfigDict(extra="forbid")

    request_type: ClassVar[type[HumanInTheLoopRequestEvent]]

    response: Any = None
    request_id: str
    resolution: Resolution | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    comment: str | None = None
    edited: dict[str, Any] | None = None
    request_event: HumanInTheLoopRequestEvent | None = None

    @field_validator("request_event", mode="before")
    @classmethod
    def _typed_request(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return cls.request_type.model_validate(value)
        return value

    @property
    def answered(self) -> bool:
        """True if a human (or the policy, approving or rejecting) gave an answer."""
        return self.resolution in _ANSWERED


class HumanInTheLoopApprovalRequestEvent(HumanInTheLoopRequestEvent):
    kind: ClassVar[Kind] = Kind.APPROVAL


class HumanInTheLoopApprovalResponseEvent(HumanInTheLoopResponseEvent):
    response: str | None = None

    @property
    def approved(self) -> bool:
        """True only for an approving answer (approve, approved, accept, yes) or an
        auto-approval: anything else, a timeout included, is not an approval."""
        if self.resolution == Resolution.AUTO_APPROVED:
            return True
        answer = self.response.lower() if isinstance(self.response, str) else None
        return self.resolution == Resolution.RESPONDED and answer in APPROVAL_WORDS


class HumanInTheLoopInputRequestEvent(HumanInTheLoopRequestEvent):
    kind: ClassVar[Kind] = Kind.INPUT


class HumanInTheLoopInputResponseEvent(HumanInTheLoopResponseEvent):
    response: str | None = None


class HumanInTheLoopConfirmationRequestEvent(HumanInTheLoopRequestEvent):
    kind: ClassVar[Kind] = Kind.CONFIRMATION


class HumanInTheLoopConfirmationResponseEvent(HumanInTheLoopResponseEvent):
    response: bool | None = None


class HumanInTheLoopChatRequestEvent(HumanInTheLoopRequestEvent):
    kind: ClassVar[Kind] = Kind.CHAT


class HumanInTheLoopChatResponseEvent(HumanInTheLoopResponseEvent):
    response: str | None = None


class HumanInTheLoopChoiceRequestEvent(HumanInTheLoopRequestEvent):
    kind: ClassVar[Kind] = Kind.CHOICE


class HumanInTheLoopChoiceResponseEvent(HumanInTheLoopResponseEvent):
    response: str | None = None


class HumanInTheLoopFormRequestEvent(HumanInTheLoopRequestEvent):
    kind: ClassVar[Kind] = Kind.FORM

    #: ``module:Class`` of the pydantic model given as the schema, to type the answer.
    response_model: str | None = None


class HumanInTheLoopFormResponseEvent(HumanInTheLoopResponseEvent):
    response: Any = None

    @model_validator(mode="after")
    def _typed_answer(self) -> HumanInTheLoopFormResponseEvent:
        asked = self.request_event
        path = getattr(asked, "response_model", None)
        if isinstance(self.response, dict) and path:
            model = _importable(path)
            if model is not None:
                self.response = model.model_validate(self.response)
        return self


def _importable(path: str) -> type[BaseModel] | None:
    """The model at ``module:Qualname`` if its module is loaded in this process, else None
    (the answer then stays JSON; a ``model =`` subclass types it everywhere).

    Never imports: the path comes from stored event data, which must not choose what code
    a worker loads. The agent's own module has loaded the module of any model it asks with.
    """
    module_name, _, qualname = path.partition(":")
    found: Any = sys.modules.get(module_name)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def pair(request: type[HumanInTheLoopRequestEvent], response: type[Any]) -> None:
    """Tie a request event type to its response event type, both ways."""
    if not (isinstance(request, type) and issubclass(request, HumanInTheLoopRequestEvent)):
        raise UsageError(f"{request!r} is not a HumanInTheLoopRequestEvent subclass")
    if not (isinstance(response, type) and issubclass(response, HumanInTheLoopResponseEvent)):
        raise UsageError(f"{response!r} is not a HumanInTheLoopResponseEvent subclass")
    for cls, attr, other in (
        (request, "response_type", response),
        (response, "request_type", request),
    ):
        known = cls.__dict__.get(attr)
        if known is not None and known is not other:
            raise UsageError(
                f"{cls.__name__} is already paired with {known.__name__}; give each "
                "interaction its own request and response event classes"
            )
        setattr(cls, attr, other)


class HumanInTheLoop:
    """A request/response pair and ``invoke``, which builds the request event."""

    request: ClassVar[type[HumanInTheLoopRequestEvent]]
    response: ClassVar[type[HumanInTheLoopResponseEvent]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = {name for name in ("request", "response") if name in cls.__dict__}
        if own == {"request"} or own == {"response"}:
            missing = ({"request", "response"} - own).pop()
            raise UsageError(
                f"{cls.__name__} sets {own.pop()} but not {missing}: set both, or neither "
                "for a fresh pair named after the class"
            )
        if not own:
            cls.request, cls.response = _fresh_pair(cls)
        pair(cls.request, cls.response)

    @classmethod
    def invoke(cls, question: str, **fields: Any) -> HumanInTheLoopRequestEvent:
        """The request event asking ``question``; return it from a step to pause the run.

        Takes every request field of the core: title, description, context, display,
        priority, assignee, timeout, escalation, metadata, conversation_id, user_id,
        assignment, approvals, quorum (and options for a choice, a schema for a form).
        """
        unknown = sorted(set(fields) - set(REQUEST_FIELDS))
        if unknown:
            raise UsageError(
                f"{cls.__name__}.invoke() got unknown field(s) {', '.join(unknown)}; "
                f"it takes {', '.join(REQUEST_FIELDS)}"
            )
        return cls.request(question=question, **fields)


def _fresh_pair(
    cls: type[HumanInTheLoop],
) -> tuple[type[HumanInTheLoopRequestEvent], type[HumanInTheLoopResponseEvent]]:
    base_request, base_response = cls.request, cls.response
    namespace = {"__module__": cls.__module__}
    request = type(f"{cls.__name__}RequestEvent", (base_request,), dict(namespace))
    response = type(f"{cls.__name__}ResponseEvent", (base_response,), dict(namespace))
    return request, response


class HumanInTheLoopApproval(HumanInTheLoop):
    """Approve, reject or modify a proposed action: ``response`` is the option chosen,
    ``.approved`` says whether it approves, ``edited`` is the changed ``payload``.

    ``invoke(question, payload={...})`` shows the action to the human, who may edit it;
    options default to approve / reject (and modify, with a payload), and ``escalation``
    may auto-approve or auto-reject.
    """

    request = HumanInTheLoopApprovalRequestEvent
    response = HumanInTheLoopApprovalResponseEvent

    @classmethod
    def invoke(cls, question: str, **fields: Any) -> HumanInTheLoopRequestEvent:
        if "options" not in fields:
            fields["options"] = (
                ["approve", "reject", "modify"]
                if fields.get("payload")
                else [
                    "approve",
                    "reject",
                ]
            )
        return super().invoke(question, **fields)


class HumanInTheLoopInput(HumanInTheLoop):
    """Free text: ``response`` is a ``str``."""

    request = HumanInTheLoopInputRequestEvent
    response = HumanInTheLoopInputResponseEvent


class HumanInTheLoopConfirmation(HumanInTheLoop):
    """Yes or no: ``response`` is a ``bool``."""

    request = HumanInTheLoopConfirmationRequestEvent
    response = HumanInTheLoopConfirmationResponseEvent


class HumanInTheLoopChat(HumanInTheLoop):
    """A message in the conversation: ``response`` is a ``str``."""

    request = HumanInTheLoopChatRequestEvent
    response = HumanInTheLoopChatResponseEvent


class HumanInTheLoopChoice(HumanInTheLoop):
    """One of ``options``: ``response`` is the chosen option's value."""

    request = HumanInTheLoopChoiceRequestEvent
    response = HumanInTheLoopChoiceResponseEvent

    @classmethod
    def invoke(
        cls, question: str, options: Sequence[Any] | None = None, **fields: Any
    ) -> HumanInTheLoopRequestEvent:
        if not options:
            raise UsageError(f"{cls.__name__}.invoke() needs options to choose from")
        return super().invoke(question, options=list(options), **fields)


class HumanInTheLoopForm(HumanInTheLoop):
    """A form: the answer fits a JSON Schema. Subclass with ``model = YourModel`` and the
    response comes back as a ``YourModel`` instance; ``invoke(schema=...)`` on the base takes
    a model or a JSON Schema and gives back the JSON."""

    request = HumanInTheLoopFormRequestEvent
    response = HumanInTheLoopFormResponseEvent
    model: ClassVar[type[BaseModel] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        model = cls.__dict__.get("model")
        if model is not None and not {"request", "response"} & set(cls.__dict__):
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise UsageError(f"{cls.__name__}.model must be a pydantic model class")
            request: Any = type(
                f"{cls.__name__}RequestEvent",
                (HumanInTheLoopFormRequestEvent,),
                {"__module__": cls.__module__},
            )
            cls.request = request
            typed: Any = model | None
            cls.response = create_model(
                f"{cls.__name__}ResponseEvent",
                __base__=HumanInTheLoopFormResponseEvent,
                __module__=cls.__module__,
                response=(typed, None),
            )
        super().__init_subclass__(**kwargs)

    @classmethod
    def invoke(
        cls,
        question: str,
        schema: type[BaseModel] | dict[str, Any] | None = None,
        **fields: Any,
    ) -> HumanInTheLoopRequestEvent:
        schema = schema if schema is not None else fields.pop("response_schema", None)
        schema = schema if schema is not None else cls.model
        if schema is None:
            raise UsageError(
                f"{cls.__name__}.invoke() needs a schema: a pydantic model or a JSON Schema"
            )
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            if "<locals>" not in schema.__qualname__ and cls.model is None:
                fields["response_model"] = f"{schema.__module__}:{schema.__qualname__}"
            schema = schema.model_json_schema()
        unknown = sorted(set(fields) - set(REQUEST_FIELDS) - {"response_model"})
        if unknown:
            return super().invoke(question, response_schema=schema, **fields)  # says which
        return cls.request(question=question, response_schema=schema, **fields)


for _pair in (
    HumanInTheLoopApproval,
    HumanInTheLoopInput,
    HumanInTheLoopConfirmation,
    HumanInTheLoopChat,
    HumanInTheLoopChoice,
    HumanInTheLoopForm,
):
    pair(_pair.request, _pair.response)
