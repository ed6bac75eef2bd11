"""Prometheus metrics for `GET /metrics`, computed from Redis at scrape time.

Every number is read when Prometheus scrapes: counters the core keeps in Redis
(`orchestrator.counters`) and the records themselves (steps, approvals, measurements).
So any number of worker processes count as one Baton, a restart loses nothing, and the
core never imports prometheus_client. Each scrape builds a fresh registry from one snapshot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from orchestrator import counters
from orchestrator.context import Context
from orchestrator.evaluate import evaluate
from orchestrator.models import ApprovalStatus, Outcome, Step, Verdict
from orchestrator.steps import approval_id_for

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS_S = (
    60.0,
    300.0,
    900.0,
    3_600.0,
    14_400.0,
    43_200.0,
    86_400.0,
    172_800.0,
    604_800.0,
)


@dataclass
class Snapshot:
    """Everything one scrape reports."""

    counters: dict[tuple[str, str], int] = field(default_factory=dict)
    steps: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Steps by (lane, status)."""
    approvals_pending: int = 0
    approval_latency_s: list[float] = field(default_factory=list)
    """Requested -> decided by a person, per decided approval."""
    decision_latency_s: list[float] = field(default_factory=list)
    """The metric goes off track -> the first corrective step is proposed."""
    backlog: int = 0
    dead_letters: int = 0
    incidents_open: int = 0


async def snapshot(ctx: Context) -> Snapshot:
    """Read everything `/metrics` reports from Redis."""
    redis, keys = ctx.store.redis, ctx.keys
    snap = Snapshot(
        counters=await counters.read(redis, keys),
        backlog=await ctx.queue.backlog(),
        dead_letters=await ctx.queue.dead(),
        incidents_open=await counters.incidents_open(redis, keys),
    )
    for workspace in await ctx.store.workspaces():
        snap.approvals_pending += int(await redis.scard(keys.pending_approvals(workspace)))
        for outcome in await ctx.store.outcomes(workspace):
            steps = await ctx.store.steps(outcome.id)
            snap.steps.update((s.lane.value, s.status.value) for s in steps)
            snap.approval_latency_s += await _approval_latencies(ctx, steps)
            snap.decision_latency_s += await _decision_latencies(ctx, outcome, steps)
    return snap


async def _approval_latencies(ctx: Context, steps: Sequence[Step]) -> list[float]:
    latencies = []
    for step in steps:
        if not step.decision.startswith("approve"):
            continue
        approval = await ctx.store.approval(approval_id_for(step.id))
        decided = approval.status in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED)
        if decided and approval.decided_at is not None:
            latencies.append((approval.decided_at - approval.requested_at).total_seconds())
    return latencies


async def _decision_latencies(ctx: Context, outcome: Outcome, steps: Sequence[Step]) -> list[float]:
    """One latency per episode: each time the metric turns off track, until a step follows."""
    latencies, off_since = [], None
    created = sorted(s.created_at for s in steps)
    for measurement in await ctx.store.measurements(outcome.id):
        off = evaluate(outcome, measurement.value, measurement.at).verdict is Verdict.OFF_TRACK
        if off and off_since is None:
            off_since = measurement.at
            answer = next((at for at in created if at >= off_since), None)
            if answer is not None:
                latencies.append((answer - off_since).total_seconds())
        elif not off:
            off_since = None
    return latencies


class SnapshotCollector(Collector):
    """Yields one snapshot as Prometheus metric families."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def collect(self) -> Iterable[Metric]:
        snap, count = self.snap, self.snap.counters
        yield _counter(
            "baton_ticks",
            "Ticks run (an outcome measured and judged).",
            count.get((counters.TICKS, ""), 0),
        )
        steps = GaugeMetricFamily(
            "baton_steps", "Steps by lane and status.", labels=["lane", "status"]
        )
        for (lane, status), n in sorted(snap.steps.items()):
            steps.add_metric([lane, status], n)
        yield steps
        yield GaugeMetricFamily(
            "baton_approvals_pending",
            "Approvals waiting for a person.",
            value=snap.approvals_pending,
        )
        yield _histogram(
            "baton_approval_decision_seconds",
            "From an approval's request to a person's decision.",
            snap.approval_latency_s,
        )
        yield _histogram(
            "baton_decision_latency_seconds",
            "From the metric going off track to the first corrective step proposed.",
            snap.decision_latency_s,
        )
        yield _counter(
            "baton_llm_calls", "Model calls answered.", count.get((counters.LLM_CALLS, ""), 0)
        )
        errors = CounterMetricFamily(
            "baton_llm_errors", "Model calls not used, by kind.", labels=["kind"]
        )
        tokens = CounterMetricFamily(
            "baton_llm_tokens", "Model tokens, by direction.", labels=["direction"]
        )
        for (name, label), n in sorted(count.items()):
            if name == counters.LLM_ERRORS:
                errors.add_metric([label], n)
            elif name == counters.LLM_TOKENS:
                tokens.add_metric([label], n)
        yield errors
        yield tokens
        yield GaugeMetricFamily(
            "baton_job_backlog", "Jobs waiting or in flight.", value=snap.backlog
        )
        yield GaugeMetricFamily(
            "baton_dead_letters", "Jobs in the dead-letter stream.", value=snap.dead_letters
        )
        yield GaugeMetricFamily(
            "baton_incidents_open",
            "Incidents triggered and not resolved.",
            value=snap.incidents_open,
        )


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _histogram(name: str, documentation: str, values: Sequence[float]) -> HistogramMetricFamily:
    buckets = [
        (f"{bound:g}", float(sum(1 for v in values if v <= bound))) for bound in LATENCY_BUCKETS_S
    ]
    buckets.append(("+Inf", float(len(values))))
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=float(sum(values)))


def exposition(snap: Snapshot) -> bytes:
    """The Prometheus text format of one snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snap))
    return generate_latest(registry)
