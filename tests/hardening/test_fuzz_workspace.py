"""Fuzzing the workspace file loader: a `ConfigError` that says where, or a `Workspace`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.settings import DEMO_WORKSPACE
from config.workspace import load_workspace, validate_workspace
from orchestrator.errors import ConfigError
from orchestrator.workspace.catalog import Workspace

DEMO: dict[str, Any] = yaml.safe_load(DEMO_WORKSPACE.read_text(encoding="utf-8"))
FAST = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "${X}",
            "sql",
            "http",
            "approve",
            "decrease",
            "logic",
            "",
            "-1",
            "1e309",
            "{",
            "{x}",
            "{:d}",
        ]
    )
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
# Fragments of the language the file is written in, so the text reaches the parser's depths.
fragments = st.sampled_from(
    [
        "name: x\n", "metrics:\n", "  churn:\n", "    connection: crm\n", "- ", "  ", ": ",
        "{", "}", "[", "]", "&a ", "*a", "!!python/object:os.system ", "!!binary ", "? ",
        "2027-13-45", "0x1F", ".nan", "~", "'", '"', "\\u0000", "|\n", ">\n", "#", "%YAML 1.1\n",
        "---\n", "...\n", "<<: *a\n", "\t", "\x00", "\ufeff", "${BATON", "}}", "{{",
    ]
)  # fmt: skip
yamlish = st.lists(fragments | st.text(max_size=8), max_size=40).map("".join)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside the demo workspace a value can be replaced."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            found += paths(child, (*prefix, key))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            found += paths(child, (*prefix, i))
    return found


PATHS = paths(DEMO)


def replaced(where: tuple[Any, ...], value: Any, delete: bool) -> dict[str, Any]:
    raw = copy.deepcopy(DEMO)
    node = raw
    for part in where[:-1]:
        node = node[part]
    if delete and isinstance(node, dict):
        del node[where[-1]]
    else:
        node[where[-1]] = value
    return raw


def clear(error: ConfigError, source: str) -> None:
    message = str(error)
    assert message.startswith(source) and len(message) > len(source) + 5
    assert "Traceback" not in message


@FAST
@given(text=yamlish | st.text(max_size=400))
def test_any_text_is_a_workspace_or_a_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "workspace.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        assert isinstance(load_workspace(path), Workspace)
    except ConfigError as error:
        clear(error, str(path))


@FAST
@given(data=st.binary(max_size=200))
def test_any_bytes_are_a_workspace_or_a_clear_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "workspace.yaml"
    path.write_bytes(data)
    try:
        load_workspace(path)
    except ConfigError as error:
        clear(error, str(path))


@FAST
@given(raw=values)
def test_any_structure_is_a_workspace_or_a_clear_error(raw: Any) -> None:
    try:
        validate_workspace(raw, source="w.yaml")
    except ConfigError as error:
        clear(error, "w.yaml")


@settings(max_examples=600, deadline=None)
@given(where=st.sampled_from(PATHS), value=values, delete=st.booleans())
def test_one_changed_value_in_the_demo_is_a_workspace_or_names_a_place(
    where: tuple[Any, ...], value: Any, delete: bool
) -> None:
    try:
        loaded = validate_workspace(replaced(where, value, delete), source="w.yaml")
    except ConfigError as error:
        clear(error, "w.yaml")
        assert ":" in str(error).removeprefix("w.yaml")
        return
    # What loads must work when used: every metric can show a reading.
    for metric in loaded.metrics.values():
        assert metric.show(1.5)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name: x\nmetrics: {}\nwhen: 2027-13-45\n", "is not valid YAML (month must be in 1..12)"),
        ("[" * 5000, "nested too deeply"),
        ("name: [unclosed\n", "line 2 is not valid YAML"),
        ("- just\n- a list\n", "must be a mapping at the top level"),
        ("!!python/object/apply:os.system [echo hi]\n", "is not valid YAML"),
    ],
)
def test_known_hostile_files(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_workspace(path)
    assert says in str(raised.value)


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"is not UTF-8 text \(byte 6\)"):
        load_workspace(path)
