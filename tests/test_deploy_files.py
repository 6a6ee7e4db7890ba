"""The sample deployment files (deploy/, Procfile) start what `make serve` and `make worker` start: migrations before
gunicorn with the package's settings, automation in the worker only, on the runtime virtualenv."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from .support.servers import ROOT

UNITS = ROOT / "deploy" / "systemd"
GUNICORN = "gunicorn -c python:server.gunicorn_conf"


def unit_settings(name: str) -> dict[str, list[str]]:
    """A unit file's settings, each key with its values in order (continued lines joined)."""
    text = (UNITS / name).read_text().replace("\\\n", " ")
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(" ".join(value.split()))
    return settings


def procfile() -> dict[str, str]:
    return dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())


def test_the_web_unit_migrates_then_starts_gunicorn_on_the_runtime_virtualenv() -> None:
    web = unit_settings("sibyl-web.service")
    assert web["ExecStartPre"] == ["/srv/sibyl/.venv-serve/bin/flask --app server db upgrade"]
    [start] = web["ExecStart"]
    assert start.startswith(f"/srv/sibyl/.venv-serve/bin/{GUNICORN} ") and "--bind 127.0.0.1:8000" in start
    assert start.endswith("'server:create_app()'")
    assert "SIBYL_WORKER=external" in web["Environment"][0] and "SIBYL_AUTO_MIGRATE=0" in web["Environment"][0]
    assert web["EnvironmentFile"] == ["/etc/sibyl/sibyl.env"]


def test_the_worker_unit_runs_the_worker_after_the_web_tier() -> None:
    worker = unit_settings("sibyl-worker.service")
    assert worker["ExecStart"] == ["/srv/sibyl/.venv-serve/bin/flask --app server worker"]
    assert "sibyl-web.service" in worker["After"][0].split()
    assert worker["EnvironmentFile"] == ["/etc/sibyl/sibyl.env"]


def test_the_procfile_runs_the_same_two_processes() -> None:
    processes = procfile()
    assert set(processes) == {"web", "worker"}
    web = processes["web"]
    assert web.startswith("flask --app server db upgrade && ")
    assert "SIBYL_WORKER=external" in web and f" {GUNICORN} " in web and "${PORT" in web
    assert re.search(r"\bflask --app server worker$", processes["worker"])


def test_systemd_reads_the_units() -> None:
    """`systemd-analyze verify` finds nothing wrong but the binaries, which exist only once installed."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    names = [str(path) for path in sorted(UNITS.glob("*.service"))]
    result = subprocess.run(
        ["systemd-analyze", "verify", *names], cwd=UNITS, capture_output=True, text=True, timeout=60, check=False
    )
    complaints = [line for line in result.stderr.splitlines() if line.strip()]
    assert complaints, "expected the complaint about the uninstalled virtualenv"
    assert all("/srv/sibyl/.venv-serve/bin/" in line and "is not executable" in line for line in complaints), (
        result.stderr
    )


def test_the_settings_file_is_read_by_a_shell_as_by_systemd() -> None:
    """deploy/sibyl sources the settings with sh: every value must come out whole, as systemd reads it."""
    script = f"set -a; . {ROOT / 'deploy' / 'sibyl.env'}; set +a; env"
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30, check=True, env={})
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if line.startswith("SIBYL_"))
    assert values["SIBYL_MAIL_FROM"] == "Shop <hello@shop.example>"
    assert values["SIBYL_PUBLIC_URL"].startswith("https://")
    assert values["SIBYL_SECRET_KEY"] == ""  # refused at start until it is filled in
