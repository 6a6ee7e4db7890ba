"""Which events a workflow's tests let through: `where` on a trigger, an `if` step's condition, page patterns."""

from __future__ import annotations

from typing import Any

import pytest

from server.automation import conditions
from server.automation.conditions import Condition
from server.automation.definitions import EventTrigger, parse_workflow
from server.automation.matching import Facts, condition_passes, page_matches, where_passes

CART = {"total": "1,448.40", "currency": "EUR", "customer": {"country": "FR"}, "items": [{"name": "Shoe"}]}
FACTS = Facts(data=CART, properties={"Plan": "gold", "age": 19}, attributes={"COUNTRY": "FR", "VIP": True})


def where(tests: dict[str, Any]) -> bool:
    document = {"name": "w", "trigger": {"event": "cart_updated", "where": tests}, "steps": [{"wait": "1h"}]}
    trigger = parse_workflow(document).trigger
    assert isinstance(trigger, EventTrigger)
    return where_passes(trigger.where, FACTS)


@pytest.mark.parametrize(
    ("tests", "passes"),
    [
        ({}, True),
        ({"data.total": {"gte": 20}}, True),  # PrestaShop's "1,448.40" is a number
        ({"data.total": {"lte": 20}}, False),
        ({"data.total": {"gte": 20}, "data.currency": {"equals": "USD"}}, False),  # every test must pass
        ({"data.customer.country": {"in": ["FR", "BE"]}}, True),
        ({"data.items.0.name": {"equals": "Shoe"}}, True),
        ({"data.items.1.name": {"exists": True}}, False),
        ({"data.coupon": {"exists": False}}, True),
        ({"data.currency": {"gte": 1}}, False),  # not a number: fails, never an error
        ({"properties.plan": {"equals": "gold"}}, True),  # a property's name in any case
        ({"properties.age": {"equals": 19.0}}, True),
        ({"properties.age": {"equals": "19"}}, False),  # text is compared as text
        ({"attribute.country": {"equals": "FR"}}, True),  # attributes are stored upper-case
        ({"attribute.VIP": {"equals": True}}, True),
        ({"attribute.VIP": {"equals": 1}}, False),  # true is not 1
        ({"attribute.FIRSTNAME": {"exists": True}}, False),
    ],
)
def test_a_trigger_passes_when_every_test_does(tests: dict[str, Any], passes: bool) -> None:
    assert where(tests) is passes


@pytest.mark.parametrize(
    ("condition", "passes"),
    [
        ({"attribute": "COUNTRY", "equals": "FR"}, True),
        ({"attribute": "COUNTRY", "in": ["DE", "IT"]}, False),
        ({"property": "age", "lte": 18}, False),
        ({"data": "total", "gte": 1000}, True),
        ({"data": "nothing", "exists": False}, True),
    ],
)
def test_an_if_step_condition(condition: dict[str, Any], passes: bool) -> None:
    assert condition_passes(Condition.model_validate(condition), FACTS) is passes


def test_a_null_value_is_absent() -> None:
    facts = Facts(data={"coupon": None})
    assert condition_passes(Condition.model_validate({"data": "coupon", "exists": False}), facts)
    assert not condition_passes(Condition.model_validate({"data": "coupon", "equals": 0}), facts)
    assert conditions.Test.model_validate({"exists": True}).operator[1] is True


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/products/*", "/products/black-shoes", True),
        ("/products/*", "/products/shoes/black", True),  # `*` crosses slashes
        ("/products/*", "/products", False),
        ("/products/*", "/cart", False),
        ("/p/*/reviews", "/p/42/reviews", True),
        ("/p/*/reviews", "/p/42/reviews/2", False),
        ("/a.b/*", "/aXb/c", False),  # every other character is itself
        ("/cart", "/cart", True),
    ],
)
def test_page_patterns(pattern: str, path: str, matches: bool) -> None:
    assert page_matches(pattern, path) is matches
