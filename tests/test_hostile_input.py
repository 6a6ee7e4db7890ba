"""Hostile input at every door (/collect, REST v2, v3, the dashboard): a 400 naming the problem, never a 5xx, nothing
stored, and nothing stored that would later break a page or an API answer."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from server import create_app, db
from server.models import Contact, Event, Site

from .support.browser import BROWSER_HEADERS
from .support.dashboard import csrf_token
from .support.sites import new_site

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture(scope="module")
def app(database_url: str) -> Flask:
    return create_app(
        {
            "DATABASE_URL": database_url,
            "WORKER": "external",
            "RATE_LIMIT": "1000000/minute",
            "COLLECT_RATE_LIMIT": "1000000/minute",
            "IDENTIFY_LIMIT_ADDRESS": "1000000/hour",
            "NEW_CONTACT_LIMIT_ADDRESS": "1000000/hour",
        }
    )


@pytest.fixture
def site(app: Flask) -> Site:
    return new_site(app, "hostile")


def stored(app: Flask, site: Site) -> tuple[int, int]:
    """The site's events and contacts: a refused request adds to neither."""
    with db.new_session(app) as session:
        events = session.scalar(select(func.count()).select_from(Event).where(Event.site_id == site.id))
        contacts = session.scalar(select(func.count()).select_from(Contact).where(Contact.site_id == site.id))
    return events or 0, contacts or 0


# Each door as a function of a properties object written as raw JSON text (what json.dumps would never write),
# sent as UTF-8 even where it holds a lone surrogate (as raw bytes no encoder would write either).
Door = Callable[[FlaskClient, Site, str], TestResponse]


def utf8(body: str) -> bytes:
    return body.encode("utf-8", "surrogatepass")


def collect(client: FlaskClient, site: Site, properties: str) -> TestResponse:
    body = (
        f'{{"key": "{site.client_key}", "cuid": "visitor-1", "messages": [{{"id": "{uuid.uuid4()}", '
        f'"type": "track", "name": "viewed", "properties": {properties}}}]}}'
    )
    return client.post("/collect", data=utf8(body), headers={"Content-Type": "text/plain", **BROWSER_HEADERS})


def v2_track_event(client: FlaskClient, site: Site, properties: str) -> TestResponse:
    body = f'{{"email": "shopper@example.com", "event": "viewed", "properties": {properties}}}'
    return client.post("/api/v2/trackEvent", data=utf8(body), headers={"ma-key": site.client_key})


def v3_event(client: FlaskClient, site: Site, properties: str) -> TestResponse:
    body = (
        f'{{"event_name": "viewed", "identifiers": {{"email_id": "shopper@example.com"}}, '
        f'"event_properties": {properties}}}'
    )
    return client.post("/v3/events", data=utf8(body), headers={"api-key": site.api_key})


def v3_batch(client: FlaskClient, site: Site, properties: str) -> TestResponse:
    event = (
        f'{{"event_name": "viewed", "identifiers": {{"email_id": "shopper@example.com"}}, '
        f'"event_properties": {properties}}}'
    )
    return client.post("/v3/events/batch", data=utf8(f'{{"events": [{event}]}}'), headers={"api-key": site.api_key})


def v3_contact(client: FlaskClient, site: Site, properties: str) -> TestResponse:
    body = f'{{"email": "shopper@example.com", "attributes": {properties}}}'
    return client.post("/v3/contacts", data=utf8(body), headers={"api-key": site.api_key})


DOORS: dict[str, Door] = {
    "collect": collect,
    "v2 trackEvent": v2_track_event,
    "v3 events": v3_event,
    "v3 events/batch": v3_batch,
    "v3 contacts": v3_contact,
}
# The properties sent, and what the answer's message must say.
POISON = {
    "NaN": ('{"price": NaN}', "NaN is not a JSON number"),
    "Infinity": ('{"price": Infinity}', "Infinity is not a JSON number"),
    "-Infinity": ('{"price": -Infinity}', "-Infinity is not a JSON number"),
    "a float overflowing to infinity": ('{"price": 1e400}', "out of range"),
    "a lone high surrogate": ('{"name": "\\ud800"}', "name: contains a lone UTF-16 surrogate"),
    "a lone low surrogate": ('{"name": "ab\\udc00"}', "name: contains a lone UTF-16 surrogate"),
    "a reversed surrogate pair": ('{"name": "\\ude00\\ud83d"}', "name: contains a lone UTF-16 surrogate"),
    "a lone surrogate in a key": ('{"\\udfff": 1}', "contains a lone UTF-16 surrogate"),
    "a lone surrogate deep down": ('{"cart": {"items": [{"name": "\\uDBFF"}]}}', "cart.items[0].name: contains a lone"),
    "a NUL character": ('{"name": "a\\u0000b"}', "name: contains a NUL character"),
    "a NUL character in a key": ('{"a\\u0000": 1}', "contains a NUL character"),
    "JSON nested 100,000 levels": (f'{{"deep": {DEEP}}}', "nested too deeply"),
}


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("poison", POISON)
def test_poison_values_are_refused_at_every_door(
    app: Flask, client: FlaskClient, site: Site, door: str, poison: str
) -> None:
    properties, problem = POISON[poison]
    before = stored(app, site)
    answer = DOORS[door](client, site, properties)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.json is not None and answer.json["code"] == "invalid_parameter"
    assert problem in answer.json["message"]
    assert stored(app, site) == before


@pytest.mark.parametrize("door", DOORS)
def test_a_surrogate_as_raw_bytes_is_not_utf8(app: Flask, client: FlaskClient, site: Site, door: str) -> None:
    before = stored(app, site)
    answer = DOORS[door](client, site, '{"name": "\ud800"}')  # the bytes ED A0 80, not an escape
    assert answer.status_code == 400
    assert answer.json == {"code": "invalid_parameter", "message": "body: not valid UTF-8"}
    assert stored(app, site) == before


@pytest.mark.parametrize("door", DOORS)
def test_text_that_only_looks_like_poison_is_stored(app: Flask, client: FlaskClient, site: Site, door: str) -> None:
    """An escaped surrogate pair is one character (an emoji), an escaped backslash is a backslash, big is fine."""
    properties = (
        '{"name": "\\ud83d\\ude00 \\\\ud800 \\\\u0000 caf\\u00e9", '
        '"price": 1e300, "count": 1000000000000000000000000000000}'
    )
    if door == "v3 contacts":  # contacts keep only the attributes the shop created
        for name, kind in (("NAME", "text"), ("COUNT", "float")):
            created = client.post(
                f"/v3/contacts/attributes/normal/{name}", json={"type": kind}, headers={"api-key": site.api_key}
            )
            assert created.status_code == 201, created.get_data(as_text=True)
    answer = DOORS[door](client, site, properties)
    assert answer.status_code < 300, answer.get_data(as_text=True)
    with db.new_session(app) as session:
        if door == "v3 contacts":
            values = session.scalars(select(Contact.attributes).where(Contact.site_id == site.id)).one()
        else:
            values = session.scalars(select(Event.properties).where(Event.site_id == site.id)).one()
    values = {key.lower(): value for key, value in values.items()}  # attributes are upper-case
    assert values["name"] == "\U0001f600 \\ud800 \\u0000 café" and values["count"] == 10**30


def test_contacts_stay_listable_as_json(app: Flask, client: FlaskClient, site: Site) -> None:
    """What the v3 contact list answers is valid JSON for any client: no NaN, no lone surrogate got in."""
    for name, (properties, _problem) in POISON.items():
        if "nested" not in name:
            v3_contact(client, site, properties)
    answer = client.get("/v3/contacts", headers={"api-key": site.api_key})
    assert answer.status_code == 200
    json.loads(answer.get_data(as_text=True), parse_constant=lambda name: pytest.fail(f"{name} in the answer"))
    assert answer.json is not None and answer.json["contacts"] == []


# Times: the tracker's `ts` (ms since the epoch) and v3's `event_date`


def message(**fields: object) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "type": "track", "name": "viewed", **fields}


@pytest.mark.parametrize("ts", [10**18, 253_402_300_800_000])  # ms: year 31,690,708; the first ms of year 10000
def test_a_tracker_timestamp_out_of_range_is_refused(app: Flask, client: FlaskClient, site: Site, ts: object) -> None:
    before = stored(app, site)
    body = {"key": site.client_key, "cuid": "visitor-1", "messages": [message(), message(ts=ts)]}
    answer = client.post("/collect", data=json.dumps(body), headers={"Content-Type": "text/plain", **BROWSER_HEADERS})
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.json is not None and answer.json["message"].startswith("messages[1].ts: ")
    assert stored(app, site) == before


def v3_dated(event_date: str) -> dict[str, object]:
    return {"event_name": "viewed", "identifiers": {"email_id": "shopper@example.com"}, "event_date": event_date}


OUT_OF_RANGE_DATES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1969-12-31T23:59:59Z"]


@pytest.mark.parametrize("event_date", OUT_OF_RANGE_DATES)
def test_a_v3_event_date_out_of_range_is_refused(app: Flask, client: FlaskClient, site: Site, event_date: str) -> None:
    before = stored(app, site)
    answer = client.post("/v3/events", json=v3_dated(event_date), headers={"api-key": site.api_key})
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.json is not None and answer.json["message"].startswith("event_date: ")
    assert stored(app, site) == before


@pytest.mark.parametrize("event_date", OUT_OF_RANGE_DATES)
def test_one_bad_event_date_fails_only_its_event_in_a_batch(
    app: Flask, client: FlaskClient, site: Site, event_date: str
) -> None:
    events = [v3_dated("2026-11-30T10:00:00Z"), v3_dated(event_date)]
    answer = client.post("/v3/events/batch", json={"events": events}, headers={"api-key": site.api_key})
    assert answer.status_code == 207, answer.get_data(as_text=True)
    assert answer.json is not None
    assert (answer.json["successful_events"], answer.json["failed_events"]) == (1, 1)
    (error,) = answer.json["errors"]
    assert error["eventIndex"] == [1] and error["message"].startswith("event_date: ")
    assert stored(app, site)[0] == 1


@pytest.mark.parametrize(
    "query",
    [
        "contacts?modifiedSince=0001-01-01T00:00:00%2B01:00",
        "contacts?createdSince=9999-12-31T23:59:59-01:00",
        "events?startDate=0001-01-01T00:00:00%2B01:00&endDate=2026-01-01",
        "events?startDate=2026-01-01&endDate=9999-12-31T23:59:59-01:00",
    ],
)
def test_a_v3_query_date_out_of_range_is_refused(client: FlaskClient, site: Site, query: str) -> None:
    answer = client.get(f"/v3/{query}", headers={"api-key": site.api_key})
    assert answer.status_code == 400, answer.get_data(as_text=True)
    name = re.search(r"(modifiedSince|createdSince|startDate|endDate)=[^&]*(0001|9999)", query)
    assert name is not None and answer.json is not None
    assert answer.json["message"].startswith(f"{name.group(1)}: out of range")


# NUL in a URL, a header or a dashboard form: PostgreSQL refuses it in text, so it is refused before any query


@pytest.mark.parametrize(
    "path",
    [
        "/v3/contacts/a%00b?identifierType=ext_id",
        "/v3/events?event_name=a%00b",
        "/v3/contacts?sort=%00",
    ],
)
def test_a_nul_in_the_url_is_refused(client: FlaskClient, site: Site, path: str) -> None:
    answer = client.get(path, headers={"api-key": site.api_key})
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.json is not None and "NUL" in answer.json["message"]


def test_a_nul_in_a_key_header_is_refused(client: FlaskClient, site: Site) -> None:
    answer = client.get("/v3/contacts", headers={"api-key": site.api_key + "\x00"})
    assert answer.status_code == 400
    assert answer.json == {"code": "invalid_parameter", "message": "api-key header: contains a NUL character"}


@pytest.mark.parametrize("query", ["q=%00", "q=a%00b&page=2", "site=1%00"])
def test_the_dashboards_search_refuses_a_nul(owner: FlaskClient, site: Site, query: str) -> None:
    answer = owner.get(f"/contacts?{query}")
    assert answer.status_code == 400
    assert "NUL" in answer.get_data(as_text=True)


def test_a_dashboard_form_with_a_nul_is_refused_and_creates_nothing(app: Flask, owner: FlaskClient) -> None:
    suffix = uuid.uuid4().hex[:6]
    answer = owner.post("/sites", data={"name": f"shop\x00{suffix}", "csrf_token": csrf_token(owner, "/sites")})
    assert answer.status_code == 400
    assert "NUL" in answer.get_data(as_text=True)
    with db.new_session(app) as session:
        assert session.scalar(select(Site).where(Site.name.contains(suffix))) is None


def test_a_dashboard_number_too_big_to_store_is_refused_with_a_message(
    app: Flask, owner: FlaskClient, site: Site
) -> None:
    form = {
        "site": str(site.id),
        "enabled": "on",
        "delay": "2h",
        "max_resets": "99999999999999999999",
        "subject": "Your cart",
        "contact_period": "1d",
        "csrf_token": csrf_token(owner, f"/automation?site={site.id}"),
    }
    answer = owner.post("/automation", data=form)
    assert answer.status_code == 400
    assert "A whole number from 0 to 1,000,000." in answer.get_data(as_text=True)


def test_other_keys_of_eventdata_are_held_to_the_nesting_limit(app: Flask, client: FlaskClient, site: Site) -> None:
    """Kept with the event like `data`, so bounded like it (the dashboard shows them)."""
    deep: object = "bottom"
    for _ in range(50):
        deep = [deep]
    before = stored(app, site)
    body = {
        "key": site.client_key,
        "cuid": "visitor-1",
        "messages": [message(eventdata={"id": "cart:1", "other": deep})],
    }
    answer = client.post("/collect", data=json.dumps(body), headers={"Content-Type": "text/plain", **BROWSER_HEADERS})
    assert answer.status_code == 400
    assert answer.json is not None and answer.json["message"].startswith("messages[0].eventdata: ")
    assert "nested deeper than 10 levels" in answer.json["message"]
    assert stored(app, site) == before
