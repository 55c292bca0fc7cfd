"""Alembic environment: runs migrations on the engine the caller passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from inloop.server.store import search
from inloop.server.store.schema import metadata

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    if connection.dialect.name == "postgresql":
        # Replicas starting together migrate one at a time.
        connection.execute(text("SELECT pg_advisory_lock(7431001)"))
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=search.mapped,
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_unlock(7431001)"))
        connection.commit()
