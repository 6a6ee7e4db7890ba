"""Alembic environment: runs migrations on the engine the app hands over.

On SQLite, foreign keys are off while migrations run: rebuilding a table (Alembic's batch mode) drops the
old one, and with them on that DROP would cascade into every row referencing it. They are switched off
and back on outside any transaction (SQLite ignores the PRAGMA inside one).
"""

from alembic import context
from sqlalchemy import Connection

from server.models import Base

engine = context.config.attributes["engine"]


def run_migrations(connection: Connection) -> None:
    with connection.begin():
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


def set_sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    connection.commit()


with engine.connect() as connection:
    if connection.dialect.name != "sqlite":
        run_migrations(connection)
    else:
        set_sqlite_foreign_keys(connection, on=False)
        try:
            run_migrations(connection)
        finally:
            set_sqlite_foreign_keys(connection, on=True)
