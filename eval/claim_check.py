"""Does the claim check flag what a generated answer invents, and leave faithful answers alone?

    .venv/bin/python eval/claim_check.py --index-dir .assistant [-v] [FILE …]

Two sets, each written by a helper who saw neither the code nor the rules nor the other set,
from the digests alone: answers as LLMs write them, each sentence cited [n] (sources[n-1]).
- claim_answers.jsonl (90 rows, half English, half Chinese): 45 faithful, with the habits
  that trip a checker (600万 → 6 million, "more than 800", derived counts and sums,
  percentage-point arithmetic); 45 with one unsupported fact: a changed number (15), an
  invented name (12), a fact of another source cited (10), an invented number (8);
- claim_answers2.jsonl (80 rows, another writer): styles of several models (bullet and
  numbered lists, bold, markers after the full stop, one marker for a paragraph), 40
  faithful, 40 with one unsupported fact (12 / 10 / 10 / 8 of the same kinds).
The "altered" field of a row is the text that carries its unsupported fact.

Each answer goes through the check the assistant runs on generated answers
(Assistant.check_claims: verify.py against the cited papers' whole digests, read from the
index). Printed per file: faithful answers flagged (false flags), altered answers flagged,
per kind, how many of those flags name the altered text, and the check's time per answer.

First readings. claim_answers.jsonl, with the first rules: 6/45 faithful flagged, 42/45
altered; its misses were then read to add the derivations (roundings, sums, differences, list
counts). claim_answers2.jsonl, read only after that: 4/40 faithful flagged, 35/40 altered; its
misses were then read too (a swap rule applied to derived numbers, phrases spelling out an
acronym, short acronyms no digest uses).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant import Assistant  # noqa: E402


def report(a: Assistant, file: str, verbose: bool) -> None:
    rows = [json.loads(line) for line in Path(file).read_text("utf-8").splitlines() if line]
    total: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    named: Counter[str] = Counter()
    times: list[float] = []
    for row in rows:
        t0 = time.perf_counter()
        claims = a.check_claims(row["answer"], dict(enumerate(row["sources"], 1)))
        times.append((time.perf_counter() - t0) * 1000)
        items = [m for c in claims for m in c.missing]
        kind = row["kind"]
        total[kind] += 1
        flagged[kind] += bool(claims)
        hit = any(m in alt or alt in m for m in items for alt in row["altered"])
        named[kind] += hit
        wrong = bool(claims) == (kind == "faithful") or (kind != "faithful" and not hit)
        if verbose and wrong:
            print(f"  {row['id']} {kind:15} flagged={items} altered={row['altered']}")
            print(f"      {row['answer'][:160]}")
    print(f"  faithful answers flagged: {flagged['faithful']}/{total['faithful']}")
    altered = [k for k in total if k != "faithful"]
    n_alt = sum(total[k] for k in altered)
    print(
        f"  altered answers flagged: {sum(flagged[k] for k in altered)}/{n_alt}"
        f" (naming the altered text: {sum(named[k] for k in altered)})"
    )
    for k in sorted(altered):
        print(f"    {k:16} {flagged[k]}/{total[k]} (naming it: {named[k]})")
    print(f"  check per answer: p50 {statistics.median(times):.1f} ms, max {max(times):.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sets = [str(REPO / "eval" / f"claim_answers{n}.jsonl") for n in ("", "2")]
    ap.add_argument("files", nargs="*", default=sets)
    ap.add_argument("--index-dir", default=None)
    ap.add_argument("-v", "--verbose", action="store_true", help="print every wrong call")
    args = ap.parse_args()
    overrides = {"index_dir": args.index_dir} if args.index_dir else {}
    with Assistant(llm_enabled=False, **overrides) as a:
        a.ensure_indexed()
        # BM25 and jieba's dictionary load on first use (in the assistant, at the first
        # search, long before an answer is checked): not part of a check's time.
        a.check_claims("UCFE had 804 participants [1].", {1: "2410.14059"})
        for file in args.files:
            print(f"{Path(file).name}:")
            report(a, file, args.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
