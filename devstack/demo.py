"""Runs the real `check` end to end against the local stack and shows what Slack received.

Started by `scripts/demo` (which builds the binary and provides moto). It starts moto (Secrets
Manager), the Data API stand-in and the Slack receiver on free loopback ports, stores a secret,
scripts three long-running queries, runs

    redshift-long-query-alert check --secret-id demo/redshift-long-query-alert \
        --minutes 30 --timezone Asia/Tokyo

with the standard AWS endpoint variables pointing at the stand-ins, then prints the summary and
the Slack message as posted (JSON) and roughly as Slack would render it.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECRET_ID = "demo/redshift-long-query-alert"
MARK = "\u001e"  # precedes each 200-byte chunk in the aggregated text, as the SQL builds it


def start_devstack(script):
    proc = subprocess.Popen(
        [sys.executable, str(HERE / script), "--port", "0", "--quiet"],
        stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        raise SystemExit(f"{script} did not start: {line!r}")
    return proc, int(line.split()[1])


def start_moto(moto_server):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([moto_server, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=1)
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit("moto_server did not come up")


def call(port, path, body=None, headers=None, method=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                 headers=headers or {}, method=method)
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read().decode()
    return json.loads(text) if text.strip() else None


def chunks(text):
    """What Redshift's LISTAGG gives back for `text`: 200-byte chunks, RTRIM'd, each marked."""
    stored = text.replace("\n", "\\n").encode()
    return "".join(MARK + stored[i:i + 200].decode().rstrip() for i in range(0, len(stored), 200))


def render(payload):
    """A rough terminal rendering of a Block Kit message."""
    out = []
    for block in payload["blocks"]:
        kind = block["type"]
        if kind == "header":
            out.append(f"## {block['text']['text']}")
        elif kind == "context":
            out.append("   " + " ".join(e["text"] for e in block["elements"]))
        elif kind == "section":
            text = block["text"]["text"]
            for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&")):
                text = text.replace(entity, char)
            out.append(text)
        elif kind == "divider":
            out.append("-" * 60)
    return "\n".join(out)


def main():
    binary, moto_server = sys.argv[1], sys.argv[2]
    procs = []
    try:
        moto, moto_port = start_moto(moto_server)
        procs.append(moto)
        data_api, data_api_port = start_devstack("dataapi.py")
        procs.append(data_api)
        slack, slack_port = start_devstack("slack.py")
        procs.append(slack)

        secret = {
            "slack_webhook_url": f"http://127.0.0.1:{slack_port}/services/T000/B000/demo",
            "cluster_identifier": "analytics",
            "database": "dev",
            "db_user": "monitor",
        }
        call(moto_port, "/", {"Name": SECRET_ID, "SecretString": json.dumps(secret)}, {
            "X-Amz-Target": "secretsmanager.CreateSecret",
            "Content-Type": "application/x-amz-json-1.1",
            # moto picks the service from the SigV4 credential scope; the signature is unchecked.
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261128/us-east-1/"
                             "secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
        })

        head = "SELECT user_id, count(*) FROM events WHERE note <> '"
        grouped = head + "x" * (192 - len(head)) + "' GROUP BY user_id\nORDER BY 2 DESC"
        queries = [
            ["alice", 30211, 8812345, "2026-11-28 08:51:07.123456", 47,
             chunks("SELECT *\nFROM clickstream c\nJOIN users u ON u.id = c.user_id\n"
                    "WHERE c.event_type <> 'heartbeat'"), False],
            [None, 30877, 8812399, "2026-11-28 09:02:44.000000", 36, chunks(grouped), False],
            ["etl_loader", 31002, 8812450, "2026-11-28 09:05:10.500000", 33,
             chunks("INSERT INTO facts SELECT * FROM staging WHERE v < 10 AND w > 3"), False],
        ]
        columns = [{"name": n, "type": t} for n, t in [
            ("user_name", "name"), ("pid", "int4"), ("query_id", "int4"),
            ("start_time", "timestamp"), ("elapsed_minutes", "int8"),
            ("query_text", "varchar"), ("text_truncated", "bool")]]
        call(data_api_port, "/_control/script",
             {"delay_ms": 400, "columns": columns, "rows": queries, "page_size": 2})

        env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": f"http://127.0.0.1:{moto_port}",
            "AWS_ENDPOINT_URL_REDSHIFT_DATA": f"http://127.0.0.1:{data_api_port}",
            "RUST_LOG": "info",
        }
        args = [binary, "check", "--secret-id", SECRET_ID, "--minutes", "30",
                "--timezone", "Asia/Tokyo"]
        print("$ " + " ".join(args[1:]).replace(binary, "redshift-long-query-alert"), flush=True)
        run = subprocess.run(args, env=env, capture_output=True, text=True)
        print("--- log (stderr) ---\n" + run.stderr.rstrip())
        print("--- summary (stdout) ---\n" + run.stdout.rstrip())
        if run.returncode != 0:
            raise SystemExit(f"check failed with exit code {run.returncode}")

        received = call(slack_port, "/_control/received")
        print(f"--- Slack received {len(received)} message(s) ---")
        for item in received:
            print(json.dumps(item["payload"], indent=2, ensure_ascii=False))
            print("--- as Slack shows it, roughly ---")
            print(render(item["payload"]))
        if not received:
            raise SystemExit("no message reached the Slack receiver")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
