"""Choosing a site's tracker modules (`sites set --track`, the dashboard) and `/sa.js?key=` serving that build."""

from __future__ import annotations

import gzip
import re

from flask import Flask
from flask.testing import FlaskClient

from server import db
from server.models import Site
from server.sites import client_keys

from .support.cli import cli
from .support.dashboard import csrf_token
from .support.servers import SA_JS
from .support.sites import new_site

BUILDS = SA_JS.parent


def stored_modules(app: Flask, site: Site) -> str:
    with db.new_session(app) as session:
        return session.get_one(Site, site.id).tracker_modules


def checked_boxes(page: str) -> list[str]:
    """The modules the site page's form shows ticked."""
    return [name for name, rest in re.findall(r'<input id="module-(\w+)"([^>]*)>', page) if " checked" in rest]


def served(client: FlaskClient, query: str = "") -> bytes:
    response = client.get(f"/sa.js{query}", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    return response.get_data()


def test_sites_set_track_replaces_the_chosen_modules(app: Flask) -> None:
    site = new_site(app)
    result = cli(app, "sites", "set", site.name, "--track", "tagged, Outbound")
    assert result.exit_code == 0, result.output
    assert f"{site.name}: tracker modules outbound, tagged." in result.stdout
    assert stored_modules(app, site) == "outbound,tagged"
    assert cli(app, "sites", "set", site.name, "--track", "forms").exit_code == 0
    assert stored_modules(app, site) == "forms"
    result = cli(app, "sites", "set", site.name, "--track", "none")
    assert "tracker modules none (the core alone)." in result.stdout
    assert stored_modules(app, site) == ""


def test_an_unknown_module_is_refused_naming_it_and_the_valid_ones(app: Flask) -> None:
    site = new_site(app)
    cli(app, "sites", "set", site.name, "--track", "forms")
    result = cli(app, "sites", "set", site.name, "--track", "outbound,scroll", "--email-period", "1h")
    assert result.exit_code != 0
    assert "'scroll'" in result.stderr and "downloads, forms, outbound, tagged" in result.stderr
    assert stored_modules(app, site) == "forms"  # nothing of the command was written


def test_sa_js_with_a_key_serves_the_build_with_the_sites_modules(app: Flask, client: FlaskClient) -> None:
    site = new_site(app)
    assert served(client, f"?key={site.client_key}") == (BUILDS / "sa.js").read_bytes()
    cli(app, "sites", "set", site.name, "--track", "tagged,downloads")
    assert served(client, f"?key={site.client_key}") == (BUILDS / "sa.downloads.tagged.js").read_bytes()
    assert served(client) == (BUILDS / "sa.js").read_bytes()  # no key: the core
    assert served(client, "?key=no-such-key") == (BUILDS / "sa.js").read_bytes()


def test_each_build_has_its_own_etag_and_answers_304_to_it(app: Flask, client: FlaskClient) -> None:
    site = new_site(app)
    cli(app, "sites", "set", site.name, "--track", "outbound")
    with_modules = client.get(f"/sa.js?key={site.client_key}", headers={"Accept-Encoding": "gzip"})
    core = client.get("/sa.js")
    assert gzip.decompress(with_modules.get_data()) == (BUILDS / "sa.outbound.js").read_bytes()
    assert with_modules.headers["ETag"] != core.headers["ETag"]
    again = client.get(f"/sa.js?key={site.client_key}", headers={"If-None-Match": with_modules.headers["ETag"]})
    assert again.status_code == 304
    # the core's ETag is stale for a site whose modules changed: the new build is sent
    changed = client.get(f"/sa.js?key={site.client_key}", headers={"If-None-Match": core.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] == with_modules.headers["ETag"]


def test_the_dashboard_form_chooses_the_modules(app: Flask, owner: FlaskClient) -> None:
    site = new_site(app)
    page = f"/sites/{site.id}"
    token = csrf_token(owner, page)
    answer = owner.post(f"{page}/tracker-modules", data={"csrf_token": token, "modules": ["forms", "outbound"]})
    assert answer.status_code == 302
    assert stored_modules(app, site) == "forms,outbound"
    assert checked_boxes(owner.get(page).get_data(as_text=True)) == ["forms", "outbound"]
    client_keys.forget(site.client_key)
    assert served(owner, f"?key={site.client_key}") == (BUILDS / "sa.forms.outbound.js").read_bytes()

    assert owner.post(f"{page}/tracker-modules", data={"csrf_token": token}).status_code == 302
    assert stored_modules(app, site) == ""


def test_the_dashboard_form_refuses_an_unknown_module_and_a_missing_token(app: Flask, owner: FlaskClient) -> None:
    site = new_site(app)
    page = f"/sites/{site.id}"
    token = csrf_token(owner, page)
    refused = owner.post(f"{page}/tracker-modules", data={"csrf_token": token, "modules": ["forms", "<b>x</b>"]})
    assert refused.status_code == 400 and "&lt;b&gt;x&lt;/b&gt;" in refused.get_data(as_text=True)
    assert owner.post(f"{page}/tracker-modules", data={"modules": ["forms"]}).status_code == 400
    assert stored_modules(app, site) == ""
