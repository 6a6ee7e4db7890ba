"""The shop's brand the default templates show: sender, logo, accent colour, intro, postal address and locale,
each checked as it is set (an empty value clears it)."""

from __future__ import annotations

import re
from email.utils import formataddr, parseaddr
from urllib.parse import urlsplit

from babel import Locale, UnknownLocaleError

from ..contacts.addresses import normalise_email
from ..models import Site
from ..values import one_line

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_INTRO = 1000
MAX_ADDRESS = 500


class BrandRefused(ValueError):
    """A brand value that cannot be kept; `field` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _sender_name(text: str) -> str:
    name = one_line(text, 100)
    if name is None or name != text.strip() or any(mark in name for mark in '<>"'):
        raise BrandRefused("sender_name", "one line of at most 100 characters, without < > or quotes")
    return name


def _sender_email(text: str) -> str:
    address = normalise_email(text)
    if address is None:
        raise BrandRefused("sender_email", f"{text!r} is not an email address")
    return address


def _logo_url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or len(text) > 2048:
        raise BrandRefused("logo_url", "an http(s) URL on one of the site's hosts (others are left out of emails)")
    return text.strip()


def _accent_color(text: str) -> str:
    if not _COLOUR.match(text.strip()):
        raise BrandRefused("accent_color", "a colour written #rrggbb, such as #0f766e")
    return text.strip().lower()


def _intro_text(text: str) -> str:
    if len(text) > MAX_INTRO:
        raise BrandRefused("intro_text", f"at most {MAX_INTRO} characters")
    return text.strip()


def _postal_address(text: str) -> str:
    if len(text) > MAX_ADDRESS:
        raise BrandRefused("postal_address", f"at most {MAX_ADDRESS} characters")
    return "\n".join(line.strip() for line in text.strip().splitlines() if line.strip())


def _locale(text: str) -> str:
    try:
        return str(Locale.parse(text.strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError):
        raise BrandRefused("locale", f"{text!r} is not a locale, such as en_US or fr_FR") from None


_CHECKS = {
    "sender_name": _sender_name,
    "sender_email": _sender_email,
    "logo_url": _logo_url,
    "accent_color": _accent_color,
    "intro_text": _intro_text,
    "postal_address": _postal_address,
    "locale": _locale,
}
FIELDS = tuple(_CHECKS)


def set_brand(site: Site, field: str, text: str) -> None:
    """Set one brand field from what the owner typed (checked; empty clears it); BrandRefused otherwise."""
    setattr(site, field, _CHECKS[field](text) if text.strip() else None)


def sender_of(site: Site, default: str) -> str:
    """The From of the site's emails: its sender name and address where set, else the server's own sender."""
    if not site.sender_name and not site.sender_email:
        return default
    name, address = parseaddr(default)
    return formataddr((site.sender_name or name, site.sender_email or address))
