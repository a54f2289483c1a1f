"""Metrics. Each returns ``{"score": float, "individual_scores": [...]}`` (Haystack 2.x style):
one individual score per input, the score their mean (NaN when there are no inputs).

Retrieval: hit@k, recall@k, MRR, nDCG@k against gold paper ids.
Citations, ALCE-style (Gao et al. 2023, "Enabling LLMs to generate text with citations"):
  citation recall: a statement counts when it has at least one citation and its cited passages
  jointly support it; citation precision: a citation counts when the statement is supported
  and the citation is needed (it supports the statement alone, or the others do not without
  it). Markers that point to no source are counted separately, not judged.
Faithfulness: share of an answer's statements supported by the passages it cites anywhere.
Answer correctness: share of key facts found in the answer (normalised substring match).
Refusal: refusal accuracy on unanswerable questions, false-refusal rate on answerable ones.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from ..cite import find_markers
from ..text import content_terms, split_sentences
from .judge import JudgeError, Passage, SupportJudge


class MetricResult(TypedDict):
    score: float
    individual_scores: list[float]


def _result(scores: Sequence[float]) -> MetricResult:
    s = [float(x) for x in scores]
    return {"score": sum(s) / len(s) if s else math.nan, "individual_scores": s}


# --- retrieval ----------------------------------------------------------------------------------


def _first_rank(ranked: Sequence[str], gold: Iterable[str]) -> int | None:
    g = set(gold)
    return next((i + 1 for i, pid in enumerate(ranked) if pid in g), None)


def hit_at_k(
    retrieved: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], k: int
) -> MetricResult:
    """1 when any gold paper is among the first k retrieved."""
    return _result([float(bool(set(r[:k]) & set(g))) for r, g in zip(retrieved, gold, strict=True)])


def recall_at_k(
    retrieved: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], k: int
) -> MetricResult:
    """Share of the gold papers among the first k retrieved."""
    return _result(
        [
            len(set(r[:k]) & set(g)) / len(set(g)) if g else 0.0
            for r, g in zip(retrieved, gold, strict=True)
        ]
    )


def mrr(retrieved: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> MetricResult:
    """Reciprocal rank of the first gold paper in the retrieved list (0 when absent)."""
    out = []
    for r, g in zip(retrieved, gold, strict=True):
        rank = _first_rank(r, g)
        out.append(1.0 / rank if rank else 0.0)
    return _result(out)


def ndcg_at_k(
    retrieved: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], k: int
) -> MetricResult:
    """Binary-relevance nDCG@k: DCG = sum over gold hits of 1/log2(rank+1), divided by the
    DCG of a perfect ranking (all gold first, at most k of them)."""
    out = []
    for r, g in zip(retrieved, gold, strict=True):
        gs = set(g)
        seen: set[str] = set()
        dcg = 0.0
        for i, pid in enumerate(r[:k]):
            if pid in gs and pid not in seen:  # a paper listed twice counts once
                dcg += 1.0 / math.log2(i + 2)
                seen.add(pid)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gs), k)))
        out.append(dcg / ideal if ideal else 0.0)
    return _result(out)


# --- answer correctness and refusal -------------------------------------------------------------


def normalise(text: str) -> str:
    """NFKC (full-width letters, digits and punctuation become ASCII), case-folded, with all
    whitespace removed: '颜色 > 大小' matches '颜色>大小', '６００ 万' matches '600万'."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).casefold())


def fact_present(fact: str, answer: str) -> bool:
    """Case-insensitive substring after normalise(). A fact that starts or ends with a digit
    must not continue a longer number in the answer ('804' is not found in '1804')."""
    f = normalise(fact)
    if not f:
        return True
    # Where whitespace was removed: "A800 80GB" has A800 whole, not "A80080" (an eval user
    # test: its key fact 'A800' was missed, and the set's check called it a typo).
    chars: list[str] = []
    spaced: set[int] = set()  # i: whitespace stood between chars[i - 1] and chars[i]
    for c in unicodedata.normalize("NFKC", answer).casefold():
        if c.isspace():
            spaced.add(len(chars))
        else:
            chars.append(c)
    a = "".join(chars)
    for m in re.finditer(re.escape(f), a):
        before = a[m.start() - 1] if m.start() and m.start() not in spaced else ""
        after = a[m.end()] if m.end() < len(a) and m.end() not in spaced else ""
        digit_glued = (f[0].isdigit() and before.isdigit()) or (
            f[-1].isdigit()
            and (after.isdigit() or (after == "." and a[m.end() + 1 : m.end() + 2].isdigit()))
        )
        if not digit_glued:
            return True
    return False


def answer_correctness(
    answers: Sequence[str],
    key_facts: Sequence[Sequence[str]],
    refused: Sequence[bool] | None = None,
) -> MetricResult:
    """Share of each question's key facts present in its answer; a refusal scores 0."""
    refused = refused or [False] * len(answers)
    out = []
    for text, facts, ref in zip(answers, key_facts, refused, strict=True):
        if ref or not facts:
            out.append(0.0 if ref or facts else 1.0)
            continue
        out.append(sum(fact_present(f, text) for f in facts) / len(facts))
    return _result(out)


def refusal_accuracy(refused_on_unanswerable: Sequence[bool]) -> MetricResult:
    """Share of unanswerable questions the assistant refused (higher is better)."""
    return _result([float(r) for r in refused_on_unanswerable])


def false_refusal_rate(refused_on_answerable: Sequence[bool]) -> MetricResult:
    """Share of answerable questions the assistant refused (lower is better)."""
    return _result([float(r) for r in refused_on_answerable])


# --- statements and citations -------------------------------------------------------------------

_MARKER_RUN = re.compile(r"^\s*((?:(?:\[[\d\s,，、;\-–]+\]|【\s*\d+\s*】)\s*)+)")
_MARKERS_ANY = re.compile(r"\[[\d\s,，、;\-–]+\]|【\s*\d+\s*】")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_MARKUP = re.compile(r"\*\*|__|`|^#+\s*")


@dataclass
class Statement:
    """One sentence (or list item) of an answer, without its markers, and the markers it
    carries."""

    text: str
    markers: list[int]


def _clean(text: str) -> str:
    text = _MARKERS_ANY.sub("", text)
    return re.sub(r"\s+([。.，,；;：:!?！？])", r"\1", text).strip()


def split_statements(text: str, boilerplate: Sequence[str] = ()) -> list[Statement]:
    """The answer's statements, ALCE-style: its sentences, each with the markers that follow
    or sit inside it. Sentences are split as the index splits digest text (split_sentences),
    so a quoted digest sentence stays one statement. A marker run that opens a sentence closes
    the sentence before it ("...反馈。[1] 然后..."). A list item ("- **Title** [2]：...") is
    one statement: its marker names the paper the whole item is about. Lines that begin with a
    boilerplate lead ("From the digests: ...") are navigation, not claims, and are dropped, as
    are fragments without content words."""
    pieces: list[tuple[str, list[int]]] = []
    for raw_line in text.splitlines():
        is_item = bool(_LIST_ITEM.match(raw_line))
        line = _MARKUP.sub("", _LIST_ITEM.sub("", raw_line)).strip()
        if not line or any(line.startswith(b) for b in boilerplate if b):
            continue
        if is_item:
            pieces.append((_clean(line), find_markers(line)))
            continue
        for sent in split_sentences(line):
            lead = _MARKER_RUN.match(sent)
            if lead and pieces:
                pieces[-1][1].extend(find_markers(lead.group(1)))
                sent = sent[lead.end() :]
            body = _clean(sent)
            if body:
                pieces.append((body, find_markers(sent)))
            elif pieces:
                pieces[-1][1].extend(find_markers(sent))
    return [
        Statement(body, list(dict.fromkeys(markers)))
        for body, markers in pieces
        if body and content_terms(body)
    ]


@dataclass
class StatementCheck:
    text: str
    markers: list[int]  # valid markers (pointing to a source), in order
    out_of_range: list[int]  # markers pointing to no source (not judged, counted apart)
    supported: bool  # its own citations jointly support it (citation recall)
    precise: dict[int, bool]  # per valid marker: needed for that support (citation precision)
    faithful: bool  # supported by the passages the whole answer cites


@dataclass
class AnswerCheck:
    statements: list[StatementCheck] = field(default_factory=list)
    judge: str = ""
    judge_errors: int = 0
    first_judge_error: str = ""  # what the first failure said (the report quotes it)
    judged: int = 0  # judge calls that gave a verdict

    @property
    def n_citations(self) -> int:
        return sum(len(s.markers) for s in self.statements)

    @property
    def out_of_range(self) -> int:
        return sum(len(s.out_of_range) for s in self.statements)

    @property
    def citation_recall(self) -> float:
        st = self.statements
        return sum(s.supported for s in st) / len(st) if st else 0.0

    @property
    def citation_precision(self) -> float:
        # ALCE: precise citations over all (valid) citations; none at all scores 0.
        n = self.n_citations
        return sum(sum(s.precise.values()) for s in self.statements) / n if n else 0.0

    @property
    def faithfulness(self) -> float:
        st = self.statements
        return sum(s.faithful for s in st) / len(st) if st else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge,
            "citation_recall": self.citation_recall,
            "citation_precision": self.citation_precision,
            "faithfulness": self.faithfulness,
            "n_statements": len(self.statements),
            "n_citations": self.n_citations,
            "out_of_range_markers": self.out_of_range,
            "judge_errors": self.judge_errors,
            "first_judge_error": self.first_judge_error,
            "judged": self.judged,
            "statements": [
                {
                    "text": s.text,
                    "markers": s.markers,
                    "out_of_range": s.out_of_range,
                    "supported": s.supported,
                    "precise": {str(k): v for k, v in s.precise.items()},
                    "faithful": s.faithful,
                }
                for s in self.statements
            ],
        }


def check_answer(
    text: str,
    passages: Mapping[int, Passage],
    judge: SupportJudge,
    boilerplate: Sequence[str] = (),
) -> AnswerCheck:
    """Judge every statement of an answer against the passages its markers point to
    (passages[n] is the source of marker [n])."""
    check = AnswerCheck(judge=judge.name)

    def supports(claim: str, cited: Sequence[int]) -> bool:
        if not cited:
            return False
        try:
            verdict = judge.supports(claim, [passages[n] for n in cited])
        except JudgeError as exc:
            check.judge_errors += 1  # counted in the report; conservatively unsupported
            check.first_judge_error = check.first_judge_error or str(exc)
            return False
        check.judged += 1
        return verdict

    statements = split_statements(text, boilerplate)
    everything = sorted({n for s in statements for n in s.markers if n in passages})
    for st in statements:
        valid = [n for n in st.markers if n in passages]
        bad = [n for n in st.markers if n not in passages]
        joint = supports(st.text, valid)
        precise: dict[int, bool] = {}
        for n in valid:
            if not joint:
                precise[n] = False
            elif len(valid) == 1 or supports(st.text, [n]):
                precise[n] = True
            else:  # needed iff the other citations do not support the statement without it
                precise[n] = not supports(st.text, [m for m in valid if m != n])
        faithful = joint or (set(everything) != set(valid) and supports(st.text, everything))
        check.statements.append(StatementCheck(st.text, valid, bad, joint, precise, faithful))
    return check


def _over(checks: Sequence[AnswerCheck], attr: Callable[[AnswerCheck], float]) -> MetricResult:
    return _result([attr(c) for c in checks])


def citation_recall(checks: Sequence[AnswerCheck]) -> MetricResult:
    """Per answer: share of statements with a citation whose passages support them."""
    return _over(checks, lambda c: c.citation_recall)


def citation_precision(checks: Sequence[AnswerCheck]) -> MetricResult:
    """Per answer: share of citations that are needed to support their statement."""
    return _over(checks, lambda c: c.citation_precision)


def faithfulness(checks: Sequence[AnswerCheck]) -> MetricResult:
    """Per answer: share of statements supported by the passages the answer cites."""
    return _over(checks, lambda c: c.faithfulness)


def out_of_range_markers(drafts: Sequence[str], n_sources: Sequence[int]) -> MetricResult:
    """Per answer: markers in the generated text that point to no source ([5] with four
    sources). The citation check removes them before the user sees the answer, so they are
    counted here, apart from citation precision."""
    return _result(
        [
            float(sum(1 for m in find_markers(d) if not 1 <= m <= n))
            for d, n in zip(drafts, n_sources, strict=True)
        ]
    )
