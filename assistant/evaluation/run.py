"""`assistant eval`: run the question set through the real pipeline and write a report.

Every question goes through Assistant.stream (what Assistant.ask consumes; the raw text it
streams is kept to count markers that point to no source before the citation check removes
them), with its chat history for follow-ups; retrieval metrics rank papers with
Assistant.search on the question as the pipeline resolved it. Answers are judged by a support
judge (offline or LLM) and every number in the report names the judge that produced it."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import math
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..assistant import Assistant, AssistantError
from ..cite import find_markers
from ..condense import as_turns
from ..parse import NotADigest, decode, normalise_paper_id
from ..prompt import messages
from ..records import Answer, Source
from ..settings import REPO_ROOT, Settings
from ..text import detect_language
from . import metrics as M
from .arguments import DEFAULT_SET, FAST_IDS
from .baselines import RankedRetriever, all_retrievers
from .judge import (
    Calibration,
    LLMJudge,
    OfflineJudge,
    Passage,
    SupportJudge,
    agreement,
    load_labels,
)

REPORTS_DIR = REPO_ROOT / "eval" / "reports"
FLOORS_FILE = REPO_ROOT / "eval" / "floors.json"
RANK_DEPTH = 10  # papers ranked per question for the retrieval metrics
CATEGORIES = (
    "single",
    "multi",
    "crosslingual",
    "paraphrase",
    "identifier",
    "followup",
    "unanswerable",
)

# Settings fixed when the index is opened: changing them mid-run would evaluate a different
# index than the one loaded, so they are set with --index-dir/--seeds-dir or ASSISTANT_* vars.
_INDEX_SETTINGS = frozenset(
    {
        "index_dir",
        "seeds_dir",
        "collection",
        "chroma_url",
        "chunk_tokens",
        "embed_backend",
        "embed_base_url",
        "embed_model",
        "embed_batch_size",
        "auto_ingest",
        "max_file_mb",
    }
)


# --- the question set ---------------------------------------------------------------------------


@dataclass
class Question:
    id: str
    question: str
    lang: str
    category: str
    gold: list[str]
    key_facts: list[str]
    answerable: bool
    split: str
    history: list[dict[str, Any]] = field(default_factory=list)
    where: str = ""  # "file:line" of its row, for messages about it

    @property
    def single_paper(self) -> bool:
        return self.answerable and len(self.gold) == 1


# A row's keys (eval/DATASET.md). Anything else is refused: a misspelt "catgory" would
# otherwise be ignored and the row silently get the default category.
ROW_KEYS = (
    "id", "question", "lang", "category", "gold", "key_facts", "answerable", "split", "history",
)  # fmt: skip
LANGS = ("zh", "en")  # what detect_language tells apart, and the shipped set uses


def _strings(row: dict[str, Any], key: str) -> list[str]:
    value = row.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"'{key}' must be a list of strings")
    return value


def question_from_row(row: Any, n: int, where: str = "") -> Question:
    """One question-set row. Only `question` is required, so a user's own set can be a list of
    questions with gold ids; the rest default as eval/DATASET.md describes. `where` (file:line)
    prefixes the warnings about values the report would group on their own."""
    if not isinstance(row, dict):
        raise ValueError("expected a JSON object")
    unknown = [k for k in row if k not in ROW_KEYS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), ROW_KEYS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f"; keys are {', '.join(ROW_KEYS)}"
        raise ValueError(f"unknown key '{unknown[0]}'{hint}")
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("missing field 'question' (text)")
    gold = list(dict.fromkeys(normalise_paper_id(g) for g in _strings(row, "gold")))
    if not gold and "answerable" not in row:
        raise ValueError("give 'gold' (the arXiv ids that answer it) or \"answerable\": false")
    answerable = row.get("answerable", True)
    if not isinstance(answerable, bool):  # "false" would read as true
        raise ValueError("'answerable' must be true or false")
    if answerable and not gold:
        raise ValueError("an answerable question needs its 'gold' arXiv ids")
    if not answerable and gold:
        raise ValueError("an unanswerable question cannot have 'gold' papers")
    default_category = "single" if len(gold) == 1 else "multi" if gold else "unanswerable"
    history = row.get("history") or []
    if not isinstance(history, list):
        raise ValueError("'history' must be a list of messages")
    as_turns(history)  # read as the assistant will read it: HistoryError names the item
    lang = row.get("lang") or detect_language(question)  # optional: the report groups on it
    category = row.get("category", default_category)
    at = f"{where}: " if where else ""
    # Unknown values are warned about, not refused: a set may have its own categories (the
    # report gives each its own row) or languages, but a typo should not pass unseen.
    if lang not in LANGS:
        warnings.warn(
            f"{at}lang {lang!r} is not one of {', '.join(LANGS)}; reported as its own language",
            UserWarning,
            stacklevel=2,
        )
    if category not in CATEGORIES:
        warnings.warn(
            f"{at}category {category!r} is not one of {', '.join(CATEGORIES)}; reported as its "
            "own category",
            UserWarning,
            stacklevel=2,
        )
    return Question(
        id=str(row.get("id", f"line{n}")),
        question=question,
        lang=str(lang),
        category=str(category),
        gold=gold,
        key_facts=_strings(row, "key_facts"),
        answerable=answerable,
        split=str(row.get("split", "dev")),
        history=history,
        where=where,
    )


def read_question_file(path: Path) -> str:
    """A question set's text, in the encodings a digest may have (UTF-8 with or without a BOM,
    UTF-16 with a BOM, GBK): a set saved by Windows Notepad or a GBK editor is read, not
    reported as "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xd4"."""
    if not path.exists():
        raise AssistantError(f"{path}: no such question set")
    if path.is_dir():
        raise AssistantError(f"{path}: a folder, not a question set (a JSONL file)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AssistantError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text, _ = decode(data, str(path))
    except NotADigest:
        raise AssistantError(f"{path}: binary data, not a question set (JSONL)") from None
    if "\ufffd" in text and "\ufffd".encode() not in data:
        raise AssistantError(f"{path}: not UTF-8, UTF-16 or GBK text")
    return text


def _is_json_array(text: str) -> bool:
    try:
        return isinstance(json.loads(text), list)
    except ValueError:
        return False


def load_questions(path: Path = DEFAULT_SET) -> list[Question]:
    out: list[Question] = []
    first_line: dict[str, int] = {}
    text = read_question_file(path)
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            # A JSON array or a CSV was "not JSON" at line 1 (an eval user test): say what is.
            if _is_json_array(text):
                raise AssistantError(
                    f"{path}: one JSON array; a question set is JSONL, one question "
                    'object per line: {"question": "…", "gold": ["2410.14059"]}'
                ) from None
            raise AssistantError(
                f"{path}:{n}: not JSON ({exc}); a question set is JSONL, one JSON object per line"
            ) from None
        try:
            q = question_from_row(row, n, f"{path}:{n}")
        except ValueError as exc:
            raise AssistantError(f"{path}:{n}: bad question row: {exc}") from None
        if q.id in first_line:
            # Results are keyed by id: a second q7 would hide which row a result belongs to.
            raise AssistantError(
                f"{path}:{n}: bad question row: duplicate id {q.id!r} (first on line "
                f"{first_line[q.id]})"
            )
        first_line[q.id] = n
        out.append(q)
    return out


def no_split(split: str, path: Path, questions: Sequence[Question]) -> str:
    """The error for a split the set does not have, naming the splits it has."""
    have = ", ".join(sorted({q.split for q in questions})) or "none"
    return f"no questions in split {split!r} of {path} (its splits: {have}; --split all runs all)"


def select_questions(
    questions: Sequence[Question], split: str = "dev", fast: bool = False, limit: int | None = None
) -> list[Question]:
    """The questions to run: a split, or the fast CI slice; --limit keeps the first N taken
    round-robin over categories, so a short run still covers every category."""
    if fast:
        by_id = {q.id: q for q in questions}
        missing = [i for i in FAST_IDS if i not in by_id]
        if missing:
            raise AssistantError(f"fast slice ids missing from the set: {', '.join(missing)}")
        chosen = [by_id[i] for i in FAST_IDS]
    else:
        chosen = [q for q in questions if split == "all" or q.split == split]
    if limit is not None and limit < len(chosen):
        groups: dict[str, list[Question]] = {}
        for q in chosen:
            groups.setdefault(q.category, []).append(q)
        picked: list[Question] = []
        while len(picked) < limit:
            for g in groups.values():
                if g and len(picked) < limit:
                    picked.append(g.pop(0))
        order = {q.id: i for i, q in enumerate(chosen)}
        chosen = sorted(picked, key=lambda q: order[q.id])
    return chosen


# --- settings overrides and judges ---------------------------------------------------------------


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep or not key:
            raise AssistantError(f"--config expects KEY=VALUE, got {pair!r}")
        if key not in Settings.model_fields:
            raise AssistantError(f"--config: unknown setting {key!r}")
        if key in _INDEX_SETTINGS:
            raise AssistantError(
                f"--config: {key} is fixed when the index opens; use --index-dir/--seeds-dir "
                f"or ASSISTANT_{key.upper()}"
            )
        out[key] = value.strip()
    return out


@contextlib.contextmanager
def overridden(settings: Settings, overrides: dict[str, str]) -> Iterator[None]:
    """Apply settings to the running assistant (its retriever reads the same object), restore
    them afterwards. Settings validates on assignment, so '0.8' becomes a float or fails."""
    old = {k: getattr(settings, k) for k in overrides}
    try:
        for k, v in overrides.items():
            try:
                setattr(settings, k, v)
            except ValidationError as exc:
                raise AssistantError(f"--config {k}={v}: {exc.errors()[0]['msg']}") from None
        yield
    finally:
        for k, v in old.items():
            setattr(settings, k, v)


def make_judge(assistant: Assistant, kind: str = "auto") -> SupportJudge:
    """The LLM judge when asked for, or on 'auto' when an LLM is configured; else offline."""
    if kind == "llm" or (kind == "auto" and assistant.settings.llm_active):
        if not assistant.settings.llm_active:
            raise AssistantError(
                "--judge llm needs an LLM: set ASSISTANT_LLM_BASE_URL or OPENAI_API_KEY"
            )
        return LLMJudge.from_settings(assistant.settings)
    return OfflineJudge(assistant.index.embed)


def _fallback_patterns(prompts_dir: Path) -> list[tuple[re.Pattern[str], str]]:
    """The notices an answer carries when it was meant for the LLM and was quoted instead,
    as (pattern, reason); the LLM's error is group 1 where the notice quotes it."""
    table = messages(prompts_dir)
    out = []
    for lang in table.values():
        for key, reason in (("llm_fallback", "LLM unavailable"), ("llm_no_room", "no room")):
            if key in lang:
                head, _, rest = str(lang[key]).partition("{")
                tail = rest.partition("}")[2]
                out.append((re.compile(re.escape(head) + "(.*)" + re.escape(tail), re.S), reason))
    return out


def fallbacks(rows: Sequence[dict[str, Any]], prompts_dir: Path) -> dict[str, Any]:
    """Answers of an LLM run that the LLM did not write: not refused, not read from the index
    (a list of papers, a date), yet quoted (mode extractive). Counted so a report of an LLM
    that was down is not read as LLM numbers."""
    patterns = _fallback_patterns(prompts_dir)
    meant = [r for r in rows if not r["answer"]["refused"] and r["answer"]["mode"] != "index"]
    fell = [r for r in meant if r["answer"]["mode"] != "llm"]
    reasons: dict[str, int] = {}
    for r in fell:
        said = [
            (m, why) for n in r["answer"]["notices"] for pat, why in patterns
            if (m := pat.fullmatch(n))
        ]  # fmt: skip
        if not said:
            reason = "no notice said why"
        else:
            m, why = said[0]
            reason = f"{why}: {m.group(1)}" if why == "LLM unavailable" else why
        reasons[reason] = reasons.get(reason, 0) + 1
    ordered = dict(sorted(reasons.items(), key=lambda kv: -kv[1]))
    return {"n": len(fell), "of": len(meant), "reasons": ordered}


def boilerplate(prompts_dir: Path) -> list[str]:
    """Fixed lead-ins of our answers (not claims about papers)."""
    table = messages(prompts_dir)
    out = []
    for lang in table.values():
        for key in ("extractive_lead", "extractive_lead_plain", "multi_lead", "closest"):
            if key in lang:
                out.append(str(lang[key]))
        if "llm_fallback" in lang:
            out.append(str(lang["llm_fallback"]).split("{", 1)[0])
    return [b for b in out if b]


# --- running ------------------------------------------------------------------------------------


@dataclass
class EvalRun:
    """Everything a report needs (results.json is its JSON form)."""

    meta: dict[str, Any]
    judge: dict[str, Any]
    systems: list[str]
    questions: list[dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)
    headline: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "meta": self.meta,
                "judge": self.judge,
                "systems": self.systems,
                "headline": self.headline,
                "summary": self.summary,
                "questions": self.questions,
            }
        )


def _jsonable(obj: Any) -> Any:
    # NaN (a metric over no questions) is not JSON: write null.
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj


def _ask(assistant: Assistant, q: Question) -> tuple[str, Answer]:
    draft: list[str] = []
    final: Answer | None = None
    for piece in assistant.stream(q.question, q.history or None):
        if isinstance(piece, Answer):
            final = piece
        else:
            draft.append(piece)
    assert final is not None
    return "".join(draft), final


class _Passages:
    """Cited passages: a source's whole digest entry (the citation names the paper), split the
    way the index split it, so the offline judge reuses the index's sentence vectors."""

    def __init__(self, assistant: Assistant, judge: SupportJudge) -> None:
        self.assistant = assistant
        self.judge = judge
        self._cache: dict[str, Passage] = {}

    def __call__(self, src: Source) -> Passage:
        if src.paper_id not in self._cache:
            sv = self.assistant.index.sentence_vectors([src.paper_id]).get(src.paper_id)
            sentences = tuple(sv.texts) if sv is not None else ()
            if sv is not None and isinstance(self.judge, OfflineJudge):
                self.judge.remember(sv.texts, sv.vectors)
            self._cache[src.paper_id] = Passage(
                text=" ".join(sentences) or src.text,
                title=f"{src.title}\n{src.title_zh}".strip(),
                paper_id=src.paper_id,
                sentences=sentences,
            )
        return self._cache[src.paper_id]


def evaluate_question(
    assistant: Assistant,
    q: Question,
    judge: SupportJudge,
    retrievers: Sequence[RankedRetriever],
    passages: Callable[[Source], Passage],
    lead_ins: Sequence[str],
) -> dict[str, Any]:
    """Ask, retrieve with every system, score: one row of results.json."""
    draft, ans = _ask(assistant, q)
    rq = ans.retrieval_query or q.question
    retrieved = {r.name: r.rank(rq, RANK_DEPTH) for r in retrievers}
    row: dict[str, Any] = {
        "id": q.id,
        "question": q.question,
        "lang": q.lang,
        "category": q.category,
        "split": q.split,
        "answerable": q.answerable,
        "gold": q.gold,
        "key_facts": q.key_facts,
        "retrieval_query": rq,
        "retrieved": retrieved,
        "answer": {
            "text": ans.text,
            "refused": ans.refused,
            "mode": ans.mode,
            "support": ans.support,
            "sources": [s.paper_id for s in ans.sources],
            "cited": [c.paper_id for c in ans.citations],
            "notices": ans.notices,
            # Generated sentences whose numbers or names the cited digests lack (verify.py).
            "unsupported": [c.model_dump() for c in ans.unsupported],
            # Markers in the generated text beyond the sources (removed before display).
            "draft_out_of_range": sum(
                1 for m in find_markers(draft) if not 1 <= m <= len(ans.sources)
            ),
        },
        "scores": {},
        "citations": None,
    }
    if q.answerable and q.gold:
        scores: dict[str, dict[str, float]] = {}
        for name, ranked in retrieved.items():
            scores[name] = {
                "hit@1": M.hit_at_k([ranked], [q.gold], 1)["score"],
                "hit@5": M.hit_at_k([ranked], [q.gold], 5)["score"],
                "recall@5": M.recall_at_k([ranked], [q.gold], 5)["score"],
                "recall@10": M.recall_at_k([ranked], [q.gold], 10)["score"],
                "mrr": M.mrr([ranked], [q.gold])["score"],
                "ndcg@5": M.ndcg_at_k([ranked], [q.gold], 5)["score"],
            }
        row["scores"]["retrieval"] = scores
    if q.answerable and q.key_facts:
        row["scores"]["answer_correctness"] = M.answer_correctness(
            [ans.text], [q.key_facts], [ans.refused]
        )["score"]
    if not ans.refused:
        cited = {n: passages(ans.sources[n - 1]) for n in range(1, len(ans.sources) + 1)}
        row["citations"] = M.check_answer(ans.text, cited, judge, lead_ins).as_dict()
    return row


def run_eval(
    assistant: Assistant,
    questions: Sequence[Question],
    *,
    judge: SupportJudge | None = None,
    baselines: bool = False,
    judge_agreement: bool = True,
    progress: bool = True,
    meta: dict[str, Any] | None = None,
) -> EvalRun:
    """Run the questions and summarise. `judge_agreement` re-measures the judge on
    eval/judge_labels.jsonl (for the offline judge the calibration's stored figure is used
    otherwise; an LLM judge without it reports none)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    started = time.time()
    assistant.ensure_indexed()
    judge = judge or make_judge(assistant)
    retrievers = all_retrievers(assistant, baselines)
    passages = _Passages(assistant, judge)
    lead_ins = boilerplate(assistant.settings.prompts_dir)
    labels = (
        load_labels({p["paper_id"]: f"{p['title']}\n{p['title_zh']}" for p in assistant.papers()})
        if judge_agreement
        else []
    )
    rows: list[dict[str, Any]] = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, disable=not progress, transient=False) as bar:
        task = bar.add_task("questions", total=len(questions))
        for q in questions:
            bar.update(task, description=f"{q.id} {q.category}")
            rows.append(evaluate_question(assistant, q, judge, retrievers, passages, lead_ins))
            bar.advance(task)
        bar.update(task, description="questions")
        judge_info: dict[str, Any] = {"name": judge.name}
        if labels:
            jt = bar.add_task(f"judge agreement ({judge.name})", total=len(labels))
            judge_info["agreement"] = agreement(judge, labels, lambda: bar.advance(jt))
            judge_info["agreement_source"] = "measured in this run on eval/judge_labels.jsonl"
        elif isinstance(judge, OfflineJudge):
            judge_info["agreement"] = _stored_agreement(judge.calibration)
            judge_info["agreement_source"] = "stored at calibration (judge_calibration.json)"
    if isinstance(judge, OfflineJudge):
        judge_info["calibration"] = judge.calibration.notes
    if gave_up := getattr(judge, "gave_up", None):
        judge_info["gave_up"] = gave_up
    llm = assistant.settings.llm_active
    run = EvalRun(
        meta={
            **(meta or {}),
            "started": datetime.fromtimestamp(started).isoformat(timespec="seconds"),
            "seconds": round(time.time() - started, 1),
            "n_questions": len(rows),
            "answer_mode": "llm" if llm else "extractive",
            "llm_model": assistant.settings.llm_model if llm else None,
            # What each baseline that reads a corpus of its own was built over.
            "corpus": {r.name: c for r in retrievers if (c := getattr(r, "corpus", ""))},
            # LLM answers that fell back to quoting (the LLM down, no room for a source).
            "fallbacks": fallbacks(rows, assistant.settings.prompts_dir) if llm else None,
            "settings": {
                k: getattr(assistant.settings, k)
                for k in (
                    "top_k",
                    "candidate_k",
                    "fusion",
                    "dense_weight",
                    "bm25_weight",
                    "sentence_weight",
                    "rrf_k",
                    "refusal_threshold",
                    "extractive_sentences",
                )
                if hasattr(assistant.settings, k)
            },
        },
        judge=judge_info,
        systems=[r.name for r in retrievers],
        questions=rows,
    )
    run.summary = summarise(rows, run.systems)
    run.headline = headline(run.summary)
    return run


def _stored_agreement(cal: Calibration) -> dict[str, Any]:
    notes = cal.notes
    return {
        "judge": "offline",
        "n": notes.get("agreement_n"),
        "accuracy": notes.get("agreement_on_labels", math.nan),
        "by_kind": notes.get("agreement_by_kind", {}),
    }


# --- summaries ----------------------------------------------------------------------------------

RETRIEVAL_METRICS = ("hit@1", "hit@5", "recall@5", "recall@10", "mrr", "ndcg@5")


def summarise_group(rows: Sequence[dict[str, Any]], systems: Sequence[str]) -> dict[str, Any]:
    """Metrics over a group of result rows, each computed by its metric function."""
    with_gold = [r for r in rows if r["answerable"] and r["gold"]]
    single = [r for r in with_gold if len(r["gold"]) == 1]
    out: dict[str, Any] = {"n": len(rows), "n_answerable": len(with_gold)}
    retrieval: dict[str, dict[str, float]] = {}
    for name in systems:
        ranked = [r["retrieved"][name] for r in with_gold]
        gold = [r["gold"] for r in with_gold]
        ranked1 = [r["retrieved"][name] for r in single]
        retrieval[name] = {
            "hit@1": M.hit_at_k(ranked, gold, 1)["score"],
            "hit@5": M.hit_at_k(ranked, gold, 5)["score"],
            "recall@5": M.recall_at_k(ranked, gold, 5)["score"],
            "recall@10": M.recall_at_k(ranked, gold, 10)["score"],
            "mrr": M.mrr(ranked, gold)["score"],
            "ndcg@5": M.ndcg_at_k(ranked, gold, 5)["score"],
            "hit@1_single": M.hit_at_k(ranked1, [r["gold"] for r in single], 1)["score"],
            "n_single": len(single),
        }
    out["retrieval"] = retrieval
    facts = [r for r in with_gold if r["key_facts"]]
    out["answer_correctness"] = M.answer_correctness(
        [r["answer"]["text"] for r in facts],
        [r["key_facts"] for r in facts],
        [r["answer"]["refused"] for r in facts],
    )["score"]
    out["n_key_facts"] = len(facts)
    unans = [r for r in rows if not r["answerable"]]
    ans = [r for r in rows if r["answerable"]]
    out["refusal_accuracy"] = M.refusal_accuracy([r["answer"]["refused"] for r in unans])["score"]
    out["false_refusal_rate"] = M.false_refusal_rate([r["answer"]["refused"] for r in ans])["score"]
    out["n_unanswerable"] = len(unans)
    answered = [r for r in rows if r["citations"] is not None]
    checks = [r["citations"] for r in answered]
    # A judge that never gave a verdict measured nothing: n/a, not 0.000 (eval user test).
    judged = any(c.get("judged", 1) for c in checks) or not any(c["judge_errors"] for c in checks)
    for key in ("citation_recall", "citation_precision", "faithfulness"):
        out[key] = M._result([c[key] for c in checks])["score"] if judged else math.nan
    out["n_answered"] = len(answered)
    out["out_of_range_markers"] = float(
        sum(r["answer"]["draft_out_of_range"] for r in rows)
        + sum(c["out_of_range_markers"] for c in checks)
    )
    # Generated answers the claim check flagged (verify.py; extractive answers quote and pass).
    out["unsupported_answers"] = sum(bool(r["answer"].get("unsupported")) for r in rows)
    out["judge_errors"] = sum(c["judge_errors"] for c in checks)
    out["first_judge_error"] = next(
        (c.get("first_judge_error") for c in checks if c.get("first_judge_error")), ""
    )
    return out


def summarise(rows: Sequence[dict[str, Any]], systems: Sequence[str]) -> dict[str, Any]:
    cats = [c for c in CATEGORIES if any(r["category"] == c for r in rows)]
    cats += sorted({r["category"] for r in rows} - set(cats))
    langs = sorted({r["lang"] for r in rows if r["lang"]})
    return {
        "overall": summarise_group(rows, systems),
        "by_category": {
            c: summarise_group([r for r in rows if r["category"] == c], systems) for c in cats
        },
        "by_lang": {
            lg: summarise_group([r for r in rows if r["lang"] == lg], systems) for lg in langs
        },
    }


def headline(summary: dict[str, Any]) -> dict[str, float]:
    """The numbers CI holds floors on (eval/floors.json), full pipeline."""
    o = summary["overall"]
    r = o["retrieval"]["pipeline"]
    return {
        "hit@1_single": r["hit@1_single"],
        "hit@5": r["hit@5"],
        "mrr": r["mrr"],
        "refusal_accuracy": o["refusal_accuracy"],
        "false_refusal_rate": o["false_refusal_rate"],
        "citation_recall": o["citation_recall"],
        "citation_precision": o["citation_precision"],
        "faithfulness": o["faithfulness"],
        "answer_correctness": o["answer_correctness"],
        "out_of_range_markers": o["out_of_range_markers"],
    }


def load_floors(path: Path = FLOORS_FILE) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def judge_failure(run: EvalRun) -> str | None:
    """Why the run's citation numbers are not a measurement: the judge gave up on a failing
    server, or no call of it gave a verdict. None when the judge worked."""
    o = run.summary["overall"]
    if gave_up := run.judge.get("gave_up"):
        why = str(gave_up)
    elif o.get("judge_errors") and math.isnan(o["citation_recall"]):
        why = f"no call of judge {run.judge['name']} gave a verdict ({o['first_judge_error']})"
    else:
        return None
    return f"{why}; the citation numbers are no measurement: fix the LLM or pass --judge offline"


def check_floors(values: dict[str, float], floors: dict[str, Any]) -> list[str]:
    """Failures, one line each: a headline below its 'min' or above its 'max', or missing."""
    out = []
    for name, bound in floors["floors"].items():
        v = values.get(name)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(f"{name}: not measured")
        elif "min" in bound and v < bound["min"]:
            out.append(f"{name} = {v:.3f} is below its floor {bound['min']}")
        elif "max" in bound and v > bound["max"]:
            out.append(f"{name} = {v:.3f} is above its ceiling {bound['max']}")
    return out


# --- CLI ----------------------------------------------------------------------------------------


def gold_problems(questions: Sequence[Question], indexed: set[str]) -> list[str]:
    """One line per gold id the index does not hold, naming the question's file:line: such a
    question can only score 0 on retrieval, which would read as a retrieval miss."""
    out = []
    for q in questions:
        for g in q.gold:
            if g not in indexed:
                at = f"{q.where}: " if q.where else f"{q.id}: "
                out.append(f"{at}gold id {g} is not in the index; this question scores 0 for it")
    return out


def key_fact_problems(questions: Sequence[Question], texts: dict[str, str]) -> list[str]:
    """One line per key fact no gold paper's digest holds (a typo: "87.4%" of a digest saying
    78.4%): an extractive answer quotes the digests, so it can never contain that fact, and the
    question scores 0 for it without a word. `texts`: the gold papers' digests by id."""
    out = []
    for q in questions:
        held = "\n".join(texts[g] for g in q.gold if g in texts)
        if not held:
            continue  # its gold ids are reported already
        for fact in q.key_facts:
            if not M.fact_present(fact, held):
                at = f"{q.where}: " if q.where else f"{q.id}: "
                out.append(
                    f"{at}key fact {fact!r} is in none of its gold papers' digests; a quoted "
                    "(extractive) answer never has it"
                )
    return out


def check_gold(questions: Sequence[Question], indexed: set[str], where: str) -> None:
    """Warn about gold ids missing from the index; stop when none is there (a wrong index or
    question set: every retrieval number would be 0)."""
    gold = {g for q in questions for g in q.gold}
    if gold and not gold & indexed:
        raise AssistantError(
            f"none of the {len(gold)} gold ids of the questions is in the index ({where}, "
            f"{len(indexed)} papers): wrong index or question set?"
        )
    for line in gold_problems(questions, indexed):
        warnings.warn(line, UserWarning, stacklevel=2)


def writable_folder(out: Path) -> None:
    """Create the report folder and check a file can be written in it, so a bad --out fails in
    a second, not after the whole run."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        if isinstance(exc, FileExistsError | NotADirectoryError):
            why = "not a folder"
        raise AssistantError(f"--out {out}: cannot write a report there ({why})") from None


def run_from_args(assistant: Assistant, args: argparse.Namespace) -> int:
    from .report import print_summary, write_report

    path = Path(args.question_set)
    if args.limit is not None and args.limit < 1:
        raise AssistantError(f"--limit must be 1 or more, got {args.limit}")
    overrides = parse_overrides(args.config or [])
    every = load_questions(path)
    questions = select_questions(every, args.split, args.fast, args.limit)
    if not questions:
        raise AssistantError(no_split(args.split, path, every))
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or REPORTS_DIR / stamp)
    if (out / "results.json").exists() and not getattr(args, "overwrite", False):
        # A second run with the same --out replaced the first without a word (eval user test).
        raise AssistantError(
            f"{out} already holds a report (results.json): pass --overwrite to replace it, "
            "or another --out folder"
        )
    made = not out.exists()
    writable_folder(out)
    try:
        run = _run_checked(assistant, args, path, questions, overrides)
    except BaseException:
        if made and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # the folder made for a report that never came
        raise
    write_report(run, out)
    print_summary(run)
    print(f"report: {out}")
    if failed := judge_failure(run):
        # The report is written (retrieval and refusal numbers stand), but a run whose judge
        # was down must not pass for a measured one in a script or CI.
        print(f"error: {failed}", file=sys.stderr)
        return 1
    if args.check_floors:
        failures = check_floors(run.headline, load_floors())
        for f in failures:
            print(f"FLOOR MISSED: {f}")
        return 1 if failures else 0
    return 0


def _run_checked(
    assistant: Assistant,
    args: argparse.Namespace,
    path: Path,
    questions: Sequence[Question],
    overrides: dict[str, str],
) -> EvalRun:
    """The gold ids checked against the index, then the run."""
    assistant.ensure_indexed()
    indexed = {str(p["paper_id"]) for p in assistant.papers()}
    if not indexed:
        raise AssistantError(assistant.empty_index_hint())
    s = assistant.settings
    check_gold(questions, indexed, s.chroma_url or str(s.index_dir))
    gold = sorted({g for q in questions for g in q.gold if g in indexed})
    for line in key_fact_problems(questions, assistant.index.paper_texts(gold)):
        warnings.warn(line, UserWarning, stacklevel=2)
    with overridden(assistant.settings, overrides):
        return run_eval(
            assistant,
            questions,
            judge=make_judge(assistant, args.judge),
            baselines=args.baselines,
            # The fast slice is for CI: the judge's agreement is tested on its own there.
            judge_agreement=not (args.no_agreement or args.fast),
            progress=not args.quiet,
            meta={
                "set": str(path),
                "split": "fast" if args.fast else args.split,
                "limit": args.limit,
                "config": overrides,
            },
        )
