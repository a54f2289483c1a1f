"""Records passed between the stages and returned to users (pydantic, JSON-serialisable)."""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class Paper(BaseModel):
    """One digest entry: the unit of citation."""

    paper_id: str = Field(description="arXiv id without version, e.g. 2410.14059")
    title: str = Field(description="English title (the '## ' line)")
    title_zh: str = Field("", description="Chinese title (the link text)")
    url: str = Field(description="arXiv link as written in the digest")
    text: str = Field(description="Summary paragraphs")
    source_file: str = Field(description="Digest file the entry came from")
    line: int = Field(description="1-based line of the '## ' heading")

    @property
    def content_hash(self) -> str:
        """Changes when anything indexed about the paper changes, its sentence split included:
        a summary the split reads differently since it was indexed (a table, "TL;DR") hashes
        differently, so the next ingest rewrites its sentences; other papers keep their hash
        and are not re-embedded."""
        h = hashlib.sha256()
        for part in (self.paper_id, self.title, self.title_zh, self.url, self.text):
            h.update(part.encode("utf-8"))
            h.update(b"\x00")
        if SPLIT_CHANGED.search(self.text):
            h.update(b"split 2\x00")
        return h.hexdigest()[:16]


# Text whose sentences the split of 2026-12-02 reads differently from before: a Markdown
# table's rows, and an ASCII ";" followed by a letter ("TL;DR"). See content_hash.
SPLIT_CHANGED = re.compile(r"^\s*\|.*\|\s*$|;[A-Za-z]", re.MULTILINE)


class Severity(StrEnum):
    NOTE = "note"  # said, not failed for: a file in a folder that is no digest, a GBK digest
    WARNING = "warning"  # an entry was skipped or repaired; the rest of the file indexed
    ERROR = "error"  # a whole file could not be used


class Problem(BaseModel):
    """Something wrong in the corpus, located as file:line."""

    file: str
    line: int = 0
    reason: str
    severity: Severity = Severity.WARNING

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


class IngestReport(BaseModel):
    """What an ingest changed."""

    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list)
    files: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        notes = sum(p.severity == Severity.NOTE for p in self.problems)
        n = len(self.problems) - notes
        problems = f"{n} problem{'' if n == 1 else 's'}" + (
            f", {notes} note{'' if notes == 1 else 's'}" if notes else ""
        )
        return (
            f"{self.files} file{'' if self.files == 1 else 's'}: {len(self.added)} added, "
            f"{len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed, {problems} ({self.seconds:.2f}s)"
        )


class Source(BaseModel):
    """A retrieved paper, one per paper, best first."""

    paper_id: str
    title: str
    title_zh: str = ""
    url: str
    text: str = Field(description="The passage used (best-matching chunk of the paper)")
    score: float = Field(
        description="Fused retrieval score (higher is better; never higher further down the list: "
        "a paper the question names is ranked first and scored at least as the next one)"
    )
    source_file: str = ""
    line: int = Field(0, description="Line of the entry's `## Title` in source_file (0: unknown)")
    dense_score: float | None = Field(None, description="Cosine similarity of the best chunk")
    bm25_score: float | None = Field(None, description="BM25 score of the best chunk")
    sentence_score: float | None = Field(None, description="Cosine of the best sentence")
    named: bool = Field(
        False,
        description="The question names this paper: its arXiv id, the short name its title "
        "starts with (MagicTailor, BitNet a4.8), or an identifier only its digest contains",
    )


class Citation(BaseModel):
    """A checked `[n]` marker of an answer and the paper it points to."""

    marker: int
    paper_id: str
    title: str
    title_zh: str = ""
    url: str


class UnsupportedClaim(BaseModel):
    """A sentence of a generated answer stating numbers or names that none of the digests it
    cites contains (verify.py)."""

    sentence: str
    markers: list[int] = Field(description="The markers the sentence cites")
    missing: list[str] = Field(description="The numbers and names, as the sentence writes them")


class Answer(BaseModel):
    """A cited answer, or a refusal."""

    question: str
    text: str
    citations: list[Citation] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list, description="sources[n-1] is [n]")
    refused: bool = False
    mode: Literal["llm", "extractive", "index"] = Field(
        "extractive",
        description="How the text was made: generated, quoted from the digests, or read from "
        "the index's records (the list of papers; the month an arXiv id was posted)",
    )
    language: Literal["zh", "en"] = "en"
    notices: list[str] = Field(default_factory=list, description="Fallbacks, cuts, repairs")
    unsupported: list[UnsupportedClaim] = Field(
        default_factory=list,
        description="Generated sentences whose numbers or names the cited digests do not hold",
    )
    support: float | None = Field(None, description="Refusal-gate support probability")
    retrieval_query: str | None = Field(
        None, description="The question as resolved against the chat history"
    )


class Turn(BaseModel):
    """One message of a chat history."""

    role: Literal["user", "assistant"]
    content: str
    paper_ids: list[str] = Field(default_factory=list, description="Papers cited by the turn")
