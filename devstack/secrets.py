"""A Secrets Manager that misbehaves on request, in front of moto.

Why: moto always answers, and answers well. The function must keep its promises when Secrets
Manager does not: an endpoint that accepts the connection and never answers, a truncated or
garbled answer, an error whose message echoes the secret's value, throttling. Each secret id can
be given a fault; every other request is passed through to moto unchanged.

Protocol: AWS JSON 1.1 (``X-Amz-Target: secretsmanager.<Operation>``), as the SDK speaks it.

Usage: python3 devstack/secrets.py --port 0 --upstream-port MOTO_PORT   # prints "READY <port>"
(stack.py starts it beside moto and announces it as "secrets").
"""

import json
import threading
import time

from _httpbase import Handler, forward, serve

AMZ_JSON = "application/x-amz-json-1.1"
FAULT_KEYS = {"hang_ms", "status", "body", "error", "secret_string"}


def parse_faults(raw):
    """{"faults": {secret_id: fault}}; strict, so a test's typo fails loudly."""
    if not isinstance(raw, dict) or set(raw) - {"faults"} or not isinstance(raw.get("faults", {}), dict):
        raise ValueError('script must be {"faults": {"<secret id>": {...}}}')
    faults = raw.get("faults", {})
    for secret_id, fault in faults.items():
        if not isinstance(fault, dict) or set(fault) - FAULT_KEYS:
            raise ValueError(f"fault for {secret_id!r}: keys must be among {sorted(FAULT_KEYS)}")
    return faults


class State:
    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.faults = {}
            self.calls = []


class SecretsHandler(Handler):
    tag = "secrets"

    def serve(self, state, path):
        raw = self.read_body()
        try:
            secret_id = json.loads(raw).get("SecretId")
        except (ValueError, AttributeError):
            secret_id = None
        with state.lock:
            fault = state.faults.get(secret_id)
            state.calls.append({"secret_id": secret_id, "at": time.time(), "fault": fault is not None})
        if fault is None:
            return self.forward(state, raw)
        if fault.get("hang_ms"):
            # Accept the request, then say nothing: the client's own deadline must end it.
            time.sleep(fault["hang_ms"] / 1000.0)
        if "secret_string" in fault:
            body = json.dumps({"ARN": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{secret_id}",
                               "Name": secret_id, "SecretString": fault["secret_string"],
                               "VersionId": "v1", "CreatedDate": time.time()})
            return self.send_bytes(200, body.encode("utf-8"), AMZ_JSON)
        if "error" in fault:
            return self.send_json(fault.get("status", 400), fault["error"], content_type=AMZ_JSON,
                                  headers={"x-amzn-RequestId": "fault-request-id"})
        status = fault.get("status", 200)
        self.send_bytes(status, str(fault.get("body", "")).encode("utf-8"), AMZ_JSON,
                        {"x-amzn-RequestId": "fault-request-id"})

    def forward(self, state, raw):
        return forward(self, state.upstream_port, raw, AMZ_JSON)

    def control(self, state, path):
        if self.command == "POST" and path == "/_control/script":
            try:
                faults = parse_faults(self.read_json())
            except ValueError as err:
                return self.send_json(400, {"error": str(err)})
            with state.lock:
                state.faults = faults
            return self.send_json(200, {"ok": True})
        if self.command == "GET" and path == "/_control/calls":
            with state.lock:
                return self.send_json(200, list(state.calls))
        return self.common_control(state, path)


def add_args(parser):
    parser.add_argument("--upstream-port", type=int, required=True, help="moto's port")


if __name__ == "__main__":
    serve(SecretsHandler, __doc__.splitlines()[0], add_args=add_args,
          make_state=lambda args: State(args.upstream_port))
