"""Runs a Redshift statement against the cluster model (redshift_model.py).

The statement is parsed with sqlglot's Redshift reader, adjusted where DuckDB's meaning differs
from Redshift's, written out for DuckDB and run over tables rebuilt from the model's system
views. What Redshift would do differently is closed here, each where it is done:

- Data API parameters reach Redshift as strings: each ``:name`` becomes a string literal.
- ``GETDATE()`` is the statement's start, truncated to the second; ``SYSDATE`` keeps the
  microseconds (its docs: the start of the transaction, which the Data API opens per statement).
- ``pg_backend_pid()`` is the statement's own pid.
- ``/`` between integers truncates toward zero: DuckDB's ``integer_division`` setting gives that
  whatever the operands are (a column, ``DATEDIFF(...)``, a literal), with no type inference.
- ``LISTAGG`` has no delimiter unless given one, skips empty strings, and fails the whole
  statement past 65,535 bytes (error 8001).
- Trailing blanks do not count when strings are compared (Redshift's rule for CHAR and VARCHAR):
  both sides of a comparison of two strings are RTRIM'd, and LENGTH of a CHAR leaves its padding
  out. CHAR values are stored padded, as Redshift returns them, so ``status = 'running'`` needs
  this. Which operands are strings comes from sqlglot's type annotation against the views'
  columns; when it cannot type the statement, the rule is not applied.
- ``CANCEL pid``, ``pg_cancel_backend(pid)`` and ``pg_terminate_backend(pid)`` act on the model
  (an idle session's pid too); ``SET ...`` is accepted and changes nothing. The two functions run
  once per row of the result, as whole columns of the outermost SELECT (``SELECT
  pg_cancel_backend(session_id) AS cancelled FROM sys_query_history WHERE ...``): DuckDB computes
  the argument, and the engine then signals each pid in row order and puts the function's value
  in its place (DuckDB's Python functions would need numpy).

A statement the engine refuses fails with ``ERROR: ...`` and never takes the server down.
"""

import datetime as dt
import decimal
import re
import sys
import threading
import traceback

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

import redshift_model as model

LISTAGG_LIMIT = 65535
LISTAGG_ERROR = "Result size exceeds LISTAGG limit"
CANCEL = re.compile(r"\s*cancel\s+(\d+)(?:\s+'(?:[^']|'')*')?\s*;?\s*", re.IGNORECASE)
NO_SESSION = (
    "ERROR: Session {pid} does not exist. The session PID might have changed. "
    "Check the stl_restarted_sessions system table for details."
)
# The backend signal functions: name -> (whether it ends the session, the result's Data API
# typeName, its cell). Redshift's docs give PG_CANCEL_BACKEND and PG_TERMINATE_BACKEND the return
# type "None" and no example output. Redshift descends from PostgreSQL 8.0, whose
# pg_cancel_backend returns int (1 when the signal was sent): int4 1 here. pg_terminate_backend
# keeps what this engine answered before (bool true).
SIGNALS = {
    "pg_cancel_backend": (False, "int4", {"longValue": 1}),
    "pg_terminate_backend": (True, "bool", {"booleanValue": True}),
}
# Argument types (DuckDB's, of the computed argument) the functions take: Redshift's int2/int4.
# Any other fails as Redshift fails `pg_cancel_backend(query_id)` on a BIGINT column: "function
# pg_cancel_backend(bigint) does not exist" (the error aws-sdk-js-v3 issue #3056 shows).
# A bare NULL is untyped in both (Redshift resolves it to int4; the call returns NULL).
SIGNAL_ARGUMENT_TYPES = {"INTEGER", "SMALLINT", "TINYINT", "UTINYINT", "USMALLINT", '"NULL"', "NULL"}
REDSHIFT_TYPE_NAMES = {
    "BIGINT": "bigint", "HUGEINT": "bigint", "UBIGINT": "bigint", "UINTEGER": "bigint",
    "VARCHAR": "character varying", "DOUBLE": "double precision", "FLOAT": "real",
    "BOOLEAN": "boolean", "TIMESTAMP": "timestamp without time zone", "DATE": "date",
}
NO_FUNCTION = (
    "ERROR: function {name}({types}) does not exist\n  Hint: No function matches the given name and "
    "argument types. You may need to add explicit type casts."
)
CANCELLED = "Query cancelled on user's request"
# The schemas a system view may be named with.
SYSTEM_SCHEMAS = ("", "pg_catalog", "public")
T = exp.DataType.Type
TEXT_TYPES = {T.CHAR, T.NCHAR, T.VARCHAR, T.NVARCHAR, T.TEXT, T.NAME, T.BPCHAR}
COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)

# DuckDB type -> (Data API typeName, cell kind)
DUCKDB_TYPES = {
    "TINYINT": ("int2", "long"), "SMALLINT": ("int2", "long"), "INTEGER": ("int4", "long"),
    # SUM(integer) is HUGEINT in DuckDB and bigint in Redshift.
    "BIGINT": ("int8", "long"), "HUGEINT": ("int8", "long"), "UBIGINT": ("int8", "long"),
    "UINTEGER": ("int8", "long"), "USMALLINT": ("int4", "long"), "UTINYINT": ("int2", "long"),
    "DOUBLE": ("float8", "double"), "FLOAT": ("float4", "double"),
    "BOOLEAN": ("bool", "boolean"), "VARCHAR": ("varchar", "string"),
    "TIMESTAMP": ("timestamp", "timestamp"), "TIMESTAMP WITH TIME ZONE": ("timestamptz", "timestamp"),
    "DATE": ("date", "string"), "TIME": ("time", "string"), "INTERVAL": ("interval", "string"),
}


class SqlError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


class Execution:
    """What a statement did: its pid and query id, and either a result or an error."""

    def __init__(self, pid, query_id, user):
        self.pid = pid
        self.query_id = query_id
        self.user = user  # the database user it ran as
        self.columns = None  # ColumnMetadata dicts when the statement returns rows
        self.records = []  # rows of Data API cells
        self.error = None

    @property
    def has_result_set(self):
        return self.columns is not None


def column_metadata(name, type_name, precision=0, scale=0):
    text = type_name in ("varchar", "bpchar", "name")
    return {
        "name": name, "label": name, "typeName": type_name, "nullable": 1,
        "isCaseSensitive": text, "isCurrency": False,
        "isSigned": type_name in ("int2", "int4", "int8", "numeric", "float4", "float8"),
        "length": 0, "precision": precision, "scale": scale, "schemaName": "", "tableName": "",
    }


def render_timestamp(value):
    """As Redshift prints a timestamp: a space, no zone, the fraction without trailing zeros."""
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text


def to_cell(value, kind):
    if value is None:
        return {"isNull": True}
    if kind == "long":
        return {"longValue": int(value)}
    if kind == "double":
        return {"doubleValue": float(value)}
    if kind == "boolean":
        return {"booleanValue": bool(value)}
    if kind == "timestamp" and isinstance(value, dt.datetime):
        suffix = "+00" if value.tzinfo is not None else ""
        return {"stringValue": render_timestamp(value.astimezone(dt.timezone.utc) if suffix else value) + suffix}
    if isinstance(value, decimal.Decimal):
        return {"stringValue": format(value, "f")}
    return {"stringValue": str(value)}


def pad(value, length):
    return value if value is None else value[:length].ljust(length)


# ----- the translation from Redshift SQL to DuckDB SQL -----------------------------------------
def parse_one(sql):
    try:
        statements = [s for s in sqlglot.parse(sql, read="redshift") if s is not None]
    except SqlglotError as err:
        raise SqlError(f"ERROR: syntax error: {str(err).splitlines()[0]}") from None
    if not statements:
        raise SqlError("ERROR: empty query")
    if len(statements) > 1:
        raise SqlError("ERROR: cannot insert multiple commands into a prepared statement")
    return statements[0]


def bind_parameters(tree, parameters):
    for node in list(tree.find_all(exp.Placeholder)):
        name = node.name
        if name not in parameters:
            raise SqlError(f"ERROR: no value for parameter :{name}")
        node.replace(exp.Literal.string(parameters[name]))


def cte_names(tree):
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def referenced_views(tree, kind):
    """Names of the system views the statement reads; an unknown relation fails like Redshift."""
    available = model.views_for(kind)
    local = cte_names(tree)
    names = set()
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise SqlError(f"ERROR: function {table.this.sql('redshift')} does not exist")
        name, schema = table.name.lower(), table.db.lower()
        if not schema and name in local:
            continue
        if schema not in SYSTEM_SCHEMAS or name not in available:
            shown = f"{schema}.{name}" if schema else name
            raise SqlError(f'ERROR: relation "{shown}" does not exist')
        names.add(name)
        table.set("db", None)
        table.set("catalog", None)
    return names


def sqlglot_schema(names):
    return {n: {c.name: c.sqlglot_type for c in model.VIEWS[n].columns} for n in names}


def annotated(tree, names):
    """The tree qualified and typed against the views' schemas, or None when sqlglot cannot
    resolve it (the statement then runs as written and DuckDB reports what is wrong)."""
    schema = sqlglot_schema(names)
    try:
        qualified = qualify(tree.copy(), schema=schema, dialect="redshift")
        return annotate_types(qualified, schema=schema, dialect="redshift")
    except (SqlglotError, KeyError, ValueError, TypeError, AttributeError):
        return None


def is_text(node):
    if isinstance(node, exp.Literal):
        return node.is_string
    return node.type is not None and node.type.this in TEXT_TYPES


def rtrim(node):
    return exp.Trim(this=node, position="TRAILING")


def ignore_trailing_blanks(tree):
    """Both sides of a comparison of strings are RTRIM'd, and LENGTH of a CHAR leaves its
    padding out, as in Redshift. Needs the annotated tree (types of columns through CTEs)."""
    # Only where both sides are known to be strings: `bigint_column = '30'` must stay as it is.
    for node in list(tree.find_all(*COMPARISONS)):
        left, right = node.this, node.expression
        if is_text(left) and is_text(right):
            node.set("this", rtrim(left.copy()))
            node.set("expression", rtrim(right.copy()))
    for node in list(tree.find_all(exp.In)):
        items = node.expressions
        if items and is_text(node.this) and all(is_text(i) for i in items):
            node.set("this", rtrim(node.this.copy()))
            node.set("expressions", [rtrim(i.copy()) for i in items])
    for node in list(tree.find_all(exp.Length)):
        arg = node.this
        if arg.type is not None and arg.type.this in (T.CHAR, T.NCHAR, T.BPCHAR):
            node.set("this", rtrim(arg.copy()))


def redshift_listagg(tree):
    for concat in list(tree.find_all(exp.GroupConcat)):
        value, separator = concat.this, concat.args.get("separator")
        distinct = isinstance(value, exp.Distinct)
        if distinct:
            # sqlglot reads LISTAGG(DISTINCT x, ',') as DISTINCT over (x, ',').
            parts = value.expressions
            value = parts[0]
            if len(parts) > 1 and separator is None:
                separator = parts[1]
        skipped_empty = exp.Nullif(this=value.copy(), expression=exp.Literal.string(""))
        concat.set("this", exp.Distinct(expressions=[skipped_empty]) if distinct else skipped_empty)
        if distinct and isinstance(concat.parent, exp.WithinGroup):
            # DuckDB wants a DISTINCT aggregate ordered by its very argument.
            for ordered in concat.parent.expression.expressions:
                if ordered.this == value:
                    ordered.set("this", skipped_empty.copy())
        concat.set("separator", separator if separator is not None else exp.Literal.string(""))
        outer = concat
        while isinstance(outer.parent, (exp.WithinGroup, exp.Window)):
            outer = outer.parent
        checked = exp.Anonymous(this="rs_listagg_check", expressions=[outer.copy()])
        outer.replace(checked)


def clock_and_session(tree, start, pid):
    getdate = start.replace(microsecond=0)
    for node in list(tree.find_all(exp.CurrentTimestamp)):
        value = start if node.args.get("sysdate") else getdate
        node.replace(exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP"))
    for node in list(tree.find_all(exp.Anonymous)):
        if node.name.lower() == "pg_backend_pid" and not node.expressions:
            node.replace(exp.cast(exp.Literal.number(pid), "INT"))


def signal_calls(tree):
    return [n for n in tree.find_all(exp.Anonymous) if n.name.lower() in SIGNALS]


def signal_columns(tree):
    """Takes pg_cancel_backend / pg_terminate_backend out of the statement: each call that is a
    whole column of the outermost SELECT is replaced by its argument, under a marker alias.
    Returns [(marker, the column's name, the function)]; the caller signals each row's pid and
    puts the function's value back. A call anywhere else (a subquery, inside an expression, under
    SELECT DISTINCT) is refused: the engine could not run it once per row, as Redshift does."""
    if not signal_calls(tree):
        return []
    out = []
    if isinstance(tree, exp.Select) and not tree.args.get("distinct"):
        for select in list(tree.expressions):
            call = select.this if isinstance(select, exp.Alias) else select
            if not (isinstance(call, exp.Anonymous) and call.name.lower() in SIGNALS):
                continue
            name = call.name.lower()
            if len(call.expressions) != 1:
                types = "" if not call.expressions else f"{len(call.expressions)} arguments"
                raise SqlError(NO_FUNCTION.format(name=name, types=types))
            argument = call.expressions[0].copy()
            if isinstance(argument, exp.Literal) and argument.is_string:
                # A Data API parameter: an untyped literal in Redshift, which takes it as int4.
                argument = exp.cast(argument, "INT")
            marker = f"__rs_signal_{len(out)}__"
            shown = select.alias if isinstance(select, exp.Alias) else name
            select.replace(exp.alias_(argument, marker, quoted=True))
            out.append((marker, shown, name))
            # ORDER BY the column's name (an output name comes first there) orders by the value the
            # function returns: NULL for a NULL pid, else always the same.
            value = exp.Literal.number(1) if name == "pg_cancel_backend" else exp.true()
            for column in list(tree.args["order"].find_all(exp.Column)) if tree.args.get("order") else []:
                if not column.table and column.name.lower() == shown.lower():
                    column.replace(exp.case().when(argument.copy().is_(exp.null()), exp.null()).else_(value.copy()))
    if signal_calls(tree):
        raise SqlError(
            "ERROR: the local engine runs pg_cancel_backend and pg_terminate_backend only as whole "
            "columns of the outermost SELECT (not under DISTINCT, in a subquery or inside an expression)"
        )
    return out


def result_types(annotated_tree):
    """Data API type names sqlglot can tell and DuckDB cannot: CHAR (bpchar) and NAME."""
    if annotated_tree is None or not isinstance(annotated_tree, exp.Query):
        return {}
    out = {}
    for i, select in enumerate(annotated_tree.selects):
        if select.type is not None and select.type.this in (T.CHAR, T.BPCHAR, T.NCHAR):
            out[i] = "bpchar"
        elif select.type is not None and select.type.this == T.NAME:
            out[i] = "name"
    return out


def engine_error(err, query_id):
    """DuckDB's refusal, worded like Redshift's where the two disagree only in wording."""
    text = str(err)
    if LISTAGG_ERROR in text:
        return (
            f"ERROR: {LISTAGG_ERROR}\n  Detail: \n  -----------------------------------------------\n"
            f"  error:  {LISTAGG_ERROR}\n  code:      8001\n  context:   LISTAGG limit: {LISTAGG_LIMIT}\n"
            f"  query:     {query_id}\n  location:  string_ops.cpp:116\n"
            f"  -----------------------------------------------"
        )
    if "Division by zero" in text:
        return "ERROR: division by zero"
    bad_integer = re.search(r"Could not convert string '(.*)' to INT(16|32|64)\b", text)
    if bad_integer:  # PostgreSQL 8.0's wording, which Redshift keeps
        kind = "type bigint" if bad_integer.group(2) == "64" else "integer"
        return f'ERROR: invalid input syntax for {kind}: "{bad_integer.group(1)}"'
    missing = re.search(r'Referenced column "([^"]+)" not found', text)
    if missing:
        return f'ERROR: column "{missing.group(1)}" does not exist'
    missing = re.search(r"Table with name (\S+) does not exist", text)
    if missing:
        return f'ERROR: relation "{missing.group(1)}" does not exist'
    first = text.splitlines()[0] if text else type(err).__name__
    return f"ERROR: {first}"


class Engine:
    """One DuckDB connection; statements run one at a time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.con = duckdb.connect(":memory:")
        self.con.execute(
            "CREATE MACRO rs_listagg_check(x) AS "
            f"CASE WHEN strlen(x) > {LISTAGG_LIMIT} THEN error('{LISTAGG_ERROR}') ELSE x END"
        )
        for setting in (
            "SET integer_division = true",
            "SET TimeZone = 'UTC'",
            # The statement comes from a test or a user of the local stack: no files, no network.
            "SET enable_external_access = false",
            "SET lock_configuration = true",
        ):
            self.con.execute(setting)

    def execute(self, cluster, sql, parameters=None, user="awsuser", database="dev"):
        """Runs `sql` as a statement submitted now; returns an Execution (never raises SqlError)."""
        with cluster.lock, self.lock:
            start = cluster.now()
            own = cluster.begin_statement(sql, user, database, start)
            run = Execution(own.pid, own.query_id, user)
            try:
                self.run(cluster, own, run, sql, parameters or {}, start)
            except SqlError as err:
                run.error = err.message
            except Exception as err:  # a gap in the engine: the statement fails, the server goes on
                traceback.print_exc(file=sys.stderr)
                run.columns, run.records = None, []
                run.error = f"ERROR: the local engine cannot run this statement ({type(err).__name__}: {err})"
            own.returned_rows = len(run.records)
            if own in cluster.inflight:  # unless it cancelled itself
                cluster.finish(own, "failed" if run.error else "success", run.error)
            return run

    def run(self, cluster, own, run, sql, parameters, start):
        cancel = CANCEL.fullmatch(sql)
        if cancel:
            self.end_session(cluster, int(cancel.group(1)), terminate=False, by=own)
            return
        tree = parse_one(sql)
        if isinstance(tree, exp.Set):
            return  # session settings (statement_timeout, query_group ...) change nothing modelled
        bind_parameters(tree, parameters)
        signals = signal_columns(tree)
        names = referenced_views(tree, cluster.kind)
        clock_and_session(tree, start, own.pid)
        redshift_listagg(tree)
        typed = annotated(tree, names)
        if typed is not None:
            ignore_trailing_blanks(typed)
        char_columns = result_types(typed)
        duck_sql = (typed or tree).sql(dialect="duckdb")
        try:
            for name in sorted(names):
                self.load(cluster, model.VIEWS[name], start)
            result = self.con.execute(duck_sql)
            rows = result.fetchall() if result.description else None
        except duckdb.Error as err:
            raise SqlError(engine_error(err, own.query_id)) from None
        if rows is None:
            return
        description = result.description
        signalled = self.signal_rows(cluster, own, signals, description, rows) if signals else {}
        kinds = []
        run.columns = []
        for i, (name, duck_type, *_rest) in enumerate(description):
            type_text = str(duck_type)
            precision = scale = 0
            decimal_type = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", type_text)
            if i in signalled:
                shown, function = signalled[i]
                run.columns.append(column_metadata(shown, SIGNALS[function][1]))
                kinds.append("signal")
                continue
            if decimal_type:
                type_name, kind = "numeric", "string"
                precision, scale = int(decimal_type.group(1)), int(decimal_type.group(2))
            else:
                type_name, kind = DUCKDB_TYPES.get(type_text, ("varchar", "string"))
            if type_name == "varchar":
                type_name = char_columns.get(i, "varchar")
            run.columns.append(column_metadata(name, type_name, precision, scale))
            kinds.append(kind)
        # A signal column already holds its cells (signal_rows).
        run.records = [[v if k == "signal" else to_cell(v, k) for v, k in zip(row, kinds)] for row in rows]

    def signal_rows(self, cluster, own, signals, description, rows):
        """Runs the signal functions of `signal_columns`: for each row in order, and each such
        column left to right, the pid DuckDB computed is signalled and replaced by the function's
        cell (a NULL pid: a NULL, nothing signalled). Returns {column index: (name, function)}.

        Like Redshift, the argument's type is checked before anything runs (even with no rows),
        and the signals already sent stand when a later one fails the statement. Signalling a pid
        twice in one statement (two rows of it) succeeds the second time: the first cancelled its
        query and its session is still connected."""
        markers = {marker: (shown, function) for marker, shown, function in signals}
        columns = {}
        for i, (name, duck_type, *_rest) in enumerate(description):
            if name in markers:
                shown, function = markers[name]
                type_text = str(duck_type)
                if type_text not in SIGNAL_ARGUMENT_TYPES:
                    shown_type = REDSHIFT_TYPE_NAMES.get(type_text, type_text.lower())
                    if type_text.startswith("DECIMAL"):
                        shown_type = "numeric"
                    raise SqlError(NO_FUNCTION.format(name=function, types=shown_type))
                columns[i] = (shown, function)
        done = set()
        for r, row in enumerate(rows):
            row = rows[r] = list(row)
            for i, (_shown, function) in columns.items():
                if row[i] is None:
                    row[i] = {"isNull": True}
                    continue
                self.signal(cluster, own, int(row[i]), function, done)
                row[i] = dict(SIGNALS[function][2])
        return columns

    def signal(self, cluster, own, pid, function, done):
        """One call of pg_cancel_backend / pg_terminate_backend(pid) by the statement `own`."""
        terminate = SIGNALS[function][0]
        if pid in done:
            return
        done.add(pid)
        if pid == own.pid:
            # The statement signals itself: it ends cancelled, and fails as a cancelled query does.
            cluster.finish(own, "cancelled", CANCELLED, by=own)
            if terminate:
                raise SqlError("FATAL: terminating connection due to administrator command")
            raise SqlError(f"ERROR: {CANCELLED}")
        self.end_session(cluster, pid, terminate, by=own)

    @staticmethod
    def end_session(cluster, pid, terminate, by=None):
        """The query running on `pid` ends as cancelled, and its transaction with it; `by` (the
        statement doing it) is recorded as its `cancelled_by`. On an idle session,
        pg_terminate_backend ends its transaction and its connection; CANCEL and pg_cancel_backend
        find no query to cancel there and change nothing (the docs do not say what they answer:
        success here, as PostgreSQL's pg_cancel_backend does). A pid with no session fails as
        Redshift's CANCEL does (its docs: "Session <PID> does not exist"); PG_CANCEL_BACKEND is,
        per its docs, "functionally equivalent to the CANCEL command"."""
        if any(q.pid == pid for q in cluster.inflight):
            cluster.end_query(pid, "cancelled", CANCELLED, by=by)
        elif cluster.session_on(pid) is not None:
            if terminate:
                cluster.terminate_session(pid)
        else:
            raise SqlError(NO_SESSION.format(pid=pid))

    def load(self, cluster, view, now):
        """Rebuilds the view's table from the model: one list per column, unnested by DuckDB
        (row-by-row inserts take seconds for a few thousand chunk rows)."""
        columns = [[] for _ in view.columns]
        for row in view.rows(cluster, now):
            for values, value in zip(columns, row):
                values.append(value)
        for values, column in zip(columns, view.columns):
            if column.char_length:
                values[:] = [pad(v, column.char_length) for v in values]
        selects = ", ".join(
            f"unnest(${i + 1}::{c.duckdb_type}[]) AS \"{c.name}\"" for i, c in enumerate(view.columns)
        )
        self.con.execute(f'CREATE OR REPLACE TABLE "{view.name}" AS SELECT {selects}', columns)
