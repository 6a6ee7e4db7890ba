"""Brevo's template syntax restated in the Django syntax it means, so that a Brevo template parses unchanged.

Brevo's engine reads a tag token by token; Django's splits it on spaces. Outside quoted strings, inside `{{ }}` and
`{% %}`, this turns `floatformat: 2` and `default : "y"` into `floatformat:2` and `default:"y"`, and inside `{% %}`
also `&&`, `||`, `!` and `<>` into `and`, `or`, `not` and `!=`, with spaces around every comparison sign
(`a==b` becomes `a == b`). Text outside tags, comments and quoted strings are left as they are, and no line is
added or removed, so Django's line numbers are the template's.
"""

from __future__ import annotations

import re

# The tags as Django's lexer finds them: each on one line, comments included so that nothing inside them is read.
_TAG = re.compile(r"{%.*?%}|{{.*?}}|{#.*?#}")
# Quoted strings as Django reads them, backslash escapes included.
_QUOTED = re.compile(r""""[^"\\]*(?:\\.[^"\\]*)*"|'[^'\\]*(?:\\.[^'\\]*)*'""")
_FILTER_COLON = re.compile(r"[ \t]*:[ \t]*")
_OPERATOR = re.compile(r"&&|\|\||<>|==|!=|<=|>=|<|>|!")
_DJANGO_OPERATORS = {"&&": "and", "||": "or", "<>": "!=", "!": "not"}


def to_django(source: str) -> str:
    """`source` with each tag restated in Django's syntax; everything outside tags unchanged."""
    return _TAG.sub(_restate_tag, source)


def _restate_tag(match: re.Match[str]) -> str:
    tag = match.group()
    if tag.startswith("{#"):
        return tag
    in_block = tag.startswith("{%")
    pieces: list[str] = []
    outside = 0
    for quoted in _QUOTED.finditer(tag):
        pieces += [_restate_code(tag[outside : quoted.start()], in_block), quoted.group()]
        outside = quoted.end()
    pieces.append(_restate_code(tag[outside:], in_block))
    return "".join(pieces)


def _restate_code(code: str, in_block: bool) -> str:
    code = _FILTER_COLON.sub(":", code)
    if in_block:
        code = _OPERATOR.sub(lambda sign: f" {_DJANGO_OPERATORS.get(sign.group(), sign.group())} ", code)
    return code
