"""Sample secret and query texts for the demo, `scripts/stack up`, scripts/measure-run and the
benchmark: kept in one place so that they all show the same workload.

Scenarios start their queries relative to the clock at load (``started_seconds_ago``) on a running
clock, so that start times and elapsed minutes agree on any day.
"""

SECRET_ID = "demo/redshift-long-query-alert"
WEBHOOK_PATH = "/services/T0DEMO/B0DEMO/local-demo-token"


def secret(slack_port, cluster="analytics-demo"):
    return {
        "slack_webhook_url": f"http://127.0.0.1:{slack_port}{WEBHOOK_PATH}",
        "cluster_identifier": cluster,
        "database": "dev",
        "db_user": "monitor_user",
    }


# The first line is 199 characters long: stored with its line break as the two characters
# backslash and n, the backslash ends the first 200-character chunk and the n starts the second.
STRADDLING = (
    "SELECT c.customer_id, c.segment, c.region, SUM(o.amount) AS revenue, COUNT(DISTINCT o.order_id) "
    "AS orders, AVG(o.amount) AS avg_order, MAX(o.order_date) AS last_order, MIN(o.order_date) AS first_date"
    "\nFROM sales.orders o\nJOIN sales.customers c ON c.customer_id = o.customer_id"
    "\nWHERE o.order_date >= DATEADD(month, -1, GETDATE())"
    "\nGROUP BY 1, 2, 3\nORDER BY revenue DESC"
)
assert STRADDLING.index("\n") == 199

JAPANESE = (
    "SELECT 店舗名, 商品カテゴリ, SUM(売上金額) AS 売上合計\nFROM 売上明細\n"
    "WHERE 売上日 >= '2026-11-01' -- 今月の集計\nGROUP BY 店舗名, 商品カテゴリ"
)

JOIN = (
    "SELECT *\nFROM clickstream c\nJOIN users u ON u.id = c.user_id\n"
    "WHERE c.event_type <> 'heartbeat'"
)

INSERT = (
    "INSERT INTO mart.daily_events SELECT e.*, d.region FROM raw.events e CROSS JOIN dim.regions d "
    "WHERE e.event_date >= '2026-01-01'"
)


def wide_select(columns=400):
    """A generated query of about 10 KB: longer than the 15 chunks the statement aggregates."""
    return "SELECT " + ",\n  ".join(f"col_{n} AS alias_{n}" for n in range(columns)) + "\nFROM wide_table"


SHORT_TEXTS = [
    "select * from big_table",
    JOIN,
    INSERT,
    "select 集計, count(*) from ログ.アクセス group by 1 -- 日本語のコメント",
]


def demo_scenario():
    """A handful of users, one of them dropped, queries inside the 30-minute window [30, 60),
    past it, below it, and one still queued."""
    minutes = 60
    return {
        "kind": "provisioned",
        "users": [{"name": "alice", "id": 101}, {"name": "etl_loader", "id": 102}, {"name": "bob", "id": 103}],
        "queries": [
            {"pid": 30211, "user": "alice", "started_seconds_ago": 47 * minutes + 31.5, "text": JOIN, "slices": 2},
            {"pid": 30877, "user": None, "started_seconds_ago": 36 * minutes + 4.25, "text": STRADDLING},
            {"pid": 31002, "user": "etl_loader", "started_seconds_ago": 33 * minutes + 12, "text": INSERT},
            {"pid": 31090, "user": "hanako", "started_seconds_ago": 41 * minutes + 50, "text": JAPANESE},
            {"pid": 31115, "user": "etl_loader", "started_seconds_ago": 52 * minutes + 5, "text": wide_select()},
            {"pid": 29001, "user": "bob", "started_seconds_ago": 75 * minutes + 20, "text": "select * from big_table"},
            {"pid": 31500, "user": "carol", "started_seconds_ago": 12 * minutes, "text": "select count(*) from events"},
            {"pid": 31501, "user": "bob", "started_seconds_ago": 40 * minutes, "text": "VACUUM sales.orders",
             "state": "queued"},
        ],
    }


def many_queries(count):
    """`count` running queries, 30 to 59 minutes old (all inside the window of a 30-minute
    threshold, so that all of them are reported), every tenth about 10 KB of SQL and every 25th by
    a dropped user (scripts/measure-run)."""
    queries = []
    for i in range(count):
        text = wide_select() if i % 10 == 9 else SHORT_TEXTS[i % len(SHORT_TEXTS)]
        queries.append({
            "pid": 1073741824 + i,
            "user": None if i % 25 == 24 else f"analyst_{i % 7}",
            "started_seconds_ago": 60 * (30 + (i * 17) % 30) + 30,
            "text": text,
        })
    return {"kind": "provisioned", "queries": queries}


def report_text(pid, size):
    """A plausible SQL text of `size` characters, different per query, with line breaks."""
    head = f"/* report {pid} */ SELECT o.order_id, o.customer_id, SUM(l.amount) AS total\n"
    body = (
        "FROM sales.orders o JOIN sales.order_lines l ON l.order_id = o.order_id "
        "WHERE o.region IN ('apac', 'emea') AND l.sku LIKE 'X%' GROUP BY 1, 2 "
        "HAVING SUM(l.amount) > 1000 UNION ALL\n"
    )
    text = head + body * (size // len(body) + 1)
    return text[:size]
