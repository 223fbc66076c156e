"""The Python peer: the same check done the way the original cron script would be ported to a
Python Lambda function. Benchmark material only, not part of the product.

Run by the Python runtime interface client: ``python -m awslambdaric handler.handler`` with this
folder as the working directory and AWS_LAMBDA_RUNTIME_API set. Clients are created at import
time (Lambda's init phase), as a Python function would, so a warm container reuses them.

What it does, as the Rust function does: read the secret (Secrets Manager), run the same
statement through the Redshift Data API, poll DescribeStatement with the same policy (every 50 ms
for the first 350 ms, then 150 ms doubling to a 1 s cap), read every page of the result, stitch
the query text, build Slack Block Kit messages (15 queries a message, text cut to one section,
&<> escaped) and post them with urllib.
"""

import datetime
import json
import os
import time
import urllib.request
import zoneinfo

import boto3

SQL = """\
WITH inflight AS (
    SELECT DISTINCT userid, query, pid, starttime, sequence, text
    FROM svv_query_inflight
    WHERE suspended = 0
      AND pid <> pg_backend_pid()
),
per_query AS (
    SELECT userid,
           query,
           pid,
           starttime,
           DATEDIFF(second, starttime, GETDATE()) / 60 AS elapsed_minutes,
           LISTAGG(CASE WHEN sequence < 15 THEN CHR(30) || RTRIM(text) END)
               WITHIN GROUP (ORDER BY sequence) AS query_text,
           MAX(sequence) >= 15 AS text_truncated
    FROM inflight
    GROUP BY userid, query, pid, starttime
)
SELECT u.usename AS user_name,
       q.pid AS pid,
       q.query AS query_id,
       q.starttime AS start_time,
       q.elapsed_minutes AS elapsed_minutes,
       q.query_text AS query_text,
       q.text_truncated AS text_truncated
FROM per_query q
LEFT JOIN pg_user u ON u.usesysid = q.userid
WHERE q.elapsed_minutes >= CAST(:min_minutes AS INTEGER)
  AND q.elapsed_minutes < CAST(:max_minutes AS INTEGER)
ORDER BY q.starttime, q.query"""

CHUNK_MARK = "\x1e"
CHUNK_BYTES = 200
QUERIES_PER_MESSAGE = 15
SECTION_LIMIT = 3000
HEADER_LIMIT = 150

# Init: the clients, built once per container.
secrets = boto3.client("secretsmanager")
data_api = boto3.client("redshift-data")
_secret_cache = {}  # secret id -> (fetched monotonic, parsed secret)


def get_secret(secret_id):
    hit = _secret_cache.get(secret_id)
    if hit and time.monotonic() - hit[0] < 300:
        return hit[1]
    value = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
    _secret_cache[secret_id] = (time.monotonic(), value)
    return value


def wait_until_finished(statement_id, deadline):
    started = time.monotonic()
    pause = 0.05
    calls = 0
    while True:
        time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
        if time.monotonic() >= deadline:
            data_api.cancel_statement(Id=statement_id)
            raise TimeoutError(f"statement {statement_id} did not finish in time")
        calls += 1
        desc = data_api.describe_statement(Id=statement_id)
        status = desc["Status"]
        if status == "FINISHED":
            return calls, time.monotonic() - started
        if status in ("FAILED", "ABORTED"):
            raise RuntimeError(f"statement {statement_id} {status}: {desc.get('Error')}")
        waited = time.monotonic() - started
        if waited < 0.35:
            pause = 0.05
        elif pause <= 0.05:
            pause = 0.15
        else:
            pause = min(pause * 2, 1.0)


def cell(field):
    if field.get("isNull"):
        return None
    for key in ("stringValue", "longValue", "doubleValue", "booleanValue"):
        if key in field:
            return field[key]
    return None


def stitch(aggregated):
    chunks = aggregated.split(CHUNK_MARK)
    if len(chunks) > 1 and chunks[0] == "":
        chunks = chunks[1:]
    parts = []
    for i, chunk in enumerate(chunks):
        parts.append(chunk)
        if i < len(chunks) - 1:
            parts.append(" " * max(0, CHUNK_BYTES - len(chunk.encode("utf-8"))))
    return "".join(parts).rstrip().replace("\\n", "\n").replace("\\t", "\t")


def fetch_rows(statement_id):
    queries = []
    kwargs = {"Id": statement_id}
    index = None
    while True:
        page = data_api.get_statement_result(**kwargs)
        if page.get("ColumnMetadata"):
            index = {c.get("label") or c["name"]: i for i, c in enumerate(page["ColumnMetadata"])}
        for record in page["Records"]:
            row = {name: cell(record[i]) for name, i in index.items()}
            start = datetime.datetime.strptime(row["start_time"][:26], "%Y-%m-%d %H:%M:%S.%f")
            queries.append(
                {
                    "user": row["user_name"],
                    "pid": row["pid"],
                    "query_id": row["query_id"],
                    "start_time": start.replace(tzinfo=datetime.timezone.utc),
                    "elapsed_minutes": row["elapsed_minutes"],
                    "text": stitch(row["query_text"] or ""),
                    "text_truncated": bool(row["text_truncated"]),
                }
            )
        token = page.get("NextToken")
        if not token:
            return queries
        kwargs["NextToken"] = token


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text, limit):
    return text if len(text) <= limit else text[: limit - 1] + "…"


def code_block(q):
    if not q["text"].strip():
        return "_(no query text)_"
    budget = SECTION_LIMIT - 8 - 80
    body = escape(q["text"][:budget]).replace("``", "`\u200b`")[:budget]
    omitted = max(0, len(q["text"]) - budget)
    text = f"```\n{body}\n```"
    if omitted:
        text += f"\n_… cut: {omitted} more characters not shown_"
    elif q["text_truncated"]:
        text += "\n_… cut: the query is longer than Redshift's text shown here_"
    return text


def build_messages(queries, secret, window, tz, tz_name):
    total = len(queries)
    parts = (total + QUERIES_PER_MESSAGE - 1) // QUERIES_PER_MESSAGE
    noun = "query" if total == 1 else "queries"
    messages = []
    for part in range(parts):
        chunk = queries[part * QUERIES_PER_MESSAGE : (part + 1) * QUERIES_PER_MESSAGE]
        note = f" (part {part + 1} of {parts})" if parts > 1 else ""
        header = f"{total} Redshift {noun} running for {window[0]}+ min{note}"
        context = (
            f"Cluster `{escape(secret['cluster_identifier'])}` · database `{escape(secret['database'])}`"
            f" · elapsed {window[0]}–{window[1] - 1} min · times in {escape(tz_name)}"
        )
        blocks = [
            {"type": "header", "text": {"type": "plain_text", "text": cut(":rotating_light: " + header, HEADER_LIMIT), "emoji": True}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ]
        fallback = f"{header} on {escape(secret['cluster_identifier'])}/{escape(secret['database'])}:"
        for offset, q in enumerate(chunk):
            number = part * QUERIES_PER_MESSAGE + offset + 1
            if offset:
                blocks.append({"type": "divider"})
            user = f"*{escape(q['user'])}*" if q["user"] is not None else "_(dropped user)_"
            started = q["start_time"].astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")
            details = (
                f"*{number}.* User {user} · pid `{q['pid']}` · query id `{q['query_id']}`\n"
                f"Started {started} · running *{q['elapsed_minutes']} min*"
            )
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": details}})
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": code_block(q)}})
            who = escape(q["user"]) if q["user"] is not None else "(dropped user)"
            fallback += f"\n{number}. {who} pid {q['pid']} running {q['elapsed_minutes']} min"
        messages.append({"text": cut(fallback, SECTION_LIMIT), "blocks": blocks})
    return messages


def post(url, message):
    body = json.dumps(message).encode("utf-8")
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    for attempt in range(4):
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                answer.read()
                return
        except urllib.error.HTTPError as err:
            if err.code < 500 or attempt == 3:
                raise
        except urllib.error.URLError:
            if attempt == 3:
                raise
        time.sleep(0.2 * 2**attempt)


def handler(event, context):
    secret_id = event.get("secret_id") or os.environ["SECRET_ID"]
    threshold = int(event.get("threshold_minutes") or os.environ.get("THRESHOLD_MINUTES", 30))
    tz_name = event.get("timezone") or os.environ.get("TIMEZONE", "UTC")
    tz = zoneinfo.ZoneInfo(tz_name)
    window = (threshold, threshold * 2)
    # Keep 1.5 s before Lambda's deadline, and 3 s of it for Slack, as the Rust function does.
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000.0 - 1.5 - 3.0

    secret = get_secret(secret_id)
    execute = {
        "Sql": SQL,
        "StatementName": "redshift-long-query-alert",
        "ClusterIdentifier": secret["cluster_identifier"],
        "Database": secret["database"],
        "Parameters": [
            {"name": "min_minutes", "value": str(window[0])},
            {"name": "max_minutes", "value": str(window[1])},
        ],
    }
    if "db_user" in secret:
        execute["DbUser"] = secret["db_user"]
    else:
        execute["SecretArn"] = secret["redshift_secret_arn"]
    statement_id = data_api.execute_statement(**execute)["Id"]
    describe_calls, waited = wait_until_finished(statement_id, deadline)
    queries = fetch_rows(statement_id)
    messages = build_messages(queries, secret, window, tz, tz_name)
    dry_run = bool(event.get("dry_run"))
    if not dry_run:
        for message in messages:
            post(secret["slack_webhook_url"], message)
    return {
        "threshold_minutes": threshold,
        "statement_id": statement_id,
        "statement_wait_ms": int(waited * 1000),
        "describe_calls": describe_calls,
        "queries": len(queries),
        "messages_posted": 0 if dry_run else len(messages),
        "dry_run": dry_run,
    }
