"""ops: the staff audit log (append-only); ticket history events can be redacted once (personal data
erasure and retention), and stay append-only otherwise

Revision ID: 0009_ops
Revises: 0005a_satisfaction
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_ops"
down_revision = "0005a_satisfaction"
branch_labels = None
depends_on = None

APPEND_ONLY = "ticket history is append-only"
AUDIT_APPEND_ONLY = "the audit log is append-only"
# The one change the history accepts: an event's text dropped (message NULL, data emptied by the caller),
# once, everything that says who did what and when kept.
_REDACTION = (
    "OLD.redacted = {false} AND NEW.redacted = {true} AND NEW.message IS NULL AND NEW.id = OLD.id "
    "AND NEW.ticket_id = OLD.ticket_id AND NEW.at = OLD.at AND NEW.actor = OLD.actor AND NEW.kind = OLD.kind"
)


def upgrade() -> None:
    op.add_column(
        "ticket_event", sa.Column("redacted", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False, index=True),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False, index=True),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        redaction = _REDACTION.format(false="false", true="true")
        op.execute(
            "CREATE OR REPLACE FUNCTION ticket_event_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN IF TG_OP = 'UPDATE' AND {redaction} THEN RETURN NEW; END IF; "
            f"RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{AUDIT_APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        op.execute("DROP TRIGGER ticket_event_no_update")
        op.execute(
            "CREATE TRIGGER ticket_event_no_update BEFORE UPDATE ON ticket_event "
            f"WHEN NOT ({_REDACTION.format(false='0', true='1')}) "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{action.lower()} BEFORE {action} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{AUDIT_APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
        op.execute(
            "CREATE OR REPLACE FUNCTION ticket_event_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.drop_table("audit_log")
        op.drop_column("ticket_event", "redacted")
        return
    op.execute("DROP TRIGGER audit_log_no_update")
    op.execute("DROP TRIGGER audit_log_no_delete")
    op.drop_table("audit_log")
    # SQLite drops a column by copying the table, which loses its triggers: put 0002's back after.
    op.execute("DROP TRIGGER IF EXISTS ticket_event_no_update")
    op.execute("DROP TRIGGER IF EXISTS ticket_event_no_delete")
    with op.batch_alter_table("ticket_event") as batch_op:
        batch_op.drop_column("redacted")
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER ticket_event_no_{action.lower()} BEFORE {action} ON ticket_event "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )
