"""A template rendered for the dashboard: whom for (a built-in sample, or a contact of the site and its latest cart),
shown in a sandboxed frame that can run nothing, or written to the outbox as a test email (a few an hour)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..contacts.addresses import InvalidAddress, email_address, normalise_email
from ..email_templates.brand import sender_of
from ..email_templates.compose import email_variables, render_preheader, render_template, shop_variables
from ..email_templates.finishing import FinishingError
from ..email_templates.language import TemplateError
from ..email_templates.store import Template
from ..mail.outbox import Sender, outbox_row, queue
from ..mail.render import RenderedEmail
from ..models import Cart, Contact, OutboxEmail, Site
from ..sites import email_hosts

# The frame's document may show the email's own styles and images and nothing else: no script, no form, no plugin,
# in an origin of its own (`sandbox`) even when opened outside its frame, and framed by the dashboard only.
PREVIEW_POLICY = (
    "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
    "sandbox; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
TEST_SENDS_PER_HOUR = 20  # per site: a stolen account cannot make the shop's server a spammer
TEST_KEY_PREFIX = "test-"
SAMPLE_EMAIL = "sample.contact@example.com"
SAMPLE_ATTRIBUTES = {"FIRSTNAME": "Alex", "LASTNAME": "Sample"}
_SAMPLE_ITEMS = (
    ("Linen shirt", "linen-shirt", 49, 1),
    ("Canvas tote", "canvas-tote", 18.5, 2),
    ("Wool socks", "wool-socks", 12, 3),
)


class PreviewRefused(ValueError):
    """A preview or a test send that cannot be made, naming the field: `contact: …`, `address: …`."""


class SendLimitReached(PreviewRefused):
    """The site wrote its test emails of the hour already."""


@dataclass(frozen=True)
class Recipient:
    """Whom a preview is written for: the variables its template sees, and how the page names them."""

    label: str
    email: str
    attributes: dict[str, Any]
    params: Any
    properties: dict[str, Any]


def sample_recipient(site: Site) -> Recipient:
    """The built-in sample contact, with a cart of three items on the shop's first origin."""
    shop = shop_variables(site, email_hosts(site))["url"]
    items = [
        {
            "id": slug,
            "name": name,
            "price": price,
            "quantity": quantity,
            "url": f"{shop}/products/{slug}" if shop else "",
        }
        for name, slug, price, quantity in _SAMPLE_ITEMS
    ]
    cart = {
        "id": "sample-cart",
        "currency": site.display_currency or "EUR",
        "items": items,
        "total": sum(price * quantity for _name, _slug, price, quantity in _SAMPLE_ITEMS),
        "url": f"{shop}/cart" if shop else "",
    }
    page = {"ma_title": _SAMPLE_ITEMS[0][0], "ma_url": items[0]["url"]}
    return Recipient("the sample contact", SAMPLE_EMAIL, dict(SAMPLE_ATTRIBUTES), cart, page)


def recipient_for(session: Session, site: Site, address: str) -> Recipient:
    """The sample when `address` is blank, else the site's contact of that email with its latest cart (none: no
    items); PreviewRefused when the site has no such contact."""
    if not address.strip():
        return sample_recipient(site)
    stored = normalise_email(address)
    contact = (
        session.scalars(select(Contact).where(Contact.site_id == site.id, Contact.email == stored)).one_or_none()
        if stored
        else None
    )
    if contact is None or contact.email is None:
        raise PreviewRefused(f"contact: {site.name} has no contact with the address {address.strip()[:254]}")
    cart = session.scalars(
        select(Cart.snapshot).where(Cart.contact_id == contact.id).order_by(Cart.updated_at.desc()).limit(1)
    ).first()
    return Recipient(contact.email, contact.email, dict(contact.attributes or {}), cart or {}, {})


def from_of(site: Site) -> str:
    """Whom the site's emails are from: its own sender where set, else the server's."""
    return sender_of(site, str(current_app.config["MAIL_FROM"]))


def preview_unsubscribe_url() -> str:
    """The unsubscribe link of a preview or a test: a link that names no contact, so following it does nothing."""
    return f"{str(current_app.config['PUBLIC_URL']).rstrip('/')}/unsubscribe/preview"


@dataclass(frozen=True)
class Preview:
    """A template rendered for one recipient: the email as sent, and the preview text inboxes show."""

    email: RenderedEmail
    preheader: str


def render_for(site: Site, template: Template, recipient: Recipient) -> Preview:
    """The email as `recipient` would get it; PreviewRefused saying why it cannot be rendered."""
    hosts = email_hosts(site)
    link = preview_unsubscribe_url()
    variables = email_variables(
        shop=shop_variables(site, hosts),
        email=recipient.email,
        attributes=recipient.attributes,
        params=recipient.params,
        properties=recipient.properties,
        unsubscribe_url=link,
        hosts=hosts,
    )
    try:
        email = render_template(template, variables, hosts=hosts, unsubscribe_url=link)
        preheader = render_preheader(template, variables)
    except (TemplateError, FinishingError) as error:
        raise PreviewRefused(f"cannot render: {error}") from None
    return Preview(email, preheader)


def sends_left_this_hour(session: Session, site_id: int, now: datetime) -> int:
    """How many more test emails the site may write this hour (counted from the outbox's `test-` keys)."""
    written = session.scalar(
        select(func.count())
        .select_from(OutboxEmail)
        .where(
            OutboxEmail.site_id == site_id,  # the site's hour of emails, through its index on site and time
            OutboxEmail.created_at > now - timedelta(hours=1),
            OutboxEmail.dedupe_key.startswith(TEST_KEY_PREFIX, autoescape=True),
        )
    )
    return max(0, TEST_SENDS_PER_HOUR - (written or 0))


def send_test(
    session: Session, site: Site, template: Template, recipient: Recipient, address: str, now: datetime
) -> dict[str, Any]:
    """Write the template, rendered for `recipient`, to the outbox as one test email to `address` (no contact, run
    or cart: the worker delivers it like any email, or holds it without an SMTP server); the caller commits.
    PreviewRefused for an address that is not one, past the hourly limit, or a template that cannot be rendered; the
    outbox row written otherwise."""
    try:
        to = email_address(address)
    except InvalidAddress as error:
        raise PreviewRefused(f"address: not one valid email address ({error})") from None
    if sends_left_this_hour(session, site.id, now) == 0:
        raise SendLimitReached(f"address: at most {TEST_SENDS_PER_HOUR} test emails an hour; try again later")
    rendered = render_for(site, template, recipient).email
    sender = Sender(str(current_app.config["MAIL_FROM"]), delivers=bool(current_app.config["SMTP_URL"]))
    subject = f"[Test] {rendered.subject}"[:255]
    row = outbox_row(
        sender,
        f"{TEST_KEY_PREFIX}{template.name[:50]}-{uuid.uuid4().hex}",
        site_id=site.id,
        cart_id=None,
        contact_id=None,
        recipient=to,
        rendered=RenderedEmail(subject=subject, html=rendered.html, text=rendered.text),
        unsubscribe_url=preview_unsubscribe_url(),
        now=now,
        template=(template.name, template.version),
        sender_address=from_of(site),
    )
    queue(session, [row])
    return row
