"""Sibyl's receiver: a Flask app serving the tracker, its endpoints and Brevo's APIs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

from . import cli, config, dashboard, db, errors, health
from .api import openapi, v3
from .automation import worker
from .bounces import webhook as bounce_webhook
from .commerce import v3 as commerce
from .ingest import collect, email_engagement, input_checks, pixel, request_rates, rest_v2, sizes, tracker_script
from .ingest.slow_clients import BodyDeadline
from .mail import confirmation, unsubscribe
from .sending_setup.checks import log_start_warnings


class OrderedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, its keys left in the order each answer was built (Brevo's order) instead of sorted."""

    sort_keys = False


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The app factory: configuration from the environment, then `test_config` on top."""
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(config.load(app.instance_path))
    app.config["AUTO_MIGRATE"] = os.environ.get("SIBYL_AUTO_MIGRATE", "1") != "0"
    app.config["MAX_CONTENT_LENGTH"] = sizes.REQUEST_BYTES
    app.json = OrderedJSONProvider(app)
    if test_config:
        app.config.from_mapping(test_config)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]  # Flask's documented way to add WSGI middleware
    app.wsgi_app = BodyDeadline(app.wsgi_app, app.config["BODY_TIMEOUT"])  # type: ignore[method-assign]  # as above
    db.init_app(app)
    if app.config["AUTO_MIGRATE"]:
        db.upgrade(app.extensions["sibyl.engine"])
    errors.init_app(app)
    input_checks.init_app(app)
    cli.init_app(app)
    request_rates.init_app(app, [rest_v2.bp, pixel.bp, v3.bp, commerce.bp, bounce_webhook.bp], collect.bp)
    modules = (collect, tracker_script, health, openapi, rest_v2, pixel, v3, commerce, unsubscribe, confirmation)
    for module in (*modules, email_engagement, bounce_webhook):
        app.register_blueprint(module.bp)
    dashboard.init_app(app)
    if app.config["WORKER"] == "inline":
        worker.start_inline(app)
    log_start_warnings(app)
    return app
