"""Warm latency of chat turns: replays eval/chat_dev.jsonl's sessions as the chat UI keeps
them (each turn asked with the earlier answers and the papers they cited) and prints p50 of
first turns and p50/p90 of follow-ups. Follow-ups cost more: a question is also retrieved
alone to see whether it names a paper of its own.

    .venv/bin/python eval/bench/chat_latency.py --index-dir .assistant
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from assistant import Assistant

SESSIONS = Path(__file__).resolve().parent.parent / "chat_dev.jsonl"


def replay(a: Assistant, sessions: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    first: list[float] = []
    later: list[float] = []
    for session in sessions:
        history: list[dict[str, Any]] = []
        for i, turn in enumerate(session["turns"]):
            start = time.perf_counter()
            answer = a.ask(turn["q"], history=history)
            (first if i == 0 else later).append(time.perf_counter() - start)
            cited = [c.paper_id for c in answer.citations]
            history += [
                {"role": "user", "content": turn["q"]},
                {"role": "assistant", "content": answer.text, "paper_ids": cited},
            ]
    return first, later


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", default=".assistant")
    args = ap.parse_args()
    sessions = [json.loads(line) for line in SESSIONS.read_text(encoding="utf-8").splitlines()]
    with Assistant(index_dir=args.index_dir, llm_enabled=False) as a:
        replay(a, sessions)  # warm: embeddings, BM25, caches
        first, later = replay(a, sessions)
    p90 = sorted(later)[int(len(later) * 0.9)]
    print(
        f"first turns p50 {statistics.median(first) * 1000:.1f} ms  follow-ups p50"
        f" {statistics.median(later) * 1000:.1f} ms  p90 {p90 * 1000:.1f} ms  (n={len(later)})"
    )


if __name__ == "__main__":
    main()
