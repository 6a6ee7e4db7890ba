"""The tests a workflow makes on an event or a contact: a trigger's `where` and an `if` step's condition."""

from __future__ import annotations

import json
import math
import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictStr,
    model_validator,
)

from ..config import parse_duration
from ..ingest import sizes

IN_VALUES = 100  # values of one `in` test
WHERE_TESTS = 20  # tests in one trigger's `where`
LONGEST_DURATION = timedelta(days=365)


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text


def _duration(value: Any) -> Any:
    """`90s`, `15m`, `2h` or `3d` (what the settings read) as a timedelta of at least a second and at most a year."""
    if not isinstance(value, str):
        return value
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise ValueError(f"not a duration ({json.dumps(value)}); use 90s, 15m, 2h or 3d") from None
    if not 1 <= seconds <= LONGEST_DURATION.total_seconds():
        raise ValueError(f"{json.dumps(value)} is out of range; a duration is between 1s and {LONGEST_DURATION.days}d")
    return timedelta(seconds=seconds)


def duration_text(duration: timedelta) -> str:
    """A duration as a document writes it: whole days from three days up (`3d`, `7d`), else the largest whole unit
    of hours, minutes or seconds (`24h`, `48h`, `15m`, `90s`), as people write waits."""
    seconds = int(duration.total_seconds())
    if seconds % 86400 == 0 and seconds >= 3 * 86400:
        return f"{seconds // 86400}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta, BeforeValidator(_duration), Field(strict=False), PlainSerializer(duration_text, return_type=str)
]
Name = Annotated[StrictStr, Field(min_length=1, max_length=sizes.NAME_CHARS), AfterValidator(_not_blank)]
EventName = Name
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def _scalar(value: Any) -> Any:
    """A text of at most NAME_CHARS characters, a finite number, or true or false."""
    if isinstance(value, str) and len(value) > sizes.NAME_CHARS:
        raise ValueError(f"{len(value)} characters; the limit is {sizes.NAME_CHARS}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("not a finite number")
    if not isinstance(value, str | int | float):  # bool is an int
        raise ValueError("must be a text, a number, true or false")
    return value


Scalar = Annotated[Any, AfterValidator(_scalar)]


class Operator(StrEnum):
    """How a test compares: the value equals, is one of a list, is at least or at most a number, or is present."""

    EQUALS = "equals"
    IN = "in"
    GTE = "gte"
    LTE = "lte"
    EXISTS = "exists"


OPERATORS = [operator.value for operator in Operator]


class Subject(StrEnum):
    """What a test looks at: the event's data, its properties, or an attribute of its contact."""

    DATA = "data"
    PROPERTY = "property"
    ATTRIBUTE = "attribute"


# How a trigger's `where` spells each subject before the dot (`properties.X`, where an `if` step says `property`).
_WHERE_PREFIXES = {"data": Subject.DATA, "properties": Subject.PROPERTY, "attribute": Subject.ATTRIBUTE}
_WHERE_KEY = re.compile(r"^(data|properties|attribute)\.(.+)$", re.DOTALL)


def _one_operator(data: Any) -> Any:
    if isinstance(data, dict):
        operators = [key for key in OPERATORS if key in data]
        if len(operators) > 1:
            raise ValueError(f"one operator per test, not {' and '.join(operators)}")
        if not operators:
            raise ValueError(f"no operator; use one of {', '.join(OPERATORS[:-1])} or {OPERATORS[-1]}")
    return data


class Test(BaseModel):
    """One operator and its value: `{"equals": "FR"}`, `{"in": [...]}`, `{"gte": 20}`, `{"lte": 5}` or
    `{"exists": true}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    equals: Scalar | None = None
    in_: Annotated[list[Scalar], Field(min_length=1, max_length=IN_VALUES)] | None = Field(default=None, alias="in")
    gte: Number | None = None
    lte: Number | None = None
    exists: StrictBool | None = None

    @model_validator(mode="before")
    @classmethod
    def _operator(cls, data: Any) -> Any:
        return _one_operator(data)

    @property
    def operator(self) -> tuple[Operator, Any]:
        """The test's operator and its value."""
        for operator in Operator:
            if operator.value in self.model_fields_set or f"{operator.value}_" in self.model_fields_set:
                return operator, getattr(self, "in_" if operator is Operator.IN else operator.value)
        raise AssertionError("a validated test has one operator")


class Condition(Test):
    """An `if` step's test: `{"attribute": NAME, OP: VALUE}`, or the same with `property` or `data`."""

    attribute: Name | None = None
    property_: Name | None = Field(default=None, alias="property")
    data: Name | None = None

    @model_validator(mode="before")
    @classmethod
    def _subject(cls, data: Any) -> Any:
        if isinstance(data, dict):
            subjects = [subject.value for subject in Subject if subject.value in data]
            if len(subjects) != 1:
                found = f"not {' and '.join(subjects)}" if subjects else "none given"
                raise ValueError(f"name one of attribute, property or data ({found})")
        return data

    @property
    def subject(self) -> tuple[Subject, str]:
        """What the condition looks at, and the name of the field or attribute."""
        names = {Subject.DATA: self.data, Subject.PROPERTY: self.property_, Subject.ATTRIBUTE: self.attribute}
        return next((subject, name) for subject, name in names.items() if name is not None)


def _where_keys(where: dict[str, Test]) -> dict[str, Test]:
    if len(where) > WHERE_TESTS:
        raise ValueError(f"{len(where)} tests; the limit is {WHERE_TESTS}")
    for key in where:
        match = _WHERE_KEY.match(key)
        if not match or not match.group(2).strip() or len(match.group(2)) > sizes.NAME_CHARS:
            raise ValueError(f"{json.dumps(key)} is not data.NAME, properties.NAME or attribute.NAME")
    return where


Where = Annotated[dict[str, Test], AfterValidator(_where_keys)]


def where_subject(key: str) -> tuple[Subject, str]:
    """What a `where` key (`data.total`, `properties.path`, `attribute.COUNTRY`) looks at, and the name."""
    prefix, _, name = key.partition(".")
    return _WHERE_PREFIXES[prefix], name
