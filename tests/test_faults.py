"""Faults during ingest (issue #6): a disk that fills up mid-write, an ingest killed at random
points, and a literal 50 MB digest file. Real parts only: a real Chroma folder (on a tiny tmpfs
when this process may mount one), real `assistant` subprocesses killed with SIGKILL, real files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import tracemalloc
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, write_digest

from assistant import Assistant, AssistantError
from assistant.parse import ParseResult, display_name, parse_paths, parse_text
from assistant.records import Severity
from assistant.retrieve import best_per_paper
from assistant.sentences import WINDOW

ASSISTANT_BIN = REPO / ".venv" / "bin" / "assistant"
Entry = tuple[str, str, str]


@contextlib.contextmanager
def opened(index_dir: Path, seeds_dir: Path, **settings: Any) -> Iterator[Assistant]:
    """An Assistant on the folder as it is now on disk. PaperIndex.close() releases the folder
    lock but not chromadb's per-process client, whose vectors go stale once another process
    has written the folder; close that client too."""
    settings = {"llm_enabled": False, "auto_ingest": False, **settings}
    a = Assistant(index_dir=index_dir, seeds_dir=seeds_dir, **settings)
    try:
        yield a
    finally:
        with contextlib.suppress(Exception):
            a.index.client.close()
        a.close()


def snapshot(a: Assistant, *, lines: bool = True) -> dict[str, list[tuple[str, str, Any]]]:
    """Every row of both collections (id, text, metadata), sorted: what a clean build holds.
    lines=False leaves out each paper's line number: an unchanged paper keeps the line it was
    indexed at when entries above it are removed (ingest compares content hashes only)."""
    out = {}
    for name, col in (("chunks", a.index.chunks), ("windows", a.index.windows)):
        got = col.get(include=["documents", "metadatas"])
        rows = []
        for id_, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            meta = dict(meta)
            if not lines:
                meta.pop("line", None)
                node = json.loads(meta.pop("_node_content", "{}"))
                node.get("metadata", {}).pop("line", None)
                meta["_node_content"] = json.dumps(node, sort_keys=True)
            rows.append((id_, doc, sorted(meta.items())))
        out[name] = sorted(rows)
    return out


def answers(a: Assistant, queries: list[str]) -> list[Any]:
    """What search and ask show for each query: paper ids and texts. BM25 breaks exact ties by
    Chroma's row order, which an index updated in place does not share with a clean build, so
    the corpora here give every paper a different length and the clean side asserts no ties."""
    out: list[Any] = []
    for q in queries:
        out.append([(s.paper_id, s.text) for s in a.search(q, k=6)])
        ans = a.ask(q)
        out.append((ans.text, [c.paper_id for c in ans.citations], ans.refused))
    return out


def unreachable(a: Assistant, queries: list[str]) -> dict[str, int]:
    """For a failure message: per collection, the most live rows Chroma's HNSW missed in a
    query for every row (chroma-core/chroma#7758; PaperIndex then ranks every row exactly)."""
    out = {}
    for name, col in (("chunks", a.index.chunks), ("windows", a.index.windows)):
        live = set(col.get(include=[])["ids"])
        missed = 0
        for q in queries:
            vec = a.index.embed.embed_queries([q])[0].tolist()
            got = col.query(query_embeddings=[vec], n_results=len(live), include=[])
            missed = max(missed, len(live - set(got["ids"][0])))
        out[name] = missed
    return out


def assert_no_bm25_ties(a: Assistant, queries: list[str]) -> None:
    bm25 = a.index.bm25()
    assert bm25 is not None
    for q in queries:
        scores = [
            round(float(n.score or 0.0), 9) for n in best_per_paper(bm25.retrieve(q)).values()
        ]
        assert len(set(scores)) == len(scores), f"tied BM25 scores for {q!r}: {sorted(scores)}"


def hashes(folder: Path) -> dict[str, str]:
    """paper id -> content hash, as the digests under the folder define them."""
    return {p.paper_id: p.content_hash for p in parse_paths([folder]).papers}


def assert_rows_well_formed(a: Assistant, ctx: str) -> None:
    """Every row's id is the one its metadata implies: no duplicates, no strays."""
    got = a.index.chunks.get(include=["metadatas"])
    for id_, m in zip(got["ids"], got["metadatas"], strict=True):
        assert id_ == f"{m['paper_id']}#{m['chunk']}", ctx
    got = a.index.windows.get(include=["metadatas"])
    for id_, m in zip(got["ids"], got["metadatas"], strict=True):
        assert id_ == f"{m['paper_id']}~{m['window']}", ctx


# --- synthetic papers -------------------------------------------------------------------------

ANIMALS = (
    "Quokka Marmot Pangolin Narwhal Axolotl Capybara Okapi Tapir Wombat Dugong Kinkajou "
    "Fossa Numbat Saiga Gharial Markhor Serval Binturong Caracal Tarsier Jerboa Coati"
).split()


def paper(i: int, version: int, sentences: int) -> Entry:
    """A synthetic paper with its own vocabulary; `version` changes its text. Every sentence
    takes 13 BM25 tokens, so papers with different sentence counts never tie in BM25."""
    name = ANIMALS[i]
    body = "".join(
        f"{name} 方法第 {version} 版在任务 T{k} 上的得分为 {(i * 37 + k * 11 + version) % 97}。"
        for k in range(sentences)
    )
    return (f"2501.{i + 1:05d}", f"{name} Networks for Task {i}", f"本文提出 {name} 方法。{body}")


# --- 1. disk full mid-ingest ------------------------------------------------------------------

OLD = [paper(i, 0, i + 1) for i in range(4)]
# Paper 0 grows to 61 sentences (far more than the shrunken disk takes) and is written first,
# so the write that fails is the update of a paper that is already indexed.
NEW = [paper(0, 1, 60), *OLD[1:], *(paper(i, 1, i + 1) for i in range(4, 10))]
# Room left beyond what the index holds after OLD (tmpfs: free space; file size limit: growth
# of the largest file). The update of paper 0 fails with less than ~1 MB, found by trying:
# below ~350 KB before Chroma logs anything, from ~380 KB to ~800 KB after Chroma has logged
# it but while it applies the log, which leaves the entry pending: every new process then
# has to apply it before it can read, and so fails too until there is room.
ROOM_BEFORE_LOG = 128 * 1024
ROOM_IN_LOG = 560 * 1024

_LIMITED_CLI = textwrap.dedent(
    """
    import resource, signal, sys
    limit = int(sys.argv[1])
    if limit:  # a file size limit: writes past it fail with EFBIG instead of killing us
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    from assistant.cli import main
    sys.exit(main(sys.argv[2:]))
    """
)


@dataclass
class SmallDisk:
    """The index folder on a disk that can be filled: a tmpfs mounted over it when this process
    may mount one, else (or when asked for) a file size limit for the writing process."""

    folder: Path
    kind: str
    fsize_limit: int = 0
    notes: list[str] = field(default_factory=list)

    def _mount(self, *options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(self.folder)],
            capture_output=True,
            text=True,
            check=False,
        )

    def shrink(self, room: int) -> None:
        """Leave only `room` bytes beyond what the folder holds now."""
        if self.kind == "tmpfs":
            fs = os.statvfs(self.folder)
            used_kb = (fs.f_blocks - fs.f_bfree) * fs.f_frsize // 1024
            size_kb = used_kb + room // 1024
            done = self._mount("remount", f"size={size_kb}k")
            assert done.returncode == 0, done.stderr
            self.notes.append(f"tmpfs: {used_kb} KB used, remounted at {size_kb} KB")
        else:
            files = [f for f in self.folder.rglob("*") if f.is_file()]
            self.fsize_limit = max(f.stat().st_size for f in files) + room
            self.notes.append(f"file size limit {self.fsize_limit} bytes")

    def grow(self) -> None:
        if self.kind == "tmpfs":
            done = self._mount("remount", "size=64m")
            assert done.returncode == 0, done.stderr
        self.fsize_limit = 0


@contextlib.contextmanager
def small_disk(folder: Path, want: str) -> Iterator[SmallDisk]:
    folder.mkdir()
    disk = SmallDisk(folder, "rlimit")
    if want == "disk-full":
        try:
            mounted = disk._mount("size=64m")
            if mounted.returncode == 0:
                disk.kind = "tmpfs"
            else:
                disk.notes.append(f"no tmpfs ({mounted.stderr.strip()}): file size limit instead")
        except FileNotFoundError:
            disk.notes.append("no mount command: file size limit instead")
        if disk.kind != "tmpfs":  # not silent: the run says which fault it really made
            warnings.warn(disk.notes[-1], stacklevel=3)
    try:
        yield disk
    finally:
        if disk.kind == "tmpfs":
            # Lazy: a Chroma client this process forgot to close must not wedge the mount.
            subprocess.run(["umount", "-l", str(folder)], check=False)


def assert_old_papers_intact(a: Assistant, ctx: str) -> None:
    """Every paper of OLD is listed and found by search with its old text."""
    assert sorted(p["paper_id"] for p in a.papers()) == [e[0] for e in OLD], ctx
    for pid, title, body in OLD:
        hits = a.search(f"{title} {body[:20]}", k=3)
        assert hits and hits[0].paper_id == pid, (ctx, pid, [h.paper_id for h in hits])
        assert hits[0].text == body, (ctx, pid, hits[0].text)


def run_limited_cli(disk: SmallDisk, args: list[str]) -> subprocess.CompletedProcess[str]:
    """`assistant ARGS` in a new process, under the disk's file size limit if it has one. Run
    from this process's working directory: it decides how source files are named."""
    return subprocess.run(
        [sys.executable, "-c", _LIMITED_CLI, str(disk.fsize_limit), *args],
        cwd=Path.cwd(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_one_line_error(run: subprocess.CompletedProcess[str], disk: SmallDisk, ctx: str) -> None:
    """Exit 1 (no crash) and one stderr line naming the folder and the fault."""
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 1 and len(lines) == 1, (ctx, run.returncode, run.stderr[-3000:])
    line = lines[0]
    assert line.startswith("error:") and str(disk.folder.resolve()) in line, (ctx, line)
    if disk.kind == "tmpfs":
        assert "disk full" in line and "No space left on device" in line, (ctx, line)
    else:
        assert "File too large" in line, (ctx, line)
    assert "nothing indexed before was lost" in line and "ingest again" in line, (ctx, line)


@pytest.mark.parametrize("fault", ["disk-full", "file-size-limit"])
def test_full_disk_mid_ingest_loses_nothing_and_is_repaired(fault: str, tmp_path: Path) -> None:
    corpus, clean_dir = tmp_path / "digests", tmp_path / "clean"
    corpus.mkdir()
    index_dir = tmp_path / "index"
    queries = [f"{ANIMALS[i]} 方法的得分" for i in (0, 1, 5)] + ["任务 T30 上的方法"]
    ingest_cli = ["--index-dir", str(index_dir), "ingest", str(corpus)]

    with small_disk(index_dir, fault) as disk:
        write_digest(corpus / "papers.md", OLD)
        with opened(index_dir, corpus) as a:
            assert len(a.ingest([corpus], progress=False).added) == len(OLD)
        write_digest(corpus / "papers.md", NEW)  # an edit that does not fit

        if disk.kind == "tmpfs":
            # The write fails before Chroma logs it. The Python API in this very process: an
            # AssistantError naming the folder, after which the same Assistant still lists and
            # finds every paper it had, unchanged.
            disk.shrink(ROOM_BEFORE_LOG)
            ctx = "; ".join(disk.notes)
            with opened(index_dir, corpus) as a:
                with pytest.raises(AssistantError) as err:
                    a.ingest([corpus], progress=False)
                msg = str(err.value)
                assert "\n" not in msg and "disk full" in msg, ctx
                assert str(index_dir.resolve()) in msg, ctx
                assert_old_papers_intact(a, ctx)

        # The write fails while Chroma applies its log: the CLI says so in one line, and so
        # does the next ingest, which now fails already at reading the index's state.
        disk.shrink(ROOM_IN_LOG)
        ctx = "; ".join(disk.notes)
        assert_one_line_error(run_limited_cli(disk, ingest_cli), disk, ctx + "; first ingest")
        assert_one_line_error(run_limited_cli(disk, ingest_cli), disk, ctx + "; second ingest")

        disk.grow()
        with opened(index_dir, corpus) as a:
            # A fresh reader once there is room: still all there (whatever the failed write
            # left in Chroma's log has been applied by now).
            assert_old_papers_intact(a, ctx)
            report = a.ingest([corpus], progress=False)
            # Papers the failed runs half wrote count as updated, the others as added.
            assert report.unchanged == [e[0] for e in OLD[1:]], (ctx, report)
            assert set(report.added) | set(report.updated) == {NEW[0][0]} | {
                e[0] for e in NEW[len(OLD) :]
            }, (ctx, report)
            state = a.index.state()
            assert {p: s.doc_hash for p, s in state.items() if s.complete} == hashes(corpus), ctx
            repaired, repaired_answers = snapshot(a), answers(a, queries)
            missed = unreachable(a, queries)
            assert_rows_well_formed(a, ctx)
            assert a.ingest([corpus], progress=False).changed is False, ctx

    with opened(clean_dir, corpus) as clean:
        assert len(clean.ingest([corpus], progress=False).added) == len(NEW)
        assert repaired == snapshot(clean), ctx
        assert_no_bm25_ties(clean, queries)
        assert repaired_answers == answers(clean, queries), (ctx, "unreachable rows", missed)


# --- 2. ingest killed at random points --------------------------------------------------------


class StoreWatch:
    """Reads Chroma's SQLite file read-only while an ingest writes it (opening the folder with
    Chroma would take its lock, which is exactly what a second writer must not do)."""

    def __init__(self, index_dir: Path, collection: str = "digests") -> None:
        self.db = index_dir / "chroma.sqlite3"
        self.collection = collection

    def _rows(self, sql: str) -> list[tuple[Any, ...]] | None:
        if not self.db.exists():
            return None
        try:
            uri = f"file:{self.db}?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=0.05)) as con:
                return con.execute(sql, (self.collection,)).fetchall()
        except sqlite3.Error:  # mid-write or not created yet: ask again
            return None

    def last_seq(self) -> int | None:
        """Position of Chroma's write log: one entry per row written or deleted."""
        got = self._rows("select max(seq_id) from embeddings_queue where ? is not null")
        return int(got[0][0]) if got and got[0][0] is not None else None

    def generation(self) -> str | None:
        got = self._rows(
            "select m.str_value from collection_metadata m join collections c "
            "on c.id = m.collection_id where c.name = ? and m.key = 'generation'"
        )
        return str(got[0][0]) if got else None

    def paper_ids(self) -> set[str] | None:
        """Papers with at least one chunk row in the chunks collection."""
        got = self._rows(
            "select distinct m.string_value from embedding_metadata m "
            "join embeddings e on e.id = m.id join segments s on s.id = e.segment_id "
            "join collections c on c.id = s.collection "
            "where c.name = ? and m.key = 'paper_id'"
        )
        return {str(r[0]) for r in got} if got is not None else None


@dataclass
class KillPoint:
    kind: str  # "rows": after that many new log entries; "begin_write": at the generation bump
    rows: int = 0

    def __str__(self) -> str:
        return f"after {self.rows} log entries" if self.kind == "rows" else "at begin_write"


def kill_ingest(
    index_dir: Path, corpus: Path, point: KillPoint, must_stay: set[str], log: list[str]
) -> None:
    """Run `assistant ingest` and SIGKILL it at the point; meanwhile check (polling the SQLite
    file) that no paper of must_stay ever loses all its chunk rows. Logs what happened."""
    watch = StoreWatch(index_dir)
    start_seq, start_gen = watch.last_seq() or 0, watch.generation()
    env = {**os.environ, "ASSISTANT_EMBED_BATCH_SIZE": "1"}  # one paper per write
    cmd = [str(ASSISTANT_BIN), "--index-dir", str(index_dir), "ingest", str(corpus)]
    err_file = corpus.parent / "ingest.err"
    vanished: set[str] = set()
    t0 = time.monotonic()
    with err_file.open("w") as err:
        proc = subprocess.Popen(cmd, cwd=Path.cwd(), env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            while proc.poll() is None:
                assert time.monotonic() - t0 < 120, f"{log}: the ingest never reached {point}"
                present = watch.paper_ids() if must_stay else None
                if present is not None:
                    vanished |= must_stay - present
                if point.kind == "rows":
                    hit = (watch.last_seq() or 0) - start_seq >= point.rows
                else:
                    gen = watch.generation()
                    hit = gen is not None and gen != start_gen
                if hit:
                    proc.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.005)
        finally:
            proc.kill()
            proc.wait()
    log.append(f"killed {point} at +{time.monotonic() - t0:.2f}s")
    ctx = "; ".join(log)
    stderr = err_file.read_text()
    assert proc.returncode == -signal.SIGKILL, f"{ctx}: exit {proc.returncode}: {stderr[-2000:]}"
    assert not vanished, f"{ctx}: papers lost all their rows mid-ingest: {sorted(vanished)}"


def test_ingest_killed_at_random_points_is_repaired(tmp_path: Path) -> None:
    seed = int(os.environ.get("FAULTS_SEED") or random.randrange(2**31))
    rng = random.Random(seed)
    corpus = tmp_path / "digests"
    corpus.mkdir()
    index_dir, clean_dir = tmp_path / "index", tmp_path / "clean"
    log: list[str] = [f"seed={seed} (FAULTS_SEED reruns it)"]

    # Each round edits, removes and adds a few papers. Live papers keep distinct sentence
    # counts (distinct lengths: no BM25 ties, see answers()).
    counts = list(range(1, 13))
    live = {i: (0, n) for i, n in enumerate(rng.sample(counts, 8))}  # paper -> (version, n)
    next_new = 8

    def unused_count() -> int:
        return rng.choice([n for n in counts if n not in {m for _, m in live.values()}])

    before: dict[str, str] = {}  # hashes of the corpus the previous run was given
    versions: dict[str, set[str]] = {}  # every hash each paper has had in any corpus
    complete_before: set[str] = set()

    rounds = [KillPoint("rows"), KillPoint("begin_write"), KillPoint("rows"), KillPoint("rows")]
    for r, point in enumerate(rounds):
        if r > 0:
            edited = rng.sample(sorted(live), 3)
            for i in edited:
                live[i] = (live[i][0] + 1, unused_count())  # more or fewer sentences
            removed = rng.choice([i for i in live if i not in edited])
            del live[removed]
            for _ in range(2):
                live[next_new] = (0, unused_count())
                next_new += 1
            log.append(f"round {r}: edited {edited}, removed {removed}, added 2")
        write_digest(corpus / "papers.md", [paper(i, v, n) for i, (v, n) in sorted(live.items())])
        current = hashes(corpus)
        for pid, h in current.items():
            versions.setdefault(pid, set()).add(h)
        # Rows the changed papers take: one chunk, and windows of the opening sentence and n more.
        ids = {i: f"2501.{i + 1:05d}" for i in live}
        changed_rows = sum(
            1 + -(-(n + 1) // WINDOW)
            for i, (_, n) in live.items()
            if current[ids[i]] != before.get(ids[i])
        )
        if point.kind == "rows":
            point.rows = rng.randint(1, max(1, changed_rows - 1))
        must_stay = complete_before & set(current)
        kill_ingest(index_dir, corpus, point, must_stay, log)
        ctx = "; ".join(log)

        with opened(index_dir, corpus) as a:
            state = a.index.state()
            listed = {p["paper_id"] for p in a.papers()}
            assert must_stay <= listed, (ctx, must_stay - listed)
            for pid, s in state.items():
                if s.complete:  # one version of the paper (maybe an older one), never a mix
                    assert s.doc_hash in versions[pid], (ctx, pid)
            assert_rows_well_formed(a, ctx)
            for q in ("Quokka 方法的得分", "任务 T2 上的方法"):
                if not a.index.chunks.count():  # killed before the first paper's chunk
                    with pytest.raises(AssistantError, match="no papers are indexed"):
                        a.search(q, k=5)
                    continue
                assert {s.paper_id for s in a.search(q, k=5)} <= set(state), ctx
        complete_before = {p for p, s in state.items() if s.complete}
        log.append(f"round {r}: {len(complete_before)}/{len(current)} complete")
        before = current

    ctx = "; ".join(log)
    final = hashes(corpus)
    queries = [f"{ANIMALS[i]} 方法的得分" for i in sorted(live)[:4]] + ["任务 T3 上的方法"]
    with opened(index_dir, corpus) as a:
        report = a.ingest([corpus], progress=False)
        assert report.problems == [], ctx
        state = a.index.state()
        assert {p: s.doc_hash for p, s in state.items() if s.complete} == final, (ctx, report)
        assert len(state) == len(final), (ctx, sorted(set(state) - set(final)))
        assert_rows_well_formed(a, ctx)
        repaired, repaired_answers = snapshot(a, lines=False), answers(a, queries)
        missed = unreachable(a, queries)
        assert a.ingest([corpus], progress=False).changed is False, ctx

    with opened(clean_dir, corpus) as clean:
        assert len(clean.ingest([corpus], progress=False).added) == len(final)
        assert repaired == snapshot(clean, lines=False), ctx
        assert_no_bm25_ties(clean, queries)
        assert repaired_answers == answers(clean, queries), (ctx, "unreachable rows", missed)
    print(ctx)  # the seed and kill points, for `pytest -rP`


# --- 3. a literal 50 MB file ------------------------------------------------------------------

FIFTY_MB = 50 * 2**20


def test_a_killed_ingest_is_said_on_next_use_and_a_killed_first_use_is_finished(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """From the own-digests user test: after `kill -9` mid-ingest, a search ran on 16 of 43
    papers without a word. Now the next use says the ingest did not finish and how to finish
    it; when it was the first use's indexing of the seeds, the next first use finishes it."""
    corpus = tmp_path / "digests"
    corpus.mkdir()
    write_digest(corpus / "papers.md", [paper(i, 0, 3) for i in range(8)])
    said = "has not finished"
    for name, auto in (("index", False), ("first-use", True)):
        index_dir, log = tmp_path / name, [name]
        kill_ingest(index_dir, corpus, KillPoint("rows", rows=4), set(), log)
        caplog.clear()
        with (
            caplog.at_level(logging.INFO, logger="assistant"),
            opened(index_dir, corpus, auto_ingest=auto) as a,
        ):
            a.search("Quokka 方法的得分")
            if auto:  # the seeds' indexing was finished, and no warning is said
                assert a.index.count_papers() == 8 and said not in caplog.text, log
                # Said as what it is: "first use" was said of an index of 247 papers (the
                # corpus maintainer test).
                assert "finishing the last ingest, which was stopped" in caplog.text, log
                continue
            assert said in caplog.text and f"`assistant ingest {corpus}`" in caplog.text, log
            assert a.index.count_papers() < 8
            a.ingest([corpus], progress=False)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="assistant"), opened(index_dir, corpus) as a:
            a.search("Quokka 方法的得分")
            assert a.index.count_papers() == 8 and said not in caplog.text, log


def write_big_digest(path: Path, size: int) -> int:
    """Valid-looking digest entries (distinct arXiv ids) until the file holds `size` bytes."""
    written, i = 0, 0
    with path.open("w", encoding="utf-8") as fh:
        while written < size:
            block = "".join(
                f"## Synthetic Paper {n}: Scaling Laws for Task {n % 977}\n"
                f"[合成论文 {n}](https://arxiv.org/abs/{2300 + n // 100000}.{n % 100000:05d})\n\n"
                f"本文研究任务 {n % 977} 上的缩放规律。在 {n % 31 + 2} 个数据集上，方法 M{n} "
                f"的平均准确率为 {n % 89 + 10}.{n % 10}%，比基线高 {n % 7 + 1} 个百分点。\n\n"
                for n in range(i, i + 5000)
            )
            i += 5000
            fh.write(block)
            written += len(block.encode("utf-8"))
    return path.stat().st_size


def parse_traced(folder: Path, *, max_file_mb: float) -> tuple[ParseResult, int]:
    """Parse the folder; also the peak bytes Python allocated while doing it."""
    tracemalloc.start()
    try:
        parsed = parse_paths([folder], max_file_mb=max_file_mb)
        return parsed, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_fifty_mb_digest_is_refused_unread_and_the_rest_indexed(tmp_path: Path) -> None:
    folder = tmp_path / "digests"
    folder.mkdir()
    big = folder / "big.md"
    size = write_big_digest(big, FIFTY_MB)
    write_digest(folder / "small.md", OLD[:2])
    try:
        with big.open(encoding="utf-8") as fh:  # a real digest, only too big
            head = fh.read(2**16)
        assert len(parse_text(head[: head.rindex("\n## ")], "big.md").papers) > 100
        # Size is checked before reading: parsing the folder allocates nowhere near 50 MB.
        parsed, peak = parse_traced(folder, max_file_mb=20)
        assert peak < 5 * 2**20, f"parsing allocated {peak / 2**20:.1f} MB"
        assert [p.paper_id for p in parsed.papers] == [OLD[0][0], OLD[1][0]]

        with opened(tmp_path / "index", folder) as a:  # default settings: a 20 MB limit
            report = a.ingest([folder], progress=False)
        (problem,) = report.problems
        assert problem.severity == Severity.ERROR
        line = str(problem)
        assert "\n" not in line and line.startswith(display_name(big)), line
        assert f"{size / 2**20:.3g} MB" in line and "limit" in line, line
        assert sorted(report.added) == [OLD[0][0], OLD[1][0]]
        assert report.seconds < 30, report.summary()  # ~1 s: only the small file is embedded
    finally:
        big.unlink(missing_ok=True)


def test_fifty_mb_binary_file_is_reported_not_a_digest(tmp_path: Path) -> None:
    folder = tmp_path / "digests"
    folder.mkdir()
    blob = folder / "blob.txt"
    with blob.open("wb") as fh:
        for _ in range(50):
            fh.write(os.urandom(2**20))
    write_digest(folder / "small.md", OLD[:1])
    try:
        # The limit raised above the file's size: it is read, then refused.
        with opened(tmp_path / "index", folder, max_file_mb=60) as a:
            report = a.ingest([folder], progress=False)
        (problem,) = report.problems
        # In a folder, a file that is no digest is noted, not failed for.
        assert problem.severity == Severity.NOTE and problem.file == display_name(blob)
        assert "not a digest" in problem.reason and "\n" not in str(problem), problem
        assert report.added == [OLD[0][0]]
    finally:
        blob.unlink(missing_ok=True)


def test_fifty_mb_text_that_is_no_digest_is_refused_from_its_head(tmp_path: Path) -> None:
    # A log file saved as .txt, with the size limit raised above it: turned down from its
    # first 64 KB, not decoded and split in full (that took seconds and hundreds of MB).
    folder = tmp_path / "digests"
    folder.mkdir()
    log = folder / "server.txt"
    line = "2026-11-22 06:00:00 INFO request served in 12 ms\n"
    log.write_text(line * (FIFTY_MB // len(line)), encoding="utf-8")
    try:
        parsed, peak = parse_traced(folder, max_file_mb=60)
    finally:
        log.unlink(missing_ok=True)
    (problem,) = parsed.problems
    assert problem.file == display_name(log) and "not a digest" in problem.reason, problem
    assert peak < 5 * 2**20, f"parsing allocated {peak / 2**20:.1f} MB"
