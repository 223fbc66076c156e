"""A stateful model of the Redshift cluster the monitor watches, and its system views.

The Data API stand-in runs each statement against this model (see sqlexec.py), so that the
product's SQL meets rows shaped the way Redshift stores them rather than rows a test scripted.

State: a clock, users (``pg_user``), tables (``pg_class``, ``pg_namespace``), WLM queues, in-flight
queries and finished ones (history), and idle sessions that keep a transaction open. Every
in-flight query and every idle session in a transaction owns one transaction, with the table locks
it holds or waits for (``svv_transactions``). A system view is a function of that state, registered
with ``@view``: it yields one tuple per row, in the order of its declared columns, and is rebuilt
for every statement that names it. To add a view, declare its columns with Redshift types and
write the generator; CHAR(n) columns are blank-padded by the loader, as Redshift stores them.

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

# Redshift's table lock modes ("Managing concurrent write operations"): AccessShareLock blocks only
# AccessExclusiveLock; ShareRowExclusiveLock blocks itself and AccessExclusiveLock; AccessExclusiveLock
# blocks every mode. A transaction never blocks itself.
LOCK_MODES = ("AccessShareLock", "ShareRowExclusiveLock", "AccessExclusiveLock")
BLOCKED_BY = {
    "AccessShareLock": {"AccessExclusiveLock"},
    "ShareRowExclusiveLock": {"ShareRowExclusiveLock", "AccessExclusiveLock"},
    "AccessExclusiveLock": set(LOCK_MODES),
}
DEFAULT_QUEUE = "Default queue"
FIRST_USER_SERVICE_CLASS = 100  # Auto WLM's user queues are service classes 100-107
# System namespaces keep PostgreSQL's oids; oids of the scenario's tables and schemas start here
# (what user objects' oids look like on a cluster; the docs give no number).
SYSTEM_NAMESPACES = {"pg_catalog": 11, "public": 2200}
FIRST_OID = 100000
# An idle session's last statement ran for this long (capped at its transaction's start): the
# brief's "a few seconds"; only its end (idle_seconds ago) matters to an idle-session check.
LAST_STATEMENT_SECONDS = 2.0

SCENARIO_KEYS = {"kind", "now", "frozen", "monitor_pid", "users", "tables", "queries", "history", "sessions"}
USER_KEYS = {"name", "id"}
TABLE_KEYS = {"name", "oid"}
LOCK_KEYS = {"table", "mode", "granted"}
QUERY_KEYS = {
    "pid", "query_id", "user", "user_dropped", "started_seconds_ago", "start_time", "text",
    "state", "slices", "suspended", "database", "queue", "queued_seconds", "locks",
    "transaction_started_seconds_ago",
}
HISTORY_KEYS = (QUERY_KEYS - {"state", "suspended", "locks", "transaction_started_seconds_ago"}) | {
    "outcome", "ended_seconds_ago", "end_time", "error",
}
SESSION_KEYS = {
    "pid", "user", "database", "transaction_started_seconds_ago", "idle_seconds", "last_statement", "locks",
}


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
    if first in ("VACUUM", "ANALYZE", "CANCEL", "SET", "SHOW") or first in TRANSACTION_AND_UTILITY:
        return "UTILITY"
    return "OTHER"


# Docs, STL_UTILITYTEXT: the statements it logs (besides CREATE/ALTER/DROP DATABASE and USER,
# GRANT, REVOKE, TRUNCATE, CANCEL, SET, SHOW, ANALYZE). START (TRANSACTION) is BEGIN's synonym.
TRANSACTION_AND_UTILITY = {
    "ABORT", "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "CALL", "COMMENT", "EXPLAIN", "LOCK", "RESET",
}
UTILITY_FIRST_WORDS = TRANSACTION_AND_UTILITY | {
    "ANALYZE", "CANCEL", "GRANT", "REVOKE", "SET", "SHOW", "TRUNCATE",
}


def statement_log(text):
    """Which STL view logs the statement: "query" (STL_QUERY, STL_QUERYTEXT), "utility"
    (STL_UTILITYTEXT) or "ddl" (STL_DDLTEXT). Docs, STL_QUERY: it holds "only information about
    queries, not other utility and DDL commands". Text the model cannot classify (a syntax error,
    VACUUM) stays a query, as before."""
    words = re.findall(r"[A-Za-z]+", text.lstrip("(").split("\n", 1)[0].upper())
    first = words[0] if words else ""
    if first in UTILITY_FIRST_WORDS:
        return "utility"
    if first in ("CREATE", "ALTER", "DROP"):
        if query_type(text) == "CTAS":
            return "query"
        return "utility" if len(words) > 1 and words[1] in ("DATABASE", "USER") else "ddl"
    return "query"


def generic_text(text):
    """The text without its literals, the basis of generic_query_hash."""
    return re.sub(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b", "?", text)


def sha1(text):
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# ----- state ---------------------------------------------------------------------------------
class Lock:
    """A table lock of a transaction: held (`granted`) or waited for."""

    def __init__(self, oid, mode, granted):
        self.oid = oid
        self.mode = mode
        self.granted = granted

    def blocks(self, other):
        """Whether this lock, held by another transaction, keeps `other` from being granted."""
        return self.granted and self.oid == other.oid and self.mode in BLOCKED_BY[other.mode]

    def to_json(self, cluster=None):
        name = cluster.table_name(self.oid) if cluster is not None else None
        return {"table": name, "oid": self.oid, "mode": self.mode, "granted": self.granted}


class Query:
    """One query, in flight or finished. `user_id` may have no pg_user row (a dropped user).

    An in-flight query owns a transaction (`xid`, begun at `txn_start`, holding `locks`); the
    transaction ends with the query. `queue` is its WLM queue (None on Serverless), `queued` how
    long it waited there before it ran (a queued query: all of its time so far)."""

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
        self.queue = fields.get("queue")
        self.queued = fields.get("queued", dt.timedelta(0))
        self.txn_start = fields.get("txn_start") or self.start
        self.locks = fields.get("locks", [])
        self.outcome = None
        self.end = None
        self.error = None
        self.returned_rows = 0
        # Who ended it, when a statement did (CANCEL, pg_cancel_backend, pg_terminate_backend):
        # that statement's database user and query id. For tests; Redshift keeps no such record.
        self.cancelled_by = None
        self.cancelled_by_query_id = None

    def queue_time(self, now):
        """Time spent in the WLM queue up to `now` (or the end), never more than the elapsed time."""
        elapsed = max(dt.timedelta(0), (self.end or now) - self.start)
        if self.outcome is None and self.state == "queued":
            return elapsed
        return min(self.queued, elapsed)

    def to_json(self, cluster=None):
        out = {
            "pid": self.pid, "query_id": self.query_id, "xid": self.xid, "user_id": self.user_id,
            "user": self.user_name, "start_time": iso(self.start), "text": self.text,
            "database": self.database, "queue": self.queue,
            "queued_seconds": self.queued.total_seconds(),
        }
        if self.outcome is None:
            out.update(
                state=self.state, slices=self.slices, suspended=self.suspended,
                transaction_start=iso(self.txn_start), locks=[lock.to_json(cluster) for lock in self.locks],
            )
        else:
            out.update(
                outcome=self.outcome, end_time=iso(self.end), error=self.error,
                cancelled_by=self.cancelled_by, cancelled_by_query_id=self.cancelled_by_query_id,
            )
        return out


class Session:
    """A connected session that runs no query. While `xid` is set it is idle in a transaction
    begun at `txn_start`, holding `locks`; `last` is its last statement, in the history."""

    def __init__(self, **fields):
        self.pid = fields["pid"]
        self.user_id = fields["user_id"]
        self.user_name = fields["user_name"]
        self.database = fields["database"]
        self.xid = fields["xid"]
        self.txn_start = fields["txn_start"]
        self.start = fields["txn_start"]  # the session began with its transaction (docs silent)
        self.locks = fields["locks"]
        self.last = fields["last"]

    def to_json(self, cluster=None):
        return {
            "pid": self.pid, "user_id": self.user_id, "user": self.user_name, "database": self.database,
            "session_start": iso(self.start), "xid": self.xid, "transaction_start": iso(self.txn_start),
            "locks": [lock.to_json(cluster) for lock in self.locks], "last_query_id": self.last.query_id,
            "last_end_time": iso(self.last.end),
        }


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


def _seconds(raw, key, what, default=0):
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ScenarioError(f"{what}.{key} must be a number >= 0")
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
        self.namespaces = dict(SYSTEM_NAMESPACES)  # schema -> oid
        self.tables = {}  # (schema, table) -> oid
        self.reserved_oids = set()  # oids the scenario's `tables` give, while they are loaded
        # WLM queue name -> service class. Serverless has no queues.
        self.queues = {DEFAULT_QUEUE: FIRST_USER_SERVICE_CLASS} if kind == "provisioned" else {}
        self.inflight = []
        self.history = []
        self.sessions = []  # connected sessions that run no query (idle, mostly in a transaction)
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
        cluster.add_tables(raw.get("tables", []))
        for key, add in (
            ("users", cluster.add_user), ("queries", cluster.add_query), ("history", cluster.add_finished),
            ("sessions", cluster.add_session),
        ):
            items = raw.get(key, [])
            if not isinstance(items, list):
                raise ScenarioError(f"{key} must be a list")
            for i, item in enumerate(items):
                add(item, f"{key}[{i}]")
        return cluster

    # ----- tables -----------------------------------------------------------------------------
    @staticmethod
    def split_table_name(name, what):
        """("schema", "table") of "schema.table", or of "table" in public. Unquoted identifiers:
        Redshift folds them to lower case, and so does the model."""
        if not isinstance(name, str) or not name.strip():
            raise ScenarioError(f"{what} must be a table name, \"schema.table\" or \"table\"")
        parts = name.strip().lower().split(".")
        if len(parts) == 1:
            parts.insert(0, "public")
        if len(parts) != 2 or not all(parts):
            raise ScenarioError(f"{what}: not a table name: {name!r}")
        return parts[0], parts[1]

    def add_tables(self, raw):
        """The scenario's `tables`: given oids are reserved first, so that the oids handed to the
        other tables and their schemas never take one of them."""
        if not isinstance(raw, list):
            raise ScenarioError("tables must be a list")
        named = []
        for i, table in enumerate(raw):
            what = f"tables[{i}]"
            check_keys(table, TABLE_KEYS, what)
            if "name" not in table:
                raise ScenarioError(f"{what}.name is required")
            key = self.split_table_name(table["name"], f"{what}.name")
            if key in self.tables or any(key == k for k, _ in named):
                raise ScenarioError(f"{what}: table {'.'.join(key)} is listed twice")
            oid = None
            if "oid" in table:
                oid = _int(table, "oid", what, 1)
                if oid in self.reserved_oids or oid in self.namespaces.values() or oid in self.tables.values():
                    raise ScenarioError(f"{what}: oid {oid} is taken")
                self.reserved_oids.add(oid)
            named.append((key, oid))
        for key, oid in named:
            self.namespace_oid(key[0])
            self.tables[key] = oid if oid is not None else self.fresh_oid()
        self.reserved_oids.clear()

    def fresh_oid(self):
        taken = [FIRST_OID - 1, *self.namespaces.values(), *self.tables.values(), *self.reserved_oids]
        return max(taken) + 1

    def namespace_oid(self, schema):
        if schema not in self.namespaces:
            self.namespaces[schema] = self.fresh_oid()
        return self.namespaces[schema]

    def table_oid(self, name, what):
        """The oid of a table named in a lock; a table the scenario did not list is created."""
        key = self.split_table_name(name, what)
        if key not in self.tables:
            self.namespace_oid(key[0])
            self.tables[key] = self.fresh_oid()
        return self.tables[key]

    def table_name(self, oid):
        for (schema, table), table_oid in self.tables.items():
            if table_oid == oid:
                return f"{schema}.{table}"
        return None

    # ----- WLM queues -------------------------------------------------------------------------
    def queue_for(self, raw, what):
        """The query's WLM queue: `Default queue` (service class 100) unless named; a queue
        named for the first time gets the next service class (101, 102, ...). The docs put the
        default queue last in a configuration; here it keeps 100 whatever queues are added, so
        that adding a queue never renumbers one a test already reads. Serverless has no WLM
        queues: naming one is refused."""
        if "queue" not in raw:
            return DEFAULT_QUEUE if self.kind == "provisioned" else None
        if self.kind != "provisioned":
            raise ScenarioError(f"{what}.queue: Serverless has no WLM queues")
        name = raw["queue"]
        if not isinstance(name, str) or not name.strip():
            raise ScenarioError(f"{what}.queue must be a non-empty string")
        if name not in self.queues:
            self.queues[name] = max(self.queues.values()) + 1
        return name

    def service_class(self, query):
        """(service class id, queue name) of a query; (-1, "") on Serverless, as SYS views say."""
        if query.queue is None:
            return -1, ""
        return self.queues[query.queue], query.queue

    # ----- transactions and locks ------------------------------------------------------------
    def transactions(self):
        """Everything that owns an open transaction: each in-flight query, and each idle session
        in a transaction. Both have pid, xid, txn_start, user_name, database and locks."""
        return [*self.inflight, *(s for s in self.sessions if s.xid is not None)]

    def parse_locks(self, raw, what, waiting_allowed):
        """A transaction's `locks` as Lock objects, checked against the other transactions: no
        granted lock may conflict with one another transaction holds (Redshift would not have
        granted it), and a transaction waits for at most one lock at a time (its process is
        blocked on it). Only a running statement waits: an idle session holds granted locks."""
        if not isinstance(raw, list):
            raise ScenarioError(f"{what} must be a list")
        locks = []
        for i, item in enumerate(raw):
            where = f"{what}[{i}]"
            check_keys(item, LOCK_KEYS, where)
            if "table" not in item:
                raise ScenarioError(f"{where}.table is required")
            mode = item.get("mode")
            if mode not in LOCK_MODES:
                raise ScenarioError(f"{where}.mode must be one of {list(LOCK_MODES)}")
            granted = _bool(item, "granted", where, default=True)
            lock = Lock(self.table_oid(item["table"], f"{where}.table"), mode, granted)
            if any(l.oid == lock.oid and l.mode == lock.mode for l in locks):
                raise ScenarioError(f"{where}: {mode} on {self.table_name(lock.oid)} is listed twice")
            if granted:
                for other in self.transactions():
                    if any(held.blocks(lock) for held in other.locks):
                        raise ScenarioError(
                            f"{where}: {mode} on {self.table_name(lock.oid)} cannot be granted: "
                            f"pid {other.pid} holds a conflicting lock (say granted: false)"
                        )
            locks.append(lock)
        waiting = [l for l in locks if not l.granted]
        if waiting and not waiting_allowed:
            raise ScenarioError(f"{what}: an idle session waits for no lock (every lock is granted)")
        if len(waiting) > 1:
            raise ScenarioError(f"{what}: a transaction waits for one lock at a time")
        return locks

    def release(self, owner):
        """The owner's transaction ends: its locks vanish. A waiting lock on a table it held is
        then granted when no granted lock of another transaction blocks it any more (taken in the
        order the transactions were added; waiters do not queue behind one another)."""
        freed = {lock.oid for lock in owner.locks if lock.granted}
        owner.locks = []
        granted_one = True
        while freed and granted_one:
            granted_one = False
            holders = self.transactions()
            for waiter in holders:
                for lock in waiter.locks:
                    if lock.granted or lock.oid not in freed:
                        continue
                    if not any(held.blocks(lock) for other in holders if other is not waiter for held in other.locks):
                        lock.granted = granted_one = True

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

    def _user_and_database(self, raw, what):
        user = raw.get("user")
        if user is not None and (not isinstance(user, str) or not user):
            raise ScenarioError(f"{what}.user must be a non-empty string or null")
        database = raw.get("database", "dev")
        if not isinstance(database, str) or not database:
            raise ScenarioError(f"{what}.database must be a non-empty string")
        return user, database

    def _query_fields(self, raw, what, allowed):
        check_keys(raw, allowed, what)
        if "pid" not in raw:
            raise ScenarioError(f"{what}.pid is required")
        pid = _int(raw, "pid", what, 1)
        if any(s.pid == pid for s in self.sessions):
            raise ScenarioError(f"{what}: pid {pid} is an idle session (end it first)")
        if "query_id" in raw:
            query_id = _int(raw, "query_id", what, 1)
            if any(q.query_id == query_id for q in self.inflight + self.history):
                raise ScenarioError(f"{what}: query id {query_id} is taken")
        else:
            query_id = self.fresh_query_id()
        self.next_query_id = max(self.next_query_id, query_id + 1)
        user, database = self._user_and_database(raw, what)
        dropped = _bool(raw, "user_dropped", what)
        start = self._moment(raw, what, "started_seconds_ago", "start_time")
        text = raw.get("text", "select 1")
        if not isinstance(text, str):
            raise ScenarioError(f"{what}.text must be a string")
        queued = dt.timedelta(seconds=_seconds(raw, "queued_seconds", what))
        queue = self.queue_for(raw, what)
        user_id, user_name = self.user_for(user, dropped)
        return {
            "pid": pid, "query_id": query_id, "xid": self.fresh_xid(), "user_id": user_id,
            "user_name": user_name, "start": start, "text": text, "database": database,
            "queue": queue, "queued": queued,
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
        if "queued_seconds" in raw:
            if state == "queued":
                raise ScenarioError(f"{what}.queued_seconds: a queued query's whole elapsed time is queue time")
            if fields["queued"] > max(dt.timedelta(0), self.now() - fields["start"]):
                raise ScenarioError(f"{what}.queued_seconds is longer than the query has existed")
        # Its transaction: begun with the query unless an earlier statement of it began it.
        if "transaction_started_seconds_ago" in raw:
            txn_start = self.now() - dt.timedelta(seconds=_seconds(raw, "transaction_started_seconds_ago", what))
            if txn_start > fields["start"]:
                raise ScenarioError(f"{what}: its transaction starts after the query does")
            fields["txn_start"] = txn_start
        fields["locks"] = self.parse_locks(raw.get("locks", []), f"{what}.locks", waiting_allowed=True)
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
        if fields["queued"] > end - fields["start"]:
            raise ScenarioError(f"{what}.queued_seconds is longer than the query ran")
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
        busy = {q.pid for q in self.inflight} | {s.pid for s in self.sessions}
        while True:
            pid = random.randint(*PID_RANGE)
            if pid not in busy:
                return pid

    # ----- idle sessions -----------------------------------------------------------------------
    def add_session(self, raw, what="session"):
        """An idle session in an open transaction: no query runs on it. Its last statement is in
        the history (a success, ended `idle_seconds` ago, on the same pid and xid)."""
        check_keys(raw, SESSION_KEYS, what)
        if "pid" not in raw:
            raise ScenarioError(f"{what}.pid is required")
        pid = _int(raw, "pid", what, 1)
        if any(q.pid == pid for q in self.inflight) or any(s.pid == pid for s in self.sessions):
            raise ScenarioError(f"{what}: pid {pid} is taken")
        if pid == self.monitor_pid:
            raise ScenarioError(f"{what}: pid {pid} is the monitor's (monitor_pid)")
        user, database = self._user_and_database(raw, what)
        idle = _seconds(raw, "idle_seconds", what)
        txn_ago = _seconds(raw, "transaction_started_seconds_ago", what, idle + LAST_STATEMENT_SECONDS)
        if txn_ago < idle:
            raise ScenarioError(f"{what}: transaction_started_seconds_ago is less than idle_seconds")
        locks = self.parse_locks(raw.get("locks", []), f"{what}.locks", waiting_allowed=False)
        if "last_statement" in raw:
            text = raw["last_statement"]
            if not isinstance(text, str) or not text.strip():
                raise ScenarioError(f"{what}.last_statement must be a non-empty string")
        elif raw.get("locks"):
            text = f"LOCK {raw['locks'][0]['table'].strip()}"
        else:
            text = "BEGIN"  # a transaction that holds no table lock has, at least, begun (our choice)
        user_id, user_name = self.user_for(user, False)
        now = self.now()
        txn_start = now - dt.timedelta(seconds=txn_ago)
        end = now - dt.timedelta(seconds=idle)
        start = max(txn_start, end - dt.timedelta(seconds=LAST_STATEMENT_SECONDS))
        xid = self.fresh_xid()
        last = Query(
            pid=pid, query_id=self.fresh_query_id(), xid=xid, user_id=user_id, user_name=user_name,
            start=start, text=text, database=database, queue=self.queue_for({}, what),
        )
        last.outcome, last.end = "success", end
        self.history.append(last)
        session = Session(
            pid=pid, user_id=user_id, user_name=user_name, database=database, xid=xid,
            txn_start=txn_start, locks=locks, last=last,
        )
        self.sessions.append(session)
        return session

    def session_on(self, pid):
        return next((s for s in self.sessions if s.pid == pid), None)

    def end_session_transaction(self, pid):
        """The idle session's transaction ends (as a COMMIT or ROLLBACK would end it): its locks
        vanish and it leaves svv_transactions. The session stays connected (stv_sessions). The
        statement that ended it is not added to the history (the model keeps it simple)."""
        session = self.session_on(pid)
        if session is None:
            raise ScenarioError(f"no idle session on pid {pid}")
        if session.xid is None:
            raise ScenarioError(f"the session on pid {pid} has no open transaction")
        self.release(session)
        session.xid = session.txn_start = None
        return session

    def end_session_from(self, raw):
        """POST /_control/sessions/end: {"pid"}."""
        check_keys(raw, {"pid"}, "sessions/end")
        if "pid" not in raw:
            raise ScenarioError("sessions/end: pid is required")
        return self.end_session_transaction(_int(raw, "pid", "sessions/end", 1))

    def terminate_session(self, pid):
        """pg_terminate_backend on an idle session: its transaction rolls back, it disconnects."""
        session = self.session_on(pid)
        if session.xid is not None:
            self.end_session_transaction(pid)
        self.sessions.remove(session)

    # ----- life of a query --------------------------------------------------------------------
    def end_query(self, pid, outcome, error=None, by=None):
        """The query running on `pid` leaves the in-flight views for the history, ended now.
        `by`: the statement (a Query) that ended it, recorded as `cancelled_by`."""
        if outcome not in OUTCOMES:
            raise ScenarioError(f"outcome must be one of {list(OUTCOMES)}")
        for query in self.inflight:
            if query.pid == pid:
                return self.finish(query, outcome, error, by=by)
        raise ScenarioError(f"no query runs on pid {pid}")

    def end_from(self, raw):
        """POST /_control/queries/end: {"pid", "outcome" (default success), "error"}."""
        check_keys(raw, {"pid", "outcome", "error"}, "end")
        if "pid" not in raw:
            raise ScenarioError("end: pid is required")
        return self.end_query(_int(raw, "pid", "end", 1), raw.get("outcome", "success"), raw.get("error"))

    def finish(self, query, outcome, error=None, end=None, by=None):
        """The query ends, and its transaction with it (the model does not keep a transaction
        open past its query): its locks are released. `by`: the statement that ended it."""
        self.inflight.remove(query)
        self.release(query)
        query.outcome, query.end, query.error = outcome, end or self.now(), error
        if by is not None:
            query.cancelled_by, query.cancelled_by_query_id = by.user_name, by.query_id
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
            queue=self.queue_for({}, "statement"),
        )
        self.inflight.append(query)
        return query

    def to_json(self):
        return {
            "kind": self.kind, "now": iso(self.now()), "frozen": self.frozen,
            "monitor_pid": self.monitor_pid,
            "users": [{"name": n, "id": i} for n, i in self.users.items()],
            "tables": [{"name": f"{s}.{t}", "oid": oid} for (s, t), oid in self.tables.items()],
            "queues": [{"name": n, "service_class": c} for n, c in self.queues.items()],
            "queries": [q.to_json(self) for q in self.inflight],
            "history": [q.to_json(self) for q in self.history],
            "sessions": [s.to_json(self) for s in self.sessions],
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
# So is a statement waiting for a table lock: it has left the WLM queue (docs silent).
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
# Per its docs STL_QUERY holds queries only, "not other utility and DDL commands": a LOCK, BEGIN,
# SET or CANCEL is in stl_utilitytext instead, a CREATE TABLE in stl_ddltext (statement_log()).
@view(
    "userid integer, query integer, label char(320), xid bigint, pid integer,"
    " database char(32), querytxt char(4000), starttime timestamp, endtime timestamp,"
    " aborted integer, insert_pristine integer, concurrency_scaling_status integer",
    serverless=False,
)
def stl_query(cluster, now):
    for q in _all_queries(cluster):
        if statement_log(q.text) != "query":
            continue
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
# queue_time is the time in the WLM queue (a queued query: all of it so far; a running one: its
# `queued_seconds`), execution_time the rest. service_class_id/name are the query's queue on a
# provisioned cluster, -1 and empty on Serverless (as the docs say). lock_wait_time stays 0: the
# model does not time lock waits. A statement waiting for a lock is `running` here and in
# svv_query_inflight: the docs do not say where a lock wait shows, and it has left the WLM queue.
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
    service = ("normal", "false", "primary") if provisioned else ("", "", None)
    for q in _all_queries(cluster):
        if q.outcome is None:
            status, end = q.state, None
            elapsed = max(0, micros(now - q.start))
        else:
            status, end = SYS_STATUS[q.outcome], q.end
            elapsed = micros(q.end - q.start)
        queued = micros(q.queue_time(now))
        class_id, class_name = cluster.service_class(q)
        yield (
            q.user_id, q.query_id, "default", q.xid, q.pid, q.database, query_type(q.text),
            status, False, q.start, end, elapsed, queued, elapsed - queued, q.error or "",
            q.returned_rows, 0, stored_text(q.text)[:SYS_TEXT_CHUNK], "1.0.112736", "",
            service[2], 0, 0, 0, class_id, class_name, service[0], service[1], sha1(q.text),
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


# Docs: STL_UTILITYTEXT and STL_DDLTEXT, provisioned only: the statements STL_QUERY leaves out, one
# row per 200-character chunk (line breaks stored as backslash-n, like svv_query_inflight). label
# is blank without a query group (their docs); endtime NULL while the statement runs (docs silent).
def _statement_text_rows(cluster, log):
    for q in _all_queries(cluster):
        if statement_log(q.text) != log:
            continue
        for sequence, chunk in enumerate(chunks(stored_text(q.text), INFLIGHT_CHUNK)):
            yield (q.user_id, q.xid, q.pid, "", q.start, q.end, sequence, chunk)


STATEMENT_TEXT_COLUMNS = (
    "userid integer, xid bigint, pid integer, label char(320), starttime timestamp,"
    " endtime timestamp, sequence integer, text char(200)"
)


@view(STATEMENT_TEXT_COLUMNS, serverless=False)
def stl_utilitytext(cluster, now):
    return _statement_text_rows(cluster, "utility")


@view(STATEMENT_TEXT_COLUMNS, serverless=False)
def stl_ddltext(cluster, now):
    return _statement_text_rows(cluster, "ddl")


# Docs: SVV_TRANSACTIONS, all documented columns. Its page does not mark it provisioned-only, so
# Serverless has it too. Per open transaction (every in-flight query's, every idle session's): one
# row for the transaction's own ExclusiveLock on its transactionid (relation NULL, granted), and
# one per table lock it holds or waits for (relation = the table's oid). txn_owner is the user's
# name, NULL for a dropped user whose name is unknown (docs silent). A running query holds only the
# locks its scenario gives: the model does not derive locks from the SQL text.
@view(
    "txn_owner text, txn_db text, xid bigint, pid integer, txn_start timestamp, lock_mode text,"
    " lockable_object_type text, relation integer, granted boolean",
    serverless=True,
)
def svv_transactions(cluster, now):
    for owner in cluster.transactions():
        head = (owner.user_name, owner.database, owner.xid, owner.pid, owner.txn_start)
        for lock in owner.locks:
            yield (*head, lock.mode, "relation", lock.oid, lock.granted)
        yield (*head, "ExclusiveLock", "transactionid", None, True)


# PG_CLASS and PG_NAMESPACE: PostgreSQL catalogs Redshift keeps (provisioned and Serverless); the
# Redshift docs list no columns. oid is the hidden system column (type oid; integer here), relkind
# is "char" (char(1) here, so its typeName is bpchar). Kept: oid, relname, relnamespace, relowner,
# relkind; left out: the storage, statistics and ACL columns. One row per table of the scenario
# (relkind 'r'), owned by rdsdb (id 1; docs silent); the system catalogs themselves are not listed.
@view(
    "oid integer, relname name, relnamespace integer, relowner integer, relkind char(1)",
    serverless=True,
)
def pg_class(cluster, now):
    for (schema, table), oid in cluster.tables.items():
        yield (oid, table, cluster.namespaces[schema], 1, "r")


# pg_catalog (11) and public (2200) keep PostgreSQL's oids; each scenario schema has its own.
# nspacl (aclitem[]) is left out.
@view("oid integer, nspname name, nspowner integer", serverless=True)
def pg_namespace(cluster, now):
    for schema, oid in cluster.namespaces.items():
        yield (oid, schema, 1)


WLM_STATE = {"queued": "Queued", "running": "Running", "returning": "Returning"}


# Docs: STV_WLM_QUERY_STATE, provisioned only; all documented columns (xid is integer there).
# One row per in-flight query, the statement being executed included (the WLM tutorial's own
# query shows in it). state uses the documented spellings: Queued, Running, Returning (a query
# waiting for a lock is Running). task is the query id (one attempt each), slot_count 1 and
# query_priority 'normal' (Auto WLM's default priority): our choices. wlm_start_time is when it
# entered the queue (its start); queue_time and exec_time are microseconds up to the statement.
@view(
    "xid integer, task integer, query integer, service_class integer, slot_count integer,"
    " wlm_start_time timestamp, state char(16), queue_time bigint, exec_time bigint,"
    " query_priority char(20)",
    serverless=False,
)
def stv_wlm_query_state(cluster, now):
    for q in cluster.inflight:
        queued = q.queue_time(now)
        running = max(dt.timedelta(0), now - q.start - queued)
        yield (q.xid, q.query_id, q.query_id, cluster.service_class(q)[0], 1, q.start, WLM_STATE[q.state],
               micros(queued), micros(running), "normal")


# Docs: STV_WLM_SERVICE_CLASS_CONFIG, provisioned only; all documented columns. The wild-card
# columns are boolean in the docs (not char). The cluster runs Auto WLM: its user queues have
# num_query_tasks and query_working_mem -1 ("Auto WLM is configured"), concurrency scaling off,
# priority normal, no timeout (max_execution_time 0). Rows: the superuser queue (5) and short query
# acceleration (14), named by us (docs silent), then every user queue (100 "Default queue", 101 ...).
# The reserved classes 1-4 and 15 are left out. queueing_strategy, evictable, eviction_threshold
# and min_step_mem are "reserved for system use": empty, 'false' and 0 here.
@view(
    "service_class integer, queueing_strategy char(32), num_query_tasks integer,"
    " target_num_query_tasks integer, evictable char(8), eviction_threshold bigint,"
    " query_working_mem integer, target_query_working_mem integer, min_step_mem integer,"
    " name char(64), max_execution_time bigint, user_group_wild_card boolean,"
    " query_group_wild_card boolean, concurrency_scaling char(20), query_priority char(20),"
    " user_role_wild_card boolean",
    serverless=False,
)
def stv_wlm_service_class_config(cluster, now):
    system = [(5, "Superuser queue", 1), (14, "Short query queue", -1)]
    users = [(service_class, name, -1) for name, service_class in cluster.queues.items()]
    for service_class, name, tasks in system + sorted(users):
        yield (service_class, "", tasks, tasks, "false", 0, -1, -1, 0, name, 0, False, False, "off",
               "normal", False)


# Docs: STV_SESSIONS, provisioned only; all documented columns. One row per session: each in-flight
# query's (one per pid) and each idle one's. starttime is when the session's transaction began
# (docs silent: the model has no connect time); timeout_sec 0 (no timeout set).
@view(
    "starttime timestamp, process integer, user_name char(50), db_name char(50), timeout_sec integer",
    serverless=False,
)
def stv_sessions(cluster, now):
    seen = set()
    for owner in [*cluster.inflight, *cluster.sessions]:
        if owner.pid in seen:
            continue
        seen.add(owner.pid)
        start = owner.start if isinstance(owner, Session) else owner.txn_start
        yield (start, owner.pid, owner.user_name or "", owner.database, 0)
