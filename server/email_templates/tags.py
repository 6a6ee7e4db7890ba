"""The tags a template may use: Django's, with `for` budgeted, `if` comparing numbers in text, and escaping kept on.

- `for` draws its iterations from the render's budget before it starts. Its `forloop` has Brevo's capitalised
  names (`forloop.Counter`, `Counter0`, `Revcounter`, `Revcounter0`, `First`, `Last`, `Parentloop`) beside
  Django's. A mapping is iterated in the order of its keys, as Brevo does: `{% for key in map %}` gives the keys,
  `{% for key, value in map %}` the pairs. A value that cannot be iterated (a number, nothing) is an empty loop.
- `if` compares a number written as text ("40") with `<`, `<=`, `>`, `>=` as a number, as Brevo does, when the
  other side is a number too; `==` and `!=` compare as Django does ("40" is not 40).
- `{% autoescape off %}` is read, so that a Brevo template parses, but printed values are escaped all the same:
  tracked values never become HTML.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from django.template import Context, Node, NodeList, defaulttags
from django.template.base import FilterExpression, Parser, Token
from django.template.defaulttags import CommentNode, IfChangedNode, IfNode, SpacelessNode, WithNode
from django.template.smartif import OPERATORS, Literal, TokenBase, infix
from django.utils.safestring import SafeString

from server.email_templates import limits

Tag = Callable[[Parser, Token], Node]

_NUMBER = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*")


class LoopNode(Node):
    """`{% for %}`: iterations counted against the render's budget, Brevo's `forloop` names beside Django's."""

    child_nodelists = ("nodelist_loop", "nodelist_empty")

    def __init__(
        self,
        loopvars: list[str],
        sequence: FilterExpression,
        is_reversed: bool,
        nodelist_loop: NodeList,
        nodelist_empty: NodeList,
    ) -> None:
        self.loopvars = loopvars
        self.sequence = sequence
        self.is_reversed = is_reversed
        self.nodelist_loop = nodelist_loop
        self.nodelist_empty = nodelist_empty

    def render(self, context: Context) -> str:
        items = _items(self.sequence.resolve(context, ignore_failures=True), len(self.loopvars))
        if not items:
            return self.nodelist_empty.render(context)
        limits.current().spend_iterations(len(items))
        if self.is_reversed:
            items.reverse()
        parent = context.get("forloop", {})
        loop: dict[Any, Any] = {"parentloop": parent, "Parentloop": parent}
        parts = []
        with context.push(forloop=loop):
            for index, item in enumerate(items):
                _count(loop, index, len(items))
                for name, value in zip(self.loopvars, _unpacked(item, len(self.loopvars)), strict=True):
                    context[name] = value
                parts.append(self.nodelist_loop.render(context))
        return SafeString("".join(parts))


class EscapingKeptNode(Node):
    """`{% autoescape on|off %}`: its content escaped as the part it is in is (the HTML always), whichever it says."""

    def __init__(self, nodelist: NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context: Context) -> str:
        return self.nodelist.render(context)


def _loop(parser: Parser, token: Token) -> Node:
    django_loop = defaulttags.do_for(parser, token)
    return LoopNode(
        cast(list[str], django_loop.loopvars),
        cast(FilterExpression, django_loop.sequence),
        django_loop.is_reversed,
        cast(NodeList, django_loop.nodelist_loop),
        cast(NodeList, django_loop.nodelist_empty),
    )


def _condition(parser: Parser, token: Token) -> Node:
    node = defaulttags.do_if(parser, token)
    for condition, _ in node.conditions_nodelists:
        _compare_numbers_as_brevo(condition)
    return node


def _escaping_kept(parser: Parser, token: Token) -> Node:
    return EscapingKeptNode(defaulttags.autoescape(parser, token).nodelist)


def _django_tag(name: str) -> Tag:
    return cast(Tag, defaulttags.register.tags[name])


TAGS: dict[str, Tag] = {
    **{
        name: _django_tag(name)
        for name in ("comment", "cycle", "filter", "firstof", "ifchanged", "spaceless", "templatetag", "widthratio")
    },
    "autoescape": _escaping_kept,
    "for": _loop,
    "if": _condition,
    "with": _django_tag("with"),
}

# Nodes whose output is only their content's: the characters a render produces are counted at the others.
CONTAINER_NODES: tuple[type[Node], ...] = (
    CommentNode,
    EscapingKeptNode,
    IfChangedNode,
    IfNode,
    LoopNode,
    SpacelessNode,
    WithNode,
)


def _items(sequence: object, names: int) -> list[Any]:
    if isinstance(sequence, dict):
        keys = sorted(sequence)
        return [(key, sequence[key]) for key in keys] if names > 1 else keys
    if isinstance(sequence, list | str):
        return list(sequence)
    return []


def _unpacked(item: object, names: int) -> tuple[Any, ...]:
    """The values of a row for `names` loop names: a list or pair of that length spread, anything else first."""
    if names > 1 and isinstance(item, list | tuple) and len(item) == names:
        return tuple(item)
    return (item, *[None] * (names - 1))


def _count(loop: dict[Any, Any], index: int, count: int) -> None:
    for name, value in (
        ("counter", index + 1),
        ("counter0", index),
        ("revcounter", count - index),
        ("revcounter0", count - index - 1),
        ("first", index == 0),
        ("last", index == count - 1),
    ):
        loop[name] = loop[name.capitalize()] = value


def _numeric_comparison(sign: str, compare: Callable[[Any, Any], bool]) -> type[TokenBase]:
    def evaluate(context: Context, left: Literal, right: Literal) -> bool:
        left_value, right_value = left.eval(context), right.eval(context)  # type: ignore[arg-type]
        left_number, right_number = _number(left_value), _number(right_value)
        if left_number is not None and right_number is not None:
            return compare(left_number, right_number)
        return compare(left_value, right_value)

    comparison = infix(OPERATORS[sign].lbp, evaluate)
    comparison.id = sign
    return comparison


_BREVO_COMPARISONS = {
    OPERATORS[sign]: _numeric_comparison(sign, compare)
    for sign, compare in (("<", operator.lt), ("<=", operator.le), (">", operator.gt), (">=", operator.ge))
}


def _compare_numbers_as_brevo(condition: object) -> None:
    """Make each `<`, `<=`, `>`, `>=` of a parsed condition Brevo's, which reads numbers in text."""
    pending = [condition]
    while pending:
        node = pending.pop()
        if isinstance(node, TokenBase) and not isinstance(node, Literal):
            node.__class__ = _BREVO_COMPARISONS.get(type(node), type(node))
            pending += [node.first, node.second]


def _number(value: object) -> float | int | Decimal | None:
    """A number, or a number written as text, as a number; None for anything else (booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value)
    return None
