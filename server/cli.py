"""The `flask --app server` commands: sites and the database schema."""
from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from . import db
from .sites import by_name, create_site, snippet, tracking_status

sites_cli = AppGroup("sites", help="Create sites and print their tracking code.")
db_cli = AppGroup("db", help="The database schema.")

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


@sites_cli.command("create")
@click.argument("name")
@click.option("--origin", "origins", multiple=True, help="An allowed origin, e.g. https://shop.example (repeatable).")
def create_command(name: str, origins: tuple[str, ...]) -> None:
    """Create a site; prints its client key (public) and api key (secret) last."""
    with db.new_session(current_app) as session:
        if by_name(session, name) is not None:
            raise click.ClickException(f"a site named {name!r} already exists")
        try:
            site = create_site(session, name, list(origins))
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--origin") from None
        click.echo(f"Created site {site.name!r}. Paste `flask --app server sites snippet {site.name}` before </head>.")
        click.echo(f"client_key={site.client_key}")
        click.echo(f"api_key={site.api_key}")


@sites_cli.command("snippet")
@click.argument("name")
@click.option("--url", help="Base URL of this server as browsers reach it (default SIBYL_PUBLIC_URL).")
def snippet_command(name: str, url: str | None) -> None:
    """Print the site's tracking code, to paste just before </head>."""
    base = (url or current_app.config["PUBLIC_URL"] or DEFAULT_PUBLIC_URL).rstrip("/")
    with db.new_session(current_app) as session:
        site = by_name(session, name)
        if site is None:
            raise click.ClickException(f"no site named {name!r}")
        click.echo(snippet(site, base))


@sites_cli.command("status")
@click.argument("name")
def status_command(name: str) -> None:
    """Print whether the site has received traffic in the last 24 hours."""
    with db.new_session(current_app) as session:
        site = by_name(session, name)
        if site is None:
            raise click.ClickException(f"no site named {name!r}")
        click.echo(json.dumps(tracking_status(site), indent=2))


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def upgrade_command(revision: str) -> None:
    """Apply the Alembic migrations."""
    db.upgrade(db.engine(), revision)
    click.echo(f"Database at {revision}.")


def init_app(app: Flask) -> None:
    app.cli.add_command(sites_cli)
    app.cli.add_command(db_cli)
