"""Runs the real `check` in thread mode four times against the local stack, as one long query
runs, turns critical and is cancelled, and shows the Slack channel after each run.

Started by `scripts/demo-thread` (which builds the binary). It starts the stack (stack.py),
creates the state table in moto and stores a secret with a bot token and channel (the Slack
stand-in's default workspace: token xoxb-local-test-token, channel C0ALERTS01), loads a cluster
with one query on a frozen clock (starting at the wall clock), then runs

    redshift-long-query-alert check --secret-id demo/redshift-long-query-alert-thread \
        --minutes 30 --timezone Asia/Tokyo

with ALERT_MODE=thread, STATE_TABLE and SLACK_API_URL set, moving the cluster's clock between runs:

    run 1  35 min   the parent message is posted
    run 2  45 min   the parent is updated in place
    run 3  62 min   past critical_minutes (2 x 30): a critical reply, also sent to the channel
    run 4  ended    the query was cancelled a minute earlier: a final update and a reply

After each run it prints the channel as the Slack stand-in renders it
(GET /_control/web/render) and the binary's exit code; a run that exits non-zero stops the demo
with exit status 1, after printing what the binary said.
"""

import datetime as dt
import os
import subprocess
import sys

import samples
import stack

SECRET_ID = "demo/redshift-long-query-alert-thread"
TABLE = "redshift-long-query-alert-state"
TOKEN = "xoxb-local-test-token"  # slack_web.py's default workspace
CHANNEL = "C0ALERTS01"
PID = 4242
THRESHOLD = 30

# (heading, what to do to the cluster before the run)
RUNS = [
    ("run 1: 35 min — parent posted", None),
    ("run 2: 45 min — parent updated in place", {"advance_seconds": 10 * 60}),
    ("run 3: 62 min — critical (2 × 30 min): thread reply, also sent to the channel", {"advance_seconds": 17 * 60}),
    ("run 4: cancelled at 62 min, checked at 63 — parent updated, thread reply", "end"),
]


def scenario():
    # The clock starts at the wall clock (what the binary's "last checked" shows in run 1) and is
    # frozen there: only the demo moves it.
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    return {
        "kind": "provisioned",
        "now": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "frozen": True,
        "queries": [{"pid": PID, "user": "alice", "started_seconds_ago": 35 * 60, "text": samples.STRADDLING}],
    }


def state_items(s):
    """The state table's items as one line each (read from moto directly)."""
    status, answer = stack.dynamodb(s.ports["moto"], "Scan", {"TableName": TABLE})
    if status != 200:
        return [f"(Scan failed: HTTP {status} {answer})"]
    lines = []
    for item in answer.get("Items", []):
        flat = {k: next(iter(v.values())) for k, v in item.items()}
        shown = " ".join(f"{k}={flat[k]}" for k in ("sk", "phase", "outcome", "ts") if k in flat)
        lines.append(f"  {flat.get('pk', '?')}  {shown}")
    return lines or ["  (no items)"]


def main():
    binary = sys.argv[1]
    with stack.start() as s:
        s.create_table(TABLE)
        secret = {**samples.secret(s.ports["slack"]), "slack_bot_token": TOKEN, "slack_channel": CHANNEL}
        s.put_secret(SECRET_ID, secret)
        cluster = s.load_cluster(scenario())
        query = cluster["queries"][0]
        print(f"--- cluster clock {cluster['now']} (frozen); pid {PID} ({query['user']}) started "
              f"{query['start_time']}; state table {TABLE}; Slack channel {CHANNEL} ---")

        env = {
            "PATH": os.environ.get("PATH", ""),
            **s.env(),
            "ALERT_MODE": "thread",
            "STATE_TABLE": TABLE,
            "SLACK_API_URL": f"http://127.0.0.1:{s.ports['slack']}/api",
            "RUST_LOG": "info",
        }
        args = [binary, "check", "--secret-id", SECRET_ID, "--minutes", str(THRESHOLD),
                "--timezone", "Asia/Tokyo", "--output", "json-line"]
        print("$ ALERT_MODE=thread STATE_TABLE=... SLACK_API_URL=... redshift-long-query-alert "
              + " ".join(args[1:]), flush=True)

        for heading, before in RUNS:
            if before == "end":
                s.control("dataapi", "POST", "/_control/queries/end", {"pid": PID, "outcome": "cancelled"})
                before = {"advance_seconds": 60}
            if before:
                clock = s.control("dataapi", "POST", "/_control/clock", before)
            else:
                clock = s.control("dataapi", "GET", "/_control/cluster")
            print(f"\n=== {heading}   (cluster clock {clock['now']})")
            run = subprocess.run(args, env=env, capture_output=True, text=True)
            print(f"exit code {run.returncode}")
            if run.returncode != 0:
                print("--- log (stderr) ---\n" + run.stderr.rstrip())
                print("--- summary (stdout) ---\n" + run.stdout.rstrip())
                raise SystemExit(f"demo-thread: {heading.split(':')[0]} failed: check exited with code "
                                 f"{run.returncode} (output above)")
            print(f"--- channel {CHANNEL} as the Slack stand-in renders it ---")
            rendered = s.control("slack", "GET", f"/_control/web/render?channel={CHANNEL}") or ""
            print(rendered.rstrip() or "(empty)")
            print("--- state table ---")
            print("\n".join(state_items(s)))

        calls = s.control("slack", "GET", "/_control/web/calls")
        print(f"\n--- {len(calls)} Web API call(s) in all ---")
        for call in calls:
            extra = f" thread_ts={call['thread_ts']}" if call.get("thread_ts") else ""
            extra += " reply_broadcast" if call.get("reply_broadcast") else ""
            print(f"  {call['method']:<17} ts={call.get('ts')}{extra} -> {call['status']} {call['error'] or 'ok'}")


if __name__ == "__main__":
    main()
