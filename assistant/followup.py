"""Which papers a chat's follow-up is about, and the question as it is searched.

condense.py holds the word rules ("it", "第二篇", "the other one?", "还有别的…吗"); this stage
applies them with what the index knows: the digests of the chat's papers, a search for a
description ("镜面反光那篇"), how many digests use a word, and the LLM's rewrite when one is
configured. The Assistant asks it once per chat turn, before retrieval."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .cite import find_markers
from .condense import (
    ASPECTS,
    COMPARES,
    NAMES_SOMETHING,
    asks_about_chat_papers,
    asks_for_more,
    asks_for_others,
    chat_papers,
    compares_with_previous,
    described,
    elliptical,
    goes_back,
    heuristic_query,
    is_follow_up,
    is_rare,
    last_answered,
    new_subject,
    ordinal,
    owns_subject,
    points_back,
    previous_paper,
    starts_a_search,
    the_other,
)
from .gate import unknown_names
from .llm import ChatLLM, LLMError, LLMUnreachable
from .prompt import NOT_IN_DIGESTS, build_condense_prompt
from .records import Turn
from .retrieve import (
    Retrieval,
    name_words,
    named_at,
    question_names_title,
    title_has_identifier,
)
from .text import asks_for_quantity, content_terms, dictionary_word, wants_several

# "PUMA 和它比怎么样": set beside the paper before.
# "这篇和镜面那篇，哪个…", "this one and the camera one": the paper before is one of a pair.
_PAIRED_WITH_IT = re.compile(
    r"(?:这篇|这个|它)\s*[和与跟]|\b(?:this one|this paper|it)\s+(?:and|vs\.?|versus)\b", re.I
)
# Set beside a paper the question names, the chat's paper being the other: "跟 AndroidLab
# 比呢", "和 X 那篇用的 GPU 一样吗", "is it faster than OmniParser?".
_VERSUS_NAMED = re.compile(
    r"^\s*(?:那|那么|再)?\s*[和跟与同比]\s*\S"
    r"|\b(?i:compared?\s+(?:to|with)|than|vs\.?|versus|against|same\s+as)\s+(?i:the\s+)?"
    r"[A-Z0-9《\"'“]",
)
_COMPARED_WITH_IT = re.compile(
    r"[和跟与同]\s*(?:它|它们|其|这篇|那篇)\s*(?:相)?比|\b(?:with|to|and)\s+(?:it|that|this)\b",
    re.I,
)


# More papers than a discussion is about: a list the user is shown (the collection, a month).
MANY_LISTED = 8


def is_rewrite(out: str, question: str) -> bool:
    """The LLM's reply reads as the question rewritten, not as an answer: one line, no citation
    marker, no refusal sentinel, not far longer than the question. A small chatty model
    answered instead ("FrostNet 只有 42K 参数 [1]。它在 SIDD 上…"), and that answer was
    searched, so the follow-up was refused; the history heuristic resolves it instead."""
    return (
        0 < len(out) <= 4 * len(question) + 200
        and "\n" not in out
        and not find_markers(out)
        and NOT_IN_DIGESTS not in out
    )


def names_paper(text: str, paper_id: str, titles: str) -> bool:
    """Whether a rewrite names the paper: its arXiv id, its short name or a name in its title
    (SAM2Long, OmniParser), or the start of its English or Chinese title. `titles`: "title
    title_zh", as PaperIndex.digests gives them."""
    if named_at(titles, paper_id, text) < len(text):  # id, short name, a name in the title
        return True
    english = " ".join(re.findall(r"[A-Za-z0-9]+", titles)[:4]).lower()
    chinese = "".join(re.findall(r"[\u4e00-\u9fff]", titles)[:6])
    flat = " ".join(re.findall(r"[a-z0-9]+", text.lower()))
    return bool(english and english in flat) or bool(chinese and chinese in text)


# A fragment that only names what to compare with: "和 AndroidLab 比呢？", "跟 WMA 相比如何",
# "compared with WMA?", "vs OS-Atlas?".
_COMPARED_WITH = re.compile(
    r"(?:那)?(?:和|跟|与|同)\s*[^，,。？?]{1,40}?\s*(?:比|相比|比较|对比)(?:起来)?(?:呢|如何|怎么样|怎样)?"
    r"\s*[？?]?\s*$"
    r"|(?:and\s+|how\s+about\s+|what\s+about\s+)?(?:compared?\s+(?:to|with)|vs\.?|versus)\s+"
    r"[^?]{1,60}\??\s*$",
    re.IGNORECASE,
)


def compares_with(q: str) -> bool:
    """ "和 AndroidLab 比呢？": a fragment naming only what to compare the chat's paper with
    (asked_again gives the last question; it goes first, as the chat's paper is cited first)."""
    return _COMPARED_WITH.match(q.strip()) is not None


def asked_again(q: str, turns: list[Turn]) -> list[str]:
    """For a fragment that asks the last question again of another paper ("and the camera
    one?", "那镜面那篇呢？"): that question without the names of the paper it was about."""
    last_q = last_answered(turns)[0]
    if not (last_q and len(content_terms(q)) <= 4):
        return []
    if compares_with(q):
        # "和 AndroidLab 比呢？" after "WebRL 在 WebArena-Lite 上效果怎样？" asks that question of
        # both papers: each digest's answer to it, not each one's introduction (a Chinese user
        # test). Both papers stay named.
        return [last_q]
    if not elliptical(q):
        return []
    # Only a fragment that picks another paper: "训练成本呢？" asks its own question of the
    # same paper, and the last one's words would pick the sentences.
    if not (described(q) or the_other(q, turns) or previous_paper(q, turns)):
        return []
    return [_without_names(last_q)]


def _without_names(question: str) -> str:
    names = name_words(question)
    return " ".join(w for w in question.split() if w.strip("?？,，.。!！").lower() not in names)


@dataclass
class FollowUpResolver:
    """Reads a chat turn against the papers the chat has cited. It holds the three index reads
    it needs as callables, so it opens nothing itself: the Assistant opens the index on first
    use and gives it these."""

    digests: Callable[[list[str]], tuple[dict[str, str], dict[str, str]]]  # PaperIndex.digests
    retrieve: Callable[[str], Retrieval]
    doc_freq: Callable[[], tuple[dict[str, int], int]]
    prompts_dir: Path
    budget: int | None = None  # tokens the rewrite request may take (prompt_token_budget)

    def resolve(
        self,
        q: str,
        turns: list[Turn],
        llm: ChatLLM | None,
        failed: list[str],
        *,
        force: bool = False,
    ) -> tuple[str, bool]:
        """The question as it is searched in a chat: alone when it brings its own subject,
        else rewritten by the LLM, or by the history heuristic, with the papers it is about;
        and whether that was unsure (it was read alone). An LLM that cannot be reached is
        recorded in `failed` and not asked again for this question: a hung server would
        otherwise cost a timeout per call."""
        if not turns:
            return q, False
        # Titles (an ordinal may pick from an earlier list) and whole digests of every paper
        # the chat cited, in one read: the description and subject tests below use both.
        titles, texts = self.digests(chat_papers(turns))
        picked: list[str] = []
        if not force and (other := the_other(q, turns)):
            picked = [other]
        elif not force and (prev := previous_paper(q, turns)):
            # "how's that different from the previous one": both; "上一篇呢": the one before.
            picked = list(prev) if compares_with_previous(q) else [prev[1]]
        elif not force and (desc := described(q)):
            # "镜面反光那篇用的是什么表示方法", "the camera one": the chat's paper it describes;
            # "the one about data contamination" after the October list: a search of its own.
            # "这篇和镜面那篇" pairs it with the paper before.
            paper, elsewhere = self._described_paper(desc, chat_papers(turns), texts, titles)
            pair = COMPARES.search(q) or _PAIRED_WITH_IT.search(q)
            if elsewhere and not pair:
                # "and the contrastive loss one?" after "which GPUs did LOGO train on?" asks
                # that again of the paper it describes; searched alone, it quoted that paper's
                # opening sentences (the chat UI user test).
                return " ".join([q, *asked_again(q, turns)]), False
            if paper is not None:
                picked = [*last_answered(turns)[1], paper] if pair else [paper]
        about: bool | None
        if picked:
            about, ids, focus = True, picked, picked
        else:
            about, ids, focus = self._chat_subject(q, turns, force, titles, texts)
        if about is not True:
            return q, about is None
        if llm is not None and not failed:
            try:
                prompt = build_condense_prompt(self.prompts_dir, q, turns, self.budget)
                out = llm.complete(prompt, retries=0).strip().strip('"').strip()
                # A small model returns the follow-up unchanged, or puts another paper in it
                # ("它的代码开源了吗?" after PUMA, searched alone, cited OpenCoder): only a
                # rewrite that names a paper this chat is about is searched.
                subject = focus or ids
                if is_rewrite(out, q) and any(
                    names_paper(out, p, titles.get(p, "")) for p in subject
                ):
                    return out, False
            except LLMUnreachable as exc:
                failed.append(str(exc))  # the heuristic below still resolves it
            except LLMError:
                pass  # a server error may pass; the answer call still tries
        if asks_about_chat_papers(q) or goes_back(q) or picked:
            # The chat's papers by title: "这两篇", or the one "going back to …" or "镜面反光那篇"
            # describes.
            chosen = focus if (goes_back(q) or picked) and focus else ids
            chosen = list(dict.fromkeys(chosen))
            again = asked_again(q, turns) if picked else []
            return " ".join([q, *(titles[p] for p in chosen if p in titles), *again]), False
        return heuristic_query(q, turns, titles, force=True, focus=focus), False

    def _names_another_paper(self, q: str, last_q: str) -> bool:
        """The question names a paper (its arXiv id or short name) that the last question did
        not: a search of its own."""
        if not NAMES_SOMETHING.search(q):
            return False  # nothing that could name a paper: no search needed
        named = [src for src in self.retrieve(q).sources if src.named]
        return any(
            src.paper_id not in last_q and not question_names_title(src.title, last_q)
            for src in named
        )

    def _chat_subject(
        self,
        q: str,
        turns: list[Turn],
        force: bool,
        titles: dict[str, str],
        texts: dict[str, str],
    ) -> tuple[bool | None, list[str], list[str]]:
        """(whether the question is about papers the chat has cited, None when unsure; those
        papers; the ones among them its own words or the last answered question pick).

        It is about them when it says so ("these two", "it", "第二篇"), or when it brings no
        subject of its own: no paper named, no "other", no "which papers", no word the papers
        under discussion lack and few other digests use. "代码开源吗" asks about the paper
        before; "那视频生成方面呢?" and "what about LOGO, what GPUs did it use?" do not. Unsure:
        only words no digest uses, with an aspect or a measure ("How many gold medals?" of a
        digest that says 金牌)."""
        last_q, ids = last_answered(turns)
        if ids and not force and (asks_for_others(q) or starts_a_search(q)):
            # "Besides these two, any other paper on video diffusion?", "Going back to the
            # contrastive loss paper, …": a search of its own.
            return False, ids, []
        if asks_about_chat_papers(q):
            return True, chat_papers(turns), []
        if asks_for_more(q):
            return True, ids, []
        back = goes_back(q) and bool(ids)
        if back:
            ids = chat_papers(turns)  # "Going back to the contrastive loss paper": which one
        elif not ids or force:
            if not force and self._names_another_paper(q, last_q):
                # No answer before cited a paper (an LLM answer citing nothing, an API caller's
                # plain messages): "PUMA 是什么?" after "FrugalNeRF 用了哪些数据集?" names its
                # own paper, and was searched with FrugalNeRF's question (cited first).
                return False, ids, []
            return force or is_follow_up(q), ids, []
        known = {p: texts.get(p, "") for p in ids}
        df, n_docs = self.doc_freq()
        # The papers of the last answer this question names ("FrugalNeRF 在哪些数据集上做实验？"
        # after a list), else those its question named ("Does Baichuan alignment use DPO?"
        # cited MIA-DPO too), or that alone hold the words this one asks about ("哪个和金融
        # 有关").
        named_here = [p for p in ids if self._names_paper(titles.get(p, ""), p, q)]
        focus = named_here or [p for p in ids if self._names_paper(titles.get(p, ""), p, last_q)]
        # The papers the question itself picks out; a word in many titles ("LLM") picks none.
        own = named_here if len(named_here) <= 2 else []
        if not focus and len(ids) > 1 and not wants_several(last_q) and not COMPARES.search(last_q):
            # "Is there a paper testing whether video generators learn physics?" asked for one
            # paper: the answer's first is it, the others were only close ("what's the setup").
            focus = ids[:1]
        rare = [t for t in content_terms(q) if t not in ASPECTS and is_rare(t, df, n_docs)]
        holding = [p for p in ids if rare and any(t in known.get(p, "") for t in rare)]
        if holding and len(holding) < len(ids) and not own:
            # Not over the papers the question names: "WebRL 把 GLM-4-9B 的成功率提高到多少？"
            # after the list of all 34 was searched with the 20 titles holding 成功率.
            focus = holding
        if back:
            return True, ids, holding
        compares = bool(COMPARES.search(q) or _COMPARED_WITH_IT.search(q))
        # Named by an id, a short name or a title written out ("和 Breaking the Memory Barrier
        # 那篇…"): retrieval marks them.
        named = [s.paper_id for s in self.retrieve(q).sources if s.named]
        if unknown_names(q, df) or (named and not compares and not set(named) <= set(ids)):
            return False, ids, focus  # "what about LOGO, what GPUs did it use?", "AndriodLab 的…"
        if len(ids) > MANY_LISTED and not points_back(q) and ordinal(q) is None and not own:
            # After a list of many papers (all 34, a month's), "Agent K 的成功率是多少？" is a
            # search of its own: searched with the titles of the 20 listed papers holding
            # 成功率, it cited four web and GUI agents and not Agent K (the chat UI user test).
            return False, ids, focus
        if points_back(q):
            return True, ids, focus
        if named and _VERSUS_NAMED.search(q) and not asks_for_others(q) and not wants_several(q):
            # "跟 AndroidLab 比呢？" after OS-Atlas compares the two: read alone it cited
            # AndroidLab only. Not "Now BitNet a4.8 — what's new compared to b1.58?", whose
            # named paper is its own subject, nor "Different question: is OpenCoder …?".
            return True, ids, focus
        if asks_for_others(q) or (wants_several(q) and not is_follow_up(q)):
            return False, ids, focus
        new, unknown = new_subject(q, "\n".join(known.values()), df, n_docs)
        if new:
            return False, ids, focus
        if unknown and owns_subject(q, df):
            return False, ids, focus  # "光速是多少？": read alone, not with the paper before
        if unknown and (set(content_terms(q)) & ASPECTS or asks_for_quantity(q) or elliptical(q)):
            # "How many gold medals?" of a digest that says 金牌: read alone first, and in the
            # chat if the digests lack it. "What's the capital of France?" asks nothing of a
            # paper (no aspect, no measure, no "…呢"): it is read alone only.
            return None, ids, focus
        if unknown:
            return False, ids, focus
        return True, ids, focus

    def _described_paper(
        self, desc: str, pool: list[str], texts: dict[str, str], titles: dict[str, str]
    ) -> tuple[str | None, bool]:
        """(The paper a description picks, or None; whether it is outside `pool`, the chat's
        papers). In the pool: the one paper holding all its words ("图像那个" of a survey and
        MagicTailor), else the pool's paper a search for it ranks in the top three, below no
        paper holding all its words ("安卓": AndroidLab, whose digest says Android). Outside:
        the search's first paper holding all its words, no pool paper before it ("the one about
        data contamination" after the October list). `texts` and `titles` (the pool's, from
        digests) gain those of the papers outside it that the search ranked."""
        terms = [t for t in content_terms(desc) if dictionary_word(t)]
        if not pool or not terms:
            return None, False
        ranked = [src.paper_id for src in self.retrieve(desc).sources[:3]]
        more_titles, more_texts = self.digests([p for p in ranked if p not in texts])
        titles |= more_titles
        texts |= more_texts
        holds = {p for p in {*pool, *ranked} if all(t in texts.get(p, "") for t in terms)}
        first = ranked[0] if ranked else ""
        if first not in pool and all(t in titles.get(first, "").lower() for t in terms):
            # "the judge model one" after a list without CompassJudger: the search's first paper
            # says it in its title, a surer mark than a listed digest that mentions judges.
            return first, True
        if len(in_pool := [p for p in pool if p in holds]) == 1:
            return in_pool[0], False
        for p in ranked:
            if p in pool:
                return p, False
            if p in holds:
                return p, True
        return None, False

    @staticmethod
    def _names_paper(title: str, paper_id: str, question: str) -> bool:
        """The question names the paper: its id, its short name, a name in its title, or the
        capitalised word its title starts with ("Baichuan Alignment Technical Report")."""
        first = (title.split() or [""])[0]
        return (
            paper_id in question
            or question_names_title(title, question)
            or title_has_identifier(title, question)
            or (
                len(first) >= 4
                and first[0].isupper()
                and re.search(rf"\b{re.escape(first)}\b", question) is not None
            )
        )
