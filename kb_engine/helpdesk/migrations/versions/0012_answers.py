"""answers: the clarifying question logged with the search ("Which one are you using?", issue 26): the
facet asked about, and the value the results were shown for (chosen on the question, or kept from the
visitor's session)

Revision ID: 0012_answers
Revises: 0011_helpcentre
Create Date: 2026-12-06 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_answers"
down_revision = "0011_helpcentre"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("search_log", sa.Column("clarify", sa.String(length=32), nullable=True))
    op.add_column("search_log", sa.Column("facet", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("search_log", schema=None) as batch_op:
        batch_op.drop_column("facet")
        batch_op.drop_column("clarify")
