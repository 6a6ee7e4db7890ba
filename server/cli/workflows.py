"""`flask workflows set`, `flask worker` and `flask outbox …`: the abandoned-cart automation and its emails."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .. import db
from ..automation.carts import MAX_DELAY, MAX_PERIOD, MAX_RESETS, reconfigure, workflow_of
from ..automation.worker import Worker
from ..config import parse_duration
from ..models import OutboxEmail
from .sites import site_named

workflows_cli = AppGroup("workflows", help="Each site's abandoned-cart workflow.")
outbox_cli = AppGroup("outbox", help="Automation emails, sent or not.")


@workflows_cli.command("set")
@click.argument("site_name")
@click.option("--delay", help="Inactivity before the email: seconds, or 90s, 15m, 2h.")
@click.option("--enable/--disable", "enabled", default=None, help="Turn the workflow on or off.")
@click.option("--reentry/--no-reentry", "reentry", default=None, help="Email again after a later update.")
@click.option(
    "--max-resets", type=click.IntRange(min=0, max=MAX_RESETS), help="How often one cart's timer may be pushed back."
)
@click.option("--subject", help="The email's subject.")
@click.option("--contact-period", help="At most one recovery email per contact in this period (0 for no limit).")
@click.option(
    "--confirmed-only/--any-contact",
    "confirmed_only",
    default=None,
    help="Email only contacts a secret-key call has vouched for.",
)
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
        workflow = workflow_of(session, site_named(session, site_name).id)
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
