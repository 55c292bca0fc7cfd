"""SQL for one-time answer credentials: an email link's id, an SMS reply code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from inloop.server.store.schema import answer_codes


@dataclass(frozen=True)
class AnswerCode:
    id: str
    channel: str
    request_id: str
    user_handle: str
    address: str
    code: str | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


def insert(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(answer_codes.insert(), list(rows))


def get(conn: Connection, code_id: str) -> AnswerCode | None:
    found = conn.execute(select(answer_codes).where(answer_codes.c.id == code_id)).first()
    return None if found is None else AnswerCode(*found)


def open_for(conn: Connection, channel: str, address: str, now: datetime) -> list[AnswerCode]:
    """Unused, unexpired codes sent to ``address`` on ``channel``, newest first."""
    rows = conn.execute(
        select(answer_codes)
        .where(
            answer_codes.c.channel == channel,
            answer_codes.c.address == address,
            answer_codes.c.used_at.is_(None),
            answer_codes.c.expires_at > now,
            answer_codes.c.code.is_not(None),
        )
        .order_by(answer_codes.c.created_at.desc())
        .limit(100)
    )
    return [AnswerCode(*r) for r in rows]


def use(conn: Connection, code_id: str, now: datetime) -> bool:
    """Mark the code used; False if it was used already (the first use wins)."""
    result = conn.execute(
        update(answer_codes)
        .where(answer_codes.c.id == code_id, answer_codes.c.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(result.rowcount)
