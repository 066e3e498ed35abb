"""help centre: why an article did not help (feedback.reason, one of analytics.NOT_HELPFUL_REASONS)

Revision ID: 0011_helpcentre
Revises: 0014_desk
Create Date: 2026-12-06 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_helpcentre"
down_revision = "0014_desk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_column("reason")
