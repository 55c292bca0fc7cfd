"""The dashboard's figures: indexes on when requests were resolved (and by whom) and created.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_requests_resolved_at", ["resolved_at", "resolution", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_requests_resolved_by", ["resolved_by", "resolution", "resolved_at"], unique=False
        )
        batch_op.create_index("ix_requests_created_at_level", ["created_at", "level"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_created_at_level")
        batch_op.drop_index("ix_requests_resolved_by")
        batch_op.drop_index("ix_requests_resolved_at")
