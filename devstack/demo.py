"""Runs the real `check` end to end against the local stack and shows what Slack received.

Started by `scripts/demo` (which builds the binary). It starts the stack (stack.py), stores the
sample secret, loads the sample queries into the cluster model (samples.py; started relative to
now on a running clock), runs

    redshift-long-query-alert check --secret-id demo/redshift-long-query-alert \
        --minutes 30 --timezone Asia/Tokyo

with the standard AWS endpoint variables pointing at the stack, then prints what the binary
printed and the Slack message as posted (JSON) and roughly as Slack would render it. The rows the
binary reads are computed from its own SQL by the Data API stand-in's engine.
"""

import json
import os
import subprocess
import sys

import samples
import stack


def render(payload):
    """A rough terminal rendering of a Block Kit message."""
    out = []
    for block in payload.get("blocks", []):
        kind = block["type"]
        if kind == "header":
            out.append(f"## {block['text']['text']}")
        elif kind == "context":
            out.append("   " + " ".join(e["text"] for e in block["elements"]))
        elif kind == "section":
            text = block["text"]["text"] if "text" in block else ""
            fields = [f["text"] for f in block.get("fields", [])]
            for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&")):
                text = text.replace(entity, char)
            out.append("\n".join([text, *fields]).strip())
        elif kind == "divider":
            out.append("-" * 60)
    return "\n".join(out) if out else payload.get("text", "")


def describe(cluster):
    count = len(cluster["queries"])
    lines = [f"--- the cluster model: clock {cluster['now']} (running), {count} queries in flight ---"]
    for q in cluster["queries"]:
        first = q["text"].splitlines()[0]
        lines.append(
            f"  pid {q['pid']:>6}  {q['state']:<8} {q['start_time']}  {q['user'] or '(dropped user)':<12} "
            f"{len(q['text']):>5} chars  {first[:60]}"
        )
    return "\n".join(lines)


def main():
    binary = sys.argv[1]
    with stack.start() as s:
        s.put_secret(samples.SECRET_ID, samples.secret(s.ports["slack"]))
        cluster = s.load_cluster(samples.demo_scenario())
        # The statement takes 400 ms to "run", so the binary polls DescribeStatement a few times.
        s.script({"delay_ms": 400, "page_size": 2})
        print(describe(cluster))

        env = {"PATH": os.environ.get("PATH", ""), **s.env(), "RUST_LOG": "info"}
        # Extra arguments go to `check` as they are: `scripts/demo --language ja`.
        args = [binary, "check", "--secret-id", samples.SECRET_ID, "--minutes", "30", "--timezone", "Asia/Tokyo",
                *sys.argv[2:]]
        print("$ redshift-long-query-alert " + " ".join(args[1:]), flush=True)
        run = subprocess.run(args, env=env, capture_output=True, text=True)
        print("--- log (stderr) ---\n" + run.stderr.rstrip())
        print("--- summary (stdout) ---\n" + run.stdout.rstrip())
        if run.returncode != 0:
            raise SystemExit(f"check failed with exit code {run.returncode}")

        received = s.slack_received()
        print(f"--- Slack received {len(received)} message(s) ---")
        for item in received:
            print(json.dumps(item["payload"], indent=2, ensure_ascii=False))
            print("--- as Slack shows it, roughly ---")
            print(render(item["payload"]))
        if not received:
            raise SystemExit("no message reached the Slack receiver")


if __name__ == "__main__":
    main()
