"""Issue-2 quality bars on the question set: hit@1 / hit@5 for single-paper questions,
refusal of unanswerable ones, false refusals of answerable ones.

    .venv/bin/python eval/quality.py [--split dev|heldout|all] [--index-dir DIR] [--set FILE]
        [KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assistant import Assistant, AssistantError
from assistant.evaluation.run import load_questions, no_split, select_questions

HERE = Path(__file__).resolve().parent
SINGLE = {"single", "crosslingual", "paraphrase", "identifier", "followup"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="dev", help="dev, heldout, a split of your set, or all")
    ap.add_argument("--index-dir", default=".assistant")
    ap.add_argument(
        "--set", type=Path, default=HERE / "questions.jsonl", help="question set (JSONL)"
    )
    ap.add_argument("overrides", nargs="*", help="settings, e.g. bm25_weight=0.8")
    args = ap.parse_args()
    overrides = dict(kv.split("=", 1) for kv in args.overrides)
    try:
        # The loader `assistant eval` uses: the same defaults (only "question" and "gold" or
        # "answerable": false are required), gold ids normalised ("arXiv:2501.05678v1"), and
        # one-line errors naming the file and line.
        every = load_questions(args.set)
        rows = select_questions(every, args.split)
        if not rows:
            raise AssistantError(no_split(args.split, args.set, every))
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    hit1 = hit5 = n_single = refused_ok = n_unans = false_ref = n_ans = 0
    misses: list[str] = []
    with Assistant(index_dir=args.index_dir, llm_enabled=False, **overrides) as a:
        for r in rows:
            ans = a.ask(r.question, r.history or None)
            if not r.answerable:
                n_unans += 1
                refused_ok += ans.refused
                if not ans.refused:
                    misses.append(f"answered  {r.id} {r.question}")
                continue
            n_ans += 1
            false_ref += ans.refused
            if ans.refused:
                misses.append(f"refused   {r.id} {r.question}")
            if r.category in SINGLE and len(r.gold) == 1:
                q = ans.retrieval_query or r.question
                ids = [s.paper_id for s in a.search(q, k=5)]
                n_single += 1
                hit1 += bool(ids) and ids[0] == r.gold[0]
                hit5 += r.gold[0] in ids
                if not ids or ids[0] != r.gold[0]:
                    misses.append(f"rank>1    {r.id} {r.question} -> {ids[:3]}")
    for m in misses:
        print(m)
    print(f"split={args.split} overrides={overrides}")
    if n_single:
        print(
            f"single-paper hit@1 {hit1 / n_single:.3f}  hit@5 {hit5 / n_single:.3f}  (n={n_single})"
        )
    print(f"unanswerable refused {refused_ok}/{n_unans}   answerable refused {false_ref}/{n_ans}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
