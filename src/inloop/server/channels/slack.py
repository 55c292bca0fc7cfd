"""``slack``: Block Kit messages through the Web API (``slack_sdk``), edited in place.

A notice posts the request's card (buttons for options, a select past five, a button that
opens a modal for text and forms) with ``chat.postMessage``; an update rewrites the same
message (``chat.update``) to say how it ended. Agent text goes in ``plain_text`` objects
only, so it cannot mention ``@channel`` or forge links. ``slack_sdk``'s client is
synchronous (urllib); calls run on a worker thread, with its own retries off: the outbox
retries.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from inloop.domain.channels import SlackConfig
from inloop.domain.enums import Kind
from inloop.domain.requests import APPROVAL_WORDS, REJECTION_WORDS
from inloop.server.channels.base import DeliveryError, Outgoing, Sent, excerpt
from inloop.server.channels.render import Card

ANSWER = "inloop:answer"  # action_id prefix of a button or select that answers
OPEN = "inloop:open"  # the button that opens the modal
LINK = "inloop:link"  # the "Open in Inloop" button (a link: nothing to do)
VIEW = "inloop:view"  # the modal's callback_id
#: Errors that retrying cannot cure: a dead letter at once.
FINAL = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "user_not_found",
        "account_inactive",
        "invalid_auth",
        "token_revoked",
        "missing_scope",
        "cant_update_message",
        "message_not_found",
        "invalid_blocks",
        "msg_too_long",
    }
)


class SlackAdapter:
    def __init__(self, config: SlackConfig, secrets: dict[str, str]) -> None:
        self.client = WebClient(
            token=secrets["bot_token"],
            base_url=str(config.api_url),
            timeout=int(config.timeout),
            retry_handlers=[],
        )

    async def deliver(self, out: Outgoing) -> Sent:
        if out.event is not None and out.card is None:
            return await self._note(out.event)
        if out.card is not None:
            text, blocks = summary(out.card), card_blocks(out.card)
        elif out.message is not None:
            text, blocks = str(out.message["text"]), None
        else:
            raise DeliveryError("nothing to send", retryable=False)
        if out.previous is not None:
            channel, ts = out.previous["channel"], out.previous["ts"]
            await self.call("chat_update", channel=channel, ts=ts, text=text, blocks=blocks)
            return Sent(ref=out.previous, ref_key=ref_key(channel, ts))
        if not out.address:
            raise DeliveryError("no Slack channel or user to post to", retryable=False)
        answer = await self.call("chat_postMessage", channel=out.address, text=text, blocks=blocks)
        channel, ts = str(answer["channel"]), str(answer["ts"])
        return Sent(ref={"channel": channel, "ts": ts}, ref_key=ref_key(channel, ts))

    async def _note(self, event: dict[str, Any]) -> Sent:
        """A note for one person (an answer refused, say): ephemeral, in their view only."""
        await self.call(
            "chat_postEphemeral",
            channel=event["channel"],
            user=event["user"],
            text=event["text"],
            thread_ts=event.get("thread_ts"),
        )
        return Sent()

    async def open_modal(self, trigger_id: str, card: Card) -> None:
        """The modal for a text or form answer (within 3 s of the click: no outbox)."""
        await self.call("views_open", trigger_id=trigger_id, view=modal(card))

    async def call(self, method: str, **arguments: Any) -> dict[str, Any]:
        fn = getattr(self.client, method)
        kept = {k: v for k, v in arguments.items() if v is not None}
        try:
            response = await asyncio.to_thread(fn, **kept)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            status = exc.response.status_code
            retry_after = exc.response.headers.get("Retry-After")
            raise DeliveryError(
                f"Slack {method.replace('_', '.')}: {error}",
                retryable=error not in FINAL,
                status_code=status,
                retry_after=float(retry_after) if retry_after else None,
                response=excerpt(json.dumps(exc.response.data, default=str)),
            ) from None
        except (SlackClientError, OSError) as exc:
            raise DeliveryError(f"could not reach Slack: {type(exc).__name__}: {exc}") from None
        data: dict[str, Any] = response.data if isinstance(response.data, dict) else {}
        return data

    async def aclose(self) -> None:
        return None


def ref_key(channel: str, ts: str) -> str:
    return f"slack:{channel}:{ts}"


def summary(card: Card) -> str:
    """The notification text (and what screen readers and old clients show)."""
    if card.closed:
        return f"{card.title}: {card.outcome}"
    return f"{card.reason}: {card.title}"


def _plain(text: str, limit: int = 3000) -> PlainTextObject:
    return PlainTextObject(text=text[:limit] or " ", emoji=False)


def card_blocks(card: Card) -> list[dict[str, Any]]:
    blocks: list[Block] = [HeaderBlock(text=_plain(card.title, 150))]
    if not card.closed:
        blocks.append(ContextBlock(elements=[_plain(f"{card.reason} · priority {card.priority}")]))
    blocks.append(SectionBlock(block_id="prompt", text=_plain(card.prompt)))
    if card.fields:
        fields = [_plain(f"{k}: {v}", 2000) for k, v in card.fields[:10]]
        blocks.append(SectionBlock(block_id="context", fields=fields))
    if card.closed:
        blocks.append(ContextBlock(block_id="outcome", elements=[_plain(f"✔ {card.outcome}")]))
        return [b.to_dict() for b in blocks]
    blocks.append(ActionsBlock(block_id=f"inloop:{card.request_id}", elements=_actions(card)))
    return [b.to_dict() for b in blocks]


def _actions(card: Card) -> list[Any]:
    link = ButtonElement(text="Open in Inloop", action_id=LINK, url=card.desk_url)
    if card.kind in (Kind.INPUT, Kind.CHAT, Kind.FORM) or not card.options:
        label = "Fill in the form" if card.kind == Kind.FORM else "Answer"
        return [ButtonElement(text=label, action_id=OPEN, value=card.request_id), link]
    values = [_value(card.request_id, value) for value, _ in card.options]
    if len(card.options) > 5:
        select = StaticSelectElement(
            placeholder="Choose…",
            action_id=f"{ANSWER}:select",
            options=[
                Option(value=v, text=label[:75])
                for v, (_, label) in zip(values, card.options, strict=True)
            ],
        )
        return [select, link]
    buttons = []
    for index, (value, label) in enumerate(card.options):
        style = None
        if value.lower() in APPROVAL_WORDS or value == "true":
            style = "primary"
        elif value.lower() in REJECTION_WORDS or value == "false":
            style = "danger"
        buttons.append(
            ButtonElement(
                text=label[:75], action_id=f"{ANSWER}:{index}", value=values[index], style=style
            )
        )
    return [*buttons, link]


def _value(request_id: str, value: str) -> str:
    return json.dumps({"r": request_id, "v": value}, separators=(",", ":"))


def read_value(raw: str) -> tuple[str, str]:
    """(request id, option value) from a button's or option's value."""
    data = json.loads(raw)
    return str(data["r"]), str(data["v"])


def modal(card: Card) -> dict[str, Any]:
    """A modal with an input per field of the form (or one text box)."""
    blocks: list[Block] = [SectionBlock(text=_plain(card.prompt))]
    properties = (card.schema or {}).get("properties") if card.kind == Kind.FORM else None
    if isinstance(properties, dict) and properties:
        required = set((card.schema or {}).get("required") or [])
        for name, spec in list(properties.items())[:20]:
            blocks.append(
                _input(str(name), spec if isinstance(spec, dict) else {}, name in required)
            )
    else:
        blocks.append(
            InputBlock(
                block_id="answer",
                label=_plain("Your answer", 2000),
                element=PlainTextInputElement(action_id="value", multiline=True),
            )
        )
    return {
        "type": "modal",
        "callback_id": VIEW,
        "private_metadata": card.request_id,
        "title": {"type": "plain_text", "text": "Inloop"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [b.to_dict() for b in blocks],
    }


def _input(name: str, spec: dict[str, Any], required: bool) -> InputBlock:
    label = _plain(str(spec.get("title") or name.replace("_", " ").capitalize()), 2000)
    kind = spec.get("type")
    element: Any
    if isinstance(spec.get("enum"), list) and spec["enum"]:
        element = StaticSelectElement(
            action_id="value",
            placeholder="Choose…",
            options=[Option(value=json.dumps(v), text=str(v)[:75]) for v in spec["enum"][:100]],
        )
    elif kind == "boolean":
        element = StaticSelectElement(
            action_id="value",
            placeholder="Choose…",
            options=[Option(value="true", text="Yes"), Option(value="false", text="No")],
        )
    elif kind in ("integer", "number"):
        element = NumberInputElement(action_id="value", is_decimal_allowed=kind == "number")
    else:
        element = PlainTextInputElement(action_id="value", multiline=spec.get("maxLength", 0) > 200)
    return InputBlock(block_id=f"field:{name}", label=label, element=element, optional=not required)


def read_view(card_kind: Kind, schema: dict[str, Any] | None, values: dict[str, Any]) -> Any:
    """The answer a submitted modal carries, typed as the form's schema says."""
    if card_kind != Kind.FORM:
        return str(values.get("answer", {}).get("value", {}).get("value") or "")
    properties = (schema or {}).get("properties") or {}
    answer: dict[str, Any] = {}
    for block_id, actions in values.items():
        if not block_id.startswith("field:"):
            continue
        name = block_id.removeprefix("field:")
        state = actions.get("value", {})
        spec = properties.get(name, {}) if isinstance(properties, dict) else {}
        raw = state.get("selected_option", {}) or {}
        if raw:
            value = raw.get("value")
            answer[name] = json.loads(str(value)) if spec.get("enum") else value == "true"
            continue
        text = state.get("value")
        if text is None or text == "":
            continue
        if spec.get("type") == "integer":
            answer[name] = int(text)
        elif spec.get("type") == "number":
            answer[name] = float(text)
        else:
            answer[name] = text
    return answer
