"""The `flask --app server` commands: sites, workflows, the outbox, dashboard users and the database schema."""
from __future__ import annotations

import json
import signal
import threading
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import db
from .automation import Worker
from .carts import MAX_RESETS, reconfigure, workflow_of
from .config import DEFAULT_PUBLIC_URL, parse_duration
from .dashboard.users import create_user
from .contacts import find_contact, normalise_email
from .models import Contact, OutboxEmail, Site, utcnow
from .privacy import erase_contact, export_contact
from .retention import prune_events
from .sites import by_name, create_site, snippet, tracking_status

sites_cli = AppGroup("sites", help="Create sites and print their tracking code.")
workflows_cli = AppGroup("workflows", help="Each site's abandoned-cart workflow.")
outbox_cli = AppGroup("outbox", help="Automation emails, sent or not.")
events_cli = AppGroup("events", help="Stored events.")
db_cli = AppGroup("db", help="The database schema.")
users_cli = AppGroup("users", help="Who may sign in to the dashboard.")
contacts_cli = AppGroup("contacts", help="A contact's data: export it, or erase it.")



def _site(session: Session, name: str) -> Site:
    site = by_name(session, name)
    if site is None:
        raise click.ClickException(f"no site named {name!r}")
    return site


@sites_cli.command("create")
@click.argument("name")
@click.option("--origin", "origins", multiple=True, help="An allowed origin, e.g. https://shop.example (repeatable).")
def create_command(name: str, origins: tuple[str, ...]) -> None:
    """Create a site; prints its client key (public) and api key (secret) last."""
    with db.new_session(current_app) as session:
        if by_name(session, name) is not None:
            raise click.ClickException(f"a site named {name!r} already exists")
        try:
            site = create_site(session, name, list(origins), current_app.config["CART_DELAY"])
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
        click.echo(snippet(_site(session, name), base))


@sites_cli.command("set")
@click.argument("name")
@click.option("--require-consent/--no-require-consent", "require_consent", default=None,
              help="The tracker sends nothing and sets no cookie until the page calls sendinblue.consent().")
@click.option("--respect-dnt/--no-respect-dnt", "respect_dnt", default=None,
              help="Browsers asking for Do-Not-Track (or Global Privacy Control) are not tracked.")
def sites_set_command(name: str, require_consent: bool | None, respect_dnt: bool | None) -> None:
    """Change a site's consent settings; its tracking code must then be pasted again."""
    with db.new_session(current_app) as session:
        site = _site(session, name)
        if require_consent is not None:
            site.require_consent = require_consent
        if respect_dnt is not None:
            site.respect_dnt = respect_dnt
        session.commit()
        click.echo(
            f"{name}: consent {'required' if site.require_consent else 'not required'}, "
            f"Do-Not-Track {'honoured' if site.respect_dnt else 'ignored'}. "
            f"Paste `flask --app server sites snippet {name}` again."
        )


@sites_cli.command("status")
@click.argument("name")
def status_command(name: str) -> None:
    """Print whether the site has received traffic in the last 24 hours."""
    with db.new_session(current_app) as session:
        click.echo(json.dumps(tracking_status(_site(session, name)), indent=2))


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def upgrade_command(revision: str) -> None:
    """Apply the Alembic migrations."""
    db.upgrade(db.engine(), revision)
    click.echo(f"Database at {revision}.")


@workflows_cli.command("set")
@click.argument("site_name")
@click.option("--delay", help="Inactivity before the email: seconds, or 90s, 15m, 2h.")
@click.option("--enable/--disable", "enabled", default=None, help="Turn the workflow on or off.")
@click.option("--reentry/--no-reentry", "reentry", default=None, help="Email again after a later update.")
@click.option("--max-resets", type=click.IntRange(min=0, max=MAX_RESETS), help="How often one cart's timer may be pushed back.")
@click.option("--subject", help="The email's subject.")
@click.option("--contact-period", help="At most one recovery email per contact in this period (0 for no limit).")
@click.option("--confirmed-only/--any-contact", "confirmed_only", default=None,
              help="Email only contacts a secret-key call has vouched for.")
def workflows_set_command(
    site_name: str,
    delay: str | None,
    enabled: bool | None,
    reentry: bool | None,
    max_resets: int | None,
    subject: str | None,
    contact_period: str | None,
    confirmed_only: bool | None,
) -> None:
    """Change a site's abandoned-cart workflow and print it."""
    with db.new_session(current_app) as session:
        workflow = workflow_of(session, _site(session, site_name).id)
        if delay is not None:
            workflow.delay_seconds = _duration(delay, "--delay")
        if contact_period is not None:
            workflow.contact_period_seconds = _duration(contact_period, "--contact-period")
        if confirmed_only is not None:
            workflow.confirmed_only = confirmed_only
        if enabled is not None:
            workflow.enabled = enabled
        if reentry is not None:
            workflow.reentry = reentry
        if max_resets is not None:
            workflow.max_resets = max_resets
        if subject is not None:
            workflow.subject = subject
        reconfigure(session, workflow)
        session.commit()
        click.echo(
            f"{site_name}: {'on' if workflow.enabled else 'off'}, delay {workflow.delay_seconds:g}s, "
            f"re-entry {'on' if workflow.reentry else 'off'}, at most {workflow.max_resets} resets, "
            f"subject {workflow.subject!r}, one email per contact per {workflow.contact_period_seconds:g}s, "
            f"{'confirmed contacts only' if workflow.confirmed_only else 'any contact'}"
        )


def _duration(text: str, option: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=option) from None


@click.command("worker")
def worker_command() -> None:
    """Run the automation worker until SIGTERM or Ctrl-C (it finishes the current email first)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo("Automation worker running; SIGTERM or Ctrl-C stops it.")
    Worker(current_app._get_current_object()).run(stop)  # type: ignore[attr-defined]
    click.echo("Automation worker stopped.")


@events_cli.command("prune")
@click.option("--older-than", "older_than", help="Age to keep: 90d, 2160h … (default SIBYL_RETENTION).")
def events_prune_command(older_than: str | None) -> None:
    """Delete events older than the retention period, in batches."""
    period = parse_duration(older_than) if older_than else current_app.config["RETENTION"]
    if not period:
        raise click.ClickException("no retention period: give --older-than or set SIBYL_RETENTION")
    with db.new_session(current_app) as session:
        deleted = prune_events(session, utcnow() - timedelta(seconds=period))
    click.echo(f"Deleted {deleted} events older than {period / 86400:g} days.")


@outbox_cli.command("list")
@click.option("--limit", default=20, show_default=True)
def outbox_list_command(limit: int) -> None:
    """The newest emails: id, status, attempts, recipient, subject."""
    with db.new_session(current_app) as session:
        rows = session.scalars(select(OutboxEmail).order_by(OutboxEmail.id.desc()).limit(limit))
        for row in rows:
            error = f"  ({row.last_error})" if row.last_error else ""
            click.echo(f"{row.id:>6}  {row.status:<8} {row.attempts}  {row.recipient}  {row.subject}{error}")


@outbox_cli.command("show")
@click.argument("outbox_id", type=int)
@click.option("--html", is_flag=True, help="Print the HTML part instead of the text part.")
def outbox_show_command(outbox_id: int, html: bool) -> None:
    """Print one email."""
    with db.new_session(current_app) as session:
        row = session.get(OutboxEmail, outbox_id)
        if row is None:
            raise click.ClickException(f"no email {outbox_id} in the outbox")
        click.echo(f"From: {row.sender}\nTo: {row.recipient}\nSubject: {row.subject}\nStatus: {row.status}\n")
        click.echo(row.html if html else row.text)


def _contact(session: Session, site_name: str, email: str) -> Contact:
    site = _site(session, site_name)
    contact = find_contact(session, site.id, normalise_email(email) or email)
    if contact is None:
        raise click.ClickException(f"no contact {email!r} in site {site_name!r}")
    return contact


@contacts_cli.command("export")
@click.argument("site_name")
@click.argument("email")
def contacts_export_command(site_name: str, email: str) -> None:
    """Print everything stored about a contact as JSON: attributes, browsers, events, carts, emails."""
    with db.new_session(current_app) as session:
        click.echo(json.dumps(export_contact(session, _contact(session, site_name, email)), indent=2, ensure_ascii=False))


@contacts_cli.command("delete")
@click.argument("site_name")
@click.argument("email")
@click.confirmation_option(prompt="Delete the contact with all its events, carts and emails?")
def contacts_delete_command(site_name: str, email: str) -> None:
    """Erase a contact with its events, carts, emails and browsers, in one transaction."""
    with db.new_session(current_app) as session:
        erase_contact(session, _contact(session, site_name, email))
    click.echo(f"Deleted {email} from {site_name}.")


@users_cli.command("create")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The password (asked for, hidden, when absent).")
def users_create_command(email: str, password: str) -> None:
    """Create a dashboard user who signs in with EMAIL and the password."""
    with db.new_session(current_app) as session:
        try:
            user = create_user(session, email, password)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"Created dashboard user {user.email}.")


def init_app(app: Flask) -> None:
    for command in (sites_cli, db_cli, workflows_cli, outbox_cli, events_cli, users_cli, contacts_cli, worker_command):
        app.cli.add_command(command)
