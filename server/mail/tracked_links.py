"""Links in automation emails that count clicks and opens: a shop link wrapped in a signed redirect
(`/r/{token}`), and the optional open pixel (`/o/{token}.gif`), both on SIBYL_PUBLIC_URL.

The token is signed with the secret key and never expires (an email is clicked months later too). It carries the
email's outbox key (known before the row is written, when its links are made; its id is given only on writing) and,
for a click, the target: the redirect goes only where the email pointed, so it is no open redirect. Only links to
the site's own hosts are wrapped (the others were left out of the email already), never the server's own links
(unsubscribe, confirm) nor `mailto:`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from itsdangerous import BadData, URLSafeSerializer

from .recovery import web_url

CLICK = "click"
OPEN = "open"
# A URL in a plain-text part: up to a blank or a character that cannot end one; punctuation closing a sentence is
# left out of it.
_TEXT_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}'\""


@lru_cache(maxsize=32)
def _signer(secret_key: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=f"sibyl-email-{purpose}")


@dataclass(frozen=True)
class Click:
    """A verified click link: the email it is in (its outbox key) and where it goes."""

    email_key: str
    target: str


@dataclass(frozen=True)
class Tracking:
    """How one email's links are made: its outbox key, the site's hosts, and whether it carries the open pixel."""

    public_url: str
    secret_key: str
    email_key: str
    hosts: frozenset[str]
    pixel: bool = False

    def link(self, url: str) -> str:
        """The redirect counting a click on `url` when it is a link to the site's hosts; anything else as it is."""
        target = web_url(url, self.hosts)
        if target is None or _on(target, self.public_url):
            return url
        token = _signer(self.secret_key, CLICK).dumps([self.email_key, target])
        return f"{self.public_url.rstrip('/')}/r/{token}"

    def text(self, text: str) -> str:
        """A plain-text part with each URL on the site's hosts wrapped as `link` wraps it."""

        def wrapped(found: re.Match[str]) -> str:
            url = found.group(0)
            kept = url.rstrip(_TRAILING)
            return self.link(kept) + url[len(kept) :]

        return _TEXT_URL.sub(wrapped, text)

    def pixel_url(self) -> str | None:
        """The open pixel's URL, when the site has it on."""
        if not self.pixel:
            return None
        return f"{self.public_url.rstrip('/')}/o/{_signer(self.secret_key, OPEN).dumps(self.email_key)}.gif"


def tracking(
    public_url: str, secret_key: str, email_key: str, hosts: Collection[str], *, pixel: bool = False
) -> Tracking:
    return Tracking(public_url, secret_key, email_key, frozenset(host.lower() for host in hosts), pixel)


def read_click(secret_key: str, token: str) -> Click | None:
    """The email and target a click token names; None for a forged, truncated or other token."""
    payload = _loads(secret_key, CLICK, token)
    match payload:
        case [str() as email_key, str() as target] if _web(target):
            return Click(email_key, target)
    return None


def read_open(secret_key: str, token: str) -> str | None:
    """The outbox key an open token names; None for a forged, truncated or other token."""
    payload = _loads(secret_key, OPEN, token)
    return payload if isinstance(payload, str) else None


def _loads(secret_key: str, purpose: str, token: str) -> Any:
    try:
        return _signer(secret_key, purpose).loads(token)
    except BadData:
        return None


def _web(target: str) -> bool:
    """An http(s) URL (a token made elsewhere with the same key and salt still cannot send a browser to a script)."""
    return target.lower().startswith(("http://", "https://"))


def _on(url: str, base: str) -> bool:
    """Whether `url` is one of the server's own links (unsubscribe, confirm, a tracked link already)."""
    return url.startswith(base.rstrip("/") + "/")
