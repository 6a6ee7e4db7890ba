"""Pages for the tracker's optional modules: a site's modules chosen as `sites set --track` chooses them, and test
pages with outbound and download links, forms and tagged elements, opened in Chromium (a Playwright page) or in
Firefox and WebKit (an EngineBrowser); and what the receiver stored of them."""

from __future__ import annotations

import html
import uuid
from typing import Any

from playwright.sync_api import Page

from server import db
from server.models import Site

from .browser import PageHost
from .cli import cli
from .engines import EngineBrowser
from .servers import Process
from .store import Store
from .tracked_pages import open_in, open_tracked
from .waiting import wait_until

# Queues one more event as the page is left, before the tracker's own pagehide flush (the page's listener comes
# first): once `left` is stored, anything the page queued before leaving has arrived with it or never will.
LEAVING_MARKER = "addEventListener('pagehide', () => sendinblue.track('left'))"


def code_with_modules(store: Store, site: Site, receiver: Process, modules: str, *options: str) -> str:
    """The site's tracking code (the same whatever the modules) once `sites set SITE --track MODULES` has run."""
    result = cli(store.app, "sites", "set", site.name, "--track", modules, *options)
    assert result.exit_code == 0, result.output
    with db.new_session(store.app) as session:
        return store.snippet(session.get_one(Site, site.id), receiver.url)


def sent_before_leaving(store: Store, site: Site) -> list[tuple[str, str, dict[str, Any]]]:
    """What the page sent besides its page view, once the `left` event it queued as it hid has arrived (with or
    after everything queued before it): (kind, name, properties) in order."""
    wait_until(lambda: any(event.name == "left" for event in store.events(site, "track")))
    return [(e.kind, e.name, e.properties) for e in store.events(site) if e.kind != "page" and e.name != "left"]


def open_page(browser: Page | EngineBrowser, host: PageHost, code: str, path: str, script: str, body: str) -> None:
    """Open a tracked page in Chromium or in Firefox or WebKit."""
    if isinstance(browser, EngineBrowser):
        open_in(browser, host, code, path, script, body)
    else:
        open_tracked(browser, host, code, path, script, body)


def other_host(host: PageHost) -> str:
    """The same test server under another host name: the page's links to it are outbound."""
    return host.url.replace("127.0.0.1", "localhost")


def open_links_page(
    browser: Page | EngineBrowser, host: PageHost, code: str, path: str, script: str = LEAVING_MARKER
) -> dict[str, str]:
    """A page with an internal link, an outbound link, a link to a PDF and one to an EPUB file; every target is a page
    of its own, untracked (only what the tracker sent while leaving can arrive). Returns the links' URLs by id."""
    links = {
        "internal": host.add(f"{path}/inside"),
        "outbound": other_host(host) + host.add(f"{path}/away").removeprefix(host.url),
        "download": host.add(f"{path}/files/Report.PDF") + "?v=2",
        "ebook": host.add(f"{path}/files/book.epub"),
    }
    body = "".join(f'<p><a id="{name}" href="{html.escape(url)}">{name}</a></p>' for name, url in links.items())
    open_page(browser, host, code, path, script, body)
    return links


FORM = """<form id="newsletter" action="{thanks}" method="get">
  <input name="name" value="ada.other@example.org">
  <input type="email" name="contact" value=" ada@example.com ">
  <input type="password" name="password" value="bob@example.com">
  <button id="send">Send</button>
</form>
<form name="quote" action="{thanks}" method="get">
  <input type="password" name="email" value="eve@example.com">
  <input name="notes" value="mallory@example.com">
  <button id="ask">Ask</button>
</form>"""


def open_form_page(
    browser: Page | EngineBrowser, host: PageHost, code: str, path: str, script: str = LEAVING_MARKER
) -> str:
    """A page with two forms sending to an untracked page: `newsletter` (its email field holds ada@example.com,
    other fields other addresses) and `quote` (no email field, only a password named email). Returns the page's URL."""
    open_page(browser, host, code, path, script, FORM.format(thanks=host.add(f"{path}/thanks")))
    return host.url + path


TAGGED = """<button id="plan" data-sib-event="plan_chosen" data-sib-prop-plan-name="pro" data-sib-prop-seats="3">
  <span id="plan-label">Choose Pro</span>
</button>
<p id="untagged">Nothing to see</p>"""


def open_tagged_page(
    browser: Page | EngineBrowser, host: PageHost, code: str, path: str, script: str = LEAVING_MARKER
) -> None:
    """A page with a button tagged `plan_chosen` (properties plan-name=pro, seats=3) holding a span, and an untagged
    paragraph."""
    open_page(browser, host, code, path, script, TAGGED)


class Collected:
    """The /collect requests a page makes, counted up to a marker request the test makes after the tracker's timers
    and its page-hide flush had their chance (the page's clock is Playwright's, run forward by each check)."""

    def __init__(self, page: Page, host: PageHost, receiver: Process) -> None:
        self.page, self.host, self.collect = page, host, receiver.url + "/collect"
        self.urls: list[str] = []
        page.clock.install()
        page.on("request", lambda request: self.urls.append(request.url))

    def count(self) -> int:
        self.page.clock.run_for(5_000)
        self.page.evaluate("dispatchEvent(new Event('pagehide'))")
        marker = f"{self.host.url}/marker-{uuid.uuid4().hex}"
        self.page.evaluate("url => fetch(url)", marker)
        wait_until(lambda: marker in self.urls, page=self.page)
        return self.urls[: self.urls.index(marker)].count(self.collect)
