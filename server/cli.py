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
from .automation.carts import MAX_DELAY, MAX_PERIOD, MAX_RESETS, reconfigure, workflow_of
from .automation.worker import Worker
from .config import parse_duration
from .contacts.addresses import InvalidAddress, email_address
from .contacts.attributes import (
    NORMAL_TYPES,
    AttributeRefused,
    AttributeType,
    UnknownAttribute,
    category_of,
    create_attribute,
    delete_attribute,
    existing_attribute,
    site_attributes,
)
from .contacts.identity import contact_by_email
from .contacts.privacy import erase_contact, export_contact
from .contacts.retention import prune_events
from .dashboard.users import by_email, create_user, delete_user, granted_site_ids, set_password, set_sites
from .models import Contact, OutboxEmail, Site, User, utcnow
from .sites import SiteKey, by_name, create_site, email_hosts, normalise_host, rotate_key, snippet, tracking_status

sites_cli = AppGroup("sites", help="Create sites and print their tracking code.")
workflows_cli = AppGroup("workflows", help="Each site's abandoned-cart workflow.")
outbox_cli = AppGroup("outbox", help="Automation emails, sent or not.")
events_cli = AppGroup("events", help="Stored events.")
db_cli = AppGroup("db", help="The database schema.")
users_cli = AppGroup("users", help="Who may sign in to the dashboard.")
contacts_cli = AppGroup("contacts", help="A contact's data: export it, or erase it.")
attributes_cli = AppGroup("attributes", help="The contact attributes a site keeps (only these are stored on contacts).")


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
    base = (url or current_app.config["PUBLIC_URL"]).rstrip("/")
    with db.new_session(current_app) as session:
        click.echo(snippet(_site(session, name), base))


@sites_cli.command("set")
@click.argument("name")
@click.option("--require-consent/--no-require-consent", "require_consent", default=None,
              help="The tracker sends nothing and sets no cookie until the page calls sendinblue.consent().")
@click.option("--respect-dnt/--no-respect-dnt", "respect_dnt", default=None,
              help="Browsers asking for Do-Not-Track (or Global Privacy Control) are not tracked.")
@click.option("--email-hosts", "hosts",
              help="Hosts besides the origins' that emails may link to and show images from, comma-separated "
                   "('' for none).")
def sites_set_command(name: str, require_consent: bool | None, respect_dnt: bool | None, hosts: str | None) -> None:
    """Change a site's consent settings (its tracking code must then be pasted again) or its emails' hosts."""
    with db.new_session(current_app) as session:
        site = _site(session, name)
        if require_consent is not None:
            site.require_consent = require_consent
        if respect_dnt is not None:
            site.respect_dnt = respect_dnt
        if hosts is not None:
            try:
                site.email_hosts = sorted({normalise_host(host) for host in hosts.split(",") if host.strip()})
            except ValueError as error:
                raise click.BadParameter(str(error), param_hint="--email-hosts") from None
        session.commit()
        click.echo(
            f"{name}: consent {'required' if site.require_consent else 'not required'}, "
            f"Do-Not-Track {'honoured' if site.respect_dnt else 'ignored'}, "
            f"emails link to {', '.join(sorted(email_hosts(site))) or 'no host (name an origin or --email-hosts)'}."
        )
        if require_consent is not None or respect_dnt is not None:
            click.echo(f"Paste `flask --app server sites snippet {name}` again.")


@sites_cli.command("rotate-key")
@click.argument("name")
@click.option("--client", "which", flag_value="client", help="A new public client key (the snippet changes).")
@click.option("--api", "which", flag_value="api", default=True, help="A new secret api key (the default).")
def rotate_key_command(name: str, which: str) -> None:
    """Replace one of the site's keys; the old one stops working at once. Prints the new key last."""
    with db.new_session(current_app) as session:
        site = _site(session, name)
        new = rotate_key(session, site, SiteKey(which))
        if which == "client":
            click.echo(f"Paste `flask --app server sites snippet {name}` again: the old client key is refused now.")
        click.echo(f"{which}_key={new}")


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
@click.option("--max-resets", type=click.IntRange(min=0, max=MAX_RESETS),
              help="How often one cart's timer may be pushed back.")
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
            workflow.delay_seconds = _duration(delay, "--delay", MAX_DELAY, zero=False)
        if contact_period is not None:
            workflow.contact_period_seconds = _duration(contact_period, "--contact-period", MAX_PERIOD, zero=True)
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


def _duration(text: str, option: str, at_most: float, zero: bool) -> float:
    """The seconds `text` gives, at most `at_most`, and 0 only where `zero` allows it."""
    try:
        seconds = parse_duration(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=option) from None
    if seconds > at_most or (seconds == 0 and not zero):
        least = "0" if zero else "more than 0"
        raise click.BadParameter(f"{text!r}: from {least} to {at_most / 86400:g} days", param_hint=option)
    return seconds


@click.command("worker")
def worker_command() -> None:
    """Run the automation worker until SIGTERM or Ctrl-C (it finishes the current email first)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo("Automation worker running; SIGTERM or Ctrl-C stops it.")
    Worker(current_app._get_current_object()).run(stop)  # type: ignore[attr-defined]  # the app behind the proxy
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
    try:
        address = email_address(email)
    except InvalidAddress as error:
        raise click.ClickException(f"EMAIL: not a valid email address: {error}") from None
    contact = contact_by_email(session, site.id, address)
    if contact is None:
        raise click.ClickException(f"no contact {email!r} in site {site_name!r}")
    return contact


@contacts_cli.command("export")
@click.argument("site_name")
@click.argument("email")
def contacts_export_command(site_name: str, email: str) -> None:
    """Print everything stored about a contact as JSON: attributes, browsers, events, carts, emails."""
    with db.new_session(current_app) as session:
        document = export_contact(session, _contact(session, site_name, email))
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))


@contacts_cli.command("delete")
@click.argument("site_name")
@click.argument("email")
@click.confirmation_option(prompt="Delete the contact with all its events, carts and emails?")
def contacts_delete_command(site_name: str, email: str) -> None:
    """Erase a contact with its events, carts, emails and browsers, in one transaction."""
    with db.new_session(current_app) as session:
        erase_contact(session, _contact(session, site_name, email))
    click.echo(f"Deleted {email} from {site_name}.")


def _sites_named(session: Session, names: tuple[str, ...]) -> list[Site] | None:
    """The sites given by name, or None (every site) when none is named."""
    return [_site(session, name) for name in names] if names else None


def _user(session: Session, email: str) -> User:
    user = by_email(session, email)
    if user is None:
        raise click.ClickException(f"no dashboard user {email!r}")
    return user


def _access(site_ids: set[int] | None, names: dict[int, str]) -> str:
    return "every site" if site_ids is None else ", ".join(sorted(names[i] for i in site_ids)) or "no site"


@attributes_cli.command("list")
@click.argument("site_name")
def attributes_list_command(site_name: str) -> None:
    """Print the site's attributes, one a line: name, category, type."""
    with db.new_session(current_app) as session:
        for attribute in site_attributes(session, _site(session, site_name).id):
            click.echo(f"{attribute.name}\t{category_of(attribute).value}\t{attribute.type}")


@attributes_cli.command("create")
@click.argument("site_name")
@click.argument("name")
@click.option("--type", "kind", type=click.Choice([kind.value for kind in NORMAL_TYPES]),
              default=AttributeType.TEXT.value, show_default=True,
              help="What the attribute's values are; a value of another kind is left out.")
def attributes_create_command(site_name: str, name: str, kind: str) -> None:
    """Create an attribute: identify() calls and the APIs may then set it on contacts."""
    with db.new_session(current_app) as session:
        site = _site(session, site_name)
        try:
            attribute = create_attribute(session, site.id, name, AttributeType(kind))
        except AttributeRefused as refused:
            raise click.ClickException(str(refused)) from None
        click.echo(f"Created attribute {attribute.name} ({attribute.type}) in {site_name}.")


@attributes_cli.command("delete")
@click.argument("site_name")
@click.argument("name")
def attributes_delete_command(site_name: str, name: str) -> None:
    """Delete an attribute and remove its values from every contact of the site."""
    with db.new_session(current_app) as session:
        site = _site(session, site_name)
        try:
            attribute = existing_attribute(session, site.id, name, None)
        except UnknownAttribute:
            raise click.ClickException(f"no attribute {name!r} in site {site_name!r}") from None
        attribute_name = attribute.name
        cleared = delete_attribute(session, attribute)
    click.echo(f"Deleted attribute {attribute_name} from {site_name}; removed its values from {cleared} contacts.")


@users_cli.command("create")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The password (asked for, hidden, when absent).")
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
        for user in session.scalars(select(User).order_by(User.email)):
            click.echo(f"{user.email}  {_access(granted_site_ids(session, user), names)}")


@users_cli.command("password")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The new password (asked for, hidden, when absent).")
def users_password_command(email: str, password: str) -> None:
    """Set a user's password; its sessions signed in with the old one end."""
    with db.new_session(current_app) as session:
        try:
            set_password(session, _user(session, email), password)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"New password set for {email}; its other sessions are signed out.")


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


def init_app(app: Flask) -> None:
    commands = (
        sites_cli, db_cli, workflows_cli, outbox_cli, events_cli, users_cli, contacts_cli, attributes_cli,
        worker_command,
    )
    for command in commands:
        app.cli.add_command(command)
