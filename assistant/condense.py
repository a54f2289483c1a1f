"""Follow-up questions resolved against the chat history before retrieval."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from .records import Turn
from .retrieve import ARXIV_ID, short_name
from .text import chinese_nouns, chinese_number, content_terms, dictionary_word, tokenize

# References back to the conversation ("it", "该方法", "this paper"...).
_ANAPHORA = re.compile(
    r"\b(it|its|it's|they|them|their|this|that|these|those|the paper|the method|the model"
    r"|the authors|same|above|previous|former|latter)\b"
    r"|它|它们|其|该|这篇|这个|这些|那篇|那个|上述|上面|前者|后者|此",
    re.IGNORECASE | re.ASCII,
)
# "第二篇", "the second one", "the latter": one of the papers the last answer cited, by position.
_ORDINAL_WORDS = {
    w: i
    for i, w in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth"
        " thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth"
        " twentieth".split(),
        1,
    )
} | {"last": -1}
_ORDINAL = re.compile(
    r"第\s*([一二三四五六七八九十两]+|\d+)\s*(?:篇|个|项|种)"
    rf"|\b({'|'.join(_ORDINAL_WORDS)}|\d+(?:st|nd|rd|th))\s+(?:one|paper|work|model|method)\b"
    r"|(前者|\bformer\b)|后者|\blatter\b|最后(?:一|那|这)篇",
    re.IGNORECASE | re.ASCII,
)


# A question that sets a paper beside others ("Compare 2410.13861 with …", "除了 … 还有").
COMPARES = re.compile(
    r"\b(?:compare[sd]?|comparison|versus|vs|differ\w*|similar\w*|like|other|besides|except"
    r"|than|same\s+as)\b|比较|对比|相比|区别|不同|异同|类似|相似|其他|其它|除了|还有"
    # "跟 AndroidLab 比呢", "和 X 那篇用的 GPU 一样吗": compared with a paper named between.
    r"|[和跟与同][^，,。？?!！]{1,40}?(?:比(?!例|率)|一样|相同)",
    re.IGNORECASE | re.ASCII,
)

# "Which one …?", "哪个更快?": a choice among the papers just discussed.
_WHICH_ONE = re.compile(r"\bwhich\s+one\b|哪个更|哪一个|哪一篇更|谁更", re.IGNORECASE | re.ASCII)


def ordinal(question: str) -> int | None:
    """The position (1-based; -1 for the last) a question picks a paper by, if any."""
    m = _ORDINAL.search(question)
    if m is None:
        return None
    num, word, former = m.groups()
    if num:
        return chinese_number(num) or None
    if word:
        word = word.lower()
        return _ORDINAL_WORDS.get(word) or int(re.sub(r"\D", "", word) or 0) or None
    return 1 if former else -1  # the latter: the last


_FOLLOW_UP_START = re.compile(
    r"^\s*(?:and\b|what about\b|how about\b|also\b|那么|那|还有|另外|以及)", re.I | re.ASCII
)


class HistoryError(ValueError):
    """A chat history in a shape as_turns does not read: says which item and why."""


# Roles a history may hold besides user and assistant; they carry no turn of the chat.
_SKIPPED_ROLES = frozenset({"system", "developer", "tool", "function"})
# (role, content) pairs as LangChain writes them, told apart from (user, bot) pairs by the role.
_PAIR_ROLES = {"user": "user", "human": "user", "assistant": "assistant", "ai": "assistant"}


def _text(where: str, content: Any) -> str:
    if not isinstance(content, str):
        raise HistoryError(f"{where}: content must be text, got {type(content).__name__}")
    return content


def as_turns(history: Iterable[Any] | None) -> list[Turn]:
    """Accept Turn objects, OpenAI/Gradio-style {'role','content'} dicts, (user, bot) pairs or
    (role, content) pairs. Anything else is a HistoryError naming the item: a history read
    wrongly would silently resolve a follow-up against the wrong conversation."""
    if history is None:
        return []
    if isinstance(history, str | bytes | dict) or not isinstance(history, Iterable):
        raise HistoryError(f"history must be a list of messages, got {type(history).__name__}")
    turns: list[Turn] = []
    for i, item in enumerate(history):
        where = f"history[{i}]"
        if isinstance(item, Turn):
            turns.append(item)
        elif isinstance(item, dict):
            role, content = item.get("role"), item.get("content")
            if isinstance(content, list):  # gradio multimodal content parts
                content = " ".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
            if role in _SKIPPED_ROLES:
                continue
            if role not in ("user", "assistant"):
                raise HistoryError(f"{where}: role must be 'user' or 'assistant', got {role!r}")
            content = _text(where, content)
            ids = item.get("paper_ids") or []
            ids = [ids] if isinstance(ids, str) else ids
            if not isinstance(ids, list | tuple) or not all(isinstance(x, str) for x in ids):
                raise HistoryError(f"{where}: paper_ids must be a list of arXiv ids")
            turns.append(Turn(role=role, content=content, paper_ids=list(ids)))
        elif isinstance(item, list | tuple) and len(item) == 2:
            first, second = item
            if isinstance(first, str) and first.lower() in _PAIR_ROLES:
                turns.append(Turn(role=_PAIR_ROLES[first.lower()], content=_text(where, second)))
                continue
            if first:
                turns.append(Turn(role="user", content=str(first)))
            if second:
                turns.append(Turn(role="assistant", content=str(second)))
        else:
            raise HistoryError(
                f"{where}: expected a {{'role', 'content'}} message, a Turn or a pair,"
                f" got {type(item).__name__}"
            )
    return turns


# A pronoun or a position points back outright; "那个…的那篇", "which one", "what about X" may
# bring a subject of their own ("那个 world model 的那篇", "what about data contamination?").
_PRONOUN = re.compile(
    r"\b(it|its|it's|they|them|their|the paper|the method|the model|the authors|former|latter"
    r"|the two|both)\b"
    r"|它|它们|其|该|前者|后者",
    re.IGNORECASE | re.ASCII,
)


def points_back(question: str) -> bool:
    """The question refers back with a pronoun or a position ("its code", "第二篇")."""
    return bool(_PRONOUN.search(question) or ordinal(question) is not None)


# What can only point back: not "the model" or "the authors", which a standalone question may
# use of its own subject ("How does the model handle occlusion?").
_BARE_POINTER = re.compile(
    r"\b(?:it|its|they|their|them|this one|that one|the former|the latter)\b"
    r"|它|前者|后者|这篇|那篇|该论文|该方法|该模型|这个方法|这个模型",
    re.IGNORECASE | re.ASCII,
)
# A name the question brings: a capitalised word after the first (Pangea), a word mixing
# capitals or digits (SAM2Long, GPT-4o), an arXiv id, a title in 《》.
_BRINGS_NAME = re.compile(r"(?<=\s)[A-Z][\w\-]*|\b[a-z]*[A-Z][a-z]*[A-Z0-9][\w\-]*|《", re.ASCII)


_NAME_THEN_THAT = re.compile(r"[A-Za-z][\w\-]*\s*的?\s*(?:那篇|那个|这篇)")


def points_at_nothing(question: str) -> bool:
    """A first question that points back to a paper no earlier answer named: "它用了哪些数据集?",
    "Is its code released?", "第二篇呢？". In a new chat these quoted whatever sentences had
    数据集 in them, from three unrelated papers. Short, with no name of its own: "Is it possible
    to segment long videos without training?" asks about a topic."""
    if not (_BARE_POINTER.search(question) or ordinal(question) is not None):
        return False
    if _BRINGS_NAME.search(question.strip()) or ARXIV_ID.search(question):
        return False
    if described(question) is not None or _NAME_THEN_THAT.search(question):
        # "弦对偶那篇是哪年发布的？", "Kaggle 那篇论文的智能体叫什么？" pick a paper by its topic:
        # a search (the second was asked which paper it meant: the chat UI user test).
        return False
    return len(content_terms(question)) <= 3


def position_not_listed(question: str, history: Sequence[Turn]) -> int | None:
    """How many papers the chat's last list had, when the question picks a position past it
    ("第二篇呢？" after an answer that cited one paper), or "the other one" of one; else None."""
    n = ordinal(question)
    if n is None:
        # "the other one?" when the chat cited one paper; not "另一个视频分割方法呢", which asks
        # for another of its own.
        brief = len(content_terms(question)) <= 1
        if brief and _THE_OTHER.search(question) and len(last_list(history)[1]) == 1:
            return 1
        return None
    listed = last_list(history)[1]
    return None if not listed or _picks(n, listed) is not None else len(listed)


def _picks(n: int, ids: Sequence[str]) -> str | None:
    """The paper at position n (1-based; -1 the last) of a list, or None past its end."""
    i = n - 1 if n > 0 else n
    return ids[i] if -len(ids) <= i < len(ids) else None


def is_follow_up(question: str) -> bool:
    return bool(
        _ANAPHORA.search(question)
        or ordinal(question) is not None
        or _WHICH_ONE.search(question)
        or _FOLLOW_UP_START.search(question)
        or len(content_terms(question)) <= 1
    )


# "Are there other web agent papers?": the papers just cited are not what is asked for.
_OTHER = re.compile(
    r"\b(?:other|others|another|else|besides)\b|别的|其他|其它|另外的|另一篇|另外一篇"
    r"|还有[^，,。？?]{0,20}(?:论文|文章|工作|研究)",
    re.IGNORECASE | re.ASCII,
)
# "vs other memory-efficient methods?", "和其他方法相比呢": the paper before, compared.
_VERSUS = re.compile(
    r"\b(?:vs\.?|versus|compared?\s+(?:to|with)|against|than)\s|相比|比起|对比|比较|[和跟与]其他.{0,12}比",
    re.IGNORECASE,
)
# "Summarize the papers we discussed", "总结一下这两篇": the chat's papers, not the collection.
_CHAT_PAPERS = re.compile(
    r"\bwe(?:'ve|\s+have)?\s+(?:discussed|talked\s+about|covered|mentioned|seen)\b"
    r"|\b(?:so\s+far|(?:these|the)\s+(?:two|three|papers)|both\s+(?:papers|of\s+them))\b"
    r"|(?:我们|咱们)?(?:聊|讨论|谈|说|提)过的?|这[两俩几三四]篇|这些论文|上面(?:这些|几篇|两篇|的论文)",
    re.IGNORECASE | re.ASCII,
)
# Said to the chat, not about its paper: a greeting, or not following ("what?"). "why?" and
# "more" do ask about the paper before.
_NOT_ABOUT_IT = re.compile(
    r"^\s*(?:hi|hello|hey|yo|what|huh|eh|sorry|你好|您好|嗨|哈喽|啥|什么|嗯|啊|哈)"
    r"\s*(?:there)?\s*[?？!！.。~～]*\s*$",
    re.IGNORECASE,
)
# What any paper has: asking for it changes the aspect, not the subject ("代码开源吗",
# "在几个数据集上实验的", "how was it evaluated?").
ASPECTS = frozenset(
    """
    code github open source link url repo repository dataset datasets data experiment
    experiments training train trained evaluation evaluate evaluated benchmark benchmarks
    baseline baselines result results performance metric metrics gpu gpus hardware
    parameters parameter size limitation limitations contribution contributions method
    speed latency inference cost costs time memory accuracy score scores efficiency runtime
    throughput scale languages tasks task users user study authors author funding funded
    release released available version novel novelty new pros cons example examples
    motivation motivated intuition insight insights idea ideas technique techniques key
    summarize summarise sentence tldr application applications use used uses need needs
    work works find found findings conclusion conclusions takeaway takeaways
    one two three give show tell describe explain explained briefly brief short simply simple
    plain words layman terms eli5 detail details
    methods approach model models paper papers work idea main key problem improvement
    improve improved better compare comparison explain simply english chinese summary
    代码 开源 链接 地址 仓库 数据集 数据 实验 训练 评估 评测 基准 基线 结果 效果 性能 指标 硬件
    参数 参数量 局限 局限性 贡献 方法 模型 论文 工作 问题 提升 改进 比较 对比 解释 简单 英文
    中文 总结 概括 介绍 主要 核心 思路 创新 优势 缺点 不足 速度 延迟 推理 成本 时间 内存 显存
    准确率 精度 分数 效率 规模 任务 作者 发表 发布 版本 前面 后面 上面 刚才 之前
    核心思想 思想 动机 一句 一句话 例子 举例 举个 优缺点 优点 关键 关键技术 技术 创新点 亮点
    应用 场景 用途 需要 需不需要 能不能 可以 发现 结论 启发 意义 价值 原理 机制 细节 具体 怎么
    怎么样 如何 为什么 原因 解释一下 通俗 白话 简单说 简要 简短 概述 讲讲 说说 讲一下 说一下
    setup settings setting configuration config steps step stages stage pipeline process
    procedure workflow architecture design components component module modules tags tag labels
    label annotation annotations ablation ablations license licence generalize generalization
    limits success rate rates largest biggest smallest maximum minimum
    步骤 流程 阶段 架构 结构 设计 模块 组件 标签 设置 配置 许可 许可证 协议 公开 开放 程度 范围
    最大 最小 最多 最少 成功率 英语 汉语 语言 语种 东西 内容 之后 以后 泛化
    """.split()
)


# "皮尔逊相关系数呢", "and the cost?": a fragment that continues the chat.
_ELLIPSIS = re.compile(r"呢\s*[?？]?\s*$|^\s*(?:and|so|but|also)\b", re.IGNORECASE | re.ASCII)


def elliptical(question: str) -> bool:
    return bool(_ELLIPSIS.search(question) or _FOLLOW_UP_START.search(question))


# "How many legs does a spider have?", "calories in an apple", "the speed of light", "bones in
# the adult human body", "地球的半径是多少", "光速是多少", "珠峰海拔多少米": a thing of the
# question's own, introduced by an article, by "of", by "in the", before 的, or as what
# 是多少/多少/多高 asks about. ("the Moon" is not read: "the wall-clock numbers" is the paper's.)
_OWN_THING_EN = re.compile(
    r"\b(?:an?|of(?:\s+(?:the|an?))?|in\s+(?:the|an?))\s+([A-Za-z][A-Za-z\-]*)", re.IGNORECASE
)
_ZH_START = r"^\s*(?:请问|那么?|那)?\s*"
_OWN_THING_ZH = (
    re.compile(_ZH_START + r"([^\s是哪什么几多吗呢?？,，。的]+?)的"),
    re.compile(
        _ZH_START + r"([^\s是哪什么几多吗呢?？,，。]+?)"
        r"(?:是多少|是什么|是几|有多少|有多[大长高重远]|有几|多少)"
    ),
)


def owns_subject(question: str, doc_freq: dict[str, int]) -> bool:
    """The question is about a thing of its own that no digest names: "How many legs does a
    spider have?" after AndroidLab, "光速是多少？" after UCFE. Read in the chat, such a
    question was answered with the paper before (804 participants for the speed of light).
    "How many gold medals?", "里面一共有多少个任务" and "核心trick是什么" name no such thing
    (里面 and 一共 are no nouns; 核心, the core, is an aspect of any paper)."""

    def unknown(terms: list[str]) -> bool:
        return bool(terms) and all(doc_freq.get(t, 0) == 0 and dictionary_word(t) for t in terms)

    for word in _OWN_THING_EN.findall(question):
        terms = content_terms(word)
        if not set(terms) & ASPECTS and unknown(terms):
            return True
    for pattern in _OWN_THING_ZH:
        if (found := pattern.search(question)) is None:
            continue
        phrase = found.group(1)
        if not set(content_terms(phrase)) & ASPECTS and unknown(chinese_nouns(phrase)):
            return True
    return False


# "more", "继续": what else the papers just quoted say.
_MORE = re.compile(
    r"^\s*(?:(?:tell\s+me\s+)?more(?:\s+details?)?|go\s+on|continue|keep\s+going|and\??"
    r"|详细(?:一点|点|些|说说)?|继续(?:说)?|还有呢|更多|展开(?:说说|讲讲)?|多说(?:一点|点|些))"
    r"\s*(?:please|请)?\s*[?？.!。！~]*\s*$",
    re.IGNORECASE,
)


def asks_for_more(question: str) -> bool:
    return bool(_MORE.match(question))


# A fresh search said outright: "Switching gears — is there a paper on data contamination?",
# "Going back to the contrastive loss paper, …", "有没有关于视频生成的论文？".
_NEW_SEARCH = re.compile(
    r"\b(?:is\s+there|are\s+there|do\s+you\s+have|any)\s+(?:a\s+|any\s+)?(?:papers?|works?"
    r"|stud(?:y|ies)|research)\b|\bswitching\s+gears\b|\bby\s+the\s+way\b|\bbtw\b"
    r"|有没有[^，,。？?]{0,30}(?:论文|工作|研究)|换个话题|另外问|顺便问",
    re.IGNORECASE | re.ASCII,
)


def starts_a_search(question: str) -> bool:
    return bool(_NEW_SEARCH.search(question))


# Back to a paper the chat discussed before the last answer: "Going back to the contrastive
# loss paper, …", "回到刚才那篇对比损失的", "前面那篇…".
_GOING_BACK = re.compile(
    r"\b(?:going|go|coming|come|get|getting)\s+back\s+to\b|\b(?:earlier|previous)\s+paper\b"
    r"|回到|(?:前面|之前|刚才|刚刚|先前)(?:那|提到的|说的|聊的)",
    re.IGNORECASE | re.ASCII,
)


def goes_back(question: str) -> bool:
    return bool(_GOING_BACK.search(question))


# A paper picked by what it is about: "镜面反光那篇", "图像那个", "那个安卓的呢", "the camera one",
# "that quantization paper", "the one about data contamination". The words between are the
# description; positions, pronouns and "other" are not ("the first one", "这篇", "the other one").
_DESCRIBED = re.compile(
    r"(?:那个|那篇|这个)(?P<zh1>[^，。？！,.?!那这它]{2,20}?)的(?:呢|论文|那篇|工作)"
    r"|(?P<zh2>[^，。？！,.?!\s那这它篇个和与跟]{2,16}?)(?:的)?(?:那篇|那个)(?!论文|工作)"
    r"|\b(?:the|that)\s+(?:one|paper|work)\s+(?:about|on|with|that|which)\s+"
    r"(?P<en1>[A-Za-z][\w\-]*(?:\s+[A-Za-z][\w\-]*){0,3})"
    r"|\b(?:the|that)\s+(?P<en2>[A-Za-z][\w\-]*(?:\s+[A-Za-z][\w\-]*){0,2}?)\s+(?:one|paper)\b",
    re.IGNORECASE,
)
# Words that say which paper by position or by pointing, not by topic.
_NOT_DESCRIPTION = re.compile(
    r"^(?:first|second|third|fourth|fifth|last|latest|newest|oldest|earliest|other|same|previous"
    r"|next|above|former|latter|right|whole|\d+(?:st|nd|rd|th)|[\w\-]+\s+(?:one|paper))$"
    r"|^(?:前面|之前|刚才|刚刚|先前|上面|上一|第.|最新|最早|最后|另一|另外|其他|别的|哪|还有|就是)",
    re.IGNORECASE,
)


def described(question: str) -> str | None:
    """The description a question picks a paper by ("镜面反光", "camera", "data
    contamination"), or None when it picks none that way."""
    for m in _DESCRIBED.finditer(question):
        desc = next((g for g in m.groups() if g), "").strip()
        if desc and not _NOT_DESCRIPTION.search(desc) and content_terms(desc):
            return desc
    return None


# "the other one?" after picking one of two: the one not picked.
_THE_OTHER = re.compile(
    r"\bthe\s+other\s+(?:one|paper)\b|另一篇|另外一篇|另外那篇|另一个", re.IGNORECASE
)


def the_other(question: str, history: Sequence[Turn]) -> str | None:
    """The paper "the other one" means: of a list of two the chat showed, the one the answers
    since did not take up ("quantizaton papers?", "the BF16 one?", then "the other one?")."""
    if not _THE_OTHER.search(question):
        return None
    listed_q, listed = last_list(history)
    last_q, current = last_answered(history)
    if len(listed) != 2 or not current or last_q == listed_q or current[0] not in listed:
        return None
    return next(p for p in listed if p != current[0])


# "和上一篇比呢？", "how's that different from the previous one": the paper discussed before the
# one the last answer was about. Not "前面那篇 X", which names or describes its paper.
_PREVIOUS = re.compile(
    r"上一篇|前一篇|上一个|\b(?:the\s+)?(?:previous|prior)\s+(?:one|paper)\b|\bthe\s+one\s+before\b",
    re.IGNORECASE,
)
# "和上一篇比呢": set beside it.
_WITH_PREVIOUS = re.compile(r"[和跟与同]\s*(?:上一篇|前一篇|上一个)\s*(?:相)?比")


def previous_paper(question: str, history: Sequence[Turn]) -> tuple[str, str] | None:
    """(the paper the last answer was about, the one discussed before it) when the question
    points to the previous one: ReCapture, then "and DimensionX?", then "how's that different
    from the previous one"; a list of GUI agent papers, "第二篇呢？", then "和上一篇比呢？"."""
    if not _PREVIOUS.search(question):
        return None
    answered = [t.paper_ids for t in history if t.role == "assistant" and t.paper_ids]
    if len(answered) < 2:
        return None
    current = answered[-1][0]
    for ids in reversed(answered[:-1]):
        if before := next((p for p in ids if p != current), None):
            return current, before
    return None


def compares_with_previous(question: str) -> bool:
    return bool(COMPARES.search(question) or _WITH_PREVIOUS.search(question))


def asks_for_others(question: str) -> bool:
    """ "Any other web agent papers?", "还有讲幻觉的论文吗": papers besides the chat's; not
    "vs other memory-efficient methods?", which compares the paper before with them."""
    return bool(_OTHER.search(question)) and not _VERSUS.search(question)


def asks_about_chat_papers(question: str) -> bool:
    return bool(_CHAT_PAPERS.search(question))


def not_about_it(question: str) -> bool:
    return bool(_NOT_ABOUT_IT.match(question))


def last_answered(history: Sequence[Turn]) -> tuple[str, list[str]]:
    """The last user question that was answered with papers, and those papers. A refusal in
    between cites none, and the chat is still about the papers before it. A user message
    left unanswered at the end ("What is PUMA?", then this question) is the subject instead;
    and with no papers in the history at all, the last question that named something."""
    if history and history[-1].role == "user":
        return _shortened(history[-1].content), []
    for i in range(len(history) - 1, -1, -1):
        if history[i].role == "assistant" and history[i].paper_ids:
            asked = next((t.content for t in reversed(history[:i]) if t.role == "user"), "")
            return _shortened(asked), list(history[i].paper_ids)
    # An API caller's plain messages: "SAM2Long 是什么？" → "用了哪些数据集" → "效果怎么样": the
    # last question that named something.
    users = [t.content for t in reversed(history) if t.role == "user"]
    named = (q for q in users if NAMES_SOMETHING.search(q) or not is_follow_up(q))
    return _shortened(next(named, users[0] if users else "")), []


# A name or an id: "SAM2Long", "PUMA", "2410.16268", "hep-th/9901001".
NAMES_SOMETHING = re.compile(rf"(?<![A-Za-z])[A-Za-z]*[A-Z][A-Za-z0-9]|{ARXIV_ID.pattern}")


def _shortened(text: str, limit: int = 300) -> str:
    """A question as the search carries it: a pasted page of text would drown the follow-up."""
    return text if len(text) <= limit else text[:limit]


def last_list(history: Sequence[Turn]) -> tuple[str, list[str]]:
    """The last answer that cited several papers, and its question: what an ordinal counts
    in, even after one of them was picked ("the second one", then "the first one?")."""
    for i in range(len(history) - 1, -1, -1):
        if history[i].role == "assistant" and len(history[i].paper_ids) > 1:
            asked = next((t.content for t in reversed(history[:i]) if t.role == "user"), "")
            return _shortened(asked), list(history[i].paper_ids)
    return last_answered(history)


def said_before(history: Sequence[Turn]) -> str:
    """What the chat's answers said ("more", then "继续": neither repeats the first)."""
    return "\n".join(t.content for t in history if t.role == "assistant")


def last_question(history: Sequence[Turn]) -> str:
    """The last user question that asked something ("more" and "继续" say nothing)."""
    asked = (t.content for t in reversed(history) if t.role == "user")
    return next((q for q in asked if not asks_for_more(q)), "")


# "which of these came out in October", "这几篇里哪些是11月的", "which of the two came out
# first": the papers the chat is about, as a group.
_CHAT_GROUP = re.compile(
    r"\b(?:these|those|them|they|each|both|the\s+(?:two|three|four|five|\d))\b"
    r"|这几篇|这些|这[两俩三四五\d]篇|它们|其中|上面|刚才(?:那|说|提)",
    re.IGNORECASE,
)
_GROUP_SIZE = re.compile(
    r"\b(?:these|those|the)\s+(two|three|four|five|\d)\b|这([两俩三四五\d])篇", re.IGNORECASE
)
_SIZES = {"two": 2, "three": 3, "four": 4, "five": 5, "两": 2, "俩": 2, "三": 3, "四": 4, "五": 5}


def refers_to_chat_group(question: str) -> bool:
    return bool(_CHAT_GROUP.search(question))


def discussed_papers(question: str, history: Sequence[Turn]) -> list[str]:
    """The papers "these" means: with a number ("these 3", "这两篇"), the that many the chat's
    answers were most often about (each answer's first citation; the later on a tie), in the
    order the chat took them up: one answer that went astray does not make a paper one of
    "these two". Else every paper the chat cited."""
    m = _GROUP_SIZE.search(question)
    word = next((g for g in m.groups() if g), "") if m else ""
    n = int(word) if word.isdigit() else _SIZES.get(word.lower(), 0)
    firsts = [t.paper_ids[0] for t in history if t.role == "assistant" and t.paper_ids]
    order = list(dict.fromkeys(firsts))
    if not n or len(order) < n:
        return chat_papers(history)
    last = {p: i for i, p in enumerate(firsts)}
    top = sorted(order, key=lambda p: (firsts.count(p), last[p]), reverse=True)[:n]
    return [p for p in order if p in top]


def chat_papers(history: Sequence[Turn]) -> list[str]:
    """Every paper the chat's answers cited, in order of first citation."""
    return list(dict.fromkeys(p for t in history if t.role == "assistant" for p in t.paper_ids))


def new_subject(
    question: str, known_text: str, doc_freq: dict[str, int], n_docs: int
) -> tuple[list[str], list[str]]:
    """Words of the question that may bring a subject of its own: (words few digests use and
    the papers under discussion, `known_text`, do not: "那视频生成方面呢?" after a paper on
    contrastive loss, "what about data contamination?"; words no digest uses: "capital" and
    "France", but also "gold medals" for a digest that says 金牌). Aspects any paper has
    (code, datasets, speed) are no subject. Containment is by substring, and a Chinese word
    must be one of jieba's dictionary: it may cut "数据集上" into 数据 + 集上."""
    new: list[str] = []
    unknown: list[str] = []
    for t in content_terms(question):
        if t in ASPECTS or t.isdigit() or t in known_text or not dictionary_word(t):
            continue
        if doc_freq.get(t, 0) == 0:
            unknown.append(t)
        elif is_rare(t, doc_freq, n_docs):
            new.append(t)
    return new, unknown


def is_rare(term: str, doc_freq: dict[str, int], n_docs: int) -> bool:
    """A word few digests use (a fifth of the chunks at most): one that can pick a paper."""
    return 0 < doc_freq.get(term, 0) <= max(2, n_docs // 5)


def _in_order_named(ids: list[str], question: str, titles: dict[str, str]) -> list[str]:
    """The papers in the order the question names them, when it names at least two; else as
    they are. A paper is named by its short name, or by a word of its title that is a name
    (BF16 of "Give Me BF16 or Give Me Death"?)."""
    where: dict[str, int] = {}
    low = question.lower()
    for p in ids:
        title = titles.get(p, "")
        names = [short_name(title) or ""] + [
            w for w in re.findall(r"[A-Za-z][\w.\-]*", title.split("  ")[0]) if _NAME_LIKE.search(w)
        ]
        found = [i for n in names if len(n) >= 3 and (i := low.find(n.lower())) >= 0]
        if found:
            where[p] = min(found)
    return sorted(where, key=where.__getitem__) if len(where) >= 2 else ids


# A word that is a name: a digit or a capital after its first letter (BF16, BitNet, MIA-DPO).
_NAME_LIKE = re.compile(r"\d|^.+[A-Z]")


def heuristic_query(
    question: str,
    history: Sequence[Turn],
    titles: dict[str, str],
    *,
    force: bool = False,
    focus: Sequence[str] = (),
) -> str:
    """Without an LLM: a follow-up is searched together with the titles of the papers the last
    answer cited (`focus`, when given: the ones its question named) and, when the follow-up
    says little of its own ("and on Mind2Web?"), that answer's question. A standalone question
    is left alone, so a change of topic is not dragged back to the old one."""
    if not history or not (force or is_follow_up(question)):
        return question
    last_user, last_ids = last_answered(history)
    n = ordinal(question)
    if n is not None:
        # An ordinal counts in the last list the chat showed: "the first one?" after "the
        # second one" is the first of the list the second was from.
        last_user, last_ids = last_list(history)
        # "后者呢?" after "比较一下 SAM2Long 和 PUMA", "the first one" after "the BF16 paper
        # and BitNet": in the order the question named them, whatever order the answer cited
        # them in.
        last_ids = _in_order_named(last_ids, last_user, titles)
    if n is not None and (picked := _picks(n, last_ids)) is not None:
        # "第二篇呢?" after "Compare WebRL and AndroidLab": AndroidLab alone. The previous
        # question would bring both back.
        return f"{question} {titles.get(picked, '')}".strip()
    ids = [p for p in last_ids if p in focus] or last_ids[:2]
    cited = " ".join(titles[p] for p in ids if p in titles)
    if not (len(content_terms(question)) <= 1 or elliptical(question) or points_back(question)):
        last_user = ""  # the question says what it asks; the last one's words would pull
    elif others := [titles[p] for p in last_ids if p not in ids and p in titles]:
        # "what improvement does it report?" after "Does Baichuan alignment use DPO?", which
        # also cited MIA-DPO: "DPO" would pull that paper back in.
        theirs = set(tokenize(" ".join(others))) - set(tokenize(cited))
        last_user = " ".join(w for w in last_user.split() if not set(tokenize(w)) & theirs)
    return " ".join(x for x in (question, cited, last_user) if x).strip()
