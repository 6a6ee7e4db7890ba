"""The `flask --app server sites` and `users` commands: once from a shell as a user runs them, then through Flask's
CLI runner."""

from __future__ import annotations

import shlex
import uuid
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from server import create_app, db
from server.config import DEFAULT_PUBLIC_URL
from server.models import Base, Contact, Event, OutboxEmail
from server.sites import by_name

from .support.cli import cli, flask
from .support.dashboard import PASSWORD, new_user, sign_in, text_of
from .support.databases import fresh_database_url


@pytest.mark.slow  # three processes, each importing the app
def test_sites_create_prints_both_keys_last_and_snippet_points_here(database_url: str) -> None:
    """A real process: the exit codes a shell sees, the keys on stdout, the refusal on stderr."""
    name = f"shop-{uuid.uuid4().hex[:6]}"
    created = flask(database_url, "sites", "create", name, "--origin", "https://shop.example/")
    assert created.returncode == 0, created.stderr
    last_two = created.stdout.strip().splitlines()[-2:]
    assert last_two[0].startswith("client_key=") and last_two[1].startswith("api_key=")
    client_key = last_two[0].split("=", 1)[1]
    code = flask(database_url, "sites", "snippet", name, "--url", "https://track.example")
    assert code.returncode == 0, code.stderr
    assert f'client_key: "{client_key}"' in code.stdout
    assert '"https://track.example/sa.js"' in code.stdout
    assert "window.sendinblue.page()" in code.stdout
    again = flask(database_url, "sites", "create", name)
    assert again.returncode != 0 and "already exists" in again.stderr


def test_a_bad_origin_is_refused(app: Flask) -> None:
    result = cli(app, "sites", "create", f"shop-{uuid.uuid4().hex[:6]}", "--origin", "shop.example")
    assert result.exit_code != 0 and "origin" in result.stderr


def test_sites_set_puts_the_consent_settings_into_the_snippet(app: Flask) -> None:
    name = f"consent-{uuid.uuid4().hex[:6]}"
    assert cli(app, "sites", "create", name).exit_code == 0
    assert "require_consent" not in cli(app, "sites", "snippet", name).stdout
    changed = cli(app, "sites", "set", name, "--require-consent", "--respect-dnt")
    assert changed.exit_code == 0 and "consent required" in changed.stdout
    code = cli(app, "sites", "snippet", name).stdout
    assert "require_consent: true" in code and "respect_dnt: true" in code and "'consent']" in code


@pytest.fixture(scope="module")
def empty_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """An app on a database of its own, with no site and no user, and SIBYL_PUBLIC_URL unset."""
    url = fresh_database_url(tmp_path_factory.mktemp("empty"))
    return create_app({"DATABASE_URL": url, "WORKER": "external", "PUBLIC_URL": DEFAULT_PUBLIC_URL})


def test_every_printed_snippet_command_runs_as_printed_for_a_name_with_spaces(app: Flask) -> None:
    name = f"My shop's {uuid.uuid4().hex[:6]}"
    hints = [
        cli(app, "sites", "create", name).stdout,
        cli(app, "sites", "set", name, "--require-consent").stdout,
        cli(app, "sites", "rotate-key", name, "--client").stdout,
    ]
    for output in hints:
        command = output.split("`")[1]
        assert command == f"flask --app server sites snippet {shlex.quote(name)}"
        words = shlex.split(command)  # as a shell splits it
        assert words[-1] == name
        printed = cli(app, *words[3:])
        assert printed.exit_code == 0 and "sa.js" in printed.stdout


def test_the_snippet_warns_on_stderr_while_the_public_url_is_unset(empty_app: Flask, app: Flask) -> None:
    name = "Tea & Co"
    assert cli(empty_app, "sites", "create", name).exit_code == 0
    unset = cli(empty_app, "sites", "snippet", name)
    assert unset.exit_code == 0
    assert f'"{DEFAULT_PUBLIC_URL}/sa.js"' in unset.stdout and "Warning" not in unset.stdout
    assert DEFAULT_PUBLIC_URL in unset.stderr and "SIBYL_PUBLIC_URL=https://" in unset.stderr
    given = cli(empty_app, "sites", "snippet", name, "--url", "https://track.example/")
    assert '"https://track.example/sa.js"' in given.stdout and given.stderr == ""

    configured = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "WORKER": "external"})
    configured.config["PUBLIC_URL"] = "https://track.example.com"
    other = f"shop-{uuid.uuid4().hex[:6]}"
    assert cli(configured, "sites", "create", other).exit_code == 0
    code = cli(configured, "sites", "snippet", other)
    assert '"https://track.example.com/sa.js"' in code.stdout and code.stderr == ""


def test_the_site_page_shows_the_same_code_and_the_same_note(empty_app: Flask) -> None:
    name = f"Page shop {uuid.uuid4().hex[:6]}"
    assert cli(empty_app, "sites", "create", name).exit_code == 0
    printed = cli(empty_app, "sites", "snippet", name)
    client = sign_in(empty_app.test_client(), new_user(empty_app))
    with db.new_session(empty_app) as session:
        site = by_name(session, name)
    assert site is not None
    page = client.get(f"/sites/{site.id}").get_data(as_text=True)
    assert text_of(page, "snippet") == " ".join(printed.stdout.split())
    assert DEFAULT_PUBLIC_URL in text_of(page, "snippet-note") and "SIBYL_PUBLIC_URL" in text_of(page, "snippet-note")


def _fresh_app(directory: Path) -> Flask:
    return create_app({"DATABASE_URL": fresh_database_url(directory), "WORKER": "external"})


def test_sites_list_says_when_there_is_none_then_lists_each(tmp_path: Path) -> None:
    fresh = _fresh_app(tmp_path)
    none = cli(fresh, "sites", "list")
    assert none.exit_code == 0 and "No sites yet" in none.stdout
    assert cli(fresh, "sites", "create", "Outlet", "--origin", "https://outlet.example").exit_code == 0
    lines = cli(fresh, "sites", "list").stdout.splitlines()
    assert len(lines) == 1
    name, client_key, origins, created = lines[0].split("\t")
    assert (name, origins) == ("Outlet", "https://outlet.example")
    assert len(client_key) == 24 and created[:4].isdigit()


def _rows_of_site(app: Flask, site_id: int) -> dict[str, int]:
    """Rows naming the site, per table that has a site_id column."""
    counts = {}
    with db.new_session(app) as session:
        for table in Base.metadata.sorted_tables:
            if "site_id" in table.c:
                rows = session.scalar(select(func.count()).select_from(table).where(table.c.site_id == site_id))
                counts[table.name] = rows or 0
    return counts


def test_sites_delete_asks_then_deletes_the_site_and_everything_of_it(app: Flask) -> None:
    name = f"Closing shop {uuid.uuid4().hex[:6]}"
    created = cli(app, "sites", "create", name)
    client_key = next(line for line in created.stdout.splitlines() if line.startswith("client_key="))[11:]
    client = app.test_client()
    for email in ("ana@example.com", "bo@example.com"):
        answer = client.post("/api/v2/identify", json={"email": email}, headers={"ma-key": client_key})
        assert answer.status_code in (200, 204), answer.get_data(as_text=True)
    with db.new_session(app) as session:
        site_id = session.scalar(select(Contact.site_id).where(Contact.email == "ana@example.com").limit(1))
        assert site_id is not None
        events = session.scalar(select(func.count()).select_from(Event).where(Event.site_id == site_id))
        emails = session.scalar(select(func.count()).select_from(OutboxEmail).where(OutboxEmail.site_id == site_id))
    assert events and _rows_of_site(app, site_id)["contacts"] == 2

    refused = cli(app, "sites", "delete", name, stdin="n\n")
    assert refused.exit_code != 0 and "2 contacts" in refused.output
    assert _rows_of_site(app, site_id)["contacts"] == 2

    deleted = cli(app, "sites", "delete", name, stdin="y\n")
    assert deleted.exit_code == 0, deleted.output
    assert f"2 contacts, {events} events, {emails} emails" in deleted.stdout
    assert set(_rows_of_site(app, site_id).values()) == {0}
    gone = client.post("/api/v2/identify", json={"email": "c@example.com"}, headers={"ma-key": client_key})
    assert 400 <= gone.status_code < 500  # the deleted site's key is refused
    assert name not in cli(app, "sites", "list").stdout
    assert cli(app, "sites", "delete", name, "--yes").exit_code != 0


def test_sites_set_documents_each_option_in_its_help(app: Flask) -> None:
    shown = cli(app, "sites", "set", "--help").stdout
    options = [
        "--require-consent",
        "--respect-dnt",
        "--email-hosts",
        "--servers",
        "--email-period",
        "--quiet-hours",
        "--time-zone",
    ]
    for option in options:
        described = shown.split(option, 1)[1].split("\n  -", 1)[0]
        assert len(described.split()) > 3, f"{option} has no help"


def test_users_set_password_is_the_documented_name_and_password_still_works(app: Flask) -> None:
    email = new_user(app, prefix="forgetful")
    listed = cli(app, "users", "--help").stdout
    assert "set-password" in listed and "  password " not in listed
    assert cli(app, "users", "set-password", email, "--password", "a brand new password").exit_code == 0
    sign_in(app.test_client(), email, "a brand new password")
    assert cli(app, "users", "password", email, "--password", PASSWORD).exit_code == 0
    sign_in(app.test_client(), email, PASSWORD)
    short = cli(app, "users", "set-password", email, "--password", "short")
    assert short.exit_code != 0 and "at least 8" in short.output


def test_users_list_says_when_there_is_none_then_lists_each(tmp_path: Path) -> None:
    fresh = _fresh_app(tmp_path)
    result = cli(fresh, "users", "list")
    assert result.exit_code == 0 and "No dashboard users yet" in result.stdout
    email = new_user(fresh)
    assert cli(fresh, "users", "list").stdout.splitlines() == [f"{email}  every site"]
