"""Brevo's v3 e-commerce endpoints (`api-key`): the catalogue and orders, in Brevo's request and answer shapes."""

from __future__ import annotations

import math
import operator
import re
import secrets
from collections.abc import Callable
from datetime import time
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from .. import db
from ..api.keys import site_from_api_key
from ..api.schemas import MAX_ID, json_body
from ..api.v3.formats import brevo_time, int_arg, parse_date
from ..errors import ApiError
from ..models import Category, Order, Product
from . import schemas
from .catalogue import Saved, save_categories, save_products
from .orders import record_orders
from .retries import committed

bp = Blueprint("commerce", __name__, url_prefix="/v3")

MAX_CATEGORIES_PAGE = 100
MAX_PRODUCTS_PAGE = 1000
MAX_ORDERS_PAGE = 1000
PRODUCT_SORT_FIELDS = {"created_at": Product.created_at, "name": Product.name, "price": Product.price, "id": Product.id}
PRICE_FILTERS = {
    "lte": operator.le,
    "gte": operator.ge,
    "lt": operator.lt,
    "gt": operator.gt,
    "eq": operator.eq,
    "ne": operator.ne,
}
DEFAULT_DISPLAY_CURRENCY = "EUR"
CURRENCY_CODE = re.compile(r"[A-Za-z]{3}")  # the shape of an ISO 4217 code, in ASCII letters of either case


@bp.post("/ecommerce/activate")
def activate() -> Response:
    """The e-commerce app is always on in Sibyl: 200, as Brevo answers once it is activated."""
    site_from_api_key()
    return Response(status=200)


@bp.get("/ecommerce/config/displayCurrency")
def display_currency() -> Response:
    """The currency the shop shows its amounts in: the one it set, else EUR."""
    site = site_from_api_key()
    return jsonify(code=site.display_currency or DEFAULT_DISPLAY_CURRENCY)


@bp.post("/ecommerce/config/displayCurrency")
def set_display_currency() -> Response:
    """Set the display currency; upper-cased, and 422 when it is not three letters, as Brevo refuses an invalid code."""
    site = site_from_api_key()
    code = schemas.parse_item(schemas.DisplayCurrency, json_body()).code
    if not CURRENCY_CODE.fullmatch(code):  # before upper-casing: "ß".upper() is "SS"
        raise ApiError(422, "code: give an ISO 4217 currency code, three letters such as EUR")
    site.display_currency = code.upper()
    db.session().commit()
    return jsonify(code=site.display_currency)


# Categories


@bp.post("/categories")
def create_update_category() -> Response | tuple[Response, int]:
    """201 `{id}` for a new category; 204 after updating one with `updateEnabled`; 400 when it exists without."""
    return _create_or_update(schemas.CreateUpdateCategory, save_categories)


@bp.post("/categories/batch")
def create_update_categories() -> tuple[Response, int]:
    """201 `{createdCount, updatedCount}`; the whole batch refused when one category is."""
    return _create_or_update_batch(schemas.CategoryBatch, "categories", save_categories)


@bp.get("/categories")
def list_categories() -> Response:
    site = site_from_api_key()
    query = _catalogue_filters(select(Category).where(Category.site_id == site.id), Category)
    count, page = _page(query, Category.created_at, Category.id, 50, MAX_CATEGORIES_PAGE)
    return jsonify(categories=[category_json(category) for category in page], count=count)


@bp.get("/categories/<path:category_id>")
def get_category(category_id: str) -> Response:
    site = site_from_api_key()
    category = db.session().get(Category, (site.id, category_id))
    if category is None:
        raise ApiError(404, "Category does not exist")
    return jsonify(category_json(category))


def category_json(category: Category) -> dict[str, Any]:
    """A category as Brevo's `GetCategoryDetails` gives it, with the other fields the shop sent."""
    return {key: value for key, value in category.document.items() if key not in _OWN} | {
        "id": category.id,
        "name": category.name,
        "url": category.url,
        "isDeleted": category.is_deleted,
        "deletedAt": brevo_time(category.deleted_at) if category.deleted_at else None,
        "createdAt": brevo_time(category.created_at),
        "modifiedAt": brevo_time(category.modified_at),
    }


# Products


@bp.post("/products")
def create_update_product() -> Response | tuple[Response, int]:
    """201 `{id}` for a new product; 204 after updating one with `updateEnabled`; `name` needed only to create."""
    return _create_or_update(schemas.CreateUpdateProduct, save_products)


@bp.post("/products/batch")
def create_update_products() -> tuple[Response, int]:
    """201 `{createdCount, updatedCount}`; the whole batch refused when one product is."""
    return _create_or_update_batch(schemas.ProductBatch, "products", save_products)


@bp.get("/products")
def list_products() -> Response:
    site = site_from_api_key()
    query = _catalogue_filters(select(Product).where(Product.site_id == site.id), Product)
    name = request.args.get("name")
    if name is not None:
        if len(name) < 3:
            raise ApiError(400, "name: give at least 3 characters")
        query = query.where(func.lower(Product.name).contains(name.lower(), autoescape=True))
    search = request.args.get("search")
    if search:
        query = query.where(
            or_(
                Product.sku.startswith(search, autoescape=True),
                Product.id == search,
                func.lower(Product.name).contains(search.lower(), autoescape=True),
            )
        )
    query = _price_filters(query)
    sort_field = request.args.get("sortByField", "created_at")
    if sort_field not in PRODUCT_SORT_FIELDS:
        raise ApiError(400, f"sortByField: use one of {', '.join(PRODUCT_SORT_FIELDS)}")
    wanted = set(_listed("categories"))
    session = db.session()
    if wanted:  # a product's categories are a JSON list: matched here, then counted and paged
        rows = [
            product
            for product in session.scalars(_ordered(query, PRODUCT_SORT_FIELDS[sort_field], Product.id))
            if wanted.intersection(product.categories or [])
        ]
        limit, offset = int_arg("limit", 50, 1, MAX_PRODUCTS_PAGE), int_arg("offset", 0, 0, None)
        return jsonify(products=[product_json(row) for row in rows[offset : offset + limit]], count=len(rows))
    count, page = _page(query, PRODUCT_SORT_FIELDS[sort_field], Product.id, 50, MAX_PRODUCTS_PAGE)
    return jsonify(products=[product_json(product) for product in page], count=count)


@bp.get("/products/<path:product_id>")
def get_product(product_id: str) -> Response:
    site = site_from_api_key()
    product = db.session().get(Product, (site.id, product_id))
    if product is None:
        raise ApiError(404, "Product does not exist")
    return jsonify(product_json(product))


def product_json(product: Product) -> dict[str, Any]:
    """A product as Brevo's `GetProductDetails` gives it, with the other fields the shop sent. Sibyl keeps the
    shop's image where it is: the `s3…` image fields repeat `imageUrl`."""
    images = {name: product.image_url for name in ("s3Original", "s3ThumbAnalytics", "s3ThumbEditor")}
    return (
        {key: value for key, value in product.document.items() if key not in _OWN}
        | {
            "id": product.id,
            "name": product.name,
            "url": product.url,
            "imageUrl": product.image_url,
            "sku": product.sku,
            "price": product.price,
            "categories": product.categories or [],
            "isDeleted": product.is_deleted,
            "deletedAt": brevo_time(product.deleted_at) if product.deleted_at else None,
            "createdAt": brevo_time(product.created_at),
            "modifiedAt": brevo_time(product.modified_at),
        }
        | (images if product.image_url else {})
    )


_OWN = {"updateEnabled", "deletedAt"}  # not shown as sent: never stored, or shown in Brevo's time format


# Orders


@bp.post("/orders/status")
def create_order() -> Response:
    """204 once stored; a paid order closes its contact's open carts (it is live data, never historical)."""
    site = site_from_api_key()
    raw = json_body()
    order = schemas.parse_item(schemas.Order, raw)
    record_orders(db.session(), site, [(order, raw)], live=True)
    return Response(status=204)


@bp.post("/orders/status/batch")
def create_orders() -> tuple[Response, int]:
    """202 `{batchId, count}`; historical by default (stored only); the whole batch refused when one order is.

    The id is given as `batch_id` too: Brevo documents `batchId`, and its current SDKs read `batch_id`.
    """
    site = site_from_api_key()
    raw = json_body()
    batch = schemas.parse_item(schemas.OrderBatch, raw)
    record_orders(db.session(), site, list(zip(batch.orders, raw["orders"], strict=True)), live=not batch.historical)
    batch_id = secrets.randbelow(MAX_ID) + 1
    return jsonify(batchId=batch_id, batch_id=batch_id, count=len(batch.orders)), 202


@bp.get("/orders")
def list_orders() -> Response:
    site = site_from_api_key()
    query = _since_filters(select(Order).where(Order.site_id == site.id), Order)
    count, page = _page(query, Order.created_at, Order.id, 50, MAX_ORDERS_PAGE)
    return jsonify(orders=[order_json(order) for order in page], count=count)


def order_json(order: Order) -> dict[str, Any]:
    """An order as the shop sent it last, with its status, amount and times as stored."""
    return order.document | {
        "id": order.id,
        "status": order.status,
        "amount": order.amount,
        "createdAt": brevo_time(order.ordered_at),
        "updatedAt": brevo_time(order.status_at),
    }


# Reading lists


def _listed(name: str) -> list[str]:
    """A list argument, repeated (`ids=a&ids=b`, as Brevo's SDKs send it) or comma-separated (`ids=a,b`)."""
    return [value for given in request.args.getlist(name) for value in given.split(",") if value]


def _catalogue_filters(query: Select[Any], model: type[Category] | type[Product]) -> Select[Any]:
    ids = _listed("ids")
    if ids:
        query = query.where(model.id.in_(ids))
    deleted = request.args.get("isDeleted")
    if deleted is not None:
        if deleted not in ("true", "false"):
            raise ApiError(400, "isDeleted: use true or false")
        query = query.where(model.is_deleted == (deleted == "true"))
    return _since_filters(query, model)


def _since_filters(query: Select[Any], model: type[Category] | type[Product] | type[Order]) -> Select[Any]:
    for name, column in (("modifiedSince", model.modified_at), ("createdSince", model.created_at)):
        if request.args.get(name):
            query = query.where(column >= parse_date(name, request.args[name], time.min))
    return query


def _price_filters(query: Select[Any]) -> Select[Any]:
    """`price[lte]=10` and the like; Sibyl does not filter on `alternativePrice`."""
    for name, compare in PRICE_FILTERS.items():
        if f"alternativePrice[{name}]" in request.args:
            raise ApiError(400, f"alternativePrice[{name}]: filtering on alternativePrice is not supported")
        text = request.args.get(f"price[{name}]")
        if text is None:
            continue
        try:
            bound = float(text)
        except ValueError:
            raise ApiError(400, f"price[{name}]: must be a number") from None
        if not math.isfinite(bound):
            raise ApiError(400, f"price[{name}]: must be a finite number")
        query = query.where(compare(Product.price, bound))
    return query


def _ordered(query: Select[Any], column: Any, tie: Any) -> Select[Any]:
    sort = request.args.get("sort", "desc")
    if sort not in ("asc", "desc"):
        raise ApiError(400, "sort: use asc or desc")
    return query.order_by(column, tie) if sort == "asc" else query.order_by(column.desc(), tie.desc())


def _page(query: Select[Any], column: Any, tie: Any, default: int, most: int) -> tuple[int, list[Any]]:
    limit, offset = int_arg("limit", default, 1, most), int_arg("offset", 0, 0, None)
    session = db.session()
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return count, list(session.scalars(_ordered(query, column, tie).limit(limit).offset(offset)))


# A catalogue write: the session, the site, the items parsed and as sent, `updateEnabled`, and the batch's field name.
Save = Callable[[Session, int, list[tuple[Any, dict[str, Any]]], bool, str | None], Saved]


def _create_or_update(
    model: type[schemas.CreateUpdateCategory | schemas.CreateUpdateProduct], save: Save
) -> Response | tuple[Response, int]:
    """One category or product: 201 `{id}` when new, 204 when updated."""
    site = site_from_api_key()
    raw = json_body()
    item = schemas.parse_item(model, raw)
    saved = _saving(lambda session: save(session, site.id, [(item, raw)], bool(item.updateEnabled), None))
    return (jsonify(id=item.id), 201) if saved.created else Response(status=204)


def _create_or_update_batch(
    model: type[schemas.CategoryBatch | schemas.ProductBatch], field: str, save: Save
) -> tuple[Response, int]:
    """A batch of categories or products (under `field`): 201 with the counts, or nothing written."""
    site = site_from_api_key()
    raw = json_body()
    batch = schemas.parse_item(model, raw)
    items = list(zip(getattr(batch, field), raw[field], strict=True))
    saved = _saving(lambda session: save(session, site.id, items, bool(batch.updateEnabled), field))
    return jsonify(createdCount=saved.created, updatedCount=saved.updated), 201


def _saving(write: Callable[[Session], Saved]) -> Saved:
    """Run a catalogue write and commit; a concurrent writer of the same ids means a retry."""
    return committed(db.session(), write, "items")
