"""Contact attributes are created by the shop (v3 with the secret key, the dashboard, the CLI), never by the public
key; every door sets only attributes that exist, with values of their type. Driven through the real Flask app."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from server import create_app, db
from server.contacts.attributes import AttributeType, create_attribute
from server.ingest import sizes
from server.models import Attribute, Contact, Event, Site
from server.sites import create_site

from .support.browser import BROWSER_HEADERS
from .support.cli import cli
from .support.dashboard import csrf_token
from .support.sites import new_site

DEFAULTS = ["FIRSTNAME", "LASTNAME", "SMS"]


@pytest.fixture(scope="module")
def app(database_url: str) -> Flask:
    return create_app(
        {
            "DATABASE_URL": database_url,
            "WORKER": "external",
            "RATE_LIMIT": "1000000/minute",
            "IDENTIFY_LIMIT_ADDRESS": "1000000/hour",
            "NEW_CONTACT_LIMIT_ADDRESS": "1000000/hour",
        }
    )


@pytest.fixture
def site(app: Flask) -> Site:
    return new_site(app, "attrs")


def names(app: Flask, site: Site) -> list[str]:
    with db.new_session(app) as session:
        return list(session.scalars(select(Attribute.name).where(Attribute.site_id == site.id).order_by(Attribute.id)))


def contact(app: Flask, site: Site, address: str) -> Contact:
    with db.new_session(app) as session:
        found = session.scalar(select(Contact).where(Contact.site_id == site.id, Contact.email == address))
        assert found is not None
        return found


def add(app: Flask, site: Site, name: str, kind: AttributeType = AttributeType.TEXT) -> None:
    with db.new_session(app) as session:
        create_attribute(session, site.id, name, kind)


def collect(client: FlaskClient, site: Site, *messages: dict[str, Any]) -> None:
    body = {"key": site.client_key, "cuid": uuid.uuid4().hex, "messages": list(messages)}
    answer = client.post("/collect", data=json.dumps(body), content_type="text/plain", headers=BROWSER_HEADERS)
    assert answer.status_code == 200, answer.get_json()


def identify(address: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "type": "identify", "email": address, "properties": properties}


def v3(client: FlaskClient, site: Site, method: str, path: str, body: Any = None) -> Any:
    return client.open(f"/v3{path}", method=method, json=body, headers={"api-key": site.api_key})


# The public key: existing attributes only


def test_collect_identify_sets_known_attributes_and_leaves_unknown_properties_on_the_event(
    app: Flask, client: FlaskClient, site: Site
) -> None:
    flood = {f"prop_{index}": "x" for index in range(150)}
    collect(client, site, identify("ann@example.com", {"firstname": "Ann", "COUNTRY": "FR", **flood}))
    assert names(app, site) == DEFAULTS  # nothing created by the public key
    assert contact(app, site, "ann@example.com").attributes == {"FIRSTNAME": "Ann"}
    with db.new_session(app) as session:
        stored = session.scalar(select(Event).where(Event.site_id == site.id, Event.kind == "identify"))
    assert stored is not None and stored.properties["COUNTRY"] == "FR" and len(stored.properties) == 152

    add(app, site, "COUNTRY")
    collect(client, site, identify("ann@example.com", {"country": "IT"}))
    assert contact(app, site, "ann@example.com").attributes == {"FIRSTNAME": "Ann", "COUNTRY": "IT"}


def test_rest_v2_with_the_public_key_creates_no_attribute(app: Flask, client: FlaskClient, site: Site) -> None:
    answer = client.post(
        "/api/v2/identify",
        headers={"ma-key": site.client_key},
        json={"email": "bo@example.com", "attributes": {"LASTNAME": "Bo", "PLAN": "gold"}},
    )
    assert answer.status_code == 204
    viewed = {"email": "bo@example.com", "event": "viewed", "properties": {"firstname": "B", "tier": 2}}
    tracked = client.post("/api/v2/trackEvent", headers={"ma-key": site.client_key}, json=viewed)
    assert tracked.status_code == 204
    assert names(app, site) == DEFAULTS
    assert contact(app, site, "bo@example.com").attributes == {"LASTNAME": "Bo", "FIRSTNAME": "B"}


def test_the_secret_key_sets_only_existing_attributes_too(app: Flask, client: FlaskClient, site: Site) -> None:
    """As Brevo documents it for createContact: the attributes must be present in the account."""
    created = v3(
        client, site, "POST", "/contacts", {"email": "cy@example.com", "attributes": {"FIRSTNAME": "Cy", "UNKNOWN": 1}}
    )
    assert created.status_code == 201
    assert v3(client, site, "PUT", "/contacts/cy@example.com", {"attributes": {"OTHER": "x"}}).status_code == 204
    event = {
        "event_name": "signed_up",
        "identifiers": {"email_id": "cy@example.com"},
        "contact_properties": {"LASTNAME": "Young", "NEW_ONE": True},
    }
    assert v3(client, site, "POST", "/events", event).status_code == 204
    v2 = client.post(
        "/api/v2/identify",
        headers={"api-key": site.api_key},
        json={"email": "cy@example.com", "attributes": {"BRAND_NEW": "y"}},
    )
    assert v2.status_code == 204
    assert names(app, site) == DEFAULTS
    assert contact(app, site, "cy@example.com").attributes == {"FIRSTNAME": "Cy", "LASTNAME": "Young"}


def test_values_that_do_not_fit_the_type_are_left_out(app: Flask, client: FlaskClient, site: Site) -> None:
    add(app, site, "AGE", AttributeType.FLOAT)
    add(app, site, "BIRTHDAY", AttributeType.DATE)
    add(app, site, "VIP", AttributeType.BOOLEAN)
    collect(client, site, identify("di@example.com", {"AGE": "old", "BIRTHDAY": "yesterday", "VIP": "yes"}))
    assert contact(app, site, "di@example.com").attributes == {}
    collect(client, site, identify("di@example.com", {"AGE": 41.5, "BIRTHDAY": "1985-04-12", "VIP": True}))
    assert contact(app, site, "di@example.com").attributes == {"AGE": 41.5, "BIRTHDAY": "1985-04-12", "VIP": True}


# v3 attribute endpoints


def test_v3_creates_lists_updates_and_deletes_attributes(app: Flask, client: FlaskClient, site: Site) -> None:
    assert v3(client, site, "POST", "/contacts/attributes/normal/loyalty_points", {"type": "float"}).status_code == 201
    assert v3(client, site, "POST", "/contacts/attributes/normal/NICKNAME").status_code == 201  # no body: text
    choices = [{"value": 1, "label": "Bronze"}, {"value": 2, "label": "Gold"}]
    tier = v3(client, site, "POST", "/contacts/attributes/category/TIER", {"type": "category", "enumeration": choices})
    assert tier.status_code == 201 and tier.get_data() == b""

    listed = v3(client, site, "GET", "/contacts/attributes").get_json()["attributes"]
    assert listed[3:] == [
        {"name": "LOYALTY_POINTS", "category": "normal", "type": "float"},
        {"name": "NICKNAME", "category": "normal", "type": "text"},
        {
            "name": "TIER",
            "category": "category",
            "type": "category",
            "enumeration": [
                {"value": 1, "label": "Bronze", "valueStr": "1"},
                {"value": 2, "label": "Gold", "valueStr": "2"},
            ],
        },
    ]
    assert [item["name"] for item in listed[:3]] == DEFAULTS

    event = {
        "event_name": "bought",
        "identifiers": {"email_id": "eve@example.com"},
        "contact_properties": {"LOYALTY_POINTS": 12, "TIER": 2, "NICKNAME": "E"},
    }
    assert v3(client, site, "POST", "/events", event).status_code == 204
    assert (
        v3(
            client,
            site,
            "PUT",
            "/contacts/attributes/category/TIER",
            {"enumeration": [*choices, {"value": 3, "label": "Platinum"}]},
        ).status_code
        == 204
    )
    assert v3(client, site, "PUT", "/contacts/eve@example.com", {"attributes": {"TIER": 3}}).status_code == 204
    assert v3(client, site, "PUT", "/contacts/eve@example.com", {"attributes": {"TIER": 9}}).status_code == 204
    assert contact(app, site, "eve@example.com").attributes == {"LOYALTY_POINTS": 12, "TIER": 3, "NICKNAME": "E"}

    assert v3(client, site, "DELETE", "/contacts/attributes/normal/LOYALTY_POINTS").status_code == 204
    assert contact(app, site, "eve@example.com").attributes == {"TIER": 3, "NICKNAME": "E"}
    assert "LOYALTY_POINTS" not in names(app, site)
    again = v3(client, site, "DELETE", "/contacts/attributes/normal/LOYALTY_POINTS")
    assert again.status_code == 404 and again.get_json()["code"] == "document_not_found"
    wrong_category = v3(client, site, "DELETE", "/contacts/attributes/category/NICKNAME")
    assert wrong_category.status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/contacts/attributes/normal/FIRSTNAME",
            {"type": "text"},
            "attributeName: an attribute named FIRSTNAME already",
        ),
        ("/contacts/attributes/normal/1ST", {"type": "text"}, "attributeName:"),
        ("/contacts/attributes/normal/EMAIL", {}, "attributeName: EMAIL"),
        ("/contacts/attributes/normal/" + "A" * 51, {}, "attributeName:"),
        ("/contacts/attributes/transactional/ORDER_ID", {"type": "id"}, "attributeCategory: 'transactional'"),
        ("/contacts/attributes/global/RATE", {"value": "1"}, "attributeCategory: 'global'"),
        (
            "/contacts/attributes/normal/COLOURS",
            {"type": "multiple-choice", "multiCategoryOptions": ["a"]},
            "multiCategoryOptions:",
        ),
        ("/contacts/attributes/normal/OWNER", {"type": "user"}, "type: 'user' is not supported"),
        (
            "/contacts/attributes/normal/SIZE",
            {"type": "text", "enumeration": [{"value": 1, "label": "S"}]},
            "enumeration:",
        ),
        ("/contacts/attributes/category/SIZE", {"type": "category"}, "enumeration:"),
        (
            "/contacts/attributes/category/SIZE",
            {"enumeration": [{"value": 1, "label": "S"}, {"value": 1, "label": "M"}]},
            "enumeration:",
        ),
        (
            "/contacts/attributes/category/SIZE",
            {"enumeration": [{"value": "one", "label": "S"}]},
            "enumeration[0].value",
        ),
    ],
)
def test_v3_refuses_what_it_does_not_support_with_a_400_naming_the_field(
    app: Flask, client: FlaskClient, site: Site, path: str, body: dict[str, Any], field: str
) -> None:
    answer = v3(client, site, "POST", path, body)
    assert answer.status_code == 400
    assert answer.get_json()["message"].startswith(field), answer.get_json()
    assert names(app, site) == DEFAULTS


def test_v3_update_of_a_normal_attribute_or_an_unknown_one(client: FlaskClient, site: Site) -> None:
    choices = {"enumeration": [{"value": 1, "label": "x"}]}
    normal = v3(client, site, "PUT", "/contacts/attributes/normal/FIRSTNAME", choices)
    assert normal.status_code == 400 and "only a category attribute" in normal.get_json()["message"]
    missing = v3(client, site, "PUT", "/contacts/attributes/category/NOPE", choices)
    assert missing.status_code == 404


def test_attribute_endpoints_need_the_secret_key(client: FlaskClient, site: Site) -> None:
    for method in ("POST", "PUT", "DELETE"):
        answer = client.open(
            "/v3/contacts/attributes/normal/FIRSTNAME", method=method, json={}, headers={"api-key": site.client_key}
        )
        assert answer.status_code == 401


def test_a_site_has_at_most_the_documented_number_of_attributes(app: Flask, client: FlaskClient, site: Site) -> None:
    with db.new_session(app) as session:
        for index in range(sizes.ATTRIBUTES_PER_SITE - len(DEFAULTS)):
            create_attribute(session, site.id, f"EXTRA_{index}", AttributeType.TEXT)
    refused = v3(client, site, "POST", "/contacts/attributes/normal/ONE_MORE", {"type": "text"})
    assert refused.status_code == 400
    assert f"the limit is {sizes.ATTRIBUTES_PER_SITE} per site" in refused.get_json()["message"]
    with db.new_session(app) as session:
        count = session.scalar(select(func.count()).select_from(Attribute).where(Attribute.site_id == site.id))
    assert count == sizes.ATTRIBUTES_PER_SITE


def test_deleting_an_attribute_clears_it_on_contacts_in_batches(
    app: Flask, client: FlaskClient, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("server.contacts.attributes.CLEAR_BATCH", 2)
    add(app, site, "COUNTRY")
    collect(
        client,
        site,
        *(identify(f"c{index}@example.com", {"COUNTRY": "FR", "FIRSTNAME": f"C{index}"}) for index in range(5)),
    )
    collect(client, site, identify("none@example.com", {"FIRSTNAME": "N"}))
    other = create_site_with(app, "COUNTRY")
    collect(client, other, identify("c0@example.com", {"COUNTRY": "DE"}))

    assert v3(client, site, "DELETE", "/contacts/attributes/normal/COUNTRY").status_code == 204
    for index in range(5):
        assert contact(app, site, f"c{index}@example.com").attributes == {"FIRSTNAME": f"C{index}"}
    assert contact(app, other, "c0@example.com").attributes == {"COUNTRY": "DE"}  # another site's keeps its own
    collect(client, site, identify("c0@example.com", {"COUNTRY": "ES"}))
    assert contact(app, site, "c0@example.com").attributes == {"FIRSTNAME": "C0"}


def create_site_with(app: Flask, name: str) -> Site:
    with db.new_session(app) as session:
        other = create_site(session, f"attrs-{uuid.uuid4().hex[:8]}", [], 7200)
        create_attribute(session, other.id, name, AttributeType.TEXT)
        return other


def test_openapi_lists_the_attribute_endpoints(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    operations = paths["/v3/contacts/attributes/{attributeCategory}/{attributeName}"]
    assert set(operations) == {"post", "put", "delete"}
    body = operations["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/V3CreateAttribute")


# The CLI


def test_cli_lists_creates_and_deletes_attributes(app: Flask, client: FlaskClient, site: Site) -> None:
    created = cli(app, "attributes", "create", site.name, "birthday", "--type", "date")
    assert created.exit_code == 0, created.output
    assert "Created attribute BIRTHDAY (date)" in created.output
    listed = cli(app, "attributes", "list", site.name)
    assert listed.output.splitlines() == [f"{name}\tnormal\ttext" for name in DEFAULTS] + ["BIRTHDAY\tnormal\tdate"]

    duplicate = cli(app, "attributes", "create", site.name, "BIRTHDAY")
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    bad_type = cli(app, "attributes", "create", site.name, "X", "--type", "colour")
    assert bad_type.exit_code != 0 and "--type" in bad_type.output

    collect(client, site, identify("fay@example.com", {"BIRTHDAY": "1990-01-02"}))
    deleted = cli(app, "attributes", "delete", site.name, "birthday")
    assert deleted.exit_code == 0, deleted.output
    assert "removed its values from 1 contacts" in deleted.output
    assert contact(app, site, "fay@example.com").attributes == {}
    missing = cli(app, "attributes", "delete", site.name, "BIRTHDAY")
    assert missing.exit_code != 0 and "no attribute" in missing.output
    unknown_site = cli(app, "attributes", "list", "no-such-site")
    assert unknown_site.exit_code != 0 and "no site named" in unknown_site.output


# The dashboard


def test_dashboard_site_page_lists_adds_and_deletes_attributes(
    app: Flask, owner: FlaskClient, client: FlaskClient, site: Site
) -> None:
    page = f"/sites/{site.id}"
    shown = owner.get(page).get_data(as_text=True)
    assert 'id="site-attributes"' in shown and "<code>FIRSTNAME</code>" in shown

    refused = owner.post(f"{page}/attributes", data={"name": "COUNTRY", "type": "text"})
    assert refused.status_code == 400 and "This form has expired" in refused.get_data(as_text=True)
    token = csrf_token(owner, page)
    added = owner.post(f"{page}/attributes", data={"name": "country", "type": "text", "csrf_token": token})
    assert added.status_code == 302
    assert "COUNTRY" in names(app, site)
    assert "Attribute COUNTRY added" in owner.get(page).get_data(as_text=True)

    hostile = owner.post(f"{page}/attributes", data={"name": "<b>x</b>", "type": "text", "csrf_token": token})
    body = hostile.get_data(as_text=True)
    assert hostile.status_code == 400 and "<b>x</b>" not in body and "&lt;b&gt;x&lt;/b&gt;" in body
    duplicate = owner.post(f"{page}/attributes", data={"name": "COUNTRY", "type": "text", "csrf_token": token})
    assert duplicate.status_code == 400 and "already exists" in duplicate.get_data(as_text=True)
    bad_type = owner.post(f"{page}/attributes", data={"name": "AGE", "type": "colour", "csrf_token": token})
    assert bad_type.status_code == 400 and "AGE" not in names(app, site)

    collect(client, site, identify("gil@example.com", {"COUNTRY": "PT", "FIRSTNAME": "Gil"}))
    no_token = owner.post(f"{page}/attributes/COUNTRY/delete")
    assert no_token.status_code == 400 and "COUNTRY" in names(app, site)
    deleted = owner.post(f"{page}/attributes/COUNTRY/delete", data={"csrf_token": token})
    assert deleted.status_code == 302
    assert "COUNTRY" not in names(app, site)
    assert contact(app, site, "gil@example.com").attributes == {"FIRSTNAME": "Gil"}
    assert owner.post(f"{page}/attributes/COUNTRY/delete", data={"csrf_token": token}).status_code == 404
