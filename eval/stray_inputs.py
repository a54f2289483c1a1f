"""What the assistant does with input that is not a question about the papers: keyboard mashes,
"test", greetings, made-up model names, off-topic requests. None of it is answerable from the
digests, so each should be refused, with "not in the digests" or the hint on what to ask (or,
for input with no words at all, rejected with a one-line error; counted as refused).
Prints, per list, how many were refused and which were answered, with the papers cited.

    .venv/bin/python eval/stray_inputs.py --index-dir .assistant

Lists (one input per line, # comments): eval/stray_dev.txt, which the rules in gate.py were
written against, and eval/stray_heldout.txt, written by someone who saw neither.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from assistant import Assistant
from assistant.assistant import AssistantError

HERE = Path(__file__).parent
LISTS = [HERE / "stray_dev.txt", HERE / "stray_heldout.txt"]


def read_list(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", default=".assistant")
    ap.add_argument("lists", nargs="*", type=Path, default=LISTS, help="default: both lists")
    args = ap.parse_args()
    with Assistant(index_dir=args.index_dir, llm_enabled=False) as a:
        for path in args.lists:
            inputs = read_list(path)
            answered: list[tuple[str, list[str]]] = []
            start = time.perf_counter()
            for text in inputs:
                try:
                    ans = a.ask(text)
                except AssistantError:  # "." has no words: rejected with a one-line error
                    continue
                if not ans.refused:
                    answered.append((text, [c.paper_id for c in ans.citations]))
            took = time.perf_counter() - start
            refused = len(inputs) - len(answered)
            print(f"{path.name}: {len(inputs)} inputs in {took:.1f} s, refused {refused}")
            for text, cited in answered:
                print(f"  answered  {text!r} -> {cited}")


if __name__ == "__main__":
    main()
