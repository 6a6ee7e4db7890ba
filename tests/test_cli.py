"""The `flask --app server sites` commands: once from a shell as a user runs them, then through Flask's CLI runner."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask

from .support.cli import cli, flask


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
