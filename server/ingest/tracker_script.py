"""`GET /sa.js`: the built tracker, with an ETag, cache headers and gzip; `?key=` serves the build with the optional
modules that site chose (the core alone without a key, for an unknown key or a site with none)."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, current_app, request

from .. import db
from ..errors import ApiError
from ..sites import client_keys
from .tracker_modules import TrackerModule, script_name, site_modules

bp = Blueprint("tracker_script", __name__)

CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"


@dataclass(frozen=True)
class Script:
    body: bytes
    gzipped: bytes
    etag: str


def load_script(path: Path) -> Script | None:
    """A built file and its gzipped form, or None when it has not been built."""
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        return None
    return Script(body, gzip.compress(body, 9, mtime=0), hashlib.sha256(body).hexdigest()[:32])


def _script(modules: frozenset[TrackerModule]) -> Script | None:
    """The build with these modules, read once per process (on every request in debug); None when not built."""
    name = script_name(modules)
    scripts: dict[str, Script | None] = current_app.extensions.setdefault("sibyl.scripts", {})
    if name not in scripts or current_app.debug:
        scripts[name] = load_script(Path(current_app.config["TRACKER_PATH"]).with_name(name))
    return scripts[name]


def _chosen_modules(key: str | None) -> frozenset[TrackerModule]:
    """The modules of the site with this client key (its copy kept a few seconds); none for no key or an unknown one."""
    site = client_keys.site(db.session(), key) if key else None
    return site_modules(site.tracker_modules) if site is not None else frozenset()


@bp.get("/sa.js")
def tracker() -> Response:
    # A build missing beside the core (a hand-made SIBYL_TRACKER_PATH) serves the core: the page keeps its tracking
    script = _script(_chosen_modules(request.args.get("key"))) or _script(frozenset())
    if script is None:
        raise ApiError(503, "sa.js is not built: run `python -m build_tracker`", "not_built")
    response = Response(mimetype="application/javascript")
    response.set_etag(script.etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.vary.add("Accept-Encoding")
    if request.if_none_match.contains(script.etag):
        response.status_code = 304
        return response
    if "gzip" in request.accept_encodings:  # type: ignore[comparison-overlap]  # Accept matches values, not pairs
        response.set_data(script.gzipped)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response.set_data(script.body)
    return response
