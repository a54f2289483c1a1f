"""BM25 over jieba tokens, as a llama-index retriever."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import bm25s
import numpy as np
from llama_index.core.schema import BaseNode, NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
from llama_index.retrievers.bm25 import BM25Retriever

from .text import tokenize

_TAG_FILE = "generation.json"


def idf(term: str, doc_freq: dict[str, int], n_docs: int) -> float:
    """Smoothed inverse document frequency; unknown terms count as rarest."""
    return math.log((n_docs + 1) / (doc_freq.get(term, 0) + 0.5))


def bm25_text(node: BaseNode) -> str:
    """What BM25 sees: arXiv id, both titles and the chunk text (titles carry English terms)."""
    m = node.metadata
    head = f"arXiv {m.get('paper_id', '')}\n{m.get('title', '')}\n{m.get('title_zh', '')}"
    return f"{head}\n{node.get_content()}"


class JiebaBM25Retriever(BM25Retriever):
    """llama-index's BM25Retriever tokenizes with a regex and an English stemmer, which turns
    each Chinese run into one token and splits identifiers like GPT-4o. We keep its bm25s index,
    corpus format and persistence, and feed it jieba tokens (see text.tokenize) instead."""

    @classmethod
    def from_nodes(cls, nodes: list[TextNode], top_k: int) -> JiebaBM25Retriever:
        if not nodes:
            raise ValueError("cannot build BM25 over an empty index")
        corpus_tokens = [tokenize(bm25_text(n)) for n in nodes]
        bm25 = bm25s.BM25()
        bm25.index(corpus_tokens, show_progress=False)
        bm25.corpus = [node_to_metadata_dict(n) | {"node_id": n.node_id} for n in nodes]
        return cls(existing_bm25=bm25, similarity_top_k=top_k, skip_stemming=True)

    @property
    def num_docs(self) -> int:
        return int(self.bm25.scores.get("num_docs", 0))

    def doc_freq(self, token: str) -> int:
        """Number of chunks containing one token (0 if unknown)."""
        i = self.bm25.vocab_dict.get(token)
        if i is None:
            return 0
        indptr = self.bm25.scores["indptr"]
        return int(indptr[i + 1] - indptr[i]) if i + 1 < len(indptr) else 0

    def document_frequency(self) -> dict[str, int]:
        """Token -> number of chunks containing it (for IDF-weighted features). Computed once:
        a retriever instance belongs to one store generation and never changes."""
        cached: dict[str, int] | None = getattr(self, "_df", None)
        if cached is None:
            # bm25s stores a CSC matrix: indptr[t+1]-indptr[t] documents contain token t.
            df = np.diff(np.asarray(self.bm25.scores["indptr"]))
            vocab: dict[str, int] = self.bm25.vocab_dict
            cached = {tok: int(df[i]) for tok, i in vocab.items() if i < len(df)}
            self._df = cached
        return cached

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        vocab = self.bm25.vocab_dict
        tokens = [t for t in tokenize(query_bundle.query_str) if t in vocab]
        if not tokens or self.num_docs == 0:
            return []
        k = min(self.similarity_top_k, self.num_docs)
        docs, scores = self.bm25.retrieve([tokens], k=k, show_progress=False, n_threads=1)
        out: list[NodeWithScore] = []
        for doc, score in zip(docs[0], scores[0], strict=True):
            if score <= 0:  # no query term in the document: not a match at all
                continue
            node_dict = doc if isinstance(doc, dict) else self.corpus[int(doc)]
            out.append(NodeWithScore(node=metadata_dict_to_node(node_dict), score=float(score)))
        return out

    def save(self, path: Path, generation: str) -> None:
        """Persist atomically-enough: write beside, then swap folders."""
        tmp = path.with_name(path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.bm25.save(str(tmp), corpus=self.corpus, show_progress=False)
        (tmp / _TAG_FILE).write_text(json.dumps({"generation": generation}))
        shutil.rmtree(path, ignore_errors=True)
        tmp.rename(path)

    @classmethod
    def load(cls, path: Path, generation: str, top_k: int) -> JiebaBM25Retriever | None:
        """The cached index when it was built for this generation of the store, else None."""
        try:
            tag = json.loads((path / _TAG_FILE).read_text())
            if tag.get("generation") != generation:
                return None
            bm25 = bm25s.BM25.load(str(path), load_corpus=True, show_progress=False)
        except (OSError, ValueError, KeyError):
            return None
        return cls(existing_bm25=bm25, similarity_top_k=top_k, skip_stemming=True)
