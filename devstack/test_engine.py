"""Tests of the cluster model and the SQL engine (redshift_model.py, sqlexec.py), in process.

Run: python -m unittest devstack/test_engine.py -v     (needs duckdb and sqlglot: .venv)
"""

import datetime as dt
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import redshift_model as model  # noqa: E402
import sqlexec  # noqa: E402

NOW = "2026-11-28T09:45:30.750Z"
ENGINE = sqlexec.Engine()  # one DuckDB connection, as the server has


def cluster(*queries, **scenario):
    return model.Cluster.from_scenario({"now": NOW, "frozen": True, "queries": list(queries), **scenario})


def run(c, sql, **params):
    return ENGINE.execute(c, sql, params, "monitor_user", "dev")


def values(execution):
    """The cells as plain Python values (the Data API member's value)."""
    assert execution.error is None, execution.error
    return [[None if "isNull" in cell else next(iter(cell.values())) for cell in row] for row in execution.records]


def only(execution):
    rows = values(execution)
    assert len(rows) == 1 and len(rows[0]) == 1, rows
    return rows[0][0]


class RedshiftSemantics(unittest.TestCase):
    def test_listagg_has_no_default_delimiter_and_skips_empty_strings(self):
        c = cluster({"pid": 1, "text": "a" * 450})
        text = only(run(c, "SELECT LISTAGG(RTRIM(text)) WITHIN GROUP (ORDER BY sequence) FROM svv_query_inflight WHERE pid = 1"))
        self.assertEqual(text, "a" * 450)
        joined = only(run(c, "SELECT LISTAGG(x, '-') WITHIN GROUP (ORDER BY x) FROM (SELECT 'a' AS x UNION ALL SELECT '' UNION ALL SELECT 'b') s JOIN pg_user ON usesysid = 1"))
        self.assertEqual(joined, "a-b")

    def test_integer_division_truncates_toward_zero(self):
        self.assertEqual(values(run(cluster(), "SELECT 7/2, -7/2, 7.0/2")), [[3, -3, 3.5]])
        # Started 09:44:01.5 and 09:47:00.75; GETDATE() is 09:45:30. DATEDIFF counts the second
        # boundaries crossed (89 and -90), and / 60 truncates toward zero (-1.5 gives -1, not -2).
        c = cluster({"pid": 1, "started_seconds_ago": 89.25}, {"pid": 2, "start_time": "2026-11-28T09:47:00.750Z"})
        rows = values(run(c, "SELECT pid, DATEDIFF(second, starttime, GETDATE()) / 60 AS m, DATEDIFF(second, starttime, GETDATE()) AS s "
                             "FROM stl_query WHERE pid IN (1, 2) ORDER BY pid"))
        self.assertEqual(rows, [[1, 1, 89], [2, -1, -90]])

    def test_getdate_is_the_frozen_clock_truncated_to_seconds(self):
        execution = run(cluster(), "SELECT GETDATE() AS g, SYSDATE AS s")
        self.assertEqual(values(execution), [["2026-11-28 09:45:30", "2026-11-28 09:45:30.75"]])
        self.assertEqual([c["typeName"] for c in execution.columns], ["timestamp", "timestamp"])

    def test_strings_compare_without_trailing_blanks(self):
        c = cluster({"pid": 1}, {"pid": 2, "state": "queued"})
        rows = values(run(c, "SELECT session_id, status, LENGTH(status) FROM sys_query_history WHERE status = 'running' AND session_id < 3"))
        self.assertEqual(rows, [[1, "running   ", 7]])  # CHAR(10), padded as Redshift returns it

    def test_listagg_over_65535_bytes_fails_the_statement_with_8001(self):
        c = cluster({"pid": 1, "text": "é" * 33000})  # 33,000 characters, 66,000 bytes
        failed = run(c, "SELECT LISTAGG(RTRIM(text)) WITHIN GROUP (ORDER BY sequence) FROM svv_query_inflight WHERE pid = 1")
        self.assertIn("Result size exceeds LISTAGG limit", failed.error)
        self.assertIn("8001", failed.error)
        self.assertTrue(failed.error.startswith("ERROR: "))
        ok = run(c, "SELECT LISTAGG(RTRIM(text)) WITHIN GROUP (ORDER BY sequence) FROM svv_query_inflight WHERE pid = 1 AND sequence < 100")
        self.assertEqual(len(only(ok).encode()), 40000)

    def test_parameters_arrive_as_strings_and_backend_pid_is_the_statements(self):
        execution = run(cluster(), "SELECT CAST(:n AS INTEGER) + 1, :s, pg_backend_pid()", n="41", s="it's")
        self.assertEqual(values(execution)[0][:2], [42, "it's"])
        self.assertEqual(values(execution)[0][2], execution.pid)


class SystemViews(unittest.TestCase):
    def chunk_rows(self, c, pid):
        return values(run(c, f"SELECT sequence, text, slice FROM svv_query_inflight WHERE pid = {pid} ORDER BY sequence, slice"))

    def test_inflight_chunks_are_200_characters_blank_padded_with_line_breaks_stored_as_backslash_n(self):
        text = "x" * 199 + "\nFROM t"
        rows = self.chunk_rows(cluster({"pid": 7, "text": text}), 7)
        self.assertEqual([r[0] for r in rows], [0, 1])
        self.assertEqual(rows[0][1], "x" * 199 + "\\")
        self.assertEqual(rows[1][1], ("nFROM t").ljust(200))
        self.assertTrue(all(len(r[1]) == 200 for r in rows))

    def test_multibyte_text_is_chunked_by_characters(self):
        rows = self.chunk_rows(cluster({"pid": 7, "text": "日本語" * 100}), 7)  # 300 characters
        self.assertEqual([len(r[1]) for r in rows], [200, 200])
        self.assertEqual(rows[0][1], ("日本語" * 67)[:200])
        self.assertEqual(rows[1][1].rstrip(), ("日本語" * 100)[200:])

    def test_a_query_on_two_slices_repeats_each_chunk(self):
        rows = self.chunk_rows(cluster({"pid": 7, "text": "y" * 250, "slices": 2}), 7)
        self.assertEqual([(r[0], r[2]) for r in rows], [(0, 0), (0, 1), (1, 0), (1, 1)])
        distinct = values(run(cluster({"pid": 7, "text": "y" * 250, "slices": 2}),
                              "SELECT COUNT(*) FROM (SELECT DISTINCT query, sequence, text FROM svv_query_inflight WHERE pid = 7) d"))
        self.assertEqual(distinct, [[2]])

    def test_queued_and_suspended_queries(self):
        c = cluster({"pid": 1, "state": "queued"}, {"pid": 2, "suspended": True})
        rows = values(run(c, "SELECT pid, suspended FROM svv_query_inflight WHERE pid < 3"))
        self.assertEqual(rows, [[2, 1]])

    def test_a_dropped_user_has_no_pg_user_row(self):
        c = cluster({"pid": 1, "user": "alice"}, {"pid": 2, "user": None}, {"pid": 3, "user": "ghost", "user_dropped": True})
        rows = values(run(c, "SELECT q.pid, u.usename FROM svv_query_inflight q LEFT JOIN pg_user u ON u.usesysid = q.userid "
                             "WHERE q.pid < 4 ORDER BY q.pid"))
        self.assertEqual(rows, [[1, "alice"], [2, None], [3, None]])
        self.assertNotIn(["ghost"], values(run(c, "SELECT usename FROM pg_user")))

    def test_the_statement_itself_is_in_flight_on_its_pid(self):
        c = cluster({"pid": 777, "started_seconds_ago": 3600}, monitor_pid=777)
        execution = run(c, "SELECT pid, COUNT(DISTINCT query) FROM svv_query_inflight GROUP BY pid")
        self.assertEqual(values(execution), [[777, 2]])
        self.assertEqual(execution.pid, 777)
        self.assertEqual(values(run(c, "SELECT COUNT(*) FROM svv_query_inflight WHERE pid <> pg_backend_pid()")), [[0]])

    def test_sys_views_keep_4000_character_chunks(self):
        text = "s" * 4100 + "\nend"
        c = cluster({"pid": 5, "text": text}, kind="serverless")
        rows = values(run(c, "SELECT sequence, LENGTH(text), RTRIM(text) FROM sys_query_text WHERE session_id = 5 ORDER BY sequence"))
        self.assertEqual([(r[0], r[1]) for r in rows], [(0, 4000), (1, 105)])
        self.assertEqual(rows[1][2], "s" * 100 + "\\nend")
        history = values(run(c, "SELECT status, end_time, RTRIM(query_text) FROM sys_query_history WHERE session_id = 5"))
        self.assertEqual(history, [["running   ", None, "s" * 4000]])

    def test_serverless_has_no_inflight_stl_or_stv_views(self):
        c = cluster(kind="serverless")
        for relation in ("svv_query_inflight", "stl_query", "stv_recents"):
            failed = run(c, f"SELECT * FROM {relation}")
            self.assertEqual(failed.error, f'ERROR: relation "{relation}" does not exist')
        self.assertIsNone(run(c, "SELECT * FROM sys_query_history").error)

    def test_unknown_relation_and_column_fail_with_the_engine_message(self):
        c = cluster()
        self.assertEqual(run(c, "SELECT * FROM events").error, 'ERROR: relation "events" does not exist')
        self.assertEqual(run(c, "SELECT nope FROM pg_user").error, 'ERROR: column "nope" does not exist')
        self.assertTrue(run(c, "SELEC 1").error.startswith("ERROR: syntax error"))
        self.assertTrue(run(c, "SELECT 1 + 'a'").error.startswith("ERROR: "))
        # The failed statements are in the history, as failed queries.
        self.assertEqual(values(run(c, "SELECT COUNT(*) FROM stl_query WHERE aborted = 1")), [[4]])


# A lock wait joined to the table's name, as a check for blocked queries would write it.
BLOCKED_SQL = """
SELECT w.pid AS waiting_pid, h.pid AS blocking_pid, TRIM(n.nspname) || '.' || TRIM(c.relname) AS table_name,
       h.lock_mode AS held_mode, DATEDIFF(second, h.txn_start, GETDATE()) AS held_seconds
FROM svv_transactions w
JOIN svv_transactions h ON h.relation = w.relation AND h.granted AND h.pid <> w.pid
JOIN pg_class c ON c.oid = w.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT w.granted AND w.lockable_object_type = 'relation'
  AND (w.lock_mode = 'AccessExclusiveLock' OR h.lock_mode = 'AccessExclusiveLock'
       OR (w.lock_mode = 'ShareRowExclusiveLock' AND h.lock_mode = 'ShareRowExclusiveLock'))
ORDER BY 1, 2
"""


def lock(table, mode, granted=True):
    return {"table": table, "mode": mode, "granted": granted}


class LocksAndTransactions(unittest.TestCase):
    def test_a_waiting_lock_finds_its_blocker_and_the_table_name(self):
        c = cluster(
            {"pid": 10, "user": "alice", "started_seconds_ago": 600, "text": "ALTER TABLE sales.orders ADD COLUMN x int",
             "locks": [lock("sales.orders", "AccessExclusiveLock")]},
            {"pid": 11, "user": "bob", "started_seconds_ago": 300, "text": "select count(*) from sales.orders",
             "locks": [lock("sales.orders", "AccessShareLock", False)]},
            tables=[{"name": "sales.orders", "oid": 200100}],
        )
        self.assertEqual(values(run(c, BLOCKED_SQL)), [[11, 10, "sales.orders", "AccessExclusiveLock", 600]])
        # The waiting statement is still a running query: in svv_query_inflight and in SYS as running.
        self.assertEqual(values(run(c, "SELECT DISTINCT pid FROM svv_query_inflight WHERE pid IN (10, 11) ORDER BY pid")), [[10], [11]])
        self.assertEqual(only(run(c, "SELECT status FROM sys_query_history WHERE session_id = 11")), "running   ")
        rows = values(run(c, "SELECT pid, xid, lock_mode, lockable_object_type, relation, granted, txn_owner, txn_db "
                             "FROM svv_transactions WHERE pid IN (10, 11) ORDER BY pid, lockable_object_type"))
        xid10, xid11 = (q.xid for q in c.inflight[:2])
        self.assertEqual(rows, [
            [10, xid10, "AccessExclusiveLock", "relation", 200100, True, "alice", "dev"],
            [10, xid10, "ExclusiveLock", "transactionid", None, True, "alice", "dev"],
            [11, xid11, "AccessShareLock", "relation", 200100, False, "bob", "dev"],
            [11, xid11, "ExclusiveLock", "transactionid", None, True, "bob", "dev"],
        ])
        types = [col["typeName"] for col in run(c, "SELECT * FROM svv_transactions").columns]
        self.assertEqual(types, ["varchar", "varchar", "int8", "int4", "timestamp", "varchar", "varchar", "int4", "bool"])

    def test_a_blocker_chain_resolves_to_its_root(self):
        # A holds t1; B waits on t1 while holding t2; C waits on t2.
        c = cluster(
            {"pid": 1, "user": "a", "started_seconds_ago": 900, "text": "TRUNCATE t1", "locks": [lock("t1", "AccessExclusiveLock")]},
            {"pid": 2, "user": "b", "started_seconds_ago": 600, "text": "insert into t2 select * from t1",
             "locks": [lock("t2", "ShareRowExclusiveLock"), lock("t1", "AccessShareLock", False)]},
            {"pid": 3, "user": "c", "started_seconds_ago": 300, "text": "insert into t2 values (1)",
             "locks": [lock("t2", "ShareRowExclusiveLock", False)]},
        )
        waits = "WITH RECURSIVE waits AS (" + BLOCKED_SQL.replace("ORDER BY 1, 2", "") + ")"
        sql = waits + """, chain (waiter, root, depth) AS (
              SELECT waiting_pid, blocking_pid, 1 FROM waits WHERE blocking_pid NOT IN (SELECT waiting_pid FROM waits)
              UNION ALL
              SELECT w.waiting_pid, c.root, c.depth + 1 FROM waits w JOIN chain c ON w.blocking_pid = c.waiter)
            SELECT waiter, root, depth FROM chain ORDER BY waiter"""
        self.assertEqual(values(run(c, sql)), [[2, 1, 1], [3, 1, 2]])
        self.assertEqual([r[2] for r in values(run(c, BLOCKED_SQL))], ["public.t1", "public.t2"])
        # The root ends: its lock goes, B is granted t1 and is no longer blocked; C still waits on B.
        c.end_query(1, "success")
        self.assertEqual([r[:2] for r in values(run(c, BLOCKED_SQL))], [[3, 2]])
        self.assertEqual(values(run(c, "SELECT granted FROM svv_transactions WHERE pid = 2 AND relation IS NOT NULL ORDER BY lock_mode")),
                         [[True], [True]])
        self.assertEqual(values(run(c, "SELECT COUNT(*) FROM svv_transactions WHERE pid = 1")), [[0]])

    def test_an_idle_session_in_a_transaction_is_found_by_its_last_statement(self):
        c = cluster(
            {"pid": 30, "user": "bob", "started_seconds_ago": 60, "locks": [lock("mart.daily", "AccessShareLock")]},
            sessions=[{"pid": 20, "user": "etl", "transaction_started_seconds_ago": 3600, "idle_seconds": 1800,
                       "locks": [lock("mart.daily", "ShareRowExclusiveLock"), lock("mart.totals", "AccessExclusiveLock")]}],
        )
        idle_sql = """
            SELECT t.pid, t.txn_owner, DATEDIFF(second, t.txn_start, GETDATE()) AS open_s,
                   DATEDIFF(second, MAX(h.end_time), GETDATE()) AS idle_s
            FROM svv_transactions t
            JOIN sys_query_history h ON h.session_id = t.pid AND h.transaction_id = t.xid
            WHERE t.lockable_object_type = 'transactionid'
              AND t.pid NOT IN (SELECT session_id FROM sys_query_history WHERE status IN ('running', 'queued', 'returning'))
            GROUP BY 1, 2, 3"""
        self.assertEqual(values(run(c, idle_sql)), [[20, "etl", 3600, 1800]])
        last = values(run(c, "SELECT status, query_type, RTRIM(query_text), start_time, end_time FROM sys_query_history WHERE session_id = 20"))
        self.assertEqual(last, [["success   ", "UTILITY".ljust(32), "LOCK mart.daily", "2026-11-28 09:15:28.75", "2026-11-28 09:15:30.75"]])
        # LOCK is a utility statement: stl_utilitytext has it, stl_query does not (its docs).
        self.assertEqual(values(run(c, "SELECT COUNT(*) FROM stl_query WHERE pid = 20")), [[0]])
        self.assertEqual(values(run(c, "SELECT RTRIM(text), endtime FROM stl_utilitytext WHERE pid = 20")),
                         [["LOCK mart.daily", "2026-11-28 09:15:30.75"]])
        self.assertEqual(values(run(c, "SELECT status, pid FROM stv_recents WHERE query LIKE 'LOCK%'")), [["Done".ljust(20), -1]])
        sessions = values(run(c, "SELECT process, RTRIM(user_name), starttime FROM stv_sessions WHERE process IN (20, 30) ORDER BY 1"))
        self.assertEqual(sessions, [[20, "etl", "2026-11-28 08:45:30.75"], [30, "bob", "2026-11-28 09:44:30.75"]])
        # Its transaction ends (COMMIT): the locks go, the session stays connected.
        c.end_session_transaction(20)
        self.assertEqual(values(run(c, idle_sql)), [])
        self.assertEqual(values(run(c, "SELECT COUNT(*) FROM stv_sessions WHERE process = 20")), [[1]])
        with self.assertRaises(model.ScenarioError):
            c.end_session_transaction(20)

    def test_a_selecting_idle_session_is_in_stl_query(self):
        c = cluster(sessions=[{"pid": 21, "user": "ana", "idle_seconds": 90, "last_statement": "select * from sales.orders",
                               "locks": [lock("sales.orders", "AccessShareLock")]}])
        self.assertEqual(values(run(c, "SELECT RTRIM(querytxt), aborted, endtime FROM stl_query WHERE pid = 21")),
                         [["select * from sales.orders", 0, "2026-11-28 09:44:00.75"]])
        xid = c.sessions[0].xid
        self.assertEqual(values(run(c, "SELECT DISTINCT xid FROM stl_query WHERE pid = 21")), [[xid]])
        # The transaction began with that statement by default.
        self.assertEqual(only(run(c, "SELECT txn_start FROM svv_transactions WHERE pid = 21 AND relation IS NULL")), "2026-11-28 09:43:58.75")

    def test_terminating_an_idle_session_ends_its_transaction_and_cancel_changes_nothing(self):
        c = cluster(sessions=[{"pid": 22, "user": "ana", "idle_seconds": 10, "locks": [lock("t", "AccessExclusiveLock")]}])
        self.assertIsNone(run(c, "CANCEL 22").error)
        self.assertEqual(values(run(c, "SELECT COUNT(*) FROM svv_transactions WHERE pid = 22")), [[2]])
        self.assertEqual(values(run(c, "SELECT pg_terminate_backend(22)")), [[True]])
        self.assertEqual(values(run(c, "SELECT COUNT(*) FROM svv_transactions WHERE pid = 22")), [[0]])
        self.assertEqual(values(run(c, "SELECT COUNT(*) FROM stv_sessions WHERE process = 22")), [[0]])
        self.assertIn("Session 22 does not exist", run(c, "SELECT pg_terminate_backend(22)").error)

    def test_pg_class_and_pg_namespace_hold_every_table_of_the_scenario(self):
        c = cluster({"pid": 1, "locks": [lock("Sales.Returns", "AccessShareLock")]},
                    tables=[{"name": "sales.orders", "oid": 100000}, {"name": "events"}])
        rows = values(run(c, "SELECT n.nspname, c.relname, c.relkind, c.oid >= 100000 FROM pg_class c "
                             "JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY 1, 2"))
        self.assertEqual(rows, [["public", "events", "r", True], ["sales", "orders", "r", True], ["sales", "returns", "r", True]])
        self.assertEqual(values(run(c, "SELECT oid FROM pg_catalog.pg_namespace WHERE nspname IN ('public', 'pg_catalog') ORDER BY 1")),
                         [[11], [2200]])
        oids = [r[0] for r in values(run(c, "SELECT oid FROM pg_class UNION ALL SELECT oid FROM pg_namespace"))]
        self.assertEqual(len(oids), len(set(oids)))
        types = [col["typeName"] for col in run(c, "SELECT relname, nspname FROM pg_class JOIN pg_namespace ON pg_namespace.oid = relnamespace").columns]
        self.assertEqual(types, ["name", "name"])


class WorkloadManagement(unittest.TestCase):
    def test_a_queued_query_is_queued_in_sys_and_in_wlm_with_its_queue_name(self):
        c = cluster({"pid": 40, "state": "queued", "queue": "etl", "started_seconds_ago": 120},
                    {"pid": 41, "queue": "etl", "queued_seconds": 30, "started_seconds_ago": 100},
                    {"pid": 42, "started_seconds_ago": 50})
        sys_rows = values(run(c, "SELECT session_id, status, queue_time, execution_time, service_class_id, RTRIM(service_class_name) "
                                 "FROM sys_query_history WHERE session_id IN (40, 41, 42) ORDER BY 1"))
        self.assertEqual(sys_rows, [
            [40, "queued    ", 120000000, 0, 101, "etl"],
            [41, "running   ", 30000000, 70000000, 101, "etl"],
            [42, "running   ", 0, 50000000, 100, "Default queue"],
        ])
        wlm = values(run(c, "SELECT s.query, RTRIM(s.state), s.queue_time, s.exec_time, RTRIM(c.name), s.wlm_start_time "
                            "FROM stv_wlm_query_state s JOIN stv_wlm_service_class_config c ON c.service_class = s.service_class "
                            "JOIN sys_query_history h ON h.query_id = s.query WHERE h.session_id IN (40, 41) ORDER BY 1"))
        ids = [q.query_id for q in c.inflight[:2]]
        self.assertEqual(wlm, [
            [ids[0], "Queued", 120000000, 0, "etl", "2026-11-28 09:43:30.75"],
            [ids[1], "Running", 30000000, 70000000, "etl", "2026-11-28 09:43:50.75"],
        ])
        self.assertEqual(values(run(c, "SELECT COUNT(*) FROM stv_wlm_query_state WHERE state = 'Queued'")), [[1]])
        # A queued query is not on the slices yet.
        self.assertEqual(values(run(c, "SELECT COUNT(*) FROM svv_query_inflight WHERE pid = 40")), [[0]])
        config = values(run(c, "SELECT service_class, RTRIM(name), num_query_tasks, user_group_wild_card FROM stv_wlm_service_class_config "
                               "WHERE service_class >= 100 ORDER BY 1"))
        self.assertEqual(config, [[100, "Default queue", -1, False], [101, "etl", -1, False]])
        types = [col["typeName"] for col in run(c, "SELECT * FROM stv_wlm_query_state").columns]
        self.assertEqual(types, ["int4"] * 5 + ["timestamp", "bpchar", "int8", "int8", "bpchar"])

    def test_serverless_has_transactions_and_catalogs_but_no_wlm_or_session_views(self):
        c = cluster({"pid": 1, "locks": [lock("t", "AccessShareLock")]}, kind="serverless",
                    sessions=[{"pid": 2, "idle_seconds": 5}])
        for relation in ("stv_wlm_query_state", "stv_wlm_service_class_config", "stv_sessions", "stl_utilitytext", "stl_ddltext"):
            self.assertEqual(run(c, f"SELECT * FROM {relation}").error, f'ERROR: relation "{relation}" does not exist')
        self.assertEqual(values(run(c, "SELECT pid, lock_mode FROM svv_transactions WHERE relation IS NOT NULL")), [[1, "AccessShareLock"]])
        self.assertEqual(values(run(c, "SELECT relname FROM pg_class")), [["t"]])
        rows = values(run(c, "SELECT DISTINCT service_class_id, service_class_name FROM sys_query_history"))
        self.assertEqual(rows, [[-1, " " * 64]])  # char(64), blank-padded
        self.assertEqual(only(run(c, "SELECT RTRIM(query_text) FROM sys_query_history WHERE session_id = 2")), "BEGIN")
        with self.assertRaises(model.ScenarioError):
            cluster({"pid": 1, "queue": "etl"}, kind="serverless")


class Cells(unittest.TestCase):
    def test_cells_and_column_types_travel_as_the_data_api_sends_them(self):
        c = cluster({"pid": 9, "user": "alice", "started_seconds_ago": 60.5})
        execution = run(c, "SELECT u.usename, q.pid, COUNT(*) AS n, q.starttime, q.text, q.suspended = 0 AS flag, "
                           "CAST(1.50 AS DECIMAL(5,2)) AS d, CAST(0.5 AS DOUBLE PRECISION) AS f, NULL AS z "
                           "FROM svv_query_inflight q JOIN pg_user u ON u.usesysid = q.userid WHERE q.pid = 9 "
                           "GROUP BY 1, 2, 4, 5, 6")
        self.assertEqual(
            [c["typeName"] for c in execution.columns],
            ["name", "int4", "int8", "timestamp", "bpchar", "bool", "numeric", "float8", "varchar"],
        )
        row = execution.records[0]
        self.assertEqual(row[:4], [{"stringValue": "alice"}, {"longValue": 9}, {"longValue": 1}, {"stringValue": "2026-11-28 09:44:30.25"}])
        self.assertEqual(row[4], {"stringValue": "select 1".ljust(200)})
        self.assertEqual(row[5:], [{"booleanValue": True}, {"stringValue": "1.50"}, {"doubleValue": 0.5}, {"isNull": True}])

    def test_timestamps_render_like_redshift(self):
        render = sqlexec.render_timestamp
        self.assertEqual(render(dt.datetime(2026, 11, 28, 9, 15)), "2026-11-28 09:15:00")
        self.assertEqual(render(dt.datetime(2026, 11, 28, 9, 15, 0, 123456)), "2026-11-28 09:15:00.123456")
        self.assertEqual(render(dt.datetime(2026, 11, 28, 9, 15, 0, 500000)), "2026-11-28 09:15:00.5")


class Commands(unittest.TestCase):
    def test_cancel_ends_the_query_as_cancelled(self):
        c = cluster({"pid": 4242, "started_seconds_ago": 100})
        execution = run(c, "CANCEL 4242")
        self.assertIsNone(execution.error)
        self.assertFalse(execution.has_result_set)
        self.assertEqual([q.pid for q in c.inflight], [])
        ended = [q for q in c.history if q.pid == 4242]
        self.assertEqual((ended[0].outcome, ended[0].end.isoformat()), ("cancelled", "2026-11-28T09:45:30.750000"))
        rows = values(run(c, "SELECT status, aborted FROM stl_query JOIN sys_query_history ON query_id = query WHERE pid = 4242"))
        self.assertEqual(rows, [["canceled  ", 1]])
        self.assertIn("Session 4242 does not exist", run(c, "CANCEL 4242").error)

    def test_pg_terminate_backend_ends_the_sessions_query_and_returns_true(self):
        c = cluster({"pid": 4243})
        execution = run(c, "SELECT pg_terminate_backend(4243)")
        self.assertEqual((values(execution), execution.columns[0]["typeName"]), ([[True]], "bool"))
        self.assertEqual(c.history[0].outcome, "cancelled")


# The product's cancel statements (src/interaction): cancel the pid only while it runs that query.
CANCEL_BY_SYS_ID = """SELECT pg_cancel_backend(session_id) AS cancelled
FROM sys_query_history
WHERE session_id = CAST(:pid AS INTEGER)
  AND query_id = CAST(:query_id AS BIGINT)
  AND status IN ('running', 'queued', 'returning')"""
CANCEL_BY_INFLIGHT_ID = """SELECT pg_cancel_backend(q.pid) AS cancelled
FROM (SELECT DISTINCT pid
      FROM svv_query_inflight
      WHERE pid = CAST(:pid AS INTEGER)
        AND query = CAST(:query_id AS INTEGER)) q"""


def run_as(c, user, sql, **params):
    return ENGINE.execute(c, sql, params, user, "dev")


class CancelBackend(unittest.TestCase):
    def test_the_row_that_still_runs_the_query_is_cancelled_once_and_who_did_it_is_kept(self):
        c = cluster({"pid": 4242, "query_id": 9001, "user": "alice", "started_seconds_ago": 3000,
                     "locks": [lock("sales.orders", "AccessExclusiveLock")]},
                    {"pid": 4243, "query_id": 9002, "user": "bob", "locks": [lock("sales.orders", "AccessShareLock", False)]})
        execution = run_as(c, "canceller", CANCEL_BY_SYS_ID, pid="4242", query_id="9001")
        self.assertEqual(values(execution), [[1]])
        self.assertEqual([(col["name"], col["typeName"]) for col in execution.columns], [("cancelled", "int4")])
        self.assertEqual(execution.user, "canceller")
        ended = next(q for q in c.history if q.pid == 4242)
        self.assertEqual((ended.outcome, ended.error, ended.cancelled_by, ended.cancelled_by_query_id),
                         ("cancelled", "Query cancelled on user's request", "canceller", execution.query_id))
        self.assertEqual(ended.to_json(c)["cancelled_by"], "canceller")
        # Its transaction ended with it: the waiter got its lock.
        self.assertEqual([(q.pid, [lk.granted for lk in q.locks]) for q in c.inflight], [(4243, [True])])
        rows = values(run(c, "SELECT RTRIM(status), RTRIM(error_message) FROM sys_query_history WHERE query_id = 9001"))
        self.assertEqual(rows, [["canceled", "Query cancelled on user's request"]])
        # The statement itself ran as the cancel identity.
        own = next(q for q in c.history if q.query_id == execution.query_id)
        self.assertEqual((own.user_name, own.outcome, own.cancelled_by), ("canceller", "success", None))
        # A second click finds no running row: nothing is called, nothing changes.
        again = run_as(c, "canceller", CANCEL_BY_SYS_ID, pid="4242", query_id="9001")
        self.assertEqual((values(again), again.columns[0]["name"]), ([], "cancelled"))
        self.assertEqual([q.pid for q in c.history if q.outcome == "cancelled"], [4242])

    def test_a_pid_that_now_runs_another_query_is_left_alone(self):
        c = cluster({"pid": 4242, "query_id": 9005, "state": "queued"})
        for sql in (CANCEL_BY_SYS_ID, CANCEL_BY_INFLIGHT_ID):
            self.assertEqual(values(run_as(c, "canceller", sql, pid="4242", query_id="9001")), [])
        self.assertEqual([q.pid for q in c.inflight], [4242])
        # A queued query is in sys_query_history (not in svv_query_inflight) and can be cancelled.
        self.assertEqual(values(run_as(c, "canceller", CANCEL_BY_INFLIGHT_ID, pid="4242", query_id="9005")), [])
        self.assertEqual(values(run_as(c, "canceller", CANCEL_BY_SYS_ID, pid="4242", query_id="9005")), [[1]])
        self.assertEqual((c.history[-2].pid, c.history[-2].outcome), (4242, "cancelled"))

    def test_the_inflight_form_cancels_a_query_spread_over_slices_and_chunks(self):
        c = cluster({"pid": 4242, "query_id": 9001, "slices": 4, "text": "x" * 450})
        self.assertEqual(values(run_as(c, "canceller", CANCEL_BY_INFLIGHT_ID, pid="4242", query_id="9001")), [[1]])
        self.assertEqual(c.history[0].cancelled_by, "canceller")
        # Without DISTINCT the function runs once per row (12 here): the first call cancels, the
        # others find the session without a query, as Redshift would.
        c = cluster({"pid": 4242, "query_id": 9001, "slices": 4, "text": "x" * 450})
        rows = values(run(c, "SELECT pg_cancel_backend(pid) FROM svv_query_inflight WHERE query = 9001"))
        self.assertEqual(rows, [[1]] * 12)
        self.assertEqual([q.pid for q in c.history if q.outcome == "cancelled"], [4242])

    def test_rows_are_signalled_in_result_order_and_order_by_its_name_sees_its_value(self):
        c = cluster({"pid": 1}, {"pid": 2}, {"pid": 3})
        rows = values(run(c, "SELECT pg_cancel_backend(session_id) AS c, session_id FROM sys_query_history "
                             "WHERE session_id < 4 ORDER BY c, 2 DESC"))
        self.assertEqual(rows, [[1, 3], [1, 2], [1, 1]])
        self.assertEqual([q.pid for q in c.history][:3], [3, 2, 1])

    def test_serverless_has_it_too(self):
        c = cluster({"pid": 4242, "query_id": 9001}, kind="serverless")
        self.assertEqual(values(run_as(c, "IAMR:cancel", CANCEL_BY_SYS_ID, pid="4242", query_id="9001")), [[1]])
        self.assertEqual(c.history[0].cancelled_by, "IAMR:cancel")
        self.assertIn('relation "svv_query_inflight" does not exist',
                      run(c, CANCEL_BY_INFLIGHT_ID, pid="1", query_id="1").error)

    def test_a_literal_pid_an_idle_session_an_unknown_pid_and_null(self):
        c = cluster({"pid": 1}, sessions=[{"pid": 22, "locks": [lock("t", "AccessExclusiveLock")]}])
        execution = run(c, "SELECT pg_cancel_backend(1)")
        self.assertEqual((values(execution), execution.columns[0]["name"]), ([[1]], "pg_cancel_backend"))
        self.assertEqual(c.history[-2].cancelled_by, "monitor_user")
        # An idle session runs nothing to cancel: success, and its transaction stays open.
        self.assertEqual(only(run(c, "SELECT pg_cancel_backend(22)")), 1)
        self.assertEqual(only(run(c, "SELECT COUNT(*) FROM svv_transactions WHERE pid = 22")), 2)
        # No session on that pid: Redshift's CANCEL error (its docs: functionally equivalent).
        self.assertIn("Session 4242 does not exist", run(c, "SELECT pg_cancel_backend(4242)").error)
        self.assertEqual(values(run(c, "SELECT pg_cancel_backend(NULL) AS c")), [[None]])
        self.assertEqual(only(run(c, "SELECT pg_cancel_backend(:pid)", pid="22")), 1)
        self.assertEqual(run(c, "SELECT pg_cancel_backend(:pid)", pid="22x").error, 'ERROR: invalid input syntax for integer: "22x"')

    def test_what_redshift_refuses_and_what_the_engine_cannot_run(self):
        c = cluster({"pid": 1, "query_id": 7})
        self.assertEqual(run(c, "SELECT pg_cancel_backend(query_id) FROM sys_query_history").error.splitlines()[0],
                         "ERROR: function pg_cancel_backend(bigint) does not exist")
        self.assertIn("function pg_cancel_backend() does not exist", run(c, "SELECT pg_cancel_backend()").error)
        for sql in ("SELECT 1 WHERE pg_cancel_backend(1) = 1", "SELECT pg_cancel_backend(1) + 1",
                    "SELECT DISTINCT pg_cancel_backend(pid) FROM stv_recents",
                    "SELECT * FROM (SELECT pg_cancel_backend(1)) s"):
            self.assertIn("only as whole columns of the outermost SELECT", run(c, sql).error, sql)
        self.assertEqual([q.pid for q in c.inflight], [1])  # none of them cancelled anything

    def test_a_statement_that_cancels_itself_fails_as_cancelled(self):
        c = cluster(monitor_pid=777)
        execution = run(c, "SELECT pg_cancel_backend(pg_backend_pid())")
        self.assertEqual(execution.error, "ERROR: Query cancelled on user's request")
        self.assertEqual((c.history[-1].pid, c.history[-1].outcome), (777, "cancelled"))

    def test_cancel_and_pg_terminate_backend_record_who_too(self):
        c = cluster({"pid": 1}, {"pid": 2})
        run_as(c, "ops", "CANCEL 1")
        self.assertEqual(values(run_as(c, "ops2", "SELECT pg_terminate_backend(2) AS t")), [[True]])
        self.assertEqual([(q.pid, q.cancelled_by) for q in c.history if q.pid in (1, 2)], [(1, "ops"), (2, "ops2")])


class Scenarios(unittest.TestCase):
    def test_unknown_keys_are_refused(self):
        for bad in ({"queries": [{"pid": 1, "txt": "x"}]}, {"colck": 1}, {"queries": [{"text": "no pid"}]},
                    {"kind": "dedicated"}, {"queries": [{"pid": 1}, {"pid": 1}]}):
            with self.assertRaises(model.ScenarioError):
                model.Cluster.from_scenario(bad)

    def test_bad_tables_locks_sessions_and_queues_are_refused(self):
        granted = lock("t", "AccessExclusiveLock")
        bad = [
            {"tables": [{"name": "t", "oid2": 1}]},
            {"tables": [{"name": "a.b.c"}]},
            {"tables": [{"name": "t"}, {"name": "public.t"}]},
            {"tables": [{"name": "t", "oid": 5}, {"name": "u", "oid": 5}]},
            {"tables": [{"name": "t", "oid": 2200}]},
            {"queries": [{"pid": 1, "locks": [{"table": "t", "mode": "ExclusiveLock"}]}]},
            {"queries": [{"pid": 1, "locks": [{"table": "t", "mode": "AccessShareLock", "grantd": True}]}]},
            {"queries": [{"pid": 1, "locks": [{"mode": "AccessShareLock"}]}]},
            {"queries": [{"pid": 1, "locks": [granted]}, {"pid": 2, "locks": [lock("t", "AccessShareLock")]}]},
            {"queries": [{"pid": 1, "locks": [lock("t", "AccessShareLock", False), lock("u", "AccessShareLock", False)]}]},
            {"queries": [{"pid": 1, "state": "queued", "queued_seconds": 5, "started_seconds_ago": 10}]},
            {"queries": [{"pid": 1, "queued_seconds": 50, "started_seconds_ago": 10}]},
            {"queries": [{"pid": 1, "queue": ""}]},
            {"queries": [{"pid": 1, "started_seconds_ago": 10, "transaction_started_seconds_ago": 5}]},
            {"history": [{"pid": 1, "locks": [granted]}]},
            {"sessions": [{"pid": 1, "idle": 5}]},
            {"sessions": [{"user": "x"}]},
            {"sessions": [{"pid": 1, "locks": [lock("t", "AccessShareLock", False)]}]},
            {"sessions": [{"pid": 1, "idle_seconds": 60, "transaction_started_seconds_ago": 30}]},
            {"sessions": [{"pid": 1}], "queries": [{"pid": 1}]},
            {"sessions": [{"pid": 1}, {"pid": 1}]},
            {"sessions": [{"pid": 7}], "monitor_pid": 7},
            {"sessions": [{"pid": 1, "locks": [granted]}, {"pid": 2, "locks": [granted]}]},
            {"sessions": "none"},
        ]
        for scenario in bad:
            with self.subTest(scenario=scenario), self.assertRaises(model.ScenarioError):
                model.Cluster.from_scenario(scenario)
        # Locks that do not conflict are held together; a transaction never blocks itself.
        model.Cluster.from_scenario({"queries": [
            {"pid": 1, "locks": [lock("t", "AccessShareLock"), lock("t", "AccessExclusiveLock")]},
            {"pid": 2, "locks": [lock("u", "ShareRowExclusiveLock"), lock("t", "AccessShareLock", False)]},
            {"pid": 3, "locks": [lock("u", "AccessShareLock")]},
        ]})

    def test_the_model_as_json_has_tables_queues_locks_and_sessions(self):
        c = cluster({"pid": 1, "queue": "etl", "queued_seconds": 1.5, "started_seconds_ago": 10,
                     "transaction_started_seconds_ago": 20, "locks": [lock("s.t", "AccessShareLock")]},
                    sessions=[{"pid": 2, "user": "u", "idle_seconds": 5}])
        out = c.to_json()
        self.assertEqual(out["queues"], [{"name": "Default queue", "service_class": 100}, {"name": "etl", "service_class": 101}])
        self.assertEqual(out["tables"], [{"name": "s.t", "oid": 100001}])
        query = out["queries"][0]
        self.assertEqual((query["queue"], query["queued_seconds"], query["transaction_start"]), ("etl", 1.5, "2026-11-28T09:45:10.750000Z"))
        self.assertEqual(query["locks"], [{"table": "s.t", "oid": 100001, "mode": "AccessShareLock", "granted": True}])
        session = out["sessions"][0]
        self.assertEqual((session["pid"], session["user"], session["last_end_time"]), (2, "u", "2026-11-28T09:45:25.750000Z"))
        self.assertEqual(out["history"][0]["text"], "BEGIN")

    def test_start_times_keep_microseconds_and_the_clock_moves_when_told(self):
        c = cluster({"pid": 1, "started_seconds_ago": 0.000123})
        self.assertEqual(c.inflight[0].start.isoformat(), "2026-11-28T09:45:30.749877")
        c.advance(600)
        self.assertEqual(only(run(c, "SELECT GETDATE()")), "2026-11-28 09:55:30")

    def test_a_running_clock_follows_real_time(self):
        c = model.Cluster.from_scenario({"now": NOW})
        first = c.now()
        self.assertGreater(c.now(), first)


if __name__ == "__main__":
    unittest.main()
