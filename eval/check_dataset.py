"""Validate eval/questions.jsonl and eval/judge_labels.jsonl against the seed digests.
Run: .venv/bin/python eval/check_dataset.py [QUESTIONS.jsonl]
"""

import argparse
import collections
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
EVAL = ROOT / "eval"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Validate a question set (default eval/questions.jsonl) and "
        "eval/judge_labels.jsonl against the seed digests: fields, gold ids in seeds/, key facts "
        "as literal substrings of a gold entry, follow-up histories, the split, and (for the "
        "shipped set) the per-category quotas and paper coverage. Prints counts; exits 1 on any "
        "problem."
    )
    parser.add_argument(
        "questions",
        nargs="?",
        type=pathlib.Path,
        default=EVAL / "questions.jsonl",
        help="question set to check (default eval/questions.jsonl)",
    )
    args = parser.parse_args(argv)
    questions: pathlib.Path = args.questions
    shipped = questions.resolve() == (EVAL / "questions.jsonl").resolve()
    if not questions.exists():
        print(f"error: {questions}: no such file", file=sys.stderr)
        return 1
    # ---- parse seed entries: title line + link line + summary ----
    entries = {}
    for p in SEEDS:
        text = p.read_text(encoding="utf-8")
        for block in re.split(r"(?m)^(?=## )", text):
            if not block.strip():
                continue
            m = re.search(r"arxiv\.org/abs/(\d{4}\.\d{4,5})", block)
            assert m, f"no arxiv id in block of {p.name}: {block[:80]!r}"
            entries[m.group(1)] = block
    ids_all = re.findall(
        r"arxiv\.org/abs/(\d{4}\.\d{4,5})", "".join(p.read_text(encoding="utf-8") for p in SEEDS)
    )
    errors = []

    def err(msg):
        errors.append(msg)

    if len(set(ids_all)) != len(entries):
        err(f"id/entry mismatch: {len(set(ids_all))} ids vs {len(entries)} entries")

    # ---- questions ----
    CATS = {
        "single": 30,
        "multi": 15,
        "crosslingual": 20,
        "paraphrase": 15,
        "identifier": 20,
        "followup": 10,
        "unanswerable": 30,
    }
    REQ = ["id", "question", "lang", "category", "gold", "key_facts", "answerable", "split"]
    qs, seen = [], set()
    for ln, line in enumerate(questions.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except Exception as e:
            err(f"questions line {ln}: parse error {e}")
            continue
        qs.append(q)
        for k in REQ:
            if k not in q:
                err(f"{q.get('id', ln)}: missing field {k}")
        qid = q.get("id")
        if qid in seen:
            err(f"duplicate id {qid}")
        seen.add(qid)
        if q.get("lang") not in ("zh", "en"):
            err(f"{qid}: bad lang")
        if q.get("category") not in CATS:
            err(f"{qid}: bad category {q.get('category')}")
        if q.get("split") not in ("dev", "heldout"):
            err(f"{qid}: bad split")
        lang_zh = bool(re.search(r"[\u4e00-\u9fff]", q.get("question", "")))
        if (q.get("lang") == "zh") != lang_zh:
            err(f"{qid}: lang field vs text mismatch")
        for g in q.get("gold", []):
            if g not in entries:
                err(f"{qid}: gold id {g} not in seeds")
        if q.get("category") == "unanswerable" or not q.get("answerable"):
            if (
                q.get("gold")
                or q.get("key_facts")
                or q.get("answerable")
                or q.get("category") != "unanswerable"
            ):
                err(f"{qid}: unanswerable inconsistency")
        elif not q.get("gold"):
            err(f"{qid}: answerable with empty gold")
        for kf in q.get("key_facts", []):
            if not any(kf in entries[g] for g in q.get("gold", []) if g in entries):
                err(f"{qid}: key fact {kf!r} not found in any gold entry")
        if q.get("category") == "followup":
            h = q.get("history")
            if not (
                isinstance(h, list)
                and len(h) >= 2
                and h[-1].get("role") == "assistant"
                and all(p in entries for p in h[-1].get("paper_ids", []))
                and h[-1].get("paper_ids")
            ):
                err(f"{qid}: bad history")
        elif "history" in q:
            err(f"{qid}: history on non-followup")

    cat = collections.Counter(q.get("category") for q in qs)
    cover = collections.Counter(g for q in qs for g in q.get("gold", []))
    if shipped:  # the shipped set's quotas; another file is checked row by row only
        for c, need in CATS.items():
            if cat[c] < need:
                err(f"category {c}: {cat[c]} < {need}")
        if len(qs) < 140:
            err(f"only {len(qs)} questions")
        for pid in entries:
            if cover[pid] < 2:
                err(f"paper {pid} covered {cover[pid]} times")

    # ---- judge labels ----
    KINDS = {
        "verbatim",
        "paraphrase",
        "translation",
        "wrong_number",
        "wrong_paper",
        "unrelated",
        "partial",
    }
    SUPPORTED_KINDS = {"verbatim", "paraphrase", "translation"}
    js, jseen = [], set()
    jpath = EVAL / "judge_labels.jsonl"
    if jpath.exists():
        for ln, line in enumerate(jpath.read_text(encoding="utf-8").splitlines(), 1):
            try:
                j = json.loads(line)
            except Exception as e:
                err(f"judge line {ln}: parse error {e}")
                continue
            js.append(j)
            for k in ["id", "claim", "passage", "paper_id", "supported", "kind"]:
                if k not in j:
                    err(f"judge {j.get('id', ln)}: missing {k}")
            if j["id"] in jseen:
                err(f"judge duplicate id {j['id']}")
            jseen.add(j["id"])
            if j["paper_id"] not in entries:
                err(f"judge {j['id']}: unknown paper")
            elif j["passage"] not in entries[j["paper_id"]]:
                err(f"judge {j['id']}: passage not verbatim in entry")
            if j["kind"] not in KINDS:
                err(f"judge {j['id']}: bad kind")
            if j["supported"] != (j["kind"] in SUPPORTED_KINDS):
                err(f"judge {j['id']}: supported/kind mismatch")
            if j["kind"] == "translation" and re.search(r"[\u4e00-\u9fff]", j["claim"]):
                err(f"judge {j['id']}: translation claim should be English")
        if len(js) < 80:
            err(f"only {len(js)} judge labels")
    else:
        err("judge_labels.jsonl missing")

    # ---- report ----
    print(f"papers in seeds: {len(entries)}; questions: {len(qs)}; judge labels: {len(js)}")
    print("category:", dict(cat))
    print("lang:", dict(collections.Counter(q.get("lang") for q in qs)))
    print("split:", dict(collections.Counter(q.get("split") for q in qs)))
    print(
        "min/max coverage per paper:",
        min(cover[p] for p in entries),
        max(cover[p] for p in entries),
    )
    if js:
        print(
            "judge supported:",
            dict(collections.Counter(j["supported"] for j in js)),
            "kind:",
            dict(collections.Counter(j["kind"] for j in js)),
            "claim lang:",
            dict(
                collections.Counter(
                    "zh" if re.search(r"[\u4e00-\u9fff]", j["claim"]) else "en" for j in js
                )
            ),
        )
    if errors:
        print(f"\n{len(errors)} ERRORS:")
        [print("  -", e) for e in errors]
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
