"""Words and numbers as people read them: refusals that name what was asked, cadences and
progress without machine noise, verdicts that match the state, rows named for what they
are, help about this workspace, and a draft shown exactly as it will be sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
import yaml
from redis.asyncio import Redis

from bot.demo.simulation import Business
from config.settings import DEMO_WORKSPACE
from config.workspace import validate_workspace
from handlers import render
from orchestrator.models import Step
from orchestrator.outcomes.parser import parse
from orchestrator.store.keys import Keys
from tests.conftest import START, Harness, build_harness

STATEMENT = "Reduce churn by 2 points by 31 March"
Variant = Callable[[dict[str, Any]], AbstractAsyncContextManager[Harness]]


def demo() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(DEMO_WORKSPACE.read_text())
    return raw


@pytest.fixture
def variant(redis: Redis, keys: Keys, business: Business) -> Variant:
    """A harness on a changed copy of the demo workspace."""

    @asynccontextmanager
    async def build(raw: dict[str, Any]) -> AsyncIterator[Harness]:
        built = build_harness(redis, keys, validate_workspace(raw, source="variant"), business)
        await built.runtime.start()
        try:
            yield built
        finally:
            await built.connectors.close()

    return build


def texts_of(harness: Harness) -> str:
    return "\n".join(s.current.text() for s in harness.gateway.sent)


@pytest.mark.parametrize("verb", ["pause", "resume", "stop"])
async def test_a_refusal_names_what_was_asked(harness: Harness, verb: str) -> None:
    outcome = await harness.state("olivia", STATEMENT)
    if verb == "resume":
        await harness.say("olivia", f"pause {outcome}")
    replies = await harness.say("mallory", f"{verb} {outcome}")
    assert replies[0].card.title.startswith(f"You are not allowed to {verb} outcome {outcome}.")


@pytest.mark.parametrize(("hours", "every"), [(24, "every 24 h."), (0.00277778, "every 10 s.")])
async def test_the_cadence_is_said_as_people_say_it(
    variant: Variant, hours: float, every: str
) -> None:
    async with variant({**demo(), "check_every_h": hours}) as harness:
        await harness.say("olivia", STATEMENT)
        replies = await harness.click("olivia", "confirm", harness.gateway.buttons("confirm")[-1])
        assert replies[0].card.title.endswith(every)


async def test_a_new_outcome_is_just_started_and_a_stopped_one_says_so(harness: Harness) -> None:
    outcome = await harness.state("olivia", STATEMENT)
    harness.clock.advance(timedelta(hours=1))  # the line has moved on; the metric not yet
    status = (await harness.say("olivia", f"status {outcome}"))[0].card.text()
    assert "· just started" in status and "at risk" not in status
    assert "] 0%" in status and "-0%" not in status
    await harness.say("olivia", f"stop {outcome}")
    status = (await harness.say("olivia", f"status {outcome}"))[0].card.text()
    assert "· stopped" in status and "at risk" not in status


async def test_the_audit_trail_shows_numbers_without_binary_noise(harness: Harness) -> None:
    outcome = await harness.store.outcome(await harness.state("olivia", STATEMENT))
    assert repr(outcome.target) == "6.289999999999999"  # 8.29 - 2 in binary
    workspace = harness.runtime.ctx.workspace_of("T1")
    trail = "\n".join(render.audit_lines(await harness.store.audit_trail(outcome), workspace))
    assert "target=6.29," in trail
    assert repr(outcome.target) not in trail


async def test_rows_are_named_by_the_action_or_the_metric(variant: Variant) -> None:
    raw = demo()
    raw["actions"]["find_at_risk"]["rows"] = "accounts"
    async with variant(raw) as harness:
        await harness.state("olivia", STATEMENT)
        shown = texts_of(harness)
        assert "Done: find_at_risk (40 accounts)" in shown
        assert "Done: draft_winback (40 customers, draft ready)" in shown  # the metric's
        assert "Audience: 36 customers get this message; 4 are held back" in shown
    for metric in raw["metrics"].values():
        metric.pop("rows", None)
    raw["actions"]["find_at_risk"].pop("rows")
    async with variant(raw) as harness:
        await harness.state("olivia", STATEMENT)
        assert "Done: find_at_risk (40 rows)" in texts_of(harness)
        assert "Done: draft_winback (40 rows, draft ready)" in texts_of(harness)


def test_a_reading_that_rounds_to_zero_has_no_sign(harness: Harness) -> None:
    metrics = harness.runtime.ctx.workspace_of("T1").metrics
    assert metrics["churn_rate"].show(-0.04) == "0.0%"
    assert metrics["mrr"].show(-0.0) == "0"
    assert metrics["churn_rate"].show(-1.04) == "-1.0%"


def test_one_row_is_said_in_the_singular() -> None:
    assert [render.counted(n, "refunds") for n in (0, 1, 2)] == [
        "0 refunds",
        "1 refund",
        "2 refunds",
    ]
    assert render.counted(1, "boxes") == "1 box"


async def test_help_is_about_this_workspace(variant: Variant) -> None:
    raw = demo()
    raw["metrics"] = {"mrr": raw["metrics"]["mrr"], **raw["metrics"]}
    async with variant(raw) as harness:
        shown = (await harness.say("olivia", "help"))[0].card.text()
        example = shown.splitlines()[1].strip()
        assert example.startswith("Increase monthly recurring revenue by 10%")
        assert "churn" not in shown
        workspace = harness.runtime.ctx.workspace_of("T1")
        understood = parse(example, workspace, START)
        assert (understood.metric, understood.deadline is not None) == ("mrr", True)
        unknown = (await harness.say("olivia", "frobnicate"))[0].card.text()
        assert example in unknown


async def test_a_draft_is_shown_exactly_as_it_will_be_sent(harness: Harness) -> None:
    await harness.state("olivia", STATEMENT)
    approval = next(
        s.current
        for s in harness.gateway.sent
        if "approve" in (b.action for b in s.current.buttons)
    )
    steps = await harness.store.steps("o1")
    drafted: Step = next(s for s in steps if s.action == "draft_winback")
    draft = str(drafted.output["draft"])
    assert draft.count("\n") >= 2
    assert [approval.lines[i] for i in approval.literal] == [draft]
    assert not any(line.startswith("> ") for line in approval.lines)
