"""The recovery email's rendering and its SMTP delivery, against a real SMTP server."""

from __future__ import annotations

import re
import socket
import time
from email import message_from_bytes, policy
from typing import Any

import pytest

from server.mail.recovery import recovery_context
from server.mail.render import RenderedEmail
from server.mail.render import render as render_email
from server.mail.smtp import (
    Email,
    Mailer,
    PermanentFailure,
    SmtpSettings,
    TemporaryFailure,
    build_message,
    message_id,
    parse_smtp_url,
)

from .support.guide import GUIDE_CART
from .support.smtp_sink import SmtpSink

UNSUBSCRIBE_URL = "https://sibyl.example/unsubscribe/token"
SHOP_HOSTS = frozenset({"shop.example"})
HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]


def recovery_email(**context: Any) -> RenderedEmail:
    return render_email("recovery", recovery_context(**context))


def render(cart: Any, firstname: str | None = "Thomas", hosts: frozenset[str] = SHOP_HOSTS) -> tuple[str, str]:
    email = recovery_email(
        shop_name="Demo Shop",
        subject="Your cart",
        firstname=firstname,
        cart=cart,
        unsubscribe_url=UNSUBSCRIBE_URL,
        hosts=hosts,
    )
    return email.html, email.text


def an_email(number: int = 1, **fields: Any) -> Email:
    values: dict[str, Any] = {
        "sender": "Demo Shop <shop@shop.example>",
        "recipient": "thomas@example.com",
        "subject": f"Your cart {number}",
        "html": f"<p>Hello <b>{number}</b></p>",
        "text": f"Hello {number}",
        "message_id": message_id(f"cart-{number}", "shop.example"),
    }
    return Email(**{**values, **fields})


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Rendering


def test_the_guide_cart_renders_lines_totals_button_and_greeting() -> None:
    html, text = render(GUIDE_CART)
    for part in (html, text):
        assert "Hi Thomas," in part
        assert "Black shoes" in part and "White shirt" in part
        assert "$180.00" in part and "$100.00" in part
        assert "$280.00" in part
        assert "https://shop.example/cart" in part
        assert "Demo Shop" in part
    assert 'href="https://shop.example/cart"' in html and "Return to your cart" in html
    assert 'src="https://shop.example/img/black-shoes.png"' in html
    assert 'href="https://shop.example/p/white-shirt"' in html
    assert "<script" not in html.lower()
    assert "<html" not in text and "<td" not in text


def test_the_total_is_the_sum_of_line_totals_when_the_cart_has_none() -> None:
    cart = {**GUIDE_CART, "total": "lots"}
    html, text = render(cart)
    assert "$280.00" in html and "$280.00" in text
    assert "lots" not in html


def test_an_unknown_firstname_gets_a_neutral_greeting() -> None:
    html, text = render(GUIDE_CART, firstname=None)
    assert "Hello," in html and "Hello," in text
    assert "Hi " not in html and "Hi " not in text


@pytest.mark.parametrize("payload", HOSTILE)
def test_tracked_markup_is_escaped_in_the_html(payload: str) -> None:
    cart = {**GUIDE_CART, "currency": payload, "items": [{**GUIDE_CART["items"][0], "name": payload}]}
    html, text = render(cart, firstname=payload)
    assert payload not in html
    assert "<script" not in html and "<img src=x" not in html
    escaped = payload.replace("<", "&lt;").replace(">", "&gt;")
    assert f"Hi {escaped}," in html
    assert html.count(escaped) >= 3  # the name (twice: text and alt) and the greeting
    assert payload in text  # the plain-text part shows it as the text it is


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<b>x</b>",
        "//evil.example/x",
        "vbscript:x",
        "https://evil.example\\@shop.example/cart",  # a browser reads the backslash as a slash: evil.example
        "https://evil.example\\.shop.example/cart",
    ],
)
def test_non_http_urls_never_appear(url: str) -> None:
    item = {"name": "Black shoes", "price": 90, "quantity": 2, "url": url, "image": url}
    html, text = render({**GUIDE_CART, "url": url, "items": [item]})
    for part in (html, text):
        assert "script" not in part.lower()
        assert "data:" not in part and "evil" not in part
    assert "Return to your cart" not in html and "<img" not in html
    assert re.findall(r'<a href="([^"]*)"', html) == [UNSUBSCRIBE_URL]  # the only link left
    assert "Black shoes" in html and "$180.00" in html


@pytest.mark.parametrize("hosts", [frozenset({"cdn.shop.example"}), frozenset()])
def test_links_and_images_on_other_hosts_than_the_shops_are_left_out(hosts: frozenset[str]) -> None:
    """A cart comes from the public key: a link elsewhere would make the shop's own email a phishing one."""
    html, text = render(GUIDE_CART, hosts=hosts)
    assert "shop.example/" not in html.replace("cdn.shop.example", "") and "https://shop.example" not in text
    assert re.findall(r'<a href="([^"]*)"', html) == [UNSUBSCRIBE_URL]
    assert "<img" not in html
    assert "Black shoes" in html and "$280.00" in html  # the cart itself is still listed


def test_only_the_listed_hosts_are_linked() -> None:
    cart = {
        **GUIDE_CART,
        "items": [
            {**GUIDE_CART["items"][0], "image": "https://cdn.shop.example/black.jpg"},
            {**GUIDE_CART["items"][1], "url": "https://evil.example/p/white-shirt"},
        ],
    }
    html, _text = render(cart, hosts=frozenset({"shop.example", "cdn.shop.example"}))
    assert 'src="https://cdn.shop.example/black.jpg"' in html
    assert "evil.example" not in html


@pytest.mark.parametrize("price", [1e308, "1" * 40, -1e20])
def test_huge_prices_are_never_printed_as_hundreds_of_digits(price: Any) -> None:
    html, text = render({"items": [{"name": "Gold", "price": price, "quantity": 1}]})
    assert "0" * 30 not in html and "0" * 30 not in text
    assert max(len(line) for line in text.splitlines()) < 120


@pytest.mark.parametrize(
    "cart",
    [
        {},
        {"items": None},
        {"items": "shoes"},
        {"items": [None, 3, "x", [], {}]},
        {"items": [{"name": {"a": 1}, "price": "free", "quantity": [2], "url": 7, "image": None}]},
        {"total": float("nan"), "currency": 5, "url": ["https://x"], "items": [{"price": 1e308, "quantity": True}]},
        "not a cart",
    ],
)
def test_missing_or_odd_fields_do_not_crash(cart: Any) -> None:
    html, text = render(cart)
    assert "Hi Thomas," in html and "Hi Thomas," in text
    assert "Demo Shop" in html and "nan" not in html.lower()


def test_an_item_without_numbers_shows_no_line_total() -> None:
    html, text = render({"currency": "EUR", "items": [{"name": "Gift card", "price": "free", "quantity": 2}]})
    assert "Gift card" in html and "free" in html and "EUR" not in html
    assert "Total" not in html and "Total" not in text


# SMTP settings


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example", SmtpSettings("mail.example", 25)),
        ("smtp://mail.example:2525", SmtpSettings("mail.example", 2525)),
        ("smtps://mail.example", SmtpSettings("mail.example", 465, ssl=True)),
        ("smtp://mail.example:587?starttls=1", SmtpSettings("mail.example", 587, starttls=True)),
        (
            "smtp://me%40shop.example:p%40ss%3Aword@mail.example:587",
            SmtpSettings("mail.example", 587, "me@shop.example", "p@ss:word"),
        ),
    ],
)
def test_smtp_urls_are_parsed(url: str, expected: SmtpSettings) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example",
        "mail.example:25",
        "smtp://",
        "smtp://mail.example:99999",
        "smtp://mail.example:x",
        "smtp://mail.example/path",
        "smtp://mail.example?tls=1",
        "smtps://mail.example?starttls=1",
    ],
)
def test_bad_smtp_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"SMTP URL|smtps://"):
        parse_smtp_url(url)


def test_the_password_is_never_shown() -> None:
    settings = parse_smtp_url("smtp://shop:hunter2secret@mail.example:587")
    assert settings.password == "hunter2secret"
    assert "hunter2secret" not in repr(settings) and "hunter2secret" not in str(settings)
    with pytest.raises(ValueError) as error:
        parse_smtp_url("smtp://shop:hunter2secret@mail.example:bad")
    assert "hunter2secret" not in str(error.value)


def test_message_ids_are_deterministic_per_key() -> None:
    first = message_id("site-1/cart-9/cycle-1", "shop.example")
    assert first == message_id("site-1/cart-9/cycle-1", "shop.example")
    assert first != message_id("site-1/cart-9/cycle-2", "shop.example")
    assert first.startswith("<") and first.endswith("@shop.example>")


def test_the_message_puts_plain_text_first_then_html() -> None:
    message = message_from_bytes(build_message(an_email(headers={"X-Sibyl-Cart": "9"})), policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Date"] and message["X-Sibyl-Cart"] == "9"


# Delivery


def test_a_sent_email_arrives_with_both_parts_its_message_id_and_headers(smtp_sink: SmtpSink) -> None:
    rendered = recovery_email(
        shop_name="Demo Shop",
        subject="Your cart is waiting",
        firstname="Thomas",
        cart=GUIDE_CART,
        unsubscribe_url=UNSUBSCRIBE_URL,
        hosts=SHOP_HOSTS,
    )
    email = an_email(
        subject=rendered.subject, html=rendered.html, text=rendered.text, headers={"X-Sibyl-Cart": "cart-9"}
    )
    with Mailer(parse_smtp_url(smtp_sink.url)) as mailer:
        mailer.send(email)
    [received] = smtp_sink.wait_for(1)
    assert received.get_content_type() == "multipart/alternative"
    plain, html = received.iter_parts()
    assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert "$280.00" in plain.get_content() and "$280.00" in html.get_content()
    assert received["Message-ID"] == email.message_id
    assert received["X-Sibyl-Cart"] == "cart-9"
    assert received["Subject"] == "Your cart is waiting"
    assert received["To"] == "thomas@example.com"
    assert smtp_sink.envelopes == [("shop@shop.example", ["thomas@example.com"])]


def test_three_sends_share_one_connection(smtp_sink: SmtpSink) -> None:
    with Mailer(parse_smtp_url(smtp_sink.url)) as mailer:
        for number in range(3):
            mailer.send(an_email(number))
    received = smtp_sink.wait_for(3)
    assert [message["Subject"] for message in received] == ["Your cart 0", "Your cart 1", "Your cart 2"]
    assert smtp_sink.connections == 1


def test_a_connection_the_server_dropped_is_reopened() -> None:
    sink = SmtpSink(idle_timeout=0.3)
    sink.start()
    try:
        with Mailer(parse_smtp_url(sink.url)) as mailer:
            mailer.send(an_email(1))
            time.sleep(0.8)
            mailer.send(an_email(2))
        assert len(sink.wait_for(2)) == 2
        assert sink.connections == 2
    finally:
        sink.stop()


@pytest.mark.parametrize(
    ("command", "reply", "failure"),
    [
        ("DATA", "451 4.3.0 try later", TemporaryFailure),
        ("DATA", "550 5.1.1 no such user", PermanentFailure),
        ("RCPT", "550 5.1.1 no such user", PermanentFailure),
        ("RCPT", "450 4.2.0 mailbox busy", TemporaryFailure),
    ],
)
def test_smtp_replies_map_to_temporary_or_permanent_failures(
    smtp_sink: SmtpSink, command: str, reply: str, failure: type[Exception]
) -> None:
    smtp_sink.fail_next(1, reply, command)
    with Mailer(parse_smtp_url(smtp_sink.url)) as mailer:
        with pytest.raises(failure) as error:
            mailer.send(an_email(1))
        assert reply.split()[0] in str(error.value)
        mailer.send(an_email(2))  # the connection is still good for the next email
    assert [message["Subject"] for message in smtp_sink.wait_for(1)] == ["Your cart 2"]
    assert smtp_sink.connections == 1


def test_a_header_injection_is_a_permanent_failure_and_sends_nothing(smtp_sink: SmtpSink) -> None:
    with Mailer(parse_smtp_url(smtp_sink.url)) as mailer:
        with pytest.raises(PermanentFailure, match="invalid email"):
            mailer.send(an_email(subject="Hi\r\nBcc: victim@example.com"))
        mailer.send(an_email(2))
    assert [message["Subject"] for message in smtp_sink.wait_for(1)] == ["Your cart 2"]


@pytest.mark.parametrize("recipient", ["v@a.example(1)", "x <v@a.example>", "v@a.example, w@a.example", "V@A.example"])
def test_a_recipient_not_in_its_stored_form_is_refused_before_any_connection(recipient: str) -> None:
    with (
        Mailer(SmtpSettings("127.0.0.1", closed_port()), timeout=2) as mailer,
        pytest.raises(PermanentFailure, match="stored form"),
    ):
        mailer.send(an_email(recipient=recipient))


def test_a_non_ascii_recipient_goes_out_with_smtputf8_or_not_at_all() -> None:
    offering, lacking = SmtpSink(smtputf8=True), SmtpSink()
    for sink in (offering, lacking):
        sink.start()
    try:
        with Mailer(parse_smtp_url(offering.url)) as mailer:
            mailer.send(an_email(recipient="zoé@xn--bcher-kva.example"))
        (received,) = offering.wait_for(1)
        assert received["To"] == "zoé@xn--bcher-kva.example" and received["Subject"] == "Your cart 1"
        assert offering.envelopes == [("shop@shop.example", ["zoé@xn--bcher-kva.example"])]
        assert {"SMTPUTF8", "BODY=8BITMIME"} <= set(offering.mail_options[0])
        with Mailer(parse_smtp_url(lacking.url)) as mailer:
            with pytest.raises(PermanentFailure, match="SMTPUTF8"):
                mailer.send(an_email(recipient="zoé@xn--bcher-kva.example"))
            mailer.send(an_email(2))  # the connection goes on with the next email
        assert [message["To"] for message in lacking.wait_for(1)] == ["thomas@example.com"]
        assert lacking.connections == 1
    finally:
        for sink in (offering, lacking):
            sink.stop()


def test_a_closed_port_is_a_temporary_failure() -> None:
    with (
        Mailer(SmtpSettings("127.0.0.1", closed_port()), timeout=2) as mailer,
        pytest.raises(TemporaryFailure, match="connection"),
    ):
        mailer.send(an_email())


def test_login_uses_the_credentials_and_a_wrong_password_never_leaks() -> None:
    sink = SmtpSink(credentials=("shop", "s3cret-pass"))
    sink.start()
    try:
        with Mailer(parse_smtp_url(sink.url)) as mailer:
            mailer.send(an_email(1))
        assert len(sink.wait_for(1)) == 1
        wrong = parse_smtp_url(sink.url.replace("s3cret-pass", "wrong-pass"))
        with Mailer(wrong) as mailer, pytest.raises(PermanentFailure, match="535") as error:
            mailer.send(an_email(2))
        assert "wrong-pass" not in str(error.value) and "shop:" not in str(error.value)
        with Mailer(SmtpSettings("127.0.0.1", sink.port)) as mailer, pytest.raises(PermanentFailure, match="530"):
            mailer.send(an_email(3))
        assert len(sink.messages) == 1
    finally:
        sink.stop()


@pytest.mark.parametrize(
    ("locale", "currency", "line", "total"),
    [
        ("en_US", "USD", "$180.00", "$280.00"),
        ("fr_FR", "EUR", "180,00\xa0€", "280,00\xa0€"),
        ("de_DE", "EUR", "180,00\xa0€", "280,00\xa0€"),
        ("en_GB", "GBP", "£180.00", "£280.00"),
    ],
)
def test_money_is_written_as_the_shops_locale_writes_it(locale: str, currency: str, line: str, total: str) -> None:
    email = recovery_email(
        shop_name="Shop",
        subject="Your cart",
        firstname="Thomas",
        cart={**GUIDE_CART, "currency": currency},
        unsubscribe_url=UNSUBSCRIBE_URL,
        hosts=SHOP_HOSTS,
        locale=locale,
    )
    for part in (email.html, email.text):
        assert line in part and total in part
