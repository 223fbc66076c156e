"""A stateful model of the Redshift cluster the monitor watches, and its system views.

The Data API stand-in runs each statement against this model (see sqlexec.py), so that the
product's SQL meets rows shaped the way Redshift stores them rather than rows a test scripted.

State: a clock, users (``pg_user``), in-flight queries and finished ones (history). A system view
is a function of that state, registered with ``@view``: it yields one tuple per row, in the order
of its declared columns, and is rebuilt for every statement that names it. To add a view (WLM
queue state, locks, transactions, sessions ...), declare its columns with Redshift types and write
the generator; CHAR(n) columns are blank-padded by the loader, as Redshift stores them.

Times are naive ``datetime`` values in UTC: Redshift's ``timestamp`` is zone-less and its system
views keep UTC.
"""

import datetime as dt
import hashlib
import random
import re
import threading
import time

STATES = ("running", "queued", "returning")
OUTCOMES = ("success", "failed", "cancelled")
KINDS = ("provisioned", "serverless")
# sys_query_history spells the outcome of a cancelled query with one "l".
SYS_STATUS = {"success": "success", "failed": "failed", "cancelled": "canceled"}

INFLIGHT_CHUNK = 200  # svv_query_inflight.text is character(200)
SYS_TEXT_CHUNK = 4000  # sys_query_text.text, sys_query_history.query_text are character(4000)
RECENT_DONE = 100  # how many finished queries stv_recents keeps (docs: "recently run"; no number)
FIRST_USER_ID = 100  # Redshift numbers the first user created after rdsdb 100
PID_RANGE = (1073741000, 1073749999)  # what Data API sessions' pids look like

SCENARIO_KEYS = {"kind", "now", "frozen", "monitor_pid", "users", "queries", "history"}
USER_KEYS = {"name", "id"}
QUERY_KEYS = {
    "pid", "query_id", "user", "user_dropped", "started_seconds_ago", "start_time", "text",
    "state", "slices", "suspended", "database",
}
HISTORY_KEYS = (QUERY_KEYS - {"state", "suspended"}) | {"outcome", "ended_seconds_ago", "end_time", "error"}


class ScenarioError(ValueError):
    """A scenario or control request the model refuses (answered with HTTP 400)."""


# ----- time ----------------------------------------------------------------------------------
def parse_time(value, key):
    """An ISO 8601 time ("Z", an offset, or none meaning UTC) as a naive UTC datetime."""
    if not isinstance(value, str):
        raise ScenarioError(f"{key} must be an ISO 8601 string")
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        raise ScenarioError(f"{key}: not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def iso(t):
    return None if t is None else t.isoformat(timespec="microseconds") + "Z"


def micros(delta):
    return delta // dt.timedelta(microseconds=1)


def wall_now():
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# ----- text as the system views store it -----------------------------------------------------
def stored_text(text):
    """Redshift logs a line break as the two characters backslash and n. The replacement comes
    before chunking, so a stored line break can straddle two chunks."""
    return text.replace("\n", "\\n")


def chunks(text, size):
    """Cut by characters (Python str), not bytes; an empty text still has its row 0."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def query_type(text):
    words = re.findall(r"[A-Za-z]+", text.lstrip("(").split("\n", 1)[0].upper())
    first = words[0] if words else ""
    if first == "CREATE" and " AS " in f" {' '.join(words)} " and "TABLE" in words:
        return "CTAS"
    if first in ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "COPY", "UNLOAD"):
        return "SELECT" if first == "WITH" else first
    if first in ("CREATE", "ALTER", "DROP", "TRUNCATE", "GRANT", "REVOKE"):
        return "DDL"
    if first in ("VACUUM", "ANALYZE", "CANCEL", "SET", "SHOW"):
        return "UTILITY"
    return "OTHER"


def generic_text(text):
    """The text without its literals, the basis of generic_query_hash."""
    return re.sub(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b", "?", text)


def sha1(text):
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# ----- state ---------------------------------------------------------------------------------
class Query:
    """One query, in flight or finished. `user_id` may have no pg_user row (a dropped user)."""

    def __init__(self, **fields):
        self.pid = fields["pid"]
        self.query_id = fields["query_id"]
        self.xid = fields["xid"]
        self.user_id = fields["user_id"]
        self.user_name = fields["user_name"]
        self.start = fields["start"]
        self.text = fields["text"]
        self.state = fields.get("state", "running")
        self.slices = fields.get("slices", 1)
        self.suspended = fields.get("suspended", False)
        self.database = fields.get("database", "dev")
        self.outcome = None
        self.end = None
        self.error = None
        self.returned_rows = 0

    def to_json(self):
        out = {
            "pid": self.pid, "query_id": self.query_id, "xid": self.xid, "user_id": self.user_id,
            "user": self.user_name, "start_time": iso(self.start), "text": self.text,
            "database": self.database,
        }
        if self.outcome is None:
            out.update(state=self.state, slices=self.slices, suspended=self.suspended)
        else:
            out.update(outcome=self.outcome, end_time=iso(self.end), error=self.error)
        return out


def check_keys(raw, allowed, what):
    if not isinstance(raw, dict):
        raise ScenarioError(f"{what} must be a JSON object")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ScenarioError(f"{what}: unknown keys {unknown} (allowed: {sorted(allowed)})")


def _bool(raw, key, what, default=False):
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ScenarioError(f"{what}.{key} must be true or false")
    return value


def _int(raw, key, what, minimum=0):
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ScenarioError(f"{what}.{key} must be an integer >= {minimum}")
    return value


class Cluster:
    """The cluster's state. Callers hold `lock` around anything that reads or changes it."""

    def __init__(self, kind="provisioned", now=None, frozen=False, monitor_pid=None):
        self.lock = threading.RLock()
        self.kind = kind
        self.frozen = frozen
        self.monitor_pid = monitor_pid
        self.set_clock(now if now is not None else wall_now())
        self.users = {"rdsdb": 1}  # name -> id; rdsdb is the superuser every cluster has
        self.dropped = {}  # name -> the id a dropped user had
        self.inflight = []
        self.history = []
        self.next_query_id = 1000
        self.next_xid = 5000

    # ----- clock ------------------------------------------------------------------------------
    def set_clock(self, now):
        self.base = now
        self.base_mono = time.monotonic()

    def now(self):
        """Frozen: the set time. Running: the set time plus the real seconds since it was set."""
        if self.frozen:
            return self.base
        return self.base + dt.timedelta(seconds=time.monotonic() - self.base_mono)

    def advance(self, seconds):
        self.set_clock(self.now() + dt.timedelta(seconds=seconds))

    def move_clock(self, raw):
        """POST /_control/clock: {"advance_seconds": n} or {"now": ISO}, and/or {"frozen": bool}."""
        check_keys(raw, {"advance_seconds", "now", "frozen"}, "clock")
        if "advance_seconds" in raw and "now" in raw:
            raise ScenarioError("clock: give advance_seconds or now, not both")
        if not raw:
            raise ScenarioError("clock: give advance_seconds or now (and/or frozen)")
        if "frozen" in raw:
            frozen = _bool(raw, "frozen", "clock")
            self.set_clock(self.now())
            self.frozen = frozen
        if "now" in raw:
            self.set_clock(parse_time(raw["now"], "clock.now"))
        if "advance_seconds" in raw:
            seconds = raw["advance_seconds"]
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise ScenarioError("clock.advance_seconds must be a number")
            self.advance(seconds)

    # ----- scenario ---------------------------------------------------------------------------
    @classmethod
    def from_scenario(cls, raw):
        check_keys(raw, SCENARIO_KEYS, "scenario")
        kind = raw.get("kind", "provisioned")
        if kind not in KINDS:
            raise ScenarioError(f"kind must be one of {list(KINDS)}")
        frozen = _bool(raw, "frozen", "scenario")
        monitor_pid = None
        if raw.get("monitor_pid") is not None:
            monitor_pid = _int(raw, "monitor_pid", "scenario", 1)
        now = parse_time(raw["now"], "now") if "now" in raw else None
        cluster = cls(kind, now, frozen, monitor_pid)
        users = raw.get("users", [])
        if not isinstance(users, list):
            raise ScenarioError("users must be a list")
        for i, user in enumerate(users):
            cluster.add_user(user, f"users[{i}]")
        for key, add in (("queries", cluster.add_query), ("history", cluster.add_finished)):
            items = raw.get(key, [])
            if not isinstance(items, list):
                raise ScenarioError(f"{key} must be a list")
            for i, item in enumerate(items):
                add(item, f"{key}[{i}]")
        return cluster

    def add_user(self, raw, what="user"):
        check_keys(raw, USER_KEYS, what)
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise ScenarioError(f"{what}.name must be a non-empty string")
        if name in self.users:
            raise ScenarioError(f"{what}: user {name!r} exists already")
        user_id = _int(raw, "id", what, 1) if "id" in raw else self.fresh_user_id()
        if user_id in self.users.values():
            raise ScenarioError(f"{what}: user id {user_id} is taken")
        self.users[name] = user_id

    def fresh_user_id(self):
        return max([FIRST_USER_ID - 1, *self.users.values()]) + 1

    def user_for(self, name, dropped):
        """(id, name) of a query's user, creating the user on first mention. A dropped user keeps
        an id that no pg_user row has; `None` stands for a user dropped with its name unknown."""
        if name is None:
            return self.fresh_dropped_id(), None
        if dropped:
            if name not in self.dropped:
                self.dropped[name] = self.fresh_dropped_id()
            return self.dropped[name], name
        if name not in self.users:
            self.users[name] = self.fresh_user_id()
        return self.users[name], name

    def fresh_dropped_id(self):
        taken = {q.user_id for q in self.inflight + self.history} | set(self.dropped.values())
        candidate = self.fresh_user_id() + 500
        while candidate in taken:
            candidate += 1
        return candidate

    def _query_fields(self, raw, what, allowed):
        check_keys(raw, allowed, what)
        if "pid" not in raw:
            raise ScenarioError(f"{what}.pid is required")
        pid = _int(raw, "pid", what, 1)
        if "query_id" in raw:
            query_id = _int(raw, "query_id", what, 1)
            if any(q.query_id == query_id for q in self.inflight + self.history):
                raise ScenarioError(f"{what}: query id {query_id} is taken")
        else:
            query_id = self.fresh_query_id()
        self.next_query_id = max(self.next_query_id, query_id + 1)
        user = raw.get("user")
        if user is not None and (not isinstance(user, str) or not user):
            raise ScenarioError(f"{what}.user must be a non-empty string or null")
        dropped = _bool(raw, "user_dropped", what)
        start = self._moment(raw, what, "started_seconds_ago", "start_time")
        text = raw.get("text", "select 1")
        if not isinstance(text, str):
            raise ScenarioError(f"{what}.text must be a string")
        database = raw.get("database", "dev")
        if not isinstance(database, str) or not database:
            raise ScenarioError(f"{what}.database must be a non-empty string")
        user_id, user_name = self.user_for(user, dropped)
        return {
            "pid": pid, "query_id": query_id, "xid": self.fresh_xid(), "user_id": user_id,
            "user_name": user_name, "start": start, "text": text, "database": database,
        }

    def _moment(self, raw, what, ago_key, time_key):
        """A time given as seconds before the clock (default 0) or as an ISO 8601 time."""
        if ago_key in raw and time_key in raw:
            raise ScenarioError(f"{what}: give {ago_key} or {time_key}, not both")
        if time_key in raw:
            return parse_time(raw[time_key], f"{what}.{time_key}")
        ago = raw.get(ago_key, 0)
        if isinstance(ago, bool) or not isinstance(ago, (int, float)) or ago < 0:
            raise ScenarioError(f"{what}.{ago_key} must be a number >= 0")
        return self.now() - dt.timedelta(seconds=ago)

    def add_query(self, raw, what="query"):
        fields = self._query_fields(raw, what, QUERY_KEYS)
        state = raw.get("state", "running")
        if state not in STATES:
            raise ScenarioError(f"{what}.state must be one of {list(STATES)}")
        slices = _int(raw, "slices", what, 1) if "slices" in raw else 1
        suspended = _bool(raw, "suspended", what)
        # One session runs one query at a time.
        if any(q.pid == fields["pid"] for q in self.inflight):
            raise ScenarioError(f"{what}: pid {fields['pid']} already runs a query")
        query = Query(**fields, state=state, slices=slices, suspended=suspended)
        self.inflight.append(query)
        return query

    def add_finished(self, raw, what="history"):
        fields = self._query_fields(raw, what, HISTORY_KEYS)
        outcome = raw.get("outcome", "success")
        if outcome not in OUTCOMES:
            raise ScenarioError(f"{what}.outcome must be one of {list(OUTCOMES)}")
        end = self._moment(raw, what, "ended_seconds_ago", "end_time")
        if end < fields["start"]:
            raise ScenarioError(f"{what}: ends before it starts")
        query = Query(**fields)
        query.outcome, query.end = outcome, end
        query.error = raw.get("error") or (f"ERROR: Query {query.query_id} failed" if outcome == "failed" else None)
        self.history.append(query)
        return query

    def fresh_query_id(self):
        self.next_query_id += 1
        return self.next_query_id - 1

    def fresh_xid(self):
        self.next_xid += 1
        return self.next_xid - 1

    def fresh_pid(self):
        busy = {q.pid for q in self.inflight}
        while True:
            pid = random.randint(*PID_RANGE)
            if pid not in busy:
                return pid

    # ----- life of a query --------------------------------------------------------------------
    def end_query(self, pid, outcome, error=None):
        """The query running on `pid` leaves the in-flight views for the history, ended now."""
        if outcome not in OUTCOMES:
            raise ScenarioError(f"outcome must be one of {list(OUTCOMES)}")
        for query in self.inflight:
            if query.pid == pid:
                return self.finish(query, outcome, error)
        raise ScenarioError(f"no query runs on pid {pid}")

    def end_from(self, raw):
        """POST /_control/queries/end: {"pid", "outcome" (default success), "error"}."""
        check_keys(raw, {"pid", "outcome", "error"}, "end")
        if "pid" not in raw:
            raise ScenarioError("end: pid is required")
        return self.end_query(_int(raw, "pid", "end", 1), raw.get("outcome", "success"), raw.get("error"))

    def finish(self, query, outcome, error=None, end=None):
        self.inflight.remove(query)
        query.outcome, query.end, query.error = outcome, end or self.now(), error
        self.history.append(query)
        return query

    def begin_statement(self, text, user, database, start):
        """The statement being executed is itself a running query, on its own pid: Redshift lists
        it in svv_query_inflight, which is why the product filters out pg_backend_pid()."""
        pid = self.monitor_pid or self.fresh_pid()
        user_id, user_name = self.user_for(user, False)
        query = Query(
            pid=pid, query_id=self.fresh_query_id(), xid=self.fresh_xid(), user_id=user_id,
            user_name=user_name, start=start, text=text, database=database,
        )
        self.inflight.append(query)
        return query

    def to_json(self):
        return {
            "kind": self.kind, "now": iso(self.now()), "frozen": self.frozen,
            "monitor_pid": self.monitor_pid,
            "users": [{"name": n, "id": i} for n, i in self.users.items()],
            "queries": [q.to_json() for q in self.inflight],
            "history": [q.to_json() for q in self.history],
        }


# ----- system views --------------------------------------------------------------------------
class Column:
    def __init__(self, name, rs_type):
        self.name = name
        self.rs_type = rs_type
        match = re.fullmatch(r"(char|varchar)\((\d+)\)", rs_type)
        self.char_length = int(match.group(2)) if match and match.group(1) == "char" else None

    @property
    def duckdb_type(self):
        base = self.rs_type.split("(")[0]
        return {
            "integer": "INTEGER", "bigint": "BIGINT", "smallint": "SMALLINT",
            "boolean": "BOOLEAN", "timestamp": "TIMESTAMP", "double": "DOUBLE",
        }.get(base, "VARCHAR")

    @property
    def sqlglot_type(self):
        """The type the SQL translator reasons with (CHAR and NAME matter: see sqlexec.py)."""
        if self.rs_type == "name":
            return "NAME"
        return self.rs_type.upper().replace("INTEGER", "INT")


class View:
    def __init__(self, name, columns, serverless, rows):
        self.name = name
        self.columns = [Column(*c.split()) for c in columns.split(",")]
        self.serverless = serverless
        self.rows = rows

    def available(self, kind):
        return kind == "provisioned" or self.serverless


VIEWS = {}


def view(columns, serverless):
    """Registers the decorated generator as the system view of its name. `columns`: "name type,
    ..." with Redshift's types, in row order; `serverless`: whether Serverless has it too."""

    def register(rows):
        VIEWS[rows.__name__] = View(rows.__name__, columns, serverless, rows)
        return rows

    return register


def views_for(kind):
    return {name: v for name, v in VIEWS.items() if v.available(kind)}


# Docs: PG_USER (PostgreSQL catalog). valuntil is abstime there; a timestamp here.
@view(
    "usename name, usesysid integer, usecreatedb boolean, usesuper boolean,"
    " usecatupd boolean, passwd varchar(8), valuntil timestamp, useconfig varchar(256)",
    serverless=True,
)
def pg_user(cluster, now):
    for name, user_id in cluster.users.items():
        superuser = user_id == 1
        yield (name, user_id, superuser, superuser, superuser, "********", None, None)


# Docs: SVV_QUERY_INFLIGHT, provisioned only. One row per 200-character chunk of the text, per
# slice the query runs on. Queued queries are not on the compute nodes yet, so they are absent; a
# query returning its rows still is (the docs do not say; STV_INFLIGHT lists what holds slices).
@view(
    "userid integer, slice integer, query integer, pid integer, starttime timestamp,"
    " suspended integer, text char(200), sequence integer",
    serverless=False,
)
def svv_query_inflight(cluster, now):
    on_slices = [q for q in cluster.inflight if q.state != "queued"]
    for q in on_slices:
        for sequence, chunk in enumerate(chunks(stored_text(q.text), INFLIGHT_CHUNK)):
            for slice_ in range(q.slices):
                yield (q.user_id, slice_, q.query_id, q.pid, q.start, int(q.suspended), chunk, sequence)


def _all_queries(cluster):
    return cluster.inflight + cluster.history


# Docs: STL_QUERY, provisioned only. endtime of a running query is not documented: NULL here.
@view(
    "userid integer, query integer, label char(320), xid bigint, pid integer,"
    " database char(32), querytxt char(4000), starttime timestamp, endtime timestamp,"
    " aborted integer, insert_pristine integer, concurrency_scaling_status integer",
    serverless=False,
)
def stl_query(cluster, now):
    for q in _all_queries(cluster):
        aborted = int(q.outcome in ("failed", "cancelled"))
        text = stored_text(q.text)[:SYS_TEXT_CHUNK]
        yield (q.user_id, q.query_id, "default", q.xid, q.pid, q.database, text, q.start, q.end,
               aborted, 0, 0)


# Docs: STV_RECENTS, provisioned only. duration is documented as integer microseconds, which
# overflows after 36 minutes, the very queries this tool looks for: bigint here.
@view(
    "userid integer, status char(20), starttime timestamp, duration bigint,"
    " user_name char(50), db_name char(50), query char(600), pid integer",
    serverless=False,
)
def stv_recents(cluster, now):
    for q in cluster.inflight:
        yield (q.user_id, "Running", q.start, max(0, micros(now - q.start)), q.user_name or "",
               q.database, q.text[:600], q.pid)
    done = sorted(cluster.history, key=lambda q: q.end)[-RECENT_DONE:]
    for q in done:
        yield (q.user_id, "Done", q.start, micros(q.end - q.start), q.user_name or "",
               q.database, q.text[:600], -1)


# Docs: SYS_QUERY_HISTORY (provisioned and Serverless); all documented columns. While a query
# runs, end_time is NULL and the times are measured up to the statement's start (docs silent).
@view(
    "user_id integer, query_id bigint, query_label char(320), transaction_id bigint,"
    " session_id integer, database_name char(128), query_type char(32), status char(10),"
    " result_cache_hit boolean, start_time timestamp, end_time timestamp,"
    " elapsed_time bigint, queue_time bigint, execution_time bigint,"
    " error_message char(512), returned_rows bigint, returned_bytes bigint,"
    " query_text char(4000), redshift_version char(256), usage_limit char(150),"
    " compute_type varchar(32), compile_time bigint, planning_time bigint,"
    " lock_wait_time bigint, service_class_id integer, service_class_name char(64),"
    " query_priority char(20), short_query_accelerated char(10), user_query_hash char(40),"
    " generic_query_hash char(40), query_hash_version integer,"
    " result_cache_query_id integer, username char(128)",
    serverless=True,
)
def sys_query_history(cluster, now):
    provisioned = cluster.kind == "provisioned"
    # Per the docs these columns only describe provisioned clusters: -1 or empty on Serverless.
    service = (100, "Default queue", "normal", "false", "primary") if provisioned else (-1, "", "", "", None)
    for q in _all_queries(cluster):
        if q.outcome is None:
            status, end = q.state, None
            elapsed = max(0, micros(now - q.start))
            queued = elapsed if q.state == "queued" else 0
        else:
            status, end = SYS_STATUS[q.outcome], q.end
            elapsed, queued = micros(q.end - q.start), 0
        yield (
            q.user_id, q.query_id, "default", q.xid, q.pid, q.database, query_type(q.text),
            status, False, q.start, end, elapsed, queued, elapsed - queued, q.error or "",
            q.returned_rows, 0, stored_text(q.text)[:SYS_TEXT_CHUNK], "1.0.112736", "",
            service[4], 0, 0, 0, service[0], service[1], service[2], service[3], sha1(q.text),
            sha1(generic_text(q.text)), 1, 0, q.user_name,
        )


# Docs: SYS_QUERY_TEXT (provisioned and Serverless): one row per 4,000-character chunk.
@view(
    "user_id integer, query_id bigint, transaction_id bigint, session_id integer,"
    " start_time timestamp, sequence integer, text char(4000)",
    serverless=True,
)
def sys_query_text(cluster, now):
    for q in _all_queries(cluster):
        for sequence, chunk in enumerate(chunks(stored_text(q.text), SYS_TEXT_CHUNK)):
            yield (q.user_id, q.query_id, q.xid, q.pid, q.start, sequence, chunk)
