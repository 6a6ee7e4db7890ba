"""A rendered email made ready to send: links and images on the shop's hosts only, no active content, a visible
unsubscribe link, the preheader, CSS inlined, and a text part.

The HTML is read with lxml (libxml2), which keeps a whole document's `<head>` and `<style>` blocks (nh3 cleans body
fragments only) and gives a tree on which every URL and CSS value is checked; CSS is read with tinycss2, so that no
escape in it hides a `url(…)`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any

import css_inline
import lxml.etree
import lxml.html
import tinycss2
from inscriptis import Inscriptis
from inscriptis.model.config import ParserConfig

from ..mail.recovery import UNSAFE_URL_CHARS, web_url
from ..mail.tracked_links import Tracking

MAX_BYTES = 1_000_000  # of the HTML, the text part or the preheader, in UTF-8
MAX_CSS_NESTING = 32  # blocks and functions within one CSS value, or at-rules within each other


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Kept with their attributes checked; an element of no list is dropped and its content kept (`<font>` too, as
# written: the list is of what renders in mail clients, not of HTML's elements).
_KEPT = _names(
    "html head title meta style body a abbr address article aside b bdi bdo big blockquote br caption center cite "
    "code col colgroup dd del details dfn div dl dt em figcaption figure font footer h1 h2 h3 h4 h5 h6 header hr i "
    "img ins kbd li main mark nav ol p picture pre q rp rt ruby s samp section small source span strike strong sub "
    "summary sup table tbody td tfoot th thead time tr tt u ul var wbr"
)
# Dropped with their content: active content, forms, other namespaces, and elements whose text a browser parses
# otherwise than libxml2 does (the way markup hides past a cleaner).
_DROPPED = _names(
    "script noscript template iframe frame frameset object embed applet param form input button select option "
    "optgroup textarea datalist output keygen base link svg math portal dialog canvas audio video track noembed "
    "noframes xmp plaintext listing bgsound"
)
_EMPTY_TO_BROWSERS = _names("source wbr")  # libxml2 lets them hold what follows them
_URL_ATTRIBUTES = _names(
    "href src srcset background action formaction poster cite longdesc lowsrc dynsrc usemap ping data codebase "
    "manifest icon profile archive classid xlink:href"
)
_LINK_SCHEMES = ("mailto:", "tel:")
_ACTIVE_SCHEMES = ("javascript:", "vbscript:")
_KEPT_HTTP_EQUIV = frozenset({"x-ua-compatible"})
_IGNORED_IN_ATTRIBUTES = re.compile(r"[\x00-\x20]")  # browsers read `java\tscript:` as `javascript:`
_WHOLE_DOCUMENT = re.compile(r"<(?:html|head|body)[\s>/]", re.IGNORECASE)

_CSS_URL_FUNCTIONS = frozenset({"url", "src"})
_CSS_URL_LIST_FUNCTIONS = frozenset({"image-set", "-webkit-image-set"})  # their strings are URLs
_CSS_ACTIVE_FUNCTIONS = frozenset({"expression"})
_CSS_ACTIVE_PROPERTIES = frozenset({"behavior", "-ms-behavior", "-moz-binding"})
_CSS_RULE_GROUPS = frozenset({"media", "supports", "container", "layer", "keyframes", "-webkit-keyframes"})
_CSS_DECLARATION_BLOCKS = frozenset({"font-face", "page"})
_HIDING = {"display": {"none"}, "visibility": {"hidden", "collapse"}, "opacity": {"0"}, "font-size": {"0", "0px"}}

_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
_TEXT = ParserConfig(display_links=True, display_images=True)
_PREHEADER_STYLE = (
    "display:none;max-height:0;max-width:0;overflow:hidden;opacity:0;font-size:1px;line-height:1px;"
    "color:transparent;mso-hide:all"
)
_PREVIEW_FILLER = "\u200c\u00a0" * 40  # keeps mail clients from filling the preview with the email's first lines
_FOOTER_STYLE = "margin:24px 0 0;padding:16px 0;font-size:12px;line-height:18px;color:#71717a;text-align:center"
_PIXEL_STYLE = "display:block;width:1px;height:1px;border:0"
_FOOTER_LINK_STYLE = "color:#71717a;text-decoration:underline"


class FinishingError(ValueError):
    """The email cannot be finished as given: too large, or nested too deeply to read."""


@dataclass(frozen=True)
class FinishedEmail:
    html: str
    text: str


@dataclass(frozen=True)
class _Allowed:
    """Where the email's links and images may point."""

    hosts: frozenset[str]
    unsubscribe_url: str

    def resource(self, value: str) -> bool:
        """A plain http(s) URL on one of the shop's hosts: an image, a background, a stylesheet's font (the rule
        of the links in the built-in cart email)."""
        return web_url(value, self.hosts) is not None

    def link(self, value: str) -> bool:
        """A link's target: the shop's, the unsubscribe URL, or an address to write to or call."""
        url = value.strip()
        if url == self.unsubscribe_url or self.resource(url):
            return True
        return url.lower().startswith(_LINK_SCHEMES) and not UNSAFE_URL_CHARS.search(url)


def finish(
    html: str,
    *,
    hosts: Collection[str],
    unsubscribe_url: str,
    preheader: str = "",
    text: str = "",
    tracking: Tracking | None = None,
) -> FinishedEmail:
    """`html` (a whole document or a fragment, untrusted values already escaped) as it is sent, and its text part:
    `text` when given, else the HTML's text with each link's URL; both carry `unsubscribe_url`. With `tracking`, the
    links to the shop go through its click redirect, and the open pixel closes the body when the site has it on."""
    source = _bounded("html", html)
    _bounded("text", text)
    _bounded("preheader", preheader)
    allowed = _Allowed(frozenset(host.lower() for host in hosts), unsubscribe_url)
    inlined = _INLINER.inline(_document_html(_clean(_parse(source), allowed)))
    document = _clean(_parse(_bounded("html once its CSS is inlined", inlined)), allowed)
    body = _part(document, "body")
    if preheader.strip():
        _add_first(body, _preheader(preheader))
    if not any(_visible_link(link, unsubscribe_url) for link in body.iter("a")):
        body.append(_footer(unsubscribe_url))
    if tracking is not None:
        _track_links(body, tracking)
        text = tracking.text(text)
    text_part = _text_part(text, document, unsubscribe_url)
    pixel = tracking.pixel_url() if tracking is not None else None
    if pixel is not None:  # after the text part is read, in which an image would show
        body.append(lxml.html.Element("img", src=pixel, width="1", height="1", alt="", style=_PIXEL_STYLE))
    whole = bool(_WHOLE_DOCUMENT.search(html))
    if whole:
        _add_first(_part(document, "head"), lxml.html.Element("meta", charset="utf-8"))
    return FinishedEmail(
        html=_document_html(document) if whole else _fragment_html(document),
        text=text_part,
    )


def _bounded(field: str, value: str) -> bytes:
    encoded = value.encode("utf-8", "replace")
    if len(encoded) > MAX_BYTES:
        raise FinishingError(f"{field}: {len(encoded):,} bytes, over the {MAX_BYTES:,} an email may have")
    return encoded


def _parse(source: bytes) -> lxml.html.HtmlElement:
    """The document, its character set UTF-8 whatever a `<meta>` in it says, without comments (Outlook reads
    markup in its conditional ones)."""
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True)
    try:
        document = lxml.html.document_fromstring(source, parser=parser)
    except lxml.etree.ParserError:  # nothing but blanks and comments
        document = lxml.html.document_fromstring(b"<html><body></body></html>")
    if any(error.type == lxml.etree.ErrorTypes.ERR_RESOURCE_LIMIT for error in parser.error_log):
        raise FinishingError("html: elements nested too deeply (more than 255 levels)")
    return document


def _part(document: lxml.html.HtmlElement, tag: str) -> lxml.html.HtmlElement:
    """The document's `<head>` or `<body>`, added when the HTML had none."""
    found = document.find(tag)
    if found is None:
        found = lxml.html.Element(tag)
        document.insert(0 if tag == "head" else len(document), found)
    return found


def _clean(document: lxml.html.HtmlElement, allowed: _Allowed) -> lxml.html.HtmlElement:
    """The document with what may not be sent taken out, in place: dropped elements with their content, unknown
    ones without their tags, attributes that run code or point elsewhere, CSS that points elsewhere."""
    stack = [document]
    while stack:
        element = stack.pop()
        name = element.tag.lower() if isinstance(element.tag, str) else None
        if name is None or name in _DROPPED or (name == "meta" and not _kept_meta(element)):
            element.drop_tree()
            continue
        if name not in _KEPT:
            stack.extend(element)
            element.drop_tag()
            continue
        _clean_attributes(element, name, allowed)
        if name in _EMPTY_TO_BROWSERS:
            stack.extend(element)
            _spill(element, keep=not _left_empty(element, name, allowed))
        elif _left_empty(element, name, allowed):
            element.drop_tree()
        else:
            stack.extend(element)
    return document


def _spill(element: lxml.html.HtmlElement, *, keep: bool) -> None:
    """What libxml2 put inside an element that browsers know to be empty, moved after it as they read it; the
    element itself kept only when `keep`."""
    if keep:
        element.addprevious(lxml.html.Element(element.tag, dict(element.attrib)))
    element.drop_tag()


def _kept_meta(element: lxml.html.HtmlElement) -> bool:
    """Named metadata (`viewport`); not a character set (the email's is UTF-8) nor a refresh to another page."""
    http_equiv = element.get("http-equiv")
    return element.get("charset") is None and (http_equiv is None or http_equiv.lower() in _KEPT_HTTP_EQUIV)


def _clean_attributes(element: lxml.html.HtmlElement, tag: str, allowed: _Allowed) -> None:
    for name, value in list(element.attrib.items()):
        if not _attribute_allowed(tag, name.lower(), value, allowed):
            del element.attrib[name]
        elif name.lower() in _URL_ATTRIBUTES:
            element.set(name, value.strip())  # written out as is: lxml escapes the spaces around a URL as %20
        elif name.lower() == "style":
            declarations = _clean_style(value, allowed.hosts)
            if declarations:
                element.set(name, declarations)
            else:
                del element.attrib[name]


def _attribute_allowed(tag: str, name: str, value: str, allowed: _Allowed) -> bool:
    if name.startswith("on") or _runs_code(value):
        return False
    if name == "srcset":
        return _srcset_allowed(value, allowed)
    if name == "href" and tag == "a":
        return allowed.link(value)
    return name not in _URL_ATTRIBUTES or allowed.resource(value)


def _runs_code(value: str) -> bool:
    """`javascript:` or `vbscript:` anywhere in an attribute's value, spaced out or not."""
    squeezed = _IGNORED_IN_ATTRIBUTES.sub("", value).lower()
    return any(scheme in squeezed for scheme in _ACTIVE_SCHEMES)


def _srcset_allowed(value: str, allowed: _Allowed) -> bool:
    """Every candidate's URL on the shop's hosts (a URL with a comma in it splits, and so fails)."""
    candidates = [candidate.split() for candidate in value.split(",") if candidate.strip()]
    return bool(candidates) and all(allowed.resource(candidate[0]) for candidate in candidates)


def _left_empty(element: lxml.html.HtmlElement, name: str, allowed: _Allowed) -> bool:
    """Whether a cleaned element has nothing left to show: an image without its picture, a style without rules."""
    if name == "img":
        return element.get("src") is None
    if name == "source":
        return element.get("src") is None and element.get("srcset") is None
    if name == "style":
        element.text = _clean_stylesheet(element.text or "", allowed.hosts)
        return not element.text
    return False


@lru_cache(maxsize=256)
def _clean_stylesheet(css: str, hosts: frozenset[str]) -> str:
    """The rules that point nowhere else; nothing when what is left would end its `<style>` element early. Once
    per process for each stylesheet and shop (a template's is the same in each of its emails)."""
    allowed = _Allowed(hosts, "")
    cleaned = _clean_rules(tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True), allowed, 1)
    return "" if "</" in cleaned else cleaned


def _clean_rules(rules: Iterable[Any], allowed: _Allowed, depth: int) -> str:
    """Style rules with their declarations cleaned, inside `@media` and its kin too; no `@import`, no unknown
    at-rule."""
    kept = []
    for rule in rules:
        if (
            rule.type not in ("qualified-rule", "at-rule")
            or rule.content is None
            or not _css_allowed(rule.prelude, allowed)
        ):
            continue
        prelude = tinycss2.serialize(rule.prelude).strip()
        if rule.type == "qualified-rule":
            kept.append(f"{prelude}{{{_clean_declarations(rule.content, allowed)}}}")
        elif rule.lower_at_keyword in _CSS_RULE_GROUPS and depth < MAX_CSS_NESTING:
            inner = tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True)
            kept.append(f"@{rule.lower_at_keyword} {prelude}{{{_clean_rules(inner, allowed, depth + 1)}}}")
        elif rule.lower_at_keyword in _CSS_DECLARATION_BLOCKS:
            kept.append(f"@{rule.lower_at_keyword} {prelude}{{{_clean_declarations(rule.content, allowed)}}}")
    return "\n".join(kept)


@lru_cache(maxsize=4096)
def _clean_style(style: str, hosts: frozenset[str]) -> str:
    """A `style` attribute cleaned, once per process for each style and shop: inlined CSS repeats the same few styles
    on many elements, in every email of a template (what is allowed in CSS depends on the hosts only)."""
    return _clean_declarations(style, _Allowed(hosts, ""))


def _clean_declarations(css: str | list[Any], allowed: _Allowed) -> str:
    """The declarations (`color: red; background: url(…)`) whose values point nowhere else and run nothing."""
    items = tinycss2.parse_blocks_contents(css, skip_comments=True, skip_whitespace=True)
    return "; ".join(
        item.serialize().strip()
        for item in items
        if item.type == "declaration"
        and item.lower_name not in _CSS_ACTIVE_PROPERTIES
        and _css_allowed(item.value, allowed)
    )


def _css_allowed(tokens: Iterable[Any], allowed: _Allowed) -> bool:
    """Whether a CSS value's every URL is on the shop's hosts, with no `expression()` and no nesting past
    MAX_CSS_NESTING (so that writing it back out never recurses deeply)."""
    stack = [(token, 1) for token in tokens]
    while stack:
        token, depth = stack.pop()
        if depth > MAX_CSS_NESTING or (token.type == "url" and not allowed.resource(token.value)):
            return False
        if token.type == "function" and not _css_function_allowed(token, allowed):
            return False
        children = token.arguments if token.type == "function" else getattr(token, "content", None)
        if isinstance(children, list):
            stack.extend((child, depth + 1) for child in children)
    return True


def _css_function_allowed(function: Any, allowed: _Allowed) -> bool:
    name = function.lower_name
    strings = [token for token in function.arguments if token.type not in ("whitespace", "comment")]
    if name in _CSS_URL_FUNCTIONS:
        return len(strings) == 1 and strings[0].type == "string" and allowed.resource(strings[0].value)
    if name in _CSS_URL_LIST_FUNCTIONS:
        return all(allowed.resource(token.value) for token in strings if token.type == "string")
    return name not in _CSS_ACTIVE_FUNCTIONS


def _visible_link(link: lxml.html.HtmlElement, url: str) -> bool:
    """A link to `url` with text, hidden neither by itself nor by what holds it (`hidden`, `display:none`,
    `visibility:hidden`, `opacity:0`, `font-size:0`)."""
    if link.get("href", "").strip() != url or not link.text_content().strip():
        return False
    return not any(_hidden(element) for element in (link, *link.iterancestors()))


def _hidden(element: lxml.html.HtmlElement) -> bool:
    if element.get("hidden") is not None:
        return True
    items = tinycss2.parse_blocks_contents(element.get("style", ""), skip_comments=True, skip_whitespace=True)
    return any(
        item.type == "declaration"
        and tinycss2.serialize(item.value).strip().lower() in _HIDING.get(item.lower_name, ())
        for item in items
    )


def _add_first(parent: lxml.html.HtmlElement, element: lxml.html.HtmlElement) -> None:
    """`element` as the first thing in `parent`, before its text too."""
    element.tail, parent.text = parent.text, None
    parent.insert(0, element)


def _preheader(text: str) -> lxml.html.HtmlElement:
    """The preview text mail clients show beside the subject, hidden in the email itself."""
    element = lxml.html.Element("div", style=_PREHEADER_STYLE)
    element.text = " ".join(text.split()) + _PREVIEW_FILLER
    return element


def _footer(unsubscribe_url: str) -> lxml.html.HtmlElement:
    footer = lxml.html.Element("div", style=_FOOTER_STYLE)
    link = lxml.html.Element("a", href=unsubscribe_url, style=_FOOTER_LINK_STYLE)
    link.text = "Unsubscribe"
    footer.append(link)
    return footer


def _track_links(body: lxml.html.HtmlElement, tracking: Tracking) -> None:
    """Each link to the shop through the click redirect (the tree is clean by now: the redirect is on the server's
    host, which need not be among the shop's)."""
    for link in body.iter("a"):
        href = link.get("href")
        if href is not None:
            link.set("href", tracking.link(href))


def _document_html(document: lxml.html.HtmlElement) -> str:
    return lxml.html.tostring(document, encoding="unicode", doctype="<!DOCTYPE html>")


def _fragment_html(document: lxml.html.HtmlElement) -> str:
    """A fragment as it came, its remaining `<style>` (the media queries) first."""
    head, body = _part(document, "head"), _part(document, "body")
    styles = [lxml.html.tostring(style, encoding="unicode", with_tail=False) for style in head.iter("style")]
    children = [lxml.html.tostring(child, encoding="unicode") for child in body]
    return "".join([*styles, escape(body.text or "", quote=False), *children])


def _text_part(text: str, document: lxml.html.HtmlElement, unsubscribe_url: str) -> str:
    """The given text, else the email's visible text with each link's URL; the unsubscribe URL at the end when
    it is nowhere in it."""
    part = text.rstrip() if text.strip() else Inscriptis(document, _TEXT).get_text().strip()
    if unsubscribe_url not in part:
        part = f"{part}\n\nUnsubscribe: {unsubscribe_url}".lstrip()
    return part + "\n"
