"""Paper names typed with a slip ("SAM2Lnog", "AndriodLab"): is the paper still answered, with
a notice naming the correction? And is another version of a name ("OpenCoder-2") still not
taken for the paper?

Every indexed paper whose title starts with a short name of five or more characters (see
`assistant.retrieve.short_name`) is asked about with three slips of its name (two neighbouring
letters swapped, one letter dropped, one letter doubled), in an English and a Chinese phrasing;
and with two other versions of it (a "-2" and a "-v3" suffix), which must not be answered as
that paper. The gold is the paper itself, so nothing is labelled by hand.

    .venv/bin/python eval/misspelt_names.py [--index-dir DIR]
"""

from __future__ import annotations

import argparse

from assistant import Assistant
from assistant.retrieve import short_name

PHRASINGS = ("What does {n} propose?", "{n} 的主要方法是什么？")


def slips(name: str) -> list[str]:
    """Three deterministic typos, each on a letter (digits and separators are kept)."""
    letters = [i for i, c in enumerate(name) if c.isalpha()]
    mid = letters[len(letters) // 2]
    nxt = next((i for i in letters if i > mid), None)
    out = []
    if nxt is not None and name[mid] != name[nxt]:
        swapped = list(name)
        swapped[mid], swapped[nxt] = swapped[nxt], swapped[mid]
        out.append("".join(swapped))
    out.append(name[:mid] + name[mid + 1 :])
    out.append(name[:mid] + name[mid] + name[mid:])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index-dir", default=".assistant")
    args = ap.parse_args()
    asked = cited = noticed = refused = 0
    others = others_taken = 0
    with Assistant(index_dir=args.index_dir, llm_enabled=False) as a:
        for p in a.papers():
            name = short_name(p["title"])
            if name is None or len(name) < 5:
                continue
            for typo in slips(name):
                for phrasing in PHRASINGS:
                    ans = a.ask(phrasing.format(n=typo))
                    asked += 1
                    refused += ans.refused
                    hit = p["paper_id"] in {c.paper_id for c in ans.citations}
                    cited += hit
                    noticed += hit and any(f"{typo} → {name}" in n for n in ans.notices)
                    if not hit:
                        print(f"miss   {phrasing.format(n=typo)}")
            for other in (f"{name}-2", f"{name}-v3"):
                for phrasing in PHRASINGS:
                    ans = a.ask(phrasing.format(n=other))
                    others += 1
                    taken = not ans.refused and p["paper_id"] in {c.paper_id for c in ans.citations}
                    others_taken += taken
                    if taken:
                        print(f"taken  {phrasing.format(n=other)}")
    print(
        f"slips: {asked} questions, paper cited {cited} (with a notice naming the correction "
        f"{noticed}), refused {refused}"
    )
    print(f"other versions: {others} questions, answered as the paper {others_taken}")


if __name__ == "__main__":
    main()
