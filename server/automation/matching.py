"""Whether an event passes a trigger's `where` tests or an `if` step's condition, and whether a page's path matches
a trigger's pattern: pure rules over the event's data and properties and its contact's attributes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..values import plain_number
from .conditions import Condition, Operator, Subject, Test, Where, where_subject

_ABSENT = object()


@dataclass(frozen=True)
class Facts:
    """What tests look at: the triggering event's `eventdata.data` and properties, and its contact's attributes
    (stored upper-case, so read whatever the case a definition writes)."""

    data: Any = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def value(self, subject: Subject, name: str) -> Any:
        """The value a test names, or _ABSENT: `data` names a path (`total`, `customer.country`, `items.0.name`)."""
        if subject is Subject.ATTRIBUTE:
            return self.attributes.get(name.upper(), _ABSENT)
        if subject is Subject.PROPERTY:
            if name in self.properties:
                return self.properties[name]
            folded = name.casefold()
            return next((value for key, value in self.properties.items() if key.casefold() == folded), _ABSENT)
        return _walk(self.data, name)


def _walk(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _ABSENT
    return value


def _same(value: Any, expected: Any) -> bool:
    """Equal as the shop means it: numbers by value (`"20.0"` equals 20), true and false only as themselves,
    text exactly."""
    if isinstance(expected, bool) or isinstance(value, bool):
        return value is expected
    if isinstance(expected, int | float):
        number = plain_number(value)
        return number is not None and number == plain_number(expected)
    return bool(value == expected)


def passes(test: Test, value: Any) -> bool:
    """Whether a value (or _ABSENT) passes one test; a missing or non-numeric value fails every test but
    `exists: false`."""
    operator, expected = test.operator
    present = value is not _ABSENT and value is not None
    if operator is Operator.EXISTS:
        return present is expected
    if not present:
        return False
    if operator is Operator.EQUALS:
        return _same(value, expected)
    if operator is Operator.IN:
        return any(_same(value, choice) for choice in expected)
    number, bound = plain_number(value), plain_number(expected)
    if number is None or bound is None:
        return False
    return number >= bound if operator is Operator.GTE else number <= bound


def where_passes(where: Where, facts: Facts) -> bool:
    """Every test of a trigger's `where` passes (an empty `where` always does)."""
    return all(passes(test, facts.value(*where_subject(key))) for key, test in where.items())


def condition_passes(condition: Condition, facts: Facts) -> bool:
    """An `if` step's condition."""
    return passes(condition, facts.value(*condition.subject))


@lru_cache(maxsize=256)
def _pattern(page: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in page.split("*")), re.DOTALL)


def page_matches(page: str, path: str) -> bool:
    """Whether a page's path matches a trigger's pattern, where `*` matches any characters, slashes included."""
    return _pattern(page).fullmatch(path) is not None
