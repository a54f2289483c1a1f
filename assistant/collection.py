"""Questions the index answers rather than the digests' text: which papers it holds ("What
papers do you have?", "一共有多少篇论文?") and when a paper was posted ("When was WebRL
published?": its arXiv id says the month; no digest does).

No digest says which papers the index holds, and the gate rightly refuses such questions, so
they are recognised before retrieval and answered from the index: the number of papers and
their titles, each cited like any other source.

Recognising them: people ask for the list in more ways than any word list holds ("hi! first
time here, what can I ask you about?"), and a topic question looks much the same ("list the
papers about video"). A word rule alone caught 27 of 60 fresh phrasings; so a question that
names the collection and no number or name is judged by a logistic model over its e5 vector,
fitted on labelled phrasings by eval/fit_catalog.py (catalog_intent.json). The word rule
stays as a sure yes, and as the whole test when the embeddings are not the bundled model the
weights were fitted for."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .prompt import message
from .records import Source
from .retrieve import ARXIV_ID, short_name
from .text import chinese_number, content_terms

# At most this many titles in one answer; past it the answer names the newest by arXiv id
# and says how many more there are (the chat's paper list shows them all).
CATALOG_LIMIT = 50

# A question asks for the collection when it names the collection and every other word is
# one of how people ask for a list or a count (greetings and thanks included), never a topic:
# a word outside these lists ("about", "video", 关于, 扩散) makes it a question about a topic,
# which retrieval answers ("Which papers study GUI agents?", "列出所有关于扩散模型的论文").
_EN_COLLECTION = frozenset(
    "papers paper articles article digests digest documents document titles title corpus "
    "index database library collection catalog catalogue kb".split()
)
_EN_FILLER = frozenset(
    """
    a an the of in on at to for from with and or all every each any whole entire full complete
    list lists listing show display print give get got tell name names see view browse
    enumerate overview summary everything ask query search find look read
    me us i my you your u ur we our it its this these those that there here s re ve d ll
    what which how many much number count total overall altogether so far currently now
    right today are is was were be been do does did have has had can could would will should
    may might please pls plz kindly just only available covered cover covers include included
    includes contain contains containing stored indexed loaded ingested know known about
    summarised summarized summaries exist exists want like need hi hey hello thanks thank
    ok okay then again good morning afternoon evening new before first anything fine very
    lot advance cheers hold holds held given trained been seen learned learnt own research
    big size large data dataset set r im m answer answers question questions
    """.split()
)
# Multi-word names of the collection, read as one word before tokenizing.
_EN_PHRASES = re.compile(r"knowledge\s*base|table\s+of\s+contents|data\s*base", re.IGNORECASE)

# Chinese is matched on characters, not jieba's words, so the segmentation of "一共收录了"
# or "篇文章" cannot decide it: the collection words and these phrases are removed (longest
# first), and what is left must be particles.
_ZH_COLLECTION = (
    "论文 文章 文献 摘要 目录 清单 列表 名单 标题 知识库 数据库 资料库 文献库 索引 库".split()
)
_ZH_FILLER = sorted(
    """
    哪些 那些 哪几篇 多少 几篇 一共 总共 总计 所有 全部 整个 完整 列出 列一下 列出来 显示 展示 告诉
    收录 包含 包括 涵盖 覆盖 涉及 索引 目前 现在 当前 已经 可以 能够 能不能 可不可以 查询 查看 看看
    请问 麻烦 谢谢 感谢 你好 您好 这里 那里 我们 你们 一下 什么 名字 名称 提问 问问 发给 给我 帮我
    整理 读过 学过 看过 存了 有没有 都有 手上 手里 掌握 知道 回答 问题 关于 概览 概况 合集 集合 英文
    中文 一遍 一份 一个 一篇 说一下 说说 非常 这边 那边 数据 资料
    """.split(),
    key=len,
    reverse=True,
)
_ZH_PARTICLES = frozenset(
    "把了的吗呢啊呀吧么嘛哦哈啦都有共几篇个我你您们这那里中收发给列出来看查问全所已可以能请是些哪啥多少下"
    "叫说遍份边上过先让要想"
)
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")


def _zh_only_filler(run: str) -> tuple[bool, bool]:
    """(names the collection, nothing but collection words, filler and particles)."""
    named = any(w in run for w in _ZH_COLLECTION)
    for w in (*sorted(_ZH_COLLECTION, key=len, reverse=True), *_ZH_FILLER):
        run = run.replace(w, " ")
    return named, all(c in _ZH_PARTICLES for c in run.replace(" ", ""))


INTENT_FILE = Path(__file__).with_name("catalog_intent.json")
# "篇" counts papers ("总共几篇?"); "everything you cover" / 全部内容 asks for all of it.
_COUNT_CUE = re.compile(r"篇|全部内容|所有内容|\beverything\b", re.IGNORECASE | re.ASCII)
# A name narrows the question to a paper or model (OpenCoder, PyramidDrop, NaturalBench);
# arXiv is where every paper is.
_NAME = re.compile(r"\b(?!arXiv\b)[A-Za-z]*[a-z][A-Z][A-Za-z]*\b", re.ASCII)


# A topic introduced outright: "papers on climate change", "all papers by Meta", "关于扩散的";
# and "哪篇" / "which paper" ask for one paper. A word that only asks ("what can I ask you
# about?", "questions about which papers") introduces nothing.
_ASKING = (
    r"(?:[\s,.!?，。？！]|$|(?:it|them|you|your|here|this|that|which|what|all|every"
    r"|the\s+(?:papers|digests|index|collection|library|database))\b)"
)
_TOPIC = re.compile(
    r"\b(?:about|on|regarding|concerning|by|related\s+to|relating\s+to|involving|using"
    rf"|that\s+(?:use|study|discuss|propose|cover|mention))\s+(?!{_ASKING})\w"
    r"|\bwhich\s+(?:paper|one)\b(?!s)"
    r"|(?:关于|有关|相关|讲|研究|提到|提及|用到|使用|采用|提出|讨论|针对|聚焦|面向|基于)(?!哪|所有|全部|你|这些)"
    r"|领域|方向|方面"
    r"|哪篇|哪一篇|第\s*(?:[一二三四五六七八九十两]+|\d+)\s*篇|这篇|那篇|该篇|上一篇|下一篇"
    r"|\b(?:first|second|third|last|other)\s+(?:one|paper)\b"
    # "any paper for that?": a topic said before.
    r"|\bfor\s+(?:that|this|it|those|these)\s*[?？.!]*\s*$",
    re.IGNORECASE,
)


# Traditional characters of the words above, read as simplified: "你這裡有哪些論文？".
_TRADITIONAL = str.maketrans(
    "論獻錄單資庫識這裡裏個們麼總幾顯請嗎問詢覽蓋給說説還邊來過讀學標題數據體內關於研討針對麼啥",
    "论献录单资库识这里里个们么总几显请吗问询览盖给说说还边来过读学标题数据体内关于研讨针对么啥",
)


def names_collection(question: str) -> bool:
    """The question speaks of papers or the collection, and of no number, name or topic."""
    question = question.translate(_TRADITIONAL)
    if re.search(r"\d", question) or _NAME.search(question) or _TOPIC.search(question):
        return False  # 2024, 2410.14059, 7B, OpenCoder: a date, paper, size or name narrows it
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", question)}
    return bool(
        words & _EN_COLLECTION
        or any(w in question for w in _ZH_COLLECTION)
        or _COUNT_CUE.search(question)
    )


# 列表 (a list), 目录 (contents), 索引, 数据库, 标题 name the collection only in its context:
# "Python 里怎么把一个列表倒过来？" got all 34 titles from the model (0.54), and a refit with
# such questions lost "用表格对比所有论文…". Beyond the word rule, the model is asked only about
# questions that say papers: a Chinese word for them, or any English collection word.
_ZH_PAPERS = ("论文", "文章", "文献", "摘要", "知识库", "资料库", "文献库")


def _names_papers(question: str) -> bool:
    question = question.translate(_TRADITIONAL)
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", _EN_PHRASES.sub(" database ", question))}
    return bool(
        words & _EN_COLLECTION
        or any(w in question for w in _ZH_PAPERS)
        or _COUNT_CUE.search(question)
    )


def plainly_catalog(question: str) -> bool:
    """The word rule: the question names the collection, and every other word is a way of
    asking for a list or a count."""
    question = question.translate(_TRADITIONAL)
    if ARXIV_ID.search(question) or re.search(r"\d", question):
        return False
    named = False
    for run in _CJK_RUN.findall(question):
        has, only = _zh_only_filler(run)
        if not only:
            return False
        named = named or has
    ascii_text = _EN_PHRASES.sub(" database ", _CJK_RUN.sub(" ", question))
    words = [w.lower() for w in re.findall(r"[A-Za-z]+", ascii_text)]
    if any(w not in _EN_COLLECTION and w not in _EN_FILLER for w in words):
        return False
    return named or any(w in _EN_COLLECTION for w in words)


class CatalogIntent:
    """P(the question asks for the whole collection) from its e5 query vector."""

    def __init__(self, weights: np.ndarray, bias: float, model: str) -> None:
        self.w, self.b, self.model = weights, bias, model

    @classmethod
    def load(cls, path: Path = INTENT_FILE) -> CatalogIntent | None:
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(np.asarray(data["weights"], dtype=np.float32), data["bias"], data["model"])

    def probability(self, vec: np.ndarray) -> float:
        return float(1.0 / (1.0 + np.exp(-(float(vec @ self.w) + self.b))))


def asks_for_catalog(
    question: str,
    intent: CatalogIntent | None = None,
    embed_query: Callable[[str], np.ndarray] | None = None,
) -> bool:
    """True when the question asks which (or how many) papers the collection holds, and
    nothing narrower: no topic, number or name. `intent` and `embed_query` (the model the
    intent was fitted on) decide what the word rule cannot."""
    if not names_collection(question):
        return False
    if plainly_catalog(question):
        return True
    if intent is None or embed_query is None or not _names_papers(question):
        return False
    return intent.probability(embed_query(question)) >= 0.5


def catalog_answer(
    papers: Sequence[Source],
    total: int,
    lang: str,
    prompts_dir: Path,
    lead: str | None = None,
) -> tuple[str, list[Source]]:
    """The answer text (a lead line, then one title per line with its marker) and the sources
    it cites, numbered in order. `papers` are those to list (at most CATALOG_LIMIT), `total`
    how many the index holds; `lead` replaces the lead line (a period's, the newest's)."""
    shown = list(papers)[:CATALOG_LIMIT]
    key = "catalog_lead" if len(shown) == total else "catalog_lead_some"
    plural = "" if total == 1 else "s"
    lines = [lead or message(prompts_dir, lang, key, n=f"{total:,}", shown=len(shown), s=plural)]
    for i, src in enumerate(shown, 1):
        title = (src.title_zh or src.title) if lang == "zh" else (src.title or src.title_zh)
        lines.append(f"- {title} [{i}]")
    return "\n".join(lines), shown


_MONTHS_EN = (
    "January February March April May June July August September October November December"
).split()
_NEW_ID = re.compile(r"(\d{2})(\d{2})\.(\d{4,5})")
_OLD_ID = re.compile(r"[a-z\-]+(?:\.[A-Z]{2})?/(\d{2})(\d{2})(\d{3})")  # hep-th/9901001


def _id_parts(paper_id: str) -> tuple[int, int, int] | None:
    """(year, month, number within the month) of an arXiv id. Old-style ids (archive/YYMMNNN)
    ran from 1991 to March 2007, so their 91-99 are 1991-1999."""
    new = _NEW_ID.fullmatch(paper_id)
    m = new or _OLD_ID.fullmatch(paper_id)
    if m is None or not 1 <= int(m.group(2)) <= 12:
        return None
    yy = int(m.group(1))
    year = 2000 + yy if new or yy < 91 else 1900 + yy
    return year, int(m.group(2)), int(m.group(3))


def posted_month(paper_id: str) -> tuple[int, int] | None:
    """(year, month) an arXiv id was first posted (YYMM.NNNNN, or archive/YYMMNNN: hep-th/9901001
    is January 1999), else None."""
    parts = _id_parts(paper_id)
    return None if parts is None else parts[:2]


def date_answer(
    papers: Sequence[Source], lang: str, prompts_dir: Path, order: bool = False
) -> tuple[str, list[Source]] | None:
    """When each paper was first posted, from its arXiv id: one line each, cited, then a note
    that the digests give no exact date. With `order`, a first line says which came out first
    (arXiv numbers papers as they are submitted). None when no id carries a month."""
    dated = [(src, ym) for src in papers if (ym := posted_month(src.paper_id)) is not None]
    if not dated:
        return None
    lines = []
    if order and len(dated) >= 2:
        # Numbered earliest first, so the answer reads in the order it states.
        rank = {
            pid: i for i, pid in enumerate(reversed(newest_first([s.paper_id for s, _ in dated])))
        }
        dated.sort(key=lambda d: rank[d[0].paper_id])
        names = [
            f"{short_name(src.title) or src.title} [{i}]" for i, (src, _) in enumerate(dated, 1)
        ]
        if len(names) == 2:
            lines.append(message(prompts_dir, lang, "order_pair", earlier=names[0], later=names[1]))
        else:
            sep = message(prompts_dir, lang, "list_sep")
            lines.append(message(prompts_dir, lang, "order_list", items=sep.join(names)))
    for i, (src, (year, month)) in enumerate(dated, 1):
        title = (src.title_zh or src.title) if lang == "zh" else (src.title or src.title_zh)
        when = when_text(year, month, lang)
        lines.append(
            message(prompts_dir, lang, "posted", title=title, n=i, when=when, id=src.paper_id)
        )
    lines.append(message(prompts_dir, lang, "posted_note"))
    return "\n".join(lines), [src for src, _ in dated]


_MONTH_WORDS = {m.lower(): i for i, m in enumerate(_MONTHS_EN, 1)} | {
    m[:3].lower(): i for i, m in enumerate(_MONTHS_EN, 1)
}
_EN_MONTH = "|".join(sorted(_MONTH_WORDS, key=len, reverse=True))
# "in November 2024", "Nov. 2024", "2024-11", "2024年11月", "11月"; a year alone: "in 2024".
_PERIOD = re.compile(
    rf"\b(?P<mon>{_EN_MONTH})\.?(?:\s*,?\s*(?P<year>(?:19|20)\d\d))?\b"
    r"|\b(?P<year2>(?:19|20)\d\d)[-/.](?P<mon2>0?[1-9]|1[0-2])\b"
    r"|(?P<year3>(?:19|20)\d\d)\s*年\s*(?:(?P<mon3>[0-9]{1,2}|[一二三四五六七八九十]{1,3})\s*月份?)?"
    r"|(?P<mon4>[0-9]{1,2}|[一二三四五六七八九十]{1,3})\s*月份?"
    r"|\b(?P<year4>(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
# How people say "posted": removed with the period before the rest is read as a catalog question.
_POSTED = re.compile(
    r"\b(?:were|was|got|been|first)?\s*(?:published|posted|released|submitted|uploaded|"
    r"appeared|came\s+out|come\s+out|put\s+out|out)\b|发表|发布|提交|上传|上线|出的|出来|公开|发的",
    re.IGNORECASE,
)
# Periods relative to the one named, and several periods: not answered as the one named.
_RELATIVE = re.compile(
    r"\b(?:before|after|since|until|till|prior|earlier|later|older|newer|between|or|and|to|from\s+\w+\s+to)\b"
    r"|之前|以前|前的|之后|以后|后的|以来|之间|到|至|或",
    re.IGNORECASE | re.ASCII,
)
_NEWEST = re.compile(r"\b(?:newest|latest|most\s+recent)\b|最新|最近", re.IGNORECASE)
_OLDEST = re.compile(r"\b(?:oldest|earliest)\b|最早|最老|最旧", re.IGNORECASE)


Period = tuple[int | None, int | None]  # (year, month); either None when unsaid


def _split_period(question: str) -> tuple[Period, str] | None:
    """The period a question names and the question without it and its "posted" words; None
    when it names none, or one relative to it ("before October 2024" is not October 2024)."""
    m = _PERIOD.search(question)
    if m is None:
        return None
    year = m.group("year") or m.group("year2") or m.group("year3") or m.group("year4")
    mon = m.group("mon") or m.group("mon2") or m.group("mon3") or m.group("mon4")
    if mon and mon.lower() == "may" and not year:
        return None  # "may I see …"
    month = None
    if mon:
        month = _MONTH_WORDS.get(mon.lower().rstrip(".")) or chinese_number(mon)
        if not 1 <= month <= 12:
            return None
    rest = _POSTED.sub(" ", question[: m.start()] + " " + question[m.end() :])
    if _RELATIVE.search(rest):
        return None
    return ((int(year) if year else None), month), rest


def asked_period(
    question: str,
    intent: CatalogIntent | None = None,
    embed_query: Callable[[str], np.ndarray] | None = None,
) -> Period | None:
    """(year, month) a question asks the papers of ("Which papers came out in November 2024?",
    "2024年10月有哪些论文？"), either part None when unsaid; None when it names no period or,
    without it, would not ask for the whole collection ("Which papers about agents …")."""
    split = _split_period(question)
    if split is None:
        return None
    # "Which ones were published in November?" after the list: ones are papers; and "8 月的有哪篇"
    # asks for the month's papers, however many.
    rest = re.sub(r"\bones\b", "papers", split[1], flags=re.IGNORECASE)
    rest = rest.replace("哪一篇", "哪篇").replace("哪篇", "哪些论文")
    # "2024 年 11 月发的有哪些？", "What came out in November 2024?": with its month and
    # "posted" taken out, nothing is left but asking which.
    asks_which = plainly_catalog(_POSTED.sub(" ", rest) + " papers")
    return split[0] if asks_which or asks_for_catalog(rest, intent, embed_query) else None


# The period is when papers came out, not a year the question is about ("data from 2023").
_OF_PAPERS = re.compile(
    r"(?:年|月)份?(?:的|发的|发表的|发布的)?(?:论文|文章|工作)|\b(?:papers?|works?)\s+(?:from|of|in)\b"
    r"|^\s*(?:\d{4}\s*年)?\s*[0-9一二三四五六七八九十]{1,3}\s*月.*(?:论文|文章)",
    re.IGNORECASE | re.ASCII,
)


def topic_in_period(question: str) -> tuple[Period, str] | None:
    """A topic asked among the papers of a period ("Which video papers came out in November
    2024?", "2024年11月有哪些关于多模态的论文？"): the period, and the question without it for
    retrieval. None unless the question says the period is when papers came out."""
    split = _split_period(question)
    if split is None or not (_POSTED.search(question) or _OF_PAPERS.search(question)):
        return None
    return split


# "which of these came out in October", "这几篇里哪些是11月的": a month asked as when papers
# came out, of papers the question does not ask for (they are the chat's).
_MONTH_OF = re.compile(
    rf"[0-9一二三四五六七八九十]\s*月份?的|\b(?:in|from)\s+(?:the\s+)?(?:{_EN_MONTH})\b", re.I
)


def posted_in(question: str) -> Period | None:
    """The period a question asks papers were posted in, said as such, or None."""
    split = _split_period(question)
    if split is None or not (_POSTED.search(question) or _MONTH_OF.search(question)):
        return None
    return split[0]


# How many of the newest/oldest: "the 3 newest papers", "latest five", "最新的三篇", "最早的 2 篇".
_HOW_MANY = (
    r"(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|a\s+few|few|couple(?:\s+of)?)"
)
_SUPERLATIVE = r"(?:newest|latest|most\s+recent|oldest|earliest)"
_COUNTED = re.compile(
    rf"\b{_HOW_MANY}\s+(?={_SUPERLATIVE}\b)|\b{_SUPERLATIVE}\s+{_HOW_MANY}\b"
    r"|(\d{1,3}|[一二三四五六七八九十两几]{1,3})\s*(?=篇)",
    re.IGNORECASE,
)
_EN_COUNTS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
_EN_COUNTS |= {"eight": 8, "nine": 9, "ten": 10, "couple": 2, "couple of": 2}
# "the latest papers", "最新的论文有哪些": several, unnumbered.
_SEVERAL = re.compile(
    rf"\b{_SUPERLATIVE}\s+(?:papers|works|ones|articles|digests)\b|哪些|有哪|几篇", re.IGNORECASE
)
FEW = 5  # "a few", "几篇", or a plural with no number


def _count(question: str) -> tuple[int, str]:
    """How many papers the question asks for (1 unless it says or implies more), and the
    question without the number: a digit would read as narrowing it ("papers of 2024")."""
    m = _COUNTED.search(question)
    if m is None:
        return (FEW if _SEVERAL.search(question) else 1), question
    group = next(i for i, g in enumerate(m.groups(), 1) if g)
    word = re.sub(r"\s+", " ", m.group(group).lower())
    if word.isdigit():
        n = int(word)
    else:
        n = _EN_COUNTS.get(word) or chinese_number(word.replace("两", "二")) or FEW  # 几, a few
    return max(n, 1), question[: m.start(group)] + " " + question[m.end(group) :]


def asked_extreme(
    question: str,
    intent: CatalogIntent | None = None,
    embed_query: Callable[[str], np.ndarray] | None = None,
) -> tuple[str, int] | None:
    """("newest" or "oldest", how many) when the question asks for the most recent or
    earliest papers of the whole collection ("Which is the newest paper?", "the 3 latest
    papers", "最早的论文是哪篇？"), not of a topic ("最新的视频生成论文是哪篇？")."""
    for which, pattern in (("newest", _NEWEST), ("oldest", _OLDEST)):
        if pattern.search(question):
            n, rest = _count(question)
            # Without the superlative, "which (one) paper" is "which papers": the collection.
            rest = pattern.sub(" ", rest).replace("哪一篇", "哪些").replace("哪篇", "哪些")
            rest = re.sub(r"\bwhich\b(?:\s+(?:one|is|paper))*", "which papers ", rest, flags=re.I)
            # "最新的是哪篇", "哪篇最新": nothing is left but asking which.
            bare = not content_terms(rest)
            return (which, n) if bare or asks_for_catalog(rest, intent, embed_query) else None
    return None


def in_period(paper_id: str, year: int | None, month: int | None) -> bool:
    ym = posted_month(paper_id)
    return ym is not None and (year is None or ym[0] == year) and (month is None or ym[1] == month)


_MORE_THAN_TITLES = re.compile(
    r"\bsummar\w*|\bone[- ]line\b|\btables?\b|\bcompar\w*|\bdescri\w*|\bexplain\w*"
    r"|总结|概括|简介|一句话|表格|对比|比较|介绍一下每|分别讲了什么|都讲了什么|内容",
    re.IGNORECASE | re.ASCII,
)


def wants_more_than_titles(question: str) -> bool:
    """A request for the collection that also asks for what each paper says ("Summarize all
    the papers", "用表格对比所有论文"): the answer lists titles only and says so."""
    return bool(_MORE_THAN_TITLES.search(question))


def when_text(year: int | None, month: int | None, lang: str) -> str:
    if lang == "zh":
        return " ".join(
            x for x in ((f"{year} 年" if year else ""), (f"{month} 月" if month else "")) if x
        )
    return " ".join(x for x in ((_MONTHS_EN[month - 1] if month else ""), str(year or "")) if x)


def newest_first(paper_ids: Sequence[str]) -> list[str]:
    """Paper ids by arXiv id, newest first: by month, then number (old- and new-style ids
    never share a month); ids without a month keep their order after them."""
    parts = {p: _id_parts(p) for p in paper_ids}
    dated = [p for p in paper_ids if parts[p] is not None]
    other = [p for p in paper_ids if parts[p] is None]
    return sorted(dated, key=lambda p: parts[p] or (0, 0, 0), reverse=True) + other
