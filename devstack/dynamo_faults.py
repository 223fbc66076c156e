"""A DynamoDB that misbehaves on request, in front of moto.

Why: moto always answers, and answers well. Thread mode keeps its state in DynamoDB and must keep
its promises when DynamoDB does not: throttling on a write, an internal error, a table that is
gone or not allowed, an endpoint that accepts the connection and never answers. A test scripts
faults per operation; every request no fault applies to is passed to moto unchanged (method,
path, headers including Authorization, body), and moto's answer comes back unchanged.

Protocol: AWS JSON 1.0 (``X-Amz-Target: DynamoDB_20120810.<Operation>``,
``Content-Type: application/x-amz-json-1.0``), as the SDK speaks it.

Control:

- ``POST /_control/script`` ``{"faults": [FAULT, ...]}`` replaces the list (and its counters).
  ``FAULT``: ``{"operation": "PutItem" | ... | "*", "error": "ThrottlingException",
  "message": "...", "times": 1, "hang_ms": 0, "after": 0}``. ``operation`` is required, and
  ``error`` or ``hang_ms`` (or both). Unknown keys, an unknown operation or bad values are a 400.
- ``GET /_control/script``: the list with each fault's counters (``skipped``, ``applied``).
- ``GET /_control/calls``: ``[{"operation", "at", "fault", "status"}]`` for every call in arrival
  order; ``status`` is null while a call is in flight and for a hang (which also has
  ``"closed": true``).
- ``POST /_control/reset``: clears the faults and the calls.

Usage: python3 devstack/dynamo_faults.py --port 0 --upstream-port MOTO_PORT   # prints "READY <port>"
(stack.py starts it beside moto and announces it as "dynamo").
"""

import json
import re
import threading
import time
import zlib

from _httpbase import Handler, forward, serve

AMZ_JSON = "application/x-amz-json-1.0"
TARGET_PREFIX = "DynamoDB_20120810."
ERROR_NAMESPACE = "com.amazonaws.dynamodb.v20120810#"
FAULT_KEYS = {"operation", "error", "message", "times", "hang_ms", "after"}

# The operations of the DynamoDB API (2012-08-10, as in botocore 1.44's model), so that a
# misspelt one fails the script instead of never matching.
OPERATIONS = frozenset("""
    BatchExecuteStatement BatchGetItem BatchWriteItem CancelBulkOperation CreateBackup
    CreateGlobalTable CreateTable DeleteBackup DeleteItem DeleteResourcePolicy DeleteTable
    DescribeBackup DescribeBulkOperation DescribeContinuousBackups DescribeContributorInsights
    DescribeEndpoints DescribeExport DescribeGlobalTable DescribeGlobalTableSettings
    DescribeImport DescribeKinesisStreamingDestination DescribeLimits DescribeTable
    DescribeTableReplicaAutoScaling DescribeTimeToLive DisableKinesisStreamingDestination
    EnableKinesisStreamingDestination ExecuteStatement ExecuteTransaction
    ExportTableToPointInTime GetItem GetResourcePolicy ImportTable ListBackups
    ListBulkOperations ListContributorInsights ListExports ListGlobalTables ListImports
    ListTables ListTagsOfResource PutItem PutResourcePolicy Query RestoreTableFromBackup
    RestoreTableToPointInTime Scan SearchVectors StartBulkPutItems TagResource TransactGetItems
    TransactWriteItems UntagResource UpdateContinuousBackups UpdateContributorInsights
    UpdateGlobalTable UpdateGlobalTableSettings UpdateItem UpdateKinesisStreamingDestination
    UpdateTable UpdateTableReplicaAutoScaling UpdateTimeToLive
""".split())

# DynamoDB answers its server-side errors with 5xx and everything else with 400.
STATUS = {"InternalServerError": 500, "ServiceUnavailable": 503}

# What DynamoDB says, near enough, for the errors a test is likely to script.
MESSAGES = {
    "ProvisionedThroughputExceededException": "The level of configured provisioned throughput for the "
    "table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
    "ThrottlingException": "Rate of requests exceeds the allowed throughput.",
    "RequestLimitExceeded": "Throughput exceeds the current throughput limit for your account.",
    "InternalServerError": "Internal server error",
    "ServiceUnavailable": "Service unavailable",
    "ResourceNotFoundException": "Requested resource not found",
    "AccessDeniedException": "User: arn:aws:sts::123456789012:assumed-role/devstack/test is not authorized "
    "to perform: dynamodb:{operation} on resource: the table because no identity-based policy allows "
    "the dynamodb:{operation} action",
    "ConditionalCheckFailedException": "The conditional request failed",
    "ValidationException": "One or more parameter values were invalid",
}


def _count(fault, key, default, minimum, where):
    value = fault.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{where}.{key} must be an integer >= {minimum}, got {value!r}")
    return value


def parse_faults(raw):
    """{"faults": [fault, ...]} into a list of faults with counters; strict, so a test's typo
    fails loudly."""
    if not isinstance(raw, dict) or set(raw) - {"faults"} or not isinstance(raw.get("faults", []), list):
        raise ValueError('script must be {"faults": [{"operation": ..., "error": ...}, ...]}')
    faults = []
    for index, fault in enumerate(raw.get("faults", [])):
        where = f"faults[{index}]"
        if not isinstance(fault, dict):
            raise ValueError(f"{where} must be an object")
        unknown = set(fault) - FAULT_KEYS
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}; keys must be among {sorted(FAULT_KEYS)}")
        operation = fault.get("operation")
        if operation != "*" and operation not in OPERATIONS:
            raise ValueError(f"{where}.operation must be \"*\" or a DynamoDB operation (PutItem, UpdateItem, "
                             f"DeleteItem, Query, ...), got {operation!r}")
        error = fault.get("error")
        if error is not None and not (isinstance(error, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", error)):
            raise ValueError(f"{where}.error must be an exception name such as ThrottlingException, got {error!r}")
        message = fault.get("message")
        if message is not None and not isinstance(message, str):
            raise ValueError(f"{where}.message must be a string")
        times = fault.get("times", 1)
        if isinstance(times, bool) or not isinstance(times, int) or not (times >= 1 or times == -1):
            raise ValueError(f"{where}.times must be a positive integer, or -1 for always; got {times!r}")
        hang_ms = _count(fault, "hang_ms", 0, 0, where)
        after = _count(fault, "after", 0, 0, where)
        if error is None and not hang_ms:
            raise ValueError(f"{where} needs an error, a hang_ms, or both")
        faults.append({"operation": operation, "error": error, "message": message, "times": times,
                       "hang_ms": hang_ms, "after": after, "skipped": 0, "applied": 0})
    return faults


class State:
    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.faults = []
            self.calls = []

    def take(self, operation):
        """The fault that answers this call, or None to pass it through. The first fault in the
        list that matches the operation and is not used up decides: while it has calls left to
        skip (`after`), the call passes through; otherwise it applies. Call with the lock held."""
        for fault in self.faults:
            if fault["operation"] not in ("*", operation):
                continue
            if fault["times"] != -1 and fault["applied"] >= fault["times"]:
                continue  # used up: the next one in the list
            if fault["skipped"] < fault["after"]:
                fault["skipped"] += 1
                return None
            fault["applied"] += 1
            return fault
        return None


class DynamoHandler(Handler):
    tag = "dynamo"

    def serve(self, state, path):
        raw = self.read_body()
        target = self.headers.get("X-Amz-Target", "")
        operation = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else None
        call = {"operation": operation, "at": time.time(), "fault": False, "status": None}
        with state.lock:
            fault = state.take(operation) if self.command == "POST" and operation else None
            call["fault"] = fault is not None
            state.calls.append(call)
        if fault is None:
            status = self.forward(state, raw)
        else:
            status = self.answer_fault(fault, operation)
        with state.lock:
            call["status"] = status
            if status is None:
                call["closed"] = True

    def answer_fault(self, fault, operation):
        """Sleeps `hang_ms`, then answers the error; a hang without an error closes the
        connection with no answer at all. Returns the status sent (None for none)."""
        if fault["hang_ms"]:
            time.sleep(fault["hang_ms"] / 1000.0)
        if fault["error"] is None:
            self.close_connection = True
            self.log_message("%s %s -> closed without answer (%s)", self.command, self.path, operation)
            return None
        name = fault["error"]
        message = fault["message"]
        if message is None:
            message = MESSAGES.get(name, f"{name} (a devstack fault)").replace("{operation}", operation)
        body = json.dumps({"__type": ERROR_NAMESPACE + name, "message": message}).encode("utf-8")
        status = STATUS.get(name, 400)
        self.send_bytes(status, body, AMZ_JSON, {
            "x-amzn-RequestId": "DEVSTACKFAULT" + format(time.time_ns(), "X"),
            "x-amz-crc32": zlib.crc32(body),
        })
        return status

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
            return self.send_json(200, {"ok": True, "faults": len(faults)})
        if self.command == "GET" and path == "/_control/script":
            self.read_body()
            with state.lock:
                return self.send_json(200, {"faults": [dict(f) for f in state.faults]})
        if self.command == "GET" and path == "/_control/calls":
            self.read_body()
            with state.lock:
                return self.send_json(200, [dict(c) for c in state.calls])
        return self.common_control(state, path)


def add_args(parser):
    parser.add_argument("--upstream-port", type=int, required=True, help="moto's port")


if __name__ == "__main__":
    serve(DynamoHandler, __doc__.splitlines()[0], add_args=add_args,
          make_state=lambda args: State(args.upstream_port))
