"""OpenTelemetry traces across real processes: `baton web` and `baton run` (whose worker
handles the jobs) export by OTLP/HTTP to a local receiver; a statement, a click and a tick
are each one trace, carried from the web request into the worker inside the job message.
Skipped where the `otel` extra is not installed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.demo.simulation import Business
from tests.conftest import business  # noqa: F401  (fixture)
from tests.doubles.slack_api import SlackApiDouble
from tests.runtime.processes import until
from tests.slack.conftest import slack_api  # noqa: F401  (fixture)
from tests.slack.processes import Baton, baton_env, eventually, serving
from tests.slack.test_e2e import STATEMENT, Slack

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from tests.ops.otlp_receiver import Receiver, Span

WEB = "POST /slack/events"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    running = Receiver()
    await running.start()
    yield running
    await running.stop()


def _roots(spans: list[Span]) -> list[Span]:
    ids = {s.span_id for s in spans}
    return [s for s in spans if s.parent_id not in ids]


async def _one_trace_from(receiver: Receiver, root: Span, *, jobs: int) -> list[Span]:
    """The trace of `root`, once at least `jobs` job spans of the worker's process are in
    it; it must have `root` as its only root."""

    async def grown() -> bool:
        handled = [s for s in receiver.trace(root.trace_id) if s.name.startswith("job ")]
        return len(handled) >= jobs

    assert await until(grown), receiver.trace(root.trace_id)
    spans = receiver.trace(root.trace_id)
    assert _roots(spans) == [root]
    return spans


async def _new_web_span(receiver: Receiver, seen: set[str]) -> Span:
    async def arrived() -> bool:
        return any(s.span_id not in seen for s in receiver.named(WEB, "web"))

    assert await until(arrived)
    (span,) = [s for s in receiver.named(WEB, "web") if s.span_id not in seen]
    return span


async def test_a_statement_a_click_and_a_tick_are_each_one_trace(
    receiver: Receiver,
    slack_api: SlackApiDouble,  # noqa: F811
    business: Business,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = baton_env(
        slack_api.base_url,
        tmp_path / "state",
        business.path,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    async with serving(env, tmp_path) as baton:
        await _statement_click_tick(baton, slack_api, receiver)


async def _statement_click_tick(baton: Baton, api: SlackApiDouble, receiver: Receiver) -> None:
    slack = Slack(baton, api)

    # A statement: the slash command's request, then the worker's jobs, in one trace.
    assert await slack.command(STATEMENT, "olivia") == 200
    await eventually(lambda: slack.posted("percentage points"), "the clarifying question")
    statement = await _new_web_span(receiver, set())
    spans = await _one_trace_from(receiver, statement, jobs=1)
    assert {s.process for s in spans} == {"web", "run"}  # across the two processes
    thread = next(c.answer["ts"] for c in api.calls if c.method == "chat.postMessage")

    assert await slack.reply("points", "olivia", thread, "Ev1") == 200
    session = (await eventually(lambda: api.buttons("confirm"), "Confirm"))[0][0]
    seen = {(await _new_web_span(receiver, {statement.span_id})).span_id, statement.span_id}

    # A click: Confirm, through to the confirmation posted by the worker.
    assert await slack.click("confirm", session, "olivia") == 200
    await eventually(lambda: slack.updated("Confirmed: outcome o1"), "the confirmation")
    click = await _new_web_span(receiver, seen)
    spans = await _one_trace_from(receiver, click, jobs=1)
    assert {s.process for s in spans} == {"web", "run"}
    assert statement.trace_id != click.trace_id

    # A tick: a trace of its own, linked to what led to it (here the click), whose jobs
    # (the approval card's delivery) continue it.
    await eventually(lambda: api.buttons("approve"), "the first approval")

    async def tick_with_children() -> bool:
        return any(len(receiver.trace(t.trace_id)) > 1 for t in receiver.named("job tick"))

    assert await until(tick_with_children)
    tick = next(t for t in receiver.named("job tick") if len(receiver.trace(t.trace_id)) > 1)
    spans = receiver.trace(tick.trace_id)
    assert _roots(spans) == [tick] and tick.process == "run" and tick.parent_id == ""
    assert not any(s.name == WEB for s in spans)
    assert tick.links == (click.trace_id,)
