"""Answers without an LLM: the sentences of the retrieved papers that best answer the
question, each followed by its [n] marker."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .cite import MARKER
from .prompt import message
from .records import Source
from .retrieve import IDENTIFIER, STEMMER, name_words
from .sentences import SentenceVectors
from .sparse import idf
from .text import (
    GPU_NAMED,
    MEASURES,
    PAPER_FACTS,
    asked_measures,
    asked_paper_facts,
    asks_for_quantity,
    asks_for_value,
    content_terms,
    count_pattern,
    counted_noun,
    is_cjk_term,
    token_set,
    wants_several,
)


def defuse_markers(text: str) -> str:
    """A digest sentence that contains '[3]' (or '[^3]', '【3】': whatever cite.py reads as a
    marker) must not pose as one of our citations."""
    # Every bracket of the marker: "[[0]]" made "［[0]］", and the "[0]" inside still read as one
    # (found by the property test).
    full = str.maketrans("[]【】〔〕", "［］［］［］")
    return MARKER.sub(lambda m: m.group(0).translate(full), text)


_NUMBER = re.compile(r"\d")
# For "how many N": bonus for a sentence in which a number counts N ("评估了 53 个最先进的
# VLMs" over "包含 10,000 个…样本", both about the paper asked of and both with a number).
COUNT_BONUS = 0.04
_QUESTION_END = re.compile(r"[?？]")
# For a question that asks for a measure (GPUs, hours, parameters…): bonus for a sentence that
# states one, as for a number (0.03; 0.05 and 0.08 chose the same sentences on dev).
MEASURE_BONUS = 0.03
CUE = 0.05  # for questions that only name papers: bonus for a contribution cue, penalty for a link
# A question asking for a paper's steps, stages or parts, and a sentence that enumerates them.
_ASKS_PARTS = re.compile(
    r"步骤|[几两三四五]步|阶段|哪几[个种部方]|哪些方面|几个部分|分为|分哪|能做(?:哪些|什么)|能干什么"
    r"|\b(?:steps?|stages?|phases?|components?|parts?)\b|\bwhat\s+can\b.*\bdo\b",
    re.IGNORECASE,
)
_LISTS_PARTS = re.compile(r"[(（]\s*1\s*[)）]|(?<![\d.])1\)|①|[：:]\s*1[.、]|首先")
_CONTRIBUTION = re.compile(
    r"提出|推出|引入|设计了|介绍了|本文|这项工作"
    r"|we (?:propose|present|introduce)|this (?:paper|work)",
    re.I,
)
_ASKS_WHAT_IT_IS = frozenset(
    "贡献 主要贡献 核心贡献 创新 创新点 亮点 核心 思想 核心思想 主要思想 主旨 要点 "
    "main key core idea ideas contribution contributions novelty novel gist".split()
)
# A question asking which datasets, benchmarks or baselines, and a sentence that names several
# ("在 LLFF、DTU 和 RealEstate-10K 上的实验表明…"). Without it, "FrugalNeRF 用了哪些数据集？"
# quoted "…从而充分利用训练数据" (cosine and the shared 数据) and not the sentence listing them.
LIST_BONUS = 0.05
_ASKS_NAMED_THINGS = re.compile(
    r"哪些(?:数据集|基准|评测|测试集|基线|任务|环境|平台)|在哪些[^?？，,]{0,12}上"
    r"|\b(?:which|what)\s+(?:\w+\s+)?(?:datasets?|benchmarks?|baselines?|test\s+sets?"
    r"|environments?|platforms?)\b|\b(?:evaluated|tested|benchmarked|experiments?)\s+on\b",
    re.IGNORECASE,
)
_LISTS_NAMES = re.compile(
    r"[A-Za-z][\w\-.&]*\s*(?:、|,|，|和|与|及|以及|\band\b|\bor\b)\s*[A-Za-z]", re.IGNORECASE
)
# Where names are what a paper was tested on: "在 … 上的实验", "experiments on …" ("如 FreeNeRF
# 和 SparseNeRF" lists methods it improves on).
_TESTED = re.compile(
    r"实验|评测|评估|测试|基准|数据集|benchmark|dataset|evaluat|experiment|tested", re.IGNORECASE
)


def lists_test_sets(sentence: str) -> bool:
    """The sentence names several things a paper was tested on."""
    return bool(_LISTS_NAMES.search(sentence) and _TESTED.search(sentence))


LINK = re.compile(r"https?://|github\.com|\.github\.io", re.I)
_URL = re.compile(r"https?://\S+|\S*github\.(?:com|io)\S*", re.I)
# A question that asks where to get something: a link is then the answer.
_ASKS_LINK = re.compile(
    r"\b(?:code|github|repo(?:sitory)?|links?|urls?|website|homepage|download"
    r"|open[- ]source[ds]?)\b|开源|代码|链接|地址|仓库|主页|网址|下载",
    re.I | re.ASCII,
)


def link_only(sentence: str, names: frozenset[str]) -> bool:
    """A sentence that only says where the paper's code or page is: a link, and no name
    besides the paper's own. "代码已在 https://github.com/… 发布" says nothing a question
    about the method asks, yet repeats the paper's name in its URL, which cosine rewards;
    "CompassJudger 和 JudgerBench 均已发布，并可在 https://…" also names JudgerBench."""
    if not LINK.search(sentence):
        return False
    rest = _URL.sub(" ", sentence)
    return all(m.group(0).lower() in names for m in IDENTIFIER.finditer(rest))


# English question words and the Chinese words digests use for them ("success rate": 成功率).
# The sentence a question asks for is picked partly by the question's words it holds, and an
# English question shares none with a Chinese digest: "What success rate does Agent K achieve?"
# quoted the medals, not "成功率达到 92.5%". Hand-made for the words questions about papers use;
# a full dictionary (CEDICT) was tried for retrieval and did not help.
_GLOSSARY: dict[str, tuple[str, ...]] = {
    k: tuple(v)
    for k, v in json.loads(Path(__file__).with_name("glossary.json").read_text("utf-8")).items()
    if not k.startswith("_")
}


def _said_in(term: str, tokens: set[str] | frozenset[str]) -> bool:
    """The sentence's tokens hold the term, or, for an English word, one of its Chinese ones."""
    if term in tokens:
        return True
    chinese = _GLOSSARY.get(STEMMER.stemWord(term), ()) if term.isascii() else ()
    return any(z in tokens for z in chinese)


def _names(source: Source) -> frozenset[str]:
    """The words a question uses to name a paper: its arXiv id and its titles."""
    return token_set(f"arXiv {source.paper_id}\n{source.title}\n{source.title_zh}")


def _score_sentences(
    question: str,
    query_vec: np.ndarray,
    sv: SentenceVectors,
    doc_freq: dict[str, int],
    n: int,
    source: Source,
    named: frozenset[str],
    first: bool = True,
) -> np.ndarray:
    """Cosine to the question, plus a bonus for the question's rarer words (exact names and
    numbers matter more than topic similarity). Words of the paper's own title are left out of
    that bonus: every sentence of the paper is about them, so they do not pick the answer.
    `named`: the words naming the papers the question names (see _names). `first`: the
    source is the best one, or each paper gets a sentence anyway (a "which papers" list)."""
    cos = sv.vectors @ query_vec
    title = _names(source)
    terms = [t for t in content_terms(question) if t not in title]
    if source.named:
        # A name only this digest uses ("HalluEditBench 的数据集包含多少个幻觉?") is how the
        # question names the paper: like its title, every sentence is about it, and its bonus
        # picked "我们提出了 HalluEditBench" over the sentence with 6,000 in it.
        own = token_set(source.text)
        names = name_words(question)  # WMA too, as retrieval reads it
        terms = [t for t in terms if not (t in names and doc_freq.get(t, 0) <= 1 and t in own)]
    bonus = np.zeros(len(sv.texts))
    held = [token_set(s) for s in sv.texts]  # each sentence's words, read once
    if asked := _ASKS_NAMED_THINGS.search(question):
        # "哪些数据集" asks for names; its words are the kind of answer, not in it: their
        # bonus went to "…充分利用训练数据" (数据) over the sentence listing the datasets.
        kind = token_set(asked.group(0))
        terms = [t for t in terms if t not in kind]
        # Only for the paper asked about, when the question names one: "WMA 在哪些基准上做了实验"
        # is not answered by AndroidLab's "开发了 Android 指令数据集，并训练了 LLMs 和 LMMs".
        # Not for a paper below the best, whose list would make it a close contender: "Papers
        # that ran experiments on A800 GPUs" then quoted NaturalBench's benchmark list too.
        if source.named or (not named and first):
            # Or names with the kind asked for: "Which platforms…" of "跨 Windows、Linux、MacOS、
            # Android 和 Web 等多个平台".
            bonus += LIST_BONUS * np.asarray(
                [
                    lists_test_sets(s)
                    or bool(_LISTS_NAMES.search(s) and any(_said_in(k, toks) for k in kind))
                    for s, toks in zip(sv.texts, held, strict=True)
                ]
            )
    # "SAM2Long 的主要贡献是什么?" asks what the paper is, as a bare name does: words that only
    # ask for the contribution pick no sentence (贡献 is rare in digests, which say 提出).
    asks_parts = bool(_ASKS_PARTS.search(question))
    if asks_parts:
        # "ReCapture 分哪两步？", "CompassJudger-1 能做哪些事情？": the sentence that lists them.
        bonus += CUE * np.asarray([bool(_LISTS_PARTS.search(t)) for t in sv.texts])
    if all(t in named or t in _ASKS_WHAT_IT_IS for t in terms) and not (asks_parts or asked):
        # The question only names papers ("Compare SAM2Long and Pangea", "What is
        # 2410.14059?"): nothing in it picks a sentence, and cosine to it favours whatever is
        # closest to a bare name, such as the code link that repeats it. A contribution cue
        # ("we propose", 本文提出) marks the sentence that says what the paper is.
        bonus += CUE * np.asarray([bool(_CONTRIBUTION.search(t)) for t in sv.texts])
        bonus -= CUE * np.asarray([bool(LINK.search(t)) for t in sv.texts])
    elif not _ASKS_LINK.search(question):
        # "How does SAM2Long avoid error accumulation?" is not asking where its code is.
        bonus -= CUE * np.asarray([link_only(t, title) for t in sv.texts])
    value = asks_for_value(question) and not wants_several(question)
    if (measures := asked_measures(question)) and value:
        # "GPU" in "用的 GPU 一样吗" asks for the measure, which MEASURE_BONUS weighs: as a word
        # its bonus went to "在GPU级别采用环形通信" over "使用8或32个A800 80GB". In "降低 GPU
        # 显存开销的论文" it is the topic.
        terms = [t for t in terms if not any(MEASURES[m][0].search(t) for m in measures)]
    if terms:
        weights = {t: idf(t, doc_freq, n) for t in terms}
        total = sum(weights.values()) or 1.0
        bonus += 0.12 * np.asarray(
            [sum(w for t, w in weights.items() if _said_in(t, toks)) / total for toks in held]
        )
    if asks_for_quantity(question):  # the answer is a number: prefer sentences that give one
        bonus += 0.03 * np.asarray([bool(_NUMBER.search(s)) for s in sv.texts])
        if (stem := counted_noun(question)) is not None:
            # "How many hallucinations" is answered by "超过 6,000 个幻觉": the glossary's words.
            chinese = _GLOSSARY.get(STEMMER.stemWord(stem), ()) if stem.isascii() else ()
            counts = [count_pattern(noun) for noun in (stem, *chinese)]
            bonus += COUNT_BONUS * np.asarray([any(c.search(s) for c in counts) for s in sv.texts])
    if "code" in asked_paper_facts(question):  # "开源了吗": the sentence saying it is out
        released = PAPER_FACTS["code"][1]
        bonus += CUE * np.asarray([bool(released.search(s)) for s in sv.texts])
    for measure in asked_measures(question):  # "what hardware…": a sentence naming a GPU
        stated = MEASURES[measure][1]
        bonus += MEASURE_BONUS * np.asarray([bool(stated.search(s)) for s in sv.texts])
        if measure == "gpu" and value:
            # Which GPUs: "8 倍 A800" over the sentence on GPU memory. Not for "降低 GPU 显存开销
            # 的论文", whose topic is memory: MoT's "A100 GPU" sentence took LOGO's place.
            bonus += MEASURE_BONUS * np.asarray([bool(GPU_NAMED.search(s)) for s in sv.texts])
    return cos + bonus


# A numbered item in a sentence: "(1) 利用…；", "（2）通过…", "2) …", "①".
_ITEM = re.compile(
    r"[(（]\s*(\d{1,2})\s*[)）]|(?<![\d.])(\d{1,2})\)|([①-⑨])|(?:^|[：:；;]\s*)(\d{1,2})[.、]\s*(?!\d)"
)
_CIRCLED = "①②③④⑤⑥⑦⑧⑨"


def _items(sentence: str) -> list[int]:
    out = []
    for m in _ITEM.finditer(sentence):
        digits = m.group(1) or m.group(2) or m.group(4)
        out.append(int(digits) if digits else _CIRCLED.index(m.group(3)) + 1)
    return out


def _with_list_items(
    chosen: list[tuple[int, int, float]],
    sources: list[Source],
    sentences: dict[str, SentenceVectors],
) -> list[tuple[int, int, float]]:
    """The chosen sentences, with the rest of a numbered list one of them is part of: the
    sentence splitter cuts "(1) …；(2) …" at "；", and "ReCapture 分哪两步？" quoted step 1
    alone (the researcher user test)."""
    have = {(i, j) for i, j, _ in chosen}
    out = list(chosen)
    for i, j, score in chosen:
        texts = sentences[sources[i].paper_id].texts
        nums = _items(texts[j])
        k = j
        # Forward: the next sentence goes on with the next number.
        while nums and k + 1 < len(texts) and k - j < 6:
            following = _items(texts[k + 1])
            if not following or following[0] != nums[-1] + 1:
                break
            k += 1
            nums = following
            if (i, k) not in have:
                have.add((i, k))
                out.append((i, k, score))
        # Back: a chosen item 2 gets the item 1 before it.
        nums, k = _items(texts[j]), j
        while nums and nums[0] > 1 and k > 0 and j - k < 6:
            before = _items(texts[k - 1])
            if not before or before[-1] != nums[0] - 1:
                break
            k -= 1
            nums = before
            if (i, k) not in have:
                have.add((i, k))
                out.append((i, k, score))
    return sorted(out, key=lambda p: (p[0], p[1]))


class Extract(NamedTuple):
    """An extractive answer: its Markdown, the sources it quotes (marker [n] is the n-th) and
    the sentences quoted from each paper, as its digest has them."""

    text: str
    sources: list[Source]
    quotes: dict[str, list[str]]


def extractive_answer(
    question: str,
    query_vec: np.ndarray,
    sources: list[Source],
    sentences: dict[str, SentenceVectors],
    doc_freq: dict[str, int],
    n_docs: int,
    lang: str,
    max_sentences: int,
    prompts_dir: Path,
    said: str = "",
) -> Extract:
    """Markdown text, the sources it quotes (marker [n] refers to the n-th of them) and the
    sentences quoted from each. `said`: the answer before, when the user asked for more: its
    sentences are not quoted again."""
    named = frozenset().union(*(_names(s) for s in sources if s.named))
    if wants_several(question) and len(sources) > 1:
        lines = [message(prompts_dir, lang, "multi_lead")]
        quotes: dict[str, list[str]] = {}
        for i, src in enumerate(sources):
            sv = sentences.get(src.paper_id)
            best = ""
            if sv is not None and sv.texts:
                scores = _score_sentences(question, query_vec, sv, doc_freq, n_docs, src, named)
                quotes[src.paper_id] = [sv.texts[int(np.argmax(scores))].strip()]
                best = defuse_markers(quotes[src.paper_id][0])
            title = src.title if lang == "en" else (src.title_zh or src.title)
            colon = ": " if lang == "en" else "："  # after an English title, not a full-width one
            lines.append(f"- **{title}** [{i + 1}]" + (f"{colon}{best}" if best else ""))
        return Extract("\n".join(lines), sources, quotes)

    picked: list[tuple[int, int, float]] = []  # (source index, sentence index, score)
    part_best: list[tuple[int, int, float]] = []  # the best paper's best sentence per part
    parts = [p for p in _QUESTION_END.split(question) if content_terms(p)]
    for i, src in enumerate(sources):
        sv = sentences.get(src.paper_id)
        if sv is None or not sv.texts:
            continue
        scores = _score_sentences(
            question, query_vec, sv, doc_freq, n_docs, src, named, first=i == 0
        )
        if said:
            seen = [j for j, t in enumerate(sv.texts) if defuse_markers(t) in said]
            scores[seen] = -np.inf
        order = [j for j in np.argsort(-scores)[:2] if np.isfinite(scores[j])]
        picked.extend((i, int(j), float(scores[j])) for j in order)
        if i == 0 and len(parts) > 1:
            # "哪篇论文…？它在哪些数据集上做了实验？": each question gets its sentence. Words
            # of one part pick it; cosine stays the whole question's.
            for part in parts:
                ps = _score_sentences(part, query_vec, sv, doc_freq, n_docs, src, named)
                j = int(np.argmax(ps))
                part_best.append((i, j, float(scores[j])))
    if not picked:
        return Extract("", [], {})
    # The best source, and every paper the question names ("Compare A and B"), each get
    # their best sentence; others only when they come close to the best one.
    must = [i for i, src in enumerate(sources) if i == 0 or src.named]
    chosen = [
        max((p for p in picked if p[0] == i), key=lambda p: p[2])
        for i in must
        if any(p[0] == i for p in picked)
    ]
    chosen += [p for p in dict.fromkeys(part_best) if p not in chosen]
    ranked = sorted(picked, key=lambda p: p[2], reverse=True)
    for p in ranked:
        if len(chosen) >= max_sentences:
            break
        if p not in chosen and p[2] >= ranked[0][2] - 0.06:  # keep only close contenders
            chosen.append(p)
    chosen.sort(key=lambda p: (p[0], p[1]))
    chosen = _with_list_items(chosen, sources, sentences)
    # Only the papers quoted are the answer's sources, numbered 1, 2, … in rank order: a paper
    # that was selected but gave no sentence would leave a gap ("[1] … [3]") and a source card
    # no marker points to.
    quoted = sorted({i for i, _, _ in chosen})
    marker = {i: n for n, i in enumerate(quoted, 1)}
    body: list[str] = []
    quotes = {}
    for i, j, _ in chosen:
        sentence = sentences[sources[i].paper_id].texts[j].strip()
        if sentence in quotes.get(sources[i].paper_id, []):
            continue  # a digest that says a sentence twice is quoted once (a maintainer test)
        quotes.setdefault(sources[i].paper_id, []).append(sentence)
        body.append(f"{defuse_markers(sentence)} [{marker[i]}]")
    # The lead names the papers quoted: asked "哪篇论文…?", the paper is the answer, and the
    # sentences rarely say their paper's name.
    en = lang == "en"
    titles = [sources[i].title if en else (sources[i].title_zh or sources[i].title) for i in quoted]
    names = ("; " if en else "；").join(f"{t} [{n}]" for n, t in enumerate(titles, 1))
    # "quoted as written, in Chinese" only when some quote is: a user's own digests may be
    # written in English.
    chinese = any(is_cjk_term(line) for line in body)  # any Chinese character
    key = "extractive_lead" if chinese or not en else "extractive_lead_plain"
    lead = message(prompts_dir, lang, key) + (" " if en else "") + names
    return Extract(lead + "\n\n" + "\n".join(body), [sources[i] for i in quoted], quotes)
