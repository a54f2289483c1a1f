"""Fit the refusal gate on the dev split of eval/questions.jsonl, and compare the fit with the
shipped assistant/gate_calibration.json on the same questions; with --write, replace it. The
heldout split is never read here.

    .venv/bin/python eval/calibrate_gate.py [--index-dir DIR] [--write]

The shipped file is only replaced on request: a refit is worth shipping when the dev questions
and the rules have changed and the whole eval bundle says it does better (eval/README.md).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from assistant import Assistant
from assistant.condense import as_turns, heuristic_query
from assistant.gate import CALIBRATION_FILE, FEATURES, GateFeatures, RefusalGate

HERE = Path(__file__).resolve().parent


def load(split: str) -> list[dict]:
    rows = [json.loads(x) for x in (HERE / "questions.jsonl").read_text().splitlines() if x]
    return [r for r in rows if r["split"] == split]


def resolved(a: Assistant, row: dict) -> str:
    """The question as retrieval sees it (a follow-up is resolved against its history)."""
    q = row["question"]
    if row.get("history"):
        turns = as_turns(row["history"])
        titles = {p["paper_id"]: f"{p['title']} {p['title_zh']}" for p in a.papers()}
        q = heuristic_query(q, turns, titles)
    return str(q)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, steps: int = 4000) -> np.ndarray:
    """Plain L2-regularised logistic regression by gradient descent (no sklearn needed)."""
    w = np.zeros(x.shape[1] + 1)
    xb = np.hstack([x, np.ones((len(x), 1))])
    # Weight classes equally: a false answer and a false refusal both count.
    cw = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xb @ w)))
        grad = xb.T @ ((p - y) * cw) / len(y) + l2 * np.r_[w[:-1], 0]
        w -= 0.5 * grad
    return w


def balanced_accuracy(p: np.ndarray, y: np.ndarray) -> float:
    pos, neg = y == 1, y == 0
    return float(((p[pos] >= 0.5).mean() + (p[neg] < 0.5).mean()) / 2)


def cross_validate(x: np.ndarray, y: np.ndarray, l2: float, folds: int = 5) -> float:
    """Balanced accuracy of held-out folds (deterministic interleaved folds)."""
    p = np.zeros(len(y))
    for f in range(folds):
        test = np.arange(len(y)) % folds == f
        w = fit_logistic(x[~test], y[~test], l2)
        p[test] = 1 / (1 + np.exp(-(x[test] @ w[:-1] + w[-1])))
    return balanced_accuracy(p, y)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index-dir", default=".assistant")
    ap.add_argument("--l2", type=float, default=None, help="default: chosen by 5-fold CV")
    ap.add_argument(
        "--write", action="store_true", help=f"replace {CALIBRATION_FILE.name} with the fit"
    )
    args = ap.parse_args()
    shipped = RefusalGate.load()
    with Assistant(index_dir=args.index_dir, llm_enabled=False) as a:
        rows, feats, shipped_p = [], [], []
        for r in load("dev"):
            f, missing = a.gate_evidence(resolved(a, r))
            # A question an exact-name or measure rule refuses never reaches the threshold:
            # fitting on it would teach the gate a boundary it does not need to draw. Questions
            # no word of which occurs in the digests ("unknown": banana bread, 天气) stay in:
            # they are the gate's only examples of wholly off-topic questions, and without
            # them it learned a stricter boundary (dev answerable refused 7 -> 12 of 104).
            if rules := sorted(set(missing) - {"unknown"}):
                print(
                    f"rule  {r['id']} {','.join(rules)} answerable={r['answerable']} "
                    f"{r['question'][:60]}"
                )
                continue
            rows.append(r)
            feats.append(np.asarray(list(asdict(f).values()), dtype=np.float64))
            shipped_p.append(shipped.probability(GateFeatures(**asdict(f))))
        threshold = a.settings.refusal_threshold
        x = np.stack(feats)
    y = np.asarray([1.0 if r["answerable"] else 0.0 for r in rows])
    mean, scale = x.mean(0), x.std(0) + 1e-9
    xs = (x - mean) / scale
    l2 = args.l2
    if l2 is None:
        scores = {c: cross_validate(xs, y, c) for c in (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)}
        for c, acc in scores.items():
            print(f"l2={c:<6} 5-fold balanced accuracy {acc:.3f}")
        l2 = max(scores, key=lambda c: scores[c])
    w = fit_logistic(xs, y, l2)
    p = 1 / (1 + np.exp(-(((x - mean) / scale) @ w[:-1] + w[-1])))
    for i in np.argsort(p):
        flag = "ok " if (p[i] >= 0.5) == bool(y[i]) else "BAD"
        print(f"{flag} p={p[i]:.3f} y={int(y[i])} {rows[i]['id']} {rows[i]['question'][:60]}")
    acc = float(((p >= 0.5) == (y == 1)).mean())
    print(f"dev accuracy {acc:.3f} on {len(y)} questions")
    for name, probs in (("shipped", np.asarray(shipped_p)), ("this fit", p)):
        said_yes = probs >= threshold
        refused = int((~said_yes & (y == 1)).sum())
        passed = int((said_yes & (y == 0)).sum())
        print(
            f"{name:<9} at threshold {threshold}: answerable refused {refused}/{int(y.sum())}, "
            f"unanswerable passed {passed}/{int((y == 0).sum())}"
        )
    data = {
        "note": "fitted by eval/calibrate_gate.py on the dev split; do not edit by hand",
        "weights": dict(zip(FEATURES, map(float, w[:-1]), strict=True)),
        "bias": float(w[-1]),
        "mean": dict(zip(FEATURES, map(float, mean), strict=True)),
        "scale": dict(zip(FEATURES, map(float, scale), strict=True)),
        "dev_accuracy": acc,
        "n_dev": len(y),
        "l2": l2,
    }
    if not args.write:
        print(f"not written: {CALIBRATION_FILE} is unchanged (--write replaces it)")
        return
    CALIBRATION_FILE.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {CALIBRATION_FILE}")


if __name__ == "__main__":
    main()
