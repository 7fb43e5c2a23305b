"""A minimal OTLP trace receiver over TLS that requires a client certificate.

Usage: receiver.py grpc|http SERVER_CERT SERVER_KEY CLIENT_CA

Listens on 127.0.0.1 on an ephemeral port and writes, one per line, flushed:
    PORT <n>                 once, when it is ready
    PEER <common name>       the client certificate's CN, once per export call
    SPAN <name>              every span of every accepted export call
    TLS-ERROR <message>      a failed handshake (http mode only; gRPC core logs
                             its own handshake failures to stderr)
It exits when its standard input closes (the test that started it went away)
or after a hard deadline, so it can never outlive a test run by much.
"""

import http.server
import os
import ssl
import sys
import threading
import traceback

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

LIFETIME_SECONDS = 300

_out_lock = threading.Lock()


def emit(*parts):
    with _out_lock:
        sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
        sys.stdout.flush()


def emit_spans(request):
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                emit("SPAN", span.name)


def exit_when_stdin_closes():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def serve_grpc(cert, key, ca):
    from concurrent import futures

    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request, context):
            names = context.auth_context().get("x509_common_name", [b"?"])
            emit("PEER", names[0].decode())
            emit_spans(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(), server)
    credentials = grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=True
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    if port == 0:
        sys.exit("receiver: could not bind 127.0.0.1")
    server.start()
    return server, port


class TraceHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size + 2)[:size]
                if size == 0:
                    return body
                body += chunk
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_POST(self):
        body = self.read_body()
        if self.path != "/v1/traces":
            self.send_error(404)
            return
        if self.headers.get("Content-Type") != "application/x-protobuf":
            self.send_error(415)
            return
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        subject = dict(rdn[0] for rdn in self.connection.getpeercert()["subject"])
        emit("PEER", subject.get("commonName", "?"))
        emit_spans(request)
        reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format, *args):
        sys.stderr.write("receiver: " + (format % args) + "\n")


class TlsServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context):
        self.tls = context
        super().__init__(("127.0.0.1", 0), TraceHandler)

    def get_request(self):
        sock, address = self.socket.accept()
        sock.settimeout(10)
        # The handshake runs in the connection's own thread, so that a failure
        # is reported there instead of being swallowed by the accept loop.
        return self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def finish_request(self, request, client_address):
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError) as error:
            emit("TLS-ERROR", error)
            return
        super().finish_request(request, client_address)


def serve_http(cert_file, key_file, ca_file):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    context.load_verify_locations(ca_file)
    context.verify_mode = ssl.CERT_REQUIRED
    server = TlsServer(context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def read(path):
    with open(path, "rb") as file:
        return file.read()


def main():
    mode, cert_file, key_file, ca_file = sys.argv[1:5]
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    try:
        if mode == "grpc":
            # Keep the server referenced: a collected grpc.Server stops listening.
            server, port = serve_grpc(read(cert_file), read(key_file), read(ca_file))
        elif mode == "http":
            server, port = serve_http(cert_file, key_file, ca_file)
        else:
            raise ValueError(f"unknown mode {mode!r}")
    except Exception:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(2)
    emit("PORT", port)
    threading.Event().wait(LIFETIME_SECONDS)
    del server
    os._exit(0)


if __name__ == "__main__":
    main()
