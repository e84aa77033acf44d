"""OpenTelemetry tracing across the services, with the trace carried in the stream entries.

One trace follows a value end to end: the ingestor's upstream call → the candle stored →
compute's indicators and forecast → each gateway's fan-out to WebSocket clients. Services
never call each other, so the context travels the way the data does: the publisher writes
the current span's W3C `traceparent` into the entry it appends (`tp`), and whoever reads the
entry starts its own span as a child of it (`span_from_entry`).

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the standard variable; the exporter reads
its other `OTEL_EXPORTER_OTLP_*` settings itself): then spans go to that collector over
OTLP/HTTP in batches. Off costs one boolean test per publish and per span site: no SDK
imported, no context read, no field written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from marketpulse_common.logs import get_logger

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

log = get_logger(__name__)

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACER_NAME = "marketpulse"
_PROPAGATOR = TraceContextTextMapPropagator()


class _State:
    enabled = False
    provider: TracerProvider | None = None


def enabled() -> bool:
    return _State.enabled


def configure_tracing(service: str, exporter: SpanExporter | None = None) -> bool:
    """Turn tracing on for this process when an OTLP endpoint is configured (or an exporter
    is given, as tests do); returns whether it is on. Call once, at start."""
    if exporter is None and not os.environ.get(ENDPOINT_VARIABLE):
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"marketpulse-{service}"}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        log.info("tracing on", service=service, endpoint=os.environ[ENDPOINT_VARIABLE])
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    _State.provider = provider
    _State.enabled = True
    return True


def shutdown_tracing() -> None:
    """Flush what is batched (at exit) and turn tracing off."""
    provider, _State.provider, _State.enabled = _State.provider, None, False
    if provider is not None:
        provider.shutdown()


def tracer() -> trace.Tracer:
    if _State.provider is None:
        return trace.get_tracer(TRACER_NAME)  # the API's no-op tracer
    return _State.provider.get_tracer(TRACER_NAME)


@contextmanager
def span(name: str, **attributes: str | int | float) -> Iterator[None]:
    """A span around the block (a child of the current one), when tracing is on."""
    if not _State.enabled:
        yield
        return
    with tracer().start_as_current_span(name, attributes=attributes):
        yield


@contextmanager
def span_from_entry(traceparent: str, name: str, **attributes: str | int | float) -> Iterator[None]:
    """A span continuing the trace of a stream entry (its `tp` field): the work done because
    of that entry. A root span when the entry carries none."""
    if not _State.enabled:
        yield
        return
    context = _PROPAGATOR.extract({"traceparent": traceparent}) if traceparent else None
    with tracer().start_as_current_span(name, context=context, attributes=attributes):
        yield


def current_traceparent() -> str:
    """The current span's W3C traceparent, for the publisher to write ("" when off or none)."""
    if not _State.enabled:
        return ""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent", "")
