"""Questions the index answers, or the digests cannot: run each list through `ask` and count
how each kind came out.

    .venv/bin/python eval/collection_questions.py [--index-dir DIR] [--show]

Lists (label<TAB>question):
  catalog_train.tsv        which papers / how many ("catalog") against topic questions that look
                           alike ("not_catalog"); eval/fit_catalog.py fits on it
  catalog_heldout.tsv      the same kinds, written by a helper who saw neither the rules nor the
                           training list; never fitted on
  paper_facts_dev.tsv      who wrote a paper ("authors") against questions about what its authors
                           did ("not_authors"); when it was posted ("date") against other time
                           questions ("not_date"); the rules were written against this list
  paper_facts_heldout.tsv  the same kinds, by a helper who saw neither rules nor list

What counts as right:
  catalog      answered from the index (mode "index") citing every indexed paper
  not_catalog  anything else
  authors      refused with the notice that the digests do not state the authors
  not_authors  no such notice
  date         answered from the index with the month of each cited paper's arXiv id
  not_date     not answered from the index
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from assistant import Assistant
from assistant.prompt import message
from assistant.records import Answer

HERE = Path(__file__).resolve().parent
LISTS = ("catalog_train", "catalog_heldout", "paper_facts_dev", "paper_facts_heldout")


def right(label: str, ans: Answer, n_papers: int, prompts: Path) -> bool:
    whole_list = ans.mode == "index" and len(ans.citations) == n_papers
    authors = message(prompts, ans.language, "measure_authors")
    no_authors = message(prompts, ans.language, "unstated", measures=authors)
    checks = {
        "catalog": whole_list,
        "not_catalog": not whole_list,
        "authors": ans.refused and no_authors in ans.notices,
        "not_authors": no_authors not in ans.notices,
        "date": ans.mode == "index" and not whole_list and bool(ans.citations),
        "not_date": ans.mode != "index",
    }
    return checks[label]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index-dir", default=".assistant")
    ap.add_argument("--show", action="store_true", help="print every question that came out wrong")
    args = ap.parse_args()
    with Assistant(index_dir=args.index_dir, llm_enabled=False) as a:
        n_papers = len(a.papers())
        prompts = a.settings.prompts_dir
        for name in LISTS:
            good: Counter[str] = Counter()
            total: Counter[str] = Counter()
            wrong: list[str] = []
            for line in (HERE / f"{name}.tsv").read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                label, question = line.split("\t", 1)
                total[label] += 1
                if right(label, a.ask(question), n_papers, prompts):
                    good[label] += 1
                else:
                    wrong.append(f"  {label:<12} {question}")
            counts = "  ".join(f"{lab} {good[lab]}/{total[lab]}" for lab in total)
            print(f"{name:<20} {counts}")
            if args.show:
                print("\n".join(wrong))


if __name__ == "__main__":
    main()
