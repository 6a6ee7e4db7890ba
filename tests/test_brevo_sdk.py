"""The official Brevo Python SDK (`brevo-python`) as the client of the receiver's v3 API.

Every call goes through the SDK, pointed at `RECEIVER/v3` with the site's api key, exactly as a
shop's backend would use it against Brevo. The SDK parses answers without validating them (a
missing field turns into None), so the tests check the fields themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from brevo import (
    BadRequestError,
    Brevo,
    CreateUpdateBatchCategoryRequestCategoriesItem,
    CreateUpdateBatchProductsRequestProductsItem,
    NotFoundError,
    Order,
    OrderIdentifiers,
    OrderProductsItem,
    UnauthorizedError,
)
from brevo.core.api_error import ApiError
from sqlalchemy import select

from server import db
from server.models import Cart, Site

from .support.servers import Process
from .support.store import Store

DEFAULT_ATTRIBUTES = {"FIRSTNAME", "LASTNAME", "SMS"}


def sdk(receiver: Process, api_key: str) -> Brevo:
    """The SDK as documented, without retries so that a 5xx or 409 shows at once."""
    return Brevo(api_key=api_key, base_url=f"{receiver.url}/v3", max_retries=0, timeout=10)


@pytest.fixture
def brevo(receiver: Process, site: Site) -> Brevo:
    return sdk(receiver, site.api_key)


def new_email(name: str = "shopper") -> str:
    return f"{name}.{uuid.uuid4().hex[:10]}@example.com"


def attributes(contact: Any) -> dict[str, Any]:
    """A contact's attributes as a dict (the SDK keeps them as extra fields of a model)."""
    assert contact.attributes is not None
    document: dict[str, Any] = contact.attributes.dict()
    return document


def moment(minutes_ago: float) -> datetime:
    """A UTC time in the recent past, to the millisecond (Brevo's precision)."""
    when = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def parse_brevo_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_sdk_creates_a_contact_and_reads_it_back_by_email_and_by_id(brevo: Brevo) -> None:
    email = new_email("ada+lovelace")
    created = brevo.contacts.with_raw_response.create_contact(
        email=email.replace("ada", "Ada"), attributes={"FIRSTNAME": "Ada", "LASTNAME": "Lovelace"}
    )
    assert created.status_code == 201
    assert created.data is not None and isinstance(created.data.id, int)
    contact_id = created.data.id

    by_email = brevo.contacts.get_contact_info(email)
    assert by_email.id == contact_id
    assert by_email.email == email  # stored lower-case, found by the plain address
    assert attributes(by_email) == {"FIRSTNAME": "Ada", "LASTNAME": "Lovelace"}
    assert (by_email.email_blacklisted, by_email.sms_blacklisted, by_email.whatsapp_blacklisted) == (
        False,
        False,
        False,
    )
    assert by_email.list_ids == []
    assert by_email.statistics is not None
    for stamp in (by_email.created_at, by_email.modified_at):
        assert isinstance(stamp, str) and stamp.endswith("Z")
        assert abs(parse_brevo_time(stamp) - datetime.now(UTC)) < timedelta(minutes=5)

    by_id = brevo.contacts.get_contact_info(contact_id)
    assert by_id == by_email
    assert brevo.contacts.get_contact_info(str(contact_id), identifier_type="contact_id") == by_email
    assert brevo.contacts.get_contact_info(email, identifier_type="email_id") == by_email


def test_sdk_create_contact_twice_is_a_duplicate_unless_update_is_enabled(brevo: Brevo) -> None:
    email = new_email()
    created = brevo.contacts.create_contact(email=email, attributes={"FIRSTNAME": "Ada", "LASTNAME": "Lovelace"})
    assert created is not None and isinstance(created.id, int)

    with pytest.raises(BadRequestError) as duplicate:
        brevo.contacts.create_contact(email=email, attributes={"FIRSTNAME": "Someone else"})
    assert duplicate.value.body["code"] == "duplicate_parameter"

    again = brevo.contacts.create_contact(email=email, attributes={"LASTNAME": "King"}, update_enabled=True)
    assert again is None or again.id == created.id  # Brevo answers 204 with no body
    contact = brevo.contacts.get_contact_info(email)
    assert contact.id == created.id
    assert attributes(contact) == {"FIRSTNAME": "Ada", "LASTNAME": "King"}

    fresh = brevo.contacts.create_contact(email=new_email(), update_enabled=True)
    assert fresh is not None and isinstance(fresh.id, int) and fresh.id != created.id


def test_sdk_update_contact_changes_only_the_given_attributes(brevo: Brevo) -> None:
    email = new_email()
    created = brevo.contacts.create_contact(email=email, attributes={"FIRSTNAME": "Ada", "LASTNAME": "Lovelace"})
    assert created is not None

    updated = brevo.contacts.with_raw_response.update_contact(email, attributes={"LASTNAME": "King"})
    assert (updated.status_code, updated.data) == (204, None)
    assert attributes(brevo.contacts.get_contact_info(email)) == {"FIRSTNAME": "Ada", "LASTNAME": "King"}

    brevo.contacts.update_contact(created.id, identifier_type="contact_id", attributes={"FIRSTNAME": "Augusta"})
    assert attributes(brevo.contacts.get_contact_info(created.id)) == {"FIRSTNAME": "Augusta", "LASTNAME": "King"}

    with pytest.raises(NotFoundError):
        brevo.contacts.update_contact(new_email("nobody"), attributes={"FIRSTNAME": "Nobody"})


def test_sdk_lists_contacts_with_limit_offset_sort_and_count(brevo: Brevo) -> None:
    emails = [new_email(f"c{index}") for index in range(3)]
    ids = []
    for index, email in enumerate(emails):
        created = brevo.contacts.create_contact(email=email, attributes={"FIRSTNAME": f"C{index}"})
        assert created is not None
        ids.append(created.id)

    oldest_first = brevo.contacts.get_contacts(sort="asc")
    assert oldest_first.count == 3
    assert [contact.email for contact in oldest_first.contacts] == emails
    assert [contact.id for contact in oldest_first.contacts] == ids
    assert [attributes(contact)["FIRSTNAME"] for contact in oldest_first.contacts] == ["C0", "C1", "C2"]
    first = oldest_first.contacts[0]
    assert isinstance(first.created_at, str) and isinstance(first.modified_at, str)
    assert (first.email_blacklisted, first.sms_blacklisted, first.list_ids) == (False, False, [])

    page_one = brevo.contacts.get_contacts(limit=2, offset=0, sort="asc")
    page_two = brevo.contacts.get_contacts(limit=2, offset=2, sort="asc")
    assert (page_one.count, page_two.count) == (3, 3)
    assert [contact.email for contact in page_one.contacts] == emails[:2]
    assert [contact.email for contact in page_two.contacts] == emails[2:]

    newest_first = brevo.contacts.get_contacts()
    assert [contact.email for contact in newest_first.contacts] == emails[::-1]

    since_long_ago = brevo.contacts.get_contacts(modified_since="2000-01-01T00:00:00.000Z")
    assert since_long_ago.count == 3
    since_tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    nothing = brevo.contacts.get_contacts(modified_since=since_tomorrow)
    assert (nothing.count, nothing.contacts) == (0, [])


def test_sdk_lists_the_default_attributes(brevo: Brevo) -> None:
    listing = brevo.contacts.get_attributes()
    assert listing.attributes is not None
    by_name = {attribute.name: attribute for attribute in listing.attributes}
    assert by_name.keys() >= DEFAULT_ATTRIBUTES
    for name in DEFAULT_ATTRIBUTES:
        assert (by_name[name].category, by_name[name].type) == ("normal", "text")


def test_sdk_creates_updates_and_deletes_attributes(brevo: Brevo) -> None:
    created = brevo.contacts.with_raw_response.create_attribute("normal", "LOYALTY", type="float")
    assert created.status_code == 201
    brevo.contacts.create_attribute("category", "TIER", enumeration=[{"value": 1, "label": "Bronze"}])
    with pytest.raises(BadRequestError) as duplicate:
        brevo.contacts.create_attribute("normal", "LOYALTY", type="text")
    assert duplicate.value.body["code"] == "duplicate_parameter"
    with pytest.raises(BadRequestError) as unsupported:
        brevo.contacts.create_attribute("calculated", "TOTAL", value="SUM[ORDER_PRICE]")
    assert unsupported.value.body["message"].startswith("attributeCategory")

    listing = {attribute.name: attribute for attribute in brevo.contacts.get_attributes().attributes or []}
    assert (listing["LOYALTY"].category, listing["LOYALTY"].type) == ("normal", "float")
    assert listing["TIER"].category == "category"
    assert [(item.value, item.label) for item in listing["TIER"].enumeration or []] == [(1, "Bronze")]

    updated = brevo.contacts.with_raw_response.update_attribute(
        "category", "TIER", enumeration=[{"value": 1, "label": "Bronze"}, {"value": 2, "label": "Gold"}]
    )
    assert updated.status_code == 204
    email = new_email()
    brevo.contacts.create_contact(email=email, attributes={"LOYALTY": 7, "TIER": 2, "UNKNOWN": "left out"})
    assert attributes(brevo.contacts.get_contact_info(email)) == {"LOYALTY": 7, "TIER": 2}

    deleted = brevo.contacts.with_raw_response.delete_attribute("normal", "LOYALTY")
    assert deleted.status_code == 204
    assert attributes(brevo.contacts.get_contact_info(email)) == {"TIER": 2}
    with pytest.raises(ApiError) as missing:
        brevo.contacts.delete_attribute("normal", "LOYALTY")
    assert missing.value.status_code == 404
    with pytest.raises(NotFoundError):
        brevo.contacts.update_attribute("category", "NOPE", enumeration=[{"value": 1, "label": "x"}])


def test_sdk_event_updates_the_contact_and_is_listed_by_name_and_contact(brevo: Brevo) -> None:
    email, other_email = new_email("grace"), new_email("alan")
    created = brevo.contacts.create_contact(email=email, attributes={"FIRSTNAME": "Ada", "LASTNAME": "Hopper"})
    assert created is not None
    played_at, paused_at, other_played_at = moment(3), moment(2), moment(1)
    properties = {"title": "Intro", "seconds": 42, "autoplay": True, "tags": ["a", "b"], "player": {"speed": 2}}

    sent = brevo.event.with_raw_response.create_event(
        event_name="video_played",
        identifiers={"email_id": email},
        contact_properties={"FIRSTNAME": "Grace"},
        event_properties=properties,
        event_date=played_at,
    )
    assert 200 <= sent.status_code < 300
    brevo.event.create_event(event_name="video_paused", identifiers={"contact_id": created.id}, event_date=paused_at)
    brevo.event.create_event(
        event_name="video_played", identifiers={"email_id": other_email}, event_date=other_played_at
    )

    contact = brevo.contacts.get_contact_info(email)
    assert attributes(contact) == {"FIRSTNAME": "Grace", "LASTNAME": "Hopper"}
    other = brevo.contacts.get_contact_info(other_email)  # an event creates its contact
    assert other.id != contact.id

    played = brevo.event.get_events(event_name="video_played", contact_id=contact.id)
    assert played.count == 1 and played.events is not None and len(played.events) == 1
    event = played.events[0]
    assert (event.event_name, event.contact_id) == ("video_played", contact.id)
    assert event.event_properties == properties
    assert isinstance(event.event_date, datetime) and event.event_date == played_at

    of_contact = brevo.event.get_events(contact_id=contact.id)
    assert of_contact.count == 2
    assert [item.event_name for item in of_contact.events or []] == ["video_paused", "video_played"]

    by_name = brevo.event.get_events(event_name="video_played")
    assert by_name.count == 2
    assert [item.contact_id for item in by_name.events or []] == [other.id, contact.id]

    both = brevo.event.get_events(contact_id=[contact.id, other.id], event_name=["video_played", "video_paused"])
    assert both.count == 3
    first_page = brevo.event.get_events(contact_id=[contact.id, other.id], limit=1, offset=1)
    assert first_page.count == 3
    assert [item.event_name for item in first_page.events or []] == ["video_paused"]


def test_sdk_batch_of_events(brevo: Brevo, store: Store, site: Site) -> None:
    email, newcomer = new_email("batch"), new_email("newcomer")
    created = brevo.contacts.create_contact(email=email)
    assert created is not None

    accepted = brevo.event.with_raw_response.create_batch_events(
        events=[
            {"event_name": "page_scrolled", "identifiers": {"email_id": email}, "event_properties": {"depth": 50}},
            {
                "event_name": "page_scrolled",
                "identifiers": {"contact_id": created.id},
                "event_date": moment(1).isoformat().replace("+00:00", "Z"),
                "event_properties": {"depth": 90},
            },
            {
                "event_name": "newsletter_opened",
                "identifiers": {"email_id": newcomer},
                "contact_properties": {"FIRSTNAME": "Newt"},
            },
        ]
    )
    assert accepted.status_code == 202
    assert accepted.data.count == 3
    assert isinstance(accepted.data.message, str) and accepted.data.message

    scrolled = brevo.event.get_events(contact_id=created.id)
    assert scrolled.count == 2
    assert sorted(item.event_properties["depth"] for item in scrolled.events or []) == [50, 90]
    newcomer_contact = brevo.contacts.get_contact_info(newcomer)
    assert attributes(newcomer_contact) == {"FIRSTNAME": "Newt"}
    opened = brevo.event.get_events(event_name="newsletter_opened")
    assert [item.contact_id for item in opened.events or []] == [newcomer_contact.id]

    with pytest.raises(BadRequestError) as rejected:
        brevo.event.create_batch_events(events=[{"event_name": "page_scrolled", "identifiers": {}}])
    assert rejected.value.body["failed_events"] == 1
    assert rejected.value.body["errors"][0]["eventIndex"] == [0]
    assert len(store.events(site, kind="track")) == 3


def test_sdk_deleted_contact_is_not_found_afterwards(brevo: Brevo) -> None:
    email = new_email()
    created = brevo.contacts.create_contact(email=email, attributes={"FIRSTNAME": "Gone"})
    assert created is not None
    assert brevo.contacts.get_contact_info(email).id == created.id

    deleted = brevo.contacts.with_raw_response.delete_contact(email)
    assert (deleted.status_code, deleted.data) == (204, None)
    with pytest.raises(NotFoundError) as missing:
        brevo.contacts.get_contact_info(email)
    assert missing.value.body["code"] == "document_not_found"
    with pytest.raises(NotFoundError):
        brevo.contacts.get_contact_info(created.id)
    with pytest.raises(NotFoundError):
        brevo.contacts.delete_contact(email)
    with pytest.raises(NotFoundError):
        brevo.contacts.update_contact(email, attributes={"FIRSTNAME": "Back"})
    assert brevo.contacts.get_contacts().count == 0

    by_id = brevo.contacts.create_contact(email=new_email())
    assert by_id is not None
    brevo.contacts.delete_contact(by_id.id, identifier_type="contact_id")
    with pytest.raises(NotFoundError):
        brevo.contacts.get_contact_info(by_id.id)


def contact_calls(client: Brevo, email: str) -> list[Callable[[], object]]:
    return [
        lambda: client.contacts.create_contact(email=email),  # an empty 401 body would read as success
        lambda: client.contacts.get_contact_info(email),
        lambda: client.contacts.update_contact(email, attributes={"FIRSTNAME": "X"}),
        lambda: client.contacts.delete_contact(email),
        lambda: client.contacts.get_contacts(),
        lambda: client.contacts.get_attributes(),
    ]


def test_sdk_with_a_wrong_api_key_is_unauthorized(receiver: Process, store: Store, site: Site) -> None:
    email = new_email()
    for key in ("xkeysib-" + "0" * 64, site.client_key):
        wrong = sdk(receiver, key)
        with pytest.raises(UnauthorizedError):
            wrong.event.get_events()
        with pytest.raises(UnauthorizedError):
            wrong.event.create_event(event_name="cart_updated", identifiers={"email_id": email})
        with pytest.raises(UnauthorizedError):
            wrong.event.create_batch_events(events=[{"event_name": "x", "identifiers": {"email_id": email}}])
        # The SDK's contact methods have no class of their own for 401: a plain ApiError with the status.
        for call in contact_calls(wrong, email):
            with pytest.raises(ApiError) as refused:
                call()
            assert refused.value.status_code == 401
            assert refused.value.body["code"] == "unauthorized"
    assert store.contact(site, email) is None
    assert store.events(site) == []


def test_sdk_sites_do_not_see_each_others_contacts(receiver: Process, store: Store, brevo: Brevo) -> None:
    email = new_email()
    created = brevo.contacts.create_contact(email=email)
    assert created is not None
    other = sdk(receiver, store.create_site().api_key)
    with pytest.raises(NotFoundError):
        other.contacts.get_contact_info(email)
    with pytest.raises(NotFoundError):
        other.contacts.get_contact_info(created.id)
    with pytest.raises(NotFoundError):
        other.contacts.delete_contact(created.id)
    assert other.contacts.get_contacts().count == 0
    assert brevo.contacts.get_contact_info(email).id == created.id


def test_sdk_cart_updated_event_feeds_the_store(brevo: Brevo, store: Store, site: Site) -> None:
    """Brevo's documented `cart_updated` (properties and event data) sent through v3 by the SDK."""
    email = new_email("john.doe")
    cart = {
        "id": "cart:1234",
        "data": {
            "total": 280,
            "currency": "USD",
            "url": "www.example.com",
            "items": [
                {
                    "name": "Black shoes",
                    "price": 90,
                    "quantity": 2,
                    "url": "www.example.com/black-shoes",
                    "image": "www.example.com/black-shoes.jpg",
                }
            ],
        },
    }
    brevo.event.create_event(
        event_name="cart_updated",
        identifiers={"email_id": email},
        contact_properties={"FIRSTNAME": "John", "LASTNAME": "Doe"},
        event_properties=cart,
    )

    contact = store.contact(site, email)
    assert contact is not None
    assert contact.attributes == {"FIRSTNAME": "John", "LASTNAME": "Doe"}
    stored = store.events(site, kind="track")
    assert [(event.name, event.contact_id) for event in stored] == [("cart_updated", contact.id)]

    seen = brevo.contacts.get_contact_info(email)
    assert (seen.id, attributes(seen)) == (contact.id, {"FIRSTNAME": "John", "LASTNAME": "Doe"})
    listed = brevo.event.get_events(event_name="cart_updated", contact_id=contact.id)
    assert listed.count == 1 and listed.events is not None
    assert listed.events[0].event_properties == cart


def test_sdk_explicit_none_arguments_are_sent_as_null_and_accepted(brevo: Brevo) -> None:
    """The SDK omits arguments left out but sends those passed as None as JSON null."""
    email = new_email()
    created = brevo.contacts.create_contact(
        email=email, attributes=None, ext_id=None, list_ids=None, email_blacklisted=None, update_enabled=None
    )
    assert created is not None and isinstance(created.id, int)
    brevo.contacts.update_contact(email, attributes=None, list_ids=None, sms_blacklisted=None)
    brevo.event.create_event(
        event_name="signed_up",
        identifiers={"email_id": email, "contact_id": None},
        contact_properties=None,
        event_properties=None,
        event_date=None,
    )
    contact = brevo.contacts.get_contact_info(email)
    assert (contact.id, attributes(contact)) == (created.id, {})
    assert brevo.event.get_events(contact_id=created.id).count == 1


# E-commerce (`brevo.ecommerce`): the catalogue and orders


def test_sdk_creates_updates_and_reads_categories_and_products(brevo: Brevo) -> None:
    brevo.ecommerce.activate_the_e_commerce_app()
    category = brevo.ecommerce.with_raw_response.create_update_category(id="watches", name="Watches")
    assert category.status_code == 201 and category.data is not None and category.data.id == "watches"
    batch = brevo.ecommerce.create_update_batch_category(
        categories=[
            CreateUpdateBatchCategoryRequestCategoriesItem(id="watches", name="All watches"),
            CreateUpdateBatchCategoryRequestCategoriesItem(
                id="straps", name="Straps", url="https://shop.example/straps"
            ),
        ],
        update_enabled=True,
    )
    assert (batch.created_count, batch.updated_count) == (1, 1)
    assert brevo.ecommerce.get_category_info("watches").name == "All watches"
    categories = brevo.ecommerce.get_categories(sort="asc")
    assert categories.count == 2 and [item.id for item in categories.categories] == ["watches", "straps"]

    created = brevo.ecommerce.with_raw_response.create_update_product(
        id="P1",
        name="Wrist watch",
        price=50.0,
        image_url="https://shop.example/w.png",
        categories=["watches"],
        meta_info={"colour": "red"},
    )
    assert created.status_code == 201 and created.data is not None and created.data.id == "P1"
    with pytest.raises(BadRequestError) as duplicate:
        brevo.ecommerce.create_update_product(id="P1", name="Wrist watch")
    assert duplicate.value.body["code"] == "duplicate_parameter"
    updated = brevo.ecommerce.with_raw_response.create_update_product(id="P1", name="Watch", update_enabled=True)
    assert (updated.status_code, updated.data) == (204, None)
    products = brevo.ecommerce.create_update_batch_products(
        products=[
            CreateUpdateBatchProductsRequestProductsItem(
                id="P2", name="Leather strap", price=15.0, categories=["straps"]
            ),
            CreateUpdateBatchProductsRequestProductsItem(
                id="P3", name="Steel strap", price=25.0, categories=["straps"]
            ),
        ]
    )
    assert (products.created_count, products.updated_count) == (2, 0)

    one = brevo.ecommerce.get_product_info("P1")
    assert (one.name, one.price, one.image_url, one.categories, one.meta_info) == (
        "Watch",
        50.0,
        "https://shop.example/w.png",
        ["watches"],
        {"colour": "red"},
    )
    straps = brevo.ecommerce.get_products(
        ids=["P1", "P2", "P3"], categories=["straps"], sort_by_field="price", sort="asc"
    )
    assert straps.count == 2 and [item.id for item in straps.products] == ["P2", "P3"]
    with pytest.raises(NotFoundError):
        brevo.ecommerce.get_product_info("P9")


def order_fields(order_id: str, email: str, status: str = "paid") -> dict[str, Any]:
    """An order as the SDK's `create_order` takes it, keyword by keyword."""
    return {
        "id": order_id,
        "created_at": "2024-05-01T10:00:00Z",
        "updated_at": "2024-05-01T10:05:00Z",
        "status": status,
        "amount": 65.0,
        "identifiers": OrderIdentifiers(email_id=email),
        "products": [
            OrderProductsItem(product_id="P1", price=50.0, quantity=1),
            OrderProductsItem(product_id="P2", price=15.0, quantity=1),
        ],
    }


def test_sdk_orders_a_paid_one_closes_the_contacts_carts(brevo: Brevo, site: Site, store: Store) -> None:
    email = new_email()
    brevo.event.create_event(
        event_name="cart_updated",
        identifiers={"email_id": email},
        event_properties={"id": "cart-1", "data": {"items": [{"productId": "P1"}]}},
    )
    with store.app.app_context(), db.new_session(store.app) as session:
        assert session.scalar(select(Cart.state).where(Cart.site_id == site.id)) == "open"

    historical = brevo.ecommerce.create_batch_order(orders=[Order(**order_fields("H-1", email))])
    assert historical.count == 1 and historical.batch_id is not None
    with store.app.app_context(), db.new_session(store.app) as session:
        assert session.scalar(select(Cart.state).where(Cart.site_id == site.id)) == "open"  # an import: no effect

    sent = brevo.ecommerce.with_raw_response.create_order(**order_fields("O-1", email))
    assert sent.status_code == 204
    with store.app.app_context(), db.new_session(store.app) as session:
        cart = session.scalars(select(Cart).where(Cart.site_id == site.id)).one()
        assert (cart.state, cart.closed_reason) == ("closed", "ordered")
    listed = brevo.ecommerce.get_orders(sort="asc")
    assert listed["count"] == 2 and [item["id"] for item in listed["orders"]] == ["H-1", "O-1"]
    with pytest.raises(BadRequestError) as refused:
        brevo.ecommerce.create_order(**{**order_fields("O-2", email), "amount": -1e16})
    assert refused.value.body["message"].startswith("amount")
