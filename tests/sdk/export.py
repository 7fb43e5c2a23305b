"""Export one span with the OpenTelemetry Python SDK's OTLP exporter.

Usage: export.py grpc|http SPAN_NAME

The exporter is configured only through the environment, as an application
would be: OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_CERTIFICATE,
OTEL_EXPORTER_OTLP_CLIENT_KEY, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and
OTEL_EXPORTER_OTLP_TIMEOUT. The SDK's own log records (which carry the TLS
error on failure) go to stderr. Prints "RESULT SUCCESS" or "RESULT FAILURE";
the exit code is 0 only for SUCCESS.
"""

import logging
import sys

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def main():
    mode, span_name = sys.argv[1:3]
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s: %(message)s")
    if mode == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    elif mode == "http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    else:
        sys.exit(f"export.py: unknown mode {mode!r}")

    # Record the span in memory first, then hand it to the OTLP exporter
    # ourselves: that way we see the exporter's own verdict.
    finished = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "otelpki-sdk-test"}))
    provider.add_span_processor(SimpleSpanProcessor(finished))
    with provider.get_tracer("otelpki.sdk-test").start_as_current_span(span_name):
        pass
    spans = finished.get_finished_spans()
    assert [s.name for s in spans] == [span_name], spans

    exporter = OTLPSpanExporter()
    result = exporter.export(spans)
    exporter.shutdown()
    print("RESULT", result.name, flush=True)
    sys.exit(0 if result is SpanExportResult.SUCCESS else 1)


if __name__ == "__main__":
    main()
