"""The refusal gate: does anything retrieved actually support an answer?

A cosine threshold alone cannot tell near-topic out-of-corpus questions from answerable ones
(see DESIGN.md), so the gate combines specific evidence in a logistic model calibrated on
labelled questions (eval/calibrate_gate.py writes gate_calibration.json):
  - dense: best chunk cosine, its margin over the runner-up, best sentence cosine;
  - lexical: how much of the question's distinctive (high-IDF) vocabulary occurs in the best
    paper, separately for Chinese words and ASCII terms, and how much occurs nowhere at all."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .records import Source
from .store import SentenceVectors
from .text import content_terms, is_cjk_term, token_set

CALIBRATION_FILE = Path(__file__).with_name("gate_calibration.json")


@dataclass
class GateFeatures:
    top_cos: float
    margin: float
    sent_cos: float
    cov_cjk: float
    cov_ascii: float
    oov: float
    has_cjk: float
    has_ascii: float

    def vector(self) -> np.ndarray:
        return np.asarray(list(asdict(self).values()), dtype=np.float64)


FEATURES = list(GateFeatures.__dataclass_fields__)


def paper_tokens(src: Source) -> frozenset[str]:
    return token_set(f"arXiv {src.paper_id}\n{src.title}\n{src.title_zh}\n{src.text}")


def compute_features(
    question: str,
    sources: list[Source],
    sentences: dict[str, SentenceVectors],
    query_vec: np.ndarray,
    doc_freq: dict[str, int],
    n_docs: int,
) -> GateFeatures:
    if not sources:
        return GateFeatures(0, 0, 0, 0, 0, 1, 0, 0)
    cosines = sorted((s.dense_score or 0.0 for s in sources), reverse=True)
    top_cos = cosines[0]
    margin = top_cos - (cosines[1] if len(cosines) > 1 else 0.0)
    sent_cos = 0.0
    for src in sources[:3]:
        sv = sentences.get(src.paper_id)
        if sv is not None and len(sv.vectors):
            sent_cos = max(sent_cos, float((sv.vectors @ query_vec).max()))

    terms = content_terms(question)
    best = paper_tokens(sources[0])
    n = max(n_docs, 1)

    def idf(t: str) -> float:
        return math.log((n + 1) / (doc_freq.get(t, 0) + 0.5))

    def coverage(group: list[str]) -> float:
        total = sum(idf(t) for t in group)
        return sum(idf(t) for t in group if t in best) / total if total else 1.0

    cjk = [t for t in terms if is_cjk_term(t)]
    asc = [t for t in terms if not is_cjk_term(t)]
    total = sum(idf(t) for t in terms)
    oov = sum(idf(t) for t in terms if t not in doc_freq) / total if total else 0.0
    return GateFeatures(
        top_cos=top_cos,
        margin=margin,
        sent_cos=sent_cos,
        cov_cjk=coverage(cjk),
        cov_ascii=coverage(asc),
        oov=oov,
        has_cjk=float(bool(cjk)),
        has_ascii=float(bool(asc)),
    )


class RefusalGate:
    """Logistic model over GateFeatures; P(answerable) below the threshold means refuse."""

    def __init__(self, weights: dict[str, float], bias: float, mean: list[float], scale: list[float]):
        self.w = np.asarray([weights[f] for f in FEATURES])
        self.b = bias
        self.mean = np.asarray(mean)
        self.scale = np.asarray(scale)

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> RefusalGate:
        data = json.loads(path.read_text())
        return cls(data["weights"], data["bias"], data["mean"], data["scale"])

    def probability(self, f: GateFeatures) -> float:
        z = float(((f.vector() - self.mean) / self.scale) @ self.w + self.b)
        return 1.0 / (1.0 + math.exp(-z))
