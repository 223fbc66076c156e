"""scripts/measure-faults' driver: the function's peak memory under each fault of the reliability
suite, on the Lambda path. Each fault gets a fresh function process under the local Runtime API
harness; its peak resident set size (VmHWM from /proc) is read after one invocation.

Usage (with the devstack's Python): measure_faults.py BINARY
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "devstack"))

import stack  # noqa: E402

SECRET_ID = "faults/redshift-long-query-alert"
NOW = "2026-11-28T10:00:00Z"
LIMIT_MIB = 64


def query(pid, minutes_ago, text, user="analyst"):
    return {"pid": pid, "user": user, "started_seconds_ago": minutes_ago * 60 + 0.5, "text": text}


def cluster(queries):
    return {"now": NOW, "frozen": True, "queries": queries}


def peak_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def run_fault(s, binary, name, setup, event, deadline_ms=20_000, env_extra=None):
    for service in ("dataapi", "slack", "secrets"):
        s.control(service, "POST", "/_control/reset")
    setup(s)
    env = {**{k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_ENDPOINT_URL")},
           **s.env(), "SECRET_ID": SECRET_ID, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{s.ports['runtime']}",
           "AWS_LAMBDA_FUNCTION_NAME": "redshift-long-query-alert", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
           "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_LOG_FORMAT": "JSON",
           "AWS_LAMBDA_LOG_LEVEL": "INFO", **(env_extra or {})}
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        started = time.monotonic()
        answer = s.control("runtime", "POST", "/_control/invoke",
                           {"event": event, "deadline_ms": deadline_ms, "timeout_ms": deadline_ms + 30_000},
                           timeout=deadline_ms / 1000 + 60)
        took = time.monotonic() - started
        kib = peak_kib(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    outcome = answer.get("status")
    if outcome == "error":
        outcome = answer["error"].get("errorType")
    mark = "" if kib / 1024 < LIMIT_MIB else f"  OVER {LIMIT_MIB} MiB"
    print(f"{name:<44} {outcome:<18} {took:6.1f} s   peak RSS {kib / 1024:6.1f} MiB{mark}", flush=True)
    return kib


def main():
    binary = sys.argv[1]
    with stack.start() as s:
        secret = {"slack_webhook_url": f"http://127.0.0.1:{s.ports['slack']}/services/T0/B0/measure-token",
                  "cluster_identifier": "analytics-measure", "database": "dev", "db_user": "monitor"}
        s.put_secret(SECRET_ID, secret)
        faulty = {"AWS_ENDPOINT_URL_SECRETS_MANAGER": f"http://127.0.0.1:{s.ports['secrets']}"}
        text = "select some_column, other_column from a_table where x = 1 and y = 2 " * 60
        big = [query(i, 40 + i / 100, text) for i in range(1, 501)]
        huge_cell = "\u001e" + "x" * 60_000
        columns = [{"name": n, "type": t} for n, t in (
            ("user_name", "name"), ("pid", "int4"), ("query_id", "int4"), ("start_time", "timestamp"),
            ("elapsed_minutes", "int8"), ("query_text", "varchar"), ("text_truncated", "bool"),
            ("past_threshold_total", "int8"))]
        huge_rows = [["u", i, i, "2026-11-28 09:15:00", 45, huge_cell, False, 2000] for i in range(2000)]
        one = cluster([query(1, 31, "select 1")])
        faults = [
            ("one long query (baseline)", lambda s: s.load_cluster(one), {}),
            ("500 long queries of 4 KB, 10 messages", lambda s: s.load_cluster(cluster(big)), {}),
            ("500 long queries, dry run over 50 targets", lambda s: s.load_cluster(cluster(big)),
             {"dry_run": True, "targets": [{"secret_id": SECRET_ID}] * 50}, 60_000),
            ("2,000 scripted rows of 60 KB (response cap)", lambda s: s.script(
                {"columns": columns, "rows": huge_rows, "page_size": 2000}), {}),
            ("repeated NextToken", lambda s: (s.load_cluster(cluster(big)),
                                             s.script({"page_size": 1, "repeat_next_token": True})), {}),
            ("Slack 400 with a 50 MB body", lambda s: (s.load_cluster(one), s.control(
                "slack", "POST", "/_control/script", {"responses": [{"status": 400, "body_bytes": 50_000_000}]})), {}),
            ("Slack never answers", lambda s: (s.load_cluster(one), s.control(
                "slack", "POST", "/_control/script", {"responses": [{"delay_ms": 60_000, "status": 200}]})), {}),
            ("Slack redirects", lambda s: (s.load_cluster(one), s.control(
                "slack", "POST", "/_control/script",
                {"responses": [{"status": 307, "headers": {"Location": "http://127.0.0.1:9/x"}}]})), {}),
            ("Slack 429 with Retry-After 2^64-1", lambda s: (s.load_cluster(one), s.control(
                "slack", "POST", "/_control/script",
                {"responses": [{"status": 429, "headers": {"Retry-After": "18446744073709551615"}}]})), {}),
            ("DescribeStatement never answers", lambda s: s.script({"stall_ms": {"DescribeStatement": 60_000}}), {}),
        ]
        print(f"{'fault':<44} {'outcome':<18} {'time':>8}   peak RSS (limit {LIMIT_MIB} MiB)")
        worst = 0
        for name, setup, event, *deadline in faults:
            worst = max(worst, run_fault(s, binary, name, setup, event, deadline_ms=(deadline or [10_000])[0]))
        for name, fault in (("Secrets Manager never answers", {"hang_ms": 60_000}),
                            ("Secrets Manager answers garbage", {"status": 200, "body": '{"SecretString": "{\\"sl'})):
            worst = max(worst, run_fault(
                s, binary, name, lambda s, f=fault: (s.load_cluster(one), s.control(
                    "secrets", "POST", "/_control/script", {"faults": {SECRET_ID: f}})),
                {}, deadline_ms=10_000, env_extra=faulty))
        print(f"worst peak RSS: {worst / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
