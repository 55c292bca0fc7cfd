"""Monitoring and alerts: alert rules, their audit trail, events indexed by type and time,
the deadline in the closed-requests index.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import inloop.server.store.schema

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, inloop.server.store.schema.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_type_at", ["type", "at"], unique=False)
    # The deadline joins the closed-requests index, so late answers count from it alone.
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_resolved_at")
        batch_op.create_index(
            "ix_requests_resolved_at",
            ["resolved_at", "resolution", "created_at", "due_at"],
            unique=False,
        )

    op.create_table(
        "alert_rules",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("op", sa.String(length=2), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("window", sa.String(length=40), nullable=False),
        sa.Column("hold", sa.String(length=40), nullable=True),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("notify_recovery", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("breaches", sa.Integer(), nullable=False),
        _time("breached_since"),
        sa.Column("value", sa.Float(), nullable=True),
        _time("evaluated_at"),
        _time("next_eval_at", nullable=False),
        _time("fired_at"),
        _time("recovered_at"),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_rules_name")),
    )
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_rules_enabled_next_eval_at"),
            ["enabled", "next_eval_at"],
            unique=False,
        )

    op.create_table(
        "alert_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("alert_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        _time("at", nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_events_alert_id_id"), ["alert_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_events_alert_id_id"))
    op.drop_table("alert_events")
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_rules_enabled_next_eval_at"))
    op.drop_table("alert_rules")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_resolved_at")
        batch_op.create_index(
            "ix_requests_resolved_at", ["resolved_at", "resolution", "created_at"], unique=False
        )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_type_at")
