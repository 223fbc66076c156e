"""Shared plumbing for the devstack servers (standard library only).

Each server is a handler class plus a state object. ``stack.py`` builds all of them in one process
with :func:`make_server` and runs each in a thread. Every server can also run alone:

    python3 devstack/<name>.py --port 0 [--host 127.0.0.1] [--quiet]

It binds, prints exactly one line ``READY <port>`` to stdout (tests read it to
learn the port), then serves until SIGTERM/SIGINT, when it exits with status 0.
Request logs go to stderr only, one short line per request.
"""

import argparse
import http.client
import json
import signal
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    # Daemon threads: a handler blocked in a long poll must not keep the
    # process alive after SIGTERM.
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that hangs up mid-request (a test's binary killed while long-polling, a
        # timeout on the client side) is normal here: no traceback for it.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    @property
    def port(self):
        return self.server_address[1]

    def serve_in_thread(self, name):
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, name=name, daemon=True)
        thread.start()
        return thread

    def stop(self):
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    """Base handler: HTTP/1.1 keep-alive, exact Content-Length, JSON helpers."""

    # HTTP/1.1 so keep-alive clients (hyper, reqwest, the AWS SDK) reuse
    # connections; this requires a correct Content-Length on every answer.
    protocol_version = "HTTP/1.1"
    # Answers go out at once: with Nagle's algorithm and the client's delayed ACK, each answer
    # on a kept-alive connection waited ~40 ms, which slowed the tests and skewed benchmarks.
    disable_nagle_algorithm = True
    server_version = "devstack"
    sys_version = ""
    tag = "devstack"  # subclasses set a short name for the log lines

    # ----- request side -------------------------------------------------
    def read_body(self):
        """Return the raw request body, handling chunked uploads too."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Skip optional trailers up to the blank line.
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after each chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def read_json(self):
        """Parse the body as JSON; an empty body counts as {}."""
        raw = self.read_body()
        return json.loads(raw) if raw.strip() else {}

    # ----- response side ------------------------------------------------
    def send_bytes(self, status, body, content_type, headers=None):
        self._answered = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj, headers=None, content_type="application/json"):
        body = json.dumps(obj).encode("utf-8")
        self.send_bytes(status, body, content_type, headers)

    # ----- dispatch -----------------------------------------------------
    def common_control(self, state, path):
        """The control endpoints every server shares: reset, and 404 for anything else."""
        if self.command == "POST" and path == "/_control/reset":
            self.read_body()
            state.reset()
            return self.send_json(200, {"ok": True})
        self.read_body()
        return self.send_json(404, {"error": f"no control endpoint {self.command} {path}"})

    def route(self):
        """`/_control/...` goes to `control`, everything else to `serve` (the protocol)."""
        state = self.server.state
        path = self.path.split("?", 1)[0]
        if path.startswith("/_control"):
            return self.control(state, path)
        return self.serve(state, path)

    def serve(self, state, path):  # pragma: no cover - overridden
        self.read_body()
        self.send_json(404, {"error": "not found"})

    def control(self, state, path):
        return self.common_control(state, path)

    def _dispatch(self):
        self._answered = False
        try:
            self.route()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # client went away; nothing to say
        except Exception as exc:  # keep serving; show the bug on stderr
            traceback.print_exc(file=sys.stderr)
            if self._answered:
                self.close_connection = True
            else:
                self.send_json(500, {"error": f"devstack bug: {exc!r}"})

    do_GET = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch

    # ----- logging: stderr, one short line, never headers ----------------
    def log_message(self, fmt, *args):
        if not getattr(self.server, "quiet", False):
            sys.stderr.write(f"[{self.tag}] {fmt % args}\n")
            sys.stderr.flush()

    def log_request(self, code="-", size="-"):
        # Only method, path and status: never headers (Authorization, SigV4).
        self.log_message("%s %s -> %s", self.command, self.path, code)


def make_server(handler_cls, state, host="127.0.0.1", port=0, quiet=False):
    """Binds a server (port 0 picks a free one); nothing is served until serve_forever."""
    server_cls = Server
    if ":" in host:  # IPv6 literal such as ::1
        server_cls = type("Server6", (Server,), {"address_family": socket.AF_INET6})
    server = server_cls((host, port), handler_cls)
    server.quiet = quiet
    server.state = state
    return server


def serve(handler_cls, description, add_args=None, make_state=None):
    """Parse the common flags, bind, announce READY, and serve until signalled."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--quiet", action="store_true", help="no request log on stderr")
    if add_args:
        add_args(parser)
    args = parser.parse_args()
    server = make_server(handler_cls, make_state(args) if make_state else None, args.host, args.port, args.quiet)

    # Turn SIGTERM into the same clean exit path as Ctrl-C.
    def _stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    try:
        # Inside the try: a SIGTERM right after READY must still end in the clean exit.
        print(f"READY {server.port}", flush=True)
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.exit(0)


# Headers that belong to one connection, not to the request or the answer.
HOP_BY_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "expect"}
NOT_FORWARDED_BACK = HOP_BY_HOP | {"server", "date"}


def forward(handler, port, raw, default_type="application/x-amz-json-1.1"):
    """Passes `handler`'s request to 127.0.0.1:`port` as it came (moto routes by the X-Amz-Target
    and the SigV4 scope and does not check signatures) and its answer back as it came; 502 when
    nothing answers. Returns the status sent. For the fault fronts in front of moto."""
    headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
    upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        upstream.request(handler.command, handler.path, body=raw, headers=headers)
        answer = upstream.getresponse()
        body = answer.read()
        back = [(k, v) for k, v in answer.getheaders() if k.lower() not in NOT_FORWARDED_BACK]
        status = answer.status
    except OSError as err:
        body = json.dumps({"error": f"devstack: upstream did not answer: {err}"}).encode("utf-8")
        handler.send_bytes(502, body, "application/json")
        return 502
    finally:
        upstream.close()
    kind = next((v for k, v in back if k.lower() == "content-type"), default_type)
    handler.send_bytes(status, body, kind, {k: v for k, v in back if k.lower() != "content-type"})
    return status

