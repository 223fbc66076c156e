"""Self-test for the devstack servers (unittest; the stack's packages from .venv).

The module starts one stack (stack.py, the launcher everything uses) and every test class talks
to its service there with urllib / http.client, after resetting it. The launcher itself and a
server started alone (``dataapi.py --port 0``) are tested at the end.

Run: python3 -m unittest devstack/selftest.py -v
"""

import base64
import http.client
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import stack  # noqa: E402

STACK = None


def setUpModule():
    global STACK
    STACK = stack.start()


def tearDownModule():
    assert STACK.stop() == 0, "the stack did not exit cleanly on stdin EOF"


def request(port, method, path, body=None, headers=None, raw=None, timeout=10):
    """Return (status, headers, body bytes); HTTP errors are returned, not raised."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


class ServerCase(unittest.TestCase):
    service = None

    @classmethod
    def setUpClass(cls):
        cls.port = STACK.ports[cls.service]

    def setUp(self):
        status, _, _ = request(self.port, "POST", "/_control/reset", {})
        self.assertEqual(status, 200)

    def control(self, method, path, body=None):
        status, _, data = request(self.port, method, path, body)
        self.assertEqual(status, 200, data)
        return json.loads(data)


# --------------------------------------------------------------------------
class DataApiTest(ServerCase):
    service = "dataapi"
    CLUSTER = {"ClusterIdentifier": "c1", "Database": "dev", "DbUser": "alerter"}
    COLUMNS = [{"name": "pid", "type": "int4"}, {"name": "query", "type": "varchar"}]

    def api(self, op, body):
        status, headers, data = request(
            self.port,
            "POST",
            "/",
            body,
            headers={"X-Amz-Target": f"RedshiftData.{op}", "Content-Type": "application/x-amz-json-1.1"},
        )
        self.assertEqual(headers["Content-Type"], "application/x-amz-json-1.1")
        self.assertTrue(headers["x-amzn-RequestId"])
        return status, json.loads(data)

    def execute(self, sql="select 1", **extra):
        status, out = self.api("ExecuteStatement", {"Sql": sql, **self.CLUSTER, **extra})
        self.assertEqual(status, 200, out)
        return out["Id"]

    def describe(self, sid):
        status, out = self.api("DescribeStatement", {"Id": sid})
        self.assertEqual(status, 200, out)
        return out

    def test_status_walk_with_delay(self):
        self.control("POST", "/_control/script", {"delay_ms": 1500, "columns": self.COLUMNS, "rows": [[1, "q"]]})
        sid = self.execute()
        seen = []
        deadline = time.time() + 5
        while time.time() < deadline:
            out = self.describe(sid)
            if not seen or seen[-1] != out["Status"]:
                seen.append(out["Status"])
            if out["Status"] == "FINISHED":
                break
            self.assertEqual(out["Duration"], -1)
            self.assertEqual(out["ResultRows"], -1)
            time.sleep(0.025)
        self.assertEqual(seen, ["SUBMITTED", "PICKED", "STARTED", "FINISHED"])
        self.assertEqual(out["Duration"], 1_500_000_000)
        self.assertEqual(out["ResultRows"], 1)
        self.assertTrue(out["HasResultSet"])
        self.assertEqual(out["QueryString"], "select 1")
        self.assertNotIn("Error", out)

    def test_failed_statement_has_error(self):
        self.control("POST", "/_control/script", {"outcome": "failed", "error": "ERROR: boom"})
        sid = self.execute()
        out = self.describe(sid)
        self.assertEqual((out["Status"], out["Error"]), ("FAILED", "ERROR: boom"))
        status, err = self.api("GetStatementResult", {"Id": sid})
        self.assertEqual((status, err["__type"]), (400, "ValidationException"))
        self.assertIn("Query does not have result", err["message"])

    def test_pagination(self):
        rows = [[i, f"q{i}"] for i in range(5)]
        self.control("POST", "/_control/script", {"columns": self.COLUMNS, "rows": rows, "page_size": 2})
        sid = self.execute()
        pages, token = [], None
        while True:
            body = {"Id": sid, **({"NextToken": token} if token else {})}
            status, out = self.api("GetStatementResult", body)
            self.assertEqual(status, 200, out)
            self.assertEqual(out["TotalNumRows"], 5)
            self.assertEqual([c["name"] for c in out["ColumnMetadata"]], ["pid", "query"])
            pages.append(out["Records"])
            token = out.get("NextToken")
            if not token:
                break
        self.assertEqual([len(p) for p in pages], [2, 2, 1])
        self.assertEqual([r[0]["longValue"] for p in pages for r in p], [0, 1, 2, 3, 4])
        for bad in ("garbage!!", base64.b64encode(b"other:2").decode()):
            status, err = self.api("GetStatementResult", {"Id": sid, "NextToken": bad})
            self.assertEqual((status, err["__type"]), (400, "ValidationException"))

    def test_parameter_validation(self):
        sql = "select :a, x::int from t where y > :b"
        ok = [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]
        status, err = self.api("ExecuteStatement", {"Sql": sql, **self.CLUSTER, "Parameters": ok[:1]})
        self.assertEqual((status, err["__type"]), (400, "ValidationException"))
        self.assertIn(":b", err["message"])
        extra = ok + [{"name": "c", "value": "3"}]
        status, err = self.api("ExecuteStatement", {"Sql": sql, **self.CLUSTER, "Parameters": extra})
        self.assertEqual(status, 400)
        self.assertIn("c", err["message"])
        self.execute(sql, Parameters=ok)
        # Exactly one of ClusterIdentifier / WorkgroupName.
        for target in ({}, {"ClusterIdentifier": "c", "WorkgroupName": "w"}):
            status, err = self.api("ExecuteStatement", {"Sql": "select 1", "Database": "dev", **target})
            self.assertEqual((status, err["__type"]), (400, "ValidationException"))
        status, out = self.api("ExecuteStatement", {"Sql": "select 1", "Database": "dev", "WorkgroupName": "w"})
        self.assertEqual((status, out["WorkgroupName"]), (200, "w"))

    def test_throttle_and_server_error_counters(self):
        self.control(
            "POST",
            "/_control/script",
            {"throttle": {"ExecuteStatement": 2}, "server_errors": {"DescribeStatement": 1}},
        )
        for _ in range(2):
            status, err = self.api("ExecuteStatement", {"Sql": "select 1", **self.CLUSTER})
            self.assertEqual((status, err["__type"], err["message"]), (400, "ThrottlingException", "Rate exceeded"))
        sid = self.execute()
        status, err = self.api("DescribeStatement", {"Id": sid})
        self.assertEqual((status, err["__type"]), (500, "InternalServerException"))
        self.describe(sid)
        calls = self.control("GET", "/_control/calls")
        self.assertEqual([c["status"] for c in calls], [400, 400, 200, 500, 200])
        self.assertEqual(calls[0]["operation"], "ExecuteStatement")
        self.assertEqual(calls[0]["request"]["Sql"], "select 1")

    def test_cancel_hanging_statement(self):
        self.control("POST", "/_control/script", {"outcome": "hang"})
        sid = self.execute()
        time.sleep(0.05)
        self.assertEqual(self.describe(sid)["Status"], "STARTED")
        status, out = self.api("CancelStatement", {"Id": sid})
        self.assertEqual((status, out), (200, {"Status": True}))
        self.assertEqual(self.describe(sid)["Status"], "ABORTED")
        status, err = self.api("CancelStatement", {"Id": sid})
        self.assertEqual((status, err["message"]), (400, "Could not cancel a query that is already in ABORTED state."))
        self.control("POST", "/_control/script", {})
        done = self.execute()
        status, err = self.api("CancelStatement", {"Id": done})
        self.assertIn("already in FINISHED state", err["message"])

    def test_cell_type_inference(self):
        cols = [{"name": n, "type": "varchar"} for n in "abcdef"]
        self.control("POST", "/_control/script", {"columns": cols, "rows": [[True, 1, 1.5, "x", None, 0]]})
        sid = self.execute()
        status, out = self.api("GetStatementResult", {"Id": sid})
        self.assertEqual(
            out["Records"],
            [[{"booleanValue": True}, {"longValue": 1}, {"doubleValue": 1.5},
              {"stringValue": "x"}, {"isNull": True}, {"longValue": 0}]],
        )
        self.assertNotIn("NextToken", out)

    def test_unknown_operation_and_statement(self):
        status, err = self.api("ListDatabases", {})
        self.assertEqual((status, err["__type"]), (400, "UnknownOperationException"))
        status, err = self.api("DescribeStatement", {"Id": "nope"})
        self.assertEqual((status, err["__type"], err["message"]), (400, "ResourceNotFoundException", "Statement nope not found"))

    def test_client_token_is_idempotent(self):
        a = self.execute(ClientToken="tok-1")
        self.assertEqual(self.execute(ClientToken="tok-1"), a)
        self.assertNotEqual(self.execute(ClientToken="tok-2"), a)

    def test_stall_and_bad_script(self):
        self.control("POST", "/_control/script", {"stall_ms": {"DescribeStatement": 300}})
        sid = self.execute()
        start = time.monotonic()
        self.describe(sid)
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        status, _, _ = request(self.port, "POST", "/_control/script", {"outcome": "exploded"})
        self.assertEqual(status, 400)

    def test_keep_alive(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        headers = {"X-Amz-Target": "RedshiftData.DescribeStatement", "Content-Type": "application/x-amz-json-1.1"}
        for _ in range(3):  # three requests, one TCP connection
            conn.request("POST", "/", body=json.dumps({"Id": "x"}), headers=headers)
            resp = conn.getresponse()
            self.assertEqual(resp.status, 400)
            self.assertFalse(resp.will_close)
            resp.read()
        conn.close()


    # ----- statements executed against the cluster model ----------------
    SCENARIO = {
        "now": "2026-11-28T09:45:30.250Z",
        "frozen": True,
        "monitor_pid": 777,
        "users": [{"name": "alice", "id": 101}],
        "queries": [
            {"pid": 4242, "query_id": 9001, "user": "alice", "started_seconds_ago": 2850.25, "text": "select 1"},
            {"pid": 4243, "user": None, "started_seconds_ago": 2000.5, "text": "x" * 250, "slices": 2},
            {"pid": 4244, "user": "bob", "started_seconds_ago": 60, "text": "select 2"},
            {"pid": 777, "user": "monitor", "started_seconds_ago": 9000, "text": "select 3"},
        ],
    }
    SQL = (
        "SELECT u.usename AS user_name, q.pid, MIN(q.starttime) AS start_time, "
        "DATEDIFF(second, MIN(q.starttime), GETDATE()) / 60 AS elapsed_minutes, "
        "LISTAGG(RTRIM(q.text)) WITHIN GROUP (ORDER BY q.sequence) AS query_text "
        "FROM (SELECT DISTINCT userid, pid, starttime, sequence, text FROM svv_query_inflight "
        "      WHERE pid <> pg_backend_pid()) q "
        "LEFT JOIN pg_user u ON u.usesysid = q.userid "
        "GROUP BY 1, 2 HAVING DATEDIFF(second, MIN(q.starttime), GETDATE()) / 60 >= CAST(:min_minutes AS INTEGER) "
        "ORDER BY start_time"
    )

    def finished(self, sid):
        deadline = time.time() + 5
        while time.time() < deadline:
            out = self.describe(sid)
            if out["Status"] not in ("SUBMITTED", "PICKED", "STARTED"):
                return out
            time.sleep(0.02)
        self.fail(f"statement {sid} never finished")

    def test_statement_runs_against_the_loaded_cluster(self):
        loaded = self.control("POST", "/_control/cluster", self.SCENARIO)
        self.assertEqual(len(loaded["queries"]), 4)
        self.control("POST", "/_control/script", {"delay_ms": 200, "page_size": 1})
        sid = self.execute(self.SQL, Parameters=[{"name": "min_minutes", "value": "30"}])
        self.assertIn(self.describe(sid)["Status"], ("SUBMITTED", "PICKED", "STARTED"))
        out = self.finished(sid)
        self.assertEqual((out["Status"], out["HasResultSet"], out["ResultRows"], out["RedshiftPid"]), ("FINISHED", True, 2, 777))
        rows, token = [], None
        while True:
            status, page = self.api("GetStatementResult", {"Id": sid, **({"NextToken": token} if token else {})})
            self.assertEqual(status, 200, page)
            self.assertEqual([c["typeName"] for c in page["ColumnMetadata"]], ["name", "int4", "timestamp", "int8", "varchar"])
            self.assertEqual(page["TotalNumRows"], 2)
            rows += page["Records"]
            token = page.get("NextToken")
            if not token:
                break
        self.assertEqual(rows, [
            [{"stringValue": "alice"}, {"longValue": 4242}, {"stringValue": "2026-11-28 08:58:00"}, {"longValue": 47}, {"stringValue": "select 1"}],
            [{"isNull": True}, {"longValue": 4243}, {"stringValue": "2026-11-28 09:12:09.75"}, {"longValue": 33}, {"stringValue": "x" * 250}],
        ])
        # The statement ran as a query of its own, now in the history.
        history = self.control("GET", "/_control/cluster")["history"]
        self.assertEqual([(q["pid"], q["outcome"], q["user"]) for q in history], [(777, "success", "alerter")])

    def test_a_statement_the_engine_refuses_fails_with_its_message(self):
        self.control("POST", "/_control/cluster", {"kind": "serverless"})
        sid = self.execute("select * from svv_query_inflight")
        out = self.finished(sid)
        self.assertEqual((out["Status"], out["Error"]), ("FAILED", 'ERROR: relation "svv_query_inflight" does not exist'))
        self.assertEqual(out["ResultRows"], -1)

    def test_cancel_through_the_data_api(self):
        self.control("POST", "/_control/cluster", self.SCENARIO)
        sid = self.execute("CANCEL 4242")
        out = self.finished(sid)
        self.assertEqual((out["Status"], out["HasResultSet"]), ("FINISHED", False))
        status, err = self.api("GetStatementResult", {"Id": sid})
        self.assertEqual((status, err["__type"]), (400, "ValidationException"))
        ended = [q for q in self.control("GET", "/_control/cluster")["history"] if q["pid"] == 4242]
        self.assertEqual(ended[0]["outcome"], "cancelled")

    CANCEL_SQL = ("SELECT pg_cancel_backend(session_id) AS cancelled FROM sys_query_history "
                  "WHERE session_id = CAST(:pid AS INTEGER) AND query_id = CAST(:query_id AS BIGINT) "
                  "AND status IN ('running', 'queued', 'returning')")

    def cancel_params(self, pid=4242, query_id=9001):
        return [{"name": "pid", "value": str(pid)}, {"name": "query_id", "value": str(query_id)}]

    def test_pg_cancel_backend_runs_as_the_cancel_identity_and_is_recorded(self):
        self.control("POST", "/_control/cluster", {
            "now": "2026-11-28T09:45:30Z", "frozen": True, "monitor_pid": 777,
            "queries": [{"pid": 4242, "query_id": 9001, "user": "alice", "started_seconds_ago": 3000,
                         "locks": [{"table": "sales.orders", "mode": "AccessExclusiveLock"}]},
                        {"pid": 4243, "query_id": 9002, "user": "bob",
                         "locks": [{"table": "sales.orders", "mode": "AccessShareLock", "granted": False}]}]})
        self.finished(self.execute("select 1"))  # the monitor (DbUser alerter)
        sid = self.execute(self.CANCEL_SQL, DbUser="canceller", Parameters=self.cancel_params())
        out = self.finished(sid)
        self.assertEqual((out["Status"], out["HasResultSet"], out["ResultRows"], out["DbUser"]), ("FINISHED", True, 1, "canceller"))
        status, page = self.api("GetStatementResult", {"Id": sid})
        self.assertEqual(status, 200, page)
        self.assertEqual(page["Records"], [[{"longValue": 1}]])
        self.assertEqual([(c["name"], c["typeName"]) for c in page["ColumnMetadata"]], [("cancelled", "int4")])
        cluster = self.control("GET", "/_control/cluster")
        ended = next(q for q in cluster["history"] if q["pid"] == 4242)
        statement = cluster["history"][-1]
        self.assertEqual((statement["user"], statement["outcome"], statement["cancelled_by"]), ("canceller", "success", None))
        self.assertEqual((ended["outcome"], ended["cancelled_by"], ended["cancelled_by_query_id"]),
                         ("cancelled", "canceller", statement["query_id"]))
        self.assertEqual([(q["pid"], [lk["granted"] for lk in q["locks"]]) for q in cluster["queries"]], [(4243, [True])])
        self.assertEqual(self.rows("SELECT RTRIM(status) FROM sys_query_history WHERE query_id = 9001"), [["canceled"]])
        calls = [c for c in self.control("GET", "/_control/calls") if c["operation"] == "ExecuteStatement"]
        self.assertEqual([(c["db_user"], c["secret_arn"], c["ran_as"]) for c in calls],
                         [("alerter", None, "alerter"), ("canceller", None, "canceller"), ("alerter", None, "alerter")])
        self.assertEqual(calls[1]["statement_id"], sid)
        # The query ended: a second click cancels nothing.
        again = self.execute(self.CANCEL_SQL, DbUser="canceller", Parameters=self.cancel_params())
        self.assertEqual(self.finished(again)["ResultRows"], 0)

    def test_a_secret_arn_runs_as_the_user_registered_for_it(self):
        arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:redshift-cancel-AbCdEf"
        self.assertEqual(self.control("POST", "/_control/secret_users", {arn: "canceller"}), {"ok": True, "secret_users": 1})
        self.assertEqual(self.control("GET", "/_control/secret_users"), {arn: "canceller"})
        self.control("POST", "/_control/cluster", {"kind": "serverless", "queries": [{"pid": 4242, "query_id": 9001}]})
        serverless = {"WorkgroupName": "wg", "Database": "dev"}
        status, out = self.api("ExecuteStatement", {"Sql": self.CANCEL_SQL, "SecretArn": arn, **serverless,
                                                    "Parameters": self.cancel_params()})
        self.assertEqual(status, 200, out)
        self.assertEqual(self.finished(out["Id"])["ResultRows"], 1)
        status, out = self.api("ExecuteStatement", {"Sql": "select 1", **serverless})  # neither: awsuser
        self.assertEqual(status, 200, out)
        calls = [c for c in self.control("GET", "/_control/calls") if c["operation"] == "ExecuteStatement"]
        self.assertEqual([(c["db_user"], c["secret_arn"], c["ran_as"]) for c in calls], [(None, arn, "canceller"), (None, None, "awsuser")])
        ended = next(q for q in self.control("GET", "/_control/cluster")["history"] if q["pid"] == 4242)
        self.assertEqual((ended["outcome"], ended["cancelled_by"]), ("cancelled", "canceller"))
        # A scripted outcome does not run: ran_as stays null. A bad map is refused; reset clears it.
        self.control("POST", "/_control/script", {"outcome": "failed"})
        self.execute("select 1")
        self.assertIsNone(self.control("GET", "/_control/calls")[-1]["ran_as"])
        for bad in ({arn: ""}, {arn: 5}, ["x"]):
            self.assertEqual(request(self.port, "POST", "/_control/secret_users", bad)[0], 400, bad)
        self.control("POST", "/_control/reset", {})
        self.assertEqual(self.control("GET", "/_control/secret_users"), {})

    def test_repeat_next_token(self):
        self.control("POST", "/_control/cluster", self.SCENARIO)
        self.control("POST", "/_control/script", {"repeat_next_token": True, "page_size": 1})
        sid = self.execute("select usename from pg_user order by usesysid")
        self.finished(sid)
        status, first = self.api("GetStatementResult", {"Id": sid})
        self.assertEqual(status, 200, first)
        for _ in range(3):
            status, again = self.api("GetStatementResult", {"Id": sid, "NextToken": first["NextToken"]})
            self.assertEqual((again["NextToken"], again["Records"]), (first["NextToken"], first["Records"]))

    def test_cluster_control_api(self):
        status, _, body = request(self.port, "POST", "/_control/cluster", {"queries": [{"pid": 1, "txt": "typo"}]})
        self.assertEqual(status, 400)
        self.assertIn("txt", json.loads(body)["error"])
        self.control("POST", "/_control/cluster", {"now": "2026-11-28T09:00:00Z", "frozen": True})
        self.assertEqual(self.control("POST", "/_control/clock", {"advance_seconds": 600})["now"], "2026-11-28T09:10:00.000000Z")
        self.control("POST", "/_control/clock", {"now": "2026-11-28T10:00:00.5Z"})
        added = self.control("POST", "/_control/queries", {"pid": 5, "started_seconds_ago": 30, "text": "select 5"})
        self.assertEqual(added["start_time"], "2026-11-28T09:59:30.500000Z")
        ended = self.control("POST", "/_control/queries/end", {"pid": 5, "outcome": "failed"})
        self.assertEqual((ended["outcome"], ended["end_time"]), ("failed", "2026-11-28T10:00:00.500000Z"))
        status, _, _ = request(self.port, "POST", "/_control/queries/end", {"pid": 5})
        self.assertEqual(status, 400)
        self.control("POST", "/_control/reset", {})
        cluster = self.control("GET", "/_control/cluster")
        self.assertEqual((cluster["kind"], cluster["frozen"], cluster["queries"]), ("provisioned", False, []))

    def rows(self, sql):
        """Runs `sql` through the Data API against the loaded cluster; the cells as plain values."""
        sid = self.execute(sql)
        out = self.finished(sid)
        self.assertEqual(out["Status"], "FINISHED", out)
        status, page = self.api("GetStatementResult", {"Id": sid})
        self.assertEqual(status, 200, page)
        return [[None if "isNull" in c else next(iter(c.values())) for c in r] for r in page["Records"]]

    LOCKS_SQL = ("SELECT t.pid, TRIM(n.nspname) || '.' || TRIM(c.relname), t.lock_mode, t.granted FROM svv_transactions t "
                 "JOIN pg_class c ON c.oid = t.relation JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY 1")

    def test_bad_locks_tables_and_sessions_are_refused(self):
        for scenario, word in (
            ({"sessions": [{"pid": 1, "idle": 5}]}, "idle"),
            ({"tables": [{"nme": "t"}]}, "nme"),
            ({"queries": [{"pid": 1, "locks": [{"table": "t", "mode": "ShareLock"}]}]}, "mode"),
            ({"queries": [{"pid": 1, "state": "queued", "queued_seconds": 1}]}, "queued_seconds"),
            ({"sessions": [{"pid": 1, "locks": [{"table": "t", "mode": "AccessShareLock", "granted": False}]}]}, "waits"),
            ({"kind": "serverless", "queries": [{"pid": 1, "queue": "etl"}]}, "queue"),
        ):
            status, _, body = request(self.port, "POST", "/_control/cluster", scenario)
            self.assertEqual(status, 400, scenario)
            self.assertIn(word, json.loads(body)["error"])
        status, _, body = request(self.port, "POST", "/_control/sessions", {"pid": 2, "idle_secs": 1})
        self.assertEqual(status, 400)
        self.assertIn("idle_secs", json.loads(body)["error"])

    def test_ending_a_query_or_a_sessions_transaction_releases_its_locks(self):
        loaded = self.control("POST", "/_control/cluster", {
            "now": "2026-11-28T09:45:30.250Z", "frozen": True,
            "tables": [{"name": "sales.orders", "oid": 200100}],
            "queries": [
                {"pid": 50, "user": "alice", "started_seconds_ago": 600, "text": "ALTER TABLE sales.orders ADD COLUMN x int",
                 "locks": [{"table": "sales.orders", "mode": "AccessExclusiveLock"}]},
                {"pid": 51, "user": "bob", "started_seconds_ago": 60, "text": "select * from sales.orders",
                 "locks": [{"table": "sales.orders", "mode": "AccessShareLock", "granted": False}]},
            ],
            "sessions": [{"pid": 60, "user": "etl", "idle_seconds": 900, "transaction_started_seconds_ago": 1200,
                          "locks": [{"table": "mart.daily", "mode": "ShareRowExclusiveLock"}]}],
        })
        self.assertEqual([(s["pid"], s["user"]) for s in loaded["sessions"]], [(60, "etl")])
        self.assertEqual(loaded["tables"][0], {"name": "sales.orders", "oid": 200100})
        self.assertEqual(self.rows(self.LOCKS_SQL), [
            [50, "sales.orders", "AccessExclusiveLock", True],
            [51, "sales.orders", "AccessShareLock", False],
            [60, "mart.daily", "ShareRowExclusiveLock", True],
        ])
        ended = self.control("POST", "/_control/queries/end", {"pid": 50})
        self.assertEqual(ended["outcome"], "success")
        self.assertEqual(self.rows(self.LOCKS_SQL), [
            [51, "sales.orders", "AccessShareLock", True],
            [60, "mart.daily", "ShareRowExclusiveLock", True],
        ])
        session = self.control("POST", "/_control/sessions/end", {"pid": 60})
        self.assertEqual((session["pid"], session["xid"], session["locks"]), (60, None, []))
        self.assertEqual(self.rows(self.LOCKS_SQL), [[51, "sales.orders", "AccessShareLock", True]])
        self.assertEqual(self.rows("SELECT COUNT(*) FROM svv_transactions WHERE pid = 60"), [[0]])
        self.assertEqual(self.rows("SELECT process FROM stv_sessions WHERE process = 60"), [[60]])
        for body in ({"pid": 60}, {"pid": 99}, {"pid": 51}, {}, {"pid": 60, "outcome": "success"}):
            status, _, _ = request(self.port, "POST", "/_control/sessions/end", body)
            self.assertEqual(status, 400, body)
        added = self.control("POST", "/_control/sessions", {
            "pid": 61, "user": "etl", "idle_seconds": 30, "locks": [{"table": "mart.daily", "mode": "AccessExclusiveLock"}]})
        tables = {t["name"]: t["oid"] for t in self.control("GET", "/_control/cluster")["tables"]}
        self.assertEqual(tables, {"sales.orders": 200100, "mart.daily": 200103})  # 200101, 200102: the schemas
        self.assertEqual(added["locks"], [{"table": "mart.daily", "oid": 200103, "mode": "AccessExclusiveLock", "granted": True}])
        self.assertEqual(self.rows("SELECT RTRIM(query_text), status FROM sys_query_history WHERE session_id = 61"),
                         [["LOCK mart.daily", "success   "]])


# --------------------------------------------------------------------------
class SlackTest(ServerCase):
    service = "slack"
    HOOK = "/services/T000/B000/XXXX"

    def post(self, payload=None, raw=None):
        status, headers, body = request(
            self.port, "POST", self.HOOK, payload, raw=raw, headers={"Content-Type": "application/json"}
        )
        return status, headers, body.decode()

    def test_validation(self):
        section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
        self.assertEqual(self.post({"text": "t", "blocks": [section] * 51})[::2], (400, "invalid_blocks"))
        long_section = {"type": "section", "text": {"type": "mrkdwn", "text": "é" * 3001}}
        self.assertEqual(self.post({"text": "t", "blocks": [long_section]})[::2], (400, "invalid_blocks"))
        header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
        self.assertEqual(self.post({"blocks": [header]})[::2], (400, "invalid_blocks"))
        context = {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}
        self.assertEqual(self.post({"blocks": [context]})[::2], (400, "invalid_blocks"))
        self.assertEqual(self.post({"blocks": "nope"})[::2], (400, "invalid_blocks"))
        self.assertEqual(self.post({"username": "x"})[::2], (400, "invalid_payload"))
        self.assertEqual(self.post(raw=b"not json")[::2], (400, "invalid_payload"))
        self.assertEqual(self.control("GET", "/_control/received"), [])
        self.assertEqual(len(self.control("GET", "/_control/attempts")), 7)

    def test_ok_delivery_is_recorded(self):
        ok_section = {"type": "section", "text": {"type": "mrkdwn", "text": "é" * 3000}}
        payload = {"text": "hello", "blocks": [ok_section] * 50}
        status, headers, body = self.post(payload)
        self.assertEqual((status, body), (200, "ok"))
        self.assertTrue(headers["Content-Type"].startswith("text/plain"))
        self.assertEqual(self.control("GET", "/_control/received"), [{"path": self.HOOK, "payload": payload}])

    def test_scripted_429_then_ok(self):
        self.control(
            "POST",
            "/_control/script",
            {"responses": [{"status": 429, "headers": {"Retry-After": "1"}, "body": "rate_limited"}]},
        )
        status, headers, body = self.post({"text": "one"})
        self.assertEqual((status, headers["Retry-After"], body), (429, "1", "rate_limited"))
        self.assertEqual(self.post({"text": "one"})[::2], (200, "ok"))
        self.assertEqual([a["status"] for a in self.control("GET", "/_control/attempts")], [429, 200])
        self.assertEqual(len(self.control("GET", "/_control/received")), 1)

    def test_scripted_close_and_delay(self):
        self.control("POST", "/_control/script", {"responses": [{"close": True}, {"delay_ms": 200, "status": 200}]})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        conn.request("POST", self.HOOK, body=b'{"text":"x"}', headers={"Content-Type": "application/json"})
        with self.assertRaises(http.client.RemoteDisconnected):
            conn.getresponse()
        conn.close()
        start = time.monotonic()
        self.assertEqual(self.post({"text": "y"})[::2], (200, "ok"))
        self.assertGreaterEqual(time.monotonic() - start, 0.2)
        attempts = self.control("GET", "/_control/attempts")
        self.assertEqual([a["status"] for a in attempts], [None, 200])
        self.assertEqual([r["payload"]["text"] for r in self.control("GET", "/_control/received")], ["y"])


class SlackWebApiTest(ServerCase):
    """slack.py's Web API half (slack_web.py): chat.postMessage / chat.update against a workspace."""

    service = "slack"
    TOKEN = "xoxb-local-test-token"
    CHANNEL = "C0ALERTS01"
    SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "query 4242 running 47 min"}}
    HEADER = {"type": "header", "text": {"type": "plain_text", "text": "Long query"}}

    def api(self, method, body=None, token=TOKEN, raw=None):
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        status, headers, data = request(self.port, "POST", f"/api/{method}", body, headers=headers, raw=raw)
        self.assertTrue(headers["Content-Type"].startswith("application/json"))
        return status, headers, json.loads(data)

    def error(self, method, body=None, **kw):
        """The error code of a call answered 200 ok:false."""
        status, _, out = self.api(method, body, **kw)
        self.assertEqual((status, out["ok"]), (200, False), out)
        return out["error"]

    def post(self, **body):
        status, _, out = self.api("chat.postMessage", {"channel": self.CHANNEL, **body})
        self.assertEqual((status, out["ok"]), (200, True), out)
        return out

    def channel(self, channel=CHANNEL):
        return self.control("GET", f"/_control/web/channel?id={channel}")["messages"]

    def test_parent_replies_and_edits_make_the_channel(self):
        parent = self.post(text="Long query", blocks=[self.HEADER, self.SECTION])
        ts = parent["ts"]
        self.assertRegex(ts, r"^\d{10}\.\d{6}$")
        self.assertEqual(parent["channel"], self.CHANNEL)
        self.assertEqual(parent["message"]["ts"], ts)
        self.assertEqual(parent["message"]["blocks"], [self.HEADER, self.SECTION])
        self.assertNotIn("thread_ts", parent["message"])
        reply = self.post(text="still running", thread_ts=ts)
        self.assertEqual(reply["message"]["thread_ts"], ts)
        loud = self.post(text="it ended", thread_ts=ts, reply_broadcast=True)
        other = self.post(text="second alert")
        self.assertLess(float(ts), float(reply["ts"]))
        self.assertEqual(sorted({ts, reply["ts"], loud["ts"], other["ts"]}), [ts, reply["ts"], loud["ts"], other["ts"]])
        done = {"type": "section", "text": {"type": "mrkdwn", "text": "query 4242 ended"}}
        status, _, out = self.api("chat.update", {"channel": self.CHANNEL, "ts": ts, "text": "ended", "blocks": [done]})
        self.assertEqual((status, out["ok"], out["channel"], out["ts"], out["text"]), (200, True, self.CHANNEL, ts, "ended"))
        status, _, out = self.api("chat.update", {"channel": self.CHANNEL, "ts": reply["ts"], "text": "edited reply"})
        self.assertEqual((status, out["ok"]), (200, True), out)

        messages = self.channel()
        self.assertEqual([m["ts"] for m in messages], [ts, other["ts"]])
        first = messages[0]
        self.assertEqual((first["text"], first["blocks"], first["edits"], first["deleted"]), ("ended", [done], 1, False))
        self.assertEqual(
            [(r["ts"], r["text"], r["edits"], r["reply_broadcast"]) for r in first["replies"]],
            [(reply["ts"], "edited reply", 1, False), (loud["ts"], "it ended", 0, True)],
        )
        self.assertEqual((messages[1]["text"], messages[1]["blocks"], messages[1]["replies"]), ("second alert", [], []))

        self.control("POST", "/_control/web/delete", {"channel": self.CHANNEL, "ts": other["ts"]})
        status, headers, text = request(self.port, "GET", f"/_control/web/render?channel={self.CHANNEL}")
        self.assertTrue(headers["Content-Type"].startswith("text/plain"))
        self.assertEqual(text.decode(), "query 4242 ended (edited)\n"
                                        "  ↳ edited reply (edited)\n"
                                        "  ↳ it ended (also sent to the channel)\n"
                                        "\n"
                                        "(deleted)\n")

        calls = self.control("GET", "/_control/web/calls")
        self.assertEqual([c["method"] for c in calls], ["chat.postMessage"] * 4 + ["chat.update"] * 2)
        self.assertEqual([c["status"] for c in calls], [200] * 6)
        self.assertEqual((calls[0]["ts"], calls[0]["channel"], calls[0]["error"], calls[0]["token_ok"]), (ts, self.CHANNEL, None, True))
        self.assertNotIn("thread_ts", calls[0])
        self.assertEqual((calls[2]["thread_ts"], calls[2]["reply_broadcast"]), (ts, True))
        self.assertEqual(calls[4]["ts"], ts)
        self.assertEqual([c["at"] for c in calls], sorted(c["at"] for c in calls))

    def test_token_checks_come_first(self):
        bad_body = {"channel": "nope"}
        self.assertEqual(self.error("chat.postMessage", bad_body, token=None), "not_authed")
        self.assertEqual(self.error("chat.postMessage", bad_body, token=" "), "not_authed")
        self.assertEqual(self.error("chat.update", bad_body, token="xoxb-someone-else"), "invalid_auth")
        self.control("POST", "/_control/web/revoke", {"token": self.TOKEN})
        self.assertEqual(self.error("chat.postMessage", {"channel": self.CHANNEL, "text": "x"}), "token_revoked")
        self.assertEqual([c["token_ok"] for c in self.control("GET", "/_control/web/calls")], [False] * 4)
        self.assertEqual(self.channel(), [])

    def test_each_argument_error(self):
        self.control("POST", "/_control/web/setup", {
            "tokens": ["xoxb-a", "xoxb-b"],
            "channels": {self.CHANNEL: {"member": True}, "C0NOTMEMBER": {"member": False}},
            "post_limit": None,
        })
        self.assertEqual(self.error("chat.postMessage", {"channel": self.CHANNEL, "text": "x"}), "invalid_auth")

        def post(token="xoxb-b", **body):
            return self.error("chat.postMessage", {"channel": self.CHANNEL, **body}, token=token)

        self.assertEqual(self.error("chat.postMessage", {"text": "x"}, token="xoxb-a"), "channel_not_found")
        self.assertEqual(post(channel="C0UNKNOWN", text="x"), "channel_not_found")
        self.assertEqual(post(channel="C0NOTMEMBER", text="x"), "not_in_channel")
        self.assertEqual(post(), "no_text")
        self.assertEqual(post(text="", blocks=[]), "no_text")
        self.assertEqual(post(text="é" * 40001), "msg_too_long")
        self.assertEqual(post(blocks=[self.SECTION] * 51), "invalid_blocks")
        self.assertEqual(post(blocks=[{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]), "invalid_blocks")
        self.assertEqual(post(blocks=[dict(self.SECTION, block_id="b1"), dict(self.HEADER, block_id="b1")]), "invalid_blocks")
        self.assertEqual(post(text="x", thread_ts="1764324000.000100"), "thread_not_found")
        status, _, out = self.api("chat.postMessage", raw=b"{not json", token="xoxb-a")
        self.assertEqual((status, out), (200, {"ok": False, "error": "invalid_json"}))
        status, _, out = self.api("chat.delete", {"channel": self.CHANNEL}, token="xoxb-a")
        self.assertEqual((status, out), (404, {"ok": False, "error": "unknown_method"}))

        parent = self.post_as("xoxb-a", text="é" * 40000, blocks=[dict(self.SECTION, block_id="b1")])
        reply = self.post_as("xoxb-a", text="r", thread_ts=parent["ts"])
        self.assertEqual(post(text="x", thread_ts=reply["ts"]), "thread_not_found")  # a reply is no thread

        def update(**body):
            return self.error("chat.update", {"channel": self.CHANNEL, **body}, token="xoxb-a")

        self.assertEqual(update(channel="C0UNKNOWN", ts=parent["ts"], text="x"), "channel_not_found")
        self.assertEqual(update(text="x"), "message_not_found")
        self.assertEqual(update(ts="1.000001", text="x"), "message_not_found")
        self.assertEqual(update(ts=parent["ts"]), "no_text")
        self.assertEqual(update(ts=parent["ts"], text="x" * 40001), "msg_too_long")
        self.assertEqual(update(ts=parent["ts"], blocks="nope"), "invalid_blocks")
        self.control("POST", "/_control/web/delete", {"channel": self.CHANNEL, "ts": parent["ts"]})
        self.assertEqual(update(ts=parent["ts"], text="x"), "message_not_found")
        self.assertEqual(post(text="x", thread_ts=parent["ts"]), "thread_not_found")
        [message] = self.channel()
        self.assertEqual((message["deleted"], message["edits"], len(message["replies"])), (True, 0, 1))
        errors = [c["error"] for c in self.control("GET", "/_control/web/calls")]
        self.assertEqual(errors[:3], ["invalid_auth", "channel_not_found", "channel_not_found"])
        self.assertEqual(errors.count(None), 2)

    def post_as(self, token, **body):
        status, _, out = self.api("chat.postMessage", {"channel": self.CHANNEL, **body}, token=token)
        self.assertEqual((status, out["ok"]), (200, True), out)
        return out

    def test_post_limit_is_a_token_bucket_per_channel(self):
        channels = {self.CHANNEL: {"member": True}, "C0OTHER": {"member": True}}
        self.control("POST", "/_control/web/setup", {"channels": channels, "post_limit": {"per_second": 5, "burst": 2}})
        self.post(text="1")
        self.post(text="2")
        status, headers, out = self.api("chat.postMessage", {"channel": self.CHANNEL, "text": "3"})
        self.assertEqual((status, headers["Retry-After"], out), (429, "1", {"ok": False, "error": "ratelimited"}))
        self.post_as(self.TOKEN, channel="C0OTHER", text="elsewhere")
        time.sleep(0.25)  # one token back at 5 per second
        self.post(text="3")
        self.assertEqual([m["text"] for m in self.channel()], ["1", "2", "3"])
        calls = self.control("GET", "/_control/web/calls")
        self.assertEqual([(c["status"], c["error"]) for c in calls], [(200, None), (200, None), (429, "ratelimited"), (200, None), (200, None)])
        self.assertGreaterEqual(calls[4]["at"] - calls[2]["at"], 0.25)
        # The default workspace has no limit.
        self.control("POST", "/_control/reset", {})
        for n in range(10):
            self.post(text=str(n))

    def test_scripted_answers(self):
        self.control("POST", "/_control/web/script", {"method": "*", "responses": [
            {"error": "ratelimited", "retry_after": 3}, {"error": "fatal_error"}]})
        self.control("POST", "/_control/web/script", {"method": "chat.postMessage", "responses": [
            {"status": 500, "body": "<html>oops</html>"}, {"delay_ms": 200}]})
        status, _, body = request(self.port, "POST", "/api/chat.postMessage", {"channel": self.CHANNEL, "text": "a"},
                                  headers={"Authorization": f"Bearer {self.TOKEN}"})
        self.assertEqual((status, body), (500, b"<html>oops</html>"))
        start = time.monotonic()
        self.post(text="slow")  # a delay alone: answered normally
        self.assertGreaterEqual(time.monotonic() - start, 0.2)
        status, headers, out = self.api("chat.postMessage", {"channel": self.CHANNEL, "text": "b"})  # "*" now
        self.assertEqual((status, headers["Retry-After"], out["error"]), (429, "3", "ratelimited"))
        self.assertEqual(self.error("chat.update", {"channel": self.CHANNEL}, token=None), "fatal_error")
        self.assertEqual(self.error("chat.update", {"channel": self.CHANNEL}, token=None), "not_authed")
        self.assertEqual([m["text"] for m in self.channel()], ["slow"])
        calls = self.control("GET", "/_control/web/calls")
        self.assertEqual([(c["status"], c["error"]) for c in calls],
                         [(500, None), (200, None), (429, "ratelimited"), (200, "fatal_error"), (200, "not_authed")])

    def raw_call(self, method, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        conn.request("POST", f"/api/{method}", body=json.dumps(body),
                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.TOKEN}"})
        try:
            with self.assertRaises(http.client.RemoteDisconnected):
                conn.getresponse()
        finally:
            conn.close()

    def test_dropped_connections_with_and_without_the_call_applied(self):
        self.control("POST", "/_control/web/script", {"method": "chat.postMessage", "responses": [
            {"close": True}, {"close": True, "apply": True}]})
        self.raw_call("chat.postMessage", {"channel": self.CHANNEL, "text": "lost"})
        self.raw_call("chat.postMessage", {"channel": self.CHANNEL, "text": "applied"})
        [message] = self.channel()
        self.assertEqual(message["text"], "applied")
        self.control("POST", "/_control/web/script", {"method": "chat.update", "responses": [{"close": True, "apply": True}]})
        self.raw_call("chat.update", {"channel": self.CHANNEL, "ts": message["ts"], "text": "updated"})
        self.assertEqual([(m["text"], m["edits"]) for m in self.channel()], [("updated", 1)])
        # A raw answer can follow an applied call too: posted, yet the client sees a 503.
        self.control("POST", "/_control/web/script", {"method": "*", "responses": [{"status": 503, "apply": True}]})
        status, _, body = request(self.port, "POST", "/api/chat.postMessage", {"channel": self.CHANNEL, "text": "again"},
                                  headers={"Authorization": f"Bearer {self.TOKEN}"})
        self.assertEqual((status, body), (503, b""))
        self.assertEqual([m["text"] for m in self.channel()], ["updated", "again"])
        calls = self.control("GET", "/_control/web/calls")
        self.assertEqual([(c["status"], c.get("closed"), c.get("ts")) for c in calls],
                         [(None, True, None), (None, True, message["ts"]), (None, True, message["ts"]),
                          (503, None, self.channel()[1]["ts"])])

    def test_control_requests_are_checked_and_reset_restores_the_default(self):
        for path, body in (
            ("/_control/web/setup", {"tokens": ["x"], "chanels": {}}),
            ("/_control/web/setup", {"channels": {"C1": {"member": "yes"}}}),
            ("/_control/web/setup", {"post_limit": {"per_second": 1}}),
            ("/_control/web/script", {"method": "chat.delete", "responses": []}),
            ("/_control/web/script", {"method": "*", "responses": [{"eror": "x"}]}),
            ("/_control/web/script", {"method": "*", "responses": [{"error": "x", "status": 500}]}),
            ("/_control/web/script", {"method": "*", "responses": [{"apply": True}]}),
            ("/_control/web/revoke", {"token": "xoxb-unknown"}),
        ):
            status, _, data = request(self.port, "POST", path, body)
            self.assertEqual(status, 400, (path, body))
            self.assertTrue(json.loads(data)["error"], data)
        status, _, _ = request(self.port, "POST", "/_control/web/delete", {"channel": self.CHANNEL, "ts": "1.000001"})
        self.assertEqual(status, 404)
        self.assertEqual(request(self.port, "GET", "/_control/web/channel?id=C0NOPE")[0], 404)
        self.assertEqual(request(self.port, "GET", "/_control/web/render?channel=C0NOPE")[0], 404)

        self.control("POST", "/_control/web/setup", {"tokens": ["xoxb-other"], "channels": {"C0OTHER": {"member": True}}})
        self.control("POST", "/_control/web/script", {"method": "*", "responses": [{"error": "fatal_error"}]})
        self.control("POST", "/_control/reset", {})
        self.assertEqual(self.control("GET", "/_control/web/calls"), [])
        self.post(text="back to the default workspace")
        self.assertEqual(len(self.channel()), 1)
        self.assertEqual(self.control("GET", "/_control/received"), [])  # the webhook saw nothing


class SlackResponseUrlTest(ServerCase):
    """slack.py's response URLs (/actions/<id>): recorded, scripted, applied to a registered message."""

    service = "slack"
    TOKEN = "xoxb-local-test-token"
    CHANNEL = "C0ALERTS01"
    RID = "T0001/1234567890/AbCdEfGh"
    SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "query 4242 running 47 min"}}
    CANCELLED = {"type": "section", "text": {"type": "mrkdwn", "text": "Cancelled by <@U1>"}}

    def respond(self, body, rid=RID, raw=None):
        status, headers, data = request(self.port, "POST", f"/actions/{rid}", body, raw=raw,
                                        headers={"Content-Type": "application/json"})
        return status, headers, data

    def parent(self):
        """A parent message posted through the Web API, registered as RID's message; its ts."""
        status, _, data = request(self.port, "POST", "/api/chat.postMessage",
                                  {"channel": self.CHANNEL, "text": "Long query", "blocks": [self.SECTION]},
                                  headers={"Authorization": f"Bearer {self.TOKEN}", "Content-Type": "application/json"})
        ts = json.loads(data)["ts"]
        self.assertEqual(self.control("POST", "/_control/responses/register",
                                      {"id": self.RID, "channel": self.CHANNEL, "ts": ts}), {"ok": True})
        return ts

    def message(self):
        return self.control("GET", f"/_control/web/channel?id={self.CHANNEL}")["messages"][0]

    def test_replace_original_replaces_the_registered_message_and_everything_is_recorded(self):
        ts = self.parent()
        body = {"replace_original": True, "text": "Cancelled", "blocks": [self.CANCELLED]}
        status, headers, data = self.respond(body)
        self.assertEqual((status, json.loads(data)), (200, {"ok": True}))
        self.assertTrue(headers["Content-Type"].startswith("application/json"))
        message = self.message()
        self.assertEqual((message["ts"], message["text"], message["blocks"], message["edits"]),
                         (ts, "Cancelled", [self.CANCELLED], 1))
        # An ephemeral answer changes no message; nor does a post to an id nobody registered.
        ephemeral = {"response_type": "ephemeral", "replace_original": False, "text": "You may not cancel this query"}
        self.assertEqual(self.respond(ephemeral)[0], 200)
        self.assertEqual(self.respond(body, rid="T0001/999/other")[0], 200)
        self.assertEqual(self.message()["edits"], 1)
        responses = self.control("GET", "/_control/responses")
        self.assertEqual([(r["path"], r["body"], r["status"], r["applied"]) for r in responses], [
            (f"/actions/{self.RID}", body, 200, "replaced"),
            (f"/actions/{self.RID}", ephemeral, 200, None),
            ("/actions/T0001/999/other", body, 200, "not_registered"),
        ])
        self.assertTrue(all(isinstance(r["at"], float) for r in responses))
        self.assertEqual(self.control("GET", "/_control/received"), [])  # not webhook deliveries
        self.assertIn("Cancelled by <@U1> (edited)", self.control_text(f"/_control/web/render?channel={self.CHANNEL}"))

    def control_text(self, path):
        status, _, data = request(self.port, "GET", path)
        self.assertEqual(status, 200)
        return data.decode()

    def test_scripted_answers_bad_bodies_and_delete_original(self):
        self.parent()
        self.assertEqual(self.control("POST", "/_control/responses/script",
                                      {"responses": [{"status": 500}, {"delay_ms": 300}, {"status": 200, "body": "ok"}]}),
                         {"ok": True, "queued": 3})
        replace = {"replace_original": "true", "text": "Cancelled"}
        self.assertEqual(self.respond(replace)[0], 500)
        self.assertEqual(self.message()["edits"], 0)  # a scripted answer applies nothing
        started = time.monotonic()
        self.assertEqual(self.respond(replace)[0], 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.3)
        self.assertEqual((self.message()["text"], self.message()["blocks"], self.message()["edits"]), ("Cancelled", [], 1))
        status, headers, data = self.respond(replace)
        self.assertEqual((status, data, headers["Content-Type"]), (200, b"ok", "text/plain; charset=utf-8"))
        for body, raw, error in (({"replace_original": True}, None, "no_text"), ({}, None, "no_text"),
                                 (None, b"not json", "invalid_payload")):
            status, _, data = self.respond(body, raw=raw)
            self.assertEqual((status, json.loads(data)), (400, {"ok": False, "error": error}))
        status, _, data = self.respond({"delete_original": True})
        self.assertEqual((status, json.loads(data)), (200, {"ok": True}))
        self.assertTrue(self.message()["deleted"])
        self.assertEqual(self.respond(replace)[0], 200)
        applied = [(r["status"], r["applied"]) for r in self.control("GET", "/_control/responses")]
        self.assertEqual(applied, [(500, None), (200, "replaced"), (200, None), (400, None), (400, None), (400, None),
                                   (200, "deleted"), (200, "message_not_found")])
        self.assertEqual(request(self.port, "GET", f"/actions/{self.RID}")[0], 405)

    def test_control_requests_are_checked_and_reset_clears_them(self):
        for path, body in (
            ("/_control/responses/script", {"responses": [{"stauts": 500}]}),
            ("/_control/responses/script", {"responses": [{"body": "x"}]}),
            ("/_control/responses/script", {"responses": [{"delay_ms": -1}]}),
            ("/_control/responses/script", {"responses": "none"}),
            ("/_control/responses/register", {"id": self.RID, "channel": self.CHANNEL}),
            ("/_control/responses/register", {"id": self.RID, "channel": self.CHANNEL, "ts": "1.1", "x": 1}),
        ):
            status, _, data = request(self.port, "POST", path, body)
            self.assertEqual(status, 400, (path, body))
            self.assertTrue(json.loads(data)["error"])
        self.parent()
        self.control("POST", "/_control/responses/script", {"responses": [{"status": 500}]})
        self.respond({"text": "hello"})
        self.control("POST", "/_control/reset", {})
        self.assertEqual(self.control("GET", "/_control/responses"), [])
        self.assertEqual(self.respond({"replace_original": True, "text": "x"})[0], 200)  # the script is gone
        self.assertEqual(self.control("GET", "/_control/responses")[0]["applied"], "not_registered")


# --------------------------------------------------------------------------
class FakeFunction(threading.Thread):
    """Plays the Lambda binary: polls /next, then posts a response or error."""

    def __init__(self, port, count, fail=False):
        super().__init__(daemon=True)
        self.port, self.count, self.fail = port, count, fail
        self.seen = []

    def run(self):
        base = "/2018-06-01/runtime/invocation"
        for _ in range(self.count):
            status, headers, body = request(self.port, "GET", f"{base}/next", timeout=15)
            rid = headers["Lambda-Runtime-Aws-Request-Id"]
            self.seen.append((dict(headers), json.loads(body)))
            if self.fail:
                request(
                    self.port,
                    "POST",
                    f"{base}/{rid}/error",
                    {"errorType": "Boom", "errorMessage": "it broke"},
                    headers={"Lambda-Runtime-Function-Error-Type": "Runtime.Boom"},
                )
            else:
                request(self.port, "POST", f"{base}/{rid}/response", {"echo": json.loads(body)})


class RuntimeApiTest(ServerCase):
    service = "runtime"

    def invoke(self, event, **kw):
        return self.control("POST", "/_control/invoke", {"event": event, "timeout_ms": 10000, **kw})

    def test_invoke_ok(self):
        fn = FakeFunction(self.port, 1)
        fn.start()
        before_ms = time.time() * 1000
        out = self.invoke({"source": "aws.events"}, deadline_ms=5000)
        fn.join(5)
        self.assertEqual(out["status"], "ok")
        self.assertEqual(out["response"], {"echo": {"source": "aws.events"}})
        self.assertGreaterEqual(out["duration_ms"], 0)
        headers, event = fn.seen[0]
        self.assertEqual(event, {"source": "aws.events"})
        self.assertTrue(headers["Lambda-Runtime-Invoked-Function-Arn"].endswith(":function:redshift-long-query-alert"))
        self.assertTrue(headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-"))
        deadline = int(headers["Lambda-Runtime-Deadline-Ms"])
        self.assertTrue(before_ms + 4000 < deadline < before_ms + 7000)
        stats = self.control("GET", "/_control/stats")
        self.assertEqual(stats["invocations"], 1)
        self.assertGreaterEqual(stats["first_next_ns"], stats["started_ns"])

    def test_invoke_error(self):
        fn = FakeFunction(self.port, 1, fail=True)
        fn.start()
        out = self.invoke({})
        fn.join(5)
        self.assertEqual(out["status"], "error")
        self.assertEqual(out["error"], {"errorType": "Boom", "errorMessage": "it broke"})
        self.assertEqual(out["error_type_header"], "Runtime.Boom")

    def test_two_invocations_on_one_process(self):
        fn = FakeFunction(self.port, 2)
        fn.start()
        self.assertEqual(self.invoke({"n": 1})["response"], {"echo": {"n": 1}})
        self.assertEqual(self.invoke({"n": 2})["response"], {"echo": {"n": 2}})
        fn.join(5)
        ids = {h["Lambda-Runtime-Aws-Request-Id"] for h, _ in fn.seen}
        self.assertEqual(len(ids), 2)
        self.assertEqual(self.control("GET", "/_control/stats")["invocations"], 2)

    def test_timeout_withdraws_event_and_bad_id(self):
        out = self.invoke({}, timeout_ms=200)
        self.assertEqual((out["status"], out["fetched"]), ("timeout", False))
        self.assertEqual(self.control("GET", "/_control/stats")["queued"], 0)
        status, _, body = request(self.port, "POST", "/2018-06-01/runtime/invocation/nope/response", {})
        self.assertEqual((status, json.loads(body)["errorType"]), (400, "InvalidRequestID"))

    def test_dead_poller_does_not_steal_events(self):
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.1)
        sock.close()  # like a killed binary
        # Queue the event while only the dead poller is waiting, then start a
        # live function: the event must still reach it.
        result = []
        invoker = threading.Thread(target=lambda: result.append(self.invoke({"k": 1})), daemon=True)
        invoker.start()
        time.sleep(0.4)
        fn = FakeFunction(self.port, 1)
        fn.start()
        invoker.join(10)
        fn.join(5)
        self.assertEqual(result[0]["status"], "ok")

    def test_init_error(self):
        status, _, _ = request(
            self.port,
            "POST",
            "/2018-06-01/runtime/init/error",
            {"errorType": "Config", "errorMessage": "missing SLACK_WEBHOOK_SECRET_ARN"},
            headers={"Lambda-Runtime-Function-Error-Type": "Runtime.Config"},
        )
        self.assertEqual(status, 202)
        out = self.invoke({})
        self.assertEqual(out["status"], "init_error")
        self.assertEqual(out["error"]["errorType"], "Config")
        self.assertEqual(out["error_type_header"], "Runtime.Config")


# --------------------------------------------------------------------------
class LauncherTest(unittest.TestCase):
    """stack.py as the Rust tests start it: READY with six ports, then stop on EOF or SIGTERM."""

    def launch(self):
        proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "stack.py"), "--quiet", "--exit-on-stdin-eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        line = proc.stdout.readline()
        self.assertTrue(line.startswith("READY {"), line)
        ports = json.loads(line[len("READY "):])
        self.assertEqual(sorted(ports), ["dataapi", "dynamo", "moto", "runtime", "secrets", "slack"])
        self.assertEqual(len(set(ports.values())), 6)
        for service, path in (("moto", "/moto-api/data.json"), ("dataapi", "/_control/cluster"),
                              ("slack", "/_control/received"), ("runtime", "/_control/stats"),
                              ("secrets", "/_control/calls"), ("dynamo", "/_control/calls")):
            self.assertEqual(request(ports[service], "GET", path)[0], 200, service)
        return proc, ports

    def test_stops_on_stdin_eof(self):
        proc, _ = self.launch()
        proc.stdin.close()
        self.assertEqual(proc.wait(10), 0)
        self.assertEqual(proc.stdout.read(), "")  # exactly one line on stdout
        proc.stdout.close()

    def test_stops_on_sigterm(self):
        proc, ports = self.launch()
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(10), 0)
        proc.stdin.close()
        proc.stdout.close()
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", ports["dataapi"]), timeout=1).close()

    def test_client_api(self):
        arn = STACK.put_secret("selftest/secret", {"k": "v"})
        self.assertIn(":secret:selftest/secret", arn)
        env = STACK.env()
        self.assertEqual(env["AWS_ENDPOINT_URL_DYNAMODB"], f"http://127.0.0.1:{STACK.ports['moto']}")
        self.assertEqual(env["AWS_ENDPOINT_URL_REDSHIFT_DATA"], f"http://127.0.0.1:{STACK.ports['dataapi']}")
        self.assertEqual(STACK.load_cluster({"kind": "serverless"})["kind"], "serverless")

    def test_a_server_still_runs_alone(self):
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "slack.py"), "--port", "0", "--quiet"],
                                stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        self.assertRegex(line, r"^READY \d+$")
        proc.terminate()
        self.assertEqual(proc.wait(5), 0)
        proc.stdout.close()


# --------------------------------------------------------------------------
class SecretsFaultTest(unittest.TestCase):
    """secrets.py: a scripted fault per secret id; everything else passes through to moto."""

    def sm(self, operation, body, timeout=10):
        return request(STACK.ports["secrets"], "POST", "/", body, timeout=timeout, headers={
            "X-Amz-Target": f"secretsmanager.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261128/us-east-1/secretsmanager/"
                             "aws4_request, SignedHeaders=host, Signature=0",
        })

    def setUp(self):
        STACK.control("secrets", "POST", "/_control/reset")

    def test_unscripted_secrets_come_from_moto(self):
        STACK.put_secret("faults/plain", {"k": "v"})
        status, _, body = self.sm("GetSecretValue", {"SecretId": "faults/plain"})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(json.loads(body)["SecretString"]), {"k": "v"})

    def test_each_fault_answers_as_scripted(self):
        STACK.control("secrets", "POST", "/_control/script", {"faults": {
            "garbage": {"status": 200, "body": '{"SecretString": "trunc'},
            "echo": {"status": 400, "error": {"__type": "ValidationException", "message": "bad: TOKEN"}},
            "given": {"secret_string": "{\"a\": 1}"},
            "slow": {"hang_ms": 1500, "status": 500},
        }})
        self.assertEqual(self.sm("GetSecretValue", {"SecretId": "garbage"})[2], b'{"SecretString": "trunc')
        status, _, body = self.sm("GetSecretValue", {"SecretId": "echo"})
        self.assertEqual((status, json.loads(body)["__type"]), (400, "ValidationException"))
        self.assertEqual(json.loads(self.sm("GetSecretValue", {"SecretId": "given"})[2])["SecretString"],
                         '{"a": 1}')
        started = time.monotonic()
        self.assertEqual(self.sm("GetSecretValue", {"SecretId": "slow"})[0], 500)
        self.assertGreaterEqual(time.monotonic() - started, 1.4)
        calls = STACK.control("secrets", "GET", "/_control/calls")
        self.assertEqual([c["secret_id"] for c in calls], ["garbage", "echo", "given", "slow"])

    def test_a_typo_in_a_fault_is_refused(self):
        status, _, _ = request(STACK.ports["secrets"], "POST", "/_control/script",
                               {"faults": {"x": {"hang": 1}}})
        self.assertEqual(status, 400)


# --------------------------------------------------------------------------
class DynamoFaultTest(unittest.TestCase):
    """dynamo_faults.py: scripted faults per operation; everything else passes through to moto."""

    def ddb(self, operation, body, port=None, timeout=10):
        """(status, parsed answer) of a DynamoDB call, through the front unless a port is given."""
        status, _, data = request(port or STACK.ports["dynamo"], "POST", "/", body, timeout=timeout, headers={
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261128/us-east-1/dynamodb/"
                             "aws4_request, SignedHeaders=host, Signature=0",
        })
        return status, json.loads(data) if data else None

    def put(self, sk, table="faults-state"):
        return self.ddb("PutItem", {"TableName": table, "Item": {"pk": {"S": "p"}, "sk": {"S": sk}}})

    def query(self, table="faults-state", port=None):
        return self.ddb("Query", {"TableName": table, "KeyConditionExpression": "pk = :pk",
                                  "ExpressionAttributeValues": {":pk": {"S": "p"}}}, port=port)

    def script(self, *faults):
        return STACK.control("dynamo", "POST", "/_control/script", {"faults": list(faults)})

    def calls(self):
        return STACK.control("dynamo", "GET", "/_control/calls")

    def setUp(self):
        STACK.control("dynamo", "POST", "/_control/reset")
        STACK.create_table("faults-state")

    def test_unscripted_calls_reach_moto(self):
        status, answer = self.ddb("CreateTable", {
            "TableName": "faults-passthrough", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        })
        self.assertEqual((status, answer["TableDescription"]["TableName"]), (200, "faults-passthrough"))
        self.assertEqual(self.put("1", table="faults-passthrough")[0], 200)
        status, answer = self.query(table="faults-passthrough")
        self.assertEqual((status, answer["Items"]), (200, [{"pk": {"S": "p"}, "sk": {"S": "1"}}]))
        # What moto itself says, unchanged.
        self.assertEqual(self.query(table="faults-passthrough", port=STACK.ports["moto"]), (status, answer))
        status, answer = self.query(table="faults-no-such-table")
        self.assertEqual((status, answer["__type"].rsplit("#", 1)[-1]), (400, "ResourceNotFoundException"))
        self.assertEqual([(c["operation"], c["fault"], c["status"]) for c in self.calls()],
                         [("CreateTable", False, 200), ("PutItem", False, 200), ("Query", False, 200),
                          ("Query", False, 400)])

    def test_a_scripted_error_is_answered_once_then_calls_pass_through(self):
        self.script({"operation": "PutItem", "error": "ProvisionedThroughputExceededException"})
        self.assertEqual(self.query()[0], 200)  # another operation is not touched
        status, answer = self.put("once")
        self.assertEqual(status, 400)
        self.assertEqual(answer["__type"], "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException")
        self.assertIn("provisioned throughput", answer["message"])
        self.assertNotIn({"pk": {"S": "p"}, "sk": {"S": "once"}}, self.query(port=STACK.ports["moto"])[1]["Items"])
        self.assertEqual(self.put("once")[0], 200)
        self.assertIn({"pk": {"S": "p"}, "sk": {"S": "once"}}, self.query(port=STACK.ports["moto"])[1]["Items"])
        self.assertEqual([(c["operation"], c["fault"], c["status"]) for c in self.calls()],
                         [("Query", False, 200), ("PutItem", True, 400), ("PutItem", False, 200)])

    def test_faults_are_taken_in_list_order_and_500_for_internal_errors(self):
        self.script({"operation": "*", "error": "InternalServerError"},
                    {"operation": "UpdateItem", "error": "AccessDeniedException", "times": 2, "message": "no"},
                    {"operation": "DeleteItem", "error": "ResourceNotFoundException", "times": -1})
        key = {"TableName": "faults-state", "Key": {"pk": {"S": "p"}, "sk": {"S": "x"}}}
        update = {**key, "UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": "1"}}}
        status, answer = self.ddb("UpdateItem", update)  # the "*" fault comes first in the list
        self.assertEqual((status, answer["__type"]), (500, "com.amazonaws.dynamodb.v20120810#InternalServerError"))
        for _ in range(2):
            self.assertEqual(self.ddb("UpdateItem", update), (400, {
                "__type": "com.amazonaws.dynamodb.v20120810#AccessDeniedException", "message": "no"}))
        self.assertEqual(self.ddb("UpdateItem", update)[0], 200)
        for _ in range(3):  # times -1: always
            status, answer = self.ddb("DeleteItem", key)
            self.assertEqual((status, answer["__type"].rsplit("#", 1)[-1]), (400, "ResourceNotFoundException"))
        self.assertEqual(self.query()[0], 200)
        script = STACK.control("dynamo", "GET", "/_control/script")["faults"]
        self.assertEqual([f["applied"] for f in script], [1, 2, 3])

    def test_after_lets_the_first_calls_through(self):
        self.script({"operation": "Query", "error": "ThrottlingException", "after": 2, "times": 2})
        statuses = [self.query()[0] for _ in range(5)]
        self.assertEqual(statuses, [200, 200, 400, 400, 200])
        self.assertEqual([c["fault"] for c in self.calls()], [False, False, True, True, False])

    def test_a_hang_accepts_says_nothing_and_closes(self):
        self.script({"operation": "PutItem", "hang_ms": 1000})
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", STACK.ports["dynamo"], timeout=10)
        conn.request("POST", "/", json.dumps({"TableName": "faults-state",
                                             "Item": {"pk": {"S": "p"}, "sk": {"S": "hung"}}}), {
            "X-Amz-Target": "DynamoDB_20120810.PutItem", "Content-Type": "application/x-amz-json-1.0"})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            conn.getresponse()
        conn.close()
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        [call] = self.calls()
        self.assertEqual((call["operation"], call["fault"], call["status"], call["closed"]),
                         ("PutItem", True, None, True))
        self.assertNotIn({"pk": {"S": "p"}, "sk": {"S": "hung"}}, self.query(port=STACK.ports["moto"])[1]["Items"])
        self.assertEqual(self.put("hung")[0], 200)  # used up: the next call goes through

    def test_hang_then_error_answers_late(self):
        self.script({"operation": "Query", "hang_ms": 600, "error": "ThrottlingException"})
        started = time.monotonic()
        self.assertEqual(self.query()[0], 400)
        self.assertGreaterEqual(time.monotonic() - started, 0.55)

    def test_a_bad_script_is_refused_and_keeps_the_old_one(self):
        self.script({"operation": "Query", "error": "ThrottlingException", "times": -1})
        for bad in ([{"operation": "Query", "error": "ThrottlingException", "time": 1}],
                    [{"operation": "Putitem", "error": "ThrottlingException"}],
                    [{"error": "ThrottlingException"}],
                    [{"operation": "Query"}],
                    [{"operation": "Query", "error": "ThrottlingException", "times": 0}],
                    [{"operation": "Query", "error": "ThrottlingException", "after": -1}],
                    [{"operation": "Query", "error": "Throttling Exception"}],
                    {"operation": "Query"}):
            status, _, data = request(STACK.ports["dynamo"], "POST", "/_control/script", {"faults": bad})
            self.assertEqual(status, 400, bad)
            self.assertIn("error", json.loads(data))
        self.assertEqual(request(STACK.ports["dynamo"], "POST", "/_control/script", {"fault": []})[0], 400)
        self.assertEqual(self.query()[0], 400)

    def test_reset_clears_faults_and_calls(self):
        self.script({"operation": "*", "error": "ThrottlingException", "times": -1})
        self.assertEqual(self.query()[0], 400)
        STACK.control("dynamo", "POST", "/_control/reset")
        self.assertEqual(self.calls(), [])
        self.assertEqual(self.query()[0], 200)

    @unittest.skipUnless(importlib.util.find_spec("boto3"), "boto3 is not installed")
    def test_the_sdk_reads_the_errors_and_passes_through(self):
        import boto3
        from botocore.config import Config

        client = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{STACK.ports['dynamo']}",
                              region_name="us-east-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing", config=Config(retries={"total_max_attempts": 1}))
        client.put_item(TableName="faults-state", Item={"pk": {"S": "p"}, "sk": {"S": "sdk"}})
        self.script({"operation": "PutItem", "error": "ProvisionedThroughputExceededException"},
                    {"operation": "Query", "error": "InternalServerError"})
        with self.assertRaises(client.exceptions.ProvisionedThroughputExceededException):
            client.put_item(TableName="faults-state", Item={"pk": {"S": "p"}, "sk": {"S": "sdk2"}})
        with self.assertRaises(client.exceptions.InternalServerError) as caught:
            client.query(TableName="faults-state", KeyConditionExpression="pk = :pk",
                         ExpressionAttributeValues={":pk": {"S": "p"}})
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 500)
        items = client.query(TableName="faults-state", KeyConditionExpression="pk = :pk",
                             ExpressionAttributeValues={":pk": {"S": "p"}})["Items"]
        self.assertIn({"pk": {"S": "p"}, "sk": {"S": "sdk"}}, items)
        # Every call carried the SDK's Authorization header through to moto, which routed it.
        self.assertEqual([c["status"] for c in self.calls()], [200, 400, 500, 200])


class RawEventTest(unittest.TestCase):
    def test_a_raw_event_body_reaches_the_function_as_is(self):
        runtime = STACK.ports["runtime"]
        STACK.control("runtime", "POST", "/_control/reset")
        answers = []
        invoker = threading.Thread(target=lambda: answers.append(request(
            runtime, "POST", "/_control/invoke", {"raw_event": "{not json", "timeout_ms": 5000})))
        invoker.start()
        status, headers, body = request(runtime, "GET", "/2018-06-01/runtime/invocation/next")
        self.assertEqual((status, body), (200, b"{not json"))
        request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        request(runtime, "POST", f"/2018-06-01/runtime/invocation/{request_id}/response", {"ok": 1})
        invoker.join(10)
        self.assertEqual(json.loads(answers[0][2])["status"], "ok")


if __name__ == "__main__":
    unittest.main()
