"""`GET /sa.js`: the built tracker, with an ETag, cache headers and gzip."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, current_app, request

from ..errors import ApiError

bp = Blueprint("tracker_script", __name__)

CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"


@dataclass(frozen=True)
class Script:
    body: bytes
    gzipped: bytes
    etag: str


def load_script(path: Path) -> Script | None:
    """The built `sa.js` and its gzipped form, or None when it has not been built."""
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        return None
    return Script(body, gzip.compress(body, 9, mtime=0), hashlib.sha256(body).hexdigest()[:32])


def _script() -> Script:
    cached = current_app.extensions.get("sibyl.script")
    if cached is None or current_app.debug:
        cached = load_script(Path(current_app.config["TRACKER_PATH"]))
        current_app.extensions["sibyl.script"] = cached
    if cached is None:
        raise ApiError(503, "sa.js is not built: run `python -m build_tracker`", "not_built")
    return cached


@bp.get("/sa.js")
def tracker() -> Response:
    script = _script()
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
