"""`GET /healthz`: 200 while the database answers."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from . import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        db.session().execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return jsonify(status="unavailable", error=type(error).__name__), 503
    return jsonify(status="ok"), 200
