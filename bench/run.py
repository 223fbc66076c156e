#!/usr/bin/env python3
"""Benchmark driver: the release binary and the Python peer as Lambda functions, side by side.

Starts the local stack (devstack/stack.py: moto for Secrets Manager, the Data API stand-in, the
Slack receiver and the Lambda Runtime API harness) on loopback, then launches each function exactly as Lambda would
(a fresh process with AWS_LAMBDA_RUNTIME_API and the usual AWS_LAMBDA_* variables) and measures:

  init      process spawn -> first GET /runtime/invocation/next (runtime_api first_next_ns)
  overhead  handler wall time (runtime_api duration_ms) minus the statement's scripted running
            time, for statements of 0 ms, 300 ms and 3 s, with the DescribeStatement count
  scale     1, 100 and 2,000 queries over pages of 100 rows, realistic text (what the SQL can
            return: 15 chunks, 3,000 characters) and the stand-in's worst case (60 KB a row):
            wall time, Slack messages, peak RSS (VmHWM) and CPU time (utime+stime) of the process
  footprint the binary, its zip, the arm64 bootstrap zip when one was built
  thread    ALERT_MODE=thread (Rust only): init with the thread-mode environment against the
            window-mode one, and warm runs over a state table of 0 and 1,000 ended items while
            one long query runs in the cluster model, first seen (a parent is posted) and already
            followed (its parent is updated): wall, CPU, the DynamoDB calls by operation as the
            fault front in front of moto saw them, and the bytes of the items the Query read
  diagnostics  the side checks (queued, blocking, idle_transactions; Rust only): warm runs over
            the cluster model, nothing found, 5 long queries, and a pile-up (2 of them waiting
            on an idle session's lock, 1 queued query, 20 short idle sessions), each with the
            checks on (default) and off ({"checks": []} in the event): wall, CPU, the Data API
            calls by operation, the result's rows and bytes, and the stand-in's engine time on
            each statement (replayed here: a proxy for Redshift's work)

Every figure is a median over repeated runs. Run by scripts/bench (with the devstack's Python,
.venv), which builds the binary and prepares the two virtualenvs. See docs/performance.md.

The statement's rows are scripted here, not computed by the stand-in's SQL engine: the figures
need a statement whose running time is exactly the scripted delay, and the worst case (60 KB of
text a row) is beyond what the product's SQL can return.
The thread phase is the exception: its statement runs against the stand-in's cluster model (one
query, 40 minutes old, on a frozen clock), because thread mode's statement has its own columns;
its window-mode comparison runs over the same model. So does the diagnostics phase: the side
checks' rows only come from the views the statement reads.
"""

import argparse
import collections
import http.client
import json
import os
import platform
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "devstack"))

import redshift_model  # noqa: E402
import samples  # noqa: E402
import stack as devstack  # noqa: E402

SECRET_ID = "bench/redshift-long-query-alert"
BENCH_CLUSTER = "analytics-bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CERT_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PAGE_SIZE = 100

COLUMNS = [
    {"name": "user_name", "type": "name"},
    {"name": "pid", "type": "int4"},
    {"name": "query_id", "type": "int4"},
    {"name": "start_time", "type": "timestamp"},
    {"name": "elapsed_minutes", "type": "int8"},
    {"name": "query_text", "type": "varchar"},
    {"name": "text_truncated", "type": "bool"},
]

# Thread mode: its own secret (a bot token and channel of the Slack stand-in's default
# workspace, beside the webhook), its state table in moto, and the one long query it follows.
THREAD_SECRET_ID = "bench/redshift-long-query-alert-thread"
THREAD_TABLE = "bench-redshift-long-query-alert-state"
BOT_TOKEN = "xoxb-local-test-token"  # devstack/slack_web.py's default workspace
CHANNEL = "C0ALERTS01"
DATABASE = "dev"
# src/state/mod.rs::partition: `<kind>:<target>/<database>#<channel>`.
PARTITION = f"cluster:{BENCH_CLUSTER}/{DATABASE}#{CHANNEL}"
LONG_PID, LONG_QUERY_ID = 1073745001, 5_100_001
LONG_MINUTES = 40  # past the 30-minute threshold, short of the critical 60: no critical reply


# ----- small HTTP helpers ------------------------------------------------------------------
def request(port, method, path, body=None, headers=None, timeout=300):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        conn.request(method, path, body=data, headers=headers or {})
        answer = conn.getresponse()
        raw = answer.read()
        return answer.status, raw
    finally:
        conn.close()


def control(port, method, path, body=None, timeout=300):
    status, raw = request(port, method, path, body, timeout=timeout)
    if status >= 300:
        raise RuntimeError(f"{method} {path} on port {port}: HTTP {status} {raw[:300]!r}")
    return json.loads(raw) if raw.strip() else None


# ----- the local stack ---------------------------------------------------------------------
class Stack:
    def __init__(self, devstack_python):
        self.stack = devstack.start(python=devstack_python)
        ports = self.stack.ports
        self.moto_port, self.data_api, self.slack, self.runtime, self.dynamo = (
            ports["moto"], ports["dataapi"], ports["slack"], ports["runtime"], ports["dynamo"])
        self.stack.put_secret(SECRET_ID, samples.secret(self.slack, cluster=BENCH_CLUSTER))

    def env(self):
        return self.stack.env()

    def script_rows(self, rows, delay_ms=0):
        control(self.data_api, "POST", "/_control/reset")
        control(self.data_api, "POST", "/_control/script", {
            "delay_ms": delay_ms, "outcome": "finished", "columns": COLUMNS,
            "rows": rows, "page_size": PAGE_SIZE,
        })

    def calls(self):
        return control(self.data_api, "GET", "/_control/calls")

    def slack_messages(self):
        return len(control(self.slack, "GET", "/_control/received"))

    # ----- thread mode -----
    def setup_thread(self):
        """The thread secret (bot token and channel beside the webhook), and the cluster's clock,
        frozen at the wall clock of this call, so every run sees the same query at the same age."""
        self.stack.put_secret(THREAD_SECRET_ID, {**samples.secret(self.slack, cluster=BENCH_CLUSTER),
                                                 "slack_bot_token": BOT_TOKEN, "slack_channel": CHANNEL})
        self.cluster_now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        control(self.slack, "POST", "/_control/reset")

    def load_long_query(self):
        """The cluster model with the one long query, reloaded before each run: the same query
        (fixed pid, query id, frozen clock), and a history that does not grow run after run."""
        control(self.data_api, "POST", "/_control/script", {})  # no scripted rows: the model answers
        control(self.data_api, "POST", "/_control/cluster", {
            "kind": "provisioned", "now": self.cluster_now, "frozen": True,
            "queries": [{"pid": LONG_PID, "query_id": LONG_QUERY_ID, "user": "analyst042",
                         "started_seconds_ago": LONG_MINUTES * 60 + 12,
                         "text": samples.report_text(LONG_PID, 3_000)}],
        })

    def dynamodb(self, operation, body, port=None):
        status, answer = devstack.dynamodb(port or self.moto_port, operation, body)
        if status != 200:
            raise RuntimeError(f"DynamoDB {operation}: HTTP {status} {str(answer)[:300]}")
        return answer

    def fill_table(self, count):
        """A fresh state table holding `count` ended items of the bench's partition; returns
        the items as written."""
        devstack.dynamodb(self.moto_port, "DeleteTable", {"TableName": THREAD_TABLE})  # may not exist
        devstack.create_table(self.moto_port, THREAD_TABLE)
        items = [ended_item(i, int(time.time())) for i in range(count)]
        for at in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[at:at + 25]]
            answer = self.dynamodb("BatchWriteItem", {"RequestItems": {THREAD_TABLE: batch}})
            if answer.get("UnprocessedItems"):
                raise RuntimeError(f"moto left items unprocessed: {str(answer)[:300]}")
        return items

    def forget_long_query(self):
        """Deletes the long query's item (in moto, not through the front): the next run sees
        it for the first time."""
        self.dynamodb("DeleteItem", {"TableName": THREAD_TABLE, "Key": {
            "pk": {"S": PARTITION}, "sk": {"S": f"{LONG_PID}#{LONG_QUERY_ID}"}}})

    def read_partition(self, port=None):
        """The function's read, made here: Query on the partition, consistent, every page.
        Returns (items, pages, response bytes, ms)."""
        items, pages, wire, start_key = [], 0, 0, None
        headers = {"Content-Type": "application/x-amz-json-1.0",
                   "X-Amz-Target": "DynamoDB_20120810.Query",
                   "Authorization": devstack.unchecked_sigv4("dynamodb")}
        started = time.perf_counter()
        while True:
            body = {"TableName": THREAD_TABLE, "KeyConditionExpression": "pk = :pk",
                    "ExpressionAttributeValues": {":pk": {"S": PARTITION}}, "ConsistentRead": True}
            if start_key:
                body["ExclusiveStartKey"] = start_key
            status, raw = request(port or self.moto_port, "POST", "/", body, headers)
            if status != 200:
                raise RuntimeError(f"DynamoDB Query: HTTP {status} {raw[:300]!r}")
            page = json.loads(raw)
            pages += 1
            wire += len(raw)
            items.extend(page.get("Items", []))
            start_key = page.get("LastEvaluatedKey")
            if not start_key:
                return items, pages, wire, (time.perf_counter() - started) * 1000

    def dynamo_calls(self):
        return control(self.dynamo, "GET", "/_control/calls")

    def web_calls(self):
        return control(self.slack, "GET", "/_control/web/calls")

    def close(self):
        self.stack.stop()


# ----- result rows, shaped as the statement returns them -----------------------------------
def aggregated(text, max_chunks):
    """What the statement's LISTAGG returns: the stored chunks, RTRIM'd, each after U+001E."""
    chunks = redshift_model.chunks(redshift_model.stored_text(text), redshift_model.INFLIGHT_CHUNK)
    truncated = max_chunks is not None and len(chunks) > max_chunks
    if max_chunks is not None:
        chunks = chunks[:max_chunks]
    return "".join("\x1e" + c.rstrip() for c in chunks), truncated


def make_rows(count, text_bytes, max_chunks):
    rows = []
    for i in range(count):
        pid = 10_000 + i
        agg, truncated = aggregated(samples.report_text(pid, text_bytes), max_chunks)
        rows.append(
            [f"analyst_{i % 37}", pid, pid * 10, "2026-11-28 09:15:00.250000", 45, agg, truncated]
        )
    return rows


# ----- thread mode's state items ------------------------------------------------------------
def ended_item(i, now):
    """An ended item as thread mode leaves it (src/state/store.rs: claim, then Open, then
    Ended; `claim` and `lease_until` removed), with realistic sizes: Redshift pids and query
    ids, a Slack ts, 10-character user names, times within the last day."""
    start = now - 86_400 + 80 * i
    seen = start + 1_800 + (i * 37) % 1_800
    return {
        "pk": {"S": PARTITION},
        "sk": {"S": f"{1073741824 + i}#{4_000_000 + 7 * i}"},
        "phase": {"S": "ended"},
        "ts": {"S": f"{seen}.{(i + 1) * 100 % 1_000_000:06d}"},
        "outcome": {"S": "finished"},
        "start": {"N": str(start)},
        "seen_running": {"N": str(seen)},
        "sys_id": {"BOOL": False},
        "expires_at": {"N": str(now + 86_400)},
        "user": {"S": f"analyst{i % 100:03d}"},
    }


def item_bytes(item):
    """An item's size as DynamoDB counts it (and bills reads by): each attribute's name in
    UTF-8 plus its value; a string its UTF-8 bytes, a number 1 byte per two significant digits
    plus 1, a boolean 1."""
    total = 0
    for name, value in item.items():
        (kind, v), = value.items()
        total += len(name.encode("utf-8"))
        if kind == "S":
            total += len(v.encode("utf-8"))
        elif kind == "N":
            digits = v.lstrip("-").replace(".", "").strip("0") or "0"
            total += (len(digits) + 1) // 2 + 1
        elif kind in ("BOOL", "NULL"):
            total += 1
        else:
            raise ValueError(f"no size rule here for {kind}")
    return total


# ----- a function process under the Runtime API harness ------------------------------------
class Function:
    def __init__(self, name, argv, cwd, env, stack, workdir):
        self.name, self.argv, self.cwd, self.env, self.stack = name, argv, cwd, env, stack
        self.log_path = workdir / f"{name}.log"
        self.proc = None

    def spawn(self):
        """Starts a fresh process; returns its init time in ms (spawn -> first /next)."""
        control(self.stack.runtime, "POST", "/_control/reset")
        log = open(self.log_path, "ab")
        spawned_ns = time.time_ns()
        self.proc = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )
        give_up = time.monotonic() + 60
        while True:
            stats = control(self.stack.runtime, "GET", "/_control/stats")
            if stats["first_next_ns"]:
                return (stats["first_next_ns"] - spawned_ns) / 1e6
            if self.proc.poll() is not None or time.monotonic() > give_up:
                raise RuntimeError(f"{self.name} never asked for an invocation; see {self.log_path}")
            time.sleep(0.01)

    def invoke(self, event=None, deadline_ms=120_000):
        result = control(
            self.stack.runtime, "POST", "/_control/invoke",
            {"event": event or {}, "deadline_ms": deadline_ms, "timeout_ms": deadline_ms + 30_000},
            timeout=deadline_ms / 1000 + 60,
        )
        if result.get("status") != "ok":
            raise RuntimeError(f"{self.name} invocation failed: {json.dumps(result)[:800]}")
        return result

    def status_kb(self, field):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"no {field} in /proc/{self.proc.pid}/status")

    def cpu_sample(self):
        """(utime+stime of the whole process from /proc/PID/stat, in s: all threads, exited
        ones too, but counted in 10 ms clock ticks; nanosecond run time of each live thread
        from /proc/PID/task/*/schedstat)."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        ticks = (int(fields[11]) + int(fields[12])) / CLK_TCK
        threads = {}
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                threads[task.name] = int((task / "schedstat").read_text().split()[0]) / 1e9
            except (OSError, ValueError, IndexError):
                pass
        return ticks, threads

    @staticmethod
    def cpu_delta(before, after):
        """CPU seconds between two samples: the precise per-thread figure when no thread
        ended in between, else the tick count."""
        if set(before[1]) <= set(after[1]):
            return sum(after[1].values()) - sum(before[1].values())
        return after[0] - before[0]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def median(values):
    return statistics.median(values) if values else float("nan")


# ----- the measurements --------------------------------------------------------------------
SMALL_ROWS = None


def small_rows():
    global SMALL_ROWS
    if SMALL_ROWS is None:
        SMALL_ROWS = make_rows(1, 60_000, 15)
    return SMALL_ROWS


def init_once(fn, samples_):
    """One fresh process: init time, its CPU and RSS, then the first (cold) invocation, its CPU
    and the peak RSS after it, appended to `samples_` (a dict of lists)."""
    samples_["inits"].append(fn.spawn())
    at_init = fn.cpu_sample()
    samples_["init_cpus"].append(max(at_init[0], sum(at_init[1].values())))
    samples_["init_hwms"].append(fn.status_kb("VmHWM") / 1024)
    samples_["colds"].append(fn.invoke()["duration_ms"])
    samples_["cold_cpus"].append(fn.cpu_delta(at_init, fn.cpu_sample()))
    samples_["hwms"].append(fn.status_kb("VmHWM") / 1024)
    fn.stop()


def init_figures(samples_):
    return {"init_ms": median(samples_["inits"]), "init_all": samples_["inits"],
            "init_cpu_ms": median(samples_["init_cpus"]) * 1000,
            "init_hwm_mb": median(samples_["init_hwms"]),
            "cold_invoke_ms": median(samples_["colds"]), "cold_all": samples_["colds"],
            "cold_cpu_ms": median(samples_["cold_cpus"]) * 1000,
            "cold_hwm_mb": median(samples_["hwms"])}


def measure_init(fn, stack, runs):
    """Fresh process each run: init time, first (cold) invocation, and its peak RSS."""
    samples_ = collections.defaultdict(list)
    for _ in range(runs):
        stack.script_rows(small_rows())
        control(stack.slack, "POST", "/_control/reset")
        init_once(fn, samples_)
    return init_figures(samples_)


def measure_overhead(fn, stack, delays, runs):
    """One warm process: wall minus the statement's delay, DescribeStatement calls, and how
    long after FINISHED the last DescribeStatement came."""
    out = {}
    fn.spawn()
    stack.script_rows(small_rows())
    fn.invoke()  # warm: connections open, secret cached, as on a scheduled warm container
    for delay in delays:
        overheads, describes, lags = [], [], []
        for _ in range(runs):
            stack.script_rows(small_rows(), delay_ms=delay)
            control(stack.slack, "POST", "/_control/reset")
            result = fn.invoke()
            calls = stack.calls()
            overheads.append(result["duration_ms"] - delay)
            describe = [c for c in calls if c["operation"] == "DescribeStatement"]
            describes.append(len(describe))
            execute = next(c for c in calls if c["operation"] == "ExecuteStatement")
            lags.append((describe[-1]["at"] - execute["at"]) * 1000 - delay)
        out[delay] = {"wall_ms": median(overheads) + delay, "overhead_ms": median(overheads), "describe_calls": median(describes),
                      "notice_lag_ms": median(lags), "all": overheads}
    fn.stop()
    return out


def measure_scale(fn, stack, rows, runs):
    """Fresh process, one small warm-up, then `runs` invocations over `rows`."""
    fn.spawn()
    stack.script_rows(small_rows())
    fn.invoke()
    stack.script_rows(rows)
    walls, cpus, messages = [], [], []
    for _ in range(runs):
        control(stack.slack, "POST", "/_control/reset")
        before = fn.cpu_sample()
        result = fn.invoke()
        cpus.append(fn.cpu_delta(before, fn.cpu_sample()))
        walls.append(result["duration_ms"])
        messages.append(stack.slack_messages())
    hwm = fn.status_kb("VmHWM") / 1024
    fn.stop()
    return {"wall_ms": median(walls), "cpu_ms": median(cpus) * 1000, "messages": messages[-1],
            "hwm_mb": hwm, "all": walls}


# ----- thread mode ---------------------------------------------------------------------------
def measure_thread_init(window_fn, thread_fn, stack, runs):
    """The init measurement above, for the window-mode and the thread-mode environment,
    alternating (a drift of the machine then hits both alike). The first invocation runs over
    the cluster model: window mode posts its webhook message, thread mode updates the parent
    of the query it follows (the table as the per-run phase left it)."""
    samples_ = {"window": collections.defaultdict(list), "thread": collections.defaultdict(list)}
    for n in range(runs):
        pair = [("window", window_fn), ("thread", thread_fn)]
        for name, fn in (pair if n % 2 == 0 else pair[::-1]):
            stack.load_long_query()
            init_once(fn, samples_[name])
    return {name: init_figures(v) for name, v in samples_.items()}


def measure_thread_runs(fn, stack, count, runs):
    """A fresh process over a table of `count` ended items; after one warm-up (which posts the
    parent), `runs` pairs of warm invocations: the query first seen (its item deleted just
    before: claim, post, record) and already followed (its parent updated). DynamoDB calls are
    counted by the fault front the function talks to; the bytes read by a Query made here on the
    same partition, just before the first run of each case. Each first-seen run starts a second
    after the previous post, so the function's own posting pace never makes it wait."""
    written = stack.fill_table(count)
    fn.spawn()
    stack.load_long_query()
    fn.invoke()
    out = {"items": count, "items_written_bytes": sum(item_bytes(i) for i in written)}
    cases = {"first_seen": collections.defaultdict(list), "followed": collections.defaultdict(list)}
    for n in range(runs):
        for case, got in cases.items():
            stack.load_long_query()
            if case == "first_seen":
                stack.forget_long_query()
                # The function paces chat.postMessage per channel (3 at once, then 1 a second:
                # src/slack/web_api.rs); runs a second apart leave its bucket full, as a
                # 5-minute schedule does, so no run waits for its turn.
                time.sleep(1.1)
            if n == 0:
                items, pages, wire, _ = stack.read_partition()
                got["read_items"] = len(items)
                got["read_pages"] = pages
                got["read_item_bytes"] = sum(item_bytes(i) for i in items)
                got["read_response_bytes"] = wire
            control(stack.dynamo, "POST", "/_control/reset")
            web_before = len(stack.web_calls())
            before = fn.cpu_sample()
            result = fn.invoke()
            got["cpu"].append(fn.cpu_delta(before, fn.cpu_sample()))
            got["wall"].append(result["duration_ms"])
            dynamo = stack.dynamo_calls()
            web = stack.web_calls()[web_before:]
            got["ops"].append(dict(collections.Counter(c["operation"] for c in dynamo)))
            got["web"].append(collections.Counter(c["method"] for c in web))
            # The Query's round trip as the function lived it: from its arrival at the front to
            # the arrival of the run's next call (DynamoDB or Slack), so the stand-in's time
            # plus the function's reading of the answer.
            query_at = next((c["at"] for c in dynamo if c["operation"] == "Query"), None)
            later = [c["at"] for c in dynamo + web if query_at and c["at"] > query_at]
            gap = (min(later) - query_at) * 1000 if later else float("nan")
            got["query_gap"].append(gap)
            got["wall_less_gap"].append(result["duration_ms"] - gap)
            got["summary"].append(result["response"].get("thread") or {})
    out["hwm_mb"] = fn.status_kb("VmHWM") / 1024
    fn.stop()
    for case, got in cases.items():
        ops = sorted({op for run in got["ops"] for op in run})
        summary = got["summary"]
        expected = "posted" if case == "first_seen" else "updated"
        odd = [s for s in summary if s.get(expected) != 1]
        if odd:
            log(f"thread {count} items, {case}: {len(odd)} run(s) did not do what the case is "
                f"about ({expected} != 1): {odd[0]}")
        out[case] = {
            "wall_ms": median(got["wall"]), "all": got["wall"], "cpu_ms": median(got["cpu"]) * 1000,
            "query_to_next_call_ms": median(got["query_gap"]),
            "wall_less_query_ms": median(got["wall_less_gap"]),
            # DynamoDB calls a run, as the fault front saw them (median per operation, and
            # the largest number of Query calls any run made).
            "dynamo_calls": {op: median([run.get(op, 0) for run in got["ops"]]) for op in ops},
            "dynamo_calls_total": median([sum(run.values()) for run in got["ops"]]),
            "query_calls_max": max(run.get("Query", 0) for run in got["ops"]),
            "slack_calls": {m: median([run.get(m, 0) for run in got["web"]])
                            for m in sorted({m for run in got["web"] for m in run})},
            # What the function says it did (its summary's `thread`).
            "state_reads": median([s.get("state_reads", 0) for s in summary]),
            "state_writes": median([s.get("state_writes", 0) for s in summary]),
            "followed": median([s.get("followed", 0) for s in summary]),
            "posted": median([s.get("posted", 0) for s in summary]),
            "updated": median([s.get("updated", 0) for s in summary]),
            "read_items": got["read_items"], "read_pages": got["read_pages"],
            "read_item_bytes": got["read_item_bytes"],
            # A strongly consistent Query is billed by the sum of its items' sizes, 4 KB a unit.
            "read_capacity_units": max(1, -(-got["read_item_bytes"] // 4096)),
            "read_response_bytes": got["read_response_bytes"],
        }
    # The stand-in's own share of a run: the same Query made here, to moto and through the front.
    out["query_ms_moto"] = median([stack.read_partition()[3] for _ in range(7)])
    out["query_ms_front"] = median([stack.read_partition(stack.dynamo)[3] for _ in range(7)])
    control(stack.dynamo, "POST", "/_control/reset")
    return out


def measure_window_model(fn, stack, runs):
    """Window mode over the same cluster model (one query in its window: one webhook message a
    run), warm: the comparison for the thread runs."""
    fn.spawn()
    stack.load_long_query()
    fn.invoke()
    walls, cpus, messages = [], [], []
    for _ in range(runs):
        stack.load_long_query()
        received = len(control(stack.slack, "GET", "/_control/received"))
        before = fn.cpu_sample()
        result = fn.invoke()
        cpus.append(fn.cpu_delta(before, fn.cpu_sample()))
        walls.append(result["duration_ms"])
        messages.append(len(control(stack.slack, "GET", "/_control/received")) - received)
    hwm = fn.status_kb("VmHWM") / 1024
    fn.stop()
    return {"wall_ms": median(walls), "all": walls, "cpu_ms": median(cpus) * 1000,
            "messages": median(messages), "hwm_mb": hwm}


# ----- the diagnostics (side checks in the same statement) ---------------------------------
# The event that turns every side check off, leaving the long-query part alone.
CHECKS_OFF = {"checks": []}
DIAG_CASES = [
    ("nothing", "nothing found: an empty cluster"),
    ("long5", "5 long queries, nothing blocked"),
    ("pileup", "pile-up: 5 long (2 waiting on an idle session's lock), 1 queued, 20 short idle"),
]


def diag_scenario(case, now):
    """The cluster model of a diagnostics case, on a frozen clock (every run sees the same ages).
    Long queries are 31 to 55 minutes old: inside the window of the 30-minute threshold."""
    scenario = {"kind": "provisioned", "now": now, "frozen": True}
    if case == "nothing":
        return scenario
    queries = []
    for i in range(5):
        pid = 1073746001 + i
        queries.append({
            "pid": pid, "query_id": 5_200_001 + i, "user": f"analyst{i:03d}",
            "started_seconds_ago": 60 * (31 + 6 * i) + 12.5,
            "text": samples.report_text(pid, 3_000),
            "queue": "etl" if i % 2 else "Default queue", "queued_seconds": 4.5 * i,
            # A SELECT holds AccessShareLock on what it reads: locks to scan, none that conflict.
            "locks": [{"table": f"sales.part_{i}", "mode": "AccessShareLock"}],
        })
    scenario["queries"] = queries
    if case == "long5":
        return scenario
    # Two of the five wait for sales.orders, which an idle session holds exclusively.
    queries[3]["locks"].append({"table": "sales.orders", "mode": "AccessShareLock",
                                "granted": False})
    queries[4]["locks"] = [{"table": "sales.orders", "mode": "ShareRowExclusiveLock",
                            "granted": False}]
    queries.append({"pid": 1073746101, "query_id": 5_200_101, "user": "etl_loader",
                    "started_seconds_ago": 60 * 33 + 5, "state": "queued", "queue": "etl",
                    "text": "VACUUM sales.events"})
    sessions = [{"pid": 1073747001, "user": "etl_loader", "transaction_started_seconds_ago": 50 * 60,
                 "idle_seconds": 45 * 60, "last_statement": "LOCK sales.orders",
                 "locks": [{"table": "sales.orders", "mode": "AccessExclusiveLock"}]}]
    # A pool of application sessions: a transaction open, idle a few seconds to 10 minutes
    # (below the threshold), a read lock each.
    for i in range(20):
        sessions.append({"pid": 1073747101 + i, "user": f"app_{i % 4}",
                         "idle_seconds": 15 + 30 * i,
                         "last_statement": f"SELECT * FROM reporting.dim_{i % 5} WHERE id = {i}",
                         "locks": [{"table": f"reporting.dim_{i % 5}", "mode": "AccessShareLock"}]})
    scenario["sessions"] = sessions
    return scenario


class TimedConnection:
    """Stands in for the stand-in engine's DuckDB connection and times its calls: the view
    tables rebuilt from the model (CREATE OR REPLACE TABLE), and the statement itself."""

    def __init__(self, con):
        self.con, self.load_s, self.loads, self.last_sql = con, 0.0, 0, None
        self.views = set()

    def execute(self, sql, *args):
        started = time.perf_counter()
        answer = self.con.execute(sql, *args)
        if sql.startswith("CREATE OR REPLACE TABLE"):
            self.load_s += time.perf_counter() - started
            self.loads += 1
            self.views.add(sql.split('"')[1])
        else:
            self.last_sql = sql
        return answer

    def __getattr__(self, name):
        return getattr(self.con, name)


def engine_replay(scenario, requests, runs):
    """The stand-in's work on each variant's statement, replayed here on the same cluster model:
    the recorded ExecuteStatement (SQL, parameters, user) through one `sqlexec.Engine`, a
    warm-up of each, then `runs` rounds, the variants taking turns (so a busy moment of the
    machine hits both), each statement on a freshly loaded model. Per variant, medians of the
    whole execution (sqlglot reading and rewriting the SQL, the view tables rebuilt, DuckDB),
    wall and CPU time of this process, and of DuckDB alone running the rewritten statement over
    the views just loaded (execute and fetch), the part closest to Redshift's own work; plus the
    rows it returned."""
    import sqlexec  # the stand-in's engine (duckdb, sqlglot): only this phase needs it

    engine = sqlexec.Engine()
    timed = TimedConnection(engine.con)
    engine.con = timed
    got = {v: collections.defaultdict(list) for v in requests}
    for n in range(runs + 1):
        order = list(requests) if n % 2 == 0 else list(requests)[::-1]
        for variant in order:
            request, g = requests[variant], got[variant]
            params = {p["name"]: p["value"] for p in request.get("Parameters") or []}
            cluster = redshift_model.Cluster.from_scenario(scenario)
            timed.load_s, timed.loads, timed.views = 0.0, 0, set()
            wall, cpu = time.perf_counter(), time.process_time()
            run = engine.execute(cluster, request["Sql"], params,
                                 request.get("DbUser") or "awsuser", request["Database"])
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if run.error:
                raise RuntimeError(f"the replayed statement failed: {run.error}")
            duck_wall, duck_cpu = time.perf_counter(), time.process_time()
            timed.con.execute(timed.last_sql).fetchall()
            duck_wall, duck_cpu = time.perf_counter() - duck_wall, time.process_time() - duck_cpu
            g["rows"] = len(run.records)
            g["view_names"] = sorted(timed.views)
            if n == 0:
                continue  # the warm-up
            g["engine"].append(wall * 1000)
            g["engine_cpu"].append(cpu * 1000)
            g["load"].append(timed.load_s * 1000)
            g["views"].append(timed.loads)
            g["duck"].append(duck_wall * 1000)
            g["duck_cpu"].append(duck_cpu * 1000)
    return {variant: {
        "engine_ms": median(g["engine"]), "engine_all": g["engine"],
        "engine_cpu_ms": median(g["engine_cpu"]),
        "view_load_ms": median(g["load"]), "views_loaded": median(g["views"]),
        "duckdb_ms": median(g["duck"]), "duckdb_all": g["duck"],
        "duckdb_cpu_ms": median(g["duck_cpu"]), "replay_rows": g["rows"],
        "views": g["view_names"],
    } for variant, g in got.items()}


def measure_diagnostics(fn, stack, runs, replay_runs):
    """Warm invocations over each case, with the side checks on (the secret's default, no
    `checks` key) and off (`{"checks": []}` in the event), alternating which goes first. The
    cluster model is reloaded before each run (the statement enters its history); the script is
    the default one for both (no scripted delay: the statement is FINISHED at its first
    DescribeStatement). Per run: the harness's wall, the process's CPU, the Data API calls by
    operation (the stand-in's /_control/calls), the statement's result as the stand-in
    describes it, the gap from ExecuteStatement's arrival to the next call's, and the webhook
    posts. Then the stand-in's engine work on each variant's statement, replayed here."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def load(case):
        control(stack.data_api, "POST", "/_control/reset")  # calls, statements and script
        control(stack.data_api, "POST", "/_control/script", {"delay_ms": 0})  # both variants
        control(stack.data_api, "POST", "/_control/cluster", diag_scenario(case, now))
        control(stack.slack, "POST", "/_control/reset")

    fn.spawn()
    load("pileup")
    fn.invoke()  # warm: connections open, secret cached
    fn.invoke(CHECKS_OFF)
    variants = {"on": None, "off": CHECKS_OFF}
    out = {}
    for case, _label in DIAG_CASES:
        got = {v: collections.defaultdict(list) for v in variants}
        for n in range(runs):
            order = list(variants) if n % 2 == 0 else list(variants)[::-1]
            for variant in order:
                g = got[variant]
                load(case)
                before = fn.cpu_sample()
                result = fn.invoke(variants[variant])
                g["cpu"].append(fn.cpu_delta(before, fn.cpu_sample()))
                g["wall"].append(result["duration_ms"])
                calls = stack.calls()
                g["ops"].append(dict(collections.Counter(c["operation"] for c in calls)))
                execute = [c for c in calls if c["operation"] == "ExecuteStatement"]
                later = [c["at"] for c in calls if execute and c["at"] > execute[0]["at"]]
                gap = (min(later) - execute[0]["at"]) * 1000 if later else float("nan")
                g["execute_gap"].append(gap)
                # The function's own time around it: wall less that gap.
                g["wall_less_gap"].append(result["duration_ms"] - gap)
                statements = control(stack.data_api, "GET", "/_control/statements")
                g["result_rows"].append(sum(s["ResultRows"] for s in statements))
                g["result_bytes"].append(sum(s["ResultSize"] for s in statements))
                g["posts"].append(stack.slack_messages())
                summary = result["response"]
                g["summary"].append({
                    "checks": summary.get("checks"),
                    "queries": len(summary.get("queries") or []),
                    "queued": sum(1 for q in summary.get("queries") or []
                                  if q.get("state") == "queued"),
                    "blocked": sum(1 for q in summary.get("queries") or [] if q.get("blocked_by")),
                    "idle_transactions": len(summary.get("idle_transactions") or []),
                    "describe_calls": summary.get("describe_calls"),
                })
                if n == runs - 1:
                    g["request"] = execute[0]["request"] if execute else None
        out[case] = {}
        log(f"rust: diagnostics {case}: the stand-in's engine on both statements "
            f"x{replay_runs}")
        replays = engine_replay(diag_scenario(case, now),
                                {v: g["request"] for v, g in got.items()}, replay_runs)
        for variant, g in got.items():
            ops = sorted({op for run in g["ops"] for op in run})
            odd = [run for run in g["ops"] if run.get("ExecuteStatement", 0) != 1]
            if odd:
                log(f"diagnostics {case}, checks {variant}: {len(odd)} run(s) without exactly one "
                    f"ExecuteStatement: {odd[0]}")
            out[case][variant] = {
                "wall_ms": median(g["wall"]), "all": g["wall"], "cpu_ms": median(g["cpu"]) * 1000,
                "data_api_calls": {op: median([run.get(op, 0) for run in g["ops"]]) for op in ops},
                "execute_calls_max": max(run.get("ExecuteStatement", 0) for run in g["ops"]),
                "execute_calls_min": min(run.get("ExecuteStatement", 0) for run in g["ops"]),
                "execute_to_next_call_ms": median(g["execute_gap"]),
                "wall_less_execute_ms": median(g["wall_less_gap"]),
                "result_rows": median(g["result_rows"]), "result_bytes": median(g["result_bytes"]),
                "slack_posts": median(g["posts"]),
                "found": g["summary"][-1],
                "sql_chars": len(g["request"]["Sql"]) if g["request"] else None,
                **replays[variant],
            }
    fn.stop()
    return out


def report_diagnostics(diag, out):
    """The side checks' figures (Rust only): each case with the checks on and off."""
    print("\nDiagnostics (Rust, warm; checks on = the default, off = {\"checks\": []} in the "
          "event; no scripted delay for either):", file=out)
    rows = [("case", "checks", "wall (ms)", "CPU (ms)", "Data API calls",
             "Execute -> next call (ms)", "wall less it (ms)", "rows / bytes",
             "engine / views / DuckDB (ms)", "DuckDB CPU (ms)", "Slack posts", "found")]
    for case, label in DIAG_CASES:
        for variant in ("on", "off"):
            d = diag.get(case, {}).get(variant)
            if not d:
                continue
            calls = ", ".join(f"{op} {fmt(n, 0)}" for op, n in d["data_api_calls"].items())
            f = d["found"]
            found = (f"{f['queries']} queries ({f['queued']} queued, {f['blocked']} blocked), "
                     f"{f['idle_transactions']} idle")
            rows.append((label if variant == "on" else "", variant, fmt(d["wall_ms"]),
                         fmt(d["cpu_ms"]), calls, fmt(d["execute_to_next_call_ms"]),
                         fmt(d["wall_less_execute_ms"]),
                         f"{fmt(d['result_rows'], 0)} / {fmt(d['result_bytes'], 0)}",
                         f"{fmt(d['engine_ms'])} / {fmt(d['view_load_ms'])} "
                         f"({fmt(d['views_loaded'], 0)}) / {fmt(d['duckdb_ms'])}",
                         fmt(d["duckdb_cpu_ms"]),
                         fmt(d["slack_posts"], 0), found))
        on, off = diag.get(case, {}).get("on"), diag.get(case, {}).get("off")
        if on and off:
            rows.append(("", "on - off", fmt(on["wall_ms"] - off["wall_ms"]),
                         fmt(on["cpu_ms"] - off["cpu_ms"]), "", fmt(
                             on["execute_to_next_call_ms"] - off["execute_to_next_call_ms"]),
                         fmt(on["wall_less_execute_ms"] - off["wall_less_execute_ms"]),
                         f"{fmt(on['result_rows'] - off['result_rows'], 0)} rows",
                         f"{fmt(on['engine_ms'] - off['engine_ms'])} / "
                         f"{fmt(on['view_load_ms'] - off['view_load_ms'])} / "
                         f"{fmt(on['duckdb_ms'] - off['duckdb_ms'])}",
                         fmt(on["duckdb_cpu_ms"] - off["duckdb_cpu_ms"]), "", ""))
    print_table(rows, out)
    print("  Execute -> next call: from ExecuteStatement's arrival at the stand-in to the run's next "
          "call (the stand-in runs the SQL inside ExecuteStatement, then the function's first "
          "50 ms poll wait)", file=out)
    print("  wall less it: the function's own time around the statement (its other calls, "
          "reading the result, Slack)", file=out)
    print("  engine / views / DuckDB: the stand-in's engine on the recorded statement, replayed "
          "here on the same model: the whole execution (sqlglot + view tables + DuckDB), the "
          "view tables rebuilt from the model (how many), and DuckDB alone running the "
          "rewritten statement (its CPU time beside): a proxy for Redshift's added work, not "
          "a Redshift figure",
          file=out)
    for case, _label in DIAG_CASES:
        for variant in ("on", "off"):
            d = diag.get(case, {}).get(variant)
            if d and (d["execute_calls_max"] != 1 or d["execute_calls_min"] != 1):
                print(f"  WARNING {case}, checks {variant}: ExecuteStatement calls a run ranged "
                      f"{d['execute_calls_min']}..{d['execute_calls_max']}", file=out)


# ----- instruction counts (callgrind) -------------------------------------------------------
# Inclusive instruction counts of these functions are reported (the first match of each).
CALLGRIND_FUNCTIONS = [
    ("whole init", "App::from_environment"),
    ("aws-config load", "aws_config::loader::ConfigLoader::load"),
    ("  STS client for web identity", "aws_sdk_sts::client::Client::new"),
    ("service clients", "aws_sdk_secretsmanager::client::Client::new"),
    ("", "aws_sdk_redshiftdata::client::Client::new"),
    ("reqwest client (Slack)", "reqwest::async_impl::client::ClientBuilder::build"),
    ("native root certificates (all loads)", "rustls_native_certs::load_native_certs"),
    ("  of which PEM parsing", "rustls_pki_types::pem::from_buf_inner"),
    ("tracing registry", "tracing_subscriber::registry::sharded::Registry as core::default"),
    ("Lambda runtime loop", "lambda_runtime::runtime::Runtime<S>::run_with_incoming"),
    ("command line (clap)", "clap_builder::parser::parser::Parser::get_matches_with"),
    ("the check itself", "App<W>::check::{{closure}}"),
    ("dynamic loader", "_dl_start"),
]


def annotate(out_file):
    """Total and selected inclusive instruction counts from a callgrind output file."""
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(out_file)],
        capture_output=True, text=True, check=True,
    ).stdout
    Path(str(out_file) + ".txt").write_text(text)
    total, found = None, {}
    for line in text.splitlines():
        parts = line.strip().split(None, 2)
        if len(parts) < 3 or not parts[0].replace(",", "").isdigit():
            continue
        count = int(parts[0].replace(",", ""))
        if "PROGRAM TOTALS" in line:
            total = count
            continue
        for label, pattern in CALLGRIND_FUNCTIONS:
            if pattern in parts[2] and pattern not in found:
                found[pattern] = count
    return {"total": total, "functions": found}


VALGRIND = ["valgrind", "--tool=callgrind", "--quiet"]


def callgrind_init(binary, fn_env, stack, workdir, init_out):
    """Init under callgrind (Lambda mode: spawn -> first /next, then SIGTERM, which valgrind
    turns into a normal dump)."""
    fn = Function("callgrind", [*VALGRIND, f"--callgrind-out-file={init_out}", binary],
                  ROOT, fn_env, stack, workdir)
    fn.spawn()
    fn.proc.send_signal(signal.SIGTERM)
    fn.proc.wait(timeout=120)
    return annotate(init_out)


def measure_callgrind(binary, fn_env, stack, workdir, out_dir):
    """Instruction counts of init (Lambda mode: spawn -> first /next, then SIGTERM, which
    valgrind turns into a normal dump) and of one whole CLI `check` (1 query, 1 message)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    valgrind = VALGRIND
    init_out = out_dir / "callgrind.init.out"
    init = callgrind_init(binary, fn_env, stack, workdir, init_out)
    stack.script_rows(small_rows())
    control(stack.slack, "POST", "/_control/reset")
    check_out = out_dir / "callgrind.check.out"
    cli_env = {k: v for k, v in fn_env.items() if not k.startswith("AWS_LAMBDA_")}
    done = subprocess.run(
        [*valgrind, f"--callgrind-out-file={check_out}", binary, "check",
         "--secret-id", SECRET_ID, "--minutes", "30"],
        env=cli_env, capture_output=True, text=True, timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"check under callgrind failed: {done.stderr[-1500:]}")
    return {"init": init, "check": annotate(check_out), "dir": str(out_dir)}


# ----- footprint ---------------------------------------------------------------------------
def elf_machine(path):
    with open(path, "rb") as f:
        head = f.read(20)
    if head[:4] != b"\x7fELF":
        return "not ELF"
    machine = struct.unpack("<H", head[18:20])[0]
    return {0x3E: "x86_64", 0xB7: "aarch64"}.get(machine, hex(machine))


def zip_size(path, name="bootstrap"):
    with tempfile.NamedTemporaryFile(suffix=".zip") as tmp:
        with zipfile.ZipFile(tmp.name, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(path, name)
        return os.path.getsize(tmp.name)


def footprint(binary):
    out = {"binary": str(binary), "binary_bytes": binary.stat().st_size,
           "binary_arch": elf_machine(binary), "binary_zip_bytes": zip_size(binary)}
    candidates = sorted(ROOT.glob(".aws-sam/build/*/bootstrap")) + sorted(
        ROOT.glob("target/lambda/*/bootstrap")
    )
    arm = [p for p in candidates if elf_machine(p) == "aarch64"]
    if arm:
        newest = max(arm, key=lambda p: p.stat().st_mtime)
        out["bootstrap"] = str(newest.relative_to(ROOT))
        out["bootstrap_bytes"] = newest.stat().st_size
        out["bootstrap_zip_bytes"] = zip_size(newest)
        out["bootstrap_built"] = time.strftime("%Y-%m-%d %H:%M UTC",
                                               time.gmtime(newest.stat().st_mtime))
    peer = ROOT / "bench/python_peer/handler.py"
    out["peer_zip_bytes"] = zip_size(peer, "handler.py")
    return out


# ----- report ------------------------------------------------------------------------------
def fmt(v, digits=1):
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:,.{digits}f}"


def ratio(a, b):
    if a is None or b is None or not b or a != a or b != b:
        return "-"
    return f"{a / b:.3f}"


def print_table(rows, out):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for n, r in enumerate(rows):
        cells = [str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(r)]
        print("| " + " | ".join(cells) + " |", file=out)
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=out)


def report(results, out=sys.stdout):
    rust, py = results["rust"], results.get("python")
    rows = [("figure", "Rust", "Python peer", "Rust/Python")]

    def add(label, path, digits=1):
        a = dig(rust, path)
        b = dig(py, path) if py else None
        if a is None and b is None:
            return
        rows.append((label, fmt(a, digits), fmt(b, digits), ratio(a, b)))

    add("init: spawn -> first /next (ms)", ("init", "init_ms"))
    add("  CPU time of init (ms)", ("init", "init_cpu_ms"))
    add("  peak RSS at the end of init (MB)", ("init", "init_hwm_mb"))
    add("  init, one CA bundle (SSL_CERT_FILE) (ms)", ("init_bundle", "init_ms"))
    add("  CPU time of init, one CA bundle (ms)", ("init_bundle", "init_cpu_ms"))
    add("first invocation after init, 1 query (ms)", ("init", "cold_invoke_ms"))
    add("  CPU time of the first invocation (ms)", ("init", "cold_cpu_ms"))
    add("peak RSS, init + first invocation (MB)", ("init", "cold_hwm_mb"))
    add("init instructions (callgrind, Lambda mode)", ("callgrind", "init", "total"), 0)
    add("CLI check instructions (callgrind, 1 query)", ("callgrind", "check", "total"), 0)
    for delay in results["delays"]:
        add(f"warm invocation wall, {delay} ms statement (ms)", ("overhead", delay, "wall_ms"))
        add(f"  overhead (wall - {delay} ms)", ("overhead", delay, "overhead_ms"))
        add(f"  DescribeStatement calls, {delay} ms", ("overhead", delay, "describe_calls"), 0)
        add(f"  last Describe after FINISHED, {delay} ms (ms)", ("overhead", delay, "notice_lag_ms"))
    for key in results["scales"]:
        add(f"scale {key}: wall (ms)", ("scale", key, "wall_ms"))
        add(f"scale {key}: CPU user+sys (ms)", ("scale", key, "cpu_ms"), 0)
        add(f"scale {key}: Slack messages", ("scale", key, "messages"), 0)
        add(f"scale {key}: peak RSS (MB)", ("scale", key, "hwm_mb"))
    if len(rows) > 1:
        print_table(rows, out)
    if rust.get("thread"):
        report_thread(rust["thread"], out)
    if rust.get("diagnostics"):
        report_diagnostics(rust["diagnostics"], out)
    cg = rust.get("callgrind")
    if cg:
        print(f"\nRust instruction counts (callgrind, {cg['dir']}); a stripped binary shows "
              "totals only (bench/build-variants.sh base builds one with symbols):", file=out)
        rows = [("function (inclusive)", "init (Lambda)", "CLI check, 1 query")]
        rows.append(("program total", fmt(cg["init"]["total"]), fmt(cg["check"]["total"])))
        for label, pattern in CALLGRIND_FUNCTIONS:
            a, b = cg["init"]["functions"].get(pattern), cg["check"]["functions"].get(pattern)
            if a is None and b is None:
                continue
            rows.append((f"{label or ' '} `{pattern}`", fmt(a), fmt(b)))
        print_table(rows, out)
    fp = results["footprint"]
    print("", file=out)
    print(f"release binary ({fp['binary_arch']}): {fp['binary_bytes']:,} bytes, "
          f"zipped {fp['binary_zip_bytes']:,} bytes", file=out)
    if "bootstrap" in fp:
        print(f"arm64 bootstrap ({fp['bootstrap']}, built {fp['bootstrap_built']}): "
              f"{fp['bootstrap_bytes']:,} bytes, zipped {fp['bootstrap_zip_bytes']:,} bytes",
              file=out)
    else:
        print("arm64 bootstrap: not built (scripts/check-deploy builds it); the x86_64 zip above "
              "stands in", file=out)
    print(f"Python peer package: handler.py zipped {fp['peer_zip_bytes']:,} bytes "
          "(boto3 comes with the Lambda Python runtime)", file=out)


def report_thread(th, out):
    """Thread mode's figures (Rust only): init against window mode's, then the runs."""
    print("\nThread mode (ALERT_MODE=thread, Rust): init beside window mode's, alternating "
          "spawns", file=out)
    rows = [("figure", "window mode", "thread mode", "thread/window")]
    init = th.get("init")
    if init:
        w, t = init["window"], init["thread"]
        for label, key in (("init: spawn -> first /next (ms)", "init_ms"),
                           ("  CPU time of init (ms)", "init_cpu_ms"),
                           ("  peak RSS at the end of init (MB)", "init_hwm_mb"),
                           ("first invocation after init (ms)", "cold_invoke_ms"),
                           ("  CPU time of the first invocation (ms)", "cold_cpu_ms"),
                           ("peak RSS, init + first invocation (MB)", "cold_hwm_mb")):
            rows.append((label, fmt(w[key]), fmt(t[key]), ratio(t[key], w[key])))
    cg = th.get("callgrind_init")
    if cg:
        rows.append(("init instructions (callgrind)", fmt(cg["window"]), fmt(cg["thread"]),
                     ratio(cg["thread"], cg["window"])))
    if len(rows) > 1:
        print_table(rows, out)
    window = th.get("window")
    print("\nThread mode, warm runs (one long query; the table's other items ended); DynamoDB "
          "calls as the fault front saw them:", file=out)
    rows = [("items", "run", "wall (ms)", "Query -> next call (ms)", "CPU (ms)", "DynamoDB calls",
             "Query calls (max)", "Slack calls", "items read / bytes / RCU", "Query answer (bytes)")]
    for count, run in th.get("runs", {}).items():
        for case, label in (("first_seen", "first seen: posts"),
                            ("followed", "followed: updates")):
            c = run[case]
            calls = ", ".join(f"{op} {fmt(n, 0)}" for op, n in c["dynamo_calls"].items())
            slack = ", ".join(f"{m} {fmt(n, 0)}" for m, n in c["slack_calls"].items())
            rows.append((fmt(count) if case == "first_seen" else "", label, fmt(c["wall_ms"]),
                         fmt(c["query_to_next_call_ms"]), fmt(c["cpu_ms"]), calls or "-",
                         fmt(c["query_calls_max"]), slack or "-",
                         f"{fmt(c['read_items'])} / {fmt(c['read_item_bytes'])} / "
                         f"{fmt(c['read_capacity_units'])}", fmt(c["read_response_bytes"])))
    if window:
        rows.append(("", "window mode, same model", fmt(window["wall_ms"]), "-",
                     fmt(window["cpu_ms"]), "-", "-", f"webhook {fmt(window['messages'], 0)}", "-",
                     "-"))
    print_table(rows, out)
    print("  Query -> next call: from the Query's arrival at the fault front to the run's next "
          "call (moto's time for the Query, plus the function reading its answer)", file=out)
    for count, run in th.get("runs", {}).items():
        print(f"  {fmt(count)} items: function's summary, followed run: state_reads "
              f"{fmt(run['followed']['state_reads'], 0)}, state_writes "
              f"{fmt(run['followed']['state_writes'], 0)} (first seen: "
              f"{fmt(run['first_seen']['state_writes'], 0)}); wall less Query -> next call: "
              f"{fmt(run['first_seen']['wall_less_query_ms'])} ms first seen, "
              f"{fmt(run['followed']['wall_less_query_ms'])} ms followed; "
              f"peak RSS {fmt(run['hwm_mb'])} MB; "
              f"the same Query made by the bench: {fmt(run['query_ms_moto'])} ms to moto, "
              f"{fmt(run['query_ms_front'])} ms through the front", file=out)


def dig(tree, path):
    for key in path:
        if tree is None:
            return None
        tree = tree.get(key) if isinstance(tree, dict) else None
    return tree


def machine():
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {"nproc": os.cpu_count(), "cpu": model, "mem_gib": round(mem_kb / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version()}


def git_head():
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "Cargo.toml"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rust-bin", default=str(ROOT / "target/release/redshift-long-query-alert"))
    parser.add_argument("--peer-python", default=str(ROOT / "bench/.venv/bin/python"))
    parser.add_argument("--devstack-python", default=str(ROOT / ".venv/bin/python"))
    parser.add_argument("--no-peer", action="store_true", help="measure the Rust binary only")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, no 2,000 x 60 KB")
    parser.add_argument("--only", default="init,overhead,scale,callgrind,thread,diagnostics",
                        help="comma-separated phases: init, overhead, scale, callgrind (skipped "
                        "without valgrind; function names need --callgrind-bin with symbols), "
                        "thread (ALERT_MODE=thread, Rust only), diagnostics (the side checks "
                        "on and off, Rust only)")
    parser.add_argument("--callgrind-bin", default=None,
                        help="a build with symbols for the callgrind phase (default: --rust-bin)")
    parser.add_argument("--scales", default=None,
                        help="comma-separated subset of the scale cases, e.g. '2000 x 60 KB'")
    parser.add_argument("--json", default=str(ROOT / "target/bench/results.json"))
    args = parser.parse_args()

    for name in ("rust_bin", "peer_python", "devstack_python", "callgrind_bin"):
        if getattr(args, name):  # absolute, not resolved: a venv's python is a symlink
            setattr(args, name, os.path.abspath(getattr(args, name)))
    phases = set(args.only.split(","))
    init_runs = {"rust": 3 if args.quick else 21, "python": 3 if args.quick else 9}
    overhead_runs = 3 if args.quick else 7
    delays = [0, 300, 3000]
    # (label, queries, text bytes per query, chunks the SQL keeps (None: all), runs)
    scales = [("1 x 3 KB", 1, 60_000, 15, 7), ("100 x 3 KB", 100, 60_000, 15, 7),
              ("2000 x 3 KB", 2000, 60_000, 15, 5),
              ("1 x 60 KB", 1, 60_000, None, 7), ("100 x 60 KB", 100, 60_000, None, 7),
              ("2000 x 60 KB", 2000, 60_000, None, 5)]
    thread_runs = 3 if args.quick else 7
    thread_items = [0, 1000]
    diag_runs = 3 if args.quick else 9
    replay_runs = 3 if args.quick else 21  # the stand-in's engine, replayed (cheap)
    if args.quick:
        scales = [s[:4] + (2,) for s in scales if s[1] < 2000]
    if args.scales:
        wanted = [w.strip() for w in args.scales.split(",")]
        scales = [s for s in scales if s[0] in wanted]

    workdir = Path(tempfile.mkdtemp(prefix="rlqa-bench-"))
    stack = Stack(args.devstack_python)
    base_env = {
        **stack.env(),
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{stack.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": "redshift-long-query-alert",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/redshift-long-query-alert",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "SECRET_ID": SECRET_ID,
        "THRESHOLD_MINUTES": "30",
        "TZ": "UTC",
        "LANG": "C.UTF-8",
    }
    functions = {
        "rust": Function("rust", [args.rust_bin], ROOT, dict(base_env, RUST_LOG="info"),
                         stack, workdir),
    }
    if not args.no_peer:
        functions["python"] = Function(
            "python", [args.peer_python, "-m", "awslambdaric", "handler.handler"],
            ROOT / "bench/python_peer",
            dict(base_env, LAMBDA_TASK_ROOT=str(ROOT / "bench/python_peer"),
                 PYTHONPATH=str(ROOT / "bench/python_peer")),
            stack, workdir,
        )

    results = {"machine": machine(), "commit": git_head(), "delays": delays,
               "scales": [s[0] for s in scales] if "scale" in phases else [],
               "footprint": footprint(Path(args.rust_bin))}
    started = time.monotonic()
    try:
        for name, fn in functions.items():
            results[name] = {}
            if "init" in phases:
                log(f"{name}: init x{init_runs[name]}")
                results[name]["init"] = measure_init(fn, stack, init_runs[name])
                if name == "rust" and Path(CERT_BUNDLE).exists():
                    # rustls-native-certs reads the bundle AND every file of /etc/ssl/certs
                    # here (Debian); Lambda's image has one bundle. Pointing SSL_CERT_FILE at
                    # the bundle gives the Lambda-like root-store cost.
                    log(f"{name}: init x{init_runs[name]} with SSL_CERT_FILE={CERT_BUNDLE}")
                    bundle_only = Function("rust-bundle", fn.argv, fn.cwd,
                                           dict(fn.env, SSL_CERT_FILE=CERT_BUNDLE), stack, workdir)
                    results[name]["init_bundle"] = measure_init(bundle_only, stack, init_runs[name])
            if "overhead" in phases:
                log(f"{name}: overhead, statements of {delays} ms, x{overhead_runs}")
                results[name]["overhead"] = measure_overhead(fn, stack, delays, overhead_runs)
        if "callgrind" in phases and shutil.which("valgrind"):
            log("rust: callgrind, init and one CLI check")
            try:
                results["rust"]["callgrind"] = measure_callgrind(
                    args.callgrind_bin or args.rust_bin, functions["rust"].env, stack, workdir,
                    Path(args.json).parent / "callgrind",
                )
            except (RuntimeError, subprocess.SubprocessError, OSError) as err:
                log(f"callgrind skipped: {err}")
        if "scale" in phases:
            for key, count, size, max_chunks, runs in scales:
                rows = make_rows(count, size, max_chunks)
                for name, fn in functions.items():
                    log(f"{name}: scale {key} x{runs}")
                    results[name].setdefault("scale", {})[key] = measure_scale(fn, stack, rows, runs)
                del rows
        if "thread" in phases:
            results["rust"]["thread"] = measure_thread(
                args, functions["rust"], stack, workdir, init_runs["rust"], thread_runs,
                thread_items, Path(args.json).parent / "callgrind")
        if "diagnostics" in phases:
            log(f"rust: diagnostics, checks on and off, x{diag_runs} each")
            results["rust"]["diagnostics"] = measure_diagnostics(functions["rust"], stack,
                                                                 diag_runs, replay_runs)
    finally:
        for fn in functions.values():
            fn.stop()
        stack.close()
    results["bench_seconds"] = round(time.monotonic() - started, 1)

    m = results["machine"]
    print(f"\nredshift-long-query-alert benchmark: checkout {results['commit']}, "
          f"binary {args.rust_bin}\n"
          f"{m['nproc']} x {m['cpu']}, {m['mem_gib']} GiB, medians "
          f"(init x{init_runs['rust']}/{init_runs['python']}, overhead x{overhead_runs}, "
          f"thread x{thread_runs}, diagnostics x{diag_runs}, engine replays x{replay_runs}); "
          f"{results['bench_seconds']} s\n")
    report(results)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    print(f"\nraw figures: {args.json}; function logs: {workdir}")


def measure_thread(args, rust, stack, workdir, init_runs, runs, counts, callgrind_dir):
    """The thread phase: per-run figures at each item count, window mode over the same model,
    init of both environments (and their callgrind totals when valgrind is there)."""
    stack.setup_thread()
    # Window mode as the other phases run it, on the thread secret (it posts to its webhook).
    window_env = dict(rust.env, SECRET_ID=THREAD_SECRET_ID)
    thread_env = dict(window_env, ALERT_MODE="thread", STATE_TABLE=THREAD_TABLE,
                      SLACK_API_URL=f"http://127.0.0.1:{stack.slack}/api",
                      # The fault front (no faults scripted): it counts every DynamoDB call.
                      AWS_ENDPOINT_URL_DYNAMODB=f"http://127.0.0.1:{stack.dynamo}")
    window_fn = Function("rust-window", rust.argv, rust.cwd, window_env, stack, workdir)
    thread_fn = Function("rust-thread", rust.argv, rust.cwd, thread_env, stack, workdir)
    out = {"runs": {}}
    try:
        for count in counts:
            log(f"rust: thread mode, {count:,} items, first seen / followed x{runs}")
            out["runs"][count] = measure_thread_runs(thread_fn, stack, count, runs)
        log(f"rust: window mode over the same cluster model x{runs}")
        out["window"] = measure_window_model(window_fn, stack, runs)
        log(f"rust: init x{init_runs}, window and thread environments alternating")
        out["init"] = measure_thread_init(window_fn, thread_fn, stack, init_runs)
        if shutil.which("valgrind"):
            log("rust: callgrind, init in both environments")
            callgrind_dir.mkdir(parents=True, exist_ok=True)
            binary = args.callgrind_bin or args.rust_bin
            try:
                out["callgrind_init"] = {
                    name: callgrind_init(binary, env, stack, workdir,
                                         callgrind_dir / f"callgrind.init.{name}.out")["total"]
                    for name, env in (("window", window_env), ("thread", thread_env))}
            except (RuntimeError, subprocess.SubprocessError, OSError) as err:
                log(f"callgrind skipped: {err}")
    finally:
        window_fn.stop()
        thread_fn.stop()
    return out


def log(message):
    print(f"== {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
