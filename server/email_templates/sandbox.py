"""A Django template engine that knows only the allowed tags and filters, reads only items, and counts what it prints.

- No builtin library: the parser knows the tags of `tags.TAGS` and the filters of `filters.FILTERS`, nothing else
  (no `load`, `include`, `extends`, `block`, `debug`, `url`, `now`, `lorem`, `csrf_token`, `querystring`,
  `regroup`), and no template loader, directory or installed app.
- A variable is read by item only: `params.name` is the key "name" of a mapping, `params.items.0` the first item of
  a list; never an attribute or a method of the Python object (Django would try `getattr` and call what it finds),
  so `{{ params.items }}` is that key or nothing, and `{{ contact.NAME.upper }}` is nothing. Names starting with
  `_` are refused when the template is compiled.
- Block tags nest at most MAX_NESTING deep; a printed `None` is empty, as in Brevo.
- Every node list counts the characters of the nodes that produce them (text, printed values, tags such as
  `cycle`) against the render's budget and checks its time.
"""

from __future__ import annotations

import functools
import re
from typing import Any, cast

from django.conf import settings
from django.template import Context, Engine, Library, Node, NodeList, TemplateSyntaxError
from django.template.base import (
    DebugLexer,
    FilterExpression,
    Parser,
    Template,
    Token,
    Variable,
    VariableDoesNotExist,
    VariableNode,
    render_value_in_context,
)
from django.utils.safestring import SafeString

from server.email_templates import limits, syntax
from server.email_templates.filters import FILTERS
from server.email_templates.limits import MAX_NESTING
from server.email_templates.tags import CONTAINER_NODES, TAGS

_INDEX = re.compile(r"[0-9]+")
# Tags that only end or divide another: refused where they do not belong rather than called unknown.
_INNER_TAGS = frozenset(
    {
        "elif",
        "else",
        "empty",
        "endautoescape",
        "endcomment",
        "endfilter",
        "endfor",
        "endif",
        "endifchanged",
        "endspaceless",
        "endwith",
    }
)


def _library() -> Library:
    library = Library()
    for name, tag in TAGS.items():
        library.tag(name, tag)
    for name, template_filter in FILTERS.items():
        library.filter(name, template_filter)
    return library


class _Engine(Engine):
    def get_template_builtins(self, builtins: list[str]) -> list[Library]:
        """The sandbox's library alone, in place of Django's builtins (which are never imported)."""
        return [_library()]


@functools.cache
def _engine() -> Engine:
    """The one engine, made when first used, Django's settings configured first if nothing else configured them.

    Without internationalisation Django needs no app registry to print numbers and dates (in English); time zones
    off, dates are printed as given.
    """
    if not settings.configured:
        settings.configure(USE_I18N=False, USE_TZ=False)
    return _Engine(debug=True, loaders=[], libraries={}, autoescape=True, string_if_invalid="")


class ItemVariable(Variable):
    """A variable read by item only: a mapping's key, or a list's (or string's) index; never an attribute."""

    __slots__ = ()

    def _resolve_lookup(self, context: Context) -> Any:
        name, *path = cast(tuple[str, ...], self.lookups)
        try:
            value = context[name]
        except KeyError:
            raise VariableDoesNotExist(f"no variable {name!r}") from None
        for key in path:
            value = _item(value, key)
        return value


def _item(container: Any, key: str) -> Any:
    if isinstance(container, dict) and key in container:
        return container[key]
    if isinstance(container, list | str) and _INDEX.fullmatch(key) and int(key) < len(container):
        return container[int(key)]
    raise VariableDoesNotExist(f"no item {key!r}")


class ValueNode(VariableNode):
    """`{{ … }}`: the value escaped, and nothing for None."""

    def render(self, context: Context) -> str:
        value = self.filter_expression.resolve(context)
        return "" if value is None else render_value_in_context(value, context)


class BudgetedNodeList(NodeList):
    """A node list that counts the characters its producing nodes print, and checks the render's time."""

    def __init__(self, nodes: NodeList) -> None:
        super().__init__(nodes)
        self._producing = tuple(not isinstance(node, CONTAINER_NODES) for node in nodes)

    def render(self, context: Context) -> SafeString:
        budget = limits.current()
        parts = []
        for node, producing in zip(self, self._producing, strict=True):
            text = cast(str, node.render_annotated(context))
            if producing:
                budget.chars_left -= len(text)
                if budget.chars_left < 0:
                    budget.raise_output_too_long()
            parts.append(text)
        budget.check_time()
        return SafeString("".join(parts))


class _Parser(Parser):
    def __init__(self, tokens: list[Token], template: Template) -> None:
        super().__init__(tokens, template.engine.template_libraries, template.engine.template_builtins, template.origin)

    def parse(self, parse_until: Any = None) -> NodeList:
        if len(self.command_stack) > MAX_NESTING:  # the block tags open around the content about to be parsed
            _, token = self.command_stack[-1]
            raise self.error(token, f"tags nested more than {MAX_NESTING} deep")
        return BudgetedNodeList(super().parse(parse_until))

    def extend_nodelist(self, nodelist: NodeList, node: Node, token: Token) -> None:
        if type(node) is VariableNode:
            node = ValueNode(node.filter_expression)
        super().extend_nodelist(nodelist, node, token)

    def compile_filter(self, token: str) -> FilterExpression:
        expression = super().compile_filter(token)
        if isinstance(expression.var, Variable):
            expression.var = ItemVariable(cast(str, expression.var.var))
        expression.filters = [
            (function, [(lookup, ItemVariable(argument.var) if lookup else argument) for lookup, argument in arguments])
            for function, arguments in expression.filters
        ]
        return expression

    def find_filter(self, filter_name: str) -> Any:
        if filter_name not in self.filters:
            raise TemplateSyntaxError(f"unknown filter '{filter_name}'")
        return self.filters[filter_name]

    def invalid_block_tag(self, token: Token, command: str, parse_until: Any = None) -> Any:
        if command not in _INNER_TAGS:
            raise self.error(token, f"unknown tag '{command}'")
        if parse_until:
            raise self.error(token, f"'{command}' is not expected here; expected {_either(parse_until)}")
        raise self.error(token, f"'{command}' closes no open tag")

    def unclosed_block_tag(self, parse_until: Any) -> Any:
        command, token = self.command_stack.pop()
        raise self.error(token, f"'{command}' is never closed; expected {_either(parse_until)}")


def _either(tag_names: Any) -> str:
    names = [f"'{name}'" for name in tag_names]
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


class _Lexer(DebugLexer):
    """Django's lexer (the debug one, which keeps each token's place for error lines), finding tags in linear time."""

    def tokenize(self) -> list[Token]:
        source = self.template_string
        tokens: list[Token] = []
        line = 1
        outside = 0
        for start, end in [*syntax.tag_spans(source), (len(source), len(source))]:
            for token_start, token_end, in_tag in ((outside, start, False), (start, end, True)):
                if token_end > token_start:
                    text = source[token_start:token_end]
                    tokens.append(self.create_token(text, (token_start, token_end), line, in_tag))
                    line += text.count("\n")
            outside = end
        return tokens


class SandboxTemplate(Template):
    """A template parsed by the sandbox's parser: its tags, its filters, its item-only variables."""

    def compile_nodelist(self) -> NodeList:
        return _Parser(_Lexer(self.source).tokenize(), self).parse()


def compile_source(source: str) -> SandboxTemplate:
    """The template of Django `source`; TemplateSyntaxError (with a `token`, where known) when it is not one."""
    return SandboxTemplate(source, engine=_engine())


def new_context(variables: dict[str, Any], html: bool = True) -> Context:
    """The context of one render: values escaped for HTML, or left as they are in plain text (a subject, a text
    part), where there is no markup for a value to break out of."""
    return Context(variables, autoescape=html)
