"""Digest files -> Paper records, with every malformed entry reported as file:line."""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .records import Paper, Problem, Severity
from .text import CJK_CHAR, without_latex, without_markdown_media

# Compared lower-cased: "x.MD" is a digest too. Messages list them in this order.
DIGEST_SUFFIXES = (".md", ".markdown", ".txt")
# A closing run of "#" is decoration only after a space: "## Fuzzing C#" keeps its "#".
_HEADING = re.compile(r"^##\s+(.+?)(?:\s+#+)?\s*$")
# Scheme, host and route in any case ("arXiv.org" is arXiv's own spelling; a maintainer's
# "HTTPS://ARXIV.ORG/ABS/2411.09011V1" was skipped); an old-style id keeps its case.
_URL = (
    r"(?P<url>(?i:https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)"
    r"(?P<id>\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?P<v>[vV]\d+)?(?i:\.pdf)?)"
    # arXiv's listing pages link "…/abs/2411.20008?context=cs"; people paste "#S3" anchors.
    r"(?:[?#][^\s()<>]*)?"
)
# The Chinese title may hold brackets of its own, balanced as Markdown allows: "[基于 [CLS]
# 标记的检索方法](…)" (a user test: the entry was skipped).
_LINK = re.compile(rf"\[(?P<zh>(?:\[[^\[\]]*\]|[^\]])*)\]\(\s*{_URL}\s*\)")
# "[中文标题](arXiv:2411.08150)": the id as the link's target (a corpus maintainer's form).
_ID_TARGET = re.compile(
    r"\[(?P<zh>(?:\[[^\[\]]*\]|[^\]])*)\]\(\s*<?(?i:arxiv)\s*:\s*"
    r"(?P<id>\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?P<v>[vV]\d+)?>?\s*\)"
)
# The link line may also be the URL alone ("https://arxiv.org/abs/2410.14059" or "<…>"): as
# unambiguous as the markdown link, with no Chinese title.
_URL_LINE = re.compile(rf"^\s*<?{_URL}>?\s*$")
# Text that names arXiv or an id: a link we could not read, rather than no link at all.
_ARXIVISH = re.compile(r"(?i:arxiv)|(?<![\d.])\d{4}\.\d{4,5}(?!\d)")
_ANY_ID = re.compile(r"(?<![\d.\w])(\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?!\d)")
EXPECTED_LINK = (
    "expected '[中文标题](https://arxiv.org/abs/ID)' or the bare URL "
    "as the first line under the heading"
)
_SKIPPED = "entry skipped"  # ends the reason of every entry left out
# Byte-order marks of the wide encodings (Windows Notepad's "Unicode" is UTF-16 LE); UTF-32's
# first, as UTF-32 LE's begins with UTF-16 LE's.
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


# "arXiv:2501.01111v2", "https://arxiv.org/abs/2501.01111v2" -> "2501.01111": the index keeps
# ids without prefix or version, so a question set's gold ids or an API caller's would
# otherwise never match.
_PAPER_ID = re.compile(
    r"(?:arxiv:\s*|https?://(?:www\.)?arxiv\.org/(?:abs|pdf)/)?(?P<id>.+?)(?:v\d+)?(?:\.pdf)?",
    re.IGNORECASE,
)


def normalise_paper_id(raw: str) -> str:
    """An arXiv id as the index keeps it: without prefix, link or version."""
    m = _PAPER_ID.fullmatch(raw.strip())
    return m.group("id") if m else raw.strip()


class DigestError(ValueError):
    """A file that cannot be used as a digest at all."""


# Files a folder of digests may hold beside them, by name: read only when given by name.
_DOCUMENTATION = frozenset({"readme", "changelog", "contributing", "license", "licence", "todo"})


class NotADigest(DigestError):
    """A file that holds no digest at all (binary, empty, notes without arXiv entries): in a
    folder it is only noted, unlike a digest that could not be read."""


@dataclass
class Skipped:
    """An entry left out, with what identifies the paper it may have been: a copy of that
    paper indexed before is kept rather than deleted (ingest)."""

    problem: Problem
    source: str  # the file, as Paper.source_file
    title: str
    ids: set[str]


@dataclass
class ParseResult:
    papers: list[Paper] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # digests read, as Paper.source_file
    failed_files: list[str] = field(default_factory=list)  # files that could not be used
    file_problems: dict[str, Problem] = field(default_factory=dict)  # failed file -> why
    skipped: list[Skipped] = field(default_factory=list)
    # Folders that could not be listed (permission denied), as absolute paths: what was
    # indexed from them is not gone, only out of reach.
    unreadable: list[str] = field(default_factory=list)


def _wide_encoding(data: bytes) -> str | None:
    return next((enc for bom, enc in _WIDE_BOMS if data.startswith(bom)), None)


BINARY = "binary file (or UTF-16 without a byte-order mark), not a digest"


_CONTROL_BYTES = bytes([*range(9), 11, 12, *range(14, 32)])


def _binary(data: bytes) -> bool:
    """Control bytes in more than 5% of the first 8 KB, or NULs in more than 1%: text has
    next to none (a stray NUL is removed, with a warning)."""
    head = data[:8192]
    control = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return control > len(head) // 20 or head.count(b"\x00") > max(1, len(head) // 100)


def decode(data: bytes, name: str) -> tuple[str, list[Problem]]:
    """UTF-8 (BOM tolerated), UTF-16/32 with a BOM, else GB18030 (a superset of GBK), else
    UTF-8 with the bad bytes marked so only the affected entries are skipped."""
    wide = _wide_encoding(data)
    if wide is not None:
        return data.decode(wide, errors="replace"), []
    if _binary(data):
        raise NotADigest(f"{name}: {BINARY}")
    notes: list[Problem] = []
    if (at := data.find(b"\x00")) >= 0:
        # One stray NUL made a digest "binary", and its papers vanished with only a note.
        line = data.count(b"\n", 0, at) + 1
        notes.append(Problem(file=name, line=line, reason="NUL bytes removed"))
        data = data.replace(b"\x00", b"")
    try:
        return data.decode("utf-8-sig"), notes
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
        note = "not UTF-8; decoded as GBK/GB18030"
        return text, [*notes, Problem(file=name, line=1, reason=note, severity=Severity.NOTE)]
    except UnicodeDecodeError:
        pass
    # Neither as a whole: a file of mixed encodings, as when a UTF-8 entry is appended to a
    # GBK digest (the corpus user test: every old entry was skipped as undecodable). Each line
    # is read as UTF-8 or else GBK; only bytes that are neither are marked, and their entries
    # skipped.
    lines: list[str] = []
    gbk = 0
    for raw in data.split(b"\n"):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            try:
                lines.append(raw.decode("gb18030"))
                gbk += 1
            except UnicodeDecodeError:
                lines.append(raw.decode("utf-8", errors="replace"))
    if gbk:
        lines_word = "line" if gbk == 1 else "lines"
        note = f"mixes encodings: {gbk} {lines_word} read as GBK/GB18030, the rest as UTF-8"
        notes.append(Problem(file=name, line=1, reason=note, severity=Severity.NOTE))
    return "\n".join(lines), notes


_SNIFF_BYTES = 64 * 1024
_HEADING_BYTES = re.compile(rb"^(?:\xef\xbb\xbf)?##\s", re.MULTILINE)


def _sniff(path: Path, name: str) -> None:
    """Reject a file that is plainly not a digest from its first 64 KB, before reading and
    decoding all of it: a 50 MB log file took 2 s and ~700 MB of memory to turn down."""
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    wide = _wide_encoding(head)
    if wide is None and _binary(head):
        raise NotADigest(f"{name}: {BINARY}")
    if wide is not None:
        found = bool(re.search(r"^\ufeff?##\s", head.decode(wide, errors="ignore"), re.M))
    else:
        found = bool(_HEADING_BYTES.search(head))
    if len(head) == _SNIFF_BYTES and not found:
        raise NotADigest(f"{name}: not a digest (no '## <title>' entries in its first 64 KB)")


# Characters no one sees: zero-width spaces and joiners, direction marks, word joiner, BOM.
_INVISIBLE = "\u200b-\u200f\u2060\ufeff"
_OTHER_URL = re.compile(r"(?:https?://|www\.)([^/\s)\]>]+)", re.IGNORECASE)


def _invisible(line: str) -> str:
    """What a quoted line holds that no one can see: a zero-width space in a link."""
    hidden = re.search(f"[{_INVISIBLE}]", line)
    return f", which holds an invisible U+{ord(hidden.group()):04X}" if hidden else ""


def _replaces(prior: Paper, later: Paper, indexed_from: str | None) -> bool:
    """Whether a later-read copy of a paper replaces the one read first. The longer summary
    wins: a one-line stub pasted into another file (or above the real entry) displaced the
    paper's whole digest when the first copy won. Of two copies as long, the one the index
    holds stays (a new file sorting first, "0.md", must not replace it), else the first."""
    if len(later.text) != len(prior.text):
        return len(later.text) > len(prior.text)
    return indexed_from == later.source_file and indexed_from != prior.source_file


def _duplicate(file: str, skipped: Paper, kept: Paper, where: str, why: str) -> Problem:
    """Said at the copy left out (`file`: its file as shown); `where` is the kept copy ("line
    3", "a.md:3")."""
    reason = (
        f"duplicate arXiv id {kept.paper_id} with different text; kept the copy at {where} ({why})"
    )
    return Problem(file=file, line=skipped.line, reason=reason)


def _why_kept(kept: Paper, skipped: Paper) -> str:
    return "longer" if len(kept.text) > len(skipped.text) else "read first"


def _quote(line: str) -> str:
    line = line.strip()
    return f"'{line[:60]}…'" if len(line) > 60 else f"'{line}'"


# A list number before a title: "1. ", "12) ", "(3) ", "一、". Not "2.5D …" or "3D …": the
# number must be followed by its mark and a space (or "、").
_NUMBERED = re.compile(
    r"^(?:\d{1,3}[.)）]\s+|[(（]\d{1,3}[)）]\s*|(?:\d{1,3}|[一二三四五六七八九十]{1,3})、\s*)"
)
_EMPHASIS = re.compile(r"^(\*{1,3}|_{1,3})(?P<t>\S(?:.*\S)?)\1$")


def _bare_title(heading: str) -> str:
    """The title a heading holds, without a list number or emphasis around the whole of it
    ("## 1. **BERT: …**" -> "BERT: …"): kept, they showed in every answer's references."""
    title = _NUMBERED.sub("", heading.strip(), count=1) or heading.strip()
    while (m := _EMPHASIS.match(title)) is not None:
        title = m.group("t")
    return title


# A link's text that is no title: "[arXiv](…)", "[PDF](…)".
_GENERIC_LINK_TEXT = frozenset(
    {"arxiv", "pdf", "link", "paper", "abs", "论文", "链接", "原文", "地址"}
)
# A short label before a link on its own line: "原文：", "Paper:", "**链接**: ", "- arXiv: ".
_LABEL = re.compile(
    r"^\s*(?:[-*+]\s+)?\**[^\s:：\[\]()<>/*][^:：\[\]()<>/]{0,19}?\**\s*[:：](?!//)\s*"
)
_ID = r"(?P<id>\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})"
# "arXiv:2005.14165", "arXiv: 2005.14165v2", "**arXiv ID**: 2005.14165", "arXiv 2005.14165".
_ID_LINE = re.compile(
    rf"^\s*(?:[-*+]\s+)?\**(?i:arxiv)(?:\s*(?i:id))?\**\s*[:：]?\s*\**{_ID}(?:v\d+)?\**\s*$"
)


@dataclass
class _Link:
    paper_id: str
    url: str
    zh: str = ""


def _link_text(text: str | None) -> str:
    text = (text or "").strip()
    return "" if text.lower() in _GENERIC_LINK_TEXT else text


def _whole_link(line: str) -> _Link | None:
    """A line that is a link and nothing else: the bare URL ("<…>" too), "[中文标题](URL)",
    "arXiv:ID", or any of these after a short label ("原文：URL")."""
    label = _LABEL.match(line)
    rest = line[label.end() :] if label else line
    if (m := _LINK.fullmatch(rest.strip())) is not None:
        zh = "" if label else _link_text(m.group("zh"))
        return _Link(m.group("id"), m.group("url").strip(), zh)
    if (m := _ID_TARGET.fullmatch(rest.strip())) is not None:
        zh = "" if label else _link_text(m.group("zh"))
        return _Link(m.group("id"), _id_url(m), zh)
    if (m := _URL_LINE.match(rest)) is not None:
        return _Link(m.group("id"), m.group("url").strip())
    if (m := _ID_LINE.match(line)) is not None:
        return _Link(m.group("id"), f"https://arxiv.org/abs/{m.group('id')}")
    return None


def _first_line_link(line: str) -> _Link | None:
    """The link line under a heading: a whole link (_whole_link), or "[中文标题](URL)" with
    words around it, as the digests this was built for write it."""
    if (whole := _whole_link(line)) is not None:
        return whole
    if (m := _LINK.search(line)) is not None:
        return _Link(m.group("id"), m.group("url").strip(), _link_text(m.group("zh")))
    if (m := _ID_TARGET.search(line)) is not None:
        return _Link(m.group("id"), _id_url(m), _link_text(m.group("zh")))
    return None


def _id_url(m: re.Match[str]) -> str:
    return f"https://arxiv.org/abs/{m.group('id')}{(m.group('v') or '').lower()}"


def _heading_link(title: str) -> tuple[str, _Link | None]:
    """ "## [LoRA: Low-Rank Adaptation](https://arxiv.org/abs/2106.09685)", "## Title
    (https://arxiv.org/abs/…)": the title and the link its heading carries, if any."""
    m = _LINK.search(title) or re.search(_URL, title)
    if m is None:
        return title, None
    link = _Link(m.group("id"), m.group("url").strip())
    rest = (title[: m.start()] + title[m.end() :]).strip(" \t-–—|:：()（）[]<>")
    if not rest:  # the heading is the link: its text is the title
        rest = _link_text(m.groupdict().get("zh"))
    return rest, link


def _entry(
    name: str, source: str, title: str, body: list[str], lineno: int, above: int | None
) -> Paper | Problem:
    """One entry (its heading's title and the lines under it) as a Paper, or the Problem that
    keeps it out. `above`: the line of the entry before, if any.

    The link is the first line under the heading as the seeds write it, or in the heading
    itself, or a line that is only the link further down ("原文：https://arxiv.org/abs/…" after
    the summary): formats people's own digests use, and unambiguous. Two such lines with
    different ids are not guessed between."""

    def skipped(reason: str, at: int = lineno) -> Problem:
        return Problem(file=name, line=at, reason=f"{reason}; {_SKIPPED}")

    if "\ufffd" in title or any("\ufffd" in ln for ln in body):
        return skipped("bad encoding (undecodable bytes)")
    title, link = _heading_link(title)
    link_idx = next((i for i, ln in enumerate(body) if ln.strip()), None)
    if link is not None:
        # The heading's link; a '[中文标题](URL)' line of the same paper under it gives the
        # Chinese title and is not summary.
        under = _first_line_link(body[link_idx]) if link_idx is not None else None
        if link_idx is not None and under is not None and under.paper_id == link.paper_id:
            link.zh = under.zh
            del body[link_idx]
    elif link_idx is None:  # a bare heading: reported at the heading itself
        return skipped(f"no arXiv link under '## {title[:60]}' ({EXPECTED_LINK})")
    elif (link := _first_line_link(body[link_idx])) is not None:
        del body[link_idx]
    else:
        alone = [(i, lk) for i, ln in enumerate(body) if (lk := _whole_link(ln)) is not None]
        ids = sorted({lk.paper_id for _, lk in alone})
        if len(ids) > 1:
            return skipped(
                f"several arXiv links under '## {title[:60]}' ({', '.join(ids)}): put the "
                "paper's own as the first line under the heading",
                lineno + 1 + alone[0][0],
            )
        if alone:
            link = alone[0][1]
            at_links = {j for j, _ in alone}
            body = [ln for i, ln in enumerate(body) if i not in at_links]
    if link is None:
        assert link_idx is not None
        at = lineno + 1 + link_idx  # where the link should be
        if _ARXIVISH.search("\n".join(body[:3])):
            found = _quote(body[link_idx]) + _invisible(body[link_idx])
            return skipped(
                f"malformed arXiv link under '## {title[:60]}' ({EXPECTED_LINK}; found {found})",
                at,
            )
        first = body[link_idx]
        if other := _OTHER_URL.search(first):
            # An OpenReview or project link where the arXiv one belongs: an entry, not a
            # heading inside a summary.
            found = f"a link to {other.group(1)}"
            return skipped(
                f"no arXiv link under '## {title[:60]}' ({EXPECTED_LINK}; found {found})", at
            )
        # "## 方法" inside a summary ends that summary there: say so, not only "no link". A
        # heading that reads as a paper's title ("Llama 2: Open Foundation …") is an entry
        # whose link is missing, and the hint misled there.
        section = len(title) <= 24 and ":" not in title and "：" not in title
        cut = (
            f"; a heading inside the summary of line {above} cuts that summary short: "
            "use '### ' there"
            if above is not None and section
            else ""
        )
        found = f"; found {_quote(first)}"
        return skipped(f"no arXiv link under '## {title[:60]}' ({EXPECTED_LINK}{found}{cut})", at)
    if not title:
        return skipped("empty title")
    summary = without_markdown_media(without_latex("\n".join(ln.rstrip() for ln in body).strip()))
    summary = summary.strip()
    if not summary:
        return skipped(f"empty summary for {link.paper_id}")
    title_zh = link.zh
    if titles_reversed(title, title_zh):
        # "## 思维链压缩：…" over "[Chain-of-Thought Compression …](…)": the titles written the
        # other way round. English answers cited the Chinese one as the paper's title.
        title, title_zh = title_zh, title
    return Paper(
        paper_id=link.paper_id,
        title=title,
        title_zh=title_zh,
        url=_abs_url(link.url),
        text=summary,
        source_file=source,
        line=lineno,
    )


_ARXIV_URL = re.compile(_URL)


def _abs_url(url: str) -> str:
    """Every link as the paper's page, written one way: "arxiv.org/pdf/2503.04567v2" opened a
    PDF download while the other cards opened a page, and "http://www.arxiv.org/abs/…",
    "https://arXiv.org/abs/…" were cited as typed (a corpus maintainer test)."""
    m = _ARXIV_URL.fullmatch(url)
    return _id_url(m) if m else url


def titles_reversed(heading: str, link_text: str) -> bool:
    """A Chinese title in the heading over an English one in the link's text."""
    cjk = len(CJK_CHAR.findall(heading))
    letters = sum(c.isascii() and c.isalpha() for c in heading)
    link_cjk = CJK_CHAR.search(link_text) is not None
    link_letters = sum(c.isascii() and c.isalpha() for c in link_text)
    return cjk >= 2 and cjk > letters / 3 and not link_cjk and link_letters >= 3


# A heading written another way: "### Title", "# Title", "##Title", indented, full-width
# "＃＃", or after an invisible character (zero-width space, BOM).
_STRAY_HEADING = re.compile(rf"^[\s{_INVISIBLE}]*[#＃]+\s*(?=\S)")


def _stray_headings(lines: list[str]) -> list[int]:
    """Lines that head an entry but are not "## <title>": a heading written another way with
    an arXiv link on the next line that has text. Read as part of the summary above, such an
    entry was merged into the paper before it, and its sentences cited under that paper's
    name; first in a file, it was dropped. Both without a word."""
    out = []
    for i, line in enumerate(lines):
        if _HEADING.match(line) or not _STRAY_HEADING.match(line):
            continue
        after = next((ln for ln in lines[i + 1 : i + 3] if ln.strip()), "")
        if _LINK.search(after) or _URL_LINE.match(after):
            out.append(i)
    return out


# A fenced code block's opening and closing line: ``` or ~~~ (three or more), indented at
# most three spaces, as CommonMark has it.
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _fenced(lines: list[str]) -> set[int]:
    """Lines inside fenced code blocks: a "## 第一步" comment in a ```bash block is code, not
    the heading of a new entry (read as one, it cut the paper's summary at the fence). A fence
    left open is ignored rather than read to the end of the file, as CommonMark would: one
    stray ``` must not hide every entry after it."""
    inside: set[int] = set()
    opened: tuple[int, str] | None = None
    for i, line in enumerate(lines):
        fence = _FENCE.match(line)
        if fence is None:
            continue
        mark = fence.group(1)
        if opened is None:
            opened = (i, mark)
        elif mark[0] == opened[1][0] and len(mark) >= len(opened[1]) and not line.strip(" `~"):
            inside.update(range(opened[0] + 1, i))
            opened = None
    return inside


def parse_text(text: str, name: str, *, source: str = "") -> ParseResult:
    """Parse one digest's text; `name` is the file as shown in problems, `source` as recorded
    (default: `name`). Raises DigestError when it holds no digest entries at all."""
    source = source or name
    result = ParseResult(files=[source])
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    code = _fenced(lines)
    stray = set(_stray_headings(lines)) - code
    starts = sorted(
        stray | {i for i, ln in enumerate(lines) if _HEADING.match(ln) and i not in code}
    )
    if not starts:
        raise NotADigest(f"{name}: not a digest (no '## <title>' entries)")
    seen: dict[str, Paper] = {}
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        if start in stray:
            found = _quote(lines[start]) + _invisible(lines[start])
            problem = Problem(
                file=name,
                line=start + 1,
                reason=f"an entry's heading is '## <title>', found {found}; {_SKIPPED}",
            )
            result.problems.append(problem)
            ids = set(_ANY_ID.findall("\n".join(lines[start + 1 : start + 4])))
            title = _STRAY_HEADING.sub("", lines[start]).strip()
            result.skipped.append(Skipped(problem, source, title, ids))
            continue
        match = _HEADING.match(lines[start])
        title = _bare_title(match.group(1)) if match else ""
        body = lines[start + 1 : end]
        above = starts[n - 1] + 1 if n else None
        paper = _entry(name, source, title, body, start + 1, above)
        if isinstance(paper, Problem):
            result.problems.append(paper)
            ids = set(_ANY_ID.findall("\n".join(body[:3])))
            result.skipped.append(Skipped(paper, source, title, ids))
            continue
        prior = seen.get(paper.paper_id)
        if prior is None:
            seen[paper.paper_id] = paper
            result.papers.append(paper)
        elif prior.content_hash != paper.content_hash:
            kept, skipped = (paper, prior) if _replaces(prior, paper, None) else (prior, paper)
            if kept is paper:
                result.papers[result.papers.index(prior)] = seen[paper.paper_id] = paper
            why = _why_kept(kept, skipped)
            result.problems.append(_duplicate(name, skipped, kept, f"line {kept.line}", why))
    if not result.papers and not _ARXIVISH.search(text):
        # Sections but not one arXiv link or id: a README's "## Usage", not a digest.
        raise NotADigest(f"{name}: not a digest (no '## <title>' entry has an arXiv link)")
    return result


def display_name(path: Path) -> str:
    """Path as shown in problems: relative to the working directory when inside it."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(Path.cwd()))
    except ValueError:
        return str(resolved)


def source_name(path: Path) -> str:
    """Path as recorded with each paper (Paper.source_file): absolute, so the same file is the
    same source whatever folder an ingest runs from."""
    return str(path.resolve())


def _folder_digests(folder: Path, unreadable: list[Path] | None = None) -> list[Path]:
    """Digest files under a folder, sorted; hidden files and folders (.git, .obsidian,
    .trash) are not looked into. Folders that cannot be listed go into `unreadable`: os.walk
    skips them without a word, and their papers read as deleted (a corpus maintainer's
    chmod 000 removed a subfolder's six papers)."""
    found: list[Path] = []

    def cannot_list(exc: OSError) -> None:
        if unreadable is not None and exc.filename is not None:
            unreadable.append(Path(exc.filename))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=cannot_list):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in filenames:
            path = Path(dirpath, f)
            if not f.startswith(".") and path.suffix.lower() in DIGEST_SUFFIXES and path.is_file():
                found.append(path)
    return sorted(found)


def _expand(
    paths: Iterable[Path], unreadable: list[Path] | None = None
) -> list[tuple[Path, Path | None]]:
    """(file, the folder it was found in, or None when given itself), each file once.
    Folders that could not be listed go into `unreadable`."""
    out: list[tuple[Path, Path | None]] = []
    seen: set[Path] = set()
    for p in paths:
        if p.is_dir():
            found: list[tuple[Path, Path | None]] = [(f, p) for f in _folder_digests(p, unreadable)]
        elif p.exists():
            found = [(p, None)]
        else:
            raise DigestError(f"{p}: no such file or folder")
        for f, folder in found:
            key = f.resolve()
            if key not in seen:  # the same file given twice, or a file inside a folder given
                seen.add(key)
                out.append((f, folder))
    return out


def digest_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders into their digest files (sorted); files are taken as given."""
    return [f for f, _ in _expand(paths)]


def _read(path: Path, name: str, source: str, max_file_mb: float) -> ParseResult:
    size = path.stat().st_size
    if max_file_mb and size > max_file_mb * 1024 * 1024:
        raise DigestError(
            f"{name}: file is {size / 2**20:.3g} MB, over the {max_file_mb:g} MB limit "
            "(ASSISTANT_MAX_FILE_MB)"
        )
    if size == 0:
        raise NotADigest(f"{name}: empty file")
    _sniff(path, name)
    text, notes = decode(path.read_bytes(), name)
    one = parse_text(text, name, source=source)
    one.problems[:0] = notes
    return one


def parse_paths(
    paths: Iterable[Path], *, max_file_mb: float = 20.0, indexed_in: dict[str, str] | None = None
) -> ParseResult:
    """Parse every digest under the paths. Bad files and entries become problems (a file in a
    folder that is no digest at all only a note), and so does a path that does not exist,
    unless no path does (DigestError: nothing to read). A paper id that appears in several files
    is kept once, differing copies reported: the longest, then the copy from the file it is
    indexed from (`indexed_in`: paper id -> source file), then the first (_replaces)."""
    indexed_in = indexed_in or {}
    paths = list(paths)
    gone = [p for p in paths if not p.exists()]
    if gone and len(gone) == len(paths):
        raise DigestError(f"{', '.join(map(str, gone))}: no such file or folder")
    result = ParseResult()
    for p in gone:
        # A typo or an unmounted folder must not stop the other paths being read; ingest keeps
        # the papers indexed from it, as it removes only from what it looked at.
        # Named as typed, as when no path exists (a maintainer test saw "/tmp/x/nope" alone,
        # "nope" beside another path).
        result.problems.append(
            Problem(file=str(p), reason="no such file or folder", severity=Severity.ERROR)
        )
    by_id: dict[str, Paper] = {}
    unreadable: list[Path] = []
    expanded = _expand((p for p in paths if p not in gone), unreadable)
    for closed in dict.fromkeys(unreadable):
        where = str(closed.resolve())
        problem = Problem(
            file=display_name(closed),
            reason="cannot read this folder (permission denied)",
            severity=Severity.ERROR,
        )
        result.unreadable.append(where)
        result.problems.append(problem)
        result.file_problems[where] = problem
    for path, folder in expanded:
        name, source = display_name(path), source_name(path)
        try:
            if folder is not None and path.stem.casefold() in _DOCUMENTATION:
                # A corpus folder's README with a how-to section and an example link was read
                # as a digest with two bad entries (a corpus maintainer test).
                raise NotADigest(f"{name}: documentation, not a digest (by its name)")
            one = _read(path, name, source, max_file_mb)
        except (DigestError, OSError) as exc:
            reason = str(exc).removeprefix(f"{name}: ")
            if isinstance(exc, OSError):  # not "[Errno 13] Permission denied: '/tmp/…'"
                reason = f"cannot read this file ({(exc.strerror or type(exc).__name__).lower()})"
            ignorable = folder is not None and isinstance(exc, NotADigest)
            severity = Severity.NOTE if ignorable else Severity.ERROR
            problem = Problem(file=name, reason=reason, severity=severity)
            result.problems.append(problem)
            result.failed_files.append(source)
            result.file_problems[source] = problem
            continue
        result.files.append(source)
        result.problems.extend(one.problems)
        result.skipped.extend(one.skipped)
        for paper in one.papers:
            prior = by_id.get(paper.paper_id)
            if prior is None:
                by_id[paper.paper_id] = paper
                result.papers.append(paper)
            elif prior.content_hash != paper.content_hash:
                was = indexed_in.get(paper.paper_id)
                kept, skipped = (paper, prior) if _replaces(prior, paper, was) else (prior, paper)
                if kept is paper:
                    result.papers[result.papers.index(prior)] = by_id[paper.paper_id] = paper
                why = _why_kept(kept, skipped)
                if len(kept.text) == len(skipped.text) and kept.source_file == was:
                    why = "indexed from there"
                where = f"{display_name(Path(kept.source_file))}:{kept.line}"
                file = display_name(Path(skipped.source_file))
                result.problems.append(_duplicate(file, skipped, kept, where, why))
    return result
