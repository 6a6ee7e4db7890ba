"""Each check of the sending setup: its status, what it found and what to do; all of them for the doctor and the
dashboard, and the cheap ones (no network) logged as warnings when the app starts."""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

import click
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .. import config, db
from ..automation.heartbeats import alive_within, alive_workers, last_seen
from ..email_templates.brand import sender_of
from ..mail.dkim import DkimKeyError, DkimSigner, domain_of
from ..mail.smtp import SmtpSettings, parse_smtp_url
from ..models import Site, utcnow
from .smtp_probe import ProbeResult, probe, shown

START_WORKER = "Start one beside the web app: `make worker` (or `flask --app server worker`); `make serve` starts none."
DELIVERABILITY = "docs/deliverability.md"
# Names that never reach a mailbox on the internet (RFC 2606, RFC 6761, RFC 6762, RFC 8375, and the usual private ones).
_RESERVED = (
    *("localhost", "localdomain", "test", "example", "invalid", "local", "internal", "lan", "home.arpa"),
    *("example.com", "example.net", "example.org"),
)
_probes: dict[str, tuple[float, ProbeResult]] = {}  # the dashboard's recent probes, by SMTP URL


class Status(StrEnum):
    """Ok; a warning (emails go out, but less well or less safely); a problem (emails do not go out, or go wrong)."""

    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"


@dataclass(frozen=True)
class Check:
    """One part of the sending setup: what was found, and what to do (also for an ok part, where advice helps)."""

    key: str
    name: str
    status: Status
    found: str
    todo: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"key": self.key, "name": self.name, "status": self.status, "found": self.found, "todo": self.todo}


def mail_server_check(smtp_url: str | None, probe_max_age: float | None) -> Check:
    """SIBYL_SMTP_URL set and valid; with `probe_max_age`, answering too (a probe at most that many seconds old:
    0 for a fresh one). None checks the setting only, without the network."""
    name = "Mail server"
    if not smtp_url:
        return Check(
            "mail_server",
            name,
            Status.PROBLEM,
            "SIBYL_SMTP_URL is not set: emails are written to the outbox and held there, never sent.",
            "Set SIBYL_SMTP_URL=smtp://USER:PASSWORD@HOST:587?starttls=1 (or smtps://…:465) where the web app and "
            "the workers run, then restart them.",
        )
    try:
        settings = parse_smtp_url(smtp_url)
    except ValueError as error:  # its message never repeats the password
        return Check("mail_server", name, Status.PROBLEM, f"{error}.", "Correct SIBYL_SMTP_URL.")
    if probe_max_age is None:
        return Check("mail_server", name, Status.OK, f"{shown(settings)} is set.")
    result = _probe(smtp_url, settings, probe_max_age)
    status = Status.OK if not result.trouble else Status.PROBLEM if result.serious else Status.WARNING
    return Check("mail_server", name, status, result.found, result.todo)


def _probe(smtp_url: str, settings: SmtpSettings, max_age: float) -> ProbeResult:
    """A probe of the server, or the last one of this process when it is at most `max_age` seconds old (a page shown
    often does not open a connection each time)."""
    earlier = _probes.get(smtp_url)
    if earlier is not None and time.monotonic() - earlier[0] <= max_age:
        return earlier[1]
    result = probe(settings)
    _probes[smtp_url] = (time.monotonic(), result)
    return result


def worker_check(session: Session, now: datetime, within: timedelta) -> Check:
    """A worker seen within `within` (its heartbeat), and whether the live ones can send."""
    name = "Automation worker"
    alive = alive_workers(session, now, within)
    if not alive:
        seen = last_seen(session)
        when = f"; the last one was seen {_ago(now - seen)} ago" if seen is not None else ""
        return Check(
            "worker",
            name,
            Status.PROBLEM,
            f"No automation worker has been seen in the last {_ago(within)}{when}: no workflow advances, no email "
            "is written or sent.",
            START_WORKER,
        )
    running = (
        f"{len(alive)} worker{'s' if len(alive) > 1 else ''} running, last seen {_ago(now - alive[0].seen_at)} ago"
    )
    mute = [worker for worker in alive if not worker.delivers]
    if len(mute) == len(alive):
        return Check(
            "worker",
            name,
            Status.PROBLEM,
            f"{running}; none has a mail server (SIBYL_SMTP_URL): the emails they write are held.",
            "Set SIBYL_SMTP_URL where the workers run, and restart them.",
        )
    if mute:
        hosts = ", ".join(sorted({f"{worker.host} (pid {worker.pid})" for worker in mute}))
        return Check(
            "worker",
            name,
            Status.WARNING,
            f"{running}; {hosts} has no mail server (SIBYL_SMTP_URL): the emails it writes are held.",
            "Set SIBYL_SMTP_URL there too, and restart it.",
        )
    return Check("worker", name, Status.OK, f"{running}; each can send.")


def senders(mail_from: str, sites: Sequence[Site]) -> dict[str, list[str]]:
    """Each From address emails go out with, and whose it is: the server's (SIBYL_MAIL_FROM) and each site's own."""
    found: dict[str, list[str]] = {mail_from: ["SIBYL_MAIL_FROM"]}
    for site in sites:
        found.setdefault(sender_of(site, mail_from), []).append(f"site {site.name}")
    return found


def domain_problem(address: str) -> str | None:
    """Why the address's domain is not one mail on the internet can come from, or None when it can be."""
    domain = domain_of(address).rstrip(".")
    if not domain:
        return "not an email address"
    if domain.startswith("["):
        return f"{domain} is an IP address literal, not a domain"
    try:
        ipaddress.ip_address(domain)
    except ValueError:
        pass
    else:
        return f"{domain} is an IP address, not a domain"
    if "." not in domain:
        return f"{domain} has no dot: not a domain on the internet"
    if any(domain == name or domain.endswith(f".{name}") for name in _RESERVED):
        return f"{domain} is a reserved name: mail from it is refused or lost"
    return None


def sender_check(mail_from: str, sites: Sequence[Site]) -> Check:
    """Each sender's domain is a real one: not localhost, an IP, a name without a dot or a reserved name."""
    name = "Sender"
    wrong = [
        f"{address} ({', '.join(owners)}): {problem}"
        for address, owners in senders(mail_from, sites).items()
        if (problem := domain_problem(address)) is not None
    ]
    if wrong:
        return Check(
            "sender",
            name,
            Status.PROBLEM,
            "; ".join(wrong) + ".",
            "Set SIBYL_MAIL_FROM to an address at a domain you own (e.g. shop@mail.yourshop.com), and each site's own "
            "sender on its Site page; then publish SPF and DKIM for that domain (" + DELIVERABILITY + ").",
        )
    addresses = ", ".join(senders(mail_from, sites))
    return Check("sender", name, Status.OK, f"Emails are from {addresses}.")


def public_url_check(public_url: str) -> Check:
    """SIBYL_PUBLIC_URL set, and https."""
    name = "Public URL"
    if (warning := config.public_url_warning(public_url)) is not None:
        return Check(
            "public_url",
            name,
            Status.PROBLEM,
            warning + ".",
            "Set SIBYL_PUBLIC_URL=https://… (as browsers reach this server) for the web app and the workers.",
        )
    if not public_url.startswith("https://"):
        return Check(
            "public_url",
            name,
            Status.WARNING,
            f"{public_url} is plain http: links in emails and the tracking code are not encrypted, and many mail "
            "providers distrust them.",
            "Serve it over https behind a proxy (docs/deployment.md) and set SIBYL_PUBLIC_URL=https://….",
        )
    return Check("public_url", name, Status.OK, f"Links point at {public_url}.")


def secret_key_check(app: Flask) -> Check:
    """The secret key, which signs every link in emails, stays the same across restarts (and machines)."""
    name = "Secret key"
    if os.environ.get("SIBYL_SECRET_KEY", "").strip():
        return Check("secret_key", name, Status.OK, "Set by SIBYL_SECRET_KEY.")
    key_file = Path(app.instance_path) / config.SECRET_KEY_FILE
    if key_file.exists() and key_file.read_text().strip() == app.config["SECRET_KEY"]:
        return Check(
            "secret_key",
            name,
            Status.OK,
            f"Kept in {key_file}: the same across restarts on this machine.",
            "Running the web app or workers on several machines? Set SIBYL_SECRET_KEY to the same long random value "
            "on each, or links in emails stop working.",
        )
    return Check("secret_key", name, Status.OK, "Set by the app's configuration.")


def dkim_check(key_path: str | None, selector: str, domains: Sequence[str]) -> Check:
    """A DKIM key configured and readable; the DNS records it needs."""
    name = "DKIM"
    if not key_path:
        return Check(
            "dkim",
            name,
            Status.WARNING,
            "Emails are not DKIM-signed: many inboxes file unsigned mail as spam, and DMARC cannot pass without it.",
            "Generate a key, set SIBYL_DKIM_KEY to its file and publish its DNS record: "
            f"{DELIVERABILITY}; `flask --app server doctor --dkim-record` prints the record.",
        )
    try:
        signer = DkimSigner.load(key_path, selector)
    except DkimKeyError as error:
        return Check(
            "dkim",
            name,
            Status.PROBLEM,
            f"{error}.",
            "Point SIBYL_DKIM_KEY at a readable RSA private key: `openssl genrsa -out dkim.pem 2048`.",
        )
    records = ", ".join(signer.record_name(domain) for domain in domains)
    return Check(
        "dkim",
        name,
        Status.OK,
        f"Signing with a {signer.bits}-bit key, selector {selector}; the TXT record{'s' if len(domains) > 1 else ''} "
        f"needed: {records}.",
        "`flask --app server doctor --dkim-record` prints the record's value.",
    )


def sender_domains(mail_from: str, sites: Sequence[Site]) -> list[str]:
    """The domains emails are signed for: each sender's."""
    return sorted({domain for address in senders(mail_from, sites) if (domain := domain_of(address))})


def sending_checks(
    app: Flask, session: Session, sites: Sequence[Site], now: datetime, probe_max_age: float
) -> list[Check]:
    """Every check, in the order a newcomer fixes them; the mail server probed (at most `probe_max_age` seconds ago)."""
    mail_from = str(app.config["MAIL_FROM"])
    return [
        mail_server_check(app.config["SMTP_URL"], probe_max_age),
        worker_check(session, now, _alive_within(app)),
        sender_check(mail_from, sites),
        public_url_check(str(app.config["PUBLIC_URL"])),
        secret_key_check(app),
        dkim_check(app.config["DKIM_KEY"], str(app.config["DKIM_SELECTOR"]), sender_domains(mail_from, sites)),
    ]


def not_sending_reason(app: Flask, session: Session, now: datetime) -> str | None:
    """Why workflows that are on send nothing, from the cheap checks (no mail server set, no live worker that can
    send); None when both are there."""
    if not app.config["SMTP_URL"]:
        return "no mail server is set"
    if not any(worker.delivers for worker in alive_workers(session, now, _alive_within(app))):
        return "no worker that can send is running"
    return None


def start_warnings(app: Flask) -> list[Check]:
    """The cheap checks that are not ok, at start: no network. The worker is looked for only by a web app that runs
    none itself (SIBYL_WORKER other than inline; not a `flask` command, such as `flask worker` itself), and only
    once the schema is there."""
    checks = [
        mail_server_check(app.config["SMTP_URL"], None),
        public_url_check(str(app.config["PUBLIC_URL"])),
        secret_key_check(app),
    ]
    if app.config["WORKER"] != "inline" and click.get_current_context(silent=True) is None:
        try:
            with db.new_session(app) as session:
                checks.insert(1, worker_check(session, utcnow(), _alive_within(app)))
        except SQLAlchemyError:  # not migrated yet (`flask db upgrade` comes first): nothing to tell about workers
            pass
    return [check for check in checks if check.status != Status.OK]


def log_start_warnings(app: Flask) -> None:
    """Log a warning for each part of the sending setup found wrong at start (the cheap checks: no network)."""
    for check in start_warnings(app):
        app.logger.warning("%s: %s %s", check.name, check.found, check.todo or "")


def _alive_within(app: Flask) -> timedelta:
    return alive_within(float(app.config["WORKER_POLL"]), float(app.config["WORKER_LEASE"]))


def _ago(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
