"""The Alembic migrations produce exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from kb_engine.helpdesk.db import alembic_config, upgrade
from kb_engine.helpdesk.models import Base


def schema_diff(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_migrations_produce_exactly_the_models_schema(engine) -> None:
    assert schema_diff(engine) == []


def test_upgrade_is_idempotent_and_migrations_go_down_and_up_again(engine) -> None:
    upgrade(engine)
    assert schema_diff(engine) == []
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert schema_diff(engine) == []
