"""Servers started as child processes on 127.0.0.1: the receiver, gunicorn, the demo shop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from server.models import Site

from .store import Store
from .waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent.parent
SA_JS = ROOT / "tracker_js" / "dist" / "sa.js"
# Every test client comes from 127.0.0.1, like a whole city of shoppers behind one address: the per-address
# limits on identifications and new contacts are raised for the shared receivers (tests/test_abuse.py
# checks the limits themselves on receivers of its own).
SHARED_ADDRESS = {"identify_limit_address": "1000000/hour", "new_contact_limit_address": "1000000/hour"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A server started as a child process on 127.0.0.1, stopped by its PID."""

    def __init__(self, args: list[str], port: int, env: dict[str, str], health: str, cwd: Path = ROOT) -> None:
        self.args, self.port, self.env, self.health, self.cwd = args, port, env, health, cwd
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, cwd=self.cwd, env=self.env)
        try:
            wait_until(self._healthy, timeout=30)
        except BaseException:
            self.stop()
            raise

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"{self.args} exited with {self.proc.returncode}")
        try:
            return requests.get(self.url + self.health, timeout=5).ok
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def flask_command(app: str, port: int) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", app, "run", "--port", str(port), "--no-reload"]


def start_receiver(database_url: str, tracker: Path, **settings: str) -> Process:
    """`flask --app server run` on a free port, with SIBYL_* settings on top of the test environment."""
    port = free_port()
    env = {
        **os.environ,
        "SIBYL_DATABASE_URL": database_url,
        "SIBYL_TRACKER_PATH": str(tracker),
        "SIBYL_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }  # as a deployment says where browsers reach it
    env.update({f"SIBYL_{name.upper()}": value for name, value in (SHARED_ADDRESS | settings).items()})
    process = Process(flask_command("server", port), port, env, "/healthz")
    process.start()
    return process


def start_gunicorn(database_url: str, workers: int = 2, threads: int | None = None, **settings: str) -> Process:
    """The web tier as `make serve` runs it (server/gunicorn_conf.py): gunicorn, two workers unless told otherwise,
    automation elsewhere, with SIBYL_* settings on top."""
    port = free_port()
    env = {
        **os.environ,
        "SIBYL_DATABASE_URL": database_url,
        "SIBYL_WORKER": "external",
        "SIBYL_AUTO_MIGRATE": "0",
        "SIBYL_COLLECT_RATE_LIMIT": "1000000/minute",
    }
    env.update({f"SIBYL_{name.upper()}": value for name, value in (SHARED_ADDRESS | settings).items()})
    size = ["--workers", str(workers), *(["--threads", str(threads)] if threads else [])]
    command = [sys.executable, "-m", "gunicorn", "-c", "python:server.gunicorn_conf", *size]
    command += ["--bind", f"127.0.0.1:{port}", "server:create_app()"]
    process = Process(command, port, env, "/healthz")
    process.start()
    return process


def start_shop(store: Store, receiver: Process) -> tuple[Process, Site]:
    """The demo shop on its own origin, with a fresh site's tracking code (pointing at `receiver`)."""
    port = free_port()
    site = store.create_site([f"http://127.0.0.1:{port}"])
    env = {**os.environ, "DEMO_SNIPPET": store.snippet(site, receiver.url)}
    process = Process(flask_command("demo_site", port), port, env, "/")
    process.start()
    return process, site
