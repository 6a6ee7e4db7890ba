"""The sending setup tells the truth: `flask doctor`, the dashboard's Sending setup card and the automation page's
badge say whether emails really go out (mail server answering, a live worker that can send, a real sender domain,
the public URL, the secret key, DKIM); workers write their heartbeat; outgoing mail is DKIM-signed; passwords are
never shown."""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from sqlalchemy import insert, select

from server import create_app, db
from server.automation.heartbeats import BEAT_EVERY, FORGET_AFTER
from server.automation.worker import Worker
from server.email_templates.brand import sender_of, set_brand
from server.mail.outbox import Sender, outbox_row, queue
from server.mail.render import RenderedEmail
from server.models import Site, WorkerHeartbeat
from server.sending_setup.checks import Status, domain_problem

from .support.cli import cli, set_workflow
from .support.clock import Clock
from .support.dashboard import new_user, sign_in, text_of
from .support.databases import fresh_database_url
from .support.sites import new_site
from .support.smtp_sink import SmtpSink

PASSWORD = "s3cret-Pa55word"
USER = "mailer"
BRAND_SENDER = "news@shop.sibyl-mail.net"


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An app on a database of its own (no other test's workers in it), with `settings` on top; none of the sending
    setup comes from the environment."""
    for name in ("SIBYL_PUBLIC_URL", "SIBYL_SMTP_URL", "SIBYL_MAIL_FROM", "SIBYL_DKIM_KEY", "SIBYL_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    database_url = fresh_database_url(tmp_path)

    def make(**settings: Any) -> Flask:
        return create_app({"DATABASE_URL": database_url, "WORKER": "external", "SMTP_URL": None, **settings})

    return make


@pytest.fixture
def credentialed_sink() -> Any:
    sink = SmtpSink(credentials=(USER, PASSWORD))
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def dkim_key(tmp_path: Path) -> Path:
    """A fresh 2048-bit RSA key in a PEM file, as `openssl genrsa` writes one."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "dkim.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def doctor(app: Flask) -> tuple[int, dict[str, dict[str, Any]], str]:
    """`flask doctor --json`'s exit code and its checks by key, and the text `flask doctor` prints."""
    answer = cli(app, "doctor", "--json")
    checks = {check["key"]: check for check in json.loads(answer.output)["checks"]}
    return answer.exit_code, checks, cli(app, "doctor").output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_doctor_with_nothing_configured_lists_the_problems_and_exits_non_zero(make_app: Any) -> None:
    code, checks, printed = doctor(make_app())
    assert code == 1
    assert {key: check["status"] for key, check in checks.items()} == {
        "mail_server": "problem",
        "worker": "problem",
        "sender": "problem",
        "public_url": "problem",
        "secret_key": "ok",
        "dkim": "warning",
    }
    assert "SIBYL_SMTP_URL is not set" in checks["mail_server"]["found"]
    assert "make worker" in checks["worker"]["todo"] and "flask --app server worker" in checks["worker"]["todo"]
    assert "shop@localhost" in checks["sender"]["found"]
    assert "SIBYL_PUBLIC_URL is not set" in checks["public_url"]["found"]
    assert "several machines" in checks["secret_key"]["todo"]
    assert "SIBYL_DKIM_KEY" in checks["dkim"]["todo"]
    assert "PROBLEM  Mail server: SIBYL_SMTP_URL is not set" in printed
    assert "What to do: Start one beside the web app: `make worker`" in printed
    assert printed.rstrip().endswith("fix the problems above.")


def test_with_an_answering_mail_server_and_a_fresh_heartbeat_both_checks_are_ok(
    make_app: Any, credentialed_sink: SmtpSink
) -> None:
    app = make_app(SMTP_URL=credentialed_sink.url)
    Worker(app).run_pass()
    code, checks, printed = doctor(app)
    assert checks["mail_server"]["status"] == "ok", checks["mail_server"]
    assert checks["mail_server"]["found"] == (
        f"smtp://127.0.0.1:{credentialed_sink.port} (with a user name and password) answered: EHLO, AUTH."
    )
    assert checks["worker"]["status"] == "ok", checks["worker"]
    assert checks["worker"]["found"].startswith("1 worker running, last seen ")
    assert code == 1  # the sender and the public URL are still problems
    assert PASSWORD not in printed and PASSWORD not in json.dumps(checks)


def test_an_unreachable_mail_server_is_a_problem_with_what_to_do(make_app: Any) -> None:
    port = free_port()
    app = make_app(SMTP_URL=f"smtp://{USER}:{PASSWORD}@127.0.0.1:{port}")
    code, checks, printed = doctor(app)
    assert code == 1
    assert checks["mail_server"] == {
        "key": "mail_server",
        "name": "Mail server",
        "status": "problem",
        "found": f"Cannot connect to 127.0.0.1:{port}: Connection refused.",
        "todo": "Check the host and port, and that the mail server is running.",
    }
    assert PASSWORD not in printed


def test_a_refused_password_is_a_problem_and_is_never_shown(make_app: Any, credentialed_sink: SmtpSink) -> None:
    wrong = "not-the-" + PASSWORD
    app = make_app(SMTP_URL=f"smtp://{USER}:{wrong}@127.0.0.1:{credentialed_sink.port}")
    _, checks, printed = doctor(app)
    assert checks["mail_server"]["status"] == "problem"
    assert (
        checks["mail_server"]["found"]
        == f"127.0.0.1:{credentialed_sink.port} refused the user name and password (535)."
    )
    assert "Check them in SIBYL_SMTP_URL" in checks["mail_server"]["todo"]
    assert wrong not in printed and PASSWORD not in printed


def test_a_worker_without_a_mail_server_is_alive_but_cannot_send(make_app: Any) -> None:
    app = make_app()
    Worker(app).run_pass()
    _, checks, _ = doctor(app)
    assert checks["worker"]["status"] == "problem"
    assert "none has a mail server (SIBYL_SMTP_URL): the emails they write are held" in checks["worker"]["found"]


def test_a_worker_pass_writes_its_heartbeat_at_most_every_few_seconds_and_prunes_old_ones(
    make_app: Any, clock: Clock
) -> None:
    app = make_app()
    with db.new_session(app) as session:
        session.execute(
            insert(WorkerHeartbeat).values(
                id="gone:1:0",
                host="gone",
                pid=1,
                delivers=True,
                started_at=clock.now - FORGET_AFTER * 2,
                seen_at=clock.now - FORGET_AFTER - timedelta(minutes=1),
            )
        )
        session.commit()
    worker = Worker(app, clock=clock)
    started = clock.now
    worker.run_pass()

    def rows() -> list[WorkerHeartbeat]:
        with db.new_session(app) as session:
            return list(session.scalars(select(WorkerHeartbeat)))

    (row,) = rows()
    assert (row.host, row.pid, row.delivers) == (socket.gethostname()[:40], os.getpid(), False)
    assert row.id.startswith(f"{row.host}:{row.pid}:")
    assert row.started_at == started and row.seen_at == started
    clock.advance(BEAT_EVERY / 2)
    worker.run_pass()
    assert rows()[0].seen_at == started
    clock.advance(BEAT_EVERY)
    worker.run_pass()
    assert rows()[0].seen_at == clock.now
    assert len(rows()) == 1


def test_the_inline_worker_writes_its_heartbeat_with_the_first_request(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A web app running its own worker (SIBYL_WORKER=inline) is alive from its first request, that request's page
    included (the worker thread is kept from running here: its first write is the point)."""
    monkeypatch.setattr(Worker, "run", lambda self, stop: None)
    app = make_app(WORKER="inline")
    assert app.test_client().get("/healthz").status_code == 200
    _, checks, _ = doctor(app)
    assert checks["worker"]["status"] == "problem"  # alive, but without a mail server
    assert checks["worker"]["found"].startswith("1 worker running, last seen ")


def test_the_start_up_warnings_name_what_is_missing_without_the_network(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = f"smtp://{USER}:{PASSWORD}@127.0.0.1:{free_port()}"
    with caplog.at_level(logging.WARNING):
        make_app()
    said = [record.getMessage() for record in caplog.records]
    assert any(line.startswith("Mail server: SIBYL_SMTP_URL is not set") for line in said), said
    assert any(line.startswith("Automation worker: No automation worker") and "make worker" in line for line in said)
    assert any("SIBYL_PUBLIC_URL is not set" in line for line in said)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        make_app(SMTP_URL=unreachable, PUBLIC_URL="https://track.sibyl-mail.net")
    said = [record.getMessage() for record in caplog.records]
    assert not any(line.startswith(("Mail server", "Public URL")) for line in said), said  # no probe at start
    assert not any(PASSWORD in line for line in said)


def test_the_automation_page_shows_the_sending_setup_card(make_app: Any, credentialed_sink: SmtpSink) -> None:
    app = make_app(SMTP_URL=credentialed_sink.url)
    new_site(app, "card")
    with app.test_client() as client:
        page = sign_in(client, new_user(app)).get("/automation").get_data(as_text=True)
    assert "Sending setup" in text_of(page, "sending-setup-title")
    assert text_of(page, "check-mail_server").startswith("ok Mail server smtp://127.0.0.1:")
    assert text_of(page, "check-worker").startswith("problem Automation worker No automation worker")
    assert "make worker" in text_of(page, "check-worker")
    assert "<code>make worker</code>" in page
    assert text_of(page, "check-sender").startswith("problem Sender shop@localhost")
    assert text_of(page, "check-public_url").startswith("problem Public URL")
    assert text_of(page, "check-secret_key").startswith("ok Secret key")
    assert text_of(page, "check-dkim").startswith("warning DKIM")
    assert PASSWORD not in page


def test_the_automation_page_says_on_but_not_sending_until_a_mail_server_and_a_live_worker_are_there(
    make_app: Any, smtp_sink: SmtpSink
) -> None:
    without_smtp = make_app()
    site = new_site(without_smtp, "badge")
    set_workflow(without_smtp, site, "--enable")
    user = new_user(without_smtp)

    def badge(app: Flask) -> tuple[str, str]:
        with app.test_client() as client:
            page = sign_in(client, user).get(f"/automation?site={site.id}").get_data(as_text=True)
        return text_of(page, "workflow-status"), page

    status, page = badge(without_smtp)
    assert status == "On, but not sending: no mail server is set"
    assert '<a href="#sending-setup">no mail server is set</a>' in page
    with_smtp = make_app(SMTP_URL=smtp_sink.url)
    assert badge(with_smtp)[0] == "On, but not sending: no worker that can send is running"
    Worker(with_smtp).run_pass()
    assert badge(with_smtp)[0] == "On"


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("shop@localhost", "localhost has no dot: not a domain on the internet"),
        ("shop@127.0.0.1", "127.0.0.1 is an IP address, not a domain"),
        ("shop@[10.0.0.1]", "[10.0.0.1] is an IP address literal, not a domain"),
        ("Shop <shop@shop.example.com>", "shop.example.com is a reserved name: mail from it is refused or lost"),
        ("shop@example.org", "example.org is a reserved name: mail from it is refused or lost"),
        ("shop@mail.shop.test", "mail.shop.test is a reserved name: mail from it is refused or lost"),
        ("shop@printer.local", "printer.local is a reserved name: mail from it is refused or lost"),
        ("shop@x.invalid", "x.invalid is a reserved name: mail from it is refused or lost"),
        ("not an address", "not an email address"),
        ("Shop <shop@mail.sibyl-shop.com>", None),
        ("hello@exampleshop.com", None),
    ],
)
def test_a_sender_needs_a_real_domain(address: str, problem: str | None) -> None:
    assert domain_problem(address) == problem


def test_a_sites_own_sender_is_checked_too(make_app: Any) -> None:
    app = make_app(MAIL_FROM="Shop <shop@mail.sibyl-shop.com>")
    site = new_site(app, "brand")
    with db.new_session(app) as session:
        stored = session.get_one(Site, site.id)
        set_brand(stored, "sender_email", "news@shop.example.com")
        session.commit()
    _, checks, _ = doctor(app)
    assert checks["sender"]["status"] == Status.PROBLEM
    assert checks["sender"]["found"] == (
        f"Shop <news@shop.example.com> (site {site.name}): shop.example.com is a reserved name: mail from it is "
        "refused or lost."
    )


def test_outgoing_mail_is_dkim_signed_for_the_sites_own_sender_domain(
    make_app: Any, smtp_sink: SmtpSink, dkim_key: Path
) -> None:
    """An email from a site with its own sender goes out signed for that sender's domain (d=), with a Message-ID of
    that domain; dkimpy verifies it against the record `flask doctor --dkim-record` prints, and not once the body is
    changed."""
    app = make_app(SMTP_URL=smtp_sink.url, DKIM_KEY=str(dkim_key), MAIL_FROM="Shop <shop@mail.sibyl-shop.com>")
    site = new_site(app, "signed")
    with db.new_session(app) as session:
        stored = session.get_one(Site, site.id)
        set_brand(stored, "sender_email", BRAND_SENDER)
        row = outbox_row(
            Sender(str(app.config["MAIL_FROM"]), delivers=True),
            "test-dkim",
            site_id=site.id,
            cart_id=None,
            contact_id=None,
            recipient="anna@sibyl-inbox.net",
            rendered=RenderedEmail(subject="Your cart", html="<p>Still there</p>", text="Still there"),
            unsubscribe_url="https://track.sibyl-mail.net/unsubscribe/x",
            now=Clock().now,
            sender_address=sender_of(stored, str(app.config["MAIL_FROM"])),
        )
        queue(session, [row])
        session.commit()
    Worker(app).run_pass()
    (message,) = smtp_sink.wait_for(1)
    (raw,) = smtp_sink.raw
    domain = BRAND_SENDER.partition("@")[2]
    assert message["From"] == f"Shop <{BRAND_SENDER}>"
    assert message["Message-ID"].endswith(f"@{domain}>")
    signature = message["DKIM-Signature"]
    assert f"d={domain}" in signature and "s=sibyl" in signature
    assert "list-unsubscribe-post" in signature.lower()

    printed = cli(app, "doctor", "--dkim-record").output
    assert f"Name:  sibyl._domainkey.{domain}" in printed
    assert "Name:  sibyl._domainkey.mail.sibyl-shop.com" in printed  # the server's own sender's domain too
    (value,) = {line.removeprefix("Value: ") for line in printed.splitlines() if line.startswith("Value: ")}
    assert value.startswith("v=DKIM1; k=rsa; p=")

    def dns(name: bytes, timeout: float = 5) -> bytes | None:
        return value.encode() if name == f"sibyl._domainkey.{domain}.".encode() else None

    assert dkim.verify(raw, dnsfunc=dns)
    head, _, body = raw.partition(b"\r\n\r\n")
    tampered = head + b"\r\n\r\n" + body.replace(b"--=_sibyl", b"--=_SIBYL", 1)  # the body changed, not the head
    assert not dkim.verify(tampered, dnsfunc=dns)
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: None) is False


def test_a_dkim_key_that_cannot_be_read_is_a_problem_and_stops_the_worker(make_app: Any, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    app = make_app(DKIM_KEY=str(missing))
    _, checks, _ = doctor(app)
    assert checks["dkim"]["status"] == "problem"
    assert checks["dkim"]["found"] == f"SIBYL_DKIM_KEY={missing}: cannot read the file (No such file or directory)."
    with pytest.raises(ValueError, match="cannot read the file"):
        Worker(app)
