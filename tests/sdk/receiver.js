// A minimal OTLP/gRPC trace receiver on @grpc/grpc-js, whose TLS is Node's
// OpenSSL (like the Collector's Go crypto/tls, and unlike gRPC core's BoringSSL).
// It requires a client certificate.
//
// Usage: node receiver.js SERVER_CERT SERVER_KEY CLIENT_CA
//
// Writes the same lines as receiver.py: PORT <n>, PEER <cn>, SPAN <name>.
// Exits when its standard input closes, or after a hard deadline.
'use strict';

const fs = require('fs');
const grpc = require('@grpc/grpc-js');

const LIFETIME_MS = 300_000;

// Just enough protobuf to walk ExportTraceServiceRequest.resource_spans(1)
// -> ResourceSpans.scope_spans(2) -> ScopeSpans.spans(2) -> Span.name(5).
function* fields(buf) {
  let i = 0;
  const varint = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = buf[i++];
      if (byte === undefined) throw new Error('truncated protobuf');
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (byte < 0x80) return value;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      varint();
    } else if (wire === 1) {
      i += 8;
    } else if (wire === 5) {
      i += 4;
    } else if (wire === 2) {
      const len = varint();
      yield [field, buf.subarray(i, i + len)];
      i += len;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
}

function nested(buf, number) {
  return [...fields(buf)].filter(([field]) => field === number).map(([, value]) => value);
}

function spanNames(request) {
  const names = [];
  for (const resourceSpans of nested(request, 1)) {
    for (const scopeSpans of nested(resourceSpans, 2)) {
      for (const span of nested(scopeSpans, 2)) {
        names.push(...nested(span, 5).map((name) => name.toString('utf8')));
      }
    }
  }
  return names;
}

const identity = (buf) => buf;
const traceService = {
  Export: {
    path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

function main() {
  const [certFile, keyFile, caFile] = process.argv.slice(2);
  const server = new grpc.Server();
  server.addService(traceService, {
    Export(call, callback) {
      const peer = call.getAuthContext()?.sslPeerCertificate?.subject?.CN ?? '?';
      console.log(`PEER ${peer}`);
      for (const name of spanNames(call.request)) console.log(`SPAN ${name}`);
      // An empty message is a valid ExportTraceServiceResponse.
      callback(null, Buffer.alloc(0));
    },
  });
  const credentials = grpc.ServerCredentials.createSsl(
    fs.readFileSync(caFile),
    [{ private_key: fs.readFileSync(keyFile), cert_chain: fs.readFileSync(certFile) }],
    true,
  );
  server.bindAsync('127.0.0.1:0', credentials, (error, port) => {
    if (error) {
      console.error(error);
      process.exit(2);
    }
    console.log(`PORT ${port}`);
  });
  process.stdin.on('data', () => {});
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  setTimeout(() => process.exit(0), LIFETIME_MS).unref();
}

main();
