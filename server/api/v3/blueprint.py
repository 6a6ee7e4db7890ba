"""v3's blueprint, under `/v3`, and the path converter its contact routes use."""

from __future__ import annotations

from flask import Blueprint
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter

bp = Blueprint("v3", __name__, url_prefix="/v3")


class ContactIdentifier(PathConverter):
    """A path's rest, line breaks included, so that an address holding one gets the 400 that names it."""

    regex = r"[^/](?s:.)*?"


@bp.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters["identifier"] = ContactIdentifier
