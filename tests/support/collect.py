"""Tracker batches posted to a running receiver's /collect, as a browser posts them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests

from server.models import Site

from .browser import BROWSER_HEADERS
from .servers import Process


def send(receiver: Process, site: Site, *messages: dict[str, Any], cuid: str | None = None) -> None:
    """One tracker batch posted to /collect as a browser would; it must be accepted."""
    body = {"key": site.client_key, "cuid": cuid or uuid.uuid4().hex, "messages": list(messages)}
    response = requests.post(receiver.url + "/collect", data=json.dumps(body), headers=BROWSER_HEADERS, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["stored"] + response.json()["duplicates"] == len(messages), response.text
