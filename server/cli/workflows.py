"""`flask workflows …`, `flask worker` and `flask outbox …`: a site's workflows, their runs and figures, the
abandoned-cart settings, and the emails they write."""

from __future__ import annotations

import json
import signal
import threading
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
    """A workflow's runs, newest first: key, contact, state, group, step, started and due times."""
    with db.new_session(current_app) as session:
        definition = _named(session, site_name, name)
        rows = session.execute(
            select(Run, Contact.email)
            .outerjoin(Contact, Run.contact_id == Contact.id)
            .where(Run.workflow_id == definition.id)
            .order_by(Run.started_at.desc(), Run.id.desc())
            .limit(limit)
        ).all()
        runs = [_run_document(run, email) for run, email in rows]
    if as_json:
        click.echo(json.dumps({"runs": runs}))
        return
    for run in runs:
        click.echo(
            f"{run['id']:>7}  {run['state']:<8} {run['group']:<8} {run['step'] or '-':<20} "
            f"{run['contact'] or '(anonymous)'}  key={run['key']!r}  due {run['due_at'] or '-'}"
        )


def _run_document(run: Run, email: str | None) -> dict[str, Any]:
    return {
        "id": run.id,
        "key": run.key,
        "contact": email,
        "state": run.state,
        "group": "holdout" if run.holdout else "sent",
        "step": run.step,
        "started_at": run.started_at.isoformat(),
        "due_at": run.due_at.isoformat() if run.due_at else None,
    }


@workflows_cli.command("stats")
@click.argument("site_name")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help='Print {"groups": {...}, "lift": {...}} instead of a table.')
def workflows_stats_command(site_name: str, name: str, as_json: bool) -> None:
    """For runs that sent and held-out runs: runs, emails, conversions, revenue; and the lift of sending."""
    with db.new_session(current_app) as session:
        definition = _named(session, site_name, name)
        site = session.get_one(Site, definition.site_id)
        stats = workflow_stats(session, definition.id)
    document = stats.document()
    if as_json:
        click.echo(json.dumps(document))
        return
    click.echo(f"{'group':<8} {'runs':>8} {'emails':>8} {'conversions':>12} {'revenue':>12}")
    for group, figures in document["groups"].items():
        click.echo(
            f"{group:<8} {figures['runs']:>8} {figures['emails']:>8} {figures['conversions']:>12} "
            f"{site_money(site, figures['revenue']):>12}"
        )
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
