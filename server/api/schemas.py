"""The shapes clients send: validated here, and published from here as the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from flask import request
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from ..contacts.addresses import InvalidAddress, email_address
from ..contacts.attributes import Choice
from ..errors import ApiError, validation_message
from ..ingest import sizes
from ..ingest.input_checks import load_json

Model = TypeVar("Model", bound=BaseModel)


def _email(value: str) -> str:
    """The address in its stored form; one that is not a plain address is refused, saying why."""
    try:
        return email_address(value)
    except InvalidAddress as error:
        raise ValueError(f"not a valid email address: {error}") from None


def _identifying_email(properties: dict[str, Any]) -> dict[str, Any]:
    """An `email` property (in any case) identifies the sender too, so a non-blank string there must be an address."""
    for key, value in properties.items():
        if key.lower() == "email" and isinstance(value, str) and value.strip():
            try:
                email_address(value)
            except InvalidAddress as error:
                raise ValueError(f"{key}: not a valid email address: {error}") from None
    return properties


def bounded(value: Any, depth: int = 0) -> Any:
    """JSON no deeper than NESTING_DEPTH and with at most PROPERTY_KEYS keys in any object."""
    if depth > sizes.NESTING_DEPTH:
        raise ValueError(f"nested deeper than {sizes.NESTING_DEPTH} levels")
    if isinstance(value, dict):
        if len(value) > sizes.PROPERTY_KEYS:
            raise ValueError(f"{len(value)} keys; the limit is {sizes.PROPERTY_KEYS}")
        for item in value.values():
            bounded(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            bounded(item, depth + 1)
    return value


def _moment(value: datetime) -> datetime:
    """A date with a zone (none given: UTC), in UTC, between the Unix epoch and the end of year 9999."""
    try:
        moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:  # before year 1 or after year 9999 once in UTC
        raise ValueError(_OUT_OF_RANGE) from None
    if moment < EARLIEST:
        raise ValueError(_OUT_OF_RANGE)
    return moment


MAX_ID = 2**31 - 1  # row ids are INTEGER on PostgreSQL
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_OUT_OF_RANGE = "must be between 1970-01-01 and 9999-12-31 (UTC)"
LATEST_MS = int(datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC).timestamp() * 1000)
Moment = Annotated[datetime, AfterValidator(_moment)]
RowId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]
Properties = Annotated[dict[str, Any], AfterValidator(bounded), AfterValidator(_identifying_email)]
Identifier = Annotated[str, Field(pattern=r"^[\w.\-]+$", min_length=1, max_length=sizes.ID_CHARS)]
Name = Annotated[str, Field(min_length=1, max_length=sizes.NAME_CHARS)]
# Shaped like an IANA time zone's name (`Asia/Tokyo`, `Etc/GMT+9`); whether this server knows the zone is ingest's rule
TimeZoneName = Annotated[str, Field(min_length=1, max_length=sizes.TIME_ZONE_CHARS, pattern=r"^[A-Za-z0-9_+\-/]+$")]
EventName = Annotated[str, Field(min_length=1, max_length=sizes.NAME_CHARS, pattern=r"^[A-Za-z0-9_-]+$")]


def is_number(text: str) -> bool:
    """ASCII digits only (`str.isdigit` also takes '²', which `int` refuses)."""
    return text.isascii() and text.isdigit()


def json_body() -> Any:
    """The request's JSON body, whatever its content type; 400 when it is not JSON or holds what no store keeps."""
    return load_json(request.get_data())


def parse_body(model: type[Model]) -> Model:
    return parse(model, json_body())


def parse(model: type[Model], raw: Any, prefix: str = "") -> Model:
    """`raw` as `model`, or a 400 naming the first field that is wrong."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise ApiError(400, validation_message(error, prefix)) from None


class EventData(BaseModel):
    """Brevo's `eventdata`: the object an event is about (`id`, e.g. a cart) and its `data`."""

    model_config = ConfigDict(extra="allow")

    id: StrictStr | StrictInt | None = None
    data: Annotated[Any, AfterValidator(bounded)] = None

    @model_validator(mode="after")
    def _bounded_extras(self) -> EventData:
        """Other keys are kept too, so they are held to the same limits as `data`."""
        bounded(self.model_extra or {})
        return self


# The tracker's own batches (POST /collect)


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Identifier
    type: Literal["page", "track", "identify", "link"]
    ts: StrictInt | None = Field(default=None, ge=0, le=LATEST_MS)  # ms since the epoch
    url: str | None = Field(default=None, max_length=sizes.URL_CHARS)
    name: str | None = Field(default=None, max_length=sizes.NAME_CHARS)
    email: Email | None = None
    tz: TimeZoneName | None = None  # the browser's, sent with an identification
    properties: Properties = Field(default_factory=dict)
    eventdata: EventData | None = None

    @model_validator(mode="after")
    def _required_per_type(self) -> Message:
        if self.type in ("track", "link") and not (self.name or "").strip():
            raise ValueError(f"a {self.type} message needs a non-empty name")
        if self.type == "identify" and self.email is None:
            raise ValueError("an identify message needs an email")
        return self


class Batch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = Field(min_length=1, max_length=sizes.ID_CHARS)
    cuid: Identifier
    messages: list[Message] = Field(min_length=1, max_length=sizes.BATCH_MESSAGES)


# Brevo's tracker REST API (POST /api/v2/*, header ma-key)


def _none_as_empty(value: Any) -> Any:
    return {} if value is None else value


# Brevo's tracker REST bodies as the plugins send them: nopCommerce's `null` properties and attributes, Stape's
# `eventData`, a PrestaShop tracker's `link` for a page.
MaybeProperties = Annotated[Properties, BeforeValidator(_none_as_empty)]


def _spelled(raw: Any, name: str, other: str) -> Any:
    """The body with `other` read as `name` when only `other` is there."""
    if isinstance(raw, dict) and name not in raw and other in raw:
        return {**raw, name: raw[other]}
    return raw


class V2Identify(BaseModel):
    email: Email
    attributes: MaybeProperties = Field(default_factory=dict)
    tz: TimeZoneName | None = None  # the contact's IANA time zone, as the tracker's own identify sends it


class V2TrackEvent(BaseModel):
    email: Email
    event: Name
    properties: MaybeProperties = Field(default_factory=dict)
    eventdata: EventData | None = None

    @model_validator(mode="before")
    @classmethod
    def _stape_spelling(cls, raw: Any) -> Any:
        return _spelled(raw, "eventdata", "eventData")


class V2TrackLink(BaseModel):
    email: Email
    link: str = Field(min_length=1, max_length=sizes.URL_CHARS)
    properties: MaybeProperties = Field(default_factory=dict)


class V2TrackPage(BaseModel):
    email: Email
    page: Name
    properties: MaybeProperties = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _link_for_page(cls, raw: Any) -> Any:
        return _spelled(raw, "page", "link")


# Brevo's v3 API (header api-key)


class V3Identifiers(BaseModel):
    email_id: Email | None = None
    ext_id: str | None = Field(default=None, min_length=1, max_length=255)
    contact_id: RowId | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> V3Identifiers:
        if self.email_id is None and self.ext_id is None and self.contact_id is None:
            raise ValueError("give at least one of email_id, ext_id, contact_id")
        return self


class V3Event(BaseModel):
    event_name: EventName
    event_date: Moment | None = None
    identifiers: V3Identifiers
    contact_properties: Properties | None = None
    event_properties: Properties | None = None


class V3EventBatch(BaseModel):
    events: list[dict[str, Any]] = Field(min_length=1, max_length=sizes.V3_BATCH_EVENTS)


class V3CreateContact(BaseModel):
    email: Email | None = None
    ext_id: str | None = Field(default=None, min_length=1, max_length=255)
    attributes: Properties | None = None
    emailBlacklisted: bool | None = None
    smsBlacklisted: bool | None = None
    listIds: list[RowId] | None = None
    updateEnabled: bool | None = None

    @model_validator(mode="after")
    def _email_or_ext_id(self) -> V3CreateContact:
        if self.email is None and self.ext_id is None:
            raise ValueError("give email or ext_id")
        return self


class V3UpdateContact(BaseModel):
    ext_id: str | None = Field(default=None, min_length=1, max_length=255)
    attributes: Properties | None = None
    emailBlacklisted: bool | None = None
    smsBlacklisted: bool | None = None
    listIds: list[RowId] | None = None


class AttributeChoice(BaseModel):
    """One value of a category attribute: its number and its label."""

    value: StrictInt
    label: str = Field(min_length=1, max_length=sizes.ATTRIBUTE_LABEL_CHARS, pattern=r"^[^\x00-\x1f\x7f]+$")


class V3UpdateAttribute(BaseModel):
    enumeration: list[AttributeChoice] | None = Field(default=None, max_length=sizes.ATTRIBUTE_CHOICES)
    value: str | None = None
    multiCategoryOptions: list[str] | None = None

    def choices(self) -> list[Choice] | None:
        return None if self.enumeration is None else [Choice(item.value, item.label) for item in self.enumeration]


class V3CreateAttribute(V3UpdateAttribute):
    type: str | None = None
    isRecurring: bool | None = None
