"""A client that sends its body slowly holds one gunicorn thread until the body deadline, then gets 408."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from .support.servers import Process, start_gunicorn

pytestmark = pytest.mark.slow


@pytest.fixture
def small_web_tier(database_url: str) -> Iterator[Process]:
    """gunicorn as `make serve` runs it (server/gunicorn_conf.py), shrunk to one worker of two threads."""
    process = start_gunicorn(database_url, workers=1, threads=2, body_timeout="1s", auto_migrate="1")
    yield process
    process.stop()


def slow_post(port: int) -> socket.socket:
    """A POST that promises 1,000 bytes of body and sends ten."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"POST /collect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 1000\r\n\r\n" + b'{"key": "x'
    )
    return sock


def answer_of(sock: socket.socket) -> bytes:
    """Everything the server sends before it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    sock.close()
    return received


def test_slow_bodies_get_408_and_free_the_threads_for_everyone_else(small_web_tier: Process) -> None:
    started = time.monotonic()
    slow = [slow_post(small_web_tier.port) for _ in range(4)]  # twice as many as there are threads
    health = requests.get(small_web_tier.url + "/healthz", timeout=10)
    assert health.status_code == 200
    assert time.monotonic() - started < 5  # two rounds of the 1 s deadline, not gunicorn's 30 s or forever
    for sock in slow:
        answer = answer_of(sock)  # the server closes the connection after its answer
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
        assert b"body: not received in time" in answer
