"""Warm latency of single questions: the first 60 questions of eval/questions.jsonl, each
searched (k=5) and then each asked (extractive), after 5 warm-up rounds. Prints p50 of both.
Run it twice, alternating with another checkout, to compare two commits side by side.

    .venv/bin/python eval/bench/single_latency.py --index-dir .assistant
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from assistant import Assistant

QUESTIONS = Path(__file__).resolve().parent.parent / "questions.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index-dir", default=".assistant")
    ap.add_argument("-n", type=int, default=60, help="questions timed")
    args = ap.parse_args()
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line][: args.n]
    with Assistant(index_dir=args.index_dir, llm_enabled=False) as a:
        for q in questions[:5]:
            a.search(q, k=5)
            a.ask(q)
        searches: list[float] = []
        asks: list[float] = []
        for q in questions:
            start = time.perf_counter()
            a.search(q, k=5)
            searches.append(time.perf_counter() - start)
        for q in questions:
            start = time.perf_counter()
            a.ask(q)
            asks.append(time.perf_counter() - start)
    search_ms = statistics.median(searches) * 1000
    ask_ms = statistics.median(asks) * 1000
    print(f"search p50 {search_ms:.1f} ms  ask p50 {ask_ms:.1f} ms  (n={len(questions)})")


if __name__ == "__main__":
    main()
