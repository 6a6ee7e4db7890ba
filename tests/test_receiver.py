"""The receiver's other doors: `/sa.js`, `/healthz` and the v3 read endpoints."""

from __future__ import annotations

import gzip
import uuid
from typing import Any

import requests

from server.models import Site

from .support.collect import send
from .support.servers import SA_JS, Process


def test_healthz(receiver: Process) -> None:
    response = requests.get(receiver.url + "/healthz", timeout=5)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_sa_js_is_served_gzipped_with_an_etag_and_cache_headers(receiver: Process, site: Site) -> None:
    url = f"{receiver.url}/sa.js?key={site.client_key}"
    response = requests.get(url, headers={"Accept-Encoding": "gzip"}, timeout=5, stream=True)
    raw = response.raw.read()
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/javascript")
    assert response.headers["Content-Encoding"] == "gzip"
    assert "max-age" in response.headers["Cache-Control"]
    assert gzip.decompress(raw) == SA_JS.read_bytes()
    plain = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=5)
    assert plain.content == SA_JS.read_bytes()
    again = requests.get(url, headers={"If-None-Match": response.headers["ETag"]}, timeout=5)
    assert again.status_code == 304


def track(receiver: Process, site: Site, email: str, name: str, eventdata: dict[str, Any] | None = None) -> None:
    message = {
        "id": str(uuid.uuid4()),
        "type": "track",
        "name": name,
        "email": email,
        "properties": {"FIRSTNAME": "Thomas"},
        "eventdata": eventdata,
    }
    send(receiver, site, message)


def test_v3_contact_in_brevos_shape(receiver: Process, site: Site) -> None:
    track(receiver, site, "thomas@example.com", "cart_updated")
    headers = {"api-key": site.api_key}
    by_email = requests.get(f"{receiver.url}/v3/contacts/thomas@example.com", headers=headers, timeout=5).json()
    assert by_email["email"] == "thomas@example.com"
    assert by_email["attributes"] == {"FIRSTNAME": "Thomas"}
    assert {"id", "emailBlacklisted", "smsBlacklisted", "createdAt", "modifiedAt", "listIds"} <= by_email.keys()
    by_id = requests.get(f"{receiver.url}/v3/contacts/{by_email['id']}", headers=headers, timeout=5).json()
    assert by_id == by_email
    missing = requests.get(f"{receiver.url}/v3/contacts/nobody@example.com", headers=headers, timeout=5)
    assert (missing.status_code, missing.json()["code"]) == (404, "document_not_found")


def test_v3_events_lists_custom_events_newest_first_with_filters(receiver: Process, site: Site) -> None:
    track(receiver, site, "a@example.com", "cart_updated", {"id": "cart:1", "data": {"total": 1}})
    track(receiver, site, "a@example.com", "order_completed", {"id": "cart:1"})
    headers = {"api-key": site.api_key}
    listing = requests.get(f"{receiver.url}/v3/events", headers=headers, timeout=5).json()
    assert listing["count"] == 2
    assert [event["event_name"] for event in listing["events"]] == ["order_completed", "cart_updated"]
    assert listing["events"][1]["event_properties"] == {"FIRSTNAME": "Thomas"}
    assert listing["events"][1]["eventdata"] == {"id": "cart:1", "data": {"total": 1}}
    filtered = requests.get(f"{receiver.url}/v3/events?event_name=cart_updated&limit=1", headers=headers, timeout=5)
    assert filtered.json()["count"] == 1
    bad = requests.get(f"{receiver.url}/v3/events?startDate=2024-01-01", headers=headers, timeout=5)
    assert bad.status_code == 400 and "endDate" in bad.json()["message"]


def test_v3_needs_the_secret_key(receiver: Process, site: Site) -> None:
    for headers in ({}, {"api-key": "xkeysib-wrong"}, {"api-key": site.client_key}):
        response = requests.get(f"{receiver.url}/v3/events", headers=headers, timeout=5)
        assert response.status_code == 401


def test_tracking_status_turns_to_received_after_traffic(receiver: Process, site: Site) -> None:
    url, headers = f"{receiver.url}/v3/tracking/status", {"api-key": site.api_key}
    assert requests.get(url, headers=headers, timeout=5).json()["receiving"] is False
    track(receiver, site, "b@example.com", "viewed")
    status = requests.get(url, headers=headers, timeout=5).json()
    assert status["receiving"] is True
    assert status["message"] == "We've recently received traffic for this Tracking ID"
