"""abuse limits: what anonymous visitors create (tickets, replies, feedback), counted per address and per
email across workers; the client address a ticket came from (problems count customers, not tickets)

Revision ID: 0004_abuse_limits
Revises: 0006_workspace
Create Date: 2026-12-05 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_abuse_limits"
down_revision = "0006_workspace"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "anonymous_action",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("anonymous_action", schema=None) as batch_op:
        batch_op.create_index("ix_anonymous_action_address", ["action", "address", "at"], unique=False)
        batch_op.create_index("ix_anonymous_action_email", ["action", "email", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_anonymous_action_at"), ["at"], unique=False)
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_address", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_column("client_address")
    op.drop_table("anonymous_action")
