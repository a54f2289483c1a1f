"""Questions that name one paper ("What problem does SAM2Long solve?", "2410.13861 是什么？"):
is that paper cited, and does the answer quote what it does rather than where its code is?

Every indexed paper is asked by its arXiv id, and also by the short name its title starts with
when it has one (see `assistant.retrieve.title_name`), in each template below, half English
and half Chinese. None asks for code or a link, so a quoted link sentence is a miss; the gold
is the paper itself, so nothing here is labelled by hand.

    .venv/bin/python eval/named_single.py [--index-dir DIR]
"""

from __future__ import annotations

import argparse
import re
import time

from assistant import Assistant
from assistant.extractive import LINK, link_only
from assistant.retrieve import short_name
from assistant.text import token_set

TEMPLATES = (
    "What is {n} about?",
    "Summarize {n}.",
    "How does {n} work?",
    "What problem does {n} solve?",
    "What are the main results of {n}?",
    "{n} 是什么？",
    "介绍一下 {n}。",
    "{n} 是怎么做的？",
    "{n} 解决了什么问题？",
    "{n} 的主要结果是什么？",
)
# Many people write Chinese without a space after a Latin name ("SAM2Long是什么？"). Asked too,
# counted apart: the name must still be read as the name, not as "SAM2Long是什么".
GLUED = tuple(t.replace(" ", "") for t in TEMPLATES if not t.isascii())
# Asked for the contribution: the first quoted sentence should state it ("我们提出了 …").
CONTRIBUTION = (
    "{n} 的主要贡献是什么？",
    "What is the main contribution of {n}?",
    "{n}的核心思想是什么",
    "What's the key idea of {n}?",
)
STATES_IT = re.compile(
    r"提出|推出|引入|设计了|介绍了|本文|这项工作"
    r"|we (?:propose|present|introduce)|this (?:paper|work)",
    re.I,
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index-dir", default=".assistant")
    args = ap.parse_args()
    asked = cited = refused = any_link = only_link = 0
    glued = {"asked": 0, "cited": 0, "refused": 0}
    contribution = {"asked": 0, "cited": 0, "states": 0}
    start = time.perf_counter()
    with Assistant(index_dir=args.index_dir, llm_enabled=False) as a:
        for p in a.papers():
            names = [p["paper_id"]]
            if (name := short_name(p["title"])) is not None:
                names.append(name)
            own = token_set(f"arXiv {p['paper_id']}\n{p['title']}\n{p['title_zh']}")
            for name in names:
                for template in CONTRIBUTION:
                    answer = a.ask(template.format(n=name))
                    contribution["asked"] += 1
                    contribution["cited"] += p["paper_id"] in {c.paper_id for c in answer.citations}
                    first = answer.text.split("\n\n", 1)[-1].splitlines()[:1]
                    contribution["states"] += bool(first and STATES_IT.search(first[0]))
                for template in GLUED:
                    answer = a.ask(template.format(n=name))
                    glued["asked"] += 1
                    glued["refused"] += answer.refused
                    glued["cited"] += p["paper_id"] in {c.paper_id for c in answer.citations}
                for template in TEMPLATES:
                    question = template.format(n=name)
                    answer = a.ask(question)
                    asked += 1
                    refused += answer.refused
                    cited += p["paper_id"] in {c.paper_id for c in answer.citations}
                    # The quoted sentences, without their markers: the lines after the lead.
                    body = answer.text.split("\n\n", 1)[-1]
                    quoted = [re.sub(r"\s*\[\d+\]$", "", s) for s in body.splitlines()]
                    if any(LINK.search(s) for s in quoted):
                        any_link += 1
                        only_link += any(link_only(s, own) for s in quoted)
                        print(f"link  {question}")
    took = time.perf_counter() - start
    print(f"{asked} questions in {took:.1f} s: paper cited {cited}, refused {refused}")
    print(f"answers quoting a link: {any_link} (a link and no other name: {only_link})")
    print(
        f"Chinese written without a space after the name: {glued['asked']} questions, paper "
        f"cited {glued['cited']}, refused {glued['refused']}"
    )
    print(
        f"asked for the contribution: {contribution['asked']} questions, paper cited "
        f"{contribution['cited']}, first quoted sentence states it {contribution['states']}"
    )


if __name__ == "__main__":
    main()
