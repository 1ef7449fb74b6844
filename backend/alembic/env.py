"""Alembic environment: the URL comes from the settings, or a connection is handed in.

pytest-alembic (and our own tests) pass an Engine *or* a Connection in
``config.attributes["connection"]``; both are accepted.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, Engine, create_engine, pool

import app.models  # noqa: F401 - registers every table on Base.metadata
from app.config import get_settings
from app.db.base import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


#: Built by a migration only where the ``rum`` extension exists (ddl.SEARCH_INDEXES), so the
#: models do not declare it; autogenerate and ``alembic check`` leave it alone.
_OUTSIDE_THE_MODELS = {"ix_analyses_search_rum"}


def _include_object(
    _object: object, name: str | None, type_: str, _reflected: bool, _compare_to: object
) -> bool:
    return not (type_ == "index" and name in _OUTSIDE_THE_MODELS)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include_object,
        compare_type=True,
        compare_server_default=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=get_settings().migration_url().render_as_string(hide_password=False),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _configure(given)
        return
    engine = given if isinstance(given, Engine) else None
    if engine is None:
        engine = create_engine(get_settings().migration_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _configure(connection)
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
