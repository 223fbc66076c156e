"""Local stand-in for the Amazon Redshift Data API (AWS JSON 1.1 protocol).

Why: moto's Redshift Data API never leaves STARTED and cannot return rows,
errors or throttling on demand, so tests of the Lambda point the Rust SDK
(aws-sdk-redshiftdata) at this server instead (endpoint_url = http://host:port).

Protocol: ``POST /`` with ``X-Amz-Target: RedshiftData.<Operation>`` and a JSON
body. SigV4 is ignored. Implemented operations: ExecuteStatement,
DescribeStatement, GetStatementResult, CancelStatement.

A statement is executed against a model of the cluster (redshift_model.py, loaded with
``POST /_control/cluster``) by sqlexec.py when it is submitted, and DescribeStatement /
GetStatementResult report what it did. A *script* (``POST /_control/script``) applies to
statements submitted after it was set: it delays them, injects faults, forces an outcome, or
(with ``columns`` and ``rows``) replays rows no SQL could produce. See README.md.

Usage: python3 devstack/dataapi.py --port 0   # prints "READY <port>"
"""

import base64
import binascii
import copy
import json
import random
import re
import threading
import time
import uuid

import redshift_model
import sqlexec
from _httpbase import Handler, serve

AMZ_JSON = "application/x-amz-json-1.1"

# A ":name" bind placeholder, but not the second colon of a "::int" cast.
PLACEHOLDER = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")

OPERATIONS = ("ExecuteStatement", "DescribeStatement", "GetStatementResult", "CancelStatement")
FINAL = ("FINISHED", "FAILED", "ABORTED")
OUTCOME_STATUS = {"finished": "FINISHED", "failed": "FAILED", "aborted": "ABORTED", "hang": "STARTED"}

DEFAULT_SCRIPT = {
    "delay_ms": 0,
    "outcome": "finished",
    "error": "ERROR: permission denied for relation stv_inflight",
    "columns": [],
    "rows": [],
    "page_size": 100,
    "throttle": {},
    "server_errors": {},
    "stall_ms": {},
    "repeat_next_token": False,
}

NO_RESULT = "Query does not have result. Please check query status with DescribeStatement."


class ApiError(Exception):
    """An error answered in the AWS JSON shape {"__type", "message"}."""

    def __init__(self, error_type, message, status=400):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status


def parse_script(raw):
    """Validate a control-API script and fill in defaults.

    Strict on purpose: a typo in a test's script should fail loudly (HTTP 400)
    rather than silently run with defaults.
    """
    if not isinstance(raw, dict):
        raise ValueError("script must be a JSON object")
    unknown = sorted(set(raw) - set(DEFAULT_SCRIPT))
    if unknown:
        raise ValueError(f"unknown script keys: {unknown}")
    script = copy.deepcopy(DEFAULT_SCRIPT)
    script.update(copy.deepcopy(raw))

    if not isinstance(script["delay_ms"], (int, float)) or script["delay_ms"] < 0:
        raise ValueError("delay_ms must be a number >= 0")
    if script["outcome"] not in OUTCOME_STATUS:
        raise ValueError(f"outcome must be one of {sorted(OUTCOME_STATUS)}")
    if not isinstance(script["error"], str):
        raise ValueError("error must be a string")
    if not isinstance(script["page_size"], int) or script["page_size"] < 1:
        raise ValueError("page_size must be an integer >= 1")
    if not isinstance(script["repeat_next_token"], bool):
        raise ValueError("repeat_next_token must be true or false")

    columns = script["columns"]
    if not isinstance(columns, list):
        raise ValueError("columns must be a list")
    for col in columns:
        if not isinstance(col, dict) or not isinstance(col.get("name"), str):
            raise ValueError("each column needs a string 'name' (and 'type')")
        col.setdefault("type", "varchar")
    rows = script["rows"]
    if not isinstance(rows, list):
        raise ValueError("rows must be a list of lists")
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(columns):
            raise ValueError(f"row {i} must be a list of {len(columns)} cells (one per column)")
        for cell in row:
            if cell is not None and not isinstance(cell, (bool, int, float, str)):
                raise ValueError(f"row {i}: cells must be null, bool, number or string")

    for key in ("throttle", "server_errors", "stall_ms"):
        table = script[key]
        if not isinstance(table, dict):
            raise ValueError(f"{key} must be an object of operation -> number")
        for op, n in table.items():
            if op not in OPERATIONS:
                raise ValueError(f"{key}: unknown operation {op!r}")
            if not isinstance(n, (int, float)) or n < 0:
                raise ValueError(f"{key}.{op} must be a number >= 0")
    return script


def to_cell(value):
    """Map a Python value to a Data API Field union (exactly one member)."""
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):  # before int: bool is a subclass of int
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def column_metadata(col):
    return sqlexec.column_metadata(col["name"], col["type"])


class Statement:
    def __init__(self, request, script):
        self.id = str(uuid.uuid4())
        self.request = request
        self.script = script  # snapshot: later script changes do not affect it
        self.created_wall = time.time()
        self.created_mono = time.monotonic()
        self.cancelled_wall = None
        self.pid = random.randint(*redshift_model.PID_RANGE)
        self.execution = None  # set when the statement ran against the cluster model

    @property
    def executes(self):
        """Without scripted rows, a statement that may finish runs against the model."""
        return not self.script["columns"] and self.script["outcome"] == "finished"

    def status(self):
        """Walk SUBMITTED -> PICKED -> STARTED -> outcome by elapsed time."""
        if self.cancelled_wall is not None:
            return "ABORTED"
        delay = self.script["delay_ms"]
        elapsed_ms = (time.monotonic() - self.created_mono) * 1000.0
        if elapsed_ms < 0.1 * delay:
            return "SUBMITTED"
        if elapsed_ms < 0.2 * delay:
            return "PICKED"
        if elapsed_ms < delay:
            return "STARTED"
        if self.execution is not None and self.execution.error:
            return "FAILED"
        return OUTCOME_STATUS[self.script["outcome"]]

    def updated_at(self, status):
        delay_s = self.script["delay_ms"] / 1000.0
        if self.cancelled_wall is not None:
            return self.cancelled_wall
        offset = {"SUBMITTED": 0.0, "PICKED": 0.1, "STARTED": 0.2}.get(status, 1.0)
        return self.created_wall + offset * delay_s

    @property
    def has_result_set(self):
        if self.execution is not None:
            return self.execution.has_result_set
        return bool(self.script["columns"])

    def columns(self):
        if self.execution is not None:
            return self.execution.columns
        return [column_metadata(c) for c in self.script["columns"]]

    def records(self):
        if self.execution is not None:
            return self.execution.records
        return [[to_cell(v) for v in row] for row in self.script["rows"]]

    @property
    def error(self):
        if self.execution is not None and self.execution.error:
            return self.execution.error
        return self.script["error"]


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.engine = sqlexec.Engine()
        self.reset()

    def reset(self):
        with self.lock:
            self.set_script_locked(parse_script({}))
            self.statements = {}
            self.client_tokens = {}
            self.calls = []
            self.cluster = redshift_model.Cluster()
            # SecretArn -> the database user its credentials log in as (the secret's `username`).
            self.secret_users = {}

    def set_script_locked(self, script):
        self.script = script
        # Fault counters count down globally from the moment they are scripted.
        self.throttle_left = dict(script["throttle"])
        self.server_errors_left = dict(script["server_errors"])

    def database_user(self, req):
        """Who a statement runs as: DbUser (temporary credentials), else the user registered for
        its SecretArn (POST /_control/secret_users), else `awsuser`. Called with the lock held."""
        if req.get("DbUser"):
            return req["DbUser"]
        if req.get("SecretArn"):
            return self.secret_users.get(req["SecretArn"], "awsuser")
        return "awsuser"

    # ----- operations (called with the request dict) --------------------
    def find(self, request):
        sid = request.get("Id")
        if not isinstance(sid, str) or not sid:
            raise ApiError("ValidationException", "Id is a required parameter")
        st = self.statements.get(sid)
        if st is None:
            raise ApiError("ResourceNotFoundException", f"Statement {sid} not found")
        return st

    def execute_statement(self, req):
        sql = req.get("Sql")
        if not isinstance(sql, str) or not sql.strip():
            raise ApiError("ValidationException", "Sql is a required parameter")
        if not isinstance(req.get("Database"), str) or not req["Database"]:
            raise ApiError("ValidationException", "Database is a required parameter")
        has_cluster = bool(req.get("ClusterIdentifier"))
        has_workgroup = bool(req.get("WorkgroupName"))
        if has_cluster == has_workgroup:
            raise ApiError(
                "ValidationException",
                "Exactly one of ClusterIdentifier or WorkgroupName must be specified",
            )
        self.check_parameters(sql, req.get("Parameters"))

        token = req.get("ClientToken")
        with self.lock:
            # Idempotency: the SDK auto-fills ClientToken and reuses it on retry.
            st = self.statements.get(self.client_tokens.get(token)) if token else None
            if st is None:
                st = Statement(req, self.script)
            cluster = self.cluster
            user = self.database_user(req)
        if st.executes and st.execution is None:
            # Outside the state lock: other calls go on while the engine works.
            params = {p["name"]: p["value"] for p in req.get("Parameters") or []}
            st.execution = self.engine.execute(cluster, sql, params, user, req["Database"])
            st.pid = st.execution.pid
        with self.lock:
            if token and token in self.client_tokens:
                st = self.statements[self.client_tokens[token]]
            else:
                self.statements[st.id] = st
                if token:
                    self.client_tokens[token] = st.id
        out = {"Id": st.id, "CreatedAt": st.created_wall, "Database": st.request["Database"]}
        for key in ("ClusterIdentifier", "WorkgroupName", "DbUser", "SecretArn"):
            if st.request.get(key):
                out[key] = st.request[key]
        return out

    @staticmethod
    def check_parameters(sql, params):
        if params is None:
            params = []
        if not isinstance(params, list):
            raise ApiError("ValidationException", "Parameters must be a list")
        names = []
        for p in params:
            if not isinstance(p, dict) or not isinstance(p.get("name"), str) or not isinstance(p.get("value"), str):
                raise ApiError("ValidationException", "Each parameter needs a string name and a string value")
            if p["name"] in names:
                raise ApiError("ValidationException", f"Parameter {p['name']} is specified more than once")
            names.append(p["name"])
        placeholders = []
        for name in PLACEHOLDER.findall(sql):
            if name not in placeholders:
                placeholders.append(name)
        for name in placeholders:
            if name not in names:
                raise ApiError(
                    "ValidationException",
                    f"Parameter :{name} is used in the SQL statement but no value was provided for it",
                )
        for name in names:
            if name not in placeholders:
                raise ApiError(
                    "ValidationException",
                    f"Parameter {name} is not used in the SQL statement",
                )

    def describe_statement(self, req):
        with self.lock:
            st = self.find(req)
            status = st.status()
            updated = st.updated_at(status)
        script = st.script
        finished = status == "FINISHED"
        out = {
            "Id": st.id,
            "Status": status,
            "CreatedAt": st.created_wall,
            "UpdatedAt": updated,
            # Duration is known once the statement reached any final state.
            "Duration": int(round((updated - st.created_wall) * 1e9)) if status in FINAL else -1,
            "QueryString": st.request["Sql"],
            "HasResultSet": finished and st.has_result_set,
            "ResultRows": len(st.records()) if finished else -1,
            "ResultSize": len(json.dumps(st.records())) if finished else -1,
            "RedshiftPid": st.pid,
            "IsBatchStatement": False,
            "Database": st.request["Database"],
        }
        for key in ("DbUser", "ClusterIdentifier", "WorkgroupName", "SecretArn"):
            if st.request.get(key):
                out[key] = st.request[key]
        if st.request.get("Parameters"):
            out["QueryParameters"] = st.request["Parameters"]
        if status == "FAILED":
            out["Error"] = st.error
        return out

    def get_statement_result(self, req):
        with self.lock:
            st = self.find(req)
            status = st.status()
        # A statement without columns (DDL-like, CANCEL) has no result set, as in AWS.
        if status != "FINISHED" or not st.has_result_set:
            raise ApiError("ValidationException", NO_RESULT)
        records = st.records()
        total = len(records)
        page = st.script["page_size"]
        token = req.get("NextToken")
        if st.script["repeat_next_token"]:
            # A fault for the client's loop detection: the first page and the same token forever.
            return {
                "ColumnMetadata": st.columns(),
                "Records": records[:page],
                "TotalNumRows": total,
                "NextToken": token or base64.b64encode(f"{st.id}:again".encode()).decode(),
            }
        offset = 0 if token is None else self.decode_token(token, st.id, total)
        end = offset + page
        out = {"ColumnMetadata": st.columns(), "Records": records[offset:end], "TotalNumRows": total}
        if end < total:
            out["NextToken"] = base64.b64encode(f"{st.id}:{end}".encode()).decode()
        return out

    @staticmethod
    def decode_token(token, sid, total):
        try:
            owner, _, offset = base64.b64decode(token, validate=True).decode().rpartition(":")
            offset = int(offset)
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
            raise ApiError("ValidationException", "Invalid NextToken") from None
        if owner != sid or not 0 < offset < total:
            raise ApiError("ValidationException", "Invalid NextToken")
        return offset

    def cancel_statement(self, req):
        with self.lock:
            st = self.find(req)
            status = st.status()
            if status in FINAL:
                raise ApiError(
                    "ValidationException",
                    f"Could not cancel a query that is already in {status} state.",
                )
            st.cancelled_wall = time.time()
        return {"Status": True}

    HANDLERS = {
        "ExecuteStatement": execute_statement,
        "DescribeStatement": describe_statement,
        "GetStatementResult": get_statement_result,
        "CancelStatement": cancel_statement,
    }


class DataApiHandler(Handler):
    tag = "dataapi"

    def serve(self, state, path):
        if self.command != "POST":
            self.read_body()  # keep the connection in sync before answering
            return self.answer(404, {"__type": "UnknownOperationException", "message": "use POST /"})
        return self.protocol(state)

    def answer(self, status, obj, content_type=AMZ_JSON):
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        if "__type" in obj:
            headers["x-amzn-ErrorType"] = obj["__type"]
        self.send_json(status, obj, headers=headers, content_type=content_type)

    # ----- AWS JSON 1.1 -------------------------------------------------
    def protocol(self, state):
        raw = self.read_body()
        target = self.headers.get("X-Amz-Target", "")
        op = target.split(".", 1)[1] if target.startswith("RedshiftData.") else (target or None)
        try:
            request = json.loads(raw) if raw.strip() else {}
        except ValueError:
            request = raw.decode("utf-8", "replace")

        # Record at arrival so the list is in arrival order; status filled later.
        call = {"operation": op, "request": request, "at": time.time(), "status": None}
        if op == "ExecuteStatement" and isinstance(request, dict):
            # The identity asked for, and (once it ran against the model) the user it ran as.
            call.update(db_user=request.get("DbUser"), secret_arn=request.get("SecretArn"), ran_as=None)
        with state.lock:
            state.calls.append(call)
            stall_ms = state.script["stall_ms"].get(op, 0)

        try:
            if op not in OPERATIONS:
                raise ApiError("UnknownOperationException", f"Unknown operation {target!r}")
            if stall_ms:
                time.sleep(stall_ms / 1000.0)  # outside the lock: other calls proceed
            with state.lock:
                if state.throttle_left.get(op, 0) > 0:
                    state.throttle_left[op] -= 1
                    raise ApiError("ThrottlingException", "Rate exceeded")
                if state.server_errors_left.get(op, 0) > 0:
                    state.server_errors_left[op] -= 1
                    raise ApiError("InternalServerException", "Injected transient server error", 500)
            if not isinstance(request, dict):
                raise ApiError("SerializationException", "Request body is not a JSON object")
            status, body = 200, State.HANDLERS[op](state, request)
        except ApiError as err:
            status, body = err.status, {"__type": err.error_type, "message": err.message}
        with state.lock:
            if op == "ExecuteStatement" and status == 200:
                st = state.statements.get(body["Id"])
                call["statement_id"] = body["Id"]
                call["ran_as"] = st.execution.user if st is not None and st.execution is not None else None
            call["status"] = status
        self.answer(status, body)

    # ----- control API --------------------------------------------------
    def control(self, state, path):
        if self.command == "POST" and path == "/_control/script":
            try:
                script = parse_script(self.read_json())
            except ValueError as err:
                return self.send_json(400, {"error": str(err)})
            with state.lock:
                state.set_script_locked(script)
            return self.send_json(200, {"ok": True, "script": script})
        if self.command == "GET" and path == "/_control/script":
            with state.lock:
                return self.send_json(200, state.script)
        if self.command == "GET" and path == "/_control/calls":
            with state.lock:
                calls = [dict(c) for c in state.calls]
            return self.send_json(200, calls)
        if path == "/_control/secret_users":
            return self.secret_users(state)
        if self.command == "GET" and path == "/_control/statements":
            # Debug aid: what the server thinks of each statement right now.
            with state.lock:
                ids = list(state.statements)
            return self.send_json(200, [state.describe_statement({"Id": i}) for i in ids])
        if path.startswith(("/_control/cluster", "/_control/clock", "/_control/queries", "/_control/sessions")):
            return self.cluster_control(state, path)
        return self.common_control(state, path)

    def secret_users(self, state):
        """POST: {"<secret arn>": "<database user>", ...} replaces the map; GET returns it."""
        if self.command == "GET":
            self.read_body()
            with state.lock:
                return self.send_json(200, dict(state.secret_users))
        if self.command != "POST":
            self.read_body()
            return self.send_json(405, {"error": "use GET or POST"})
        try:
            body = self.read_json()
        except ValueError:
            return self.send_json(400, {"error": "the body is not JSON"})
        if not isinstance(body, dict) or not all(
            isinstance(k, str) and k and isinstance(v, str) and v.strip() for k, v in body.items()
        ):
            return self.send_json(400, {"error": 'secret_users must be {"<secret arn>": "<database user>"}'})
        with state.lock:
            state.secret_users = dict(body)
        return self.send_json(200, {"ok": True, "secret_users": len(body)})

    def cluster_control(self, state, path):
        """The cluster model: load a scenario, read it, move its clock, add and end queries and
        idle sessions."""
        route = (self.command, path)
        try:
            if self.command == "POST":
                body = self.read_json()
            else:
                self.read_body()  # keep the connection in sync
                body = {}
            if route == ("GET", "/_control/cluster"):
                with state.cluster.lock:
                    return self.send_json(200, state.cluster.to_json())
            if route == ("POST", "/_control/cluster"):
                cluster = redshift_model.Cluster.from_scenario(body)
                with state.lock:
                    state.cluster = cluster
                return self.send_json(200, cluster.to_json())
            cluster = state.cluster
            with cluster.lock:
                if route == ("POST", "/_control/clock"):
                    cluster.move_clock(body)
                    now = redshift_model.iso(cluster.now())
                    return self.send_json(200, {"now": now, "frozen": cluster.frozen})
                if route == ("POST", "/_control/queries"):
                    return self.send_json(200, cluster.add_query(body).to_json(cluster))
                if route == ("POST", "/_control/queries/end"):
                    return self.send_json(200, cluster.end_from(body).to_json(cluster))
                if route == ("POST", "/_control/sessions"):
                    return self.send_json(200, cluster.add_session(body).to_json(cluster))
                if route == ("POST", "/_control/sessions/end"):
                    return self.send_json(200, cluster.end_session_from(body).to_json(cluster))
        except (ValueError, redshift_model.ScenarioError) as err:
            return self.send_json(400, {"error": str(err)})
        return self.send_json(404, {"error": f"no control endpoint {self.command} {path}"})


if __name__ == "__main__":
    serve(DataApiHandler, __doc__.splitlines()[0], make_state=lambda args: State())
