"""scripts/demo-lambda's driver: the function under `cargo lambda watch`, invoked once with an event
file by `cargo lambda invoke`, against the local stack. See scripts/demo-lambda.

Usage (with the devstack's Python; cargo-lambda on PATH): demo_lambda.py EVENT_FILE
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "devstack"))

import samples  # noqa: E402
import stack  # noqa: E402

FUNCTION = "redshift-long-query-alert"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds=60):
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)


def main():
    event = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="rlqa-demo-lambda-") as tmp, stack.start() as s:
        print("== starting the local stack (devstack/stack.py)", flush=True)
        s.put_secret(samples.SECRET_ID, samples.secret(s.ports["slack"]))
        cluster = s.load_cluster(samples.demo_scenario())
        s.script({"delay_ms": 300})
        print(f"   moto :{s.ports['moto']}, dataapi :{s.ports['dataapi']}, slack :{s.ports['slack']}; "
              f"secret {samples.SECRET_ID}; {len(cluster['queries'])} queries in the cluster model", flush=True)

        # The function's environment, as template.yaml sets it, plus the stack's endpoints.
        env = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_ENDPOINT_URL")}
        env.update(s.env(), SECRET_ID=samples.SECRET_ID, THRESHOLD_MINUTES="30", TIMEZONE="UTC", RUST_LOG="info")
        port = free_port()
        watch_log = Path(tmp) / "watch.log"
        print(f"== cargo lambda watch -A 127.0.0.1 -P {port}  (log: below on failure)", flush=True)
        with open(watch_log, "wb") as log:
            # Its own process group, so that stopping it also stops the function it runs.
            watch = subprocess.Popen(
                ["cargo", "lambda", "watch", "-A", "127.0.0.1", "-P", str(port), "--ignore-changes"],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )
        try:
            wait_for_port(port)
            print(f"== cargo lambda invoke -A 127.0.0.1 -P {port} --data-file {event} {FUNCTION}", flush=True)
            invoke = subprocess.run(
                ["cargo", "lambda", "invoke", "-A", "127.0.0.1", "-P", str(port), "--data-file", event, FUNCTION],
                env=env, capture_output=True, text=True,
            )
            answer = (invoke.stdout + invoke.stderr).strip()
            try:
                print(json.dumps(json.loads(answer), indent=2, ensure_ascii=False))
            except ValueError:
                print(answer)
            if invoke.returncode != 0:
                print(f"== the invocation failed (exit {invoke.returncode}); function log:", file=sys.stderr)
                print("\n".join(watch_log.read_text(errors="replace").splitlines()[-20:]), file=sys.stderr)
        finally:
            os.killpg(watch.pid, signal.SIGTERM)
            watch.wait()

        print("== Slack received")
        received = s.slack_received()
        if not received:
            print("(nothing: a dry run, no long query, or a failed run)")
        for i, item in enumerate(received, 1):
            print(f"-- message {i}, POST {item['path'][:20]}... (the rest of the webhook path is a credential)")
            print(json.dumps(item["payload"], indent=2, ensure_ascii=False))
        return invoke.returncode


if __name__ == "__main__":
    sys.exit(main())
