"""OpenTelemetry set-up for Baton's processes (the optional `otel` extra).

With OTEL_EXPORTER_OTLP_ENDPOINT set, each process exports its spans by OTLP over HTTP
(the exporter reads the standard OTEL_EXPORTER_OTLP_* variables: endpoint, headers,
timeout), as service OTEL_SERVICE_NAME (`baton`) with the process's role as
`baton.process`. Unset, or without the extra, nothing is set up and
`orchestrator.runtime.tracing` stays off (no span is made, no context is carried).
"""

from __future__ import annotations

import logging
from typing import Any

from config.settings import Settings
from orchestrator.runtime import tracing

log = logging.getLogger("baton.otel")

MISSING = (
    "OTEL_EXPORTER_OTLP_ENDPOINT is set but the `otel` extra is not installed "
    "(pip install 'baton[otel]'): no traces are exported"
)


def setup(settings: Settings, process: str, exporter: Any = None) -> bool:
    """Export traces when configured (or to `exporter`, a span exporter, in tests);
    returns whether tracing is on."""
    if exporter is None and not settings.otel_endpoint:
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning(MISSING)
        return False
    if exporter is None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning(MISSING)
            return False
        exporter = OTLPSpanExporter()
    resource = Resource.create(
        {"service.name": settings.otel_service_name, "baton.process": process}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    tracing.enable()
    log.info("traces exported by OTLP as %s (%s)", settings.otel_service_name, process)
    return True
