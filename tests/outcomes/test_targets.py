"""Targets within reason, stated through the conversation: bounds by unit and by the
workspace file, "did you mean" for a change far beyond the baseline, the sign kept, a
cadence that cannot be, and hyphenated synonyms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from redis.asyncio import Redis

from bot.demo.simulation import Business
from config.settings import DEMO_WORKSPACE
from config.workspace import load_workspace, validate_workspace
from orchestrator.errors import ConfigError
from orchestrator.outcomes.parser import parse
from orchestrator.store.keys import Keys
from tests.conftest import Harness, build_harness


def shown(harness: Harness) -> str:
    return "\n".join(s.current.text() for s in harness.gateway.sent)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "Cut churn by 500 points by 31 March",
            "churn_rate stays between 0.0% and 100.0%, so -491.7% cannot be its target. "
            "Did you mean by 5 points?",
        ),
        ("Reduce churn to -50% by 31 March", "so -50.0% cannot be its target."),
        ("Reduce open tickets by 400 by 31 March", "open_tickets is never below 0, so -24"),
        (
            "Raise MRR to 999999999999999 by 31 March",
            "From 31,291 to 999,999,999,999,999 moves mrr by more than 10 times its current "
            "value. Did you mean to 100,000?",
        ),
        ("Grow MRR by 5000% by 31 March", "Did you mean by 500%?"),
    ],
)
async def test_a_target_out_of_reason_is_refused_with_what_was_meant(
    harness: Harness, text: str, says: str
) -> None:
    await harness.say("olivia", text)
    assert says in shown(harness)
    assert "Statement of Benefit" not in shown(harness)
    assert await harness.store.outcomes("T1") == []


@pytest.mark.parametrize(
    "text", ["Raise MRR to 40000 by 31 March", "Cut churn by 5 points by 31 March"]
)
async def test_a_target_within_reason_is_proposed(harness: Harness, text: str) -> None:
    await harness.say("olivia", text)
    assert harness.gateway.titles()[-1] == "Statement of Benefit"


def demo_with(**mrr: Any) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(DEMO_WORKSPACE.read_text())
    raw["metrics"]["mrr"].update(mrr)
    return raw


@pytest.fixture
async def bounded(redis: Redis, keys: Keys, business: Business) -> AsyncIterator[Harness]:
    workspace = validate_workspace(demo_with(maximum=40_000), source="bounded")
    built = build_harness(redis, keys, workspace, business)
    await built.runtime.start()
    yield built
    await built.connectors.close()


async def test_the_workspace_file_bounds_a_metric(bounded: Harness) -> None:
    await bounded.say("olivia", "Raise MRR to 50000 by 31 March")
    assert "mrr stays between 0 and 40,000, so 50,000 cannot be its target" in shown(bounded)
    await bounded.say("olivia", "Raise MRR to 39000 by 31 March")
    assert bounded.gateway.titles()[-1] == "Statement of Benefit"


def test_bounds_out_of_order_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"metrics\.mrr: minimum .* must be below maximum"):
        validate_workspace(demo_with(minimum=10, maximum=5), source="w.yaml")


@pytest.mark.parametrize("hours", ["-5", "0", "0.00001", ".nan"])
def test_a_cadence_that_cannot_be_is_refused_clearly(tmp_path: Path, hours: str) -> None:
    text = DEMO_WORKSPACE.read_text().replace("check_every_h: 24", f"check_every_h: {hours}")
    path = tmp_path / "workspace.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_workspace(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: check_every_h: must be a number of hours")
    assert "how often each outcome is measured" in message


NOW = datetime(2027, 1, 4, tzinfo=UTC)
CLINIC = {
    "name": "Clinic",
    "connections": {"db": {"kind": "sql", "url": "sqlite:///x"}},
    "metrics": {
        "no_show_rate": {
            "connection": "db",
            "unit": "percent",
            "direction": "decrease",
            "synonyms": ["no-shows", "missed-appointment rate"],
        },
        "at_risk_patients": {
            "connection": "db",
            "unit": "count",
            "direction": "decrease",
            "synonyms": ["at-risk patients"],
        },
    },
}


@pytest.mark.parametrize(
    ("text", "metric"),
    [
        ("Cut no-shows to 3% by March", "no_show_rate"),
        ("Cut no shows to 3% by March", "no_show_rate"),
        ("Lower the missed appointment rate to 3% by March", "no_show_rate"),
        ("Reduce at-risk patients to 20 by March", "at_risk_patients"),
        ("Reduce at risk patients to 20 by March", "at_risk_patients"),
    ],
)
def test_hyphenated_synonyms_match_however_they_are_written(text: str, metric: str) -> None:
    assert parse(text, validate_workspace(CLINIC, source="clinic"), NOW).metric == metric


def test_the_sign_of_a_target_is_kept() -> None:
    workspace = validate_workspace(CLINIC, source="clinic")
    assert parse("Cut no-shows to -50% by March", workspace, NOW).amount == -50
    assert parse("Cut no-shows from 8% to \u22122% by March", workspace, NOW).amount == -2
