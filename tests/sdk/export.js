// Export one span with the OpenTelemetry JS SDK's OTLP exporter.
//
// Usage: node export.js grpc-env|grpc-createssl|http-env SPAN_NAME
//
//   grpc-env        @opentelemetry/exporter-trace-otlp-grpc configured only through
//                   OTEL_EXPORTER_OTLP_ENDPOINT / _CERTIFICATE / _CLIENT_KEY /
//                   _CLIENT_CERTIFICATE / _TIMEOUT, as an application would be.
//   grpc-createssl  the same exporter given grpc.credentials.createSsl(ca, key, cert)
//                   in code (the files named by the same variables).
//   http-env        @opentelemetry/exporter-trace-otlp-proto (OTLP/HTTP protobuf),
//                   configured only through the environment.
//
// The SDK's diagnostics go to stderr. Prints "RESULT SUCCESS" or
// "RESULT FAILURE <error>"; the exit code is 0 only for SUCCESS.
'use strict';

const fs = require('fs');
const { diag, DiagLogLevel } = require('@opentelemetry/api');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} = require('@opentelemetry/sdk-trace-base');

function makeExporter(mode) {
  if (mode === 'grpc-env') {
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
    return new OTLPTraceExporter();
  }
  if (mode === 'grpc-createssl') {
    const grpc = require('@grpc/grpc-js');
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
    const env = process.env;
    const credentials = grpc.credentials.createSsl(
      fs.readFileSync(env.OTEL_EXPORTER_OTLP_CERTIFICATE),
      env.OTEL_EXPORTER_OTLP_CLIENT_KEY ? fs.readFileSync(env.OTEL_EXPORTER_OTLP_CLIENT_KEY) : null,
      env.OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE
        ? fs.readFileSync(env.OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE)
        : null,
    );
    return new OTLPTraceExporter({ url: env.OTEL_EXPORTER_OTLP_ENDPOINT, credentials });
  }
  if (mode === 'http-env') {
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
    return new OTLPTraceExporter();
  }
  throw new Error(`unknown mode ${mode}`);
}

async function main() {
  const [mode, spanName] = process.argv.slice(2);
  diag.setLogger(
    {
      error: (...a) => console.error('diag error:', ...a),
      warn: (...a) => console.error('diag warn:', ...a),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.WARN,
  );

  // Record the span in memory first, then hand it to the OTLP exporter
  // ourselves: that way we see the exporter's own verdict.
  const finished = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'otelpki-sdk-test' }),
    spanProcessors: [new SimpleSpanProcessor(finished)],
  });
  provider.getTracer('otelpki.sdk-test').startSpan(spanName).end();
  const spans = finished.getFinishedSpans();
  if (spans.length !== 1 || spans[0].name !== spanName) {
    throw new Error(`expected one finished span named ${spanName}`);
  }

  const exporter = makeExporter(mode);
  const result = await new Promise((resolve) => exporter.export(spans, resolve));
  await exporter.shutdown();
  if (result.code === 0) {
    console.log('RESULT SUCCESS');
    process.exit(0);
  }
  const error = result.error;
  console.log('RESULT FAILURE', error ? `${error.message}${error.code !== undefined ? ` (code ${error.code})` : ''}` : '');
  process.exit(1);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
