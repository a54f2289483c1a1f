"""Second turns of a chat: is a follow-up about the paper just discussed read as one, and is an
unrelated question asked mid-chat ("光速是多少？", "How many bones are in the adult human
body?") refused rather than answered with that paper?

    .venv/bin/python eval/followup_topics.py --index-dir .assistant [-v]

eval/followup_topics.jsonl (80 rows: 40 about the paper, 40 unrelated, half Chinese) was written
by a helper who saw neither the code nor the rules. Each row is a first question naming a
paper, then a second message. A row is right when:
- about_paper: the second answer is not refused and cites first the paper the first answer
  cited first (some ask what a digest does not state, so not all can be right);
- unrelated: the second answer is refused, or cites nothing.

First reading at 8220d66 (after the rule for questions about a thing of their own was written
against other examples): unrelated 32/40, about the paper 28/40; at 3046768, before that rule:
19/40 and 29/40.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from assistant import Assistant

HERE = Path(__file__).parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", default=".assistant")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every wrong row")
    args = ap.parse_args()
    rows = [
        json.loads(line)
        for line in (HERE / "followup_topics.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    right: Counter[tuple[str, str]] = Counter()
    total: Counter[tuple[str, str]] = Counter()
    with Assistant(index_dir=args.index_dir, llm_enabled=False) as a:
        for r in rows:
            first = a.ask(r["first"])
            before = [c.paper_id for c in first.citations]
            history: list[dict[str, Any]] = [
                {"role": "user", "content": r["first"]},
                {"role": "assistant", "content": first.text, "paper_ids": before},
            ]
            second = a.ask(r["then"], history)
            cited = [c.paper_id for c in second.citations]
            if r["kind"] == "unrelated":
                ok = second.refused or not cited
            else:
                ok = not second.refused and bool(cited) and bool(before) and cited[0] == before[0]
            key = (r["kind"], r["lang"])
            total[key] += 1
            right[key] += ok
            if args.verbose and not ok:
                got = "refused" if second.refused else f"cited {cited[:2]}"
                print(f"  wrong  {r['kind']:<11} {r['first'][:40]!r} -> {r['then']!r}: {got}")
    for kind in ("about_paper", "unrelated"):
        keys = sorted(k for k in total if k[0] == kind)
        parts = "  ".join(f"{lang} {right[(kind, lang)]}/{total[(kind, lang)]}" for _, lang in keys)
        n_right = sum(right[k] for k in keys)
        print(f"{kind}: {n_right}/{sum(total[k] for k in keys)} right ({parts})")


if __name__ == "__main__":
    main()
