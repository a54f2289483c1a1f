"""Hybrid retrieval: dense (Chroma) + BM25 (jieba), weighted reciprocal-rank fusion, collapsed
to one source per paper."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from .chunk import source_from_metadata
from .records import Source
from .settings import Settings
from .store import PaperIndex

_ARXIV_ID = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")


@dataclass
class Retrieval:
    """Everything later stages need about one retrieval."""

    query: str
    query_vec: np.ndarray
    sources: list[Source]  # all candidate papers, best first


def weighted_rrf(
    ranked_lists: list[list[NodeWithScore]], weights: list[float], k: float
) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion with per-retriever weights. llama-index's QueryFusionRetriever
    applies its retriever_weights only to score-based fusion, not to RRF, and keys nodes by
    content hash; we need weights (tuned on our eval set) and node ids."""
    fused: dict[str, float] = {}
    for nodes, w in zip(ranked_lists, weights, strict=True):
        for rank, nws in enumerate(nodes):
            fused[nws.node.node_id] = fused.get(nws.node.node_id, 0.0) + w / (k + rank + 1)
    return sorted(fused.items(), key=lambda kv: kv[1], reverse=True)


class HybridRetriever(BaseRetriever):
    """A llama-index retriever (usable in its query engines) that also reports per-paper
    sources with their dense and BM25 evidence."""

    def __init__(self, index: PaperIndex, settings: Settings) -> None:
        super().__init__()
        self.index = index
        self.settings = settings

    def run(self, query: str) -> Retrieval:
        s = self.settings
        qvec = self.index.embed.embed_queries([query])[0]
        dense = self.index.dense(qvec, s.candidate_k)
        bm25 = self.index.bm25()
        sparse = bm25.retrieve(query) if bm25 is not None else []
        fused = weighted_rrf([dense, sparse], [s.dense_weight, s.bm25_weight], s.rrf_k)

        nodes = {n.node.node_id: n.node for n in dense + sparse}
        cos = {n.node.node_id: float(n.score or 0.0) for n in dense}
        bm = {n.node.node_id: float(n.score or 0.0) for n in sparse}
        by_paper: dict[str, Source] = {}
        for node_id, score in fused:
            node = nodes[node_id]
            pid = str(node.metadata.get("paper_id"))
            src = by_paper.get(pid)
            if src is None:  # best chunk of the paper comes first in fused order
                src = source_from_metadata(node.metadata, node.get_content(), score)
                by_paper[pid] = src
            if node_id in cos:
                src.dense_score = max(src.dense_score or -1.0, cos[node_id])
            if node_id in bm:
                src.bm25_score = max(src.bm25_score or 0.0, bm[node_id])
        sources = list(by_paper.values())
        named = set(_ARXIV_ID.findall(query))
        if named:  # an arXiv id in the question names its paper outright
            sources.sort(key=lambda src: src.paper_id not in named)
        return Retrieval(query=query, query_vec=qvec, sources=sources)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        from llama_index.core.schema import TextNode

        out = []
        for src in self.run(query_bundle.query_str).sources:
            node = TextNode(id_=src.paper_id, text=src.text, metadata={"paper_id": src.paper_id})
            out.append(NodeWithScore(node=node, score=src.score))
        return out


def select_for_answer(sources: list[Source], settings: Settings) -> list[Source]:
    """The sources worth citing: close to the best on either signal, at most top_k. A fixed
    top-k would pad single-fact answers and cut 'which papers' answers short."""
    if not sources:
        return []
    top_cos = max((s.dense_score or -1.0) for s in sources)
    top_bm = max((s.bm25_score or 0.0) for s in sources)
    keep = []
    for i, s in enumerate(sources):
        near_dense = (s.dense_score or -1.0) >= top_cos - settings.dense_margin
        near_bm25 = top_bm > 0 and (s.bm25_score or 0.0) >= settings.bm25_ratio * top_bm
        if i == 0 or (near_dense and near_bm25) or (near_dense and not top_bm):
            keep.append(s)
    return keep[: settings.top_k]
