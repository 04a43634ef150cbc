"""Append (or create) bench/RESULTS.md from a loadgen.py JSON result."""
import argparse
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("result")
    ap.add_argument("out")
    ap.add_argument("--hash", default="")
    ap.add_argument("--settings", default="")
    args = ap.parse_args()
    r = json.loads(Path(args.result).read_text(encoding="utf-8"))
    lines = [
        f"## Load run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
        f"- settings: {args.settings}",
        f"- password hash cost: {args.hash} (Werkzeug scrypt: N, r, p)",
        f"- {r['users']} simulated users for {r['run_time_s']} s (ramp 10 users/s): {r['total_requests']} requests,"
        f" {r['throughput_rps']} req/s, errors: {sum(r['errors'].values())}",
        "",
        "| request | n | p50 ms | p95 ms | max ms | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in r["requests"].items():
        lines.append(f"| {name} | {s['n']} | {s['p50_ms']} | {s['p95_ms']} | {s['max_ms']} "
                     f"| {r['errors'].get(name, 0)} |")
    if r.get("error_samples"):
        lines += ["", "Error samples:", ""] + [f"- `{e}`" for e in r["error_samples"]]
    out = Path(args.out)
    head = ("# Benchmark results\n\nBounded load runs of `bench/load/run.sh` (loopback only; the run stops by "
            "itself). Newest first.\n\n")
    old = out.read_text(encoding="utf-8") if out.exists() else head
    if not old.startswith("# "):
        old = head + old
    title_end = old.index("\n\n", old.index("Newest first.")) + 2 if "Newest first." in old else len(old)
    out.write_text(old[:title_end] + "\n".join(lines) + "\n\n" + old[title_end:], encoding="utf-8")


if __name__ == "__main__":
    main()
