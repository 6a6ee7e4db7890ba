"""Where an email's counted links lead: the targets inside their click redirects, as the server reads them."""

from __future__ import annotations

import re

from server.mail.tracked_links import read_click

_REDIRECT = re.compile(r"/r/([A-Za-z0-9_.-]+)")


def link_targets(part: str, secret_key: str) -> list[str]:
    """The targets of the click redirects in an email's HTML or text part, in order."""
    return [click.target for token in _REDIRECT.findall(part) if (click := read_click(secret_key, token)) is not None]
