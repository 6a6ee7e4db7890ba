"""The `flask --app server` commands: in process through Flask's CLI runner, or as a real process from a shell."""

from __future__ import annotations

import os
import subprocess
import sys

from click.testing import Result
from flask import Flask

from server.models import Site

from .servers import ROOT


def cli(app: Flask, *args: str, stdin: str | None = None) -> Result:
    """The command run in process on `app`, as Flask's CLI runner runs it."""
    return app.test_cli_runner().invoke(args=list(args), input=stdin)


def flask(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`flask --app server ARGS` as a process of its own on `database_url`, without a terminal (prompts read stdin)."""
    env = {**os.environ, "SIBYL_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "server", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        start_new_session=True,
    )


def set_workflow(app: Flask, site: Site, *options: str) -> None:
    """`flask --app server workflows set SITE OPTIONS`, which must succeed."""
    result = cli(app, "workflows", "set", site.name, *options)
    assert result.exit_code == 0, result.output
