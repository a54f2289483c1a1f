"""'Which papers…' questions: does the answer cite every paper on the topic, and only those;
and is a topic no digest covers refused?

    .venv/bin/python eval/which_papers.py --index-dir .assistant [-v] [FILE …]

Three files, each written by a helper who saw neither the code nor the other question sets,
from the digests alone:
- topic_questions.jsonl (60 rows, half English, half Chinese): "Which papers are about video
  generation?", "papers on LLM quantization?", "有哪些工作用到了 LoRA？";
- topic_questions2.jsonl (50 rows, another writer): shorter and sloppier, more topics said only
  in the Chinese text ("anything on reward models?", "有没有 RL 相关的论文");
- topic_negatives.jsonl (60 rows): topics no digest covers, near ("video super-resolution")
  and far ("有没有讲足球战术的论文"), to be refused.
Each answerable row lists every paper whose digest is about the topic ("gold") and those that
only touch it ("borderline", counted neither way). Per question, over the papers the answer
cites: precision = gold cited / cited (borderline left out), recall = gold cited / gold; a
refused question scores 0 for both. Printed per file and language: the means and refusals.

First readings, at f19428a before any change made for them: topic_questions 0.594 / 0.604
with 14 of 60 refused (its misses were then read to find fixes); topic_questions2 0.707 /
0.630 with 7 of 50 refused; topic_negatives 48 of 60 refused (these two never used for a
choice).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assistant import Assistant

HERE = Path(__file__).parent
FILES = ["topic_questions.jsonl", "topic_questions2.jsonl", "topic_negatives.jsonl"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", default=".assistant")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every imperfect row")
    ap.add_argument("files", nargs="*", default=FILES, help="question files in eval/")
    args = ap.parse_args()
    with Assistant(index_dir=args.index_dir, llm_enabled=False) as a:
        titles = {str(p["paper_id"]): str(p["title"]) for p in a.papers()}
        for name in args.files:
            path = HERE / name
            rows = [
                json.loads(line)
                for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()
            ]
            by_lang: dict[str, list[tuple[float, float, bool]]] = {}
            for r in rows:
                ans = a.ask(r["question"])
                cited = list(dict.fromkeys(c.paper_id for c in ans.citations))
                gold, border = set(r.get("gold", [])), set(r.get("borderline", []))
                if not gold:  # a topic no digest covers: right when refused
                    by_lang.setdefault(r["lang"], []).append((0.0, 0.0, ans.refused))
                    if args.verbose and not ans.refused:
                        print(f"{r['id']} ANSWERED {r['question']}  cites {cited}")
                    continue
                judged = [p for p in cited if p not in border]
                hits = sum(p in gold for p in judged)
                precision = hits / len(judged) if judged else 0.0
                recall = sum(p in gold for p in cited) / len(gold)
                by_lang.setdefault(r["lang"], []).append((precision, recall, ans.refused))
                if args.verbose and (precision < 1 or recall < 1):
                    missed = [titles.get(p, p)[:40] for p in r["gold"] if p not in cited]
                    extra = [titles.get(p, p)[:40] for p in judged if p not in gold]
                    state = "REFUSED " if ans.refused else ""
                    print(f"{r['id']} {state}p={precision:.2f} r={recall:.2f} {r['question']}")
                    print(f"      missed {missed}\n      extra  {extra}")
            negatives = not any(r.get("gold") for r in rows)
            everything = [x for xs in by_lang.values() for x in xs]
            for lang, xs in [*sorted(by_lang.items()), ("all", everything)]:
                n, refused = len(xs), sum(x[2] for x in xs)
                if negatives:
                    print(f"{name:24s} {lang:3s} n={n:3d}  refused {refused}/{n}")
                else:
                    p = sum(x[0] for x in xs) / n
                    rc = sum(x[1] for x in xs) / n
                    print(
                        f"{name:24s} {lang:3s} n={n:3d}  precision {p:.3f}  recall {rc:.3f}"
                        f"  refused {refused}"
                    )


if __name__ == "__main__":
    main()
