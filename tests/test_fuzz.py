"""Property-based fuzzing of every public endpoint from /openapi.json: no 5xx, and a refused request writes nothing."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.core.transport import Response
from sqlalchemy import func, select

from server import create_app, db
from server.models import Contact, Event, Site
from server.sites import create_site

from .support.databases import fresh_database_url

pytestmark = pytest.mark.slow


def fuzzed_app() -> tuple[Flask, Site]:
    """The real app in-process (WSGI) on a database of its own, with a site whose keys every case carries.

    Built at import, as schemathesis reads the schema when the module is collected.
    """
    database_url = fresh_database_url(Path(tempfile.mkdtemp(prefix="sibyl-fuzz-")))
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "WORKER": "external",
            "RATE_LIMIT": "1000000/minute",
            "IDENTIFY_LIMIT_ADDRESS": "1000000/hour",
            "NEW_CONTACT_LIMIT_ADDRESS": "1000000/hour",
        }
    )
    with db.new_session(app) as session:
        site = create_site(session, f"fuzz-{uuid.uuid4().hex[:8]}", [], 7200)
    return app, site


APP, SITE = fuzzed_app()
schema = schemathesis.openapi.from_wsgi("/openapi.json", APP)


def stored_rows() -> tuple[int, int]:
    with db.new_session(APP) as session:
        events = session.scalar(select(func.count()).select_from(Event).where(Event.site_id == SITE.id))
        contacts = session.scalar(select(func.count()).select_from(Contact).where(Contact.site_id == SITE.id))
    return events or 0, contacts or 0


def answers_strict_json(ctx: CheckContext, response: Response, case: schemathesis.Case[Any]) -> bool:
    """A JSON answer any client can read: no NaN or Infinity, no lone surrogate (what a stored poison value gives)."""
    if "json" not in (response.headers.get("content-type") or [""])[0]:
        return True
    document = json.loads(response.content, parse_constant=lambda name: pytest.fail(f"{name} in the answer"))
    json.dumps(document, ensure_ascii=False).encode("utf-8")  # a lone surrogate fails here
    return True


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_5xx_and_no_partial_writes(case: schemathesis.Case[Any]) -> None:
    before = stored_rows()
    response = case.call_and_validate(
        headers={"api-key": SITE.api_key, "ma-key": SITE.client_key}, checks=[not_a_server_error, answers_strict_json]
    )
    if response.status_code >= 400 and case.method != "DELETE":
        assert stored_rows() == before, f"{case.method} {case.path} answered {response.status_code} but wrote"
