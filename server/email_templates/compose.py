"""An email from a shop's template: the variables a template sees (Brevo's `contact`, `params`, `unsubscribe`, and
Sibyl's `shop`, `cart` and `page`), rendered and finished (links and images on the shop's hosts, CSS inlined, a
text part, an unsubscribe link)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict
from functools import lru_cache
from typing import Any

from ..mail.recovery import recovery_context, web_url
from ..mail.render import RenderedEmail
from ..mail.tracked_links import Tracking
from ..models import Site
from ..values import one_line
from .finishing import finish
from .language import CompiledTemplate, compile_template
from .money import DEFAULT_LOCALE
from .store import Template

DEFAULT_ACCENT = "#18181b"


def shop_variables(site: Site, hosts: Collection[str]) -> dict[str, Any]:
    """`shop`: the brand the default templates show, each value checked (a logo only on the shop's hosts)."""
    origins = [origin for origin in site.origins if web_url(origin, hosts)]
    return {
        "name": one_line(site.sender_name or site.name) or "our shop",
        "logo": web_url(site.logo_url, hosts) or "",
        "accent": site.accent_color or DEFAULT_ACCENT,
        "intro": site.intro_text or "",
        "address": site.postal_address or "",
        "url": origins[0] if origins else "",
        "locale": site.locale or DEFAULT_LOCALE,
    }


def email_variables(
    *,
    shop: Mapping[str, Any],
    email: str,
    attributes: Mapping[str, Any],
    params: Any,
    properties: Mapping[str, Any],
    unsubscribe_url: str,
    hosts: Collection[str],
) -> dict[str, Any]:
    """What a template sees. Brevo's: `contact` (the attributes, and EMAIL), `params` (the triggering event's data),
    `unsubscribe`; Sibyl's: `shop`, `cart` (the data read as a cart: lines and money as text, links and images on
    the shop's hosts) and `page` (a page view's title and checked URL)."""
    cart = recovery_context(
        shop_name=str(shop["name"]),
        subject="",
        firstname=None,
        cart=params if isinstance(params, dict) else {},
        unsubscribe_url=unsubscribe_url,
        hosts=hosts,
        locale=str(shop.get("locale") or DEFAULT_LOCALE),
    )
    return {
        "contact": {**attributes, "EMAIL": email},
        "params": params if isinstance(params, dict | list) else {},
        "unsubscribe": unsubscribe_url,
        "mirror": "",
        "update_profile": "",
        "shop": dict(shop),
        "cart": {
            "lines": [asdict(line) for line in cart["lines"]],
            "total": cart["total"] or "",
            "url": cart["cart_url"] or "",
        },
        "page": {
            "title": one_line(properties.get("ma_title"), 255) or "",
            "url": web_url(properties.get("ma_url"), hosts) or "",
        },
    }


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> CompiledTemplate:
    return compile_template(source, html=html)


def render_preheader(template: Template, variables: Mapping[str, Any]) -> str:
    """The preview text inboxes show after the subject, as plain text on one line."""
    return " ".join(_compiled(template.preheader, False).render(variables).split()) if template.preheader else ""


def render_template(
    template: Template,
    variables: Mapping[str, Any],
    *,
    hosts: Collection[str],
    unsubscribe_url: str,
    tracking: Tracking | None = None,
) -> RenderedEmail:
    """The email as it goes out (its links counted with `tracking`); a TemplateError (or FinishingError) when it
    cannot be rendered."""
    subject = _compiled(template.subject, False).render(variables)
    preheader = render_preheader(template, variables)
    html = _compiled(template.html, True).render(variables)
    text = _compiled(template.text, False).render(variables) if template.text.strip() else ""
    finished = finish(
        html, hosts=hosts, unsubscribe_url=unsubscribe_url, preheader=preheader, text=text, tracking=tracking
    )
    return RenderedEmail(subject=" ".join(subject.split())[:255], html=finished.html, text=finished.text)
