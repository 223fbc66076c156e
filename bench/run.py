#!/usr/bin/env python3
"""Benchmark driver: the release binary and the Python peer as Lambda functions, side by side.

Starts the local stack (devstack/stack.py: moto for Secrets Manager, the Data API stand-in, the
Slack receiver and the Lambda Runtime API harness) on loopback, then launches each function exactly as Lambda would
(a fresh process with AWS_LAMBDA_RUNTIME_API and the usual AWS_LAMBDA_* variables) and measures:

  init      process spawn -> first GET /runtime/invocation/next (runtime_api first_next_ns)
  overhead  handler wall time (runtime_api duration_ms) minus the statement's scripted running
            time, for statements of 0 ms, 300 ms and 3 s, with the DescribeStatement count
  scale     1, 100 and 2,000 queries over pages of 100 rows, realistic text (what the SQL can
            return: 15 chunks, 3,000 characters) and the stand-in's worst case (60 KB a row):
            wall time, Slack messages, peak RSS (VmHWM) and CPU time (utime+stime) of the process
  footprint the binary, its zip, the arm64 bootstrap zip when one was built

Every figure is a median over repeated runs. Run by scripts/bench (with the devstack's Python,
.venv), which builds the binary and prepares the two virtualenvs. See docs/performance.md.

The statement's rows are scripted here, not computed by the stand-in's SQL engine: the figures
need a statement whose running time is exactly the scripted delay, and the worst case (60 KB of
text a row) is beyond what the product's SQL can return.
"""

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "devstack"))

import redshift_model  # noqa: E402
import samples  # noqa: E402
import stack as devstack  # noqa: E402

SECRET_ID = "bench/redshift-long-query-alert"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CERT_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PAGE_SIZE = 100

COLUMNS = [
    {"name": "user_name", "type": "name"},
    {"name": "pid", "type": "int4"},
    {"name": "query_id", "type": "int4"},
    {"name": "start_time", "type": "timestamp"},
    {"name": "elapsed_minutes", "type": "int8"},
    {"name": "query_text", "type": "varchar"},
    {"name": "text_truncated", "type": "bool"},
]


# ----- small HTTP helpers ------------------------------------------------------------------
def request(port, method, path, body=None, headers=None, timeout=300):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        conn.request(method, path, body=data, headers=headers or {})
        answer = conn.getresponse()
        raw = answer.read()
        return answer.status, raw
    finally:
        conn.close()


def control(port, method, path, body=None, timeout=300):
    status, raw = request(port, method, path, body, timeout=timeout)
    if status >= 300:
        raise RuntimeError(f"{method} {path} on port {port}: HTTP {status} {raw[:300]!r}")
    return json.loads(raw) if raw.strip() else None


# ----- the local stack ---------------------------------------------------------------------
class Stack:
    def __init__(self, devstack_python):
        self.stack = devstack.start(python=devstack_python)
        ports = self.stack.ports
        self.moto_port, self.data_api, self.slack, self.runtime = (
            ports["moto"], ports["dataapi"], ports["slack"], ports["runtime"])
        self.stack.put_secret(SECRET_ID, samples.secret(self.slack, cluster="analytics-bench"))

    def env(self):
        return self.stack.env()

    def script_rows(self, rows, delay_ms=0):
        control(self.data_api, "POST", "/_control/reset")
        control(self.data_api, "POST", "/_control/script", {
            "delay_ms": delay_ms, "outcome": "finished", "columns": COLUMNS,
            "rows": rows, "page_size": PAGE_SIZE,
        })

    def calls(self):
        return control(self.data_api, "GET", "/_control/calls")

    def slack_messages(self):
        return len(control(self.slack, "GET", "/_control/received"))

    def close(self):
        self.stack.stop()


# ----- result rows, shaped as the statement returns them -----------------------------------
def aggregated(text, max_chunks):
    """What the statement's LISTAGG returns: the stored chunks, RTRIM'd, each after U+001E."""
    chunks = redshift_model.chunks(redshift_model.stored_text(text), redshift_model.INFLIGHT_CHUNK)
    truncated = max_chunks is not None and len(chunks) > max_chunks
    if max_chunks is not None:
        chunks = chunks[:max_chunks]
    return "".join("\x1e" + c.rstrip() for c in chunks), truncated


def make_rows(count, text_bytes, max_chunks):
    rows = []
    for i in range(count):
        pid = 10_000 + i
        agg, truncated = aggregated(samples.report_text(pid, text_bytes), max_chunks)
        rows.append(
            [f"analyst_{i % 37}", pid, pid * 10, "2026-11-28 09:15:00.250000", 45, agg, truncated]
        )
    return rows


# ----- a function process under the Runtime API harness ------------------------------------
class Function:
    def __init__(self, name, argv, cwd, env, stack, workdir):
        self.name, self.argv, self.cwd, self.env, self.stack = name, argv, cwd, env, stack
        self.log_path = workdir / f"{name}.log"
        self.proc = None

    def spawn(self):
        """Starts a fresh process; returns its init time in ms (spawn -> first /next)."""
        control(self.stack.runtime, "POST", "/_control/reset")
        log = open(self.log_path, "ab")
        spawned_ns = time.time_ns()
        self.proc = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )
        give_up = time.monotonic() + 60
        while True:
            stats = control(self.stack.runtime, "GET", "/_control/stats")
            if stats["first_next_ns"]:
                return (stats["first_next_ns"] - spawned_ns) / 1e6
            if self.proc.poll() is not None or time.monotonic() > give_up:
                raise RuntimeError(f"{self.name} never asked for an invocation; see {self.log_path}")
            time.sleep(0.01)

    def invoke(self, event=None, deadline_ms=120_000):
        result = control(
            self.stack.runtime, "POST", "/_control/invoke",
            {"event": event or {}, "deadline_ms": deadline_ms, "timeout_ms": deadline_ms + 30_000},
            timeout=deadline_ms / 1000 + 60,
        )
        if result.get("status") != "ok":
            raise RuntimeError(f"{self.name} invocation failed: {json.dumps(result)[:800]}")
        return result

    def status_kb(self, field):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"no {field} in /proc/{self.proc.pid}/status")

    def cpu_sample(self):
        """(utime+stime of the whole process from /proc/PID/stat, in s: all threads, exited
        ones too, but counted in 10 ms clock ticks; nanosecond run time of each live thread
        from /proc/PID/task/*/schedstat)."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        ticks = (int(fields[11]) + int(fields[12])) / CLK_TCK
        threads = {}
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                threads[task.name] = int((task / "schedstat").read_text().split()[0]) / 1e9
            except (OSError, ValueError, IndexError):
                pass
        return ticks, threads

    @staticmethod
    def cpu_delta(before, after):
        """CPU seconds between two samples: the precise per-thread figure when no thread
        ended in between, else the tick count."""
        if set(before[1]) <= set(after[1]):
            return sum(after[1].values()) - sum(before[1].values())
        return after[0] - before[0]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def median(values):
    return statistics.median(values) if values else float("nan")


# ----- the measurements --------------------------------------------------------------------
SMALL_ROWS = None


def small_rows():
    global SMALL_ROWS
    if SMALL_ROWS is None:
        SMALL_ROWS = make_rows(1, 60_000, 15)
    return SMALL_ROWS


def measure_init(fn, stack, runs):
    """Fresh process each run: init time, first (cold) invocation, and its peak RSS."""
    inits, init_cpus, init_hwms, colds, cold_cpus, hwms = [], [], [], [], [], []
    for _ in range(runs):
        stack.script_rows(small_rows())
        control(stack.slack, "POST", "/_control/reset")
        inits.append(fn.spawn())
        at_init = fn.cpu_sample()
        init_cpus.append(max(at_init[0], sum(at_init[1].values())))
        init_hwms.append(fn.status_kb("VmHWM") / 1024)
        colds.append(fn.invoke()["duration_ms"])
        cold_cpus.append(fn.cpu_delta(at_init, fn.cpu_sample()))
        hwms.append(fn.status_kb("VmHWM") / 1024)
        fn.stop()
    return {"init_ms": median(inits), "init_all": inits, "init_cpu_ms": median(init_cpus) * 1000,
            "init_hwm_mb": median(init_hwms), "cold_invoke_ms": median(colds), "cold_all": colds,
            "cold_cpu_ms": median(cold_cpus) * 1000, "cold_hwm_mb": median(hwms)}


def measure_overhead(fn, stack, delays, runs):
    """One warm process: wall minus the statement's delay, DescribeStatement calls, and how
    long after FINISHED the last DescribeStatement came."""
    out = {}
    fn.spawn()
    stack.script_rows(small_rows())
    fn.invoke()  # warm: connections open, secret cached, as on a scheduled warm container
    for delay in delays:
        overheads, describes, lags = [], [], []
        for _ in range(runs):
            stack.script_rows(small_rows(), delay_ms=delay)
            control(stack.slack, "POST", "/_control/reset")
            result = fn.invoke()
            calls = stack.calls()
            overheads.append(result["duration_ms"] - delay)
            describe = [c for c in calls if c["operation"] == "DescribeStatement"]
            describes.append(len(describe))
            execute = next(c for c in calls if c["operation"] == "ExecuteStatement")
            lags.append((describe[-1]["at"] - execute["at"]) * 1000 - delay)
        out[delay] = {"wall_ms": median(overheads) + delay, "overhead_ms": median(overheads), "describe_calls": median(describes),
                      "notice_lag_ms": median(lags), "all": overheads}
    fn.stop()
    return out


def measure_scale(fn, stack, rows, runs):
    """Fresh process, one small warm-up, then `runs` invocations over `rows`."""
    fn.spawn()
    stack.script_rows(small_rows())
    fn.invoke()
    stack.script_rows(rows)
    walls, cpus, messages = [], [], []
    for _ in range(runs):
        control(stack.slack, "POST", "/_control/reset")
        before = fn.cpu_sample()
        result = fn.invoke()
        cpus.append(fn.cpu_delta(before, fn.cpu_sample()))
        walls.append(result["duration_ms"])
        messages.append(stack.slack_messages())
    hwm = fn.status_kb("VmHWM") / 1024
    fn.stop()
    return {"wall_ms": median(walls), "cpu_ms": median(cpus) * 1000, "messages": messages[-1],
            "hwm_mb": hwm, "all": walls}


# ----- instruction counts (callgrind) -------------------------------------------------------
# Inclusive instruction counts of these functions are reported (the first match of each).
CALLGRIND_FUNCTIONS = [
    ("whole init", "App::from_environment"),
    ("aws-config load", "aws_config::loader::ConfigLoader::load"),
    ("  STS client for web identity", "aws_sdk_sts::client::Client::new"),
    ("service clients", "aws_sdk_secretsmanager::client::Client::new"),
    ("", "aws_sdk_redshiftdata::client::Client::new"),
    ("reqwest client (Slack)", "reqwest::async_impl::client::ClientBuilder::build"),
    ("native root certificates (all loads)", "rustls_native_certs::load_native_certs"),
    ("  of which PEM parsing", "rustls_pki_types::pem::from_buf_inner"),
    ("tracing registry", "tracing_subscriber::registry::sharded::Registry as core::default"),
    ("Lambda runtime loop", "lambda_runtime::runtime::Runtime<S>::run_with_incoming"),
    ("command line (clap)", "clap_builder::parser::parser::Parser::get_matches_with"),
    ("the check itself", "App<W>::check::{{closure}}"),
    ("dynamic loader", "_dl_start"),
]


def annotate(out_file):
    """Total and selected inclusive instruction counts from a callgrind output file."""
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(out_file)],
        capture_output=True, text=True, check=True,
    ).stdout
    Path(str(out_file) + ".txt").write_text(text)
    total, found = None, {}
    for line in text.splitlines():
        parts = line.strip().split(None, 2)
        if len(parts) < 3 or not parts[0].replace(",", "").isdigit():
            continue
        count = int(parts[0].replace(",", ""))
        if "PROGRAM TOTALS" in line:
            total = count
            continue
        for label, pattern in CALLGRIND_FUNCTIONS:
            if pattern in parts[2] and pattern not in found:
                found[pattern] = count
    return {"total": total, "functions": found}


def measure_callgrind(binary, fn_env, stack, workdir, out_dir):
    """Instruction counts of init (Lambda mode: spawn -> first /next, then SIGTERM, which
    valgrind turns into a normal dump) and of one whole CLI `check` (1 query, 1 message)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    valgrind = ["valgrind", "--tool=callgrind", "--quiet"]
    init_out = out_dir / "callgrind.init.out"
    fn = Function("callgrind", [*valgrind, f"--callgrind-out-file={init_out}", binary],
                  ROOT, fn_env, stack, workdir)
    fn.spawn()
    fn.proc.send_signal(signal.SIGTERM)
    fn.proc.wait(timeout=120)
    stack.script_rows(small_rows())
    control(stack.slack, "POST", "/_control/reset")
    check_out = out_dir / "callgrind.check.out"
    cli_env = {k: v for k, v in fn_env.items() if not k.startswith("AWS_LAMBDA_")}
    done = subprocess.run(
        [*valgrind, f"--callgrind-out-file={check_out}", binary, "check",
         "--secret-id", SECRET_ID, "--minutes", "30"],
        env=cli_env, capture_output=True, text=True, timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"check under callgrind failed: {done.stderr[-1500:]}")
    return {"init": annotate(init_out), "check": annotate(check_out), "dir": str(out_dir)}


# ----- footprint ---------------------------------------------------------------------------
def elf_machine(path):
    with open(path, "rb") as f:
        head = f.read(20)
    if head[:4] != b"\x7fELF":
        return "not ELF"
    machine = struct.unpack("<H", head[18:20])[0]
    return {0x3E: "x86_64", 0xB7: "aarch64"}.get(machine, hex(machine))


def zip_size(path, name="bootstrap"):
    with tempfile.NamedTemporaryFile(suffix=".zip") as tmp:
        with zipfile.ZipFile(tmp.name, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(path, name)
        return os.path.getsize(tmp.name)


def footprint(binary):
    out = {"binary": str(binary), "binary_bytes": binary.stat().st_size,
           "binary_arch": elf_machine(binary), "binary_zip_bytes": zip_size(binary)}
    candidates = sorted(ROOT.glob(".aws-sam/build/*/bootstrap")) + sorted(
        ROOT.glob("target/lambda/*/bootstrap")
    )
    arm = [p for p in candidates if elf_machine(p) == "aarch64"]
    if arm:
        newest = max(arm, key=lambda p: p.stat().st_mtime)
        out["bootstrap"] = str(newest.relative_to(ROOT))
        out["bootstrap_bytes"] = newest.stat().st_size
        out["bootstrap_zip_bytes"] = zip_size(newest)
        out["bootstrap_built"] = time.strftime("%Y-%m-%d %H:%M UTC",
                                               time.gmtime(newest.stat().st_mtime))
    peer = ROOT / "bench/python_peer/handler.py"
    out["peer_zip_bytes"] = zip_size(peer, "handler.py")
    return out


# ----- report ------------------------------------------------------------------------------
def fmt(v, digits=1):
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:,.{digits}f}"


def ratio(a, b):
    if a is None or b is None or not b or a != a or b != b:
        return "-"
    return f"{a / b:.3f}"


def print_table(rows, out):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for n, r in enumerate(rows):
        cells = [str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(r)]
        print("| " + " | ".join(cells) + " |", file=out)
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=out)


def report(results, out=sys.stdout):
    rust, py = results["rust"], results.get("python")
    rows = [("figure", "Rust", "Python peer", "Rust/Python")]

    def add(label, path, digits=1):
        a = dig(rust, path)
        b = dig(py, path) if py else None
        if a is None and b is None:
            return
        rows.append((label, fmt(a, digits), fmt(b, digits), ratio(a, b)))

    add("init: spawn -> first /next (ms)", ("init", "init_ms"))
    add("  CPU time of init (ms)", ("init", "init_cpu_ms"))
    add("  peak RSS at the end of init (MB)", ("init", "init_hwm_mb"))
    add("  init, one CA bundle (SSL_CERT_FILE) (ms)", ("init_bundle", "init_ms"))
    add("  CPU time of init, one CA bundle (ms)", ("init_bundle", "init_cpu_ms"))
    add("first invocation after init, 1 query (ms)", ("init", "cold_invoke_ms"))
    add("  CPU time of the first invocation (ms)", ("init", "cold_cpu_ms"))
    add("peak RSS, init + first invocation (MB)", ("init", "cold_hwm_mb"))
    add("init instructions (callgrind, Lambda mode)", ("callgrind", "init", "total"), 0)
    add("CLI check instructions (callgrind, 1 query)", ("callgrind", "check", "total"), 0)
    for delay in results["delays"]:
        add(f"warm invocation wall, {delay} ms statement (ms)", ("overhead", delay, "wall_ms"))
        add(f"  overhead (wall - {delay} ms)", ("overhead", delay, "overhead_ms"))
        add(f"  DescribeStatement calls, {delay} ms", ("overhead", delay, "describe_calls"), 0)
        add(f"  last Describe after FINISHED, {delay} ms (ms)", ("overhead", delay, "notice_lag_ms"))
    for key in results["scales"]:
        add(f"scale {key}: wall (ms)", ("scale", key, "wall_ms"))
        add(f"scale {key}: CPU user+sys (ms)", ("scale", key, "cpu_ms"), 0)
        add(f"scale {key}: Slack messages", ("scale", key, "messages"), 0)
        add(f"scale {key}: peak RSS (MB)", ("scale", key, "hwm_mb"))
    print_table(rows, out)
    cg = rust.get("callgrind")
    if cg:
        print(f"\nRust instruction counts (callgrind, {cg['dir']}); a stripped binary shows "
              "totals only (bench/build-variants.sh base builds one with symbols):", file=out)
        rows = [("function (inclusive)", "init (Lambda)", "CLI check, 1 query")]
        rows.append(("program total", fmt(cg["init"]["total"]), fmt(cg["check"]["total"])))
        for label, pattern in CALLGRIND_FUNCTIONS:
            a, b = cg["init"]["functions"].get(pattern), cg["check"]["functions"].get(pattern)
            if a is None and b is None:
                continue
            rows.append((f"{label or ' '} `{pattern}`", fmt(a), fmt(b)))
        print_table(rows, out)
    fp = results["footprint"]
    print("", file=out)
    print(f"release binary ({fp['binary_arch']}): {fp['binary_bytes']:,} bytes, "
          f"zipped {fp['binary_zip_bytes']:,} bytes", file=out)
    if "bootstrap" in fp:
        print(f"arm64 bootstrap ({fp['bootstrap']}, built {fp['bootstrap_built']}): "
              f"{fp['bootstrap_bytes']:,} bytes, zipped {fp['bootstrap_zip_bytes']:,} bytes",
              file=out)
    else:
        print("arm64 bootstrap: not built (scripts/check-deploy builds it); the x86_64 zip above "
              "stands in", file=out)
    print(f"Python peer package: handler.py zipped {fp['peer_zip_bytes']:,} bytes "
          "(boto3 comes with the Lambda Python runtime)", file=out)


def dig(tree, path):
    for key in path:
        if tree is None:
            return None
        tree = tree.get(key) if isinstance(tree, dict) else None
    return tree


def machine():
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {"nproc": os.cpu_count(), "cpu": model, "mem_gib": round(mem_kb / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version()}


def git_head():
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "Cargo.toml"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rust-bin", default=str(ROOT / "target/release/redshift-long-query-alert"))
    parser.add_argument("--peer-python", default=str(ROOT / "bench/.venv/bin/python"))
    parser.add_argument("--devstack-python", default=str(ROOT / ".venv/bin/python"))
    parser.add_argument("--no-peer", action="store_true", help="measure the Rust binary only")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, no 2,000 x 60 KB")
    parser.add_argument("--only", default="init,overhead,scale,callgrind",
                        help="comma-separated phases: init, overhead, scale, callgrind (skipped "
                        "without valgrind; function names need --callgrind-bin with symbols)")
    parser.add_argument("--callgrind-bin", default=None,
                        help="a build with symbols for the callgrind phase (default: --rust-bin)")
    parser.add_argument("--scales", default=None,
                        help="comma-separated subset of the scale cases, e.g. '2000 x 60 KB'")
    parser.add_argument("--json", default=str(ROOT / "target/bench/results.json"))
    args = parser.parse_args()

    for name in ("rust_bin", "peer_python", "devstack_python", "callgrind_bin"):
        if getattr(args, name):  # absolute, not resolved: a venv's python is a symlink
            setattr(args, name, os.path.abspath(getattr(args, name)))
    phases = set(args.only.split(","))
    init_runs = {"rust": 3 if args.quick else 21, "python": 3 if args.quick else 9}
    overhead_runs = 3 if args.quick else 7
    delays = [0, 300, 3000]
    # (label, queries, text bytes per query, chunks the SQL keeps (None: all), runs)
    scales = [("1 x 3 KB", 1, 60_000, 15, 7), ("100 x 3 KB", 100, 60_000, 15, 7),
              ("2000 x 3 KB", 2000, 60_000, 15, 5),
              ("1 x 60 KB", 1, 60_000, None, 7), ("100 x 60 KB", 100, 60_000, None, 7),
              ("2000 x 60 KB", 2000, 60_000, None, 5)]
    if args.quick:
        scales = [s[:4] + (2,) for s in scales if s[1] < 2000]
    if args.scales:
        wanted = [w.strip() for w in args.scales.split(",")]
        scales = [s for s in scales if s[0] in wanted]

    workdir = Path(tempfile.mkdtemp(prefix="rlqa-bench-"))
    stack = Stack(args.devstack_python)
    base_env = {
        **stack.env(),
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{stack.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": "redshift-long-query-alert",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/redshift-long-query-alert",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "SECRET_ID": SECRET_ID,
        "THRESHOLD_MINUTES": "30",
        "TZ": "UTC",
        "LANG": "C.UTF-8",
    }
    functions = {
        "rust": Function("rust", [args.rust_bin], ROOT, dict(base_env, RUST_LOG="info"),
                         stack, workdir),
    }
    if not args.no_peer:
        functions["python"] = Function(
            "python", [args.peer_python, "-m", "awslambdaric", "handler.handler"],
            ROOT / "bench/python_peer",
            dict(base_env, LAMBDA_TASK_ROOT=str(ROOT / "bench/python_peer"),
                 PYTHONPATH=str(ROOT / "bench/python_peer")),
            stack, workdir,
        )

    results = {"machine": machine(), "commit": git_head(), "delays": delays,
               "scales": [s[0] for s in scales] if "scale" in phases else [],
               "footprint": footprint(Path(args.rust_bin))}
    started = time.monotonic()
    try:
        for name, fn in functions.items():
            results[name] = {}
            if "init" in phases:
                log(f"{name}: init x{init_runs[name]}")
                results[name]["init"] = measure_init(fn, stack, init_runs[name])
                if name == "rust" and Path(CERT_BUNDLE).exists():
                    # rustls-native-certs reads the bundle AND every file of /etc/ssl/certs
                    # here (Debian); Lambda's image has one bundle. Pointing SSL_CERT_FILE at
                    # the bundle gives the Lambda-like root-store cost.
                    log(f"{name}: init x{init_runs[name]} with SSL_CERT_FILE={CERT_BUNDLE}")
                    bundle_only = Function("rust-bundle", fn.argv, fn.cwd,
                                           dict(fn.env, SSL_CERT_FILE=CERT_BUNDLE), stack, workdir)
                    results[name]["init_bundle"] = measure_init(bundle_only, stack, init_runs[name])
            if "overhead" in phases:
                log(f"{name}: overhead, statements of {delays} ms, x{overhead_runs}")
                results[name]["overhead"] = measure_overhead(fn, stack, delays, overhead_runs)
        if "callgrind" in phases and shutil.which("valgrind"):
            log("rust: callgrind, init and one CLI check")
            try:
                results["rust"]["callgrind"] = measure_callgrind(
                    args.callgrind_bin or args.rust_bin, functions["rust"].env, stack, workdir,
                    Path(args.json).parent / "callgrind",
                )
            except (RuntimeError, subprocess.SubprocessError, OSError) as err:
                log(f"callgrind skipped: {err}")
        if "scale" in phases:
            for key, count, size, max_chunks, runs in scales:
                rows = make_rows(count, size, max_chunks)
                for name, fn in functions.items():
                    log(f"{name}: scale {key} x{runs}")
                    results[name].setdefault("scale", {})[key] = measure_scale(fn, stack, rows, runs)
                del rows
    finally:
        for fn in functions.values():
            fn.stop()
        stack.close()
    results["bench_seconds"] = round(time.monotonic() - started, 1)

    m = results["machine"]
    print(f"\nredshift-long-query-alert benchmark: checkout {results['commit']}, "
          f"binary {args.rust_bin}\n"
          f"{m['nproc']} x {m['cpu']}, {m['mem_gib']} GiB, medians "
          f"(init x{init_runs['rust']}/{init_runs['python']}, overhead x{overhead_runs}); "
          f"{results['bench_seconds']} s\n")
    report(results)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    print(f"\nraw figures: {args.json}; function logs: {workdir}")


def log(message):
    print(f"== {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
