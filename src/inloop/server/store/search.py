"""The text search over requests' titles and prompts: a case-insensitive substring match.

SQLite answers it from the FTS5 trigram table ``requests_search`` (migration 0009), which
the metadata cannot describe (a virtual table, kept by triggers); PostgreSQL from pg_trgm's
GIN indexes, which ``ILIKE '%term%'`` uses as written. A term shorter than a trigram has
no index to use and is tested row by row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, column, func, or_, select, table

from inloop.server.store.schema import requests

# The shortest term the trigram indexes can answer.
TRIGRAM = 3
# Up to this many matches, the desk starts from the index and sorts what it finds; a
# commoner term is found soon enough by walking the queue's order, testing each row.
FEW = 5000
# Objects of migration 0009 that are not in the metadata (and that comparing the database
# with the metadata must leave alone).
UNMAPPED = ("requests_search", "ix_requests_search_title", "ix_requests_search_prompt")


def few(conn: Connection, q: str) -> bool:
    """On SQLite, whether the index finds at most FEW requests containing ``q`` (counted
    from the index alone: about a millisecond). Always False on PostgreSQL, whose index
    serves ``contains`` inside any query."""
    if conn.dialect.name != "sqlite" or len(q) < TRIGRAM:
        return False
    found = select(_fts.c.rowid).where(_matches(q)).limit(FEW + 1).subquery()
    return int(conn.execute(select(func.count()).select_from(found)).scalar_one()) <= FEW


def from_index(q: str) -> tuple[Any, Any]:
    """What to select from, and the condition, to read the requests containing ``q`` by
    starting from SQLite's index: ``select(...).select_from(joined).where(condition)``."""
    return _fts.join(requests, requests.c.id == _fts.c.request_id), _matches(q)


def _matching(q: str) -> Any:
    return select(_fts.c.request_id).where(_matches(q))


def _matches(q: str) -> Any:
    # A quoted phrase is a substring match for the trigram tokenizer.
    phrase = '"' + q.replace('"', '""') + '"'
    return _fts.c.requests_search.match(phrase)


def mapped(name: str | None, type_: str, parents: object) -> bool:
    """Alembic's ``include_name``: leave the search's own objects (and FTS5's shadow
    tables) out of comparisons with the metadata."""
    return not (name and name.startswith(UNMAPPED))


_fts = table("requests_search", column("rowid"), column("request_id"), column("requests_search"))


def contains(q: str, *, sqlite: bool, indexed: bool = True) -> Any:
    """Requests whose title or prompt contains ``q``, ignoring case (``indexed=False``: by
    testing each row, even where SQLite's index could answer)."""
    c = requests.c
    if sqlite and indexed and len(q) >= TRIGRAM:
        return c.id.in_(_matching(q))
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    # SQLite's LIKE ignores ASCII case already; ILIKE would lower() every row first.
    like = "like" if sqlite else "ilike"
    return or_(
        getattr(c.title, like)(pattern, escape="\\"),
        getattr(c.prompt, like)(pattern, escape="\\"),
    )
