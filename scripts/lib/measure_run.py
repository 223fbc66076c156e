"""scripts/measure-run's driver: one check's peak RSS and time against the local stack, then the
Lambda path under the Runtime API harness. See scripts/measure-run for what it measures and why.

Usage (with the devstack's Python): measure_run.py BINARY COUNT
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "devstack"))

import samples  # noqa: E402
import stack  # noqa: E402

SECRET_ID = "measure/redshift-long-query-alert"
DELAY_MS = 150


def function_env(s, **extra):
    clean = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_ENDPOINT_URL")}
    return {**clean, **s.env(), "SECRET_ID": SECRET_ID, "THRESHOLD_MINUTES": "30",
            "TIMEZONE": "Asia/Tokyo", "RUST_LOG": "info", **extra}


def load(s, count):
    """A fresh cluster with `count` running queries; the statement takes DELAY_MS to finish."""
    s.load_cluster(samples.many_queries(count))
    s.script({"delay_ms": DELAY_MS})


def measure_cli(s, binary, count, label, extra, work):
    load(s, count)
    time_file = work / "time.txt"
    run = subprocess.run(
        ["/usr/bin/time", "-v", "-o", str(time_file), binary, "check", "--secret-id", SECRET_ID,
         "--minutes", "30", "--timezone", "Asia/Tokyo", *extra],
        env=function_env(s), capture_output=True, text=True,
    )
    if run.returncode != 0:
        sys.exit(f"the check failed:\n{run.stderr}")
    times = time_file.read_text()

    def field(name):
        return re.search(re.escape(name) + r": (.*)", times).group(1).strip()

    summary = json.loads(run.stdout)
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    print(f"{label:>9}: {len(summary['queries'])} queries, {summary['messages_posted']} messages posted, "
          f"statement wait {summary['statement_wait_ms']} ms (FINISHED {DELAY_MS} ms after submit) | "
          f"peak RSS {int(field('Maximum resident set size (kbytes)')) / 1024:.1f} MiB, "
          f"wall {field('Elapsed (wall clock) time (h:mm:ss or m:ss)')}, CPU {cpu * 1000:.0f} ms", flush=True)


def measure_lambda(s, binary, count, work):
    env = function_env(
        s, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{s.ports['runtime']}", AWS_LAMBDA_FUNCTION_NAME="measure",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
        AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/measure", AWS_LAMBDA_LOG_STREAM_NAME="measure",
    )
    event = json.loads((ROOT / "events/scheduled.json").read_text())
    with open(work / "lambda.log", "wb") as log:
        proc = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        for run in ("cold", "warm"):
            load(s, count)
            answer = s.control("runtime", "POST", "/_control/invoke",
                               {"event": event, "deadline_ms": 60000, "timeout_ms": 90000}, timeout=120)
            if answer.get("status") != "ok":
                sys.exit(f"the Lambda invocation failed: {answer}")
            status = Path(f"/proc/{proc.pid}/status").read_text()

            def kib(key):
                return int(re.search(key + r":\s+(\d+) kB", status).group(1))

            summary = answer["response"]
            print(f"{'lambda ' + run:>12}: {len(summary['queries'])} queries, {summary['messages_posted']} messages "
                  f"posted | invocation {answer['duration_ms']:.0f} ms, process peak RSS "
                  f"{kib('VmHWM') / 1024:.1f} MiB (now {kib('VmRSS') / 1024:.1f} MiB)", flush=True)
    finally:
        proc.kill()
        proc.wait()


def main():
    binary, count = sys.argv[1], int(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="rlqa-measure-") as tmp, stack.start() as s:
        work = Path(tmp)
        s.put_secret(SECRET_ID, samples.secret(s.ports["slack"], cluster="analytics-measure"))
        print(f"== {binary}, {count} queries (devstack/samples.py many_queries)", flush=True)
        measure_cli(s, binary, count, "posting", [], work)
        measure_cli(s, binary, count, "dry run", ["--dry-run"], work)
        print("== Lambda path (devstack/runtime_api.py)", flush=True)
        measure_lambda(s, binary, count, work)
        print(f"Slack received {len(s.slack_received())} message(s)")


if __name__ == "__main__":
    main()
