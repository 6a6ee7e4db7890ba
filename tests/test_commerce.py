"""Brevo's v3 e-commerce API with Flask's test client: shapes, validation, limits, and what an order does to carts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server import create_app, db
from server.automation.worker import Worker
from server.commerce.catalogue import enrich_items
from server.dashboard.queries import cart_counts
from server.ingest import sizes
from server.models import Cart, Category, Contact, Event, Order, OutboxEmail, Site, utcnow
from server.sites import create_site

from .support.clicks import link_targets
from .support.dashboard import text_of
from .support.smtp_sink import SmtpSink
from .support.store import Store

ITEMS = [{"name": "Wrist watch", "price": 50, "quantity": 1}]


@pytest.fixture(scope="module")
def app(database_url: str) -> Flask:
    return create_app({"DATABASE_URL": database_url, "WORKER": "external", "RATE_LIMIT": "1000000/minute"})


@pytest.fixture
def site(app: Flask) -> Site:
    with db.new_session(app) as session:
        return create_site(session, f"shop-{uuid.uuid4().hex[:8]}", [], 3600)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Shop:
    """The shop's server calling v3 with its api key."""

    def __init__(self, client: FlaskClient, site: Site) -> None:
        self.client, self.headers = client, {"api-key": site.api_key}

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(f"/v3/{path}", json=body, headers=self.headers)

    def get(self, path: str) -> Any:
        return self.client.get(f"/v3/{path}", headers=self.headers)


@pytest.fixture
def shop(client: FlaskClient, site: Site) -> Shop:
    return Shop(client, site)


def rows(app: Flask, model: Any, site: Site) -> list[Any]:
    with db.new_session(app) as session:
        return list(session.scalars(select(model).where(model.site_id == site.id)))


def order(
    order_id: str = "1001", status: str = "paid", email: str | None = "ann@example.com", **fields: Any
) -> dict[str, Any]:
    return {
        "id": order_id,
        "createdAt": "2024-05-01T10:00:00Z",
        "updatedAt": "2024-05-01T10:05:00Z",
        "status": status,
        "amount": 308.42,
        "products": [{"productId": "P1", "quantity": 2, "price": 99.99}],
        "identifiers": {"email_id": email} if email else {"ext_id": "customer-9"},
        **fields,
    }


def open_cart(shop: Shop, email: str, cart_id: str) -> None:
    event = {
        "event_name": "cart_updated",
        "identifiers": {"email_id": email},
        "event_properties": {"id": cart_id, "data": {"items": ITEMS}},
    }
    assert shop.post("events", event).status_code == 204


def cart_states(app: Flask, site: Site) -> dict[str, tuple[str, str | None]]:
    return {cart.cart_key: (cart.state, cart.closed_reason) for cart in rows(app, Cart, site)}


# The catalogue


def test_the_display_currency_is_eur_until_the_shop_sets_another(client: FlaskClient, shop: Shop) -> None:
    assert shop.get("ecommerce/config/displayCurrency").json == {"code": "EUR"}

    chosen = shop.post("ecommerce/config/displayCurrency", {"code": "usd"})
    assert (chosen.status_code, chosen.json) == (200, {"code": "USD"})
    assert shop.get("ecommerce/config/displayCurrency").json == {"code": "USD"}

    for code in ("EURO", "E1R", "€UR", "aß", "\u0131so", " EUR"):  # "aß", "\u0131so": upper-cased, they are ASCII
        refused = shop.post("ecommerce/config/displayCurrency", {"code": code})
        assert (refused.status_code, refused.json["code"]) == (422, "unprocessable_entity"), code
        assert "ISO 4217" in refused.json["message"]
    for body, problem in (({}, "missing_parameter"), ({"code": 978}, "invalid_parameter")):
        refused = shop.post("ecommerce/config/displayCurrency", body)
        assert (refused.status_code, refused.json["code"]) == (400, problem)
        assert refused.json["message"].startswith("code")
    assert shop.get("ecommerce/config/displayCurrency").json == {"code": "USD"}

    with db.new_session(shop.client.application) as session:
        other = Shop(client, create_site(session, f"other-{uuid.uuid4().hex[:8]}", [], 3600))
    assert other.get("ecommerce/config/displayCurrency").json == {"code": "EUR"}
    assert client.get("/v3/ecommerce/config/displayCurrency").status_code == 401


def test_a_category_is_created_refused_twice_then_updated_with_update_enabled(shop: Shop) -> None:
    created = shop.post(
        "categories", {"id": "shoes", "name": "Shoes", "url": "https://shop.example/shoes", "position": 3}
    )
    assert (created.status_code, created.json) == (201, {"id": "shoes"})

    again = shop.post("categories", {"id": "shoes", "name": "Boots"})
    assert again.status_code == 400
    assert again.json["code"] == "duplicate_parameter" and "shoes" in again.json["message"]

    updated = shop.post("categories", {"id": "shoes", "url": "https://shop.example/boots", "updateEnabled": True})
    assert (updated.status_code, updated.data) == (204, b"")

    one = shop.get("categories/shoes").json
    assert {key: one[key] for key in ("id", "name", "url", "isDeleted", "position")} == {
        "id": "shoes",
        "name": "Shoes",
        "url": "https://shop.example/boots",
        "isDeleted": False,
        "position": 3,
    }
    assert one["createdAt"].endswith("Z") and one["modifiedAt"] >= one["createdAt"]
    assert "updateEnabled" not in one
    listed = shop.get("categories").json
    assert listed["count"] == 1 and listed["categories"] == [one]
    missing = shop.get("categories/sandals")
    assert (missing.status_code, missing.json["code"]) == (404, "document_not_found")


def test_a_category_batch_with_one_bad_item_writes_nothing(app: Flask, shop: Shop, site: Site) -> None:
    bad = shop.post("categories/batch", {"categories": [{"id": "a", "name": "A"}, {"id": "b", "url": 5}]})
    assert bad.status_code == 400 and bad.json["message"].startswith("categories[1].url")
    nameless = shop.post("categories/batch", {"categories": [{"id": "a", "name": "A"}, {"id": "b"}]})
    assert (nameless.status_code, nameless.json["code"]) == (400, "missing_parameter")
    assert "categories[1].name" in nameless.json["message"]
    twice = shop.post("categories/batch", {"categories": [{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]})
    assert twice.status_code == 400 and "twice" in twice.json["message"]
    too_many = [{"id": str(index), "name": "x"} for index in range(sizes.CATALOGUE_BATCH + 1)]
    assert shop.post("categories/batch", {"categories": too_many}).status_code == 400
    assert rows(app, Category, site) == []

    first = shop.post("categories/batch", {"categories": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}]})
    assert (first.status_code, first.json) == (201, {"createdCount": 2, "updatedCount": 0})
    exists = shop.post("categories/batch", {"categories": [{"id": "b", "name": "B2"}, {"id": "c", "name": "C"}]})
    assert exists.status_code == 400 and exists.json["code"] == "duplicate_parameter"
    upsert = shop.post(
        "categories/batch", {"categories": [{"id": "b", "name": "B2"}, {"id": "c", "name": "C"}], "updateEnabled": True}
    )
    assert upsert.json == {"createdCount": 1, "updatedCount": 1}
    assert sorted((row.id, row.name) for row in rows(app, Category, site)) == [("a", "A"), ("b", "B2"), ("c", "C")]


def test_a_product_needs_a_name_only_to_be_created_and_keeps_what_the_shop_sent(shop: Shop) -> None:
    nameless = shop.post("products", {"id": "P1", "price": 10})
    assert (nameless.status_code, nameless.json["code"]) == (400, "missing_parameter")
    assert nameless.json["message"].startswith("name:")
    product = {
        "id": 42,
        "name": "Wrist watch",
        "price": 50,
        "imageUrl": "https://shop.example/w.png",
        "url": "https://shop.example/w",
        "sku": "W-1",
        "categories": ["watches"],
        "metaInfo": {"colour": "red"},
        "vendor": "Acme",
    }
    assert shop.post("products", product).json == {"id": "42"}  # ids are text, as Brevo keeps them
    assert shop.post("products", {"id": "42", "price": 45, "updateEnabled": True}).status_code == 204

    got = shop.get("products/42").json
    assert {
        key: got[key] for key in ("id", "name", "price", "imageUrl", "sku", "categories", "metaInfo", "vendor")
    } == {
        "id": "42",
        "name": "Wrist watch",
        "price": 45,
        "imageUrl": "https://shop.example/w.png",
        "sku": "W-1",
        "categories": ["watches"],
        "metaInfo": {"colour": "red"},
        "vendor": "Acme",
    }
    assert got["s3ThumbEditor"] == "https://shop.example/w.png" and got["isDeleted"] is False
    assert shop.get("products/43").status_code == 404


def test_products_are_listed_with_brevos_filters(shop: Shop) -> None:
    batch = {
        "products": [
            {"id": "a", "name": "Red shoe", "price": 30, "categories": ["shoes"]},
            {"id": "b", "name": "Blue shoe", "price": 20, "categories": ["shoes", "sale"]},
            {"id": "c", "name": "Hat", "price": 10, "categories": ["hats"], "isDeleted": True},
        ]
    }
    assert shop.post("products/batch", batch).json == {"createdCount": 3, "updatedCount": 0}

    def ids(query: str) -> tuple[list[str], int]:
        answer = shop.get(f"products?{query}")
        assert answer.status_code == 200, answer.json
        return [product["id"] for product in answer.json["products"]], answer.json["count"]

    assert ids("ids=a&ids=c") == (["c", "a"], 2)  # newest first, as Brevo sorts by default
    assert ids("ids=a,c&sort=asc") == (["a", "c"], 2)
    assert ids("name=shoe&sortByField=price&sort=asc") == (["b", "a"], 2)
    assert ids("categories=sale&categories=hats&sortByField=id&sort=asc") == (["b", "c"], 2)
    assert ids("isDeleted=false&sortByField=name&sort=asc") == (["b", "a"], 2)
    assert ids("price[lte]=20&sortByField=price") == (["b", "c"], 2)
    assert ids("sortByField=id&sort=asc&limit=1&offset=1") == (["b"], 3)
    for bad in ("name=ab", "sortByField=colour", "isDeleted=maybe", "limit=0", "limit=1001", "price[lt]=cheap"):
        answer = shop.get(f"products?{bad}")
        assert (answer.status_code, answer.json["message"].split(":")[0]) == (400, bad.split("=")[0]), bad


def test_one_item_over_the_size_limit_is_refused(shop: Shop) -> None:
    huge = {
        "id": "big",
        "name": "Big",
        "description": "x" * sizes.COMMERCE_TEXT_CHARS,
        "notes": "y" * sizes.COMMERCE_DOCUMENT_BYTES,
    }
    answer = shop.post("products", huge)
    assert answer.status_code == 400 and "bytes" in answer.json["message"]


def test_enrich_items_fills_what_the_catalogue_knows_and_the_items_own_values_win(
    app: Flask, shop: Shop, site: Site
) -> None:
    shop.post(
        "products",
        {
            "id": "P1",
            "name": "Wrist watch",
            "price": 50,
            "imageUrl": "https://shop.example/w.png",
            "url": "https://shop.example/w",
        },
    )
    shop.post("products", {"id": "7", "name": "Strap"})
    items = [
        {"id": "P1", "quantity": 2},
        {"productId": 7, "name": "Leather strap", "price": ""},
        {"product_id": "unknown", "name": "Mystery"},
        "not an item",
    ]
    with db.new_session(app) as session:
        enriched = enrich_items(session, site.id, items)
    assert enriched == [
        {
            "id": "P1",
            "quantity": 2,
            "name": "Wrist watch",
            "image": "https://shop.example/w.png",
            "price": 50,
            "url": "https://shop.example/w",
        },
        {"productId": 7, "name": "Leather strap", "price": ""},  # the catalogue has no price for it
        {"product_id": "unknown", "name": "Mystery"},
        "not an item",
    ]
    assert items[0] == {"id": "P1", "quantity": 2}  # the items given are left as they were
    with app.app_context(), db.new_session(app) as session:
        assert enrich_items(session.connection(), site.id, items) == enriched


# Orders


def test_an_order_is_refused_naming_its_field(app: Flask, shop: Shop, site: Site) -> None:
    cases = {
        "amount": ({key: value for key, value in order().items() if key != "amount"}, "missing_parameter"),
        "createdAt": (order(createdAt="yesterday"), "invalid_parameter"),
        "identifiers": (order(identifiers={}), "invalid_parameter"),
        "body": ({key: value for key, value in order().items() if key != "identifiers"}, "invalid_parameter"),
        "products[0]": (
            order(products=[{"productId": "P1", "price": 1, "quantity": 1, "quantityFloat": 1.5}]),
            "invalid_parameter",
        ),
        "identifiers.email_id": (order(email="not an address"), "invalid_parameter"),
    }
    for field, (body, code) in cases.items():
        answer = shop.post("orders/status", body)
        assert (answer.status_code, answer.json["code"]) == (400, code), field
        assert answer.json["message"].startswith(field), answer.json
    batch = shop.post("orders/status/batch", {"orders": [order("1"), order("2", amount=float("nan"))]})
    assert batch.status_code == 400
    too_many = shop.post("orders/status/batch", {"orders": [order(str(index)) for index in range(1001)]})
    assert too_many.status_code in (400, 413)
    assert rows(app, Order, site) == []


def test_a_paid_order_closes_every_open_cart_of_its_contact(app: Flask, shop: Shop, site: Site) -> None:
    open_cart(shop, "ann@example.com", "cart:1")
    open_cart(shop, "ann@example.com", "cart:2")
    open_cart(shop, "bob@example.com", "cart:3")
    assert shop.post("orders/status", order("A-77", status="pending")).status_code == 204
    assert set(cart_states(app, site).values()) == {("open", None)}

    assert shop.post("orders/status", order("A-77", status="Paid")).status_code == 204
    assert cart_states(app, site) == {
        "cart:1": ("closed", "ordered"),
        "cart:2": ("closed", "ordered"),
        "cart:3": ("open", None),
    }
    (event,) = [event for event in rows(app, Event, site) if event.name == "order_completed"]
    assert event.eventdata is not None and "id" not in event.eventdata
    assert event.eventdata["data"]["order_id"] == "A-77" and event.eventdata["data"]["total"] == 308.42
    assert event.eventdata["data"]["products"] == [{"productId": "P1", "quantity": 2, "price": 99.99}]
    (stored,) = rows(app, Order, site)
    assert (stored.status, stored.amount, stored.email) == ("Paid", 308.42, "ann@example.com")
    assert stored.contact_id is not None

    open_cart(shop, "ann@example.com", "cart:4")  # a later status of the same order closes nothing new
    assert shop.post("orders/status", order("A-77", status="completed")).status_code == 204
    assert cart_states(app, site)["cart:4"] == ("open", None)


def test_a_historical_batch_is_only_stored_and_a_live_one_closes_carts(app: Flask, shop: Shop, site: Site) -> None:
    open_cart(shop, "ann@example.com", "cart:1")
    historical = shop.post("orders/status/batch", {"orders": [order("H-1"), order("H-2", email="bob@example.com")]})
    assert historical.status_code == 202
    assert historical.json["count"] == 2 and isinstance(historical.json["batchId"], int)
    assert cart_states(app, site) == {"cart:1": ("open", None)}

    live = shop.post("orders/status/batch", {"orders": [order("L-1")], "historical": False})
    assert live.status_code == 202
    assert cart_states(app, site) == {"cart:1": ("closed", "ordered")}
    listed = shop.get("orders?sort=asc").json
    assert listed["count"] == 3 and [item["id"] for item in listed["orders"]] == ["H-1", "H-2", "L-1"]
    assert listed["orders"][0]["identifiers"] == {"email_id": "ann@example.com"}


def test_an_order_as_thelias_module_sends_it_closes_carts_too(app: Flask, shop: Shop, site: Site) -> None:
    open_cart(shop, "ann@example.com", "cart:1")
    thelia = {key: value for key, value in order("ORD000123").items() if key != "identifiers"}
    thelia |= {
        "email": "ann@example.com",
        "coupon": "WELCOME",
        "products": [{"productId": "REF-1", "quantity": 1.0, "price": 12.5}],
    }
    assert (
        shop.client.post(
            "/v3/orders/status", json=thelia, headers={**shop.headers, "ma-key": "the site's public key"}
        ).status_code
        == 204
    )
    assert cart_states(app, site) == {"cart:1": ("closed", "ordered")}
    assert shop.get("orders").json["orders"][0]["coupon"] == "WELCOME"  # kept as sent


def test_an_order_for_an_unknown_contact_is_stored_without_creating_one(app: Flask, shop: Shop, site: Site) -> None:
    assert shop.post("orders/status", order("U-1", email="nobody@example.com")).status_code == 204
    assert shop.post("orders/status", order("U-2", email=None)).status_code == 204
    assert [(row.id, row.contact_id) for row in sorted(rows(app, Order, site), key=lambda row: row.id)] == [
        ("U-1", None),
        ("U-2", None),
    ]
    assert rows(app, Contact, site) == []


def test_erasing_a_contact_erases_its_orders(app: Flask, shop: Shop, site: Site) -> None:
    shop.post("orders/status", order("E-1", email="ann@example.com"))  # stored before the contact existed
    assert shop.post("contacts", {"email": "ann@example.com"}).status_code == 201
    shop.post("orders/status", order("E-2", email="ann@example.com"))
    shop.post("orders/status", order("E-3", email="bob@example.com"))
    assert shop.client.delete("/v3/contacts/ann@example.com", headers=shop.headers).status_code == 204
    assert [row.id for row in rows(app, Order, site)] == ["E-3"]


def test_the_catalogue_and_orders_belong_to_their_site(app: Flask, client: FlaskClient, shop: Shop) -> None:
    shop.post("products", {"id": "P1", "name": "Mine"})
    with db.new_session(app) as session:
        other = Shop(client, create_site(session, f"other-{uuid.uuid4().hex[:8]}", [], 3600))
    assert other.get("products/P1").status_code == 404
    assert other.post("products", {"id": "P1", "name": "Theirs"}).status_code == 201
    assert (shop.get("products/P1").json["name"], other.get("products/P1").json["name"]) == ("Mine", "Theirs")
    assert client.get("/v3/products", headers={"api-key": "wrong"}).status_code == 401


# What the catalogue and orders do for the recovery email and the dashboard


def emails_after_the_deadline(app: Flask, store: Store, site: Site, smtp_url: str | None = None) -> list[OutboxEmail]:
    """Run the worker once the delay has passed (the site's carts arranged as received three hours ago, so that
    what the shop sends next comes after the email), and read the site's outbox (held, unless `smtp_url` gives the
    worker a mail server to send through)."""
    store.leave_only_carts_of(site)
    store.receive_carts_at(site, utcnow() - timedelta(hours=3))
    settings = {"DATABASE_URL": app.config["DATABASE_URL"], "WORKER": "external", "SMTP_URL": smtp_url}
    Worker(create_app(settings) if smtp_url else app, clock=utcnow).run_pass()
    return rows(app, OutboxEmail, site)


def links_to_the_shop(app: Flask, site: Site) -> None:
    """Emails of the site may link to and show images from shop.example, where these tests' products are."""
    with db.new_session(app) as session:
        session.get_one(Site, site.id).email_hosts = ["shop.example"]
        session.commit()


def test_a_cart_of_segment_products_stays_open_and_its_email_lists_them(
    app: Flask, client: FlaskClient, store: Store, site: Site
) -> None:
    """RudderStack forwards Segment's e-commerce properties: lines under `products`, their image as `image_url`."""
    links_to_the_shop(app, site)
    products = [
        {
            "product_id": "P1",
            "name": "Track Pants",
            "price": 22,
            "quantity": 2,
            "image_url": "https://shop.example/track-pants.png",
            "url": "https://shop.example/p/track-pants",
        }
    ]
    body = {
        "email": "rudder@example.com",
        "event": "cart_updated",
        "eventdata": {"id": "cart-7", "data": {"products": products, "currency": "EUR"}},
    }
    assert client.post("/api/v2/trackEvent", json=body, headers={"ma-key": site.client_key}).status_code == 204
    assert cart_states(app, site) == {"cart-7": ("open", None)}
    [email] = emails_after_the_deadline(app, store, site)
    assert "Track Pants" in email.html and "https://shop.example/track-pants.png" in email.html
    assert "€44.00" in email.text


def test_a_line_naming_only_its_product_is_shown_from_the_catalogue(
    app: Flask, shop: Shop, store: Store, site: Site
) -> None:
    links_to_the_shop(app, site)
    product = {
        "id": "W-1",
        "name": "Wrist watch",
        "price": 50,
        "url": "https://shop.example/p/watch",
        "imageUrl": "https://shop.example/img/watch.png",
    }
    assert shop.post("products", product).status_code == 201
    event = {
        "event_name": "cart_updated",
        "identifiers": {"email_id": "ann@example.com"},
        "event_properties": {"id": "cart-1", "data": {"items": [{"id": "W-1", "quantity": 2}]}},
    }
    assert shop.post("events", event).status_code == 204
    [email] = emails_after_the_deadline(app, store, site)
    assert "Wrist watch" in email.html
    assert "https://shop.example/p/watch" in link_targets(email.html, store.app.config["SECRET_KEY"])
    assert "https://shop.example/img/watch.png" in email.html
    assert "100.00" in email.text


def test_the_order_that_closes_an_emailed_cart_is_recovered_revenue(
    app: Flask, shop: Shop, store: Store, site: Site, owner: FlaskClient, smtp_sink: SmtpSink
) -> None:
    open_cart(shop, "ann@example.com", "cart-1")
    assert len(emails_after_the_deadline(app, store, site, smtp_sink.url)) == 1
    smtp_sink.wait_for(1)  # sent: an email held for want of a mail server would recover nothing
    assert shop.post("orders/status", order(status="completed")).status_code == 204
    assert cart_states(app, site) == {"cart-1": ("closed", "ordered")}
    with db.new_session(app) as session:
        counts = cart_counts(session, site.id)
    assert (counts.recovered, counts.recovered_revenue) == (1, 308.42)
    page = owner.get(f"/?site={site.id}")
    revenue = text_of(page.get_data(as_text=True), "recovered-revenue")
    assert revenue == "Revenue recovered · 30 days 308.42 in those orders"  # the order said no currency


def test_an_order_before_the_email_is_no_recovered_revenue(app: Flask, shop: Shop, site: Site) -> None:
    open_cart(shop, "ann@example.com", "cart-1")
    assert shop.post("orders/status", order(status="paid")).status_code == 204
    with db.new_session(app) as session:
        counts = cart_counts(session, site.id)
    assert (counts.recovered, counts.cancelled, counts.recovered_revenue) == (0, 1, 0)
