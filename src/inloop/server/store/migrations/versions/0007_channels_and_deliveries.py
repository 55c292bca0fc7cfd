"""Channels and deliveries: configured channels, users' addresses, the outbox and its log,
one-time answer codes, handled callbacks; where a request's people are told and where its
answer came from.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import inloop.server.store.schema

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("config", _json, nullable=False),
        sa.Column("secrets", sa.Text(), nullable=True),
        sa.Column("secrets_set", _json, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sa.UniqueConstraint("name", name=op.f("uq_channels_name")),
    )
    op.create_table(
        "deliveries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("topic", sa.String(length=60), nullable=False),
        sa.Column("payload", _json, nullable=True),
        sa.Column("sealed", sa.Text(), nullable=True),
        sa.Column("sensitive", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("replays", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("due_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "delivered_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=40), nullable=True),
        sa.Column("user_handle", sa.String(length=100), nullable=True),
        sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("ref", _json, nullable=True),
        sa.Column("ref_key", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("key", name=op.f("uq_deliveries_key")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_due",
            ["due_at"],
            unique=False,
            sqlite_where=sa.text("status IN ('pending', 'sending')"),
            postgresql_where=sa.text("status IN ('pending', 'sending')"),
        )
        batch_op.create_index(batch_op.f("ix_deliveries_ref_key"), ["ref_key"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_deliveries_request_id_id"), ["request_id", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_deliveries_status_id"), ["status", "id"], unique=False)

    op.create_table(
        "delivery_attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("replay", sa.Integer(), nullable=False),
        sa.Column("at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_attempts_delivery_id_id"), ["delivery_id", "id"], unique=False
        )

    op.create_table(
        "inbound_messages",
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column(
            "received_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("channel", "message_id", name=op.f("pk_inbound_messages")),
    )
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbound_messages_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "answer_codes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("user_handle", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=True),
        sa.Column(
            "created_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "expires_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("used_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_answer_codes_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer_codes")),
    )
    with op.batch_alter_table("answer_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_answer_codes_channel_address_code"),
            ["channel", "address", "code"],
            unique=False,
        )

    op.create_table(
        "user_channels",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("channel_id", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at", inloop.server.store.schema.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_user_channels_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_channels_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "channel_id", name=op.f("pk_user_channels")),
        sa.UniqueConstraint(
            "channel_id", "address", name=op.f("uq_user_channels_channel_id_address")
        ),
    )
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channels", _json, nullable=True))
        batch_op.add_column(sa.Column("responded_via", _json, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("responded_via")
        batch_op.drop_column("channels")

    op.drop_table("user_channels")
    with op.batch_alter_table("answer_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answer_codes_channel_address_code"))

    op.drop_table("answer_codes")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_messages_received_at"))

    op.drop_table("inbound_messages")
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_attempts_delivery_id_id"))

    op.drop_table("delivery_attempts")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_status_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_request_id_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_ref_key"))
        batch_op.drop_index(
            "ix_deliveries_due",
            sqlite_where=sa.text("status IN ('pending', 'sending')"),
            postgresql_where=sa.text("status IN ('pending', 'sending')"),
        )

    op.drop_table("deliveries")
    op.drop_table("channels")
