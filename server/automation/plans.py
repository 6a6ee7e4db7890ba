"""A parsed workflow made ready to run: each step by its path, where a run goes after it, and the events it hears."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from .definitions import AnyStep, IfStep, Per, WaitForStep, Workflow


@dataclass(frozen=True)
class Plan:
    """One workflow definition as the engine runs it: its row id and version, and the steps by path."""

    id: int
    version: int
    workflow: Workflow
    steps: dict[str, AnyStep] = field(init=False)
    following: dict[str, str | None] = field(init=False)  # the step a run goes on to after each one (None: the end)

    def __post_init__(self) -> None:
        steps: dict[str, AnyStep] = {}
        following: dict[str, str | None] = {}
        _index(self.workflow.steps, "steps", None, steps, following)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "following", following)

    @property
    def per(self) -> Per:
        return self.workflow.trigger.per

    def first(self) -> str:
        return "steps[0]"

    def branch(self, path: str, branch: str) -> str | None:
        """Where a run goes into a step's `then` or `else`: its first step, or after the step when it is empty."""
        step = self.steps[path]
        assert isinstance(step, WaitForStep | IfStep)
        steps = step.then if branch == "then" else step.else_
        return f"{path}.{branch}[0]" if steps else self.following[path]

    @cached_property
    def exit_events(self) -> frozenset[str]:
        return frozenset(self.workflow.exit_on)

    @cached_property
    def awaited_events(self) -> frozenset[str]:
        """The events one of its `wait_for` steps waits for."""
        return frozenset(step.wait_for.event for step in self.steps.values() if isinstance(step, WaitForStep))


def _index(
    steps: list[AnyStep],
    prefix: str,
    after: str | None,
    found: dict[str, AnyStep],
    following: dict[str, str | None],
) -> None:
    """Record each step and the one after it: the next in its list, or, at the end of a branch, the step after
    the one that branched (the run goes on after a branch unless it exits)."""
    for index, step in enumerate(steps):
        path = f"{prefix}[{index}]"
        found[path] = step
        following[path] = f"{prefix}[{index + 1}]" if index + 1 < len(steps) else after
        if isinstance(step, WaitForStep | IfStep):
            _index(step.then, f"{path}.then", following[path], found, following)
            _index(step.else_, f"{path}.else", following[path], found, following)
