# Sourced by scripts/demo-lambda and scripts/measure-run: starts the local stack (moto for
# Secrets Manager, devstack/dataapi.py, devstack/slack.py) on free loopback ports, and small
# helpers to drive it. Needs DEVSTACK_PYTHON and MOTO_SERVER (source scripts/venv.sh first).
# Call stack_stop on exit (trap); it stops only the processes started here, by their pids.

STACK_PIDS=()
STACK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/rlqa-stack.XXXXXX")"
STACK_REGION="${STACK_REGION:-us-east-1}"

stack_stop() {
    local pid
    for pid in "${STACK_PIDS[@]}"; do
        # A negative pid is a process group this script created (setsid); stop it whole.
        kill -TERM -- "$pid" 2>/dev/null || true
    done
    for pid in "${STACK_PIDS[@]}"; do
        wait "${pid#-}" 2>/dev/null || true
    done
    STACK_PIDS=()
    rm -rf "$STACK_DIR"
}

stack_free_port() {
    "$DEVSTACK_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# stack_http METHOD URL [HEADER:VALUE ...] < body   — prints the answer; fails on HTTP >= 300.
# (The Python is passed with -c: its stdin carries the request body.)
STACK_HTTP_PY='
import sys, urllib.request, urllib.error
method, url, *headers = sys.argv[1:]
body = sys.stdin.buffer.read() if method in ("POST", "PUT") else None
req = urllib.request.Request(url, data=body, method=method)
for header in headers:
    name, value = header.split(":", 1)
    req.add_header(name.strip(), value.strip())
try:
    with urllib.request.urlopen(req, timeout=30) as resp:
        sys.stdout.write(resp.read().decode())
except urllib.error.HTTPError as err:
    sys.exit(f"{method} {url}: HTTP {err.code} {err.read().decode()[:500]}")
except OSError as err:
    sys.exit(f"{method} {url}: {err}")
'
stack_http() {
    "$DEVSTACK_PYTHON" -c "$STACK_HTTP_PY" "$@"
}

# Starts devstack/<script> and sets <VAR> to the port it announces with "READY <port>".
stack_start_devstack() {
    local var="$1" script="$2" out="$STACK_DIR/$2.out" line="" i
    "$DEVSTACK_PYTHON" "devstack/$script" --port 0 --quiet >"$out" 2>"$STACK_DIR/$script.err" &
    STACK_PIDS+=("$!")
    for i in $(seq 1 100); do
        line="$(head -n1 "$out" 2>/dev/null || true)"
        [ -n "$line" ] && break
        sleep 0.1
    done
    case "$line" in
        "READY "*) printf -v "$var" '%s' "${line#READY }" ;;
        *) echo "devstack/$script did not start: ${line:-no READY line}; $(cat "$STACK_DIR/$script.err")" >&2; return 1 ;;
    esac
}

stack_start_moto() {
    local i
    MOTO_PORT="$(stack_free_port)"
    "$MOTO_SERVER" -H 127.0.0.1 -p "$MOTO_PORT" >"$STACK_DIR/moto.log" 2>&1 &
    STACK_PIDS+=("$!")
    for i in $(seq 1 600); do
        stack_http GET "http://127.0.0.1:$MOTO_PORT/moto-api/data.json" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "moto_server did not come up on port $MOTO_PORT: $(tail -n5 "$STACK_DIR/moto.log")" >&2
    return 1
}

# Starts all three and exports the environment the function needs to reach them.
stack_start() {
    stack_start_moto
    stack_start_devstack DATAAPI_PORT dataapi.py
    stack_start_devstack SLACK_PORT slack.py
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
    export AWS_REGION="$STACK_REGION" AWS_DEFAULT_REGION="$STACK_REGION" AWS_EC2_METADATA_DISABLED=true
    export AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$MOTO_PORT"
    export AWS_ENDPOINT_URL_REDSHIFT_DATA="http://127.0.0.1:$DATAAPI_PORT"
    unset AWS_PROFILE AWS_ENDPOINT_URL
    SLACK_WEBHOOK_URL="http://127.0.0.1:$SLACK_PORT/services/T0DEMO/B0DEMO/local-demo-token"
}

# stack_create_secret NAME — the contract's secret, pointing at the local Slack receiver.
# moto routes a request by the service named in its SigV4 credential scope.
stack_create_secret() {
    local name="$1"
    "$DEVSTACK_PYTHON" -c '
import json, sys
secret = {"slack_webhook_url": sys.argv[2], "cluster_identifier": "analytics-demo",
          "database": "dev", "db_user": "monitor_user"}
print(json.dumps({"Name": sys.argv[1], "SecretString": json.dumps(secret)}))
' "$name" "$SLACK_WEBHOOK_URL" | stack_http POST "http://127.0.0.1:$MOTO_PORT/" \
        "X-Amz-Target: secretsmanager.CreateSecret" \
        "Content-Type: application/x-amz-json-1.1" \
        "Authorization: AWS4-HMAC-SHA256 Credential=testing/20261128/$STACK_REGION/secretsmanager/aws4_request, SignedHeaders=host, Signature=0" \
        >/dev/null
}

# stack_script_queries COUNT [DELAY_MS] — COUNT in-flight queries in the statement's result
# shape: query_text is what LISTAGG returns, 200-byte chunks each prefixed with U+001E.
stack_script_queries() {
    "$DEVSTACK_PYTHON" - "$1" "${2:-150}" <<'PY' | stack_http POST "http://127.0.0.1:$DATAAPI_PORT/_control/script" >/dev/null
import json, sys
count, delay = int(sys.argv[1]), int(sys.argv[2])
MARK = "\u001e"
samples = [
    "select * from big_table",
    "SELECT c.customer_id, SUM(o.amount) AS total\nFROM sales.orders o\nJOIN sales.customers c ON c.id = o.customer_id\nGROUP BY c.customer_id\nORDER BY total DESC",
    "INSERT INTO mart.daily_events SELECT e.*, d.region FROM raw.events e CROSS JOIN dim.regions d WHERE e.event_date >= '2026-01-01' /* no date upper bound */",
    "select 集計, count(*) from ログ.アクセス group by 1 -- 日本語のコメント",
]

def stored_chunks(text):
    stored = text.replace("\n", "\\n").encode()
    parts = [stored[i:i + 200] for i in range(0, len(stored), 200)][:15]
    # cut multibyte characters at chunk ends the way a byte-sized chunk may, leniently
    return "".join(MARK + p.decode("utf-8", "ignore").rstrip() for p in parts), len(stored) > 3000

rows = []
for i in range(count):
    text = samples[i % len(samples)]
    if i % 10 == 9:  # every tenth one is huge: a generated query of ~8 KB, cut to 15 chunks
        text = "SELECT " + ",\n  ".join(f"col_{n} AS alias_{n}" for n in range(400)) + "\nFROM wide_table"
    aggregated, truncated = stored_chunks(text)
    rows.append([
        None if i % 25 == 24 else f"analyst_{i % 7}",  # now and then a dropped user
        1073741824 + i,
        900000 + i,
        f"2026-11-28 08:{i % 60:02d}:00.000000",
        15 + (i * 17) % 44,  # 15..58 minutes, spread: in the windows of the sample events
        aggregated,
        truncated,
    ])
columns = [{"name": n, "type": t} for n, t in [
    ("user_name", "name"), ("pid", "int4"), ("query_id", "int4"), ("start_time", "timestamp"),
    ("elapsed_minutes", "int8"), ("query_text", "varchar"), ("text_truncated", "bool")]]
print(json.dumps({"delay_ms": delay, "outcome": "finished", "columns": columns, "rows": rows,
                  "page_size": 40}))
PY
}

# Prints the payloads the Slack receiver accepted, as JSON.
stack_slack_received() {
    stack_http GET "http://127.0.0.1:$SLACK_PORT/_control/received"
}
