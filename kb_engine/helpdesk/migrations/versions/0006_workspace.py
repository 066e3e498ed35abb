"""agent workspace: a known issue's banner in each interface language

Revision ID: 0006_workspace
Revises: 0009_ops
Create Date: 2026-12-05 22:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_workspace"
down_revision = "0009_ops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("problem", schema=None) as batch_op:
        batch_op.add_column(sa.Column("banners", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("problem", schema=None) as batch_op:
        batch_op.drop_column("banners")
