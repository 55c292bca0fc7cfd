"""Durable agent runs: runs, their events and step completions.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import inloop.server.store.schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time() -> inloop.server.store.schema.UTCDateTime:
    return inloop.server.store.schema.UTCDateTime()


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("agent", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("start_event", _json, nullable=False),
        sa.Column("result", _json, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("finished_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_runs_agent_status_created_at_id"),
            ["agent", "status", "created_at", "id"],
        )
        batch_op.create_index(batch_op.f("ix_runs_created_at_id"), ["created_at", "id"])

    op.create_table(
        "run_events",
        sa.Column("id", _id, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("agent", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("payload", _json, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=True),
        sa.Column("emitted_by", _id, nullable=True),
        sa.Column("request_id", sa.String(length=40), nullable=True),
        sa.Column("reply_type", sa.String(length=200), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", _time(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("done_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_events_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_events")),
    )
    with op.batch_alter_table("run_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_events_run_id_id"), ["run_id", "id"])
        batch_op.create_index(
            batch_op.f("ix_run_events_agent_status_id"), ["agent", "status", "id"]
        )
        batch_op.create_index(batch_op.f("ix_run_events_request_id"), ["request_id"])

    op.create_table(
        "run_once",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", _json, nullable=True),
        sa.Column("recorded_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_once_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "key", name=op.f("pk_run_once")),
    )


def downgrade() -> None:
    op.drop_table("run_once")
    with op.batch_alter_table("run_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_events_request_id"))
        batch_op.drop_index(batch_op.f("ix_run_events_agent_status_id"))
        batch_op.drop_index(batch_op.f("ix_run_events_run_id_id"))
    op.drop_table("run_events")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_runs_agent_status_created_at_id"))
    op.drop_table("runs")
