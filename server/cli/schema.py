"""`flask db upgrade` and `flask db backup`: the schema, and a copy of a SQLite database taken while it runs."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import click
from flask.cli import AppGroup

from .. import db

db_cli = AppGroup("db", help="The database schema, and backups of a SQLite database.")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def upgrade_command(revision: str) -> None:
    """Apply the Alembic migrations."""
    db.upgrade(db.engine(), revision)
    click.echo(f"Database at {revision}.")


@db_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """Copy the SQLite database into the new file PATH, consistent while Sibyl runs (SQLite's online backup API).

    Restore by stopping Sibyl and copying PATH back as the database file. PostgreSQL: use pg_dump -Fc."""
    url = db.engine().url
    if url.get_backend_name() != "sqlite":
        raise click.ClickException(f"the database is {url.get_backend_name()}, not SQLite: back it up with pg_dump -Fc")
    if not url.database or url.database == ":memory:":
        raise click.ClickException("the database is in memory: there is no file to back up")
    if path.exists():
        raise click.ClickException(f"{path} already exists: name a new file")
    if not path.parent.is_dir():
        raise click.ClickException(f"{path.parent} is not a directory")
    partial = path.with_name(f".{path.name}.partial")
    source, target = sqlite3.connect(url.database, timeout=30), sqlite3.connect(partial)
    try:
        source.backup(target)
        # One self-contained file: the copy leaves WAL mode, so no -wal file beside it is needed to restore it.
        target.execute("PRAGMA journal_mode=DELETE")
        target.close()
        os.replace(partial, path)
    finally:
        target.close()
        source.close()
        partial.unlink(missing_ok=True)
    click.echo(f"Backed up to {path}.")
