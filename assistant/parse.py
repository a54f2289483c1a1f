"""Digest files -> Paper records, with every malformed entry reported as file:line."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .records import Paper, Problem, Severity

DIGEST_SUFFIXES = (".txt", ".md")
# A closing run of "#" is decoration only after a space: "## Fuzzing C#" keeps its "#".
_HEADING = re.compile(r"^##\s+(.+?)(?:\s+#+)?\s*$")
_LINK = re.compile(
    r"\[(?P<zh>[^\]]*)\]\(\s*(?P<url>https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/"
    r"(?P<id>\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?(?:\.pdf)?)\s*\)"
)
_BARE_ARXIV = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})")
# The link line may also be the URL alone ("https://arxiv.org/abs/2410.14059" or "<…>"): as
# unambiguous as the markdown link, with no Chinese title.
_URL_LINE = re.compile(
    r"^\s*<?(?P<url>https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/"
    r"(?P<id>\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?(?:\.pdf)?)>?\s*$"
)


class DigestError(ValueError):
    """A file that cannot be used as a digest at all."""


@dataclass
class ParseResult:
    papers: list[Paper] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    failed_files: list[str] = field(default_factory=list)


def decode(data: bytes, name: str) -> tuple[str, list[Problem]]:
    """UTF-8 (BOM tolerated), else GB18030 (a superset of GBK), else UTF-8 with the bad bytes
    marked so only the affected entries are skipped."""
    if b"\x00" in data[:8192]:
        raise DigestError(f"{name}: binary file, not a digest")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
        return text, [Problem(file=name, line=1, reason="not UTF-8; decoded as GBK/GB18030")]
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), []


_SNIFF_BYTES = 64 * 1024
_HEADING_BYTES = re.compile(rb"^(?:\xef\xbb\xbf)?##\s", re.MULTILINE)


def _sniff(path: Path, name: str) -> None:
    """Reject a file that is plainly not a digest from its first 64 KB, before reading and
    decoding all of it: a 50 MB log file took 2 s and ~700 MB of memory to turn down."""
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if b"\x00" in head[:8192]:
        raise DigestError(f"{name}: binary file, not a digest")
    if len(head) == _SNIFF_BYTES and not _HEADING_BYTES.search(head):
        raise DigestError(f"{name}: not a digest (no '## <title>' entries in its first 64 KB)")


def parse_text(text: str, name: str) -> ParseResult:
    """Parse one digest's text. Raises DigestError when it holds no '## ' entries at all."""
    result = ParseResult(files=[name])
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    starts = [i for i, ln in enumerate(lines) if _HEADING.match(ln)]
    if not starts:
        raise DigestError(f"{name}: not a digest (no '## <title>' entries)")
    seen: dict[str, Paper] = {}
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        lineno = start + 1
        match = _HEADING.match(lines[start])
        title = match.group(1).strip() if match else ""
        body = lines[start + 1 : end]

        def problem(reason: str, *, at: int = lineno) -> None:
            result.problems.append(Problem(file=name, line=at, reason=reason))

        if "\ufffd" in lines[start] or any("\ufffd" in ln for ln in body):
            problem("bad encoding (undecodable bytes); entry skipped")
            continue
        link_idx = next((i for i, ln in enumerate(body) if ln.strip()), None)
        link = None
        if link_idx is not None:
            link = _LINK.search(body[link_idx]) or _URL_LINE.match(body[link_idx])
        if link is None or link_idx is None:
            # Where the link should be; a bare heading is reported at the heading itself.
            where = lineno + 1 + link_idx if link_idx is not None else lineno
            bare = _BARE_ARXIV.search("\n".join(body[:3]))
            why = "malformed arXiv link" if bare else "no arXiv link"
            problem(f"{why} under '## {title[:60]}'; entry skipped", at=where)
            continue
        summary = "\n".join(ln.rstrip() for ln in body[link_idx + 1 :]).strip()
        if not title:
            problem("empty title; entry skipped")
            continue
        if not summary:
            problem(f"empty summary for {link.group('id')}; entry skipped")
            continue
        paper = Paper(
            paper_id=link.group("id"),
            title=title,
            title_zh=(link.groupdict().get("zh") or "").strip(),
            url=link.group("url").strip(),
            text=summary,
            source_file=name,
            line=lineno,
        )
        prior = seen.get(paper.paper_id)
        if prior is not None:
            if prior.content_hash != paper.content_hash:
                problem(
                    f"duplicate arXiv id {paper.paper_id} with different text "
                    f"(first at line {prior.line}); kept the first"
                )
            continue
        seen[paper.paper_id] = paper
        result.papers.append(paper)
    return result


def display_name(path: Path) -> str:
    """Path as recorded and shown: relative to the working directory when inside it."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(Path.cwd()))
    except ValueError:
        return str(resolved)


def digest_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders into their digest files (sorted); files are taken as given."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(
                sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in DIGEST_SUFFIXES)
            )
        elif p.exists():
            out.append(p)
        else:
            raise DigestError(f"{p}: no such file or folder")
    return out


def parse_paths(paths: Iterable[Path], *, max_file_mb: float = 20.0) -> ParseResult:
    """Parse every digest under the paths. Bad files and entries become problems; a paper id
    that appears in several files is kept once (the first), differing copies reported."""
    result = ParseResult()
    by_id: dict[str, Paper] = {}
    for path in digest_files(paths):
        name = display_name(path)
        try:
            size = path.stat().st_size
            if size > max_file_mb * 1024 * 1024:
                raise DigestError(
                    f"{name}: file is {size / 2**20:.0f} MB, over the {max_file_mb:g} MB limit "
                    "(ASSISTANT_MAX_FILE_MB)"
                )
            if size == 0:
                raise DigestError(f"{name}: empty file")
            _sniff(path, name)
            text, problems = decode(path.read_bytes(), name)
            one = parse_text(text, name)
        except (DigestError, OSError) as exc:
            reason = str(exc).removeprefix(f"{name}: ")
            result.problems.append(Problem(file=name, reason=reason, severity=Severity.ERROR))
            result.failed_files.append(name)
            continue
        result.files.append(name)
        result.problems.extend(problems + one.problems)
        for paper in one.papers:
            prior = by_id.get(paper.paper_id)
            if prior is None:
                by_id[paper.paper_id] = paper
                result.papers.append(paper)
            elif prior.content_hash != paper.content_hash:
                result.problems.append(
                    Problem(
                        file=name,
                        line=paper.line,
                        reason=f"duplicate arXiv id {paper.paper_id} with different text "
                        f"(first in {prior.source_file}:{prior.line}); kept the first",
                    )
                )
    return result
