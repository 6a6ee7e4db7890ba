"""`POST /collect` over HTTP against the real receiver: storage, dedupe, identity, limits."""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests

from server.models import Site

from .support.browser import BROWSER_HEADERS
from .support.servers import Process
from .support.store import Store


def message(kind: str = "track", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": str(uuid.uuid4()), "type": kind, "ts": 1_764_000_000_000, "url": "http://shop/"}
    if kind == "track":
        base["name"] = "cart_updated"
    return {**base, **fields}


def post(receiver: Process, body: Any, origin: str | None = None) -> requests.Response:
    headers = {"Content-Type": "text/plain;charset=UTF-8", **BROWSER_HEADERS}
    if origin:
        headers["Origin"] = origin
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return requests.post(receiver.url + "/collect", data=data, headers=headers, timeout=10)


def batch(site: Site, *messages: dict[str, Any], cuid: str = "visitor-1") -> dict[str, Any]:
    return {"key": site.client_key, "cuid": cuid, "messages": list(messages)}


def test_a_batch_is_stored_and_a_retry_stores_nothing_twice(receiver: Process, store: Store, site: Site) -> None:
    body = batch(site, message("page", properties={"ma_title": "Home"}), message(properties={"sku": "1"}))
    first = post(receiver, body)
    again = post(receiver, body)
    assert (first.status_code, first.json()) == (200, {"stored": 2, "duplicates": 0})
    assert (again.status_code, again.json()) == (200, {"stored": 0, "duplicates": 2})
    stored = store.events(site)
    assert [event.kind for event in stored] == ["page", "track"]
    assert stored[0].name == "Home"
    assert stored[1].properties == {"sku": "1"}


def test_identify_links_the_visitor_and_moves_its_earlier_events(receiver: Process, store: Store, site: Site) -> None:
    post(receiver, batch(site, message("page"), cuid="anon-7"))
    identify = message(
        "identify", email="Thomas@Example.com", properties={"FIRSTNAME": "Thomas", "lastname": "Bianchi"}
    )
    assert post(receiver, batch(site, identify, cuid="anon-7")).status_code == 200
    contact = store.contact(site, "thomas@example.com")
    assert contact is not None
    assert contact.attributes == {"FIRSTNAME": "Thomas", "LASTNAME": "Bianchi"}
    assert {event.contact_id for event in store.events(site)} == {contact.id}


def test_properties_matching_attributes_update_the_contact_and_the_rest_stay_on_the_event(
    receiver: Process, store: Store, site: Site
) -> None:
    properties = {"email": "ann@example.com", "firstname": "Ann", "colour": "red"}
    assert post(receiver, batch(site, message(properties=properties))).status_code == 200
    contact = store.contact(site, "ann@example.com")
    assert contact is not None and contact.attributes == {"FIRSTNAME": "Ann"}
    assert store.events(site)[0].properties == properties


def test_one_bad_message_rejects_the_whole_batch_naming_the_field(receiver: Process, store: Store, site: Site) -> None:
    response = post(receiver, batch(site, message(), message(name="x" * 256)))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_parameter"
    assert response.json()["message"].startswith("messages[1].name")
    assert store.events(site) == []


def test_malformed_bodies_get_400(receiver: Process, site: Site) -> None:
    assert post(receiver, "{not json").json()["message"] == "body: not valid JSON"
    cases = [
        ([1, 2], "body"),
        ({"key": site.client_key, "cuid": "v", "messages": []}, "messages"),
        ({"key": site.client_key, "messages": [message()]}, "cuid"),
        (batch(site, message(type="purchase")), "messages[0].type"),
        (batch(site, message(name="")), "messages[0]"),
        (batch(site, message("identify", email="not-an-email")), "messages[0]"),
        (batch(site, message("identify", email="x<v@a.example>")), "messages[0].email"),
        (batch(site, message(properties={"email": "v@a.example(1)"})), "messages[0].properties"),
        (batch(site, message(properties=[1])), "messages[0].properties"),
    ]
    for body, field in cases:
        response = post(receiver, body)
        assert response.status_code == 400, body
        assert response.json()["message"].startswith(field), response.json()


def test_unknown_key_is_401(receiver: Process) -> None:
    response = post(receiver, {"key": "nope", "cuid": "v", "messages": [message()]})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_limits_answer_413_naming_the_limit(receiver: Process, store: Store, site: Site) -> None:
    too_many = post(receiver, batch(site, *[message() for _ in range(101)]))
    assert too_many.status_code == 413 and "limit is 100" in too_many.json()["message"]
    too_big = post(receiver, batch(site, message(properties={"blob": "x" * 33_000})))
    assert too_big.status_code == 413 and too_big.json()["message"].startswith("messages[0]")
    huge_body = post(receiver, batch(site, *[message(properties={"blob": "x" * 6_000}) for _ in range(90)]))
    assert huge_body.status_code == 413 and "512000" in huge_body.json()["message"]
    assert store.events(site) == []


def test_origins_are_enforced_and_answers_are_readable_cross_origin(receiver: Process, store: Store) -> None:
    site = store.create_site(["https://shop.example"])
    allowed = post(receiver, batch(site, message()), origin="https://shop.example")
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    refused = post(receiver, batch(site, message()), origin="https://elsewhere.example")
    assert refused.status_code == 403
    assert refused.headers["Access-Control-Allow-Origin"] == "https://elsewhere.example"
    assert len(store.events(site)) == 1


def test_preflight_is_answered(receiver: Process) -> None:
    response = requests.options(
        receiver.url + "/collect",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
        timeout=5,
    )
    assert response.status_code == 204
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
