"""A metric's `format` is checked when the workspace file loads, not when a reading is shown."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from config.settings import DEMO_WORKSPACE
from config.workspace import validate_workspace
from orchestrator.errors import ConfigError

DEMO: dict[str, Any] = yaml.safe_load(DEMO_WORKSPACE.read_text(encoding="utf-8"))
METRIC = next(iter(DEMO["metrics"]))


def _with_format(text: str) -> dict[str, Any]:
    raw = copy.deepcopy(DEMO)
    raw["metrics"][METRIC]["format"] = text
    return raw


@pytest.mark.parametrize(
    "text",
    [
        "{x}",
        "{",
        "}",
        "{:d}",
        "{}{}",
        "{1}",
        "{0.real}",
        "{0[0]}",
        "{:{}}",
        "plain",
        "{:>999999999}",
    ],
)
def test_a_format_that_cannot_show_a_number_is_a_config_error_naming_the_place(text: str) -> None:
    with pytest.raises(ConfigError) as refused:
        validate_workspace(_with_format(text), source="ws.yaml")
    assert f"ws.yaml: metrics.{METRIC}.format" in str(refused.value)


@pytest.mark.parametrize(
    ("text", "shown"),
    [("{:.2f}", "8.30"), ("{:,.0f} users", "8 users"), ("{0:.1f}", "8.3"), ("{}", "8.3")],
)
def test_good_formats_load_and_show(text: str, shown: str) -> None:
    workspace = validate_workspace(_with_format(text), source="ws.yaml")
    assert workspace.metrics[METRIC].show(8.3).rstrip("%") == shown
