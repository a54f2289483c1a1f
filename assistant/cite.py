"""Citation markers: find them, check them against the sources, keep only real ones."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .records import Citation, Source

# [1], [1, 2], [1，2], [1-3], and what some models emit instead: 【1】, 【1，2】, [^1] (a
# footnote), [source 1], [Doc 2], [来源 1]; and in parentheses only with the word, as the
# LLM-path user test saw small models write: (Source 2), (sources 1, 3), （来源 2）. A bare
# "(2)" is not one: it numbers list items and steps. Also [[1]], 【1†source】 and 〔1〕.
_NUMBERS = r"(\s*\d+(?:\s*(?:[,，、;]|-|–)\s*\d+)*\s*)"
_WORD = r"(?:sources?|src|docs?|documents?|refs?|来源|文献|资料)\s*[:：#]?\s*"
MARKER = re.compile(
    rf"\[\[{_NUMBERS}\]\]"  # [[1]], a wiki-style link
    rf"|\[(?:\^|{_WORD})?{_NUMBERS}\]"
    rf"|【(?:{_WORD})?{_NUMBERS}(?:†[^】]{{0,40}})?】"  # 【1†source】, as GPT-4o writes it
    rf"|〔{_NUMBERS}〕"
    rf"|[(（]{_WORD}{_NUMBERS}[)）]",
    re.IGNORECASE,
)
_ID_MARKER = re.compile(r"\[(?:arxiv\s*:?\s*)?(\d{4}\.\d{4,5})(?:v\d+)?\]", re.IGNORECASE)
_SPLIT = re.compile(r"\s*(?:[,，、;])\s*")
# A footnote's definition line: "[^1]: Title…", "[1]: Title…".
_FOOTNOTE_DEFINITION = re.compile(r"^[ \t]*\[\^?\d+\]:[ \t].*(?:\n|$)", re.MULTILINE)


@dataclass
class CheckedText:
    text: str
    citations: list[Citation] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)  # markers dropped as out of range
    removed_ids: list[str] = field(default_factory=list)  # "[arXiv:…]" of no source, dropped

    @property
    def dropped(self) -> list[str]:
        """Every marker dropped, as a reader would recognise it: "[9]", "[arXiv:2401.00001]"."""
        return [f"[{n}]" for n in self.removed] + [f"[arXiv:{i}]" for i in self.removed_ids]

    @property
    def markers(self) -> list[int]:
        return [c.marker for c in self.citations]


def _numbers(m: re.Match[str]) -> str:
    return next(g for g in m.groups() if g is not None)


def _expand(group: str) -> list[int]:
    out: list[int] = []
    for part in _SPLIT.split(group.strip()):
        if re.fullmatch(r"\d+\s*[-–]\s*\d+", part):
            a, b = (int(x) for x in re.split(r"[-–]", part))
            if 0 < b - a < 20:
                out.extend(range(a, b + 1))
                continue
        digits = re.sub(r"\D", "", part)
        if digits:
            out.append(int(digits))
    return out


def find_markers(text: str) -> list[int]:
    """Every marker number in order of appearance (duplicates kept)."""
    out: list[int] = []
    for m in MARKER.finditer(text):
        out.extend(_expand(_numbers(m)))
    return out


def check_citations(text: str, sources: list[Source]) -> CheckedText:
    """Normalise markers to [n], drop those that point to no source (out of range), and list
    the citations in order of first use. sources[n-1] is the paper of marker [n]."""
    result = CheckedText(text="")
    seen: set[int] = set()

    def repl(m: re.Match[str]) -> str:
        kept: list[str] = []
        for n in _expand(_numbers(m)):
            if 1 <= n <= len(sources):
                kept.append(f"[{n}]")
                if n not in seen:
                    seen.add(n)
                    s = sources[n - 1]
                    result.citations.append(
                        Citation(
                            marker=n,
                            paper_id=s.paper_id,
                            title=s.title,
                            title_zh=s.title_zh,
                            url=s.url,
                        )
                    )
            else:
                result.removed.append(n)
        return "".join(dict.fromkeys(kept))

    # "[arXiv:2411.02337]": the prompt tags each source with its arXiv id, and some models cite
    # by it. The id of a source is its marker; any other id points to no source, and is
    # dropped like [9] (the LLM-path user test saw "[arXiv:2401.00001]" kept as if real).
    position = {src.paper_id: n for n, src in enumerate(sources, 1)}

    def by_id(m: re.Match[str]) -> str:
        if m.group(1) in position:
            return f"[{position[m.group(1)]}]"
        result.removed_ids.append(m.group(1))
        return ""

    # "[^1]: OS-ATLAS: …" under a footnoted answer repeats a source the answer's own
    # references already give (the LLM-path user test saw it kept as text).
    text = _FOOTNOTE_DEFINITION.sub("", text)
    text = _ID_MARKER.sub(by_id, text)
    cleaned = MARKER.sub(repl, text)
    # Dropping a marker can splice its neighbours into a new one ("[1[9]]" -> "[1]"): check
    # until nothing changes, so every marker left in the text is a checked one.
    while (again := MARKER.sub(repl, cleaned)) != cleaned:
        cleaned = again
    cleaned = re.sub(r"(?<=\S)[ \t]{2,}(?=\S)", " ", cleaned)  # where a marker was dropped
    result.text = re.sub(r"[ \t]+([。.，,；;])", r"\1", cleaned).strip()
    return result


def strip_markers(text: str) -> str:
    """The text without its citation markers."""
    return re.sub(r"[ \t]+([。.，,；;])", r"\1", MARKER.sub("", text))
