"""Brevo's template syntax restated in the Django syntax it means, so that a Brevo template parses unchanged.

Brevo's engine reads a tag token by token; Django's splits it on spaces. Outside quoted strings, inside `{{ }}` and
`{% %}`, this turns `floatformat: 2` and `default : "y"` into `floatformat:2` and `default:"y"`, and inside `{% %}`
also `&&`, `||`, `!` and `<>` into `and`, `or`, `not` and `!=`, with spaces around every comparison sign
(`a==b` becomes `a == b`). Text outside tags, comments and quoted strings are left as they are, and no line is
added or removed, so Django's line numbers are the template's.

The tags are found by `tag_spans`, where Django's lexer finds them but in linear time; the sandbox's lexer uses it
too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_OPENER = re.compile(r"{[%{#]")
_CLOSERS = {"{%": "%}", "{{": "}}", "{#": "#}"}
_FILTER_COLON = re.compile(r"[ \t]*:[ \t]*")
_OPERATOR = re.compile(r"&&|\|\||<>|==|!=|<=|>=|<|>|!")
_DJANGO_OPERATORS = {"&&": "and", "||": "or", "<>": "!=", "!": "not"}


def to_django(source: str) -> str:
    """`source` with each tag restated in Django's syntax; everything outside tags unchanged."""
    pieces: list[str] = []
    outside = 0
    for start, end in tag_spans(source):
        pieces += [source[outside:start], _restate_tag(source[start:end])]
        outside = end
    pieces.append(source[outside:])
    return "".join(pieces)


def tag_spans(source: str) -> Iterator[tuple[int, int]]:
    """Where each tag is, as Django's lexer finds them (`{%.*?%}|{{.*?}}|{#.*?#}`: a tag ends on its line), in
    linear time: Django's regular expression tries every opening brace to the end of its line, so a line of
    100,000 `{%` takes it minutes."""
    next_closer = dict.fromkeys(_CLOSERS.values(), -1)  # per closer, the first at or after the last place looked
    next_newline = -1
    position = 0
    while opener := _OPENER.search(source, position):
        start = opener.start()
        closer = _CLOSERS[opener.group()]
        if next_closer[closer] < start + 2:
            next_closer[closer] = _find(source, closer, start + 2)
        if next_newline < start:
            next_newline = _find(source, "\n", start)
        if next_closer[closer] < next_newline:
            position = next_closer[closer] + 2
            yield start, position
        else:
            position = start + 1


def _find(source: str, text: str, start: int) -> int:
    """Where `text` is first at or after `start`; past the end of `source` when it is not there."""
    found = source.find(text, start)
    return len(source) if found == -1 else found


def _restate_tag(tag: str) -> str:
    if tag.startswith("{#"):
        return tag
    in_block = tag.startswith("{%")
    pieces: list[str] = []
    outside = 0
    for start, end in _quoted_spans(tag):
        pieces += [_restate_code(tag[outside:start], in_block), tag[start:end]]
        outside = end
    pieces.append(_restate_code(tag[outside:], in_block))
    return "".join(pieces)


def _quoted_spans(tag: str) -> Iterator[tuple[int, int]]:
    """The quoted strings of a tag, backslash escapes included, in one pass; an unclosed one runs to the end."""
    position = 0
    while position < len(tag):
        quote = tag[position]
        if quote not in "\"'":
            position += 1
            continue
        end = position + 1
        while end < len(tag) and tag[end] != quote:
            end += 2 if tag[end] == "\\" else 1
        end = min(end + 1, len(tag))
        yield position, end
        position = end


def _restate_code(code: str, in_block: bool) -> str:
    code = _FILTER_COLON.sub(":", code)
    if in_block:
        code = _OPERATOR.sub(lambda sign: f" {_DJANGO_OPERATORS.get(sign.group(), sign.group())} ", code)
    return code
