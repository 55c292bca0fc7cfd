"""Bot-in-the-Loop: ask people in a Slack or Teams channel, and know who answered.

``BotInTheLoop.invoke(user=..., question=..., channel_config=SlackConfig(...))`` is a
request event like any HITL one: the run pauses, the question is posted in that channel
(through the server's ``slack`` or ``teams`` channel), and the first answer from a linked
member of it resumes the run with a ``BotInTheLoop.response``, whose ``responder`` says
who it was on the platform. A step that returns another ``BotInTheLoop.request`` goes on
with the conversation.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from inloop.domain.enums import Kind
from inloop.errors import UsageError
from inloop.runtime.hitl import (
    REQUEST_FIELDS,
    HumanInTheLoop,
    HumanInTheLoopRequestEvent,
    HumanInTheLoopResponseEvent,
    pair,
)


class SlackConfig(BaseModel):
    """A Slack channel to ask in: its id (``C...``), and the Inloop channel that reaches
    that workspace (``channel``, ``slack`` by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: Literal["slack"] = "slack"
    channel_id: str = Field(min_length=1, max_length=100)
    service_url: str | None = Field(
        default=None,
        description="The Bot Framework's Slack endpoint in seed 002; Inloop talks to Slack's "
        "Web API itself, so it is kept but not needed.",
    )
    channel: str = Field(default="slack", min_length=1, max_length=100)
    allowed_responders: list[str] | None = Field(
        default=None, description="Slack user ids (or Inloop refs) who may answer."
    )


class TeamsConfig(BaseModel):
    """A Microsoft Teams channel to ask in, with its tenant and the bot that posts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: Literal["teams"] = "teams"
    channel_id: str = Field(min_length=1, max_length=200)
    tenant_id: str = Field(min_length=1, max_length=100)
    bot_id: str = Field(min_length=1, max_length=100)
    service_url: str | None = Field(
        default=None,
        description="The Bot Connector's URL for the tenant (the channel's own by default).",
    )
    channel: str = Field(default="teams", min_length=1, max_length=100)
    allowed_responders: list[str] | None = Field(
        default=None, description="AAD object ids or Teams user ids (or Inloop refs)."
    )


def _platform(value: Any) -> str:
    if isinstance(value, BaseModel):
        return str(getattr(value, "platform", "slack"))
    if isinstance(value, dict):
        if "platform" in value:
            return str(value["platform"])
        return "teams" if {"tenant_id", "bot_id"} & set(value) else "slack"
    return "slack"


ChannelConfig = Annotated[
    Annotated[SlackConfig, Tag("slack")] | Annotated[TeamsConfig, Tag("teams")],
    Discriminator(_platform),
]


class BotInTheLoopResponderInfo(BaseModel):
    """Who answered: their platform id and name, and what else the platform says."""

    user_id: str
    user_name: str
    additional_info: dict[str, Any] | None = None
    aad_object_id: str | None = None


class BotInTheLoopRequestEvent(HumanInTheLoopRequestEvent):
    """Asks ``question`` in the channel of ``channel_config``; answered with text."""

    kind: ClassVar[Kind] = Kind.CHAT

    user: str | dict[str, Any] | None = None
    channel_config: ChannelConfig

    def request_body(self) -> dict[str, Any]:
        body = super().request_body()
        config = self.channel_config
        target: dict[str, Any] = {"channel": config.channel, "to": config.channel_id}
        if config.allowed_responders:
            target["allowed"] = list(config.allowed_responders)
        if isinstance(config, TeamsConfig):
            target.update(tenant_id=config.tenant_id, bot_id=config.bot_id)
        if config.service_url and isinstance(config, TeamsConfig):
            target["service_url"] = config.service_url
        body.setdefault("channels", [target])
        user = _user_id(self.user)
        if user is not None:
            body.setdefault("user_id", user)
        return body


class BotInTheLoopResponseEvent(HumanInTheLoopResponseEvent):
    """``response`` is the message text; ``responder`` who sent it (None when the request
    closed without an answer: timed out or cancelled)."""

    response: str | None = None
    responder: BotInTheLoopResponderInfo | None = None

    @model_validator(mode="before")
    @classmethod
    def _responder(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("responder") is None:
            responder = responder_of(data.get("responded_via"), data.get("resolved_by"))
            if responder is not None and data.get("resolution") == "responded":
                data = {**data, "responder": responder}
        return data


def responder_of(via: Any, resolved_by: Any) -> dict[str, Any] | None:
    """The responder info from where the server says the answer came from."""
    handle = str(resolved_by).removeprefix("user:") if resolved_by else None
    via = via if isinstance(via, dict) else {}
    platform = via.get("channel")
    if platform in ("slack", "teams") and via.get("user_id"):
        info = {k: v for k, v in via.items() if k not in ("user_id", "user_name", "aad_object_id")}
        info["platform"] = info.pop("channel")
        info["inloop_user"] = handle
        return {
            "user_id": str(via["user_id"]),
            "user_name": str(via.get("user_name") or via["user_id"]),
            "additional_info": info,
            "aad_object_id": via.get("aad_object_id"),
        }
    if handle is None:
        return None
    return {
        "user_id": handle,
        "user_name": str(via.get("user_name") or handle),
        "additional_info": {"platform": platform or "api", "inloop_user": handle},
    }


def _user_id(user: Any) -> str | None:
    if isinstance(user, str):
        return user[:200] or None
    if isinstance(user, dict):
        for key in ("id", "user_id", "handle", "email"):
            if user.get(key):
                return str(user[key])[:200]
    return None


class BotInTheLoop(HumanInTheLoop):
    """Ask in Slack or Teams: ``invoke(user=..., question=..., channel_config=...)``."""

    request = BotInTheLoopRequestEvent
    response = BotInTheLoopResponseEvent

    @classmethod
    def invoke(
        cls,
        question: str | None = None,
        *,
        user: Any = None,
        channel_config: SlackConfig | TeamsConfig | dict[str, Any] | None = None,
        **fields: Any,
    ) -> BotInTheLoopRequestEvent:
        if not question:
            raise UsageError(f"{cls.__name__}.invoke() needs a question")
        if channel_config is None:
            raise UsageError(
                f"{cls.__name__}.invoke() needs channel_config: a SlackConfig or a TeamsConfig"
            )
        unknown = sorted(set(fields) - set(REQUEST_FIELDS))
        if unknown:
            raise UsageError(
                f"{cls.__name__}.invoke() got unknown field(s) {', '.join(unknown)}; "
                f"it takes user, question, channel_config and {', '.join(REQUEST_FIELDS)}"
            )
        made = cls.request(question=question, user=user, channel_config=channel_config, **fields)
        assert isinstance(made, BotInTheLoopRequestEvent)
        return made


pair(BotInTheLoop.request, BotInTheLoop.response)
