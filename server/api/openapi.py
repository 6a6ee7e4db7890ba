"""`GET /openapi.json`: every public endpoint, built from the same schemas that validate requests."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ..commerce import schemas as commerce
from . import schemas

bp = Blueprint("openapi", __name__)

REQUEST_MODELS: list[type[BaseModel]] = [
    schemas.Batch,
    schemas.V2Identify,
    schemas.V2TrackEvent,
    schemas.V2TrackLink,
    schemas.V2TrackPage,
    schemas.V3Event,
    schemas.V3EventBatch,
    schemas.V3CreateContact,
    schemas.V3UpdateContact,
    schemas.V3CreateAttribute,
    schemas.V3UpdateAttribute,
    commerce.CreateUpdateCategory,
    commerce.CategoryBatch,
    commerce.CreateUpdateProduct,
    commerce.ProductBatch,
    commerce.Order,
    commerce.OrderBatch,
    commerce.DisplayCurrency,
]
ERROR = {"$ref": "#/components/schemas/Error"}
IDENTIFIER = {"name": "identifier", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
ATTRIBUTE_PATH = [
    {
        "name": "attributeCategory",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": ["normal", "category"]},
    },
    {
        "name": "attributeName",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,49}$"},
    },
]
IDENTIFIER_TYPE = {
    "name": "identifierType",
    "in": "query",
    "schema": {"type": "string", "enum": ["email_id", "contact_id", "ext_id"]},
}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _operation(
    summary: str,
    security: str | None,
    body: type[BaseModel] | None = None,
    success: tuple[int, str] = (200, "OK"),
    parameters: list[dict[str, Any]] | None = None,
    errors: tuple[int, ...] = (400, 401, 413, 429),
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "parameters": parameters or []}
    if security:
        operation["security"] = [{security: []}]
    if body is not None:
        content = {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}
        operation["requestBody"] = {"required": True, "content": {"application/json": content}}
    responses: dict[str, Any] = {str(success[0]): {"description": success[1]}}
    for status in errors:
        responses[str(status)] = {"description": "error", "content": {"application/json": {"schema": ERROR}}}
    operation["responses"] = responses
    return operation


def _commerce_paths(limit_offset: list[dict[str, Any]]) -> dict[str, Any]:
    """Brevo's e-commerce endpoints: the catalogue, orders and the display currency."""
    since = [
        _query("modifiedSince", {"type": "string"}),
        _query("createdSince", {"type": "string"}),
        _query("sort", {"type": "string", "enum": ["asc", "desc"]}),
    ]
    catalogue_filters = [
        *limit_offset,
        *since,
        _query("ids", {"type": "array", "items": {"type": "string"}}),
        _query("isDeleted", {"type": "string", "enum": ["true", "false"]}),
    ]
    one = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
    return {
        "/v3/ecommerce/activate": {"post": _operation("Activate the e-commerce app (always on)", "api-key")},
        "/v3/ecommerce/config/displayCurrency": {
            "get": _operation("The shop's display currency (EUR unless set)", "api-key", errors=(401, 429)),
            "post": _operation(
                "Set the shop's display currency: an ISO 4217 code",
                "api-key",
                commerce.DisplayCurrency,
                errors=(400, 401, 413, 422, 429),
            ),
        },
        "/v3/categories": {
            "post": _operation(
                "Create a category (201), or update it with updateEnabled (204)",
                "api-key",
                commerce.CreateUpdateCategory,
                (201, "created"),
            ),
            "get": _operation("List categories, newest first", "api-key", parameters=catalogue_filters),
        },
        "/v3/categories/batch": {
            "post": _operation(
                "Create or update categories in a batch", "api-key", commerce.CategoryBatch, (201, "saved")
            ),
        },
        "/v3/categories/{id}": {
            "get": _operation("A category", "api-key", parameters=[one], errors=(401, 404, 429)),
        },
        "/v3/products": {
            "post": _operation(
                "Create a product (201), or update it with updateEnabled (204)",
                "api-key",
                commerce.CreateUpdateProduct,
                (201, "created"),
            ),
            "get": _operation(
                "List products, newest first",
                "api-key",
                parameters=[
                    *catalogue_filters,
                    _query("name", {"type": "string", "minLength": 3}),
                    _query("search", {"type": "string"}),
                    _query("categories", {"type": "array", "items": {"type": "string"}}),
                    _query("sortByField", {"type": "string", "enum": ["created_at", "name", "price", "id"]}),
                    *[_query(f"price[{operator}]", {"type": "number"}) for operator in ("lte", "gte", "lt", "gt")],
                ],
            ),
        },
        "/v3/products/batch": {
            "post": _operation(
                "Create or update products in a batch", "api-key", commerce.ProductBatch, (201, "saved")
            ),
        },
        "/v3/products/{id}": {
            "get": _operation("A product", "api-key", parameters=[one], errors=(401, 404, 429)),
        },
        "/v3/orders/status": {
            "post": _operation(
                "Create or update an order; a paid one closes its contact's open carts",
                "api-key",
                commerce.Order,
                (204, "stored"),
            ),
        },
        "/v3/orders/status/batch": {
            "post": _operation(
                "Create or update orders in a batch (historical by default: stored only)",
                "api-key",
                commerce.OrderBatch,
                (202, "stored"),
            ),
        },
        "/v3/orders": {"get": _operation("List orders, newest first", "api-key", parameters=[*limit_offset, *since])},
    }


def document(server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for this server."""
    _, definitions = models_json_schema(
        [(model, "validation") for model in REQUEST_MODELS], ref_template="#/components/schemas/{model}"
    )
    components = definitions.get("$defs", {})
    components["Error"] = {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    }
    limit_offset = [
        _query("limit", {"type": "integer", "minimum": 1}),
        _query("offset", {"type": "integer", "minimum": 0}),
    ]
    paths: dict[str, Any] = {
        "/collect": {
            "post": _operation(
                "The tracker's batches (text/plain JSON)", None, schemas.Batch, errors=(400, 401, 403, 413, 429)
            ),
        },
        "/api/v2/identify": {"post": _operation("Identify a contact", "ma-key", schemas.V2Identify, (204, "stored"))},
        "/api/v2/trackEvent": {
            "post": _operation("Track a custom event", "ma-key", schemas.V2TrackEvent, (204, "stored")),
        },
        "/api/v2/trackLink": {"post": _operation("Track a link click", "ma-key", schemas.V2TrackLink, (204, "stored"))},
        "/api/v2/trackPage": {"post": _operation("Track a page view", "ma-key", schemas.V2TrackPage, (204, "stored"))},
        "/v3/events": {
            "post": _operation(
                "Create an event", "api-key", schemas.V3Event, (204, "stored"), errors=(400, 401, 404, 413, 429)
            ),
            "get": _operation(
                "List custom events, newest first",
                "api-key",
                parameters=[
                    _query("contact_id", {"type": "array", "items": {"type": "integer"}}),
                    _query("event_name", {"type": "array", "items": {"type": "string"}}),
                    _query("startDate", {"type": "string"}),
                    _query("endDate", {"type": "string"}),
                    *limit_offset,
                ],
            ),
        },
        "/v3/events/batch": {
            "post": _operation("Create events in a batch", "api-key", schemas.V3EventBatch, (202, "all accepted")),
        },
        "/v3/contacts": {
            "post": _operation("Create a contact", "api-key", schemas.V3CreateContact, (201, "created")),
            "get": _operation(
                "List contacts",
                "api-key",
                parameters=[
                    *limit_offset,
                    _query("modifiedSince", {"type": "string"}),
                    _query("createdSince", {"type": "string"}),
                    _query("sort", {"type": "string", "enum": ["asc", "desc"]}),
                ],
            ),
        },
        "/v3/contacts/attributes": {
            "get": _operation("List contact attributes with their category and type", "api-key"),
        },
        "/v3/contacts/attributes/{attributeCategory}/{attributeName}": {
            "post": _operation(
                "Create a contact attribute (normal: type text, float, date or boolean; category: its enumeration)",
                "api-key",
                schemas.V3CreateAttribute,
                (201, "created"),
                ATTRIBUTE_PATH,
            ),
            "put": _operation(
                "Replace a category attribute's enumeration",
                "api-key",
                schemas.V3UpdateAttribute,
                (204, "updated"),
                ATTRIBUTE_PATH,
                (400, 401, 404, 413, 429),
            ),
            "delete": _operation(
                "Delete a contact attribute and its value on every contact",
                "api-key",
                None,
                (204, "deleted"),
                ATTRIBUTE_PATH,
                (400, 401, 404, 429),
            ),
        },
        "/v3/contacts/{identifier}": {
            "get": _operation(
                "A contact", "api-key", parameters=[IDENTIFIER, IDENTIFIER_TYPE], errors=(400, 401, 404, 429)
            ),
            "put": _operation(
                "Update a contact",
                "api-key",
                schemas.V3UpdateContact,
                (204, "updated"),
                [IDENTIFIER, IDENTIFIER_TYPE],
                (400, 401, 404, 413, 429),
            ),
            "delete": _operation(
                "Delete a contact with its events, carts and emails",
                "api-key",
                None,
                (204, "deleted"),
                [IDENTIFIER, IDENTIFIER_TYPE],
                (400, 401, 404, 429),
            ),
        },
        **_commerce_paths(limit_offset),
        "/v3/tracking/status": {"get": _operation("Whether the site received traffic in the last 24 hours", "api-key")},
        "/healthz": {"get": _operation("200 while the database answers", None, errors=())},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sibyl", "version": "1", "description": "Brevo-compatible tracker and contacts API"},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "api-key": {"type": "apiKey", "in": "header", "name": "api-key"},
                "ma-key": {"type": "apiKey", "in": "header", "name": "ma-key"},
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document(current_app.config["PUBLIC_URL"]))
