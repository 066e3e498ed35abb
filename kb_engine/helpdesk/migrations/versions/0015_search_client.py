"""search client: who made a search, as a keyed hash of the client's address (issue 23: the dashboard's top
queries count distinct visitors, so one client repeating a query, with or without cookies, counts once)

Revision ID: 0015_search_client
Revises: 0012_answers
Create Date: 2026-12-06 04:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_search_client"
down_revision = "0012_answers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("search_log", sa.Column("client", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("search_log", schema=None) as batch_op:
        batch_op.drop_column("client")
