"""satisfaction: customers' one-click answer to "Are you satisfied?", once per ticket

Revision ID: 0005a_satisfaction
Revises: 0005_outbox
Create Date: 2026-12-05 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005a_satisfaction"
down_revision = "0005_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "satisfaction",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.String(length=8), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("tier", sa.String(length=4), nullable=True),
        sa.Column("team", sa.String(length=80), nullable=True),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id"),
    )
    with op.batch_alter_table("satisfaction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_satisfaction_at"), ["at"], unique=False)


def downgrade() -> None:
    op.drop_table("satisfaction")
