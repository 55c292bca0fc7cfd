"""How requests read on the desk: relative times, context panels, transcripts, shortcuts.

Everything here returns plain values; the templates escape them (autoescape is on).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from jinja2 import Environment
from markupsafe import Markup

from inloop.domain.enums import Kind
from inloop.domain.requests import APPROVAL_WORDS, REJECTION_WORDS, Request

TRANSCRIPT_KEYS = ("transcript", "messages", "conversation")
CUSTOMER_KEYS = ("customer", "customer_details", "user")
_SPEAKER = ("role", "speaker", "from", "author", "sender")
_TEXT = ("text", "content", "message", "body")


def install(env: Environment) -> None:
    env.filters["relative"] = relative
    env.filters["pretty_json"] = pretty_json
    env.filters["script_json"] = script_json
    env.filters["iso"] = lambda when: when.isoformat() if when else ""
    env.filters["label"] = lambda key: str(key).replace("_", " ").capitalize()
    env.tests["mapping_value"] = lambda value: isinstance(value, dict)
    env.tests["list_value"] = lambda value: isinstance(value, list)


def relative(when: datetime | None, now: datetime) -> str:
    """'3 min ago', 'in 2 h': what the desk's script keeps up to date in the browser."""
    if when is None:
        return ""
    seconds = (when - now).total_seconds()
    past, seconds = seconds < 0, abs(seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            amount = f"{int(seconds // size)} {unit}"
            break
    else:
        return "just now" if past else "in under a minute"
    return f"{amount} ago" if past else f"in {amount}"


def pretty_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def script_json(value: Any) -> Markup:
    """JSON to embed in a <script type="application/json">: keys in their given order (a
    schema's properties keep the agent's order), and nothing that could close the tag."""
    text = orjson.dumps(value).decode()
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, code)
    return Markup(text)  # noqa: S704  (every character that HTML could read is escaped above)


@dataclass(frozen=True)
class Panel:
    key: str
    value: Any
    highlighted: bool


@dataclass(frozen=True)
class Line:
    speaker: str
    text: str


@dataclass(frozen=True)
class Layout:
    """The request's context, split the way the desk shows it."""

    panels: list[Panel]
    transcript: list[Line]
    customer: dict[str, Any] | None
    side_by_side: bool


def layout(request: Request) -> Layout:
    context = request.context
    display = request.display
    highlight = set(display.highlight or []) if display is not None else set()
    side_by_side = display is not None and display.layout == "side-by-side"
    if not isinstance(context, dict):
        panels = [] if context is None else [Panel("context", context, False)]
        return Layout(panels, [], None, side_by_side)
    rest = dict(context)
    transcript = _transcript(rest)
    customer = next((rest.pop(k) for k in CUSTOMER_KEYS if isinstance(rest.get(k), dict)), None)
    panels = [Panel(str(k), v, k in highlight) for k, v in rest.items()]
    panels.sort(key=lambda p: not p.highlighted)  # highlighted panels first
    return Layout(panels, transcript, customer, side_by_side)


def _transcript(context: dict[str, Any]) -> list[Line]:
    for key in TRANSCRIPT_KEYS:
        value = context.get(key)
        if isinstance(value, list) and all(isinstance(m, dict | str) for m in value):
            context.pop(key)
            return [_line(m) for m in value]
    return []


def _line(message: dict[str, Any] | str) -> Line:
    if isinstance(message, str):
        return Line("", message)
    speaker = next((str(message[k]) for k in _SPEAKER if k in message), "")
    text = next((message[k] for k in _TEXT if k in message), None)
    return Line(speaker, text if isinstance(text, str) else pretty_json(message))


def shortcut_answers(request: Request) -> dict[str, Any]:
    """What the a (approve) and r (reject) keys answer, where the request allows it."""
    if request.kind == Kind.CONFIRMATION:
        return {"a": True, "r": False}
    if request.kind != Kind.APPROVAL or not request.options:
        return {}
    answers: dict[str, Any] = {}
    for option in request.options:
        word = option.value.lower()
        if word in APPROVAL_WORDS:
            answers.setdefault("a", option.value)
        elif word in REJECTION_WORDS:
            answers.setdefault("r", option.value)
    return answers


def editable_option(request: Request) -> str | None:
    """The option that sends an edited payload (seed 001's modify, Agent Inbox's edit)."""
    for option in request.options or []:
        if option.value.lower() in ("modify", "edit"):
            return option.value
    return None
