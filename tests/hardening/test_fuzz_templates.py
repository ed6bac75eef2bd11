"""Fuzzing template rendering: a string or `TemplateFailed`; internals stay out of reach."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.connectors.payload import PayloadError, render_body, render_url
from orchestrator.steps.templates import TemplateFailed, render, render_number

SETTINGS = settings(max_examples=400, deadline=None)

pieces = st.sampled_from(
    [
        "{{", "}}", "{%", "%}", "{#", "#}", " ", "params", "row", "rows", ".", "[", "]", "(",
        ")", "|", "'", '"', "x", "1", "0", "-", "*", "**", "/", "//", "%", "~", ",", "=", "if",
        "for", "in", "endfor", "endif", "set", "macro", "endmacro", "call", "import",
        "include", "extends", "block", "raw", "endraw", "filter", "attr", "format", "join",
        "__class__", "__globals__", "__init__", "mro", "__subclasses__", "__builtins__",
        "cycler", "lipsum", "namespace", "range", "self", "_", "loop", "caller", "9" * 12,
    ]
)  # fmt: skip
templates = st.lists(pieces | st.text(max_size=5), max_size=30).map("".join) | st.text()
data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
contexts = st.fixed_dictionaries({"params": data, "row": data, "rows": st.lists(data, max_size=3)})


@SETTINGS
@given(template=templates, context=contexts)
def test_any_template_renders_or_fails_cleanly(template: str, context: dict[str, Any]) -> None:
    try:
        assert isinstance(render(template, context, name="t"), str)
    except TemplateFailed as error:
        assert str(error).startswith("t: ")


@SETTINGS
@given(template=templates, context=contexts)
def test_payload_templates_render_or_fail_cleanly(template: str, context: dict[str, Any]) -> None:
    for build in (render_url, lambda t, c, name: render_body({"k": [t]}, c, name=name)):
        try:
            build(template, context, name="body")
        except (PayloadError, TemplateFailed) as error:
            assert "body" in str(error)


@SETTINGS
@given(text=st.text())
def test_drafted_text_is_data_never_a_template(text: str) -> None:
    assert render("{{ params.draft }}", {"params": {"draft": text}}) == text
    assert render_body({"note": "{{ params.draft }}"}, {"params": {"draft": text}}, name="b") == {
        "note": text
    }


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ params.__class__.mro() }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ self.__init__.__globals__ }}",
        "{{ (1).__class__.__base__.__subclasses__() }}",
        "{{ params|attr('__class__') }}",
        "{{ render.__globals__ }}",
        "{{ params.update({'x': 1}) }}",
        "{{ rows.append(1) }}",
        "{{ 'a' * 1000000000 }}",
        "{{ 9 ** (9 ** 9) }}",
        "{{ [1] * 10 ** 9 }}",
        "{% for i in range(10**9) %}{% endfor %}",
        "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
    ],
)
def test_internals_and_resource_bombs_are_refused(template: str) -> None:
    context = {"params": {"a": 1}, "rows": [], "render": render}
    with pytest.raises(TemplateFailed):
        render(template, context, name="t")


def test_small_arithmetic_still_works() -> None:
    assert render("{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ [0] * 2 }}", {}) == "ababab 1024 [0, 0]"
    assert render_number("{{ params.n * 2.5 }}", {"params": {"n": 4}}, name="cost") == 10.0
