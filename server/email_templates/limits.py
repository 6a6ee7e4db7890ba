"""What a template may be and what one render may spend: loop iterations, characters, time; a breach is LimitExceeded.

Templates are written by the shop, but a dashboard account can be stolen, and the values printed come from tracked
events: neither may make a render run away. The budget of a render is held in a context variable, so that the loop
tag, the node lists and the filters of that render (in whichever thread it runs) draw on the same one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

MAX_SOURCE_CHARS = 100_000
MAX_NESTING = 50  # block tags inside block tags: enough for any email, and far from Python's recursion limit
MAX_LOOP_ITERATIONS = 10_000  # every loop of a render together, nested loops counted in full
MAX_OUTPUT_CHARS = 1_000_000
MAX_VALUE_CHARS = MAX_OUTPUT_CHARS  # no value a filter takes or gives may be longer than a whole email
MAX_RENDER_SECONDS = 1.0
MAX_FLOATFORMAT_DECIMALS = 1_000  # as Brevo's engine (pongo2) caps them
MAX_DATE_FORMAT_CHARS = 1_000


class LimitExceeded(Exception):
    """A template or one of its renders went past a limit; the message says which."""


class RenderBudget:
    """What is left to one render: loop iterations, characters to produce, and time before its deadline.

    `chars_left` is counted down by the node lists directly (one subtraction per node printed, no call), and
    `raise_output_too_long()` is called once it is below zero.
    """

    __slots__ = ("_clock", "_deadline", "_iterations_left", "chars_left")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._deadline = clock() + MAX_RENDER_SECONDS
        self._iterations_left = MAX_LOOP_ITERATIONS
        self.chars_left = MAX_OUTPUT_CHARS

    def spend_iterations(self, count: int) -> None:
        """Take the iterations of a loop about to run; refused when all the render's loops would pass the limit."""
        self._iterations_left -= count
        if self._iterations_left < 0:
            raise LimitExceeded(f"loops would run more than {MAX_LOOP_ITERATIONS:,} times in one render")

    def raise_output_too_long(self) -> None:
        raise LimitExceeded(f"output longer than {MAX_OUTPUT_CHARS:,} characters")

    def check_time(self) -> None:
        if self._clock() > self._deadline:
            raise LimitExceeded(f"rendering took longer than {MAX_RENDER_SECONDS:g} s")


_CURRENT: ContextVar[RenderBudget] = ContextVar("render_budget")


@contextmanager
def render_budget(clock: Callable[[], float]) -> Iterator[RenderBudget]:
    """A fresh budget for the render run inside the block, read by `current()`."""
    token = _CURRENT.set(RenderBudget(clock))
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def current() -> RenderBudget:
    return _CURRENT.get()
