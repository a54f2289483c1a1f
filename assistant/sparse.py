"""BM25 over jieba tokens, as a llama-index retriever."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import shutil
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.retrievers.bm25 import BM25Retriever

from .text import tokenize

_TAG_FILE = "generation.json"

# bm25s sets its logger to DEBUG when imported, and logs through logging.info(), which gives
# the root logger a stderr handler when it has none: an application embedding us found its
# logging set up for it, and "DEBUG:bm25s:Building index from IDs" on every ingest (the API
# user test). The library's part is WARNING and up; the root is left as the app set it.
logging.getLogger("bm25s").setLevel(logging.WARNING)


@contextlib.contextmanager
def _root_untouched() -> Iterator[None]:
    """Around bm25s calls: logging.info() configures a root logger without handlers."""
    root = logging.getLogger()
    guard = logging.NullHandler() if not root.handlers else None
    if guard is not None:
        root.addHandler(guard)
    try:
        yield
    finally:
        if guard is not None:
            root.removeHandler(guard)


def idf(term: str, doc_freq: dict[str, int], n_docs: int) -> float:
    """Smoothed inverse document frequency; unknown terms count as rarest."""
    return math.log((n_docs + 1) / (doc_freq.get(term, 0) + 0.5))


def bm25_text(metadata: dict[str, Any], text: str) -> str:
    """What BM25 sees: arXiv id, both titles and the chunk text (titles carry English terms)."""
    m = metadata
    head = f"arXiv {m.get('paper_id', '')}\n{m.get('title', '')}\n{m.get('title_zh', '')}"
    return f"{head}\n{text}"


def chunk_key(metadata: dict[str, Any]) -> str:
    """What a chunk's tokens depend on, from its metadata alone: the paper's content hash (its
    titles and id), the chunk's place among the paper's chunks and the hash of its text; ""
    when unknown. Rows written before chunks carried a text hash keep a key without it, which
    assumes every writer chunked with the same chunk_tokens."""
    m = metadata
    if not m.get("doc_hash"):
        return ""
    key = f"{m['doc_hash']}/{m.get('chunk', 0)}/{m.get('n_chunks', 1)}"
    return f"{key}/{m['text_hash']}" if m.get("text_hash") else key


@dataclass
class TokenTable:
    """Every chunk's BM25 tokens as int32 ids into one vocabulary, in chunk-id order: all a
    BM25 build needs. Kept on disk beside the BM25 cache so that an ingest can update it with
    what it wrote instead of re-reading and re-tokenizing the whole store (jieba was 6.1 of a
    7.6 s rebuild at 10k papers; bm25s itself 0.6 s). bm25s has no update of its own."""

    ids: list[str]
    papers: list[str]
    docs: list[array[int]]
    vocab: dict[str, int]
    keys: list[str]  # chunk_key of each chunk ("" if unknown)

    @classmethod
    def empty(cls) -> TokenTable:
        return cls([], [], [], {}, [])

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, dict[str, Any]]]) -> TokenTable:
        """Tokenize (chunk id, text, metadata) rows, streamed: each chunk is kept only as an
        int32 array of token ids, never as text or token strings (a list of str per chunk was
        ~1 GB at 100k papers)."""
        table = cls.empty()
        table.extend(rows)
        return table.finished()

    def without(self, dropped: Callable[[str, str], bool]) -> TokenTable:
        """A copy without the chunks `dropped(chunk id, paper id)` is true for, open for
        extend() until finished() (an ingest adds each batch's chunks as it writes them)."""
        keep = [
            j
            for j, (i, p) in enumerate(zip(self.ids, self.papers, strict=True))
            if not dropped(i, p)
        ]
        return self._rows(keep, dict(self.vocab))

    def extend(self, rows: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        """Tokenize and append (chunk id, text, metadata) rows, in place."""
        vocab = self.vocab
        for id_, text, meta in rows:
            tokens = tokenize(bm25_text(meta, text), singulars=True)
            self.ids.append(id_)
            self.papers.append(str(meta.get("paper_id", "")))
            self.docs.append(array("i", [vocab.setdefault(t, len(vocab)) for t in tokens]))
            self.keys.append(chunk_key(meta))

    def finished(self) -> TokenTable:
        """In id order, not the order rows came in: bm25s breaks score ties by position, and
        an index updated in place must rank exactly like a clean build of the same digests.
        Compacted: see compacted()."""
        order = sorted(range(len(self.ids)), key=self.ids.__getitem__)
        return self._rows(order, self.vocab).compacted()

    def _rows(self, rows: list[int], vocab: dict[str, int]) -> TokenTable:
        """A table of the given rows of this one, in that order, over `vocab`."""
        return TokenTable(
            [self.ids[j] for j in rows],
            [self.papers[j] for j in rows],
            [self.docs[j] for j in rows],
            vocab,
            [self.keys[j] for j in rows],
        )

    def compacted(self) -> TokenTable:
        """Only tokens some chunk still has: a clean build knows no others, and a token in the
        vocabulary counts as known to the gate and to identifier pinning."""
        if not self.docs:
            return TokenTable.empty()
        flat = np.frombuffer(b"".join(d.tobytes() for d in self.docs), dtype=np.int32)
        used = np.bincount(flat, minlength=len(self.vocab)) > 0
        if used.all():
            return self
        new_id = np.cumsum(used) - 1
        remapped = new_id[flat].astype(np.int32)
        docs, start = [], 0
        for d in self.docs:
            docs.append(array("i", remapped[start : start + len(d)].tobytes()))
            start += len(d)
        vocab = {t: int(new_id[i]) for t, i in self.vocab.items() if used[i]}
        return TokenTable(self.ids, self.papers, docs, vocab, self.keys)

    def save(self, path: Path, generation: str) -> None:
        """One flat int32 array plus offsets and the vocabulary, tagged with the generation of
        the store it describes; written beside, then swapped in."""
        tmp = path.with_name(path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        lengths = np.fromiter((len(d) for d in self.docs), dtype=np.int64, count=len(self.docs))
        np.save(tmp / "offsets.npy", np.concatenate([[0], np.cumsum(lengths)]))
        with (tmp / "tokens.bin").open("wb") as f:
            for d in self.docs:
                f.write(d.tobytes())
        meta = {"generation": generation, "ids": self.ids, "papers": self.papers, "keys": self.keys}
        (tmp / "chunks.json").write_text(json.dumps(meta), encoding="utf-8")
        vocab = sorted(self.vocab, key=self.vocab.__getitem__)
        (tmp / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        shutil.rmtree(path, ignore_errors=True)
        tmp.rename(path)

    @classmethod
    def load(cls, path: Path, generation: str | None) -> TokenTable | None:
        """The saved table when it describes this generation of the store (any generation
        for None), else None."""
        try:
            meta = json.loads((path / "chunks.json").read_text(encoding="utf-8"))
            if generation is not None and meta.get("generation") != generation:
                return None
            vocab = json.loads((path / "vocab.json").read_text(encoding="utf-8"))
            offsets = np.load(path / "offsets.npy")
            raw = (path / "tokens.bin").read_bytes()
            ids, papers = list(meta["ids"]), list(meta["papers"])
            keys = [str(k) for k in meta.get("keys") or [""] * len(ids)]  # older tables: none
            if not len(ids) == len(papers) == len(keys) == len(offsets) - 1:
                return None
            if offsets[-1] * 4 != len(raw):
                return None
            flat = np.frombuffer(raw, dtype=np.int32)
            if len(flat) and (flat.min() < 0 or flat.max() >= len(vocab)):
                return None  # damaged: ids outside the vocabulary
        except (OSError, ValueError, KeyError, TypeError):
            return None
        docs = []
        for a, b in itertools.pairwise(int(o) for o in offsets):
            doc: array[int] = array("i")
            doc.frombytes(raw[a * 4 : b * 4])
            docs.append(doc)
        return cls(ids, papers, docs, {t: i for i, t in enumerate(vocab)}, keys)


class JiebaBM25Retriever(BM25Retriever):
    """llama-index's BM25Retriever tokenizes with a regex and an English stemmer, which turns
    each Chinese run into one token and splits identifiers like GPT-4o. We keep its bm25s index
    and persistence, and feed it jieba tokens (see text.tokenize) instead.

    Its corpus (what a hit returns) is only chunk id and paper id, not the node: the text is
    in Chroma already, and a second copy in memory was most of the serving process's growth
    with corpus size (+275 MB from the seeds to 10k papers). Hits carry no text; the caller
    fetches the few it shows."""

    @classmethod
    def from_table(cls, table: TokenTable, top_k: int) -> JiebaBM25Retriever:
        if not table.ids:
            raise ValueError("cannot build BM25 over an empty index")
        bm25 = bm25s.BM25()
        with _root_untouched():
            bm25.index((table.docs, table.vocab), show_progress=False)
        bm25.corpus = [
            {"node_id": i, "paper_id": p} for i, p in zip(table.ids, table.papers, strict=True)
        ]
        return cls._wrap(bm25, top_k)

    @classmethod
    def _wrap(cls, bm25: bm25s.BM25, top_k: int) -> JiebaBM25Retriever:
        # At most one hit per chunk: a larger k makes llama-index log a warning on every
        # small corpus (a user's first few papers).
        k = max(1, min(top_k, len(bm25.corpus or []) or top_k))
        return cls(existing_bm25=bm25, similarity_top_k=k, skip_stemming=True)

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

    def papers_containing(self, tokens: set[str]) -> set[str]:
        """Papers with a chunk that contains any of the tokens (from the index, no text)."""
        scores = self.bm25.scores
        out: set[str] = set()
        for tok in tokens:
            i = self.bm25.vocab_dict.get(tok)
            if i is None or i + 1 >= len(scores["indptr"]):
                continue
            docs = scores["indices"][scores["indptr"][i] : scores["indptr"][i + 1]]
            out.update(self.corpus[int(d)]["paper_id"] for d in docs)
        return out

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        vocab = self.bm25.vocab_dict
        tokens = [t for t in tokenize(query_bundle.query_str) if t in vocab]
        if not tokens or self.num_docs == 0:
            return []
        k = min(self.similarity_top_k, self.num_docs)
        with _root_untouched():
            docs, scores = self.bm25.retrieve([tokens], k=k, show_progress=False, n_threads=1)
        out: list[NodeWithScore] = []
        for doc, score in zip(docs[0], scores[0], strict=True):
            if score <= 0:  # no query term in the document: not a match at all
                continue
            entry = doc if isinstance(doc, dict) else self.corpus[int(doc)]
            node = TextNode(id_=entry["node_id"], text="", metadata={"paper_id": entry["paper_id"]})
            out.append(NodeWithScore(node=node, score=float(score)))
        return out

    def save(self, path: Path, generation: str) -> None:
        """Persist atomically-enough: write beside, then swap folders."""
        tmp = path.with_name(path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        with _root_untouched():
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
            # mmap: the score arrays are paged in as queries touch them, not all up front.
            with _root_untouched():
                bm25 = bm25s.BM25.load(str(path), load_corpus=True, mmap=True, show_progress=False)
            if bm25.corpus is None or (len(bm25.corpus) and "paper_id" not in bm25.corpus[0]):
                return None  # written by an older version: rebuild
        except (OSError, ValueError, KeyError):
            return None
        return cls._wrap(bm25, top_k)
