"""An action's parameter may not be named like a field Baton gives a meaning of its own
(the model's reasoning and expected impact, nested parameters, the drafted text): the
workspace file is refused when it loads, saying which name and why."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import DEMO_WORKSPACE
from config.workspace import load_workspace
from orchestrator.errors import ConfigError
from orchestrator.llm.tools import RESERVED
from orchestrator.workspace.catalog import RESERVED_PARAMETERS

DEMO: dict[str, Any] = yaml.safe_load(DEMO_WORKSPACE.read_text(encoding="utf-8"))
ACTION = "offer_discount"


@pytest.mark.parametrize("name", sorted(RESERVED_PARAMETERS))
def test_a_reserved_parameter_name_is_refused_at_load(tmp_path: Path, name: str) -> None:
    raw = copy.deepcopy(DEMO)
    raw["actions"][ACTION]["parameters"][name] = {"type": "string"}
    path = tmp_path / "workspace.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_workspace(path)
    said = str(refused.value)
    assert f"actions.{ACTION}.parameters" in said
    assert f"reserved by Baton, rename them: {name!r} is" in said


def test_the_demo_workspace_loads_and_every_tool_argument_is_reserved() -> None:
    assert set(RESERVED_PARAMETERS) >= RESERVED
    assert load_workspace(DEMO_WORKSPACE).actions[ACTION].parameters
