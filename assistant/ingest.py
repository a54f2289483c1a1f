"""Digests -> index, incrementally: unchanged papers are never re-embedded, edited ones are
replaced, removed ones disappear, and an interrupted run is repaired by the next one."""

from __future__ import annotations

import logging
import shlex
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .parse import DIGEST_SUFFIXES, Skipped, display_name, parse_paths
from .records import IngestReport, Paper, Problem, Severity
from .sparse import TokenTable
from .store import IndexedPaper, PaperIndex

log = logging.getLogger(__name__)
PROGRESS_EVERY = 30.0  # seconds between progress lines off a terminal
PROGRESS_MIN_PAPERS = 20  # fewer take ~10 s at most here: no progress lines


def _in_scope(source: str, roots: list[Path], files: set[str]) -> bool:
    """Whether an indexed paper belongs to the part of the corpus this ingest looked at."""
    if source in files:
        return True
    path = Path(source)
    return any(root.is_dir() and path.is_relative_to(root) for root in roots)


def _recorded_where(recorded: str, roots: list[Path], files: set[str]) -> str:
    """The absolute path of a paper's recorded source file. Indexes written before paths were
    recorded absolute hold them relative to the working directory of the ingest that wrote
    them, which is unknown: the current one is tried first, then a folder being ingested that
    ends where the path begins ("digests/a.md" under /x/digests); otherwise a paper deleted
    from its digest would stay indexed whenever ingest ran from another folder."""
    path = Path(recorded)
    if path.is_absolute():
        return recorded
    guesses = [Path.cwd() / path] + [
        root.joinpath(*path.parts[k:])
        for root in roots
        if root.is_dir()
        for k in range(1, len(path.parts))
        if root.parts[-k:] == path.parts[:k]
    ]
    places = [str(g.resolve()) for g in guesses]
    return next((p for p in places if _in_scope(p, roots, files)), places[0])


def _no_digest_in(
    roots: list[Path], read: list[str], looked_at: set[str], unreadable: list[str]
) -> dict[str, Problem]:
    """A problem for each folder ingested in which no file was a digest (by the folder): its
    other files are only noted, and an ingest that found nothing must not pass for one that
    worked. A folder that could not be listed has its own problem."""
    problems = {}
    for folder in roots:
        if not folder.is_dir() or any(Path(f).is_relative_to(folder) for f in read):
            continue
        if str(folder) in unreadable:
            continue
        n = sum(Path(f).is_relative_to(folder) for f in looked_at)
        kinds = "/".join(DIGEST_SUFFIXES)
        why = (
            f"no digest in this folder ({n} {kinds} file{'' if n == 1 else 's'} looked at)"
            if n
            else f"no digest files ({', '.join(DIGEST_SUFFIXES)}) in this folder"
        )
        problems[str(folder)] = Problem(
            file=display_name(folder), reason=why, severity=Severity.ERROR
        )
    return problems


def _out_of_reach(source: str, closed: list[str]) -> str:
    """The folder of `closed` that holds a paper's file, or "": folders that could not be
    listed, or ingested folders that held no digest at all (an unmounted drive, a folder
    emptied by mistake: reported as errors, so they remove nothing)."""
    path = Path(source)
    return next((folder for folder in closed if path.is_relative_to(folder)), "")


def _same_title(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _kept_copies(
    index: PaperIndex, doomed: dict[str, str], skipped: list[Skipped]
) -> dict[str, Skipped]:
    """Papers about to be removed whose entry is still in their file but now malformed (same
    heading, or the same id near it): their indexed copy is kept, as a file that fails to
    parse keeps its papers. `doomed`: paper id -> its file."""
    in_file: dict[str, list[Skipped]] = {}
    for entry in skipped:
        in_file.setdefault(entry.source, []).append(entry)
    pids = [pid for pid, source in doomed.items() if source in in_file]
    if not pids:
        return {}
    first = index.chunks_by_id([f"{pid}#0" for pid in pids])
    titles = {pid: str(hit.node.metadata.get("title", "")) for pid, hit in first.items()}
    kept: dict[str, Skipped] = {}
    for pid in pids:
        free = [e for e in in_file[doomed[pid]] if all(e is not k for k in kept.values())]
        match = next(
            (e for e in free if pid in e.ids or _same_title(titles.get(pid, ""), e.title)), None
        )
        if match is not None:  # one malformed entry stands for one paper
            kept[pid] = match
    return kept


def _report_kept(
    problems: list[Problem],
    kept: dict[str, Skipped],
    kept_in: dict[str, list[str]],
    file_problems: dict[str, Problem],
) -> list[Problem]:
    """The problems, saying which indexed copies were kept. A file that held indexed papers is
    a digest gone wrong, not a stray note: failed for, whatever it now holds."""
    for pid, entry in kept.items():
        entry.problem.reason += f"; kept the copy of {pid} indexed before"
    swap: dict[int, Problem] = {}
    for source, pids in kept_in.items():
        was = file_problems[source]
        n = len(pids)
        reason = f"{was.reason}; its {n} indexed paper{'s were' if n > 1 else ' was'} kept"
        swap[id(was)] = Problem(
            file=was.file, line=was.line, reason=reason, severity=Severity.ERROR
        )
    return [swap.get(id(p), p) for p in problems]


def ingest(
    index: PaperIndex,
    paths: Iterable[Path],
    *,
    max_file_mb: float,
    progress: bool | None = None,
) -> IngestReport:
    """Bring the index in line with the digests under `paths`.

    Papers indexed from other files are left alone; papers of a file that fails to parse, of a
    path that does not exist, and a paper whose entry is still there but malformed, are kept (a
    broken edit or a mistyped path must not wipe what was indexed)."""
    t0 = time.perf_counter()
    roots = [Path(p).resolve() for p in paths]
    # Reading can write too: Chroma first applies log entries a failed write left behind, so
    # on a full disk the state read fails the same way a write does.
    with index.write_guard():
        indexed = index.state()
    sources = {pid: s.source_file for pid, s in indexed.items()}
    parsed = parse_paths(roots, max_file_mb=max_file_mb, indexed_in=sources)
    wanted: dict[str, Paper] = {p.paper_id: p for p in parsed.papers}
    report = IngestReport(files=len(parsed.files))

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
    looked_at = parsed_files | failed
    read = [Path(f) for f in parsed.files]
    closed = parsed.unreadable + [
        str(root)
        for root in dict.fromkeys(roots)
        if root.is_dir() and not any(f.is_relative_to(root) for f in read)
    ]
    doomed: dict[str, str] = {}  # paper id -> its file
    kept_in: dict[str, list[str]] = {}  # failed file -> its indexed papers, kept
    for pid, have in indexed.items():
        if pid in wanted:
            continue
        if not have.complete and not have.source_file:
            report.removed.append(pid)  # debris of an interrupted write
            continue
        source = _recorded_where(have.source_file, roots, looked_at)
        if source in failed:
            kept_in.setdefault(source, []).append(pid)
        elif out_of_reach := _out_of_reach(source, closed):
            kept_in.setdefault(out_of_reach, []).append(pid)
        elif source in parsed_files or (
            source not in looked_at and _in_scope(source, roots, looked_at)
        ):
            doomed[pid] = source  # its entry or its whole file is gone
    kept = _kept_copies(index, doomed, parsed.skipped)
    report.removed += [pid for pid in doomed if pid not in kept]
    empty = _no_digest_in(list(dict.fromkeys(roots)), parsed.files, looked_at, parsed.unreadable)
    report.problems = _report_kept(
        [*parsed.problems, *empty.values()], kept, kept_in, {**parsed.file_problems, **empty}
    )
    if to_write or report.removed:
        # BM25 of the store as it is now, as tokens, without the papers this run replaces;
        # each chunk it writes is added as it is written, and BM25 is rebuilt from the result.
        # An empty store starts from an empty table. None when the saved table is for another
        # generation (another writer, a killed run): the next search reconciles it.
        rewritten = set(report.removed) | {p.paper_id for p in to_write}
        saved = index.bm25_tokens() if indexed else TokenTable.empty()
        tokens = None if saved is None else saved.without(lambda _, pid: pid in rewritten)
        index.begin_write(" ".join(shlex.quote(str(r)) for r in dict.fromkeys(roots)))
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
        # No bar off a terminal (cron, nohup, `2>log`): for long work, a line to start and one
        # every PROGRESS_EVERY seconds, through the logger. A 3000-paper ingest ran over an
        # hour with its log empty, so nobody could tell it from a hung one (the corpus user
        # test). A few papers take seconds and say nothing, as a script expects.
        if len(papers) < PROGRESS_MIN_PAPERS:
            index.write_papers(papers, on_progress=lambda n: None, tokens=tokens)
            return
        log.info("embedding %d papers", len(papers))
        done, last = 0, time.monotonic()

        def tick(n: int) -> None:
            nonlocal done, last
            done += n
            if done < len(papers) and time.monotonic() - last >= PROGRESS_EVERY:
                last = time.monotonic()
                log.info("embedded %d of %d papers", done, len(papers))

        index.write_papers(papers, on_progress=tick, tokens=tokens)
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
