"""Agent sessions and their history, handoff tickets and their rules, confirmations.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import inloop.server.store.schema

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_sessions",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column(
            "state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_sessions")),
    )
    with op.batch_alter_table("agent_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agent_sessions_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_agent_sessions_created_by_created_at"),
            ["created_by", "created_at"],
            unique=False,
        )

    op.create_table(
        "ticket_settings",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column(
            "updated_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_ticket_settings")),
    )
    op.create_table(
        "agent_session_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("session_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reasoning", sa.Text(), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "created_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["agent_sessions.id"],
            name=op.f("fk_agent_session_events_session_id_agent_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_session_events")),
    )
    with op.batch_alter_table("agent_session_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agent_session_events_session_id_type_id"),
            ["session_id", "type", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_agent_session_events_type_created_at"),
            ["type", "created_at"],
            unique=False,
        )

    op.create_table(
        "confirmations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("action_json", sa.Text(), nullable=False),
        sa.Column("action_digest", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("code_hmac", sa.String(length=64), nullable=True),
        sa.Column("to_email", sa.String(length=320), nullable=True),
        sa.Column("to_phone", sa.String(length=40), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("resends", sa.Integer(), nullable=False),
        sa.Column("sent_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "expires_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "decided_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["agent_sessions.id"],
            name=op.f("fk_confirmations_session_id_agent_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_confirmations")),
    )
    with op.batch_alter_table("confirmations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_confirmations_session_id_created_at"),
            ["session_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_confirmations_status_expires_at"), ["status", "expires_at"], unique=False
        )

    op.create_table(
        "tickets",
        sa.Column(
            "number",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=200), nullable=False),
        sa.Column("conversation_id", sa.String(length=120), nullable=True),
        sa.Column("request_id", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column(
            "history",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "action",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_tickets_request_id_requests")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["agent_sessions.id"], name=op.f("fk_tickets_session_id_agent_sessions")
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_tickets")),
        sa.UniqueConstraint("id", name=op.f("uq_tickets_id")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tickets_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_request_id"), ["request_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_tickets_session_id_number"), ["session_id", "number"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_session_id_number"))
        batch_op.drop_index(batch_op.f("ix_tickets_request_id"))
        batch_op.drop_index(batch_op.f("ix_tickets_created_at"))

    op.drop_table("tickets")
    with op.batch_alter_table("confirmations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_confirmations_status_expires_at"))
        batch_op.drop_index(batch_op.f("ix_confirmations_session_id_created_at"))

    op.drop_table("confirmations")
    with op.batch_alter_table("agent_session_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_session_events_type_created_at"))
        batch_op.drop_index(batch_op.f("ix_agent_session_events_session_id_type_id"))

    op.drop_table("agent_session_events")
    op.drop_table("ticket_settings")
    with op.batch_alter_table("agent_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_sessions_created_by_created_at"))
        batch_op.drop_index(batch_op.f("ix_agent_sessions_created_at"))

    op.drop_table("agent_sessions")
