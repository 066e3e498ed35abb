"""problem_watch: customers who asked, from a known issue's banner, to be told when it is fixed

Revision ID: 0014_desk
Revises: 0013_integrations
Create Date: 2026-12-06 01:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_desk"
down_revision = "0013_integrations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "problem_watch",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["problem_id"], ["problem.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("problem_id", "email"),
    )
    with op.batch_alter_table("problem_watch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_problem_watch_problem_id"), ["problem_id"], unique=False)


def downgrade() -> None:
    op.drop_table("problem_watch")
