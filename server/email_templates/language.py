"""Compile a shop's email template written in Brevo's template language, and render it safely for one email.

    template = compile_template(source)           # TemplateError("line 3: unknown tag 'load'")
    html = template.render({"contact": {...}, "params": {...}, "unsubscribe": url})

The language is Django's template language as Brevo writes it (see docs/templates.md): Brevo's syntax is restated
in Django's (`syntax`), and Django's engine runs restricted (`sandbox`, `tags`, `filters`) within the limits of
`limits`. Printed values are always escaped. The variables are copied into plain values first: mappings with text
keys, lists, text, numbers, booleans and None (a str subclass such as a string marked safe becomes plain text).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from server.email_templates import limits, sandbox, syntax
from server.email_templates.limits import MAX_OUTPUT_CHARS, MAX_SOURCE_CHARS, LimitExceeded

_ON_LINE = re.compile(r" on line \d+")
MAX_MESSAGE_CHARS = 200  # Django quotes the rest of a tag it cannot read, however long


class TemplateError(Exception):
    """A template that cannot be compiled, or one of its renders that failed; `line` is where, when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.message = message
        self.line = line


class CompiledTemplate:
    """A template compiled once, rendered for as many emails as needed (in any thread)."""

    def __init__(self, template: sandbox.SandboxTemplate, html: bool) -> None:
        self._template = template
        self._html = html

    def render(self, variables: Mapping[str, Any], *, clock: Callable[[], float] = time.monotonic) -> str:
        """The template rendered with `variables`; TemplateError past a limit, or when rendering fails."""
        context = sandbox.new_context({name: _plain(value, name) for name, value in variables.items()}, self._html)
        with limits.render_budget(clock):
            try:
                output = self._template.render(context)
            except LimitExceeded as breach:
                raise TemplateError(str(breach), _render_line(breach)) from None
            except Exception as error:  # a filter that failed on a value, say: the email fails, not the caller
                raise TemplateError(_shortened(f"cannot render: {error}"), _render_line(error)) from error
        if len(output) > MAX_OUTPUT_CHARS:
            raise TemplateError(f"output longer than {MAX_OUTPUT_CHARS:,} characters")
        return str.__str__(output)  # plain text, not Django's string marked safe


def compile_template(source: str, *, html: bool = True) -> CompiledTemplate:
    """`source` compiled; TemplateError naming the line of the first mistake, or the limit passed. `html`: printed
    values are escaped (an email's HTML); otherwise printed as they are (its subject, preview text and text part)."""
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateError(f"template longer than {MAX_SOURCE_CHARS:,} characters")
    try:
        return CompiledTemplate(sandbox.compile_source(syntax.to_django(source)), html)
    except RecursionError:
        raise TemplateError("a condition is nested too deeply") from None
    except Exception as error:  # Django's TemplateSyntaxError, or a tag's own error, with the token it was in
        token = getattr(error, "token", None)
        raise TemplateError(_shortened(_ON_LINE.sub("", str(error))), token.lineno if token else None) from None


def _shortened(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"


def _render_line(error: Exception) -> int | None:
    debug = getattr(error, "template_debug", None)
    return debug["line"] if debug else None


def _plain(value: object, path: str) -> object:
    """`value` as plain template values, checked; TypeError naming the path of one that is not."""
    if value is None or isinstance(value, bool | Decimal):
        return value
    if isinstance(value, str):
        return str.__str__(value)  # a plain str: never a subclass that Django would print unescaped
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        plain: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: key {key!r} is not text")
            plain[str.__str__(key)] = _plain(item, f"{path}.{key}")
        return plain
    if isinstance(value, list | tuple):
        return [_plain(item, f"{path}.{index}") for index, item in enumerate(value)]
    raise TypeError(f"{path}: type {type(value).__name__} is not a template value")
