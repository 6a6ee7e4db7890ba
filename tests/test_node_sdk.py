"""Brevo's official Node SDK (`@getbrevo/brevo`, pinned in tests/node_sdk) against a real server: contacts, events
and `ecommerce.*`, as a shop's Node backend would call Brevo."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server import db
from server.models import Cart, Site

from .support.servers import Process
from .support.store import Store

NODE_SDK = Path(__file__).parent / "node_sdk"


def run_node_sdk(receiver: Process, site: Site, email: str) -> dict[str, Any]:
    if shutil.which("node") is None or not (NODE_SDK / "node_modules" / "@getbrevo" / "brevo").is_dir():
        pytest.fail("the Node SDK is not installed: run `npm ci --prefix tests/node_sdk` (make test does)")
    done = subprocess.run(
        ["node", "check.mjs", f"{receiver.url}/v3", site.api_key, email],
        cwd=NODE_SDK,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: dict[str, Any] = json.loads(done.stdout)
    return results


def test_the_node_sdk_drives_contacts_events_and_ecommerce(receiver: Process, site: Site, store: Store) -> None:
    email = f"node.{uuid.uuid4().hex[:10]}@example.com"
    results = run_node_sdk(receiver, site, email)

    assert isinstance(results["createdContact"]["id"], int)
    assert (results["contact"]["email"], results["contact"]["attributes"]) == (email, {"FIRSTNAME": "Ada"})
    assert results["event"] is None  # 204

    assert (results["displayCurrency"], results["setDisplayCurrency"]) == ({"code": "EUR"}, {"code": "GBP"})
    assert results["badDisplayCurrency"]["status"] == 422
    assert results["badDisplayCurrency"]["body"]["code"] == "unprocessable_entity"

    assert results["category"] == {"id": "watches"}
    assert results["categoryBatch"] == {"createdCount": 1, "updatedCount": 1}
    assert [item["id"] for item in results["categories"]["categories"]] == ["watches", "straps"]
    assert results["categoryInfo"]["name"] == "All watches"

    assert results["product"] == {"id": "P1"}
    assert results["duplicateProduct"]["status"] == 400
    assert results["duplicateProduct"]["body"]["code"] == "duplicate_parameter"
    assert results["productUpdate"] is None  # 204
    assert results["productBatch"] == {"createdCount": 2, "updatedCount": 0}
    assert results["products"]["count"] == 3
    assert [(item["id"], item["price"]) for item in results["products"]["products"]] == [
        ("P2", 15),
        ("P3", 25),
        ("P1", 50),
    ]
    assert (results["productInfo"]["name"], results["productInfo"]["imageUrl"]) == (
        "Watch",
        "https://shop.example/w.png",
    )
    assert results["missingProduct"]["status"] == 404

    assert results["orderBatch"]["count"] == 1 and results["orderBatch"]["batch_id"] is not None
    assert results["order"] is None  # 204
    assert results["badOrder"]["status"] == 400 and results["badOrder"]["body"]["message"].startswith("amount")
    assert [item["id"] for item in results["orders"]["orders"]] == ["H-1", "O-1"]

    with db.new_session(store.app) as session:
        cart = session.scalars(select(Cart).where(Cart.site_id == site.id)).one()
    assert (cart.state, cart.closed_reason) == ("closed", "ordered")  # the paid order, not the historical import
