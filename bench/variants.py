#!/usr/bin/env python3
"""Compares release-profile variants built by bench/build-variants.sh: size, zip, init time and
CPU, instruction counts (callgrind), warm CPU and RSS at 2,000 queries. Rust only.

Usage: bench/variants.py TARGET_DIR [VARIANT...]    (run with the devstack's Python, .venv)
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    target = Path(sys.argv[1])
    variants = sys.argv[2:] or [p.name for p in sorted(target.iterdir()) if (p / "rlqa-stripped").exists()]
    python = str(ROOT / ".venv/bin/python")
    rows = []
    for v in variants:
        out = target / v / "results.json"
        print(f"== measuring {v}", file=sys.stderr, flush=True)
        subprocess.run(
            [python, str(ROOT / "bench/run.py"), "--no-peer",
             "--only", "init,callgrind,scale", "--scales", "100 x 3 KB,2000 x 3 KB,2000 x 60 KB",
             "--rust-bin", str(target / v / "rlqa-stripped"),
             "--callgrind-bin", str(target / v / "redshift-long-query-alert"),
             "--json", str(out)],
            check=True, stdout=subprocess.DEVNULL,
        )
        r = json.loads(out.read_text())
        rust, fp = r["rust"], r["footprint"]
        seconds = (target / v / "build-seconds").read_text().strip() if (target / v / "build-seconds").exists() else "?"
        rows.append((
            v, f"{fp['binary_bytes']:,}", f"{fp['binary_zip_bytes']:,}", seconds,
            f"{rust['init']['init_ms']:.1f}", f"{rust['init_bundle']['init_ms']:.1f}" if "init_bundle" in rust else "-",
            f"{rust['callgrind']['init']['total']:,}", f"{rust['callgrind']['check']['total']:,}",
            f"{rust['init']['cold_invoke_ms']:.1f}",
            f"{rust['scale']['2000 x 3 KB']['cpu_ms']:.0f}", f"{rust['scale']['2000 x 60 KB']['cpu_ms']:.0f}",
            f"{rust['scale']['2000 x 60 KB']['wall_ms']:.0f}",
            f"{rust['init']['cold_hwm_mb']:.1f}", f"{rust['scale']['2000 x 60 KB']['hwm_mb']:.1f}",
        ))
    header = ("variant", "stripped bytes", "zip bytes", "build s", "init ms", "init ms (1 bundle)",
              "init Ir", "CLI check Ir", "1st invoke ms", "CPU ms 2000x3KB", "CPU ms 2000x60KB",
              "wall ms 2000x60KB", "RSS MB small", "RSS MB 2000x60KB")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
