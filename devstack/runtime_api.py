"""Local AWS Lambda Runtime API (2018-06-01) for running the real `bootstrap`.

Why: it lets a test run the release binary exactly as Lambda would, without
AWS: start this server, start the binary with
``AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>`` (plus the other AWS_LAMBDA_* vars),
then call ``POST /_control/invoke`` which queues an event and blocks until the
function answers. One process may serve many invocations (warm container).

Usage: python3 devstack/runtime_api.py --port 0 [--function-name NAME]
       # prints "READY <port>"
"""

import collections
import json
import re
import select
import socket
import threading
import time
import uuid

from _httpbase import Handler, serve

PREFIX = "/2018-06-01/runtime"
INVOCATION_PATH = re.compile(PREFIX + r"/invocation/([^/]+)/(response|error)$")
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"


def parse_or_raw(raw):
    """JSON value of a body, or its text when it is not JSON."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class Invocation:
    def __init__(self, event, deadline_ms, raw_event=None):
        self.id = str(uuid.uuid4())
        # raw_event: a body Lambda itself would never pass on (not JSON), to prove the function
        # still answers with one of its own error types.
        self.event_body = raw_event.encode("utf-8") if raw_event is not None else json.dumps(event).encode("utf-8")
        self.deadline_ms = deadline_ms
        self.fetched_mono = None  # set when /next hands it to the function
        self.outcome = None  # the dict /_control/invoke returns, once done


class State:
    def __init__(self, function_name):
        self.function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.started_ns = time.time_ns()
        self.cond = threading.Condition()
        self.reset()

    def reset(self):
        with self.cond:
            self.queue = collections.deque()  # waiting for /next
            self.by_id = {}
            self.init_error = None
            self.first_next_ns = None
            self.delivered = 0
            self.completed = 0
            self.cond.notify_all()


class RuntimeHandler(Handler):
    tag = "runtime"

    def serve(self, state, path):
        if self.command == "GET" and path == PREFIX + "/invocation/next":
            return self.next_invocation(state)
        if self.command == "POST" and path == PREFIX + "/init/error":
            return self.init_error(state)
        match = INVOCATION_PATH.match(path)
        if self.command == "POST" and match:
            return self.complete(state, match.group(1), match.group(2))
        self.read_body()
        return self.send_json(404, {"errorMessage": f"unknown path {path}", "errorType": "NotFound"})

    # ----- runtime side (called by the function) ------------------------
    def client_gone(self):
        """True when the function closed this connection (e.g. it was killed).

        Why: a long-poll /next from a dead process must not swallow the next
        event meant for a freshly started binary.
        """
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def next_invocation(self, state):
        with state.cond:
            if state.first_next_ns is None:
                state.first_next_ns = time.time_ns()  # end of the function's init
            while True:
                if state.queue:
                    if self.client_gone():
                        self.close_connection = True
                        return
                    inv = state.queue.popleft()
                    inv.fetched_mono = time.monotonic()
                    state.delivered += 1
                    break
                state.cond.wait(0.25)  # wake up now and then to notice dead clients
                if self.client_gone():
                    self.close_connection = True
                    return
        headers = {
            "Lambda-Runtime-Aws-Request-Id": inv.id,
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + inv.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": state.function_arn,
            "Lambda-Runtime-Trace-Id": "Root=1-%08x-%s;Parent=%s;Sampled=0"
            % (int(time.time()), uuid.uuid4().hex[:24], uuid.uuid4().hex[:16]),
        }
        try:
            self.send_bytes(200, inv.event_body, "application/json", headers)
        except OSError:
            # Could not hand it over: put it back for the next poller.
            with state.cond:
                inv.fetched_mono = None
                state.delivered -= 1
                state.queue.appendleft(inv)
                state.cond.notify_all()
            raise

    def complete(self, state, request_id, kind):
        raw = self.read_body()
        with state.cond:
            inv = state.by_id.get(request_id)
            if inv is None or inv.fetched_mono is None:
                return self.send_json(400, {"errorMessage": "invalid request id", "errorType": "InvalidRequestID"})
            if inv.outcome is not None:
                # Same answer real Lambda gives for a second response.
                return self.send_json(
                    403,
                    {"errorMessage": "invocation already completed", "errorType": "InvalidStateTransition"},
                )
            duration_ms = (time.monotonic() - inv.fetched_mono) * 1000.0
            if kind == "response":
                inv.outcome = {"status": "ok", "response": parse_or_raw(raw)}
            else:
                inv.outcome = {
                    "status": "error",
                    "error": parse_or_raw(raw),
                    "error_type_header": self.headers.get(ERROR_TYPE_HEADER),
                }
            inv.outcome["duration_ms"] = duration_ms
            inv.outcome["request_id"] = inv.id
            state.completed += 1
            state.cond.notify_all()
        self.send_json(202, {"status": "OK"})

    def init_error(self, state):
        raw = self.read_body()
        with state.cond:
            state.init_error = {
                "status": "init_error",
                "error": parse_or_raw(raw),
                "error_type_header": self.headers.get(ERROR_TYPE_HEADER),
            }
            state.cond.notify_all()  # wake every blocked /_control/invoke
        self.send_json(202, {"status": "OK"})

    # ----- control side (called by the test) ----------------------------
    def invoke(self, state):
        try:
            body = self.read_json()
            event = body.get("event", {})
            raw_event = body.get("raw_event")
            if raw_event is not None and not isinstance(raw_event, str):
                raise ValueError("raw_event must be a string")
            deadline_ms = int(body.get("deadline_ms", 10000))
            timeout_ms = float(body.get("timeout_ms", 60000))
        except (ValueError, AttributeError, TypeError) as err:
            return self.send_json(400, {"error": f"bad invoke request: {err}"})
        with state.cond:
            if state.init_error:
                return self.send_json(200, state.init_error)
            inv = Invocation(event, deadline_ms, raw_event)
            state.queue.append(inv)
            state.by_id[inv.id] = inv
            state.cond.notify_all()
            give_up = time.monotonic() + timeout_ms / 1000.0
            while inv.outcome is None and state.init_error is None:
                remaining = give_up - time.monotonic()
                if remaining <= 0:
                    break
                state.cond.wait(remaining)
            if inv.outcome is not None:
                result = inv.outcome
            else:
                # Not answered: withdraw it if the function never took it, so a
                # later binary does not receive a stale event.
                fetched = inv.fetched_mono is not None
                if not fetched and inv in state.queue:  # (a reset may have emptied it)
                    state.queue.remove(inv)
                if state.init_error is not None:
                    result = dict(state.init_error)
                else:
                    result = {"status": "timeout", "request_id": inv.id, "fetched": fetched}
        self.send_json(200, result)

    def control(self, state, path):
        if self.command == "POST" and path == "/_control/invoke":
            return self.invoke(state)
        if self.command == "GET" and path == "/_control/stats":
            with state.cond:
                return self.send_json(
                    200,
                    {
                        "first_next_ns": state.first_next_ns,
                        "started_ns": state.started_ns,
                        "invocations": state.delivered,
                        "completed": state.completed,
                        "queued": len(state.queue),
                        "init_error": state.init_error,
                    },
                )
        return self.common_control(state, path)


def add_args(parser):
    parser.add_argument(
        "--function-name",
        default="redshift-long-query-alert",
        help="name used in Lambda-Runtime-Invoked-Function-Arn",
    )


if __name__ == "__main__":
    serve(
        RuntimeHandler,
        __doc__.splitlines()[0],
        add_args=add_args,
        make_state=lambda args: State(args.function_name),
    )
