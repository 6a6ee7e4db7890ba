"""Shop email templates in Brevo's template language: Brevo's documented examples, its syntax, and a sandbox that
hostile templates and hostile values cannot get out of or make run away."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal
from typing import Any

import pytest
from django.template.base import tag_re
from django.utils.safestring import mark_safe

from server.email_templates.language import TemplateError, compile_template
from server.email_templates.syntax import tag_spans

# The values of Brevo's help pages ("Modify the output of a variable with filters"); the total is our choice.
CONTACT = {
    "EMAIL": "abby@the-green-yoga.com",
    "FIRSTNAME": "Emilia",
    "NAME": "john doe",
    "MESSAGE": "my red car",
    "MANAGER": "Elisabeth",
}
DOCUMENTED = {"contact": CONTACT, "params": {"total": 40.3212}}
CART = {
    "items": [
        {"name": "Yoga mat", "price": 25.5, "quantity": 2},
        {"name": "Water <bottle>", "price": "12", "quantity": 1},
    ],
    "total": "63.00",
}


def render(source: str, variables: dict[str, Any] | None = None) -> str:
    return compile_template(source).render(DOCUMENTED if variables is None else variables)


def refusal(source: str) -> str:
    with pytest.raises(TemplateError) as refused:
        compile_template(source)
    return str(refused.value)


def render_failure(source: str, variables: dict[str, Any]) -> str:
    """Why rendering fails, the clock stopped (a busy machine must not turn a limit passed into the time limit)."""
    template = compile_template(source)
    with pytest.raises(TemplateError) as failed:
        template.render(variables, clock=lambda: 0.0)
    return str(failed.value)


# Brevo's documented examples


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("{{ contact.FIRSTNAME|upper }}", "EMILIA"),
        ("{{ contact.MESSAGE|capfirst }}", "My red car"),
        ("{{ contact.NAME|title }}", "John Doe"),
        ("{{ contact.NAME|upper }}", "JOHN DOE"),
        ("{{ contact.NAME|lower }}", "john doe"),
        ("{{ contact.MANAGER|truncatechars:7 }}", "Elisab…"),
        ("{{ params.total|floatformat:2 }}", "40.32"),
        ("{{ contact.EMAIL }}", "abby@the-green-yoga.com"),
        ("{{contact.EMAIL}}", "abby@the-green-yoga.com"),
    ],
)
def test_brevos_documented_examples_render_as_documented(source: str, shown: str) -> None:
    assert render(source) == shown


def test_default_replaces_a_missing_attribute_as_documented() -> None:
    assert render("Hello {{ contact.NAME|default:'there' }},", {"contact": {}}) == "Hello there,"


# Brevo's syntax, as real Brevo templates write it


def test_spaces_around_a_filters_colon_are_read_as_brevo_reads_them() -> None:
    assert render("{{ params.total | floatformat: 2 }}") == "40.32"
    assert render('{{ contact.X | default : "y" }}') == "y"
    assert render('{{ contact.X|default :"y" }}|{{ contact.X|default: "y" }}') == "y|y"


def test_colons_and_signs_inside_quoted_strings_are_left_as_written() -> None:
    assert render('{{ contact.X | default : "a : b && !c <> d" }}') == "a : b && !c <> d"
    assert render('{% if contact.X == "a : b" %}yes{% endif %}', {"contact": {"X": "a : b"}}) == "yes"


def test_if_elif_else_choose_as_in_brevo() -> None:
    source = "{% if contact.A == \"x\" %}one{% elif contact.A == 'y' %}two{% else %}three{% endif %}"
    assert [render(source, {"contact": {"A": a}}) for a in ("x", "y", "z")] == ["one", "two", "three"]


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ("a && b", False),
        ("a && !b", True),
        ("a || b", True),
        ("!a", False),
        ("a <> b", True),
        ("a==1", True),
        ("a!=1", False),
        ("n>10", True),
        ("a and not b", True),
    ],
)
def test_brevos_operators_are_read_in_conditions(condition: str, holds: bool) -> None:
    source = f"{{% if {condition} %}}yes{{% else %}}no{{% endif %}}"
    assert render(source, {"a": 1, "b": 0, "n": 40}) == ("yes" if holds else "no")


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ("params.total > 10", True),  # "40" sent as text, compared as a number, as Brevo does
        ("params.total < 9", False),
        ('params.total >= "40.0"', True),
        ('"9" < "10"', True),
        ('"abc" < "abd"', True),  # text that is not a number compares as text
        ("params.total == 40", False),  # equality is not numeric, in Brevo either
        ('params.total == "40"', True),
        ("params.missing > 1", False),
    ],
)
def test_numbers_written_as_text_compare_as_numbers(condition: str, holds: bool) -> None:
    source = f"{{% if {condition} %}}yes{{% else %}}no{{% endif %}}"
    assert render(source, {"params": {"total": "40"}}) == ("yes" if holds else "no")


def test_a_loop_over_the_cart_with_brevos_and_djangos_loop_names() -> None:
    source = (
        "{% for item in params.items %}"
        "{{ forloop.Counter }}/{{ forloop.revcounter }} {{ item.name }} × {{ item.quantity }}"
        "{% if not forloop.Last %}, {% endif %}"
        "{% empty %}Your cart is empty{% endfor %}"
    )
    assert render(source, {"params": CART}) == "1/2 Yoga mat × 2, 2/1 Water &lt;bottle&gt; × 1"
    assert render(source, {"params": {"items": []}}) == "Your cart is empty"
    assert render(source, {"params": {}}) == "Your cart is empty"


def test_every_forloop_field_has_its_brevo_name() -> None:
    fields = ("Counter", "Counter0", "Revcounter", "Revcounter0", "First", "Last")
    source = "{% for x in xs %}" + "|".join(f"{{{{ forloop.{field} }}}}" for field in fields) + ";{% endfor %}"
    assert render(source, {"xs": ["a", "b"]}) == "1|0|2|1|True|False;2|1|1|0|False|True;"


def test_an_inner_loop_reads_the_outer_loop_through_parentloop() -> None:
    source = (
        "{% for a in xs %}{% for b in xs %}{{ forloop.parentloop.counter }}{{ forloop.Counter }} {% endfor %}"
        "{% endfor %}"
    )
    assert render(source, {"xs": [1, 2]}) == "11 12 21 22 "


def test_a_mapping_is_looped_over_in_the_order_of_its_keys_as_in_brevo() -> None:
    variables = {"params": {"sizes": {"M": 2, "L": 1, "S": 3}}}
    assert render("{% for size, count in params.sizes %}{{ size }}={{ count }} {% endfor %}", variables) == (
        "L=1 M=2 S=3 "
    )
    assert render("{% for size in params.sizes %}{{ size }}{% endfor %}", variables) == "LMS"


def test_a_number_is_an_empty_loop() -> None:
    assert render("{% for x in params.n %}{{ x }}{% empty %}none{% endfor %}", {"params": {"n": 5}}) == "none"


def test_with_names_a_value() -> None:
    assert render("{% with name=contact.FIRSTNAME|upper %}Hi {{ name }}{% endwith %}") == "Hi EMILIA"


@pytest.mark.parametrize(
    ("source", "variables", "shown"),
    [
        ("{{ x|default:'none' }}", {"x": ""}, "none"),
        ("{{ x|floatformat }}", {"x": "34.26"}, "34.3"),
        ("{{ x|floatformat:'-2' }}", {"x": 34.0}, "34"),
        ("{{ x|upper }}", {"x": "élan"}, "ÉLAN"),
        ("{{ x|lower }}", {"x": "ÉLAN"}, "élan"),
        ("{{ x|title }}", {"x": "a tall tree"}, "A Tall Tree"),
        ("{{ x|capfirst }}", {"x": "tree"}, "Tree"),
        ("{{ x|truncatechars:5 }}", {"x": "Abcdefgh"}, "Abcd…"),
        ("{{ x|date:'d/m/Y' }}", {"x": "2024-03-05"}, "05/03/2024"),
        ("{{ x|date:'j F Y, H:i' }}", {"x": "2024-03-05T09:07:00Z"}, "5 March 2024, 09:07"),
        ("{{ x|date:'D d M Y' }}", {"x": "2024-03-05T23:30:00+02:00"}, "Tue 05 Mar 2024"),
        ("{{ x|date }}", {"x": "2024-03-05"}, "March 5, 2024"),
        ("{{ x|date:'d/m/Y' }}", {"x": "next tuesday"}, ""),
        ("{{ x|time:'H:i' }}", {"x": "09:07:30"}, "09:07"),
        ("{{ x|length }}", {"x": [1, 2, 3]}, "3"),
        ("{{ x|length }}", {"x": "four"}, "4"),
        ("{{ x|first }}/{{ x|last }}", {"x": ["a", "b", "c"]}, "a/c"),
        ("{{ x|join:', ' }}", {"x": ["a", "<b>"]}, "a, &lt;b&gt;"),
        ("{{ x|slice:':2'|join:'' }}", {"x": ["a", "b", "c"]}, "ab"),
        ("{{ x|slice:'1:3' }}", {"x": "abcd"}, "bc"),
        ("{{ x|striptags }}", {"x": "<p>Hello <b>you</b></p>"}, "Hello you"),
        ("{{ x|urlencode }}", {"x": "a b&c/d"}, "a%20b%26c/d"),
        ("{{ x|yesno:'yes,no' }}", {"x": True}, "yes"),
        ("{{ x|yesno:'yes,no,maybe' }}", {"x": None}, "maybe"),
        ("{{ x|linebreaksbr }}", {"x": "a\n<b>"}, "a<br>&lt;b&gt;"),
        ("{{ x|add:2 }}", {"x": "40"}, "42"),
        ("{{ x|add:1 }}", {"x": 2.5}, "3.5"),
        ("{{ x|add:y|floatformat:2 }}", {"x": 0.1, "y": 0.2}, "0.30"),
        ("{{ x|add:y }}", {"x": "ab", "y": "cd"}, "abcd"),
        ("{{ x|cut:' ' }}", {"x": "a b c"}, "abc"),
        ("{{ x|wordcount }}", {"x": "one two three"}, "3"),
        ("{{ x|truncatewords:2 }}", {"x": "one two three"}, "one two …"),
        ("item{{ x|pluralize }}", {"x": 2}, "items"),
        ("{{ x|divisibleby:2 }}", {"x": 4}, "True"),
        ("{{ x|default_if_none:'-' }}", {"x": None}, "-"),
        ("{% filter upper %}a{{ x }}{% endfilter %}", {"x": "b"}, "AB"),
        ("{% firstof x y 'z' %}", {"x": "", "y": "<y>"}, "&lt;y&gt;"),
        ("{% for i in x %}{% cycle 'odd' 'even' %} {% endfor %}", {"x": [1, 2, 3]}, "odd even odd "),
        ("{% for i in x %}{% ifchanged %}{{ i }}{% endifchanged %}{% endfor %}", {"x": [1, 1, 2]}, "12"),
        ("{% spaceless %}<p> <b>a</b> </p>{% endspaceless %}", {}, "<p><b>a</b></p>"),
        ("{% comment %}{{ x }}{% endcomment %}{# y #}ok", {"x": 1}, "ok"),
        ("{% templatetag openvariable %}", {}, "{{"),
        ("{% widthratio x 200 100 %}", {"x": 50}, "25"),
    ],
)
def test_the_filters_and_tags_render_as_in_django(source: str, variables: dict[str, Any], shown: str) -> None:
    assert render(source, variables) == shown


def test_a_decimal_given_by_the_caller_is_a_number() -> None:
    variables = {"total": Decimal("40.3212")}
    assert render('{{ total|floatformat:2 }} {% if total > "10" %}more{% endif %}', variables) == "40.32 more"


def test_numbers_print_as_django_prints_them_and_none_prints_nothing() -> None:
    variables = {"price": 12.5, "count": 3, "whole": 40.0, "none": None, "yes": True}
    assert render("{{ price }} {{ count }} {{ whole }} [{{ none }}] {{ yes }}", variables) == "12.5 3 40.0 [] True"


def test_a_mistake_is_reported_on_its_line_after_brevos_syntax_is_restated() -> None:
    source = "Hello {{ contact.FIRSTNAME | default : 'you' }},\n{% if a && !b %}\n{% load static %}\n{% endif %}"
    assert refusal(source) == "line 3: unknown tag 'load'"
    assert (
        refusal("{{ a }}\n\n{% if a %}never closed")
        == "line 3: 'if' is never closed; expected 'elif', 'else' or 'endif'"
    )
    assert refusal("{% for x in xs %}{% endif %}{% endfor %}") == (
        "line 1: 'endif' is not expected here; expected 'empty' or 'endfor'"
    )
    assert refusal("text\n{% endif %}") == "line 2: 'endif' closes no open tag"
    assert refusal("\n{{ a|floatformat:2:3 }}").startswith("line 2: ")


# Escaping: printed values never become HTML


def test_values_are_escaped_where_they_are_printed() -> None:
    params = {"name": '<script>alert("x")</script>', "link": 'https://shop.example/?a=1&b="2"'}
    html = render('<a href="{{ params.link }}">{{ params.name }}</a>', {"params": params})
    assert html == (
        '<a href="https://shop.example/?a=1&amp;b=&quot;2&quot;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</a>'
    )


def test_autoescape_off_is_read_but_values_stay_escaped() -> None:
    source = "{% autoescape off %}{{ params.html }}{% endautoescape %}"
    assert render(source, {"params": {"html": "<b>bold</b>"}}) == "&lt;b&gt;bold&lt;/b&gt;"


def test_safe_is_read_but_values_stay_escaped() -> None:
    assert render("{{ params.html|safe }}", {"params": {"html": "<b>"}}) == "&lt;b&gt;"
    assert refusal("{% filter safe %}{{ x }}{% endfilter %}").startswith("line 1: ")


def test_a_string_marked_safe_by_the_caller_is_escaped_like_any_other() -> None:
    assert render("{{ html }}", {"html": mark_safe("<b>")}) == "&lt;b&gt;"


def test_the_templates_own_html_and_literals_are_printed_as_written() -> None:
    assert render("<p>{{ x|default:'<i>none</i>' }}</p>", {"x": ""}) == "<p><i>none</i></p>"


# Only the variables given, by item


@pytest.mark.parametrize(
    "source",
    [
        "{{ params.name.upper }}",
        "{{ params.keys }}",
        "{{ params.values }}",
        "{{ params.get }}",
        "{{ params.list.pop }}",
        "{{ params.list.copy }}",
        "{{ params.count.real }}",
        "{{ params.name.0.upper }}",
        "{% with n=params.name|lower %}{{ n.upper }}{% endwith %}",
        "{% for x in params.list %}{{ x.bit_length }}{{ forloop.items }}{% endfor %}",
        "{{ params.list.9 }}",
        "{{ contact.FIRSTNAME }}",
    ],
)
def test_no_attribute_or_method_of_a_value_can_be_reached(source: str) -> None:
    params = {"name": "abc", "list": [1, 2], "count": 3}
    assert render(source, {"params": params}) == ""
    assert params == {"name": "abc", "list": [1, 2], "count": 3}


def test_a_key_named_like_a_method_is_the_key_when_present_and_nothing_when_absent() -> None:
    assert render("{{ params.items }}|{{ params.keys }}", {"params": {"items": "three", "keys": 2}}) == "three|2"
    assert render("[{{ params.items }}]", {"params": {"name": "x"}}) == "[]"
    assert render("{{ params.items.1.name }}", {"params": CART}) == "Water &lt;bottle&gt;"


@pytest.mark.parametrize("source", ["{{ x.__class__ }}", "{{ params._secret }}", "{% if x.__len__ %}{% endif %}"])
def test_names_starting_with_an_underscore_are_refused(source: str) -> None:
    assert "may not begin with underscores" in refusal(source)


def test_a_value_that_is_not_a_template_value_is_refused_naming_where_it_is() -> None:
    template = compile_template("{{ params }}")
    with pytest.raises(TypeError, match=r"^params\.when: type object is not a template value$"):
        template.render({"params": {"when": object()}})
    with pytest.raises(TypeError, match="key 1 is not text"):
        template.render({"params": {1: "x"}})


# Only the allowed tags and filters


@pytest.mark.parametrize(
    "tag",
    [
        "load static",
        "include 'x.html'",
        "extends 'base.html'",
        "block content",
        "debug",
        "url 'home'",
        "now 'Y'",
        "lorem 200000 w",
        "csrf_token",
        "querystring",
        "regroup people by gender as groups",
        "ssi '/etc/passwd'",
        "verbatim",
        "resetcycle",
        "set x = 1",
    ],
)
def test_tags_outside_the_language_are_refused_when_compiled(tag: str) -> None:
    assert refusal(f"Hi\n{{% {tag} %}}") == f"line 2: unknown tag '{tag.split()[0]}'"


@pytest.mark.parametrize(
    "name",
    [
        "safeseq",
        "ljust:'9'",
        "rjust:'9'",
        "center:'9'",
        "stringformat:'s'",
        "make_list",
        "pprint",
        "linenumbers",
        "dictsort:'a'",
        "force_escape",
        "random",
        "urlize",
        "filesizeformat",
        "unordered_list",
    ],
)
def test_filters_outside_the_language_are_refused_when_compiled(name: str) -> None:
    assert refusal(f"{{{{ x|{name} }}}}") == f"line 1: unknown filter '{name.split(':')[0]}'"


# Limits: a hostile template stops with a TemplateError, never runs away


def test_nested_loops_share_one_budget_of_iterations() -> None:
    source = "{% for a in xs %}{% for b in xs %}\n{% for c in xs %}.{% endfor %}{% endfor %}{% endfor %}"
    assert len(render(source, {"xs": list(range(20))})) == 8_000 + 400
    assert (
        render_failure(source, {"xs": list(range(30))})
        == "line 2: loops would run more than 10,000 times in one render"
    )


def test_a_loop_over_a_long_string_is_within_the_budget_too() -> None:
    assert "10,000" in render_failure("{% for c in s %}{% for d in s %}{% endfor %}{% endfor %}", {"s": "x" * 200})


def test_strings_doubled_through_nested_with_stop_at_the_value_limit() -> None:
    depth = 30
    source = "".join(f"{{% with s{n + 1}=s{n}|add:s{n} %}}" for n in range(depth))
    source += "{{ s30|length }}" + "{% endwith %}" * depth
    assert render_failure(source, {"s0": "ab"}) == "line 1: add: result longer than 1,000,000 characters"


def test_lists_doubled_through_nested_with_stop_at_the_value_limit() -> None:
    depth = 25
    source = "".join(f"{{% with l{n + 1}=l{n}|add:l{n} %}}" for n in range(depth)) + "{% endwith %}" * depth
    assert "add: result longer than" in render_failure(source, {"l0": ["a", "b"]})


def test_a_filter_chain_that_multiplies_a_value_stops_at_the_value_limit() -> None:
    source = "{{ s" + "|join:'--'" * 20 + "|length }}"  # each join triples the string
    assert render_failure(source, {"s": "x" * 1_000}) == "line 1: join: result longer than 1,000,000 characters"


def test_a_long_separator_cannot_multiply_a_joined_list() -> None:
    source = "{{ xs|join:sep }}"
    assert "join: result longer than" in render_failure(source, {"xs": ["a"] * 2_000, "sep": "-" * 1_000})


@pytest.mark.parametrize(
    ("source", "breach"),
    [
        ("{{ n|floatformat:'1001' }}", "floatformat: more than 1,000 decimals"),
        ("{{ n|floatformat:'-1000000' }}", "floatformat: more than 1,000 decimals"),
        ("{{ n|floatformat:'1000000g' }}", "floatformat: more than 1,000 decimals"),
        ("{{ n|floatformat:big }}", "floatformat: more than 1,000 decimals"),
        ("{{ when|date:format }}", "date: format longer than 1,000 characters"),
    ],
)
def test_size_arguments_are_capped(source: str, breach: str) -> None:
    variables = {"n": 1.5, "big": 10**6, "when": "2024-03-05", "format": "r" * 10_000}
    assert render_failure(source, variables) == f"line 1: {breach}"


def test_a_thousand_decimals_are_still_allowed() -> None:
    assert render("{{ n|floatformat:1000 }}", {"n": 1.5}) == "1.5" + "0" * 999


def test_output_is_capped_as_it_grows() -> None:
    source = "{% for i in xs %}{{ big }}{% endfor %}"
    assert render_failure(source, {"xs": list(range(11)), "big": "x" * 100_000}) == (
        "line 1: output longer than 1,000,000 characters"
    )
    assert len(render(source, {"xs": list(range(10)), "big": "x" * 100_000})) == 1_000_000


def test_template_text_repeated_by_loops_counts_towards_the_output() -> None:
    source = "{% for i in xs %}" + "x" * 99_000 + "{% endfor %}"
    assert "output longer than 1,000,000 characters" in render_failure(source, {"xs": list(range(100))})


def test_a_render_stops_at_its_time_limit() -> None:
    ticks = itertools.count()
    template = compile_template("{% for i in xs %}{{ i }}{% endfor %}")
    with pytest.raises(TemplateError, match="rendering took longer than 1 s"):
        template.render({"xs": list(range(1_000))}, clock=lambda: next(ticks) / 100)  # 10 ms per check


def test_a_template_longer_than_the_limit_is_refused() -> None:
    assert refusal("x" * 100_001) == "template longer than 100,000 characters"
    compile_template("x" * 100_000)


def test_tags_nested_too_deeply_are_refused() -> None:
    assert refusal("{% if a %}" * 51 + "{% endif %}" * 51) == "line 1: tags nested more than 50 deep"
    assert render("{% if a %}" * 50 + "deep" + "{% endif %}" * 50, {"a": 1}) == "deep"


def test_tags_are_found_where_djangos_lexer_finds_them() -> None:
    pieces = random.Random(7)
    for _ in range(5_000):
        source = "".join(pieces.choice("{{%%}}##\n a'\"\\") for _ in range(pieces.randint(0, 40)))
        assert list(tag_spans(source)) == [match.span() for match in tag_re.finditer(source)], source


@pytest.mark.parametrize("line", ["{%" * 50_000, "{{" * 50_000, "{#" * 50_000])
def test_a_line_of_opening_braces_compiles_in_linear_time(line: str) -> None:
    compile_template(line)  # Django's own lexer takes about a minute on each


@pytest.mark.parametrize("tag", ['{% if "' + '\\"' * 49_000 + " %}", "{{ '" + "\\'" * 49_000 + " }}"])
def test_an_unclosed_quote_full_of_escapes_is_refused_at_once_with_a_short_message(tag: str) -> None:
    message = refusal(tag)
    assert message.startswith("line 1: Could not parse the remainder")
    assert len(message) == len("line 1: ") + 200


def test_a_condition_nested_too_deeply_is_refused() -> None:
    assert refusal("{% if " + "! " * 5_000 + "a %}{% endif %}") == "a condition is nested too deeply"


# Hostile values: a render fails clearly or carries on, never crashes the caller


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("{{ params|first }}", ""),
        ("{{ params.n|last }}", ""),
        ("{{ params.n|divisibleby:0 }}", "False"),
        ("{{ params.text|divisibleby:2 }}", "False"),
        ("{{ params.text|floatformat:2 }}", ""),
        ("{{ params.text|date:'Y' }}", ""),
        ("{{ params.huge|floatformat:2 }}", "1e999999"),
    ],
)
def test_a_value_of_the_wrong_shape_prints_nothing_much(source: str, shown: str) -> None:
    assert render(source, {"params": {"n": 5, "text": "abc", "huge": "1e999999"}}) == shown


def test_a_filter_given_an_argument_it_cannot_use_fails_the_render_naming_it() -> None:
    assert render_failure("\n\n{{ params.s|cut:params.n }}", {"params": {"s": "a b", "n": 3}}) == (
        "line 3: cannot render: cut: replace() argument 1 must be str, not int"
    )


def test_tags_nested_too_deeply_in_a_value_fail_the_render_clearly() -> None:
    value = "<a" + "<b" * 600
    assert render_failure("\n{{ v|striptags }}", {"v": value}) == (
        "line 2: striptags: the value's tags are nested too deeply"
    )
