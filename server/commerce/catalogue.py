"""The site's catalogue: categories and products saved by the shop's id, and cart items filled in from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, select
from sqlalchemy.orm import Session

from ..errors import ApiError
from ..models import Category, Product, utcnow
from . import schemas

ITEM_ID_KEYS = ("productId", "product_id", "id")  # where a cart or order item names its product
_FILLED = (("name", "name"), ("image", "image_url"), ("price", "price"), ("url", "url"))  # item key, product column
_NOT_STORED = ("updateEnabled",)
Catalogued = TypeVar("Catalogued", Category, Product)


@dataclass(frozen=True)
class Saved:
    created: int
    updated: int


def save_categories(
    session: Session,
    site_id: int,
    items: Sequence[tuple[schemas.Category, dict[str, Any]]],
    update_enabled: bool,
    field: str | None = "categories",
) -> Saved:
    """Create the new categories and, with `update_enabled`, update the existing ones; nothing when one is refused."""
    existing = _existing(session, Category, site_id, [item.id for item, _ in items], field)
    created = 0
    for index, (item, raw) in enumerate(items):
        row = existing.get(item.id)
        if row is None:
            _refuse_existing_or_nameless(item, None, update_enabled, _item_path(field, index), "category")
            row = existing[item.id] = Category(site_id=site_id, id=item.id, document={})
            session.add(row)
            created += 1
        else:
            _refuse_existing_or_nameless(item, row, update_enabled, _item_path(field, index), "category")
        if item.url is not None:
            row.url = item.url
        _apply_common(row, item, raw)
    session.flush()
    return Saved(created=created, updated=len(items) - created)


def save_products(
    session: Session,
    site_id: int,
    items: Sequence[tuple[schemas.Product, dict[str, Any]]],
    update_enabled: bool,
    field: str | None = "products",
) -> Saved:
    """Create the new products and, with `update_enabled`, update the existing ones; nothing when one is refused."""
    existing = _existing(session, Product, site_id, [item.id for item, _ in items], field)
    created = 0
    for index, (item, raw) in enumerate(items):
        row = existing.get(item.id)
        _refuse_existing_or_nameless(item, row, update_enabled, _item_path(field, index), "product")
        if row is None:
            row = existing[item.id] = Product(site_id=site_id, id=item.id, categories=[], document={})
            session.add(row)
            created += 1
        given = item.model_fields_set
        for name, column in (("price", "price"), ("url", "url"), ("imageUrl", "image_url"), ("sku", "sku")):
            if name in given:
                setattr(row, column, getattr(item, name))
        if item.categories is not None:
            row.categories = item.categories
        _apply_common(row, item, raw)
    session.flush()
    return Saved(created=created, updated=len(items) - created)


def _existing(
    session: Session, model: type[Catalogued], site_id: int, ids: list[str], field: str | None
) -> dict[str, Catalogued]:
    seen: set[str] = set()
    for index, item_id in enumerate(ids):
        if item_id in seen:
            raise ApiError(
                400, f"{_item_path(field, index)}id: {item_id!r} is given twice in the batch", "duplicate_parameter"
            )
        seen.add(item_id)
    rows = session.scalars(select(model).where(model.site_id == site_id, model.id.in_(ids)))
    return {row.id: row for row in rows}


def _item_path(field: str | None, index: int) -> str:
    """Where an item is in the request: `products[3].` in a batch, nothing for a request of one item."""
    return f"{field}[{index}]." if field else ""


def _refuse_existing_or_nameless(
    item: schemas.Category | schemas.Product,
    row: Category | Product | None,
    update_enabled: bool,
    path: str,
    kind: str,
) -> None:
    if row is not None and not update_enabled:
        raise ApiError(
            400, f"{path}id: {kind} {item.id!r} already exists; set updateEnabled to update it", "duplicate_parameter"
        )
    if row is None and not item.name:
        raise ApiError(400, f"{path}name: required to create {kind} {item.id!r}", "missing_parameter")


def _apply_common(row: Category | Product, item: schemas.Category | schemas.Product, raw: dict[str, Any]) -> None:
    """Name, deletion and the document (the fields sent this time over the ones sent before)."""
    now = utcnow()
    if item.name:
        row.name = item.name
    if item.isDeleted is not None:
        row.is_deleted = item.isDeleted
        row.deleted_at = (item.deletedAt or row.deleted_at or now) if item.isDeleted else None
    elif item.deletedAt is not None:
        row.is_deleted, row.deleted_at = True, item.deletedAt
    row.document = {**(row.document or {}), **{key: value for key, value in raw.items() if key not in _NOT_STORED}}
    row.created_at = row.created_at or now
    row.modified_at = now


def enrich_items(connection: Connection | Session, site_id: int, items: Sequence[Any]) -> list[Any]:
    """Cart or order items with what the catalogue knows of their product filled in: `name`, `image` (the
    product's imageUrl), `price` and `url`. An item's own non-empty values win; an item naming no known product
    (by productId, product_id or id) and anything that is not an object come back as they were."""
    ids = {product_id for item in items if (product_id := item_product_id(item)) is not None}
    if not ids:
        return list(items)
    query = select(Product.id, *(getattr(Product, column) for _, column in _FILLED)).where(
        Product.site_id == site_id, Product.id.in_(sorted(ids))
    )
    products = {row.id: row for row in connection.execute(query)}
    return [_enriched(item, products.get(item_product_id(item) or "")) for item in items]


def item_product_id(item: Any) -> str | None:
    """The product an item names, as text, or None."""
    if not isinstance(item, dict):
        return None
    for key in ITEM_ID_KEYS:
        value = item.get(key)
        if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
            continue
        return str(value)
    return None


def _enriched(item: Any, product: Row[Any] | None) -> Any:
    if product is None:
        return item
    filled = dict(item)
    for key, column in _FILLED:
        value = getattr(product, column)
        if value is not None and filled.get(key) in (None, "", False):
            filled[key] = value
    return filled
