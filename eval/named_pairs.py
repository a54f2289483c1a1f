"""Questions that name two papers ("Compare SAM2Long and Pangea"): does the answer cite both?

Every pair of indexed papers whose titles start with a short name (MagicTailor, BitNet a4.8;
see `assistant.retrieve.title_name`) is asked in each of the templates below, half English and
half Chinese. The gold is the pair itself, so nothing here is labelled by hand.

    .venv/bin/python eval/named_pairs.py [--index-dir DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import itertools
import time

from assistant import Assistant
from assistant.retrieve import short_name

TEMPLATES = (
    "Compare {a} and {b}.",
    "What do {a} and {b} have in common?",
    "How does {a} differ from {b}?",
    "Which is more efficient, {a} or {b}?",
    "Do {a} and {b} use the same datasets?",
    "{a} 和 {b} 有什么区别？",
    "{a} 与 {b} 分别解决什么问题？",
    "{a} 和 {b} 哪个效果更好？",
    "{a} 跟 {b} 的方法有什么联系？",
    "介绍一下 {a} 和 {b}。",
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index-dir", default=".assistant")
    ap.add_argument("--limit", type=int, default=0, help="ask only the first N pairs")
    args = ap.parse_args()
    with Assistant(index_dir=args.index_dir, llm_enabled=False) as a:
        names: list[tuple[str, str]] = []
        for p in a.papers():
            if (short := short_name(p["title"])) is not None:
                names.append((short, p["paper_id"]))
        pairs = list(itertools.combinations(sorted(names), 2))
        if args.limit:
            pairs = pairs[: args.limit]
        both = refused = asked = 0
        start = time.perf_counter()
        for (name_a, id_a), (name_b, id_b) in pairs:
            for template in TEMPLATES:
                question = template.format(a=name_a, b=name_b)
                answer = a.ask(question)
                cited = {c.paper_id for c in answer.citations}
                asked += 1
                refused += answer.refused
                if {id_a, id_b} <= cited:
                    both += 1
                else:
                    state = "refused" if answer.refused else f"cited {sorted(cited)}"
                    print(f"miss  {question}  ({id_a}, {id_b}) {state}")
        took = time.perf_counter() - start
    print(
        f"{len(names)} papers with a short name: {len(pairs)} pairs, {asked} questions"
        f" in {took:.1f} s"
    )
    print(f"both papers cited {both}/{asked} ({both / max(asked, 1):.3f}), refused {refused}")


if __name__ == "__main__":
    main()
