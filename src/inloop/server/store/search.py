"""The text search over requests' titles and prompts: a case-insensitive substring match.

SQLite answers it from the FTS5 trigram table ``requests_search`` (migration 0009), which
the metadata cannot describe (a virtual table, kept by triggers); PostgreSQL from pg_trgm's
GIN indexes, which ``ILIKE '%term%'`` uses as written. A term shorter than a trigram has
no index to use and is tested row by row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import column, or_, select, table

from inloop.server.store.schema import requests

# The shortest term the trigram indexes can answer.
TRIGRAM = 3
# Objects of migration 0009 that are not in the metadata (and that comparing the database
# with the metadata must leave alone).
UNMAPPED = ("requests_search", "ix_requests_search_title", "ix_requests_search_prompt")


def mapped(name: str | None, type_: str, parents: object) -> bool:
    """Alembic's ``include_name``: leave the search's own objects (and FTS5's shadow
    tables) out of comparisons with the metadata."""
    return not (name and name.startswith(UNMAPPED))


_fts = table("requests_search", column("request_id"), column("requests_search"))


def contains(q: str, *, sqlite: bool) -> Any:
    """Requests whose title or prompt contains ``q``, ignoring case."""
    c = requests.c
    if sqlite and len(q) >= TRIGRAM:
        # A quoted phrase is a substring match for the trigram tokenizer.
        phrase = '"' + q.replace('"', '""') + '"'
        return c.id.in_(select(_fts.c.request_id).where(_fts.c.requests_search.match(phrase)))
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    # SQLite's LIKE ignores ASCII case already; ILIKE would lower() every row first.
    like = "like" if sqlite else "ilike"
    return or_(
        getattr(c.title, like)(pattern, escape="\\"),
        getattr(c.prompt, like)(pattern, escape="\\"),
    )
