"""Support judges: is a claim supported by the passages it cites?

Two interchangeable judges implement `SupportJudge`:

- `OfflineJudge` (no LLM, the default in CI): a tiny logistic model over claim/passage
  similarity from the bundled embeddings, jieba content-word overlap and name overlap, plus
  two hard rules: every number in the claim must occur in the passage, and must not be tied
  to a different thing than in the passage (swapped numbers). Its parameters are fitted
  on eval/judge_labels.jsonl (`python -m assistant.evaluation.judge --calibrate`) and stored in
  judge_calibration.json beside this file; `agreement()` reports how often it agrees with those
  labels, overall and per kind, so every report can say how far its numbers can be trusted.
- `LLMJudge`: prompts/judge.md through the configured chat LLM, answering SUPPORTED/UNSUPPORTED.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..llm import ChatLLM, LLMError
from ..settings import REPO_ROOT, Settings
from ..text import content_terms, is_cjk_term, split_sentences, token_set
from ..verify import claim_names, mispaired_numbers, missing_numbers

CALIBRATION_FILE = Path(__file__).with_name("judge_calibration.json")
LABELS_FILE = REPO_ROOT / "eval" / "judge_labels.jsonl"

# Longest run of consecutive passage sentences scored as one unit. A claim usually restates one
# or two sentences; scoring a whole paper at once would let topic similarity hide a wrong claim.
MAX_WINDOW = 3


@dataclass(frozen=True)
class Passage:
    """What a citation points to: a paper's text, and its titles (the name the citation uses)."""

    text: str
    title: str = ""
    paper_id: str = ""
    # The index's own sentence split of the text, when known (lets the judge reuse its vectors).
    sentences: tuple[str, ...] = ()

    def sentence_list(self) -> list[str]:
        return list(self.sentences) or split_sentences(self.text) or [self.text]

    def render(self) -> str:
        return f"{self.title}\n{self.text}" if self.title else self.text


class SupportJudge(Protocol):
    """Decides whether the passages (jointly) support a claim."""

    name: str

    def supports(self, claim: str, passages: Sequence[Passage]) -> bool: ...


# --- lexical evidence ---------------------------------------------------------------------------


def _coverage(terms: list[str], tokens: frozenset[str]) -> float:
    # Nothing to check counts as fully covered; the 'en' feature lets the model discount it.
    return sum(t in tokens for t in terms) / len(terms) if terms else 1.0


def is_english(text: str) -> bool:
    cjk = sum(1 for ch in text if is_cjk_term(ch))
    return cjk < 2 or cjk < len(re.findall(r"[A-Za-z]+", text))


# --- the offline judge --------------------------------------------------------------------------

FEATURES = ("cos", "cjk_cov", "name_cov", "en")


class Embedder(Protocol):
    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


@dataclass
class Calibration:
    """A logistic model over FEATURES (standardised), fitted by `fit_calibration`."""

    weights: list[float]
    bias: float
    mean: list[float]
    scale: list[float]
    threshold: float = 0.5
    features: list[str] = field(default_factory=lambda: list(FEATURES))
    notes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> Calibration:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("features") != list(FEATURES):
            raise ValueError(
                f"{path} was fitted for features {data.get('features')}, not {list(FEATURES)}: "
                "run `python -m assistant.evaluation.judge --calibrate`"
            )
        return cls(**data)

    def save(self, path: Path = CALIBRATION_FILE) -> None:
        path.write_text(
            json.dumps(self.__dict__, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )

    def probability(self, x: np.ndarray) -> np.ndarray:
        z = ((x - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.weights)
        return 1.0 / (1.0 + np.exp(-(z + self.bias)))


class OfflineJudge:
    """Claim support without an LLM.

    A passage is cut into windows of 1..MAX_WINDOW consecutive sentences; each window gets
    features (embedding cosine to the claim, share of the claim's Chinese content words and of
    its names found in the window or the paper's titles, whether the claim is English) and the
    calibrated logistic model turns them into a probability. The claim is supported when the
    best window of any cited passage reaches the threshold and every number of the claim occurs
    in the cited passages, tied to the same thing (numbers are where a fluent wrong claim
    hides, and what embeddings are blind to)."""

    def __init__(self, embed: Embedder, calibration: Calibration | None = None) -> None:
        self.embed = embed
        self.calibration = calibration or Calibration.load()
        self.name = "offline"
        self._vectors: dict[str, np.ndarray] = {}

    # Claims and passage sentences are embedded alike (e5 'passage:'), so a claim quoted from a
    # digest hits the vectors the index already holds for that sentence.
    def remember(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Reuse vectors computed elsewhere (the index's sentence vectors) for these texts."""
        for text, vec in zip(texts, vectors, strict=True):
            self._vectors.setdefault(text, np.asarray(vec, dtype=np.float32))

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if todo:
            self.remember(todo, self.embed.embed_passages(todo))
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])

    def windows(self, passage: Passage) -> list[tuple[str, np.ndarray]]:
        """(text, vector) of each run of up to MAX_WINDOW sentences. A window's vector is the
        normalised sum of its sentences' vectors: close to embedding the run, and free."""
        sents = passage.sentence_list()
        vecs = self.vectors(sents)
        out: list[tuple[str, np.ndarray]] = []
        for size in range(1, min(MAX_WINDOW, len(sents)) + 1):
            for i in range(len(sents) - size + 1):
                v = vecs[i : i + size].sum(axis=0)
                out.append(("".join(sents[i : i + size]), v / max(float(np.linalg.norm(v)), 1e-12)))
        return out

    def window_features(self, claim: str, passage: Passage) -> np.ndarray:
        """One row of FEATURES per window of the passage."""
        cvec = self.vectors([claim])[0]
        terms = [t for t in content_terms(claim) if is_cjk_term(t)]
        names = claim_names(claim)
        en = float(is_english(claim))
        rows = []
        for text, wvec in self.windows(passage):
            tokens = token_set(f"{text}\n{passage.title}\narXiv {passage.paper_id}")
            rows.append(
                [float(cvec @ wvec), _coverage(terms, tokens), _coverage(names, tokens), en]
            )
        return np.asarray(rows, dtype=np.float64)

    def probability(self, claim: str, passages: Sequence[Passage]) -> float:
        """P(supported): the best window's probability, 0 when a number of the claim is missing
        from every cited passage."""
        if not passages or not claim.strip():
            return 0.0
        evidence = "\n".join(f"{p.render()}\narXiv {p.paper_id}" for p in passages)
        if missing_numbers(claim, evidence) or mispaired_numbers(claim, evidence):
            return 0.0
        best = 0.0
        for p in passages:
            feats = self.window_features(claim, p)
            if len(feats):
                best = max(best, float(self.calibration.probability(feats).max()))
        return best

    def supports(self, claim: str, passages: Sequence[Passage]) -> bool:
        return self.probability(claim, passages) >= self.calibration.threshold


# --- the LLM judge ------------------------------------------------------------------------------


# Failed calls in a row (server errors, not unreadable replies) after which the LLM judge makes
# no more: each call has already been retried by the client.
GIVE_UP_AFTER = 3


class JudgeError(RuntimeError):
    """The judge gave no usable verdict (LLM down, or a reply that is neither word)."""


def parse_verdict(reply: str) -> bool:
    """SUPPORTED -> True, UNSUPPORTED / NOT SUPPORTED -> False; anything else is an error (a
    judge that rambles must show up in the report, not count silently as one or the other)."""
    words = re.findall(r"[A-Za-z]+|不支持|支持", reply.upper())
    for i, w in enumerate(words):
        if w in ("UNSUPPORTED", "不支持") or (w == "NOT" and words[i + 1 : i + 2] == ["SUPPORTED"]):
            return False
        if w in ("SUPPORTED", "支持"):
            return True
    raise JudgeError(f"judge reply is neither SUPPORTED nor UNSUPPORTED: {reply[:80]!r}")


class LLMJudge:
    """prompts/judge.md through the configured chat LLM (any OpenAI-compatible server)."""

    def __init__(self, llm: ChatLLM, prompts_dir: Path) -> None:
        self.llm = llm
        self.template = (prompts_dir / "judge.md").read_text(encoding="utf-8")
        self.name = f"llm:{llm.settings.llm_model}"
        self._cache: dict[tuple[str, str], bool] = {}
        self._failed_in_a_row = 0
        # Set when the judge stops calling a server that keeps failing: one run against a
        # judge that was down made ~234 calls for 5 questions, each waiting out its retries.
        self.gave_up: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMJudge:
        return cls(ChatLLM(settings), settings.prompts_dir)

    def prompt(self, claim: str, passages: Sequence[Passage]) -> str:
        passage = "\n\n".join(p.render() for p in passages)
        # str.replace, not str.format: passages contain braces (LaTeX, JSON snippets).
        return self.template.replace("{passage}", passage).replace("{claim}", claim)

    def supports(self, claim: str, passages: Sequence[Passage]) -> bool:
        text = self.prompt(claim, passages)
        key = (claim, text)
        if key not in self._cache:
            if self.gave_up:
                raise JudgeError(self.gave_up)
            try:
                reply = self.llm.complete([{"role": "user", "content": text}])
            except LLMError as exc:
                self._failed_in_a_row += 1
                if self._failed_in_a_row >= GIVE_UP_AFTER:
                    self.gave_up = (
                        f"LLM judge stopped after {GIVE_UP_AFTER} failed calls in a row: {exc}"
                    )
                raise JudgeError(f"LLM judge failed: {exc}") from None
            self._failed_in_a_row = 0
            self._cache[key] = parse_verdict(reply)
        return self._cache[key]


# --- labels, agreement and calibration ----------------------------------------------------------


@dataclass
class Label:
    id: str
    claim: str
    passage: Passage
    supported: bool
    kind: str


def load_labels(titles: dict[str, str], path: Path = LABELS_FILE) -> list[Label]:
    """The labelled pairs, each passage with its paper's titles (as a citation would carry)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        pid = str(row["paper_id"])
        passage = Passage(text=row["passage"], title=titles.get(pid, ""), paper_id=pid)
        out.append(Label(row["id"], row["claim"], passage, bool(row["supported"]), row["kind"]))
    return out


def agreement(
    judge: SupportJudge,
    labels: Sequence[Label],
    on_progress: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """How often the judge agrees with the labels: accuracy overall and per kind, the
    confusion counts, and the ids it gets wrong."""
    by_kind: dict[str, list[int]] = {}
    wrong: list[str] = []
    errors: list[str] = []
    tp = fp = tn = fn = 0
    for lab in labels:
        try:
            pred: bool | None = judge.supports(lab.claim, [lab.passage])
        except JudgeError:
            pred = None
            errors.append(lab.id)
        ok = pred == lab.supported
        by_kind.setdefault(lab.kind, []).append(int(ok))
        if not ok:
            wrong.append(lab.id)
        tp += int(pred is True and lab.supported)
        fp += int(pred is True and not lab.supported)
        tn += int(pred is False and not lab.supported)
        fn += int(pred is False and lab.supported)
        if on_progress:
            on_progress()
    n = len(labels)
    return {
        "judge": judge.name,
        "n": n,
        "accuracy": (n - len(wrong)) / n if n else math.nan,
        "by_kind": {
            k: {"n": len(v), "accuracy": sum(v) / len(v)} for k, v in sorted(by_kind.items())
        },
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
        "disagreements": wrong,
        "errors": errors,
    }


def _fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 4000
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """L2-regularised logistic regression by gradient descent on standardised features (a few
    dozen rows and four features: no solver library needed)."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / scale
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        w -= 0.5 * (z.T @ (p - y) + l2 * w) / len(y)
        b -= 0.5 * float((p - y).mean())
    return w, b, mean, scale


def fit_calibration(judge: OfflineJudge, labels: Sequence[Label]) -> Calibration:
    """Fit the logistic model on the labelled pairs whose numbers check out (the others are
    decided by the number rules), one row per pair with the whole labelled passage as the
    window, and estimate by leave-one-out how well that generalises past its own labels."""
    rows, ys = [], []
    rule_correct = rule_rows = 0
    for lab in labels:
        evidence = f"{lab.passage.render()}\narXiv {lab.passage.paper_id}"
        if missing_numbers(lab.claim, evidence) or mispaired_numbers(lab.claim, evidence):
            rule_rows += 1
            rule_correct += int(not lab.supported)
            continue
        feats = judge.window_features(lab.claim, lab.passage)
        # Labelled passages are 1-2 sentences: the last window is the whole labelled passage.
        rows.append(feats[-1])
        ys.append(float(lab.supported))
    x, y = np.asarray(rows), np.asarray(ys)
    w, b, mean, scale = _fit_logistic(x, y)
    loo = 0
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        wi, bi, mi, si = _fit_logistic(x[keep], y[keep])
        p = 1.0 / (1.0 + np.exp(-(((x[i] - mi) / si) @ wi + bi)))
        loo += int((p >= 0.5) == bool(y[i]))
    return Calibration(
        weights=[float(v) for v in w],
        bias=float(b),
        mean=[float(v) for v in mean],
        scale=[float(v) for v in scale],
        threshold=0.5,
        notes={
            "fitted_on": "eval/judge_labels.jsonl",
            "rows_fitted": len(y),
            "rows_decided_by_number_rules": rule_rows,
            "number_rules_correct": rule_correct,
            "leave_one_out_accuracy": round((loo + rule_correct) / len(labels), 4),
        },
    )


def seed_titles(settings: Settings) -> dict[str, str]:
    from ..parse import parse_paths

    papers = parse_paths([settings.seeds_dir]).papers
    return {p.paper_id: f"{p.title}\n{p.title_zh}" for p in papers}


def main(argv: Iterable[str] | None = None) -> int:
    """`python -m assistant.evaluation.judge [--calibrate]`: refit and/or report agreement."""
    ap = argparse.ArgumentParser(prog="python -m assistant.evaluation.judge")
    ap.add_argument("--calibrate", action="store_true", help="refit judge_calibration.json")
    args = ap.parse_args(list(argv) if argv is not None else None)
    from ..embed import make_embedding

    settings = Settings()
    labels = load_labels(seed_titles(settings))
    judge = OfflineJudge(make_embedding(settings), _placeholder_calibration())
    if args.calibrate:
        judge.calibration = fit_calibration(judge, labels)
    else:
        judge.calibration = Calibration.load()
    report = agreement(judge, labels)
    if args.calibrate:
        judge.calibration.notes["agreement_on_labels"] = round(report["accuracy"], 4)
        judge.calibration.notes["agreement_by_kind"] = {
            k: {"n": v["n"], "accuracy": round(v["accuracy"], 4)}
            for k, v in report["by_kind"].items()
        }
        judge.calibration.notes["agreement_n"] = report["n"]
        judge.calibration.save()
        print(f"wrote {CALIBRATION_FILE}")
    json.dump(report, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


def _placeholder_calibration() -> Calibration:
    # Features are computed before any model exists when calibrating from scratch.
    n = len(FEATURES)
    return Calibration(weights=[0.0] * n, bias=0.0, mean=[0.0] * n, scale=[1.0] * n)


if __name__ == "__main__":
    sys.exit(main())
