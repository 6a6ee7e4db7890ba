"""`flask bounces read MAILBOX`: the bounce mailbox's delivery status notifications and complaints applied."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from .. import db
from ..bounces.apply import Outcome, apply_report
from ..bounces.mailboxes import Imap, Maildir, Summary, parse_imap_url, read_mailbox
from ..bounces.reports import Report
from ..mail.bounce_address import BounceAddresses

bounces_cli = AppGroup("bounces", help="Bounces and complaints that come back to SIBYL_BOUNCE_ADDRESS.")


@bounces_cli.command("read")
@click.argument("mailbox")
def bounces_read_command(mailbox: str) -> None:
    """Apply the bounces and complaints in MAILBOX (a maildir path, or imaps://user:pass@host/FOLDER), removing
    each report read; messages that are no report stay. Hard bounces and complaints blacklist their contact."""
    addresses = BounceAddresses.of(current_app.config)
    with db.new_session(current_app) as session:

        def apply(report: Report) -> Outcome:
            return apply_report(session, report, addresses)

        try:
            if "://" in mailbox:
                with Imap(parse_imap_url(mailbox)) as box:
                    summary = read_mailbox(box, apply)
            else:
                summary = read_mailbox(Maildir(Path(mailbox)), apply)
        except (ValueError, OSError) as error:
            raise click.ClickException(str(error)) from None
    _print(summary)


def _print(summary: Summary) -> None:
    outcomes = summary.outcomes
    click.echo(
        f"{outcomes[Outcome.APPLIED]} applied, {outcomes[Outcome.DUPLICATE]} applied before, "
        f"{outcomes[Outcome.UNMATCHED]} about no email known here; {summary.removed} messages removed, "
        f"{summary.not_reports} that are no bounce or complaint left in the mailbox."
    )
