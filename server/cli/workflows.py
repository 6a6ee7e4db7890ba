"""`flask workflows …`, `flask worker` and `flask outbox …`: a site's workflows, their runs and figures, the
abandoned-cart settings, and the emails they write."""

from __future__ import annotations

import json
import signal
import threading
from datetime import timedelta
from typing import Any, TextIO

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .. import db
from ..automation.carts import MAX_DELAY, MAX_PERIOD, MAX_RESETS, workflow_of
from ..automation.definitions import DefinitionError
from ..automation.library import (
    cart_settings_changed,
    definition_of,
    import_workflow,
    set_enabled,
    workflow_named,
    workflows_of,
)
from ..automation.stats import workflow_stats
from ..automation.worker import Worker
from ..email_templates.money import site_money
from ..mail.dkim import DkimKeyError
from ..mail.outbox import HELD_WORDS, RELEASE_MAX_AGE, OutboxStatus, newest_statuses, release_held
from ..models import Contact, OutboxEmail, Run, Site, WorkflowDefinition, utcnow
from .options import duration_option
from .sites import site_named

workflows_cli = AppGroup("workflows", help="Each site's workflows: import, export, list, runs, stats, on and off.")
RUNS_SHOWN = 1000
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
@click.option(
    "--contact-period",
    help="At most one automation email per contact in this period, across all workflows (0 for no limit); "
    "the same as `sites set --email-period`.",
)
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
        site = site_named(session, site_name)
        workflow = workflow_of(session, site.id)
        old_delay = workflow.delay_seconds
        if delay is not None:
            workflow.delay_seconds = duration_option(delay, "--delay", MAX_DELAY, zero=False)
        if contact_period is not None:
            workflow.contact_period_seconds = duration_option(contact_period, "--contact-period", MAX_PERIOD, zero=True)
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
        cart_settings_changed(session, site, workflow, old_delay, utcnow())
        session.commit()
        click.echo(
            f"{site_name}: {'on' if workflow.enabled else 'off'}, delay {workflow.delay_seconds:g}s, "
            f"re-entry {'on' if workflow.reentry else 'off'}, at most {workflow.max_resets} resets, "
            f"subject {workflow.subject!r}, one email per contact per {workflow.contact_period_seconds:g}s, "
            f"{'confirmed contacts only' if workflow.confirmed_only else 'any contact'}"
        )


@click.command("worker")
def worker_command() -> None:
    """Run the automation worker until SIGTERM or Ctrl-C (it finishes the current email first)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        worker = Worker(current_app._get_current_object())  # type: ignore[attr-defined]  # the app behind the proxy
    except DkimKeyError as error:
        raise click.ClickException(str(error)) from None
    click.echo("Automation worker running; SIGTERM or Ctrl-C stops it.")
    worker.run(stop)
    click.echo("Automation worker stopped.")


@outbox_cli.command("list")
@click.option("--site", "site_name", help="Only this site's emails.")
@click.option("--status", type=click.Choice([status.value for status in OutboxStatus]), help="Only emails in it.")
@click.option("--limit", default=20, show_default=True)
def outbox_list_command(site_name: str | None, status: str | None, limit: int) -> None:
    """The newest emails: id, status, attempts, recipient, subject."""
    with db.new_session(current_app) as session:
        query = select(OutboxEmail).order_by(OutboxEmail.id.desc()).limit(limit)
        if site_name is not None:
            query = query.where(OutboxEmail.site_id == site_named(session, site_name).id)
        if status is not None:
            query = query.where(OutboxEmail.status == status)
        rows = list(session.scalars(query))
        if not rows:
            which = f"{status} " if status else ""
            click.echo(f"No {which}emails in the outbox{f' of {site_name}' if site_name else ''}.")
        for row in rows:
            error = f"  ({row.last_error})" if row.last_error else ""
            held = f"  ({HELD_WORDS})" if row.status == OutboxStatus.HELD else ""
            click.echo(f"{row.id:>6}  {row.status:<9} {row.attempts}  {row.recipient}  {row.subject}{held}{error}")


@outbox_cli.command("show")
@click.argument("outbox_id", type=int)
@click.option("--html", "part", flag_value="html", help="Print the HTML part alone.")
@click.option("--text", "part", flag_value="text", help="Print the text part alone.")
def outbox_show_command(outbox_id: int, part: str | None) -> None:
    """Print one email: its headers and text part, or only the part asked for."""
    with db.new_session(current_app) as session:
        row = session.get(OutboxEmail, outbox_id)
        if row is None:
            raise click.ClickException(f"no email {outbox_id} in the outbox")
        if part is not None:
            click.echo(row.html if part == "html" else row.text, nl=False)
            return
        status = f"{row.status} ({HELD_WORDS})" if row.status == OutboxStatus.HELD else row.status
        click.echo(f"From: {row.sender}\nTo: {row.recipient}\nSubject: {row.subject}\nStatus: {status}\n")
        click.echo(row.text)


@outbox_cli.command("release")
@click.option("--site", "site_name", help="Only this site's held emails (default: every site's).")
@click.option(
    "--max-age",
    default=f"{RELEASE_MAX_AGE.days}d",
    show_default=True,
    help="Emails held longer than this are cancelled, not sent (0: send them however old).",
)
def outbox_release_command(site_name: str | None, max_age: str) -> None:
    """Send the emails held while no mail server was set: the worker's next pass delivers them."""
    if not current_app.config["SMTP_URL"]:
        raise click.ClickException(
            "no mail server is set: set SIBYL_SMTP_URL (for this command and the worker) before releasing held emails"
        )
    seconds = duration_option(max_age, "--max-age", MAX_PERIOD, zero=True)
    with db.new_session(current_app) as session:
        site_id = site_named(session, site_name).id if site_name is not None else None
        done = release_held(session, utcnow(), site_id, timedelta(seconds=seconds) if seconds else None)
        session.commit()
    click.echo(f"Released {done.released} held emails: the worker sends them on its next pass.")
    if done.stale or done.changed:
        click.echo(
            f"Cancelled {done.stale} held longer than {max_age} and {done.changed} whose cart changed meanwhile."
        )


@workflows_cli.command("import")
@click.argument("site_name")
@click.argument("file", type=click.File("r"))
def workflows_import_command(site_name: str, file: TextIO) -> None:
    """Create the workflow FILE names, or replace its definition (waiting runs go on where their step still is)."""
    try:
        raw = json.load(file)
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{file.name}: not JSON ({error})") from None
    with db.new_session(current_app) as session:
        site = site_named(session, site_name)
        try:
            imported = import_workflow(session, site, raw, utcnow())
        except DefinitionError as error:
            raise click.ClickException(f"{file.name}: {error}") from None
        session.commit()
        name = imported.definition.name
        if imported.created:
            click.echo(f"{site_name}: created workflow {name!r}.")
        else:
            click.echo(f"{site_name}: replaced workflow {name!r}; {imported.exited} waiting runs lost their step.")
        click.echo(f"workflow={name}")


@workflows_cli.command("export")
@click.argument("site_name")
@click.argument("name")
def workflows_export_command(site_name: str, name: str) -> None:
    """Print a workflow's JSON document."""
    with db.new_session(current_app) as session:
        definition = _named(session, site_name, name)
        click.echo(json.dumps(definition.document, indent=2, ensure_ascii=False))


@workflows_cli.command("list")
@click.argument("site_name")
def workflows_list_command(site_name: str) -> None:
    """The site's workflows: on or off, what starts them, and their waiting runs."""
    with db.new_session(current_app) as session:
        site = site_named(session, site_name)
        for definition in workflows_of(session, site.id):
            workflow = definition_of(definition)
            waiting = sum(counts.waiting for counts in workflow_stats(session, definition.id).counts.values())
            trigger = workflow.trigger.model_dump(mode="json", by_alias=True, exclude={"per", "where"})
            click.echo(
                f"{definition.name}\t{'on' if definition.enabled else 'off'}\t"
                f"{json.dumps(trigger)} per {workflow.trigger.per}\t{waiting} waiting"
            )


@workflows_cli.command("enable")
@click.argument("site_name")
@click.argument("name")
def workflows_enable_command(site_name: str, name: str) -> None:
    """Turn a workflow on: runs start again, and waiting runs go on."""
    _switch(site_name, name, True)


@workflows_cli.command("disable")
@click.argument("site_name")
@click.argument("name")
def workflows_disable_command(site_name: str, name: str) -> None:
    """Turn a workflow off: no run starts and no step runs until it is on again."""
    _switch(site_name, name, False)


def _switch(site_name: str, name: str, enabled: bool) -> None:
    with db.new_session(current_app) as session:
        site = site_named(session, site_name)
        definition = _named(session, site_name, name)
        set_enabled(session, site, definition, enabled, utcnow())
        session.commit()
        click.echo(f"{site_name}: workflow {name!r} {'on' if enabled else 'off'}.")


@workflows_cli.command("runs")
@click.argument("site_name")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help='Print {"runs": [...]} instead of lines.')
@click.option("--limit", default=RUNS_SHOWN, show_default=True, help="The newest runs shown.")
def workflows_runs_command(site_name: str, name: str, as_json: bool, limit: int) -> None:
    """A workflow's runs, newest first: key, contact, state, group, step, started and due times, and what became of
    its newest email (sent, pending, held for want of a mail server, failed, cancelled)."""
    with db.new_session(current_app) as session:
        definition = _named(session, site_name, name)
        rows = session.execute(
            select(Run, Contact.email)
            .outerjoin(Contact, Run.contact_id == Contact.id)
            .where(Run.workflow_id == definition.id)
            .order_by(Run.started_at.desc(), Run.id.desc())
            .limit(limit)
        ).all()
        statuses = newest_statuses(session, [run.id for run, _ in rows])
        runs = [_run_document(run, email, statuses.get(run.id)) for run, email in rows]
    if as_json:
        click.echo(json.dumps({"runs": runs}))
        return
    for run in runs:
        email = HELD_WORDS if run["email"] == OutboxStatus.HELD else run["email"]
        click.echo(
            f"{run['id']:>7}  {run['state']:<8} {run['group']:<8} {run['step'] or '-':<20} "
            f"{run['contact'] or '(anonymous)'}  key={run['key']!r}  due {run['due_at'] or '-'}"
            + (f"  email: {email}" if email else "")
        )


def _run_document(run: Run, email: str | None, email_status: str | None) -> dict[str, Any]:
    """A run as `workflows runs --json` writes it; `email`: its newest email's status (held: no mail server)."""
    return {
        "id": run.id,
        "key": run.key,
        "contact": email,
        "state": run.state,
        "group": "holdout" if run.holdout else "sent",
        "step": run.step,
        "started_at": run.started_at.isoformat(),
        "due_at": run.due_at.isoformat() if run.due_at else None,
        "email": email_status,
    }


@workflows_cli.command("stats")
@click.argument("site_name")
@click.argument("name")
@click.option(
    "--json", "as_json", is_flag=True, help='Print {"groups": {...}, "steps": {...}, "lift": {...}} instead of a table.'
)
def workflows_stats_command(site_name: str, name: str, as_json: bool) -> None:
    """For runs that sent and held-out runs: runs, emails (and of those, held for want of a mail server, delivered,
    bounced and complained about), the people who opened, clicked and unsubscribed, conversions, revenue; the same
    per email step, with the conversions after its email as the run's last; and the lift of sending."""
    with db.new_session(current_app) as session:
        definition = _named(session, site_name, name)
        site = session.get_one(Site, definition.site_id)
        stats = workflow_stats(session, definition.id)
    document = stats.document()
    if as_json:
        click.echo(json.dumps(document))
        return
    click.echo(f"{'group':<8} {'runs':>8} {'emails':>8} {'held':>8} {'conversions':>12} {'revenue':>12}")
    for group, figures in document["groups"].items():
        click.echo(
            f"{group:<8} {figures['runs']:>8} {figures['emails']:>8} {figures['held']:>8} "
            f"{figures['conversions']:>12} {site_money(site, figures['revenue']):>12}"
        )
    sent = document["groups"]["sent"]
    click.echo(
        f"{sent['delivered']} delivered, opened by {sent['opened']}, clicked by {sent['clicked']} "
        f"(people, not link scanners), {sent['unsubscribed']} unsubscribed"
    )
    for path, figures in document["steps"].items():
        click.echo(
            f"{path}: {figures['emails']} emails, {figures['delivered']} delivered, opened by {figures['opened']}, "
            f"clicked by {figures['clicked']} (people, not link scanners), {figures['unsubscribed']} unsubscribed, "
            f"{figures['converted']} converted after it as their last email ({site_money(site, figures['revenue'])})"
        )
    if sent["held"]:
        click.echo(f"held: {sent['held']} of the emails never left ({HELD_WORDS}); `flask outbox release` sends them")
    if sent["bounced"] or sent["complained"]:
        click.echo(f"came back: {sent['bounced']} bounced for good, {sent['complained']} drew complaints")
    measured = document["lift"]
    if measured is None:
        click.echo("lift: not measured yet (both groups need runs; set a holdout to have a control group)")
    else:
        click.echo(f"lift: {measured['value']:+.1%} (95 % interval {measured['low']:+.1%} to {measured['high']:+.1%})")


def _named(session: Any, site_name: str, name: str) -> WorkflowDefinition:
    site = site_named(session, site_name)
    definition = workflow_named(session, site.id, name)
    if definition is None:
        raise click.ClickException(f"site {site_name!r} has no workflow named {name!r}")
    return definition
