"""Requests written line by line, as a plugin's HTTP client writes them: header names repeated where it repeats them."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send_lines(base_url: str, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b"") -> Answer:
    """One request with exactly these header lines (plus Host and Content-Length), in this order."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if body or method == "POST":
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return Answer(response.status, response.read())
    finally:
        connection.close()
