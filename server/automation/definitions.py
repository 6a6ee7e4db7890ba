"""The workflow definition language: one JSON document per workflow, validated into these models."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictStr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from ..ingest import sizes
from .conditions import Condition, Duration, EventName, Name, Where

MAX_STEPS = 50  # steps in one workflow, those inside `then` and `else` included
MAX_DEPTH = 5  # levels of steps: top-level steps are level 1, those in their `then` or `else` level 2, ...
EXIT_EVENTS = 20  # events in `exit_on`
PRESETS = Path(__file__).resolve().parent / "presets"


class DefinitionError(ValueError):
    """A workflow document that is not valid; the message names where (`steps[2].wait_for.timeout: ...`)."""


class Per(StrEnum):
    """What one run follows: a cart (the event's `data.id`), a contact, or each event on its own."""

    CART = "cart"
    CONTACT = "contact"
    EVENT = "event"


class StepKind(StrEnum):
    """The key that says what a step does."""

    WAIT = "wait"
    WAIT_FOR = "wait_for"
    IF = "if"
    EMAIL = "email"
    EXIT = "exit"


class TriggerKind(StrEnum):
    """The key that says what starts a run."""

    EVENT = "event"
    PAGE = "page"
    IDENTIFIED = "identified"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventTrigger(_Strict):
    """A tracked event with this name, whose data, properties or contact pass every test in `where`."""

    event: EventName
    where: Where = Field(default_factory=dict)
    per: Per = Per.CONTACT


class PageTrigger(_Strict):
    """A page view whose path matches `page`, where `*` matches any characters (slashes included)."""

    page: Annotated[StrictStr, Field(min_length=1, max_length=sizes.URL_CHARS, pattern=r"^/")]
    per: Per = Per.CONTACT

    @field_validator("per")
    @classmethod
    def _no_cart(cls, per: Per) -> Per:
        return _without_cart(per, "a page view")


class IdentifiedTrigger(_Strict):
    """A contact is created."""

    identified: Literal[True]
    per: Per = Per.CONTACT

    @field_validator("per")
    @classmethod
    def _no_cart(cls, per: Per) -> Per:
        return _without_cart(per, "a new contact")


def _without_cart(per: Per, trigger: str) -> Per:
    """Only an event names a cart (its `eventdata.id`): other triggers run per contact or per event."""
    if per is Per.CART:
        raise ValueError(f"{trigger} names no cart: use per contact or per event")
    return per


def _kind(value: Any, kinds: type[StrEnum], what: str) -> Any:
    """The one key of `kinds` in a step or trigger, as the tag of its model; a clear error for none or several."""
    if not isinstance(value, dict):
        return value
    found = [kind.value for kind in kinds if kind.value in value]
    names = [kind.value for kind in kinds]
    if not found:
        keys = ", ".join(json.dumps(key) for key in value) or "none"
        raise ValueError(f"not a known {what} (keys: {keys}); use one of {', '.join(names[:-1])} or {names[-1]}")
    if len(found) > 1:
        raise ValueError(f"one {what} per object, not {' and '.join(found)}")
    return value


def _tag(kinds: type[StrEnum]) -> Any:
    """The union member a document (when read) or a model (when written back) is: by its one kind key."""

    def tag(value: Any) -> str | None:
        if isinstance(value, BaseModel):
            keys = {field.alias or name for name, field in type(value).model_fields.items()}
        else:
            keys = set(value) if isinstance(value, dict) else set()
        found = [kind.value for kind in kinds if kind.value in keys]
        return f"{kinds.__name__}:{found[0]}" if found else None

    return tag


Trigger = Annotated[
    Annotated[EventTrigger, Tag("TriggerKind:event")]
    | Annotated[PageTrigger, Tag("TriggerKind:page")]
    | Annotated[IdentifiedTrigger, Tag("TriggerKind:identified")],
    Discriminator(_tag(TriggerKind)),
    BeforeValidator(lambda value: _kind(value, TriggerKind, "trigger")),
]


class WaitStep(_Strict):
    """Wait this long, then go on."""

    wait: Duration


class WaitFor(_Strict):
    event: EventName
    timeout: Duration


class WaitForStep(_Strict):
    """Wait for an event (same key) until the timeout: `then` if it came, `else` if it did not."""

    wait_for: WaitFor
    then: list[Step] = Field(default_factory=list)
    else_: list[Step] = Field(default_factory=list, alias="else")


class IfStep(_Strict):
    """`then` when the condition holds, `else` when it does not."""

    if_: Condition = Field(alias="if")
    then: list[Step] = Field(default_factory=list)
    else_: list[Step] = Field(default_factory=list, alias="else")


class Email(_Strict):
    """A template (none: the built-in cart recovery email), a subject overriding the template's, and whether the
    email is transactional (then the site's email period and quiet hours do not hold it back)."""

    template: Name | None = None
    subject: Name | None = None
    transactional: StrictBool = False


class EmailStep(_Strict):
    """Send an email to the run's contact."""

    email: Email


class ExitStep(_Strict):
    """End the run."""

    exit: Literal[True]


Step = Annotated[
    Annotated[WaitStep, Tag("StepKind:wait")]
    | Annotated[WaitForStep, Tag("StepKind:wait_for")]
    | Annotated[IfStep, Tag("StepKind:if")]
    | Annotated[EmailStep, Tag("StepKind:email")]
    | Annotated[ExitStep, Tag("StepKind:exit")],
    Discriminator(_tag(StepKind)),
    BeforeValidator(lambda value: _kind(value, StepKind, "step")),
]
_TAGS = {f"{kinds.__name__}:{kind.value}" for kinds in (StepKind, TriggerKind) for kind in kinds}


class Goal(_Strict):
    """The event that counts as a conversion when the run's contact sends it within the window after the start."""

    event: EventName
    within: Duration


class Workflow(_Strict):
    """One workflow: what starts a run, what ends it, and its steps."""

    name: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    enabled: StrictBool = True
    trigger: Trigger
    restart: StrictBool = False
    exit_on: Annotated[list[EventName], Field(max_length=EXIT_EVENTS)] = Field(default_factory=list)
    reentry: StrictBool = True
    holdout: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.0
    goal: Goal | None = None
    steps: Annotated[list[Step], Field(min_length=1)]

    @model_validator(mode="before")
    @classmethod
    def _within_bounds(cls, data: Any) -> Any:
        """At most MAX_STEPS steps, nested at most MAX_DEPTH levels; checked first, so a huge document costs little."""
        if isinstance(data, dict) and isinstance(data.get("steps"), list):
            for count, (path, depth) in enumerate(_raw_steps(data["steps"], "steps", 1), start=1):
                if depth > MAX_DEPTH:
                    raise ValueError(f"{path}: nested deeper than {MAX_DEPTH} levels of steps")
                if count > MAX_STEPS:
                    raise ValueError(f"{path}: more than {MAX_STEPS} steps; the limit counts those in then and else")
        return data

    @model_validator(mode="after")
    def _cart_email_per_cart(self) -> Workflow:
        """The built-in cart email needs a cart: a step without a template only in a workflow run per cart."""
        if self.trigger.per is not Per.CART:
            for path, step in walk(self.steps):
                if isinstance(step, EmailStep) and step.email.template is None:
                    raise ValueError(
                        f"{path}.email.template: required unless the trigger is per cart "
                        f"(without one, the email is the built-in cart recovery email)"
                    )
        return self


def _raw_steps(steps: list[Any], prefix: str, depth: int) -> Iterator[tuple[str, int]]:
    """Each step's path and level in an unvalidated document (what is not a list of objects is left to the models)."""
    for index, step in enumerate(steps):
        path = f"{prefix}[{index}]"
        yield path, depth
        if isinstance(step, dict):
            for branch in ("then", "else"):
                if isinstance(step.get(branch), list):
                    yield from _raw_steps(step[branch], f"{path}.{branch}", depth + 1)


AnyStep = WaitStep | WaitForStep | IfStep | EmailStep | ExitStep


def walk(steps: Sequence[AnyStep], prefix: str = "steps") -> Iterator[tuple[str, AnyStep]]:
    """Every step with its path, in document order: a step, then its `then` steps, then its `else` steps."""
    for index, step in enumerate(steps):
        path = f"{prefix}[{index}]"
        yield path, step
        if isinstance(step, WaitForStep | IfStep):
            yield from walk(step.then, f"{path}.then")
            yield from walk(step.else_, f"{path}.else")


def step_paths(workflow: Workflow) -> list[str]:
    """The path of every step (`steps[0]`, `steps[2].then[0]`, ...): a waiting run keeps its step across a new
    definition when its path is still there."""
    return [path for path, _ in walk(workflow.steps)]


def parse_workflow(raw: Any) -> Workflow:
    """The workflow in a JSON document (already loaded), or DefinitionError naming the first problem."""
    try:
        return Workflow.model_validate(raw)
    except ValidationError as error:
        raise DefinitionError(_problem(error.errors(include_url=False)[0])) from None


def workflow_document(workflow: Workflow) -> dict[str, Any]:
    """The workflow as a JSON document again, as it was given but for durations, written as `duration_text` does
    (`72h` as `3d`); defaults left out. `parse_workflow` reads it back as the same workflow."""
    document: dict[str, Any] = workflow.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return document


def presets() -> dict[str, Workflow]:
    """The workflows a site may start from, by file name (`abandoned-cart`, `welcome`, ...)."""
    return {path.stem: parse_workflow(json.loads(path.read_text())) for path in sorted(PRESETS.glob("*.json"))}


def _problem(error: ErrorDetails) -> str:
    """One sentence for a validation problem: `steps[2].wait_for.timeout: not a duration ("tomorrow"); ...`."""
    path = ""
    for part in error["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in _TAGS:  # the union's tag says which model was tried; the document has no such key
            path += f".{part}" if path else part
    if error["type"] == "value_error":
        message = str(error.get("ctx", {}).get("error", error["msg"]))
    elif error["type"] == "extra_forbidden":
        message = "not a known key"
    elif error["type"] == "missing":
        message = "required"
    else:
        message = error["msg"]
    return f"{path}: {message}" if path else message
