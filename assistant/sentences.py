"""Sentence vectors, stored compactly. Every sentence of a paper keeps its own vector (extractive
answers and the gate score single sentences, and single-sentence retrieval is worth 4.5 points
of hit@1 on the dev split), but one HNSW node per sentence cost 1.55 GB of RAM at 100k papers:
799k float32 vectors, and Chroma's local HNSW has no quantisation or memory-mapping and loads
the whole index even for a get().

So a few consecutive sentences share one row, a *window*. The window's HNSW vector is the
normalised mean of its sentences' vectors (no extra embedding), and its metadata carries each
sentence's own vector as float16. A sentence query finds windows by their mean, then scores
their sentences exactly (`rescore`). Our own code because Chroma has no compressed or
multi-vector row; llama-index's vector stores neither."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from llama_index.core.schema import TextNode

# Sentences per window: 3 cuts the sentence HNSW to about a third and kept dev and heldout
# quality identical (eval/bench/README.md, run 4); larger windows blur the mean that finds them.
WINDOW = 3
# Windows fetched per sentence wanted: a sentence well above its neighbours can sit in a window
# whose mean ranks lower. At 100k synthetic papers (eval/bench/window_recall.py) the best 10
# papers by best sentence were found 85% of the time fetching 2 windows per sentence and 89%
# with 4, as with one HNSW row per sentence (89%); 4 costs ~7 ms more per query there.
FETCH = 4


@dataclass
class SentenceVectors:
    """One paper's sentences in order, with their vectors (n, dim), L2-normalised."""

    texts: list[str]
    vectors: np.ndarray


@dataclass
class WindowRow:
    """One window as Chroma stores it."""

    id: str
    embedding: list[float]
    metadata: dict[str, str | int]
    document: str


def window_id(paper_id: str, i: int) -> str:
    return f"{paper_id}~{i}"


def paper_of(row_id: str) -> str:
    return row_id.rsplit("~", 1)[0]


def encode(vectors: np.ndarray) -> str:
    return base64.b64encode(vectors.astype("<f2").tobytes()).decode("ascii")


def decode(blobs: Iterable[str]) -> np.ndarray:
    """The vectors of one or more encoded blobs, end to end, as one flat float32 array."""
    raw = b"".join(base64.b64decode(blob) for blob in blobs)
    return np.frombuffer(raw, dtype="<f2").astype(np.float32)


def windows(paper_id: str, doc_hash: str, sentences: Sequence[TextNode]) -> list[WindowRow]:
    """One paper's embedded sentence nodes (in order) as window rows."""
    n_windows = -(-len(sentences) // WINDOW)
    rows: list[WindowRow] = []
    for w in range(n_windows):
        part = sentences[w * WINDOW : (w + 1) * WINDOW]
        vecs = np.asarray([n.get_embedding() for n in part], dtype=np.float32)
        mean = vecs.mean(axis=0)
        mean /= np.linalg.norm(mean) or 1.0
        rows.append(
            WindowRow(
                id=window_id(paper_id, w),
                embedding=mean.tolist(),
                metadata={
                    "paper_id": paper_id,
                    "doc_hash": doc_hash,
                    "window": w,
                    "n_windows": n_windows,
                    "n_sentences": len(part),
                    "vectors": encode(vecs),
                },
                document=json.dumps([n.get_content() for n in part], ensure_ascii=False),
            )
        )
    return rows


def unpack(document: str | None, metadata: dict[str, Any]) -> tuple[list[str], np.ndarray]:
    """A window row's sentence texts and their vectors."""
    texts = json.loads(document or "[]")
    return texts, decode([str(metadata["vectors"])]).reshape(int(metadata["n_sentences"]), -1)


def rescore(
    query_vec: np.ndarray, ids: list[str], metadatas: list[dict[str, Any]], k: int
) -> list[tuple[str, float]]:
    """The best k sentences of these windows as (paper_id, exact cosine), best first. One
    decode and one product for all windows: per-window numpy calls cost 8 ms for 360."""
    if not ids:
        return []
    vecs = decode(str(m["vectors"]) for m in metadatas).reshape(-1, len(query_vec))
    owner = np.repeat(np.arange(len(ids)), [int(m["n_sentences"]) for m in metadatas])
    scores = vecs @ query_vec
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(paper_of(ids[owner[i]]), float(scores[i])) for i in top]
