"""The context summary a human reads before stepping in: pluggable, extractive by default.

``ExtractiveSummary`` is deterministic (the same transcript gives the same summary, no
model, no network): what the customer first asked, the questions they asked since, what
the AI last said, and how long it has gone on. An LLM summary can be plugged in through
the ``Summariser`` protocol; it must never be needed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from inloop.domain.conversations import Message, Role

MAX_LINE = 240
_QUESTION = re.compile(
    r"\?\s*$|^(how|what|why|when|where|who|which|can|could|do|does|is|are|will|would)\b",
    re.IGNORECASE,
)


class Summariser(Protocol):
    def summarise(self, messages: Sequence[Message]) -> str: ...


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


class ExtractiveSummary:
    """Picks sentences from the transcript; writes none of its own but the labels."""

    def summarise(self, messages: Sequence[Message]) -> str:
        said = [m for m in messages if m.role in (Role.USER, Role.AGENT, Role.HUMAN)]
        if not said:
            return "No messages yet."
        customer = [m for m in said if m.role == Role.USER]
        lines: list[str] = []
        if customer:
            lines.append(f"Customer's request: {_clip(customer[0].text)}")
            questions = [m.text for m in customer[1:] if _QUESTION.search(m.text.strip())]
            for question in questions[-3:]:
                lines.append(f"Customer asked: {_clip(question)}")
            if len(customer) > 1 and customer[-1].text not in questions[-3:]:
                lines.append(f"Customer's last message: {_clip(customer[-1].text)}")
        agent = [m for m in said if m.role == Role.AGENT]
        if agent:
            lines.append(f"AI's last reply: {_clip(agent[-1].text)}")
        lines.append(
            f"{len(said)} messages ({len(customer)} from the customer) since "
            f"{said[0].created_at:%Y-%m-%d %H:%M} UTC."
        )
        return "\n".join(lines)


def transcript(messages: Sequence[Message]) -> list[dict[str, str]]:
    """The whole conversation as ``{role, text}`` lines (what the desk's panels read)."""
    return [
        {"role": m.author_name or m.role.value, "text": m.text, "at": m.created_at.isoformat()}
        for m in messages
    ]
