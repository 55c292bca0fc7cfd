"""Routing, assignment, durable timers, presence and capacity.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:52:40.570415
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import inloop.server.store.schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_cursors",
        sa.Column("pool", sa.String(length=1000), nullable=False),
        sa.Column("last_handle", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("pool", name=op.f("pk_routing_cursors")),
    )
    op.create_table(
        "request_candidates",
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("ref", sa.String(length=210), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_request_candidates_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("request_id", "ref", name=op.f("pk_request_candidates")),
    )
    with op.batch_alter_table("request_candidates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_request_candidates_ref_request_id"), ["ref", "request_id"], unique=False
        )

    op.create_table(
        "timers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("due_at", inloop.server.store.schema.UTCDateTime(), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=True),
        sa.Column("user_handle", sa.String(length=100), nullable=True),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_timers_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timers")),
    )
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_timers_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_timers_request_id"), ["request_id"], unique=False)

    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "assignment",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "approvals", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "quorum", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "candidates",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                server_default=sa.text("'[]'"),
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("assigned_to", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("assigned_at", inloop.server.store.schema.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("level", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("stage", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("reminders", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "votes",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                server_default=sa.text("'[]'"),
                nullable=False,
            )
        )
        batch_op.create_index(
            batch_op.f("ix_requests_assigned_to_status"), ["assigned_to", "status"], unique=False
        )
        batch_op.drop_column("assignee_text")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "presence", sa.String(length=10), server_default=sa.text("'online'"), nullable=False
            )
        )
        batch_op.add_column(sa.Column("capacity", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("last_active_at", inloop.server.store.schema.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "presence_changed_at", inloop.server.store.schema.UTCDateTime(), nullable=True
            )
        )

    _backfill_candidates()


def _backfill_candidates() -> None:
    """Requests made before routing existed get candidates from their assignee spec."""
    from inloop.domain.specs import candidate_refs

    requests = sa.table(
        "requests",
        sa.column("id"),
        sa.column("assignee", sa.JSON()),
        sa.column("candidates", sa.JSON()),
    )
    links = sa.table("request_candidates", sa.column("request_id"), sa.column("ref"))
    conn = op.get_bind()
    for request_id, assignee in conn.execute(sa.select(requests.c.id, requests.c.assignee)).all():
        refs = sorted(set(candidate_refs(assignee)))
        conn.execute(requests.update().where(requests.c.id == request_id).values(candidates=refs))
        conn.execute(links.insert(), [{"request_id": request_id, "ref": ref} for ref in refs])


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("presence_changed_at")
        batch_op.drop_column("last_active_at")
        batch_op.drop_column("capacity")
        batch_op.drop_column("presence")

    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignee_text", sa.TEXT(), nullable=True))
        batch_op.drop_index(batch_op.f("ix_requests_assigned_to_status"))
        batch_op.drop_column("votes")
        batch_op.drop_column("reminders")
        batch_op.drop_column("stage")
        batch_op.drop_column("level")
        batch_op.drop_column("assigned_at")
        batch_op.drop_column("assigned_to")
        batch_op.drop_column("candidates")
        batch_op.drop_column("quorum")
        batch_op.drop_column("approvals")
        batch_op.drop_column("assignment")

    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timers_request_id"))
        batch_op.drop_index(batch_op.f("ix_timers_due_at"))

    op.drop_table("timers")
    with op.batch_alter_table("request_candidates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_candidates_ref_request_id"))

    op.drop_table("request_candidates")
    op.drop_table("routing_cursors")
