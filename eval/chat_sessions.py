"""Multi-turn chats replayed as the chat UI holds them: each turn is asked with the history of
the user's earlier turns and the assistant's own answers (with the papers each one cited), so a
follow-up is resolved against what the assistant really said. Prints, per split, how many turns
came out right, by kind, and for first turns apart from follow-ups.

    .venv/bin/python eval/chat_sessions.py --index-dir .assistant [--split dev|heldout|…|all] [-v]

A turn is right when it does what its label expects:
- papers: answered, and the first paper cited is one the turn is about (gold); precision and
  recall of the cited papers against gold are reported too;
- refuse: refused (the digests do not hold it);
- none: nothing cited (a greeting, thanks);
- index: answered from the index (the list, a month, a date), citing every gold paper;
- skip: not scored (ambiguous even to a person).

Sets (one session per line): eval/chat_dev.jsonl, labelled from a user test whose report the
follow-up rules were changed against; eval/chat_heldout.jsonl and eval/chat_heldout2.jsonl,
each written and labelled by someone who saw neither the code nor the other sets. Both were
read and bugs their misses showed fixed, so neither is blind any more (first readings: README,
Evals). eval/chat_heldout3.jsonl was written the same way later; its first reading was taken
at cd9d338, before any change made from it; eval/chat_heldout4.jsonl after the changes made
from heldout3 (first reading at d54b10d; 119/179 at cd9d338, 126/179 at d54b10d).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant import Assistant
from assistant.records import Answer

HERE = Path(__file__).parent
SPLITS = {
    "dev": HERE / "chat_dev.jsonl",
    "heldout": HERE / "chat_heldout.jsonl",
    "heldout2": HERE / "chat_heldout2.jsonl",
    "heldout3": HERE / "chat_heldout3.jsonl",
    "heldout4": HERE / "chat_heldout4.jsonl",
}


@dataclass
class Turn:
    session: str
    index: int
    question: str
    expect: str
    gold: list[str]
    answer: Answer

    @property
    def cited(self) -> list[str]:
        return [c.paper_id for c in self.answer.citations]

    @property
    def right(self) -> bool:
        cited, gold = self.cited, set(self.gold)
        if self.expect == "papers":
            return not self.answer.refused and bool(cited) and cited[0] in gold
        if self.expect == "refuse":
            return self.answer.refused
        if self.expect == "none":
            return not cited
        if self.expect == "index":
            return self.answer.mode == "index" and gold <= set(cited)
        raise ValueError(f"{self.session} turn {self.index}: unknown expect {self.expect!r}")


def replay(a: Assistant, session: dict[str, Any]) -> list[Turn]:
    history: list[dict[str, Any]] = []
    out: list[Turn] = []
    for i, t in enumerate(session["turns"], 1):
        answer = a.ask(t["q"], history=history)
        out.append(Turn(session["id"], i, t["q"], t["expect"], t.get("gold", []), answer))
        history.append({"role": "user", "content": t["q"]})
        cited = [c.paper_id for c in answer.citations]
        history.append({"role": "assistant", "content": answer.text, "paper_ids": cited})
    return out


def report(name: str, turns: list[Turn], verbose: bool) -> None:
    scored = [t for t in turns if t.expect != "skip"]
    right = [t for t in scored if t.right]
    by_kind = Counter(t.expect for t in scored)
    ok_kind = Counter(t.expect for t in right)
    first = [t for t in scored if t.index == 1]
    later = [t for t in scored if t.index > 1]
    kinds = "  ".join(f"{k} {ok_kind[k]}/{n}" for k, n in sorted(by_kind.items()))
    print(f"{name}: {len(right)}/{len(scored)} turns right ({kinds})")
    print(
        f"  first turns {sum(t.right for t in first)}/{len(first)}"
        f"  follow-ups {sum(t.right for t in later)}/{len(later)}"
    )
    papers = [t for t in scored if t.expect == "papers" and t.cited]
    if papers:
        precision = sum(len(set(t.cited) & set(t.gold)) / len(set(t.cited)) for t in papers)
        recall = sum(len(set(t.cited) & set(t.gold)) / len(set(t.gold)) for t in papers)
        print(
            f"  papers turns answered: cited precision {precision / len(papers):.3f}"
            f"  recall {recall / len(papers):.3f}  (n={len(papers)})"
        )
    if verbose:
        for t in scored:
            if not t.right:
                what = "refused" if t.answer.refused else f"{t.answer.mode} {t.cited}"
                print(f"  wrong  {t.session} #{t.index} [{t.expect} {t.gold}] {t.question!r}")
                print(f"         got {what}  (searched: {t.answer.retrieval_query!r})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", default=".assistant")
    ap.add_argument("--split", choices=[*SPLITS, "all"], default="dev")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every wrong turn")
    args = ap.parse_args()
    splits = list(SPLITS) if args.split == "all" else [args.split]
    with Assistant(index_dir=args.index_dir, llm_enabled=False) as a:
        for split in splits:
            sessions = [json.loads(line) for line in SPLITS[split].read_text().splitlines()]
            turns = [t for s in sessions for t in replay(a, s)]
            report(SPLITS[split].name, turns, args.verbose)


if __name__ == "__main__":
    main()
