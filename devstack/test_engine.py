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


class Scenarios(unittest.TestCase):
    def test_unknown_keys_are_refused(self):
        for bad in ({"queries": [{"pid": 1, "txt": "x"}]}, {"colck": 1}, {"queries": [{"text": "no pid"}]},
                    {"kind": "dedicated"}, {"queries": [{"pid": 1}, {"pid": 1}]}):
            with self.assertRaises(model.ScenarioError):
                model.Cluster.from_scenario(bad)

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
