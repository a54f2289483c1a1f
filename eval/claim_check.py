"""Does the claim check flag what a generated answer invents, and leave faithful answers alone?

    .venv/bin/python eval/claim_check.py --index-dir .assistant [-v] [FILE]

claim_answers.jsonl (90 rows, half English, half Chinese) was written by a helper who saw
neither the code nor the rules, from the digests alone: answers as LLMs write them, each
sentence cited [n] (sources[n-1]). 45 are faithful, with the habits that trip a checker
(600万 → 6 million, "more than 800", derived counts and sums, percentage-point arithmetic);
45 carry one unsupported fact: a changed number (15), an invented name (12), a fact of another
source cited (10), an invented number (8). Their "altered" field is the text that carries it.

Each answer goes through the check the assistant runs on generated answers
(verify.unsupported_claims against the cited papers' whole digests, read from the index).
Printed: faithful answers flagged (false flags), altered answers flagged, per kind, and how
many of those flags name the altered text.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant import Assistant  # noqa: E402
from assistant.verify import unsupported_claims  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", default=str(REPO / "eval" / "claim_answers.jsonl"))
    ap.add_argument("--index-dir", default=None)
    ap.add_argument("-v", "--verbose", action="store_true", help="print every wrong call")
    args = ap.parse_args()
    rows = [json.loads(line) for line in Path(args.file).read_text("utf-8").splitlines() if line]
    overrides = {"index_dir": args.index_dir} if args.index_dir else {}
    total: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    named: Counter[str] = Counter()
    with Assistant(llm_enabled=False, **overrides) as a:
        a.ensure_indexed()
        for row in rows:
            texts = a.index.paper_texts(row["sources"])
            cited = {n: texts[pid] for n, pid in enumerate(row["sources"], 1)}
            claims = unsupported_claims(row["answer"], cited)
            items = [m for c in claims for m in c.missing]
            kind = row["kind"]
            total[kind] += 1
            flagged[kind] += bool(claims)
            hit = any(m in alt or alt in m for m in items for alt in row["altered"])
            named[kind] += hit
            wrong = bool(claims) == (kind == "faithful") or (kind != "faithful" and not hit)
            if args.verbose and wrong:
                print(f"{row['id']} {kind:15} flagged={items} altered={row['altered']}")
                print(f"    {row['answer'][:160]}")
    print(f"faithful answers flagged: {flagged['faithful']}/{total['faithful']}")
    altered = [k for k in total if k != "faithful"]
    n_alt = sum(total[k] for k in altered)
    print(
        f"altered answers flagged: {sum(flagged[k] for k in altered)}/{n_alt}"
        f" (naming the altered text: {sum(named[k] for k in altered)})"
    )
    for k in sorted(altered):
        print(f"  {k:16} {flagged[k]}/{total[k]} (naming it: {named[k]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
