"""Load test of the chat server on loopback: N concurrent gradio_client users ask questions from
the eval set for D seconds; reports latency p50/p95, errors, and whether every answer cited the
right paper. Bounded in users, time and requests; stops by itself.

    .venv/bin/python eval/load_test.py [--users 20] [--seconds 60] [--index-dir .assistant]

It starts `assistant chat` on a free 127.0.0.1 port in a subprocess (the server owns the index
folder) unless --url points at a running one. Writes eval/reports/load-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MAX_REQUESTS = 20_000  # hard cap, whatever the duration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read(1)
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"server at {url} not ready after {timeout:.0f}s")


def questions() -> list[tuple[str, str]]:
    """Answerable single-paper questions the pipeline answers offline (no history needed)."""
    rows = [json.loads(x) for x in (HERE / "questions.jsonl").read_text().splitlines() if x]
    return [
        (r["question"], r["gold"][0])
        for r in rows
        if r["answerable"] and len(r["gold"]) == 1 and not r.get("history")
    ]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--index-dir", default=".assistant")
    ap.add_argument("--url", default=None, help="use a running server instead of starting one")
    args = ap.parse_args()
    if not 1 <= args.users <= 64 or not 1 <= args.seconds <= 600:
        ap.error("--users must be 1..64 and --seconds 1..600")

    server = None
    url = args.url
    if url is None:
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "assistant.cli",
                "--index-dir",
                args.index_dir,
                "chat",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    try:
        wait_ready(url, timeout=180)
        return run_load(url, args.users, args.seconds)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


def run_load(url: str, users: int, seconds: float) -> int:
    from gradio_client import Client

    pool = questions()
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    wrong: list[str] = []
    refused = 0
    sent = 0
    deadline = time.monotonic() + seconds

    def user(i: int) -> None:
        nonlocal refused, sent
        client = Client(url, verbose=False)
        j = i
        while time.monotonic() < deadline:
            with lock:
                if sent >= MAX_REQUESTS:
                    return
                sent += 1
            q, gold = pool[j % len(pool)]
            j += users
            t0 = time.perf_counter()
            try:
                ans = client.predict(q, None, api_name="/ask")
            except Exception as exc:  # count every failure, keep going
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            dt = time.perf_counter() - t0
            cited = [c["paper_id"] for c in ans.get("citations", [])]
            with lock:
                latencies.append(dt)
                if ans.get("refused"):
                    refused += 1
                elif gold not in cited:
                    wrong.append(f"{q} -> {cited} (gold {gold})")

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    t_start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
    elapsed = time.monotonic() - t_start
    lat = np.asarray(latencies) * 1000
    result = {
        "users": users,
        "seconds": round(elapsed, 1),
        "requests": len(latencies) + len(errors),
        "answers": len(latencies),
        "throughput_rps": round(len(latencies) / elapsed, 2),
        "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
        "p95_ms": round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
        "errors": len(errors),
        "error_samples": errors[:5],
        "refused": refused,
        "cited_wrong_paper": len(wrong),
        "wrong_samples": wrong[:5],
    }
    out = HERE / "reports" / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    print(f"wrote {out}")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
