"""The desk's text search: a trigram index over requests' titles and prompts.

SQLite: an FTS5 table with the trigram tokenizer, kept by triggers. It holds its own copy
of the text next to the request's id rather than pointing at ``requests.rowid``, because
VACUUM may renumber the rowids of a table without an INTEGER PRIMARY KEY.
PostgreSQL: pg_trgm's GIN indexes, which ``ILIKE '%term%'`` uses as they are. Where the
extension cannot be created (a managed server without it), the search stays a scan.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import logging

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

log = logging.getLogger("inloop.migrations")

SQLITE_UP = [
    "CREATE VIRTUAL TABLE requests_search USING fts5("
    "request_id UNINDEXED, title, prompt, tokenize = 'trigram')",
    "INSERT INTO requests_search (request_id, title, prompt) "
    "SELECT id, title, prompt FROM requests",
    "CREATE TRIGGER requests_search_insert AFTER INSERT ON requests BEGIN "
    "INSERT INTO requests_search (request_id, title, prompt) "
    "VALUES (new.id, new.title, new.prompt); END",
    "CREATE TRIGGER requests_search_update AFTER UPDATE OF title, prompt ON requests BEGIN "
    "DELETE FROM requests_search WHERE request_id = old.id; "
    "INSERT INTO requests_search (request_id, title, prompt) "
    "VALUES (new.id, new.title, new.prompt); END",
    "CREATE TRIGGER requests_search_delete AFTER DELETE ON requests BEGIN "
    "DELETE FROM requests_search WHERE request_id = old.id; END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS requests_search_delete",
    "DROP TRIGGER IF EXISTS requests_search_update",
    "DROP TRIGGER IF EXISTS requests_search_insert",
    "DROP TABLE IF EXISTS requests_search",
]
POSTGRES_INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_requests_search_title ON requests "
    "USING gin (title gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_requests_search_prompt ON requests "
    "USING gin (prompt gin_trgm_ops)",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
        return
    try:
        with bind.begin_nested():
            op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as error:  # any refusal leaves the search a scan
        log.warning("pg_trgm is not available (%s): the desk's text search scans", error)
        return
    for statement in POSTGRES_INDEXES:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
        return
    op.execute("DROP INDEX IF EXISTS ix_requests_search_prompt")
    op.execute("DROP INDEX IF EXISTS ix_requests_search_title")
