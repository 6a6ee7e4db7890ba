"""The shapes of Brevo's e-commerce requests: categories, products and orders, validated here and published in
/openapi.json. Fields beyond Brevo's are kept as the shop sent them, held to the same limits as event properties."""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    model_validator,
)

from ..api.schemas import Email, Moment, bounded
from ..errors import ApiError, validation_message
from ..ingest import sizes

Model = TypeVar("Model", bound=BaseModel)


def _id_text(value: Any) -> Any:
    """An id as text: shops written in PHP often send numbers."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text


ShopId = Annotated[
    StrictStr, BeforeValidator(_id_text), Field(min_length=1, max_length=sizes.NAME_CHARS), AfterValidator(_not_blank)
]
Amount = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
Text = Annotated[str, Field(max_length=sizes.NAME_CHARS)]
LongText = Annotated[str, Field(max_length=sizes.COMMERCE_TEXT_CHARS)]
Url = Annotated[str, Field(max_length=sizes.URL_CHARS)]
JsonObject = Annotated[dict[str, Any], AfterValidator(bounded)]


class _Document(BaseModel):
    """An item whose fields beyond the known ones are kept, within the limits on any JSON Sibyl stores."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _within_size(cls, data: Any) -> Any:
        if isinstance(data, dict):
            size = len(json.dumps(data, separators=(",", ":")).encode())
            if size > sizes.COMMERCE_DOCUMENT_BYTES:
                raise ValueError(f"{size} bytes; the limit for one item is {sizes.COMMERCE_DOCUMENT_BYTES}")
        return data

    @model_validator(mode="after")
    def _bounded_extras(self) -> _Document:
        bounded(self.model_extra or {})
        return self


class Category(_Document):
    id: ShopId
    name: Text | None = None
    url: Url | None = None
    isDeleted: StrictBool | None = None
    deletedAt: Moment | None = None


class CreateUpdateCategory(Category):
    updateEnabled: StrictBool | None = None


class CategoryBatch(BaseModel):
    categories: list[Category] = Field(min_length=1, max_length=sizes.CATALOGUE_BATCH)
    updateEnabled: StrictBool | None = None


class Product(_Document):
    id: ShopId
    name: Text | None = None
    url: Url | None = None
    imageUrl: Url | None = None
    sku: Text | None = None
    price: Amount | None = None
    alternativePrice: Amount | None = None
    categories: list[ShopId] | None = Field(default=None, max_length=sizes.CATALOGUE_BATCH)
    parentId: ShopId | None = None
    brand: Text | None = None
    description: LongText | None = None
    stock: Amount | None = None
    metaInfo: JsonObject | None = None
    isDeleted: StrictBool | None = None
    deletedAt: Moment | None = None


class CreateUpdateProduct(Product):
    updateEnabled: StrictBool | None = None


class ProductBatch(BaseModel):
    products: list[Product] = Field(min_length=1, max_length=sizes.CATALOGUE_BATCH)
    updateEnabled: StrictBool | None = None


class OrderIdentifiers(_Document):
    email_id: Email | None = None
    ext_id: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    loyalty_subscription_id: Text | None = None
    phone_id: Text | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> OrderIdentifiers:
        if not (self.email_id or self.ext_id or self.loyalty_subscription_id or self.phone_id):
            raise ValueError("give at least one of email_id, ext_id, loyalty_subscription_id, phone_id")
        return self


class OrderProduct(_Document):
    productId: ShopId
    price: Amount
    variantId: ShopId | None = None
    quantity: Annotated[int, Field(ge=0, le=10**9)] | None = None  # 2.0 taken too, as PHP shops send it
    quantityFloat: Annotated[float, Field(allow_inf_nan=False, ge=0, le=1e9)] | None = None

    @model_validator(mode="after")
    def _one_quantity(self) -> OrderProduct:
        if (self.quantity is None) == (self.quantityFloat is None):
            raise ValueError("give either quantity or quantityFloat")
        return self


class Order(_Document):
    id: ShopId
    createdAt: Moment
    updatedAt: Moment
    status: Annotated[str, Field(min_length=1, max_length=sizes.NAME_CHARS)]
    amount: Amount
    products: list[OrderProduct] = Field(max_length=sizes.ORDER_PRODUCTS)
    identifiers: OrderIdentifiers | None = None
    email: Email | None = None  # the contact as Brevo's first order documents (and Thelia's module) name it
    storeId: Text | None = None
    billing: JsonObject | None = None
    coupons: list[Text] | None = Field(default=None, max_length=sizes.CATALOGUE_BATCH)
    metaInfo: JsonObject | None = None

    @model_validator(mode="after")
    def _names_a_contact(self) -> Order:
        if self.identifiers is None and self.email is None:
            raise ValueError("give identifiers (email_id, ext_id, ...) to link the order to a contact")
        return self

    @property
    def contact_email(self) -> str | None:
        return (self.identifiers.email_id if self.identifiers else None) or self.email

    @property
    def contact_ext_id(self) -> str | None:
        return self.identifiers.ext_id if self.identifiers else None


class OrderBatch(BaseModel):
    orders: list[Order] = Field(min_length=1, max_length=sizes.ORDER_BATCH)
    historical: StrictBool = True
    notifyUrl: Url | None = None


class DisplayCurrency(BaseModel):
    """The currency the shop shows its amounts in, as an ISO 4217 code (`EUR`)."""

    code: Annotated[StrictStr, Field(min_length=1, max_length=sizes.NAME_CHARS)]


def parse_item(model: type[Model], raw: Any, prefix: str = "") -> Model:
    """`raw` as `model`, or a 400 naming the first field that is wrong (`missing_parameter` when it is absent)."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        missing = error.errors(include_url=False)[0]["type"] == "missing"
        raise ApiError(400, validation_message(error, prefix), "missing_parameter" if missing else None) from None
