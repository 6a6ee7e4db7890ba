"""The workflow definition language: the documented example, the presets, and what a broken document is told."""

from __future__ import annotations

import copy
import json
import warnings
from datetime import timedelta
from typing import Any

import pytest

from server.automation.conditions import Operator, Subject
from server.automation.definitions import (
    MAX_STEPS,
    DefinitionError,
    EmailStep,
    EventTrigger,
    IfStep,
    Per,
    WaitForStep,
    WaitStep,
    parse_workflow,
    presets,
    step_paths,
    workflow_document,
)

EXAMPLE: dict[str, Any] = json.loads("""
{
  "name": "Cart recovery, three emails",
  "enabled": true,
  "trigger": {"event": "cart_updated", "per": "cart", "where": {"data.total": {"gte": 20}}},
  "restart": true,
  "exit_on": ["order_completed", "cart_deleted"],
  "reentry": true,
  "holdout": 0.1,
  "goal": {"event": "order_completed", "within": "7d"},
  "steps": [
    {"wait": "1h"},
    {"email": {"template": "cart-1", "subject": "You left something behind"}},
    {"wait_for": {"event": "order_completed", "timeout": "24h"}, "then": [{"exit": true}]},
    {"if": {"attribute": "COUNTRY", "equals": "FR"},
     "then": [{"email": {"template": "cart-2-fr"}}], "else": [{"email": {"template": "cart-2"}}]},
    {"wait": "48h"},
    {"email": {"template": "cart-3"}}
  ]
}
""")


def _with(change: dict[str, Any], per: str = "contact") -> dict[str, Any]:
    """A small valid document with some top-level keys replaced."""
    document = {"name": "Test", "trigger": {"event": "signed_up", "per": per}, "steps": [{"wait": "1h"}]}
    return {**document, **change}


def _nested(depth: int) -> list[dict[str, Any]]:
    """Steps nested `depth` levels deep through `wait_for` then branches."""
    steps: list[dict[str, Any]] = [{"exit": True}]
    for _ in range(depth - 1):
        steps = [{"wait_for": {"event": "page", "timeout": "1h"}, "then": steps}]
    return steps


def test_the_documented_example_validates_into_its_parts() -> None:
    workflow = parse_workflow(EXAMPLE)

    assert isinstance(workflow.trigger, EventTrigger)
    assert workflow.trigger.per is Per.CART
    assert workflow.trigger.where["data.total"].operator == (Operator.GTE, 20)
    assert workflow.holdout == 0.1
    assert workflow.goal is not None and workflow.goal.within == timedelta(days=7)
    assert isinstance(workflow.steps[0], WaitStep) and workflow.steps[0].wait == timedelta(hours=1)
    wait_for = workflow.steps[2]
    assert isinstance(wait_for, WaitForStep) and wait_for.wait_for.timeout == timedelta(hours=24)
    branch = workflow.steps[3]
    assert isinstance(branch, IfStep)
    assert branch.if_.subject == (Subject.ATTRIBUTE, "COUNTRY")
    assert branch.if_.operator == (Operator.EQUALS, "FR")
    assert isinstance(branch.else_[0], EmailStep) and branch.else_[0].email.template == "cart-2"


def test_step_paths_list_every_step_in_document_order() -> None:
    assert step_paths(parse_workflow(EXAMPLE)) == [
        "steps[0]",
        "steps[1]",
        "steps[2]",
        "steps[2].then[0]",
        "steps[3]",
        "steps[3].then[0]",
        "steps[3].else[0]",
        "steps[4]",
        "steps[5]",
    ]


def test_defaults_are_the_documented_ones() -> None:
    workflow = parse_workflow({"name": "Hello", "trigger": {"identified": True}, "steps": [{"exit": True}]})

    assert (workflow.enabled, workflow.restart, workflow.reentry, workflow.holdout) == (True, False, True, 0)
    assert workflow.trigger.per is Per.CONTACT and workflow.exit_on == [] and workflow.goal is None


def test_every_preset_validates() -> None:
    found = presets()

    assert sorted(found) == ["abandoned-cart", "browse-abandonment", "cart-series", "post-purchase", "welcome"]
    cart = found["abandoned-cart"]
    assert cart.trigger.per is Per.CART and cart.restart and cart.exit_on == ["order_completed", "cart_deleted"]
    assert [type(step) for step in cart.steps] == [WaitStep, EmailStep]
    assert isinstance(cart.steps[1], EmailStep) and cart.steps[1].email.template is None


def test_the_largest_allowed_document_validates() -> None:
    deepest = _with({"steps": _nested(5)})
    longest = _with({"steps": [{"wait": "1m"}] * MAX_STEPS})

    assert len(step_paths(parse_workflow(deepest))) == 5
    assert len(step_paths(parse_workflow(longest))) == MAX_STEPS


def _example_with(path: list[str | int], value: Any) -> dict[str, Any]:
    """The documented example with the value at `path` replaced."""
    document = copy.deepcopy(EXAMPLE)
    target: Any = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return document


BROKEN = [
    pytest.param(
        _with({"trigger": {"page": "/products/*", "per": "cart"}, "steps": [{"email": {"template": "b"}}]}),
        "trigger.per: a page view names no cart: use per contact or per event",
        id="page-per-cart",
    ),
    pytest.param(
        _with({"trigger": {"identified": True, "per": "cart"}, "steps": [{"email": {"template": "w"}}]}),
        "trigger.per: a new contact names no cart: use per contact or per event",
        id="identified-per-cart",
    ),
    pytest.param(
        _with({"steps": [{"wait": "1h"}, {"sleep": "1h"}]}),
        'steps[1]: not a known step (keys: "sleep"); use one of wait, wait_for, if, email or exit',
        id="unknown-step",
    ),
    pytest.param(
        _example_with(["steps", 2, "wait_for", "timeout"], "tomorrow"),
        'steps[2].wait_for.timeout: not a duration ("tomorrow"); use 90s, 15m, 2h or 3d',
        id="bad-timeout",
    ),
    pytest.param(
        _example_with(["steps", 2, "then"], [{"wait": "soon"}]),
        'steps[2].then[0].wait: not a duration ("soon"); use 90s, 15m, 2h or 3d',
        id="bad-duration-in-then",
    ),
    pytest.param(
        _example_with(["steps", 3, "else"], [{"exit": True}, {"wait": "2 weeks"}]),
        'steps[3].else[1].wait: not a duration ("2 weeks"); use 90s, 15m, 2h or 3d',
        id="bad-duration-in-else",
    ),
    pytest.param(
        _with({"steps": [{"wait": "400d"}]}),
        'steps[0].wait: "400d" is out of range; a duration is between 1s and 365d',
        id="duration-too-long",
    ),
    pytest.param(
        _example_with(["steps", 3, "if"], {"attribute": "COUNTRY", "equals": "FR", "in": ["FR", "BE"]}),
        "steps[3].if: one operator per test, not equals and in",
        id="if-with-two-operators",
    ),
    pytest.param(
        _example_with(["steps", 3, "if"], {"attribute": "COUNTRY", "data": "country", "equals": "FR"}),
        "steps[3].if: name one of attribute, property or data (not data and attribute)",
        id="if-with-two-subjects",
    ),
    pytest.param(
        _example_with(["trigger", "where"], {"data.total": {"more": 20}}),
        "trigger.where.data.total: no operator; use one of equals, in, gte, lte or exists",
        id="where-without-operator",
    ),
    pytest.param(
        _example_with(["trigger", "where"], {"data.total": {"gte": "twenty"}}),
        "trigger.where.data.total.gte: Input should be a valid number",
        id="where-gte-not-a-number",
    ),
    pytest.param(
        _example_with(["steps", 3, "if"], {"data": "tags", "in": ["a", {"b": 1}]}),
        "steps[3].if.in[1]: must be a text, a number, true or false",
        id="in-value-not-a-scalar",
    ),
    pytest.param(
        _example_with(["trigger", "where"], {"total": {"gte": 20}}),
        'trigger.where: "total" is not data.NAME, properties.NAME or attribute.NAME',
        id="where-key-without-subject",
    ),
    pytest.param(
        _example_with(["trigger", "where"], {"data.sku": {"in": [str(n) for n in range(101)]}}),
        "trigger.where.data.sku.in: List should have at most 100 items after validation, not 101",
        id="in-list-too-long",
    ),
    pytest.param(
        _with({"steps": [{"email": {"subject": "Your cart"}}]}),
        "steps[0].email.template: required unless the trigger is per cart "
        "(without one, the email is the built-in cart recovery email)",
        id="cart-email-per-contact",
    ),
    pytest.param(
        _with({"steps": [{"wait": "1h"}, {"if": {"data": "x", "exists": True}, "then": [{"email": {}}]}]}, per="event"),
        "steps[1].then[0].email.template: required unless the trigger is per cart "
        "(without one, the email is the built-in cart recovery email)",
        id="nested-cart-email-per-event",
    ),
    pytest.param(_with({"holdout": 1.5}), "holdout: Input should be less than 1", id="holdout-over-one"),
    pytest.param(_with({"holdout": 1}), "holdout: Input should be less than 1", id="holdout-everyone"),
    pytest.param(_with({"steps": []}), "steps: List should have at least 1 item after validation, not 0", id="empty"),
    pytest.param(
        _example_with(["steps", 1], {"email": {"tempalte": "cart-1"}}),
        "steps[1].email.tempalte: not a known key",
        id="typo-in-email",
    ),
    pytest.param(_with({"exit_onn": ["order_completed"]}), "exit_onn: not a known key", id="typo-at-top"),
    pytest.param(
        _with({"steps": [{"wait": "1h", "then": [{"exit": True}]}]}),
        "steps[0].then: not a known key",
        id="then-on-a-wait",
    ),
    pytest.param(
        _with({"steps": [{"wait": "1h", "exit": True}]}),
        "steps[0]: one step per object, not wait and exit",
        id="two-steps-in-one",
    ),
    pytest.param(
        _with({"steps": _nested(6)}),
        "steps[0].then[0].then[0].then[0].then[0].then[0]: nested deeper than 5 levels of steps",
        id="too-deep",
    ),
    pytest.param(
        _with({"steps": [{"wait": "1m"}] * (MAX_STEPS + 1)}),
        f"steps[{MAX_STEPS}]: more than {MAX_STEPS} steps; the limit counts those in then and else",
        id="too-many-steps",
    ),
    pytest.param(
        _with({"exit_on": ["x" * 256]}),
        "exit_on[0]: String should have at most 255 characters",
        id="event-name-too-long",
    ),
    pytest.param(_with({"trigger": {"event": " "}}), "trigger.event: must not be blank", id="blank-event-name"),
    pytest.param(
        _with({"trigger": {"event": "cart_updated", "per": "session"}}),
        "trigger.per: Input should be 'cart', 'contact' or 'event'",
        id="unknown-per",
    ),
    pytest.param(
        _with({"trigger": {"url": "/products/*"}}),
        'trigger: not a known trigger (keys: "url"); use one of event, page or identified',
        id="unknown-trigger",
    ),
    pytest.param(
        _with({"trigger": {"page": "products/*"}}),
        "trigger.page: String should match pattern '^/'",
        id="page-not-a-path",
    ),
    pytest.param(_with({"name": ""}), "name: String should have at least 1 character", id="no-name"),
    pytest.param([EXAMPLE], "Input should be a valid dictionary or instance of Workflow", id="not-an-object"),
]


@pytest.mark.parametrize(("document", "message"), BROKEN)
def test_a_broken_document_is_refused_naming_where_and_why(document: Any, message: str) -> None:
    with pytest.raises(DefinitionError) as refused:
        parse_workflow(document)

    assert str(refused.value) == message


@pytest.mark.parametrize("name", ["example", *sorted(presets())])
def test_a_workflow_written_back_reads_as_the_same_workflow(name: str) -> None:
    workflow = parse_workflow(EXAMPLE) if name == "example" else presets()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "defaulting to left-to-right union serialization"
        document = workflow_document(workflow)
    assert parse_workflow(json.loads(json.dumps(document))) == workflow


def test_the_example_is_written_back_as_it_was_given() -> None:
    assert workflow_document(parse_workflow(EXAMPLE)) == EXAMPLE


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("90s", "90s"),
        ("120s", "2m"),
        ("15m", "15m"),
        ("90m", "90m"),
        ("2h", "2h"),
        ("24h", "24h"),
        ("48h", "48h"),
        ("72h", "3d"),
        ("7d", "7d"),
        ("1d", "24h"),
    ],
)
def test_a_duration_is_written_as_people_write_waits(given: str, written: str) -> None:
    document = workflow_document(parse_workflow(_with({"steps": [{"wait": given}, {"email": {"template": "t"}}]})))
    assert document["steps"][0] == {"wait": written}
