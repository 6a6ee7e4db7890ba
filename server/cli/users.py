"""`flask users …`: who may sign in to the dashboard, and which sites each sees."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import db
from ..dashboard.users import by_email, create_user, delete_user, granted_site_ids, set_password, set_sites
from ..models import Site, User
from .sites import site_named

users_cli = AppGroup("users", help="Who may sign in to the dashboard.")


def _sites_named(session: Session, names: tuple[str, ...]) -> list[Site] | None:
    """The sites given by name, or None (every site) when none is named."""
    return [site_named(session, name) for name in names] if names else None


def _user(session: Session, email: str) -> User:
    user = by_email(session, email)
    if user is None:
        raise click.ClickException(f"no dashboard user {email!r}")
    return user


def _access(site_ids: set[int] | None, names: dict[int, str]) -> str:
    return "every site" if site_ids is None else ", ".join(sorted(names[i] for i in site_ids)) or "no site"


F = TypeVar("F", bound=Callable[..., Any])


def _password_option(what: str) -> Callable[[F], F]:
    """`--password`, asked for (hidden, twice) when absent."""
    return click.option(
        "--password",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help=f"{what} (asked for, hidden, when absent).",
    )


@users_cli.command("create")
@click.argument("email")
@_password_option("The password")
@click.option("--site", "sites", multiple=True, help="A site the user may see (repeatable; none: every site).")
def users_create_command(email: str, password: str, sites: tuple[str, ...]) -> None:
    """Create a dashboard user who signs in with EMAIL and the password."""
    with db.new_session(current_app) as session:
        try:
            user = create_user(session, email, password, _sites_named(session, sites))
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"Created dashboard user {user.email}, who sees {', '.join(sites) or 'every site'}.")


@users_cli.command("list")
def users_list_command() -> None:
    """Every dashboard user and the sites it sees."""
    with db.new_session(current_app) as session:
        names = {site_id: name for site_id, name in session.execute(select(Site.id, Site.name))}
        users = list(session.scalars(select(User).order_by(User.email)))
        if not users:
            click.echo("No dashboard users yet: create one with `flask --app server users create EMAIL`.")
        for user in users:
            click.echo(f"{user.email}  {_access(granted_site_ids(session, user), names)}")


def _set_password(email: str, password: str) -> None:
    with db.new_session(current_app) as session:
        try:
            set_password(session, _user(session, email), password)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"New password set for {email}; its other sessions are signed out.")


@users_cli.command("set-password")
@click.argument("email")
@_password_option("The new password")
def users_set_password_command(email: str, password: str) -> None:
    """Set a user's password (one who forgot it, say); its sessions signed in with the old one end."""
    _set_password(email, password)


@users_cli.command("password", hidden=True)
@click.argument("email")
@_password_option("The new password")
def users_password_command(email: str, password: str) -> None:
    """The former name of `set-password`, kept for scripts."""
    _set_password(email, password)


@users_cli.command("sites")
@click.argument("email")
@click.option("--site", "sites", multiple=True, help="A site the user may see (repeatable).")
@click.option("--all", "every", is_flag=True, help="The user sees every site, those added later too.")
def users_sites_command(email: str, sites: tuple[str, ...], every: bool) -> None:
    """Choose the sites a user sees: those named with --site, or --all."""
    if every == bool(sites):
        raise click.UsageError("give --site NAME (repeatable) or --all")
    with db.new_session(current_app) as session:
        user = _user(session, email)
        set_sites(session, user, _sites_named(session, sites))
    click.echo(f"{email} sees {', '.join(sites) or 'every site'}.")


@users_cli.command("delete")
@click.argument("email")
@click.confirmation_option(prompt="Delete the dashboard user?")
def users_delete_command(email: str) -> None:
    """Remove a dashboard user; its sessions end on their next request."""
    with db.new_session(current_app) as session:
        delete_user(session, _user(session, email))
    click.echo(f"Deleted dashboard user {email}.")
