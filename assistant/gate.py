"""The refusal gate: does anything retrieved actually support an answer?

A cosine threshold alone cannot tell near-topic out-of-corpus questions from answerable ones
(see DESIGN.md), so the gate combines specific evidence in a logistic model calibrated on
labelled questions (eval/calibrate_gate.py writes gate_calibration.json):
  - dense: best chunk cosine, its margin over the runner-up, best sentence cosine;
  - lexical: how much of the question's distinctive (high-IDF) vocabulary occurs in the best
    paper, separately for Chinese words and ASCII terms, and how much occurs nowhere at all."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher, get_close_matches
from pathlib import Path

import numpy as np

from .condense import COMPARES
from .prompt import count_tokens
from .records import Source
from .retrieve import ARXIV_ID, IDENTIFIER, STEMMER, Retrieval, quotes_title, short_name
from .sentences import SentenceVectors
from .sparse import idf as term_idf
from .text import (
    CJK_CHAR,
    MEASURES,
    PAPER_FACTS,
    STOPWORDS,
    asked_measures,
    asked_paper_facts,
    asks_for_quantity,
    asks_for_value,
    content_terms,
    count_pattern,
    counted_noun,
    dictionary_word,
    is_cjk_term,
    token_set,
    tokenize,
    wants_several,
)
from .verify import quantities

CALIBRATION_FILE = Path(__file__).with_name("gate_calibration.json")


@dataclass
class GateFeatures:
    top_cos: float
    margin: float
    sent_cos: float
    cov_cjk: float
    cov_ascii: float
    oov: float
    has_cjk: float
    has_ascii: float
    best_idf: float  # rarest question term the best paper contains (1 = unique to it)
    miss_cjk: float  # rarest Chinese question word the best paper lacks
    miss_ascii: float  # rarest known ASCII term the best paper lacks (e.g. another benchmark)
    id_match: float  # the question names the best paper's arXiv id
    dense_z: float  # how far the best paper stands out from the candidate pool (z-score)
    sent_z: float  # how far the best sentence stands out from the candidate sentences

    def vector(self) -> np.ndarray:
        return np.asarray(list(asdict(self).values()), dtype=np.float64)


FEATURES = list(GateFeatures.__dataclass_fields__)


def paper_tokens(src: Source, sentences: dict[str, SentenceVectors]) -> frozenset[str]:
    """The words a paper has, as BM25 reads them: a digest writing "LoRAs" has LoRA. The whole
    digest, not only the chunk that ranked it: "What is Transfusion?" finds MoT by a chunk
    that does not say Transfusion, and the gate read the name as missing."""
    sv = sentences.get(src.paper_id)
    whole = "\n".join(sv.texts) if sv is not None else ""
    text = f"arXiv {src.paper_id}\n{src.title}\n{src.title_zh}\n{src.text}\n{whole}"
    return token_set(text, singulars=True)


_LATIN_LETTER = re.compile(r"[A-Za-z]")


def written_in_chinese(src: Source, sentences: dict[str, SentenceVectors]) -> bool:
    """Whether a paper's summary is Chinese (the seeds), rather than English with perhaps a
    Chinese title: a tenth of its letters are Chinese characters."""
    sv = sentences.get(src.paper_id)
    text = "\n".join(sv.texts) if sv is not None and sv.texts else src.text
    cjk = len(CJK_CHAR.findall(text))
    return cjk >= 0.1 * (cjk + len(_LATIN_LETTER.findall(text)))


# How a paper relates to a name it is asked about ("Which papers evaluate on LLFF?"), not what
# it is about: a Chinese digest says 在 LLFF 上的实验, never "evaluate".
_RELATION_STEMS = frozenset(
    "evalu test experi experiment benchmark report run ran appli employ adopt leverag reli "
    "build built includ involv featur cite train measur assess examin valid tri".split()
)


def holds_every_word(
    question: str, sources: list[Source], sentences: dict[str, SentenceVectors]
) -> bool:
    """Every cited digest has every word the question asks about, but for the words that say
    how a paper relates to it: "Which papers mention Claude?" citing the two digests that name
    Claude, "Which papers evaluate on LLFF?" the one with LLFF."""
    terms = [t for t in content_terms(question) if STEMMER.stemWord(t) not in _RELATION_STEMS]
    return bool(terms and sources) and all(
        set(terms) <= paper_tokens(src, sentences) for src in sources
    )


def _fold(text: str) -> str:
    """A name as compared: lower case, without spaces, hyphens or underscores, so "Llama 3.1 8B"
    in a digest counts as naming "Llama-3.1-8B" in a question."""
    return re.sub(r"[\s_\-]+", "", text.lower())


def _source_parts(src: Source, sentences: dict[str, SentenceVectors]) -> list[str]:
    """Everything a source says: its titles, its chunk and its sentences."""
    sv = sentences.get(src.paper_id)
    return [src.title, src.title_zh, src.text, *(sv.texts if sv is not None else [])]


def _source_text(src: Source, sentences: dict[str, SentenceVectors]) -> str:
    """Everything a source says, folded for exact-name checks (sentences kept apart)."""
    return "\n".join(_fold(p) for p in _source_parts(src, sentences))


def _sources_text(sources: list[Source], sentences: dict[str, SentenceVectors]) -> str:
    return "\n".join(_source_text(src, sentences) for src in sources)


_ORDINAL_NUMBER = re.compile(r"\d+(?:st|nd|rd|th)", re.IGNORECASE)  # "the 12th one"


def _names(question: str) -> set[str]:
    """Exact names (identifiers) in a question (GPT-4o, Mind2Web), not arXiv ids."""
    # An arXiv id names a paper, with or without its version (2410.16268v2), not a thing; taken
    # out whole first, as IDENTIFIER would read "math.AG/0601001" as the name "math.AG".
    unids = ARXIV_ID.sub(" ", question)
    found = {_DESCRIBED_BY.sub("", m.group(0).strip(".-")) for m in IDENTIFIER.finditer(unids)}
    return {n for n in found if _is_name(n) and not _ORDINAL_NUMBER.fullmatch(n)}


# "CLIP-style training", "GPT-4-like", "BERT-based": the name is what comes before.
_DESCRIBED_BY = re.compile(r"-(?:style|like|based|type|esque|level|sized|scale)$", re.I)


# Capitals that name a benchmark or model (MMMU; GSM8K is an identifier already). Only a number
# question's are checked: "What is RLHF?" may be answered by a digest that says 人类反馈强化学习,
# but a score "on MMMU" can only come from a digest that names MMMU. Measures (GPU) have their
# own rule.
_ACRONYM = re.compile(r"(?<![A-Za-z0-9&.\-])[A-Z]{3,8}s?(?![A-Za-z0-9&\-]|\.[A-Za-z0-9])")
_NOT_ACRONYMS = frozenset(
    {"PDF", "URL", "API", "FAQ", "TLDR", "ASAP", "GPU", "TPU", "CPU", "USD", "SOTA"}
)


def _acronyms(question: str) -> set[str]:
    """All-capital words (MMMU, VQA): names when not every word of the question shouts."""
    # Shouting is English in capitals ("WHAT IS THE SCORE ON MMMU"); "PUMA 的 FID 是多少？" has
    # no lower case either, as Chinese has none, and was answered with two PUMA sentences.
    words = re.findall(r"[A-Za-z]+", question)
    if all(w.isupper() for w in words) and any(w.lower() in STOPWORDS for w in words):
        return set()
    found = {m.group(0) for m in _ACRONYM.finditer(question)}
    return {a for a in found if a.rstrip("s") not in _NOT_ACRONYMS and a.lower() not in STOPWORDS}


def _asked_names(question: str) -> set[str]:
    """Exact names a number question asks about; empty for other questions."""
    return _names(question) | _acronyms(question) if asks_for_quantity(question) else set()


# A version after a name: "PUMA 2", "OpenCoder 2.0", "SAM2Long v3". Not a count ("Pangea 39
# languages", "Pangea 39 种语言") nor a size ("Llama 3 8B" keeps "Llama 3"): the next word may
# only be one that asks about it.
_VERSIONED = re.compile(
    r"(?<![A-Za-z0-9_.\-])([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)\s+([vV]?\d{1,2}(?:\.\d{1,2})?)"
    r"(?![A-Za-z0-9_.%])"
    r"(?!\s*(?:[种个篇项次张倍亿万千百组类层步轮位名条份天年月]|小时|(?!(?:about|exists?|is|was|does|do"
    r"|did|has|have|had|and|or|vs|versus|from|in|on|out|released|available|new|better|improves?"
    r"|adds?|changes?|differs?)\b)[A-Za-z]))",
)


def versioned_names(question: str, sources: list[Source]) -> set[str]:
    """Names with a version the question asks about ("What is PUMA 2?"), of a name that is
    one: mixed case or a digit (OpenCoder, SAM2Long), capitals (PUMA), or a retrieved paper's
    short name (Pangea). "Python 3" and "Table 2" are not checked. Without this, "PUMA 2" was
    answered as PUMA, a paper that never mentions a second version."""
    shorts = {n.lower() for src in sources if (n := short_name(src.title)) is not None}
    out = set()
    for m in _VERSIONED.finditer(question):
        base = m.group(1)
        if _is_name(base) or (base.isupper() and len(base) >= 3) or base.lower() in shorts:
            out.add(f"{base} {m.group(2)}")
    return out


def unnamed_in_sources(
    question: str,
    sources: list[Source],
    sentences: dict[str, SentenceVectors],
    doc_freq: dict[str, int],
) -> list[str]:
    """Names the question asks about that none of the sources mention.

    "What accuracy does GPT-4o reach on HalluEditBench?" retrieves the HalluEditBench paper,
    which scores well on every signal the gate has; but if its digest never names GPT-4o it
    cannot hold that number, and an extractive answer would quote some other figure. Only
    exact names (identifiers) are checked — they are spelled the same in both languages: every
    name of a question whose answer is a number, where quoting the wrong sentence misleads;
    of any other question, the names no digest has as a word ("What is FooNet-9?" quoted
    BitNet a4.8 on dense support alone). A name spelled apart in a digest ("Llama 3.1 8B" for
    Llama-3.1-8B) is no word of the vocabulary but is found in the sources' folded text."""
    versioned = versioned_names(question, sources)
    # "v3" of "SAM2Long v3" is no name of its own.
    asked = (_names(question) - {v.split()[-1] for v in versioned}) | versioned
    unknown = {n for n in asked if not _known(n, doc_freq)}
    names = _asked_names(question) | unknown
    if not sources:
        return []
    # "Which paper reports a 67.5% success rate?": a share the question gives is asked about
    # as exactly as a name; none of the sources stating it, they were quoted for their other
    # figures (a corpus maintainer test).
    shares = [q for q in quantities(ARXIV_ID.sub(" ", question)) if q.text.endswith(("%", "％"))]
    if shares:
        said = "\n".join(p for src in sources for p in _source_parts(src, sentences))
        stated = {round(q.value, 2) for q in quantities(said)}
        names |= {q.text for q in shares if round(q.value, 2) not in stated}
    if not names:
        return []
    # Substring, not token, match: "CLIP-ViT-L" must count as named in "CLIP-ViT-L/14".
    have = _sources_text(sources, sentences)
    missing = {n for n in names if not any(f in have for f in _forms(n))}
    if sizes := {n for n in missing if _SIZE.fullmatch(n)}:
        # "47B" is a size, not a name: a digest that says "470 亿参数" states it. Compared by
        # value, as the claim check compares numbers.
        said = "\n".join(p for src in sources for p in _source_parts(src, sentences))
        stated = {round(q.value) for q in quantities(said)}
        missing -= {n for n in sizes if any(round(q.value) in stated for q in quantities(n))}
    return sorted(missing)


def unnamed_in_subject(
    question: str,
    subject: list[Source],
    sources: list[Source],
    sentences: dict[str, SentenceVectors],
) -> list[str]:
    """The names a follow-up asks about when the chat's papers it points back to mention none
    of them: "它用的是哪个基础大模型，GPT-4 还是 Claude？" of Agent K, whose digest names neither,
    cited ScaleQuest, whose digest names both (the chat UI user test)."""
    # Not "它和 PUMA 有什么区别": a paper compared with is no detail of the chat's one. Nor an
    # acronym ("the previous open-source SOTA").
    if not subject or wants_several(question) or COMPARES.search(question):
        return []
    names = {n for n in _names(question) if not any(_fold(n) in _fold(s.title) for s in sources)}
    if not names:
        return []
    have = _sources_text(subject, sentences)
    if any(f in have for n in names for f in _forms(n)):
        return []
    return sorted(names)


# A model or data size written as one word: 47B, 7b, 1.5M, 100K (verify.quantities reads its
# value).
_SIZE = re.compile(r"\d+(?:\.\d+)?[KMB]", re.IGNORECASE)


def unknown_names(question: str, doc_freq: dict[str, int]) -> list[str]:
    """Names in the question (GPT-4o, AndriodLab) that no digest has as a word."""
    return sorted(n for n in _names(question) if not _known(n, doc_freq))


def _forms(name: str) -> list[str]:
    """A name as a digest may write it: folded, and without an English plural ("32 A800s")."""
    folded = _fold(name)
    return [folded, folded[:-1]] if folded.endswith("s") and len(folded) > 3 else [folded]


def _known(name: str, doc_freq: dict[str, int]) -> bool:
    return any(f in doc_freq for f in _forms(name)) or name.lower() in doc_freq


def _digits(text: str) -> str:
    return "".join(sorted(c for c in text if c.isdigit()))


def respell(names: list[str], sources: list[Source]) -> dict[str, str]:
    """Names the question misspelt, mapped to the short name of a retrieved paper one or two
    letters away ("SAM2Lnog" -> "SAM2Long", "AndriodLab" -> "AndroidLab"). Only papers' short
    names are candidates, never any word of the digests: "GPT-4" is not a typo of "GPT-4o"."""
    if not names:
        return {}
    candidates = {n for src in sources if (n := short_name(src.title)) is not None}
    # A title with no colon may still start with its name: "OmniParser for Pure Vision …".
    candidates |= {w for src in sources if _is_name(w := (src.title.split() or [""])[0])}
    out: dict[str, str] = {}
    for name in names:
        if len(name) < 5:
            continue
        scored = [
            (SequenceMatcher(None, name.lower(), c.lower()).ratio(), c)
            for c in candidates
            # Not "OpenCoder-2" for OpenCoder: another number is another model, not a typo.
            if abs(len(c) - len(name)) <= 2
            and c.lower() != name.lower()
            and _digits(c) == _digits(name)
        ]
        best = max(scored, default=(0.0, ""))
        if best[0] >= 0.8:
            out[name] = best[1]
    return out


def respell_words(question: str, doc_freq: dict[str, int]) -> dict[str, str]:
    """Plain English words no digest has, mapped to the one word of the digests a letter or
    two away ("quantizaton" -> "quantization", "reinforcment" -> "reinforcement"). Only long
    lower-case words: a name is respelt against the papers' names (respell), and a short word
    is too close to too many others. A word the LLM tokenizer (cl100k) knows as one or two
    pieces is English as written, not a typo: "imagines" is no "images", nor "screenshot"
    "screenspot"; a typo breaks into three or more, and the word meant into fewer."""
    out: dict[str, str] = {}
    for word in set(re.findall(r"(?<![\w\-])[a-z]{6,}(?![\w\-])", question)):
        if word in doc_freq or word in STOPWORDS or (pieces := count_tokens(f" {word}")) < 3:
            continue
        # get_close_matches prunes by cheap upper bounds before the full ratio: the vocabulary
        # of a large index has many thousands of words.
        near = [w for w in doc_freq if abs(len(w) - len(word)) <= 2 and w.isascii() and w.isalpha()]
        close = get_close_matches(word, near, n=2, cutoff=0.85)
        ratios = [SequenceMatcher(None, word, w).ratio() for w in close]
        unique = len(close) == 1 or (len(close) == 2 and ratios[1] < ratios[0])
        if unique and count_tokens(f" {close[0]}") < pieces:
            out[word] = close[0]
    return out


# "WebRL 在 Mind2Web 上的结果怎么样？", "How does WebRL perform on Mind2Web?": a result on a
# benchmark is asked for, if not as a number.
_RESULT_ON = re.compile(
    r"(?:在|于)\s*[\w.\-]+(?:\s+[\w.\-]+)?\s*(?:上|中)(?:的)?\s*(?:结果|表现|效果|性能|成绩|得分|分数)"
    r"|\b(?:results?|performance|perform(?:s|ed)?|score[sd]?)\b[^?？]{0,30}\bon\b",
    re.IGNORECASE,
)
# Names asked of each paper apart: "WebRL 和 AndroidLab 的成功率提升分别是多少？"
_APART = re.compile(r"分别|各自|各是|\brespectively\b|\beach\b", re.IGNORECASE)


def unpaired_names(
    question: str, sources: list[Source], sentences: dict[str, SentenceVectors]
) -> list[str]:
    """Names a number question pairs ("WebRL on Mind2Web", "GPT-4o on HalluEditBench") that
    the sources mention only apart: each is named by some paper, none names them together, so
    no digest can hold the number for the pair. Empty when one source names them all. A result
    asked "on" a benchmark pairs its names too; and a paper's own name pairs with the others
    in that paper's digest alone (Mind2Web in WMA's is no result of WebRL's)."""
    names = _asked_names(question) or (_names(question) if _RESULT_ON.search(question) else set())
    if not sources or len(names) < 2:
        return []
    titled = {n for n in names if any(_fold(n) in _fold(src.title) for src in sources)}
    if titled == names and (_APART.search(question) or COMPARES.search(question)):
        return []  # papers asked about each in turn, or compared: each digest answers for itself
    if titled and (others := names - titled):
        # Benchmarks asked of the papers named by title: one of those papers must name them.
        owners = [src for src in sources if any(_fold(n) in _fold(src.title) for n in titled)]
        texts = [_source_text(src, sentences) for src in owners]
        return [] if any(all(_said(n, t) for n in others) for t in texts) else sorted(names)
    texts = [_source_text(src, sentences) for src in sources]
    if any(all(_said(n, t) for n in names) for t in texts):
        return []
    return sorted(names)


def _said(name: str, folded_text: str) -> bool:
    # "H100s" is said by "4 张 H100 GPU" (a corpus maintainer test: refused as unpaired).
    return any(f in folded_text for f in _forms(name))


PAPER_WORDS = re.compile(
    r"\b(?:paper|papers|article|work|study|survey|report|preprint|arxiv)\b"
    r"|论文|文章|这篇|那篇|该文|此文|报告|工作|综述|研究",
    re.IGNORECASE | re.ASCII,
)


# A work's title in Chinese book-title marks: 《Attention Is All You Need》.
_BOOK_TITLE = re.compile(r"《([^《》]{2,200})》")


def unindexed_titles(question: str, sources: list[Source]) -> list[str]:
    """Titles the question writes in 《》 that no retrieved paper has: "《Attention Is All You
    Need》这篇论文提出了什么？" asks about that paper alone, and with it not indexed, any other
    paper quoted would be passed off as it. A quoted title is held when a source's title, in
    either language, has at least half of its words (《PUMA》, a shortened or translated
    title)."""
    out: list[str] = []
    titles = [token_set(f"{src.title} {src.title_zh}") for src in sources]
    asked = [m.group(1) for m in _BOOK_TITLE.finditer(question)] + papers_asked_if_held(question)
    for name in asked:
        words = set(content_terms(name)) - _GENERIC_TITLE_WORDS
        if words and not any(len(words & held) * 2 >= len(words) for held in titles):
            name = re.sub(r"^(?:the|a|an)\s+|\s*(?:\bpaper|论文)$", "", name.strip(), flags=re.I)
            out.append(name)
    return out


def papers_asked_if_held(question: str) -> list[str]:
    """The papers a question asks whether the collection holds: "Is the Llama 3 technical
    report in your collection?" (it was answered from three papers that mention Llama, the
    researcher user test), "有没有收录 Llama 3 技术报告". Only a paper ("… paper", "… report") or
    a title (three capitalised words): "Do you have anything about Sora?" asks for a topic."""
    return [
        name
        for m in _ASKED_HELD.finditer(question)
        if (name := next(g for g in m.groups() if g is not None))
        and (_PAPER_WORD.search(name) or len(re.findall(r"\b[A-Z][\w\-]*", name)) >= 3)
    ]


# A paper asked about by whether the collection holds it.
_ASKED_HELD = re.compile(
    r"\b(?:is|are)\s+(.{3,80}?)\s+(?:in|among|part\s+of)\s+(?:your|the|this)\s+"
    r"(?:collection|digests?|library|index|corpus|database)\b"
    r"|\bdo\s+(?:you|the\s+digests?)\s+(?:have|hold|include|cover)\s+(.{3,80}?)\s*(?:[?.,;]|$)"
    r"|(?:有没有|是否|有无)(?:收录|包含|包括)(?:了)?([^？?，,。]{2,60})",
    re.IGNORECASE,
)
_PAPER_WORD = re.compile(r"\b(?:paper|report|article|preprint)\b|论文|报告|文章", re.IGNORECASE)
# Words any title may have: "the Llama 3 technical report" is held only by a title with Llama 3,
# not by "Baichuan Alignment Technical Report".
_GENERIC_TITLE_WORDS = frozenset(
    "paper papers report technical article preprint 论文 报告 技术报告 文章 这篇 那篇".split()
)


def _about_a_paper(question: str, sources: list[Source]) -> bool:
    """The question names a paper (id, short name, unique name, written-out title) or says
    paper/论文/这篇; read only for a question asking who wrote something."""
    return bool(PAPER_WORDS.search(question)) or any(
        src.named or quotes_title(src, question) for src in sources
    )


def stated_measures(
    question: str,
    sources: list[Source],
    sentences: dict[str, SentenceVectors],
    about_paper: bool = False,
    subject: list[Source] | None = None,
) -> tuple[list[str], list[str]]:
    """(stated, unstated) of what the question asks: measures (keys of text.MEASURES) it asks a
    number for, and facts (keys of text.PAPER_FACTS: authors, venue) it asks for. Unstated is
    what none of the sources states: "How many GPUs were used to train OS-Atlas?" when its
    digest never names any hardware; "Who wrote PUMA?" when its digest names no author.
    `about_paper`: the question was read in a chat as being about its papers ("who are the
    authors" after "What's MM-Detect?"). `subject`: the chat's papers a follow-up points back
    to ("它训练用了多少张GPU？"), which alone can state it, as a paper the question names."""
    # "What learning rate…" asks for a number without "how many"; "whatever" does not.
    asked = asked_measures(question) if asks_for_value(question) else []
    # Who wrote a *paper*: "Sora 是哪家公司的？" asks about a model a digest names with its
    # maker ("OpenAI 的 Sora"), which retrieval can quote.
    facts = asked_paper_facts(question)
    if facts and not (
        about_paper
        or PAPER_WORDS.search(question)
        or any(src.named or quotes_title(src, question) for src in sources)
    ):
        # A base model is always some work's: "Agent K 用的底座大模型是哪一个？" names Agent K
        # in a way retrieval does not mark (no title word), and is read of the best source.
        facts = [f for f in facts if f == "base_model"]
    if not sources or not (asked or facts):
        return [], []
    # "给我 Breaking the Memory Barrier 的 github 链接": only the paper named can state its link;
    # another source's would be passed off as its.
    named = [src for src in sources if src.named or quotes_title(src, question)] or subject or []
    parts: list[str] = []
    for src in named or sources:
        parts.append(src.text)
        sv = sentences.get(src.paper_id)
        if sv is not None:
            parts += sv.texts
    # Links say nothing of authors or hardware: ".../Android-Lab" is no lab. A link is asked
    # for as such.
    raw = "\n".join(parts)
    text = re.sub(r"\S*(?:https?://|www\.)\S*", " ", raw)
    said = {m for m in asked if MEASURES[m][1].search(text)} | {
        f for f in facts if PAPER_FACTS[f][1].search(raw if f in ("link", "code") else text)
    }
    if "base_model" in said and not named:
        # Unnamed, the best paper's own digest must name it: another source's "GPT-4" is no
        # base model of this one.
        best = "\n".join(_source_parts(sources[0], sentences))
        if not PAPER_FACTS["base_model"][1].search(best):
            said.discard("base_model")
    wanted = [*asked, *facts]
    return [w for w in wanted if w in said], [w for w in wanted if w not in said]


def uncounted(
    question: str, sources: list[Source], sentences: dict[str, SentenceVectors]
) -> list[str]:
    """What a "how many" question counts, when the digest it is about says it but never gives
    a count of it: "SAM2Long 每帧保留多少条分割路径？" of a digest that keeps "固定数量的分割路径"
    was answered with two sentences and no number. The digest is the named paper's (else the
    best source's) alone: another paper's count is no answer. A noun the digest never uses
    ("How many participants" of a Chinese digest) is left to the gate."""
    stem = counted_noun(question)
    if stem is None or not sources:
        return []
    counts = count_pattern(stem, in_words=True)
    about = [src for src in sources if src.named or quotes_title(src, question)] or sources[:1]
    for src in about:
        sv = sentences.get(src.paper_id)
        text = "\n".join([src.text, *(sv.texts if sv is not None else [])])
        if stem not in text.lower() or counts.search(text):
            return []
    return [stem]


# Fewer unknown words than this leave it to the gate: one English word ("hallucination") is
# often in the digests only in Chinese (幻觉), and e5 finds it there.
UNKNOWN_MIN_TERMS = 3
_NUMBER_TERM = re.compile(r"[\d.,%]+")  # a term that is a number: 804, 3.5, 40%


def unknown_terms(
    question: str,
    sources: list[Source],
    sentences: dict[str, SentenceVectors],
    doc_freq: dict[str, int],
) -> list[str]:
    """The question's words when it has several and not one occurs in any digest ("lorem
    ipsum dolor sit amet", "recommend a good laptop"), else []. Only the dense cosines would
    speak for such a question, and e5 ranks nonsense about as close to a digest as a real
    question (0.84 for "lorem ipsum…"): the gate gave it 0.55. English questions about these
    papers share some word with the digests, which carry English titles and terms: the one
    answerable dev question that shares none (q083) is refused by the gate anyway. A name the
    sources spell another way ("Qwen2VL" for Qwen2-VL) is known."""
    # A fragment jieba made up from what its dictionary lacks ("做文生" of "做文生图") says
    # nothing of whether the digests know the words.
    terms = [t for t in content_terms(question) if dictionary_word(t)]
    # A number reads the same in both languages: one unknown number is enough ("123456").
    numbers_only = all(_NUMBER_TERM.fullmatch(t) for t in terms)
    if (len(terms) < UNKNOWN_MIN_TERMS and not numbers_only) or any(t in doc_freq for t in terms):
        return []
    names = [t for t in terms if _is_name(t)]
    if names and sources:
        have = _sources_text(sources, sentences)
        if any(_fold(t) in have for t in names):
            return []
    return terms


# What people type to see whether it works. "测试" and "world" are words of the digests
# (基准测试, World Model), so alone they picked papers: only the whole input counts.
_TRYING_IT = re.compile(
    r"(test(ing)?|just testing|ping|hello,? world|测试(一下)?|试试|试一下|你好[，,]?世界"
    r"|help( me)?|usage|how (do i )?use (this|it|you)|帮助|怎么用|如何使用|使用说明"
    r"|what can you do|what do you do|你能做什么|你会什么|你可以做什么|能做什么)"
    r"[\s\d.!?！？。]*",
    re.IGNORECASE,
)
# A turn closed: every word one of these, at least one of them a thanks or a goodbye.
_CLOSING = re.compile(
    r"thank|thx|\bty\b|cheers|bye|got it|understood|谢|感谢|再见|拜拜|明白|知道了|懂了|先这样"
    r"|就这些|就这样|没有了|没问题了",
    re.IGNORECASE,
)
_CLOSING_WORDS = frozenset(
    """thanks thank thx ty you u so very much a lot many cheers bye goodbye see ya later ok
    okay cool great perfect nice awesome good helpful that that's thats s was is it this got
    understood clear for the help answer info your again all lol haha useful now that's all
    for now much appreciated appreciate helps helped exactly what i needed wanted was
    谢谢 谢 感谢 非常 非常感谢 多谢 好 好的 明白 明白了 了 懂 懂了 知道 知道了 再见 拜拜
    回答 你 您 的 帮助 帮忙 辛苦 啦 哈 嗯 行 可以 太 有用 很 解答 有 有帮助 先 这样 先这样
    就 这些 收到 这样 没有 没 问题 了 太有 清楚 很清楚 清楚了""".split()
)


def trying_it(question: str) -> bool:
    """ "test", "testing 123", "hello world", "测试一下", "help": the whole input tries the box
    out or asks how to use it."""
    return bool(_TRYING_IT.fullmatch(question.strip()))


def thanks(question: str) -> bool:
    """ "谢谢", "thanks!", "Perfect, thanks!", "好的，明白了，谢谢", "bye": the whole input closes
    a turn; mid-chat it is no follow-up on the paper before, which would quote it again."""
    words = [w.lower() for w in tokenize(question, for_search=False)]
    return (
        bool(words)
        and bool(_CLOSING.search(question))
        and all(w in _CLOSING_WORDS or all(c in "谢哈嗯啦" for c in w) for w in words)
    )


# "ok", "好的", "I see": the answer was read; nothing asked, nothing to thank for.
_ACK = re.compile(
    r"^(?:ok(?:ay)?|k|alright|all right|i see|cool|great|nice|perfect|noted|sure|fine|good"
    r"|好|好的|好吧|好滴|好哒|好嘞|嗯|嗯嗯|哦|噢|行|可以|了解|了解了|收到|明白|懂了|原来如此)$",
    re.IGNORECASE,
)


def acknowledges(question: str) -> bool:
    """ "ok", "好的", "I see", "嗯嗯": the whole input acknowledges the answer. Mid-chat it is
    no follow-up on the paper before, which would quote it again."""
    text = re.sub(r"[\s\W_]+$|^[\s\W_]+", "", question.strip())
    parts = [p for p in re.split(r"[\s,，.。!！~～、]+", text) if p]
    return bool(_ACK.match(text)) or (bool(parts) and all(_ACK.match(p) for p in parts))


# A SQL injection people type to see what breaks ("'; DROP TABLE papers; --", "1 OR 1=1"):
# its words picked PyramidDrop (drop) and got the model's "list every paper".
_INJECTION = re.compile(
    r"\b(?:drop|truncate)\s+table\b|\b(?:or|and)\s+(\d+|'\w*')\s*=\s*\1|;\s*--|'\s*;",
    re.IGNORECASE,
)


def is_injection(question: str) -> bool:
    return bool(_INJECTION.search(question))


def asks_nothing(question: str) -> bool:
    """ "hi", "谢谢！", "what?", "模型", "test": no word that could pick a paper (every word a
    stopword or a single Chinese character) and no identifier, or a known way of trying the
    box out. Retrieval would still rank some paper first, and the gate, fitted on real
    questions, has nothing to judge such input by."""
    if trying_it(question) or is_injection(question):
        return True
    terms = content_terms(question)
    if terms and all(_noise(t) for t in terms):
        return True  # "xxxxxxxx…", "哈哈哈哈": a key held down, no word
    return not terms and not IDENTIFIER.search(question)


# The letter rows of a QWERTY keyboard, each way: "asdfgh", "qwerty", "lkjh" run along one.
_KEY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEY_RUNS = _KEY_ROWS + tuple(row[::-1] for row in _KEY_ROWS)


def _noise(term: str) -> bool:
    """One or two characters repeated ("xxxxxx", "abababab", "哈哈哈哈"), or a run of four or
    more neighbouring keys ("asdfgh", "qwerty"): a key held down or a hand run along the
    keyboard, no word. Repeated, not merely made of two letters: "MLLM" is a word."""
    if len(term) < 4 or term.isdigit():
        return False
    return term == (term[:2] * len(term))[: len(term)] or any(term in row for row in _KEY_RUNS)


def _is_name(term: str) -> bool:
    """GPT-4o, Mind2Web, Qwen2-VL, SA-1B, HalluEditBench, Llama-3: a capital after the first
    letter, letters and digits in one word, or a capitalised word with a number. Not hyphenated
    words (wall-clock, 39-language)."""
    word_with_digit = any(
        any(c.isdigit() for c in w) and any(c.isalpha() for c in w) for w in re.split(r"\W", term)
    )
    numbered = term[:1].isupper() and any(c.isdigit() for c in term)
    return len(term) >= 2 and (word_with_digit or numbered or any(c.isupper() for c in term[1:]))


def _zscore(pool: list[float]) -> float:
    """Peakedness: an answerable question's best match stands out from the rest of the
    candidates; an out-of-corpus one matches everything about equally (e5 cosines all sit
    near 0.8, so absolute values say little)."""
    if len(pool) < 3:
        return 0.0
    arr = np.asarray(pool)
    return float((arr.max() - arr.mean()) / (arr.std() + 1e-6))


def compute_features(
    question: str,
    ret: Retrieval,
    sentences: dict[str, SentenceVectors],
    doc_freq: dict[str, int],
    n_docs: int,
) -> GateFeatures:
    sources, query_vec = ret.sources, ret.query_vec
    if not sources:
        return GateFeatures(0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)
    cosines = sorted((s.dense_score or 0.0 for s in sources), reverse=True)
    top_cos = cosines[0]
    margin = top_cos - (cosines[1] if len(cosines) > 1 else 0.0)
    sent_cos = 0.0
    for src in sources[:3]:
        sv = sentences.get(src.paper_id)
        if sv is not None and len(sv.vectors):
            sent_cos = max(sent_cos, float((sv.vectors @ query_vec).max()))

    terms = content_terms(question)
    best = paper_tokens(sources[0], sentences)
    if len(named := [src for src in sources if src.named]) > 1:
        # "Compare Pangea and ReCapture": each name is in only one of the papers asked about;
        # together they cover the question.
        best = frozenset().union(*(paper_tokens(s, sentences) for s in named))
    elif wants_several(question):
        # "Which papers are about agents?" has several answers: the words may be in any of the
        # first papers. The first by fusion (Agent K, a data-science agent) says only 智能体;
        # the next ones have "Agents" in their titles.
        best = frozenset().union(*(paper_tokens(s, sentences) for s in sources[:3]))
    n = max(n_docs, 1)

    def idf(t: str) -> float:
        return term_idf(t, doc_freq, n)

    def coverage(group: list[str]) -> float:
        total = sum(idf(t) for t in group)
        return sum(idf(t) for t in group if t in best) / total if total else 1.0

    cjk = [t for t in terms if is_cjk_term(t)]
    asc = [t for t in terms if not is_cjk_term(t)]
    if cjk and not written_in_chinese(sources[0], sentences):
        # A Chinese question about an English digest: its Chinese words cannot be in it, so
        # they say nothing either way; its names (ASCII) and the multilingual embeddings do.
        # "VideoQA-Mini 在 EgoSchema 上得分多少？" was refused at 0.16 for 得分 and 多少, though
        # it names the paper and the benchmark.
        cjk, terms = [], asc
    total = sum(idf(t) for t in terms)
    oov = sum(idf(t) for t in terms if t not in doc_freq) / total if total else 0.0
    top_idf = math.log((n + 1) / 1.5)  # a term in exactly one chunk

    def rarest(group: list[str]) -> float:
        return max((min(idf(t) / top_idf, 1.0) for t in group), default=0.0)

    known = [t for t in terms if t in doc_freq]
    return GateFeatures(
        top_cos=top_cos,
        margin=margin,
        sent_cos=sent_cos,
        cov_cjk=coverage(cjk),
        cov_ascii=coverage(asc),
        oov=oov,
        has_cjk=float(bool(cjk)),
        has_ascii=float(bool(asc)),
        best_idf=rarest([t for t in known if t in best]),
        miss_cjk=rarest([t for t in cjk if t not in best]),
        miss_ascii=rarest([t for t in asc if t in doc_freq and t not in best]),
        id_match=float(sources[0].paper_id in question),
        dense_z=_zscore(ret.dense_pool),
        sent_z=_zscore(ret.sentence_pool),
    )


class RefusalGate:
    """Logistic model over GateFeatures; P(answerable) below the threshold means refuse."""

    def __init__(
        self,
        weights: dict[str, float],
        bias: float,
        mean: dict[str, float],
        scale: dict[str, float],
    ) -> None:
        # Keyed by feature name: a calibration file from an older feature set still loads
        # (features it does not know get weight 0) until it is refitted.
        self.w = np.asarray([weights.get(f, 0.0) for f in FEATURES])
        self.b = bias
        self.mean = np.asarray([mean.get(f, 0.0) for f in FEATURES])
        self.scale = np.asarray([scale.get(f, 1.0) or 1.0 for f in FEATURES])

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> RefusalGate:
        data = json.loads(path.read_text())
        return cls(data["weights"], data["bias"], data["mean"], data["scale"])

    def probability(self, f: GateFeatures) -> float:
        z = float(((f.vector() - self.mean) / self.scale) @ self.w + self.b)
        return 1.0 / (1.0 + math.exp(-z))
