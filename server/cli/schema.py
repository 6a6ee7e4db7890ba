"""`flask db upgrade`: the database schema."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from .. import db

db_cli = AppGroup("db", help="The database schema.")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def upgrade_command(revision: str) -> None:
    """Apply the Alembic migrations."""
    db.upgrade(db.engine(), revision)
    click.echo(f"Database at {revision}.")
