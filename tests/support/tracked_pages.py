"""Test pages carrying a tracking snippet (the tracker's own or Brevo's newer loader), opened in a browser."""

from __future__ import annotations

import json

from playwright.sync_api import Page

from server.models import Site

from .browser import PageHost
from .engines import EngineBrowser

LOADED = "() => window.sib && typeof window.sib.track === 'function'"
# Brevo's newer API: `window.Brevo` is an array of commands until the SDK loads (developers.brevo.com,
# "JavaScript implementation"); its snippet loads the SDK first, async, and passes the key by "init"
BREVO_LOADED = "() => window.Brevo && typeof window.Brevo.identify === 'function'"


def open_tracked(page: Page, host: PageHost, code: str, path: str, script: str = "", body: str = "") -> None:
    """Serve a page with the tracking code pasted before </head> (plus `script` after it) and open it."""
    extra = f"<script>{script}</script>" if script else ""
    page.goto(host.add(path, head=code + extra, body=body))
    page.wait_for_function(LOADED)


def brevo_snippet(site: Site, receiver_url: str) -> str:
    """Brevo's current loader snippet with only its script URL changed to the receiver's sa.js."""
    return f"""<script src="{receiver_url}/sa.js" async></script>
<script>
    // Version: 2.0
    window.Brevo = window.Brevo || [];
    Brevo.push([
        "init",
        {{
            client_key: {json.dumps(site.client_key)},
        }}
    ]);
</script>"""


def open_brevo(page: Page, host: PageHost, code: str, path: str, script: str = "", body: str = "") -> None:
    """Like open_tracked, for a page with Brevo's newer snippet."""
    extra = f"<script>{script}</script>" if script else ""
    page.goto(host.add(path, head=code + extra, body=body))
    page.wait_for_function(BREVO_LOADED)


def open_in(
    browser: EngineBrowser, host: PageHost, code: str, path: str, script: str = "", body: str = "", loaded: str = LOADED
) -> None:
    """open_tracked for Firefox or WebKit (tests/support/engines.py); `loaded=BREVO_LOADED` for Brevo's snippet."""
    extra = f"<script>{script}</script>" if script else ""
    browser.goto(host.add(path, head=code + extra, body=body))
    browser.wait_for(f"({loaded})()")
