"""Prometheus metrics for `GET /metrics`, read from Redis at scrape time in constant time.

Every number is read when Prometheus scrapes, from a few hashes the commits and the
workers' job tallies keep up to date (`orchestrator.store.counters`,
`orchestrator.store.gauges`) and
what Redis reports (the job stream's backlog and dead letters, open incidents, pending
approvals per workspace, the archive's last run), never from a scan of records: a scrape
costs the same at 100 or 100,000 outcomes. So any number of worker processes count as one
Baton, a restart loses nothing, and the core never imports prometheus_client. Each scrape
builds a fresh registry from one snapshot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from orchestrator.runtime.context import Context
from orchestrator.store import counters, gauges

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS_S = gauges.LATENCY_BUCKETS_S


@dataclass(frozen=True)
class Histogram:
    """Cumulative counts per bucket bound (as `gauges.observe` keeps them), and the sum."""

    buckets: tuple[tuple[str, float], ...] = ()
    total: float = 0.0


@dataclass
class Snapshot:
    """Everything one scrape reports."""

    counters: dict[tuple[str, str], int] = field(default_factory=dict)
    steps: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Steps by (lane, status)."""
    approvals_pending: int = 0
    approval_latency: Histogram = Histogram()
    decision_latency: Histogram = Histogram()
    backlog: int = 0
    dead_letters: int = 0
    incidents_open: int = 0
    archive_lag_s: float | None = None
    """Seconds since the archive last finished a run (None before its first)."""
    jobs: dict[tuple[str, str], int] = field(default_factory=dict)
    """Jobs handled by (kind, outcome)."""
    job_latency: dict[str, Histogram] = field(default_factory=dict)
    """Handling latency per job kind."""


async def snapshot(ctx: Context) -> Snapshot:
    """Read everything `/metrics` reports from Redis, in a handful of round trips."""
    redis, keys = ctx.store.redis, ctx.keys
    gauged, histograms = await gauges.read(redis, keys)  # one hash per tag on a cluster
    pipe = redis.pipeline(transaction=False)  # keys of work about no workspace: one slot
    pipe.hget(keys.archive(), "at")
    pipe.hgetall(counters.jobs_key(keys))
    archived_at, jobs = await pipe.execute()
    snap = Snapshot(
        counters=await counters.read(redis, keys),
        backlog=await ctx.queue.backlog(),
        dead_letters=await ctx.queue.dead(),
        incidents_open=await counters.incidents_open(redis, keys),
        approval_latency=_histogram_of(histograms, gauges.APPROVAL_DECISION),
        decision_latency=_histogram_of(histograms, gauges.DECISION_LATENCY),
    )
    for name, value in gauged.items():
        kind, _, rest = _text(name).partition("|")
        if kind == "steps" and int(value):
            lane, _, status = rest.partition("|")
            snap.steps[(lane, status)] = int(value)
    workspaces = await ctx.store.workspaces()
    if workspaces:
        pipe = redis.pipeline(transaction=False)
        for workspace in workspaces:
            pipe.scard(keys.pending_approvals(workspace))
        snap.approvals_pending = sum(int(n) for n in await pipe.execute())
    snap.jobs, snap.job_latency = _jobs_of(jobs)
    if archived_at is not None:
        snap.archive_lag_s = max(0.0, ctx.clock.now().timestamp() - float(archived_at))
    return snap


def _histogram_of(raw: Mapping[bytes | str, bytes | str], name: str) -> Histogram:
    values = {
        _text(k).removeprefix(f"{name}|"): float(v)
        for k, v in raw.items()
        if _text(k).startswith(f"{name}|")
    }
    buckets = [(f"{bound:g}", values.get(f"{bound:g}", 0.0)) for bound in LATENCY_BUCKETS_S]
    buckets.append(("+Inf", values.get("+Inf", 0.0)))
    return Histogram(tuple(buckets), values.get("sum", 0.0))


def _jobs_of(
    raw: Mapping[bytes | str, bytes | str],
) -> tuple[dict[tuple[str, str], int], dict[str, Histogram]]:
    """Job counts by (kind, outcome) and a latency histogram per kind from `jobs_key`."""
    counts: dict[tuple[str, str], int] = {}
    values: dict[str, dict[str, float]] = {}
    for name, value in raw.items():
        field_name, number = _text(name), float(value)
        what, _, rest = field_name.partition("|")
        if what == "n":
            kind, _, outcome = rest.rpartition("|")
            counts[(kind, outcome)] = int(number)
        elif what == "le":
            kind, _, bound = rest.rpartition("|")
            values.setdefault(kind, {})[bound] = number
        elif what == "sum":
            values.setdefault(rest, {})["sum"] = number
    latency = {}
    for kind, bounds in values.items():
        buckets = [(f"{b:g}", bounds.get(f"{b:g}", 0.0)) for b in counters.JOB_BUCKETS_S]
        buckets.append(("+Inf", bounds.get("+Inf", 0.0)))
        latency[kind] = Histogram(tuple(buckets), bounds.get("sum", 0.0))
    return counts, latency


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _build() -> str:
    try:
        return version("baton")
    except PackageNotFoundError:
        return "unknown"


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
            snap.approval_latency,
        )
        yield _histogram(
            "baton_decision_latency_seconds",
            "From the metric going off track to the first corrective step proposed.",
            snap.decision_latency,
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
        yield from _job_families(snap)
        yield GaugeMetricFamily(
            "baton_dead_letters", "Jobs in the dead-letter stream.", value=snap.dead_letters
        )
        yield GaugeMetricFamily(
            "baton_incidents_open",
            "Incidents triggered and not resolved.",
            value=snap.incidents_open,
        )
        yield InfoMetricFamily("baton_build", "The running Baton.", value={"version": _build()})
        if snap.archive_lag_s is not None:
            yield GaugeMetricFamily(
                "baton_archive_lag_seconds",
                "Seconds since the archive last moved history out of Redis.",
                value=snap.archive_lag_s,
            )


def _job_families(snap: Snapshot) -> Iterable[Metric]:
    handled = CounterMetricFamily(
        "baton_jobs",
        "Jobs handled, by kind and how they ended (done, failed, dead, deferred, dropped).",
        labels=["kind", "outcome"],
    )
    for (kind, outcome), n in sorted(snap.jobs.items()):
        handled.add_metric([kind, outcome], n)
    yield handled
    latency = HistogramMetricFamily(
        "baton_job_seconds", "Time a worker took to handle a job, by kind.", labels=["kind"]
    )
    for kind, histogram in sorted(snap.job_latency.items()):
        latency.add_metric([kind], list(histogram.buckets), sum_value=histogram.total)
    yield latency


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _histogram(name: str, documentation: str, histogram: Histogram) -> HistogramMetricFamily:
    buckets = list(histogram.buckets) or [("+Inf", 0.0)]
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=histogram.total)


def exposition(snap: Snapshot) -> bytes:
    """The Prometheus text format of one snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snap))
    return generate_latest(registry)
