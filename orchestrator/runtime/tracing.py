"""Traces across processes: a statement, a click or a tick is one trace, from the web
request (or the worker that picks up a due tick) through every job it leads to.

The trace context travels inside each job's message as a W3C `traceparent`; the worker
that handles the job continues the trace. OpenTelemetry is an optional extra
(`pip install 'baton[otel]'`): without it, or until `bot.otel` turns tracing on (when
OTEL_EXPORTER_OTLP_ENDPOINT is set), every function here returns at its first line, so
tracing costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

try:
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError:  # the `otel` extra is not installed
    trace = None  # type: ignore[assignment]
    TraceContextTextMapPropagator = None  # type: ignore[assignment,misc]

TRACER = "baton"
_on = False

OWN_TRACE = frozenset({"tick"})
"""Job kinds that start a trace of their own, linked to (not part of) what enqueued them:
a tick (`orchestrator.runtime.messages.Tick`) is one trace whether a click, the previous tick or
a timer led to it."""


def enable(on: bool = True) -> None:
    """Turn span making on (`bot.otel.setup` does, once a tracer provider is in place)."""
    global _on
    _on = on and trace is not None


def enabled() -> bool:
    return _on


def traceparent() -> str | None:
    """The current trace context as a W3C `traceparent`, or None (no trace, or tracing off)."""
    if not _on:
        return None
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def span(
    name: str,
    *,
    kind: str = "internal",
    parent: str | None = None,
    headers: Mapping[str, str] | None = None,
    attributes: Mapping[str, Any] | None = None,
    new_trace: bool = False,
) -> Iterator[Any]:
    """A span around the block, the child of `parent` (a `traceparent`), of the trace
    context in `headers` (an incoming request's), or else of the current span; with
    `new_trace`, the root of a new trace that links to `parent`. Yields the span (None
    while tracing is off); an exception is recorded on it and raised on."""
    if not _on:
        yield None
        return
    carrier = {"traceparent": parent} if parent else dict(headers or {})
    context = TraceContextTextMapPropagator().extract(carrier) if carrier else None
    links = []
    if new_trace:
        cause = trace.get_current_span(context).get_span_context() if context else None
        links = [trace.Link(cause)] if cause is not None and cause.is_valid else []
        context = trace.set_span_in_context(trace.INVALID_SPAN)
    tracer = trace.get_tracer(TRACER)
    with tracer.start_as_current_span(
        name,
        context=context,
        kind=trace.SpanKind[kind.upper()],
        attributes=dict(attributes or {}),
        links=links,
    ) as current:
        yield current
