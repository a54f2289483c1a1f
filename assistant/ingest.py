"""Digests -> index, incrementally: unchanged papers are never re-embedded, edited ones are
replaced, removed ones disappear, and an interrupted run is repaired by the next one."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .parse import digest_files, display_name, parse_paths
from .records import IngestReport, Paper
from .sparse import TokenTable
from .store import IndexedPaper, PaperIndex


def _in_scope(source_file: str, roots: list[Path], files: set[str]) -> bool:
    """Whether an indexed paper belongs to the part of the corpus this ingest looked at."""
    if source_file in files:
        return True
    path = Path(source_file).resolve()
    return any(root.is_dir() and path.is_relative_to(root) for root in roots)


def ingest(
    index: PaperIndex,
    paths: Iterable[Path],
    *,
    max_file_mb: float,
    progress: bool | None = None,
) -> IngestReport:
    """Bring the index in line with the digests under `paths`.

    Papers indexed from other files are left alone; papers of a file that fails to parse are
    kept (a broken edit must not wipe what was indexed)."""
    t0 = time.perf_counter()
    roots = [Path(p).resolve() for p in paths]
    parsed = parse_paths(roots, max_file_mb=max_file_mb)
    report = IngestReport(files=len(parsed.files), problems=parsed.problems)
    # Reading can write too: Chroma first applies log entries a failed write left behind, so
    # on a full disk the state read fails the same way a write does.
    with index.write_guard():
        indexed = index.state()
    wanted: dict[str, Paper] = {p.paper_id: p for p in parsed.papers}

    to_write: list[Paper] = []
    moved: list[Paper] = []  # unchanged, but its entry now sits elsewhere (file or line)
    for pid, paper in wanted.items():
        have = indexed.get(pid)
        if have is None:
            to_write.append(paper)
            report.added.append(pid)
        elif not have.complete or have.doc_hash != paper.content_hash:
            to_write.append(paper)
            report.updated.append(pid)
        else:
            report.unchanged.append(pid)
            if (have.source_file, have.line) != (paper.source_file, paper.line):
                moved.append(paper)

    parsed_files = set(parsed.files)
    failed = set(parsed.failed_files)
    existing = {display_name(f) for f in digest_files(roots)}
    for pid, have in indexed.items():
        if pid in wanted:
            continue
        if not have.complete and not have.source_file:
            report.removed.append(pid)  # debris of an interrupted write
            continue
        gone = have.source_file not in existing
        if have.source_file in failed:
            continue
        if (have.source_file in parsed_files or gone) and _in_scope(
            have.source_file, roots, parsed_files
        ):
            report.removed.append(pid)

    if to_write or report.removed:
        # BM25 of the store as it is now, as tokens, without the papers this run replaces;
        # each chunk it writes is added as it is written, and BM25 is rebuilt from the result.
        # An empty store starts from an empty table. None when the saved table is for another
        # generation (another writer, a killed run): the next search reconciles it.
        rewritten = set(report.removed) | {p.paper_id for p in to_write}
        saved = index.bm25_tokens() if indexed else TokenTable.empty()
        tokens = None if saved is None else saved.without(lambda _, pid: pid in rewritten)
        index.begin_write()
        if report.removed:
            index.delete_papers(report.removed)
        if to_write:
            _write_with_progress(index, to_write, progress, tokens)
        index.end_write()
        if tokens is not None:
            index.refresh_bm25(tokens)
        # What the store now holds, so that the next ingest need not read every row again.
        for pid in report.removed:
            indexed.pop(pid, None)
    if moved:
        index.relocate_papers(moved)
    for paper in to_write + moved:
        indexed[paper.paper_id] = IndexedPaper(
            paper.content_hash, paper.source_file, True, paper.line
        )
    if to_write or report.removed or moved:
        index.save_state(indexed)
    report.seconds = time.perf_counter() - t0
    return report


def _write_with_progress(
    index: PaperIndex,
    papers: list[Paper],
    progress: bool | None,
    tokens: TokenTable | None,
) -> None:
    show = sys.stderr.isatty() if progress is None else progress
    if not show:
        index.write_papers(papers, on_progress=lambda n: None, tokens=tokens)
        return
    columns = (
        TextColumn("embedding papers"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("embed", total=len(papers))
        index.write_papers(papers, on_progress=lambda n: bar.advance(task, n), tokens=tokens)
