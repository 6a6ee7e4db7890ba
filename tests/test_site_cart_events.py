"""The site page's Cart events card (Flask's test client): the three recipes to copy, the same as the docs give, and
the warning about item images emails would not show, judged by URL, with the offending URLs shown as text."""

from __future__ import annotations

import html
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.dashboard.cart_recipes import RECIPES
from server.mail.image_formats import ImageProblem, image_problem
from server.models import Site

from .support.browser import BROWSER_HEADERS
from .support.dashboard import text_of
from .support.sites import new_site

DOCS = Path(__file__).parent.parent / "docs" / "tracker.md"
SHOP = "https://shop.example"
HOSTILE_IMAGE = f"{SHOP}/img/<script>alert('cart')</script>.svg"


@pytest.fixture
def site(app: Flask) -> Site:
    return new_site(app, "carts", origins=[SHOP])


def send_cart(client: FlaskClient, site: Site, *images: str) -> None:
    """A shopper's cart_updated with a line per image, posted to /collect as the tracker posts it."""
    items = [{"name": f"Item {n}", "price": 10, "quantity": 1, "image": image} for n, image in enumerate(images)]
    message = {
        "id": str(uuid.uuid4()),
        "type": "track",
        "name": "cart_updated",
        "properties": {},
        "eventdata": {"id": f"cart:{uuid.uuid4().hex[:6]}", "data": {"items": items, "total": 10, "currency": "USD"}},
    }
    body = {"key": site.client_key, "cuid": uuid.uuid4().hex, "messages": [message]}
    answer = client.post("/collect", data=json.dumps(body), content_type="text/plain", headers=BROWSER_HEADERS)
    assert answer.status_code == 200, answer.get_data(as_text=True)


def site_page(owner: FlaskClient, site: Site) -> str:
    answer = owner.get(f"/sites/{site.id}")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def recipe_on(page: str, event: str) -> str:
    """The code of a recipe as the page shows it (and its copy button copies: the block's text)."""
    match = re.search(rf'<pre class="code" id="recipe-{event}"[^>]*>(.*?)</pre>', page, re.DOTALL)
    assert match, f"no recipe for {event}"
    return html.unescape(match.group(1))


def test_the_site_page_gives_the_three_cart_events_to_copy(owner: FlaskClient, site: Site) -> None:
    page = site_page(owner, site)
    for event in ("cart_updated", "order_completed", "cart_deleted"):
        code = recipe_on(page, event)
        assert code.startswith(f"sendinblue.track('{event}',")
        assert "id: 'CART_ID'" in code
        assert f'data-copy="recipe-{event}"' in page
    updated = recipe_on(page, "cart_updated")
    for field in ("items:", "name:", "price:", "quantity:", "image:", "url:", "total:", "currency:"):
        assert field in updated
    assert ".png'" in updated and "/cart/restore/CART_TOKEN" in updated
    advice = text_of(page, "cart-link-advice")
    assert "cart token" in advice and "phone" in advice
    assert "quantity changed" in page and "not only from an Update cart button" in page


def test_the_docs_give_the_same_recipes() -> None:
    docs = DOCS.read_text()
    for recipe in RECIPES:
        assert f"```js\n{recipe.code}\n```" in docs


def test_svg_and_http_images_are_warned_about_by_url(owner: FlaskClient, client: FlaskClient, site: Site) -> None:
    send_cart(client, site, f"{SHOP}/img/shoes.png", f"{SHOP}/img/hat.svg", "http://shop.example/img/bag.jpg")
    send_cart(client, site, f"{SHOP}/img/socks.webp?v=3")
    warning = text_of(site_page(owner, site), "image-warning")  # each URL, then why: "URL : why"
    assert f"{SHOP}/img/hat.svg : {ImageProblem.SVG.value}" in warning
    assert f"http://shop.example/img/bag.jpg : {ImageProblem.HTTP.value}" in warning
    assert f"{SHOP}/img/socks.webp?v=3 : {ImageProblem.WEBP.value}" in warning
    assert "shoes.png" not in warning


def test_https_png_jpeg_and_gif_images_raise_no_warning(owner: FlaskClient, client: FlaskClient, site: Site) -> None:
    send_cart(client, site, f"{SHOP}/a.png", f"{SHOP}/b.JPG?width=200", f"{SHOP}/c.jpeg", f"{SHOP}/d.gif")
    page = site_page(owner, site)
    assert 'id="image-warning"' not in page
    assert recipe_on(page, "cart_deleted")  # the card is there, without the warning


def test_another_sites_carts_are_not_warned_about(app: Flask, owner: FlaskClient, client: FlaskClient) -> None:
    ours, theirs = new_site(app, "ours", origins=[SHOP]), new_site(app, "theirs", origins=[SHOP])
    send_cart(client, theirs, f"{SHOP}/logo.svg")
    assert 'id="image-warning"' not in site_page(owner, ours)
    assert 'id="image-warning"' in site_page(owner, theirs)


def test_an_offending_url_is_shown_as_text(owner: FlaskClient, client: FlaskClient, site: Site) -> None:
    send_cart(client, site, HOSTILE_IMAGE)
    page = site_page(owner, site)
    assert "<script>alert('cart')" not in page
    assert "&lt;script&gt;alert(&#39;cart&#39;)&lt;/script&gt;.svg" in page
    assert HOSTILE_IMAGE in text_of(page, "image-warning")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://shop.example/a.png", None),
        ("https://cdn.shop.example/p/a.JPEG?v=1#x", None),
        ("https://shop.example/images/42", None),  # no extension: the URL does not say, so it passes
        ("https://shop.example/a.gif", None),
        ("https://shop.example/a.svg", ImageProblem.SVG),
        ("https://shop.example/a.svgz", ImageProblem.SVG),
        ("https://shop.example/a.webp?x.png", ImageProblem.WEBP),
        ("https://shop.example/a.avif", ImageProblem.OTHER_FORMAT),
        ("http://shop.example/a.png", ImageProblem.HTTP),
        ("/images/a.png", ImageProblem.NOT_HTTPS_URL),
        ("data:image/png;base64,AAAA", ImageProblem.NOT_HTTPS_URL),
        ("javascript:alert(1)//a.png", ImageProblem.NOT_HTTPS_URL),
        ("https://[::1/a.png", ImageProblem.NOT_HTTPS_URL),
    ],
)
def test_which_image_urls_mail_apps_show(url: str, problem: Any) -> None:
    assert image_problem(url) is problem
