"""Brevo's tracker REST API (v2) and v3 with hand-made requests: documented examples, bad input, limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from server import create_app
from server.automation.worker import Worker
from server.models import Site

from .support.carts import outbox
from .support.clock import Clock
from .support.guide import GUIDE_CART
from .support.servers import Process, start_receiver
from .support.smtp_sink import SmtpSink
from .support.store import Store


def v2(receiver: Process, site: Site, call: str, body: Any, key: str | None = None) -> requests.Response:
    headers = {"ma-key": key if key is not None else site.client_key}
    return requests.post(f"{receiver.url}/api/v2/{call}", json=body, headers=headers, timeout=10)


def v3(receiver: Process, site: Site, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(
        method, f"{receiver.url}/v3/{path}", headers={"api-key": site.api_key}, timeout=10, **kwargs
    )


def test_brevos_documented_track_event_example(receiver: Process, site: Site, store: Store) -> None:
    documented = {
        "email": "example@brevo.com",
        "event": "cart_updated",
        "properties": {"additionalProp": "additional property"},
        "eventdata": {
            "data": {
                "added_product": [{"currency": "EUR", "name": "Wrist watch", "type": "accessories", "price": "50.00"}]
            }
        },
    }
    response = v2(receiver, site, "trackEvent", documented)
    assert (response.status_code, response.content) == (204, b"")
    (event,) = store.events(site, "track")
    assert (event.name, event.properties, event.eventdata) == (
        "cart_updated",
        documented["properties"],
        documented["eventdata"],
    )
    assert store.contact(site, "example@brevo.com") is not None


def test_v2_identify_page_and_link(receiver: Process, site: Site, store: Store) -> None:
    identify = {"email": "ann@example.com", "attributes": {"FIRSTNAME": "Ann"}}
    assert v2(receiver, site, "identify", identify).status_code == 204
    page_view = {"email": "ann@example.com", "page": "Pricing", "properties": {"ma_path": "/pricing"}}
    assert v2(receiver, site, "trackPage", page_view).status_code == 204
    link = {"email": "ann@example.com", "link": "https://shop.example/sale"}
    assert v2(receiver, site, "trackLink", link).status_code == 204
    contact = store.contact(site, "ann@example.com")
    assert contact is not None and contact.attributes == {"FIRSTNAME": "Ann"}
    assert [(e.kind, e.name) for e in store.events(site)] == [
        ("identify", "identify"),
        ("page", "Pricing"),
        ("link", "https://shop.example/sale"),
    ]


@pytest.mark.parametrize(
    ("call", "body", "field"),
    [
        ("trackEvent", {"event": "x"}, "email"),
        ("trackEvent", {"email": "not-an-email", "event": "x"}, "email"),
        ("trackEvent", {"email": "v@a.example(1)", "event": "x"}, "email"),
        ("identify", {"email": "a\u0000b@a.example"}, "email"),
        ("trackEvent", {"email": "a@example.com"}, "event"),
        ("trackEvent", {"email": "a@example.com", "event": "x" * 256}, "event"),
        ("trackEvent", {"email": "a@example.com", "event": "x", "properties": "nope"}, "properties"),
        ("identify", {"attributes": {}}, "email"),
        ("trackLink", {"email": "a@example.com"}, "link"),
        ("trackPage", {"email": "a@example.com"}, "page"),
    ],
)
def test_v2_bad_input_is_a_400_naming_the_field(
    receiver: Process, site: Site, store: Store, call: str, body: dict[str, Any], field: str
) -> None:
    response = v2(receiver, site, call, body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_parameter"
    assert response.json()["message"].startswith(field)
    assert store.events(site) == []


def test_v2_keys_and_bodies(receiver: Process, site: Site) -> None:
    body = {"email": "a@example.com", "event": "x"}
    assert v2(receiver, site, "trackEvent", body, key="").status_code == 401
    assert v2(receiver, site, "trackEvent", body, key="unknown").status_code == 401
    # The secret key is not a client key.
    assert v2(receiver, site, "trackEvent", body, key=site.api_key).status_code == 401
    broken = requests.post(
        f"{receiver.url}/api/v2/trackEvent", data="{", headers={"ma-key": site.client_key}, timeout=5
    )
    assert (broken.status_code, broken.json()["message"]) == (400, "body: not valid JSON")


def test_v3_limits(receiver: Process, site: Site, store: Store) -> None:
    event = {"identifiers": {"email_id": "a@example.com"}}
    bad_name = v3(receiver, site, "POST", "events", json={**event, "event_name": "has space"})
    assert bad_name.status_code == 400 and bad_name.json()["message"].startswith("event_name")
    huge = v3(
        receiver,
        site,
        "POST",
        "events",
        json={**event, "event_name": "big", "event_properties": {"blob": "x" * 52_000}},
    )
    assert huge.status_code == 413 and "51200" in huge.json()["message"]
    deep: dict[str, Any] = {}
    for _ in range(12):
        deep = {"level": deep}
    nested = v3(receiver, site, "POST", "events", json={**event, "event_name": "deep", "event_properties": deep})
    assert nested.status_code == 400 and "nested deeper" in nested.json()["message"]
    wide = v3(
        receiver,
        site,
        "POST",
        "events",
        json={**event, "event_name": "wide", "event_properties": {str(i): i for i in range(201)}},
    )
    assert wide.status_code == 400 and "limit is 200" in wide.json()["message"]
    no_identifier = v3(receiver, site, "POST", "events", json={"event_name": "x", "identifiers": {}})
    assert no_identifier.status_code == 400 and no_identifier.json()["message"].startswith("identifiers")
    too_big = requests.post(
        f"{receiver.url}/v3/events", data="x" * (1024 * 1024 + 1), headers={"api-key": site.api_key}, timeout=10
    )
    assert too_big.status_code == 413 and "1048576" in too_big.json()["message"]
    assert store.events(site) == []


def test_v3_batch_partial_and_none(receiver: Process, site: Site, store: Store) -> None:
    good = {"event_name": "viewed", "identifiers": {"email_id": "a@example.com"}}
    bad = {"event_name": "bad name", "identifiers": {"email_id": "a@example.com"}}
    partial = v3(receiver, site, "POST", "events/batch", json={"events": [good, bad]})
    assert partial.status_code == 207
    assert partial.json() | {"errors": None} == {
        "message": "1 of 2 events accepted",
        "count": 1,
        "status": "partial",
        "total_events": 2,
        "successful_events": 1,
        "failed_events": 1,
        "errors": None,
    }
    assert partial.json()["errors"][0]["eventIndex"] == [1]
    none = v3(receiver, site, "POST", "events/batch", json={"events": [{"event_name": "x"}]})
    assert none.status_code == 400 and none.json()["failed_events"] == 1
    assert [event.name for event in store.events(site)] == ["viewed"]


def test_v2_and_v3_cart_events_drive_the_same_automation(
    receiver: Process, site: Site, store: Store, smtp_sink: SmtpSink
) -> None:
    clock = Clock()
    store.leave_only_carts_of(site)
    app = create_app(
        {"DATABASE_URL": store.app.config["DATABASE_URL"], "SMTP_URL": smtp_sink.url, "WORKER": "external"}
    )
    worker = Worker(app, clock)
    v2(
        receiver,
        site,
        "trackEvent",
        {
            "email": "rest@example.com",
            "event": "cart_updated",
            "properties": {"FIRSTNAME": "Rest"},
            "eventdata": {"id": "cart:1", "data": GUIDE_CART},
        },
    )
    v3(
        receiver,
        site,
        "POST",
        "events",
        json={
            "event_name": "cart_updated",
            "identifiers": {"email_id": "api@example.com"},
            "contact_properties": {"FIRSTNAME": "Api"},
            "event_properties": {"id": "cart:2", "data": GUIDE_CART},
        },
    )
    v3(
        receiver,
        site,
        "POST",
        "events",
        json={
            "event_name": "cart_updated",
            "identifiers": {"email_id": "gone@example.com"},
            "event_properties": {"id": "cart:3", "data": GUIDE_CART},
        },
    )
    v2(
        receiver,
        site,
        "trackEvent",
        {"email": "gone@example.com", "event": "order_completed", "eventdata": {"id": "cart:3"}},
    )
    clock.advance(timedelta(hours=3))
    worker.run_pass()
    messages = smtp_sink.wait_for(2)
    assert sorted(message["To"] for message in messages) == ["api@example.com", "rest@example.com"]
    assert len(outbox(store, site)) == 2


@pytest.fixture
def strict_receiver(database_url: str, built_tracker: Path) -> Iterator[Process]:
    """A receiver allowing each key 5 requests a minute."""
    process = start_receiver(database_url, built_tracker, worker="external", rate_limit="5/minute")
    yield process
    process.stop()


def test_the_rate_limit_is_per_key_with_retry_after(strict_receiver: Process, store: Store) -> None:
    busy, other = store.create_site(), store.create_site()
    answers = [v3(strict_receiver, busy, "GET", "events").status_code for _ in range(6)]
    assert answers == [200] * 5 + [429]
    limited = v3(strict_receiver, busy, "GET", "events")
    assert limited.json()["code"] == "too_many_requests"
    assert int(limited.headers["Retry-After"]) > 0
    assert v3(strict_receiver, other, "GET", "events").status_code == 200


def test_openapi_document_lists_every_public_endpoint(receiver: Process) -> None:
    document = requests.get(f"{receiver.url}/openapi.json", timeout=5).json()
    assert document["openapi"].startswith("3.")
    assert {
        "/collect",
        "/api/v2/trackEvent",
        "/v3/events",
        "/v3/events/batch",
        "/v3/contacts",
        "/v3/contacts/{identifier}",
    } <= set(document["paths"])
    event_schema = document["components"]["schemas"]["V3Event"]
    assert event_schema["properties"]["event_name"]["maxLength"] == 255
