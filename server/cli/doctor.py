"""`flask doctor`: whether emails can really go out, each part of the sending setup with what to do; and the DKIM
key's DNS record."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from .. import db
from ..mail.dkim import DkimKeyError, DkimSigner
from ..models import Site, utcnow
from ..sending_setup.checks import Status, sender_domains, sending_checks

_MARKS = {Status.OK: "ok", Status.WARNING: "WARNING", Status.PROBLEM: "PROBLEM"}


@click.command("doctor")
@with_appcontext
@click.option("--json", "as_json", is_flag=True, help='Print {"ok": …, "checks": [...]} instead of lines.')
@click.option("--dkim-record", is_flag=True, help="Print the DNS record of the DKIM key (SIBYL_DKIM_KEY) and stop.")
def doctor_command(as_json: bool, dkim_record: bool) -> None:
    """Check the sending setup: mail server (contacted), worker, sender, public URL, secret key and DKIM. Exits
    non-zero when any is a problem."""
    with db.new_session(current_app) as session:
        sites = list(session.scalars(select(Site).order_by(Site.name)))
        if dkim_record:
            _print_dkim_records(sender_domains(str(current_app.config["MAIL_FROM"]), sites))
            return
        checks = sending_checks(current_app, session, sites, utcnow(), probe_max_age=0)
    healthy = all(check.status != Status.PROBLEM for check in checks)
    if as_json:
        click.echo(json.dumps({"ok": healthy, "checks": [check.as_dict() for check in checks]}, indent=2))
    else:
        click.echo("Sending setup")
        for check in checks:
            click.echo(f"  {_MARKS[check.status]:<8} {check.name}: {check.found}")
            if check.todo:
                click.echo(f"  {'':<8} What to do: {check.todo}")
        click.echo("Emails can go out." if healthy else "Emails cannot go out as things are: fix the problems above.")
    if not healthy:
        raise SystemExit(1)


def _print_dkim_records(domains: list[str]) -> None:
    """Each sender domain's TXT record for the configured key."""
    key_path = current_app.config["DKIM_KEY"]
    if not key_path:
        raise click.ClickException(
            "SIBYL_DKIM_KEY is not set: generate a key first (`openssl genrsa -out dkim.pem 2048`), see "
            "docs/deliverability.md"
        )
    try:
        signer = DkimSigner.load(str(key_path), str(current_app.config["DKIM_SELECTOR"]))
    except DkimKeyError as error:
        raise click.ClickException(str(error)) from None
    for domain in domains:
        click.echo(f"Name:  {signer.record_name(domain)}\nType:  TXT\nValue: {signer.record()}\n")
    click.echo("A zone file takes the value in quoted strings of at most 255 characters each; web forms take it whole.")
