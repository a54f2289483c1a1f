"""Language-aware text helpers: Chinese segmentation that keeps identifiers whole, sentence
splitting, language detection. Shared by BM25, the refusal gate, extractive answers and evals."""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache

import jieba

jieba.setLogLevel(logging.WARNING)
_jieba_lock = threading.Lock()
_jieba_ready = False

CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_CHAR = re.compile(f"[{CJK}]")
# ASCII identifiers stay whole: GPT-4o, 2410.14059, W8A8-FP, J&F, Claude-3.5-Sonnet, LLaMA-3.1.
_ASCII_TOKEN = r"[A-Za-z0-9](?:[A-Za-z0-9&+._/\-]*[A-Za-z0-9+])?"
_TOKEN_RE = re.compile(f"({_ASCII_TOKEN})|([{CJK}]+)")
_PARTS_RE = re.compile(r"[&._/\-]")
# An acronym's English plural: LLMs, VLMs, LoRAs, GPUs. BM25 reads it as the acronym too:
# "papers that use LoRA" found no digest, as DimensionX's writes "维度感知的LoRAs". Only BM25:
# sentence choice and the gate read words as written.
_ACRONYM_PLURAL = re.compile(r"[A-Za-z0-9]*[A-Z]s")
# Bumped whenever tokenize() changes: BM25's saved token tables are kept per version, so an
# index built with other tokens is re-tokenized rather than mixed with new ones.
TOKENIZER_VERSION = 2
# A period ends a sentence before a space, except after a list number ("它能够：1. 作为…；
# 2. 按照…"): splitting there quoted "它能够：1." as a sentence of its own.
# An ASCII ";" ends one only when no letter follows: "TL;DR" is one word.
_SENTENCE_END = re.compile(
    r"(?<=[。！？!?；])|(?<=;)(?![A-Za-z])"
    r"|(?<=\.)(?<!^\d\.)(?<![\s：:；;（(]\d\.)(?<![\s：:；;（(]\d\d\.)(?=\s)|\n+"
)
# A Markdown table: a row is "| a | b |", the line under its header "|---|:--:|".
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")

STOPWORDS_EN = frozenset(
    """a an the of to in on for and or with by from as at is are was were be been being it its
    this that these those what which who whom whose how why when where does do did can could
    should would will about into than then there their they them paper papers study studies
    digest digests tell me please any some all there's what's which's i you we our us your
    use used using uses propose proposed proposes introduce introduced introduces based
    work works method methods approach model models new also more most other such only
    compare compared comparing comparison differ differs difference differences versus vs
    common summarize summarise summary overview describe explain
    hello hi hey thanks thank ok okay bye really sure great cool nice wow
    here collection library many much
    mention mentions mentioned mentioning discuss discusses discussed discussing talk
    talks""".split()
)
STOPWORDS_ZH = frozenset(
    """的 了 和 是 在 有 与 及 或 对 中 为 以 将 被 把 等 也 都 而 并 其 该 这 那 哪 些 个 篇 种
    什么 哪些 哪篇 哪个 哪种 多少 如何 怎么 怎样 为什么 是否 吗 呢 吧 啊 论文 文章 研究 工作 提出
    一个 一种 这个 那个 这篇 那篇 这些 那些 它 它们 他们 我们 你 我 请 告诉 介绍 关于 使用 采用
    通过 进行 方面
    可以 能够 主要 哪一 之 上 下 里 多 少 几 所 提 用 给 让 从 到 由 还 又 就 不 没有 非常 相关
    用到 用了 讲 讲了 讲的 提出了 有没有 有何 涉及 讨论 做了 做 是什么 叫什么 哪里 哪儿 多大 多久
    多长 几个 几种 一篇 一下 分别 具体 大概 怎么样 是否是 能否 有关 方法 模型 论文中
    区别 不同 异同 比较 相比 差异 共同点 各自 总结 概括 概述 简介 简述 说说 讲讲
    你好 您好 谢谢 多谢 再见 好的 嗨 哈喽 请问 还有 别的 其他 其它 另外
    库里 库中 收录 这里 你们 你这 系列 提到 提及 谈到 谈及 说到 讲到""".split()
)
STOPWORDS = STOPWORDS_EN | STOPWORDS_ZH


# Said around a question, not part of it: "换个话题，…", "btw …", "Switching gears — …",
# "…叫什么来着". Their words are in no digest, and the gate read them as a sign the question
# is not about the digests (support 0.94 for "有代码大模型的论文吗", 0.44 with "换个话题，").
_FILLER = re.compile(
    r"^\s*(?:(?:(?:ok(?:ay)?|so|well|(?:hi|hey|hello)(?:\s+there)?|btw|by\s+the\s+way|switching\s+gears"
    r"|anyway|also)(?=[\s,:.!—–]|$)|换个话题|换个问题|顺便问一下|顺便问下|顺便问|对了|你好|您好|嗨"
    r"|(?:另外|那么|好的|顺便)(?=[,，:：]))\s*[,，:：—–.。!！~]*\s*)+"
    r"|(?<=\S)来着(?=\s*[?？。.!！]*\s*$)",
    re.IGNORECASE,
)


# HTML pasted into a question ("<div>hello</div>", "<img src=x onerror=alert(1)>") is no part
# of what is asked: its attribute words picked papers at random. Only real HTML element names
# count as tags, so "x<y and y>z" keeps its words; script and style elements go whole.
_HTML_NAMES = (
    "a|abbr|address|article|aside|audio|b|base|blockquote|body|br|button|canvas|center|code"
    "|details|div|dl|dt|dd|em|embed|font|footer|form|frame|h[1-6]|head|header|hr|html|i|iframe"
    "|img|input|kbd|label|li|link|main|mark|marquee|meta|nav|object|ol|option|p|pre|s|section"
    "|select|small|source|span|strong|sub|summary|sup|svg|table|tbody|td|template|textarea|th"
    "|thead|title|tr|u|ul|video"
)
_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(
    rf"</?(?:{_HTML_NAMES}|script|style)\b(?:\s[^<>]*)?/?>|<!--.*?(?:-->|$)",
    re.IGNORECASE | re.DOTALL,
)


def without_markup(text: str) -> str:
    """The text without HTML tags, scripts and comments; a tag's words between tags stay."""
    out = _TAG.sub(" ", _SCRIPT.sub(" ", text))
    return re.sub(r"\s+", " ", out).strip() if out != text else text


# A text-style LaTeX command around a word, as arXiv abstracts copy it: "\textsc{OmniParser}".
_LATEX_STYLE = re.compile(
    r"\\(?:textsc|textbf|textit|texttt|textrm|textsf|emph|mathrm|mathbf|mathit|mathsf|text)"
    r"\{([^{}\\]*)\}"
)


# Markdown inside a summary: an image ("![架构图](images/x.png)": a relative path, nothing to
# quote) and a link, whose words are what a reader sees ("代码见 [GitHub](https://…)"). Both
# were quoted as raw markup, the image's "!" glued to the sentence before (a user test).
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^()\s]*(?:\s+\"[^\"]*\")?\)[ \t]*")
_MD_LINK = re.compile(r"(?<!!)\[([^\[\]\n]+)\]\((https?://[^()\s]+)(?:\s+\"[^\"]*\")?\)")


def without_markdown_media(text: str) -> str:
    """The summary without Markdown images, and with each web link as its words and address:
    "[GitHub](https://github.com/x)" reads "GitHub (https://github.com/x)", so the link still
    says where the code is."""
    text = _MD_IMAGE.sub("", text)  # with the spaces after it; the rest is kept as written
    return _MD_LINK.sub(
        lambda m: m.group(1) if m.group(1) == m.group(2) else f"{m.group(1)} ({m.group(2)})", text
    )


def without_latex(text: str) -> str:
    """The text with LaTeX style commands replaced by the words they style. Quoted as written,
    "\textsc{OmniParser} 在性能上超越了…" showed the markup, and BM25 read "textsc"."""
    return _LATEX_STYLE.sub(r"\1", text)


def without_filler(question: str) -> str:
    """The question without what is said around it ("btw", "换个话题", "来着"); the question
    itself when nothing else would be left."""
    out = _FILLER.sub("", question).strip()
    return out if any(ch.isalnum() for ch in out) else question


def _ensure_jieba() -> None:
    # jieba builds its prefix dictionary lazily and not thread-safely; do it once, locked.
    global _jieba_ready
    if not _jieba_ready:
        with _jieba_lock:
            if not _jieba_ready:
                jieba.initialize()
                _jieba_ready = True


def tokenize(text: str, *, for_search: bool = True, singulars: bool = False) -> list[str]:
    """Lower-cased tokens: jieba words for Chinese runs, whole ASCII identifiers (plus their
    parts, so 'Claude-3.5-Sonnet' also matches 'Claude'). Punctuation is dropped.
    `singulars` (BM25): an acronym's plural also gives the acronym (LoRAs: loras, lora)."""
    _ensure_jieba()
    out: list[str] = []
    for m in _TOKEN_RE.finditer(text):
        ascii_tok, cjk_run = m.group(1), m.group(2)
        if ascii_tok:
            tok = ascii_tok.lower()
            out.append(tok)
            if singulars and _ACRONYM_PLURAL.fullmatch(ascii_tok):
                out.append(tok[:-1])
            parts = [p for p in _PARTS_RE.split(tok) if p]
            if len(parts) > 1:
                out.extend(p for p in parts if len(p) > 1 or p.isdigit())
        else:
            words = jieba.cut_for_search(cjk_run) if for_search else jieba.cut(cjk_run)
            out.extend(w for w in words if w.strip())
    return out


def _unglued(tok: str) -> list[str]:
    """A word jieba's HMM made up by gluing a stopword to its neighbour ("那篇用" of
    "那篇用了什么基准") as the dictionary words it is made of: read whole, the made-up word
    was in no digest, and the refusal gate took the question for one the digests cannot
    answer."""
    if not CJK_CHAR.search(tok) or dictionary_word(tok):
        return [tok]
    parts = jieba.lcut(tok, HMM=False)
    return parts if any(p in STOPWORDS for p in parts) else [tok]


def content_terms(text: str) -> list[str]:
    """Distinct tokens that carry meaning (no stopwords, no single Chinese characters)."""
    seen: dict[str, None] = {}
    for whole in tokenize(text, for_search=False):
        for tok in _unglued(whole):
            if tok in STOPWORDS:
                continue
            if len(tok) == 1 and not tok.isdigit():
                continue
            seen.setdefault(tok, None)
    return list(seen)


def dictionary_word(term: str) -> bool:
    """An ASCII token, or a Chinese word jieba's dictionary holds: not a fragment its HMM made
    up from what it did not know ("数据集上" -> 数据 + 集上)."""
    if not CJK_CHAR.search(term):
        return True
    _ensure_jieba()
    return jieba.dt.FREQ.get(term, 0) > 0


def chinese_nouns(text: str) -> list[str]:
    """The nouns of a Chinese phrase, by jieba's part-of-speech tags (names, places and times
    too): "地球" of "地球的半径", not "里面" or "一共" of "里面一共有多少个任务"."""
    import jieba.posseg  # loaded on first use: its tagger took 0.23 s to load here

    _ensure_jieba()
    return [
        w.word
        for w in jieba.posseg.cut(text)
        if len(w.word) >= 2 and w.flag[:1] in ("n", "t") and CJK_CHAR.search(w.word)
    ]


def is_cjk_term(term: str) -> bool:
    return bool(CJK_CHAR.search(term))


_CN_DIGITS = dict(zip("一二三四五六七八九", range(1, 10), strict=True)) | {"两": 2}


def chinese_number(text: str) -> int:
    """一 … 九十九 or digits (十一 = 11, 二十 = 20, 二十三 = 23, "12" = 12); 0 for anything else."""
    if text.isdigit():
        return int(text)
    if "十" not in text:
        return _CN_DIGITS.get(text, 0)
    tens, _, ones = text.partition("十")
    return (_CN_DIGITS.get(tens, 0) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)


def detect_language(text: str) -> str:
    """'zh' when the text is mainly Chinese, else 'en'. Names do not count as English:
    "Agent K 的 Elo-MMR 排名？" and "Give Me BF16 or Give Me Death 讲了什么？" are Chinese
    questions about English names. An English word is a lower-case word, or a function word
    that starts a sentence (What, Which)."""
    text = re.sub(r"\S*(?:https?://|www\.|arxiv\.org)\S*", " ", text)  # a link is no language
    cjk = len(CJK_CHAR.findall(text))
    english = 0
    for m in re.finditer(r"[A-Za-z][A-Za-z']*", text):
        w = m.group(0)
        # A capitalised word inside a sentence is part of a name ("Give Me BF16 or …").
        starts = not text[: m.start()].strip() or text[: m.start()].rstrip()[-1] in ".?!。？！"
        english += w.islower() or (starts and w.lower() in STOPWORDS_EN)
    return "zh" if cjk >= 2 and cjk >= 2 * english else "en"  # a Chinese word: ~2 characters


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def _tables_as_lines(text: str) -> str:
    """Each row of a Markdown table as one line that names its columns ("模型：PaLM 540B，
    GSM8K：56.9%"). Split as text, the header row ("| 模型 | GSM8K |") and the rule under it
    were quoted as answers, and a row's numbers without the columns they are in."""
    if "|" not in text:
        return text
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if (
            i + 1 < len(lines)
            and _TABLE_ROW.match(lines[i])
            and _TABLE_RULE.match(lines[i + 1])
            and "|" in lines[i + 1]
        ):
            head = _cells(lines[i])
            cjk = bool(CJK_CHAR.search(lines[i]))
            colon, comma = ("：", "，") if cjk else (": ", ", ")
            i += 2
            while i < len(lines) and _TABLE_ROW.match(lines[i]):
                cells = _cells(lines[i])
                pairs = [f"{h}{colon}{c}" if h else c for h, c in zip(head, cells, strict=False)]
                out.append(comma.join(p for p, c in zip(pairs, cells, strict=False) if c))
                i += 1
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def split_sentences(text: str, min_chars: int = 8) -> list[str]:
    """Sentences of a Chinese/English summary; short fragments join their neighbour. A
    table's rows are sentences of their own, each naming its columns."""
    pieces = [p.strip() for p in _SENTENCE_END.split(_tables_as_lines(text)) if p and p.strip()]
    out: list[str] = []
    for p in pieces:
        if out and (len(p) < min_chars or len(out[-1]) < min_chars):
            sep = "" if CJK_CHAR.search(out[-1][-1:] or "") else " "
            out[-1] = f"{out[-1]}{sep}{p}"
        else:
            out.append(p)
    return out


@lru_cache(maxsize=4096)
def token_set(text: str, singulars: bool = False) -> frozenset[str]:
    """Cached token set of a passage, for overlap features (`singulars`: see tokenize)."""
    return frozenset(tokenize(text, for_search=True, singulars=singulars))


_QUANTITY = re.compile(
    r"多少|几[个种位名篇项次倍]?|多[长大久快高]|百分之|比例|how (?:many|much|large|fast|long)"
    r"|what (?:percentage|number|fraction|share|accuracy|score|rate)|by how",
    re.IGNORECASE,
)


# What "how many" counts: "How many VLMs were evaluated", "多少名参与者", "几个任务" (not
# "哪几种格式": which ones, not how many).
_COUNTED = re.compile(
    r"how\s+many\s+(?P<en>[A-Za-z][\w-]*)"
    r"|(?:多少|(?<!哪)几)[个名种篇项条位次款类组块张]?(?P<zh>[\u4e00-\u9fff]{2,4}|[A-Za-z][\w-]*)",
    re.IGNORECASE,
)
# A count as a digest writes it: digits, Chinese numerals ("九个应用", "数十种"), number words.
_DIGITS = r"\d[\d,.]*"
_COUNT = (
    r"(?:\d[\d,.]*|[零一二两三四五六七八九十百千万亿]+|(?i:one|two|three|four|five|six|seven"
    r"|eight|nine|ten|eleven|twelve|dozens?|hundreds?|thousands?|millions?))"
)


def counted_noun(question: str) -> str | None:
    """What a "how many" question counts, as a stem ("vlm" of "How many VLMs", "分割路径" of
    "多少条分割路径"), or None."""
    m = _COUNTED.search(question)
    if m is None:
        return None
    noun = (m.group("en") or m.group("zh") or "").lower()
    stem = noun[:-1] if noun.endswith("s") and len(noun) > 3 else noun
    return None if noun in STOPWORDS or len(stem) < 2 else stem


def count_pattern(stem: str, *, in_words: bool = False) -> re.Pattern[str]:
    """A number followed closely by what a question counts (`stem`, see counted_noun): "53 个
    最先进的 VLMs" for "how many VLMs". `in_words`: numbers written out count too ("九个应用"),
    and so does a numeral inside a word ("一种…"): wide, for telling that a digest gives no
    count at all."""
    # Wide, words may stand between a count and its noun ("10,000 个经过人工验证的 VQA 样本").
    number, gap = (_COUNT, 24) if in_words else (_DIGITS, 12)
    return re.compile(
        rf"{number}\s*(?:[^\d。；;.!?！？]{{0,{gap}}}?){re.escape(stem)}", re.IGNORECASE
    )


# A metric asks for its value: "What's the PSNR of FrugalNeRF on LLFF?" (an English user test:
# it quoted the LLFF sentence, which gives no PSNR). Case kept: "map" and "em" are words.
_METRIC = re.compile(
    r"\b(?:PSNR|SSIM|LPIPS|FID|FVD|KID|BLEU|ROUGE(?:-\w+)?|METEOR|CIDEr|mAP|mIoU|IoU|F1|WER|CER"
    r"|NDCG|MRR|AUC|[Pp]ass@\d+|[Pp]erplexity|PPL|[Ww]in[- ]rates?)(?![\w@-])"
)


def asks_for_quantity(question: str) -> bool:
    """Whether the answer is a number (how many, 多少, what accuracy, the PSNR…)."""
    return bool(_QUANTITY.search(question) or _METRIC.search(question))


# "GraspNet-Zero 用的是什么 GPU？" as "What GPU…"; "它的训练成本呢？" and "and the cost?" as "what
# is its cost?"; "和 X 用的 GPU 一样吗" compares two values.
_VALUE = re.compile(
    r"\b(?:what|which|same)\b|什么|哪(?:个|种|款|些|家|块|张)|一样|相同"
    r"|呢\s*[？?]?\s*$|^\s*(?:and|how about)\b",
    re.IGNORECASE | re.ASCII,
)


def asks_for_value(question: str) -> bool:
    """Whether the question asks for a measure's value (a number, which GPU, the cost), not
    about a topic that names the measure ("降低 GPU 显存开销的论文")."""
    return asks_for_quantity(question) or bool(_VALUE.search(question))


# What a number question may ask for, and how a digest would say it in either language. These
# are the measures papers report in units of their own (time, hardware, size, money, a
# hyperparameter); asked for one about papers whose digests never state it, an extractive
# answer would quote some other figure. (asked-for pattern, stated-in-a-digest pattern)
# A sentence that says which GPUs, not only that there were some ("GPU 内存瓶颈"): a model
# ("8 倍 A800", "RTX 4090") or a count of them ("32 GPUs", "8 张显卡").
GPU_NAMED = re.compile(
    r"RTX|GTX|Tesla|Quadro|Ascend|昇腾|Gaudi|Jetson|Apple\s+M\d"
    r"|\b(?:[AHLV]\d{2,3}S?|A\d{4}|[GH]B?\d{3}|MI\d{3}X?|\d{4}\s*Ti)\b"
    r"|\d\s*(?:[x×倍张块个台]\s*)?(?:GPU|TPU|NPU|显卡)",
    re.IGNORECASE | re.ASCII,
)
_CONTEXT_WORD = r"上下文|context|窗口|window"
_RATE_ZH = r"成功率|准确率|正确率|通过率|胜率|召回率|精确率|命中率|错误率|准确度"
_SPEED_WORD = r"快|速|speed|faster|slower|latency|延迟|FLOPs|耗时|时间|吞吐|throughput"
_LENGTH = r"\d\s*[KkM]\b|\d\s*万|\d[\d,]*\s*(?:个\s*)?tokens?"  # 32K, 100 万, 8192 tokens
MEASURES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "gpu": (
        re.compile(r"\bGPUs?\b|显卡|\bhardware\b|硬件", re.IGNORECASE | re.ASCII),
        # A GPU is often named by its model only: "a single RTX 4090", "8 张 A800", "L40S".
        re.compile(
            r"GPU|显卡|TPU|NPU|\bCPU|RTX|GTX|Tesla|Quadro|Ascend|昇腾|Gaudi|Jetson|Apple\s+M\d"
            r"|\b(?:[AHLV]\d{2,3}S?|A\d{4}|[GH]B?\d{3}|MI\d{3}X?|\d{4}\s*Ti)\b",
            re.IGNORECASE | re.ASCII,
        ),
    ),
    "parameters": (
        re.compile(r"\bparam(?:eter)?s\b|参数量|多少(?:个)?参数", re.IGNORECASE | re.ASCII),
        # Not 超参数 / hyperparameters: tuning them says nothing about a model's size.
        re.compile(r"(?<!超)参数|(?<!hyper)param|\d\s*[BMT]\b|亿", re.IGNORECASE | re.ASCII),
    ),
    "time": (
        re.compile(
            r"\b(?:seconds|minutes|hours|days|milliseconds|ms)\b|(?:多少|几)(?:毫秒|秒|分钟|个?小时|天)"
            r"|多久|多长时间",
            re.IGNORECASE | re.ASCII,
        ),
        re.compile(
            r"秒|分钟|小时|天|周|seconds?|minutes?|hours?|days?|weeks?|\d\s*(?:ms|s|h)\b|FPS|帧/秒",
            re.IGNORECASE | re.ASCII,
        ),
    ),
    "cost": (
        re.compile(
            # Cost-efficiency is no figure asked for: "Which format is most cost-efficient…?"
            r"\bcost\b(?![\s-]*effective|[\s-]*efficien)|\bdollars?\b|\bUSD\b|多少钱"
            r"|成本(?!效益|效率)|费用|美元",
            re.IGNORECASE | re.ASCII,
        ),
        # A training cost is as often given in compute: "在单台 8 倍 A800 GPU 设备上…训练 16 小时".
        re.compile(
            # Not "具有成本效益的" (cost-effective): "ScaleQuest 花了多少钱？" quoted it.
            r"\$|美元|dollar|USD|成本(?!效益|效率)|费用|\bcost(?![\s-]*effective|[\s-]*efficien)"
            r"|GPU[\s-]*(?:hours?|days?|小时|天)"
            r"|训练[^。；]{0,12}\d+(?:\.\d+)?\s*(?:个)?(?:小时|天|周)"
            r"|\btrain\w*\b[^.;]{0,30}\b\d+(?:\.\d+)?\s*(?:hours?|days?|weeks?)\b",
            re.IGNORECASE | re.ASCII,
        ),
    ),
    "learning_rate": (
        re.compile(r"learning rate|学习率", re.IGNORECASE | re.ASCII),
        re.compile(r"learning rate|学习率", re.IGNORECASE | re.ASCII),
    ),
    # "how much faster exactly, tok/s?": a rate, not a ratio ("2 倍").
    "throughput": (
        re.compile(
            r"\btok(?:en)?s?\s*/\s*s\b|\btokens?\s+per\s+second\b|\bthroughput\b|吞吐|每秒(?:多少|几)",
            re.IGNORECASE | re.ASCII,
        ),
        re.compile(
            r"tok(?:en)?s?\s*/\s*s|per\s+second|throughput|吞吐|每秒|/s\b|FPS", re.I | re.ASCII
        ),
    ),
    # "How many tokens of pretraining data?": a digest saying "2T tokens" or "0.3B 数据".
    "tokens": (
        re.compile(
            r"\b(?:how\s+many|number\s+of)\s+(?:\w+\s+){0,3}tokens?\b"
            r"|多少\s*(?:个)?\s*(?:tokens?|词元)|tokens?\s*(?:数|数量|量)",
            re.IGNORECASE | re.ASCII,
        ),
        re.compile(r"tokens?|词元|\d\s*[BMT]\b", re.IGNORECASE | re.ASCII),
    ),
    # "How many training steps did WebRL run?" quoted its components (an English user test).
    "steps": (
        re.compile(
            r"\b(?:training|optimi[sz]ation|gradient|update)\s+steps\b|\bepochs?\b"
            r"|\b(?:how\s+many|number\s+of)\s+(?:training\s+)?iterations\b"
            r"|训练(?:步数|轮数|了多少步|了几轮)|迭代(?:次数|了多少次)|多少(?:个)?(?:epoch|轮)",
            re.IGNORECASE | re.ASCII,
        ),
        re.compile(
            r"\d[\d,.]*\s*[kK]?\s*(?:steps?|epochs?|iterations?|个?\s*epoch|步|轮|次迭代)"
            # A change in steps: "训练步数减少了 25%" (a corpus maintainer test: refused).
            r"|(?:步数|轮数|\bsteps\b|\bepochs\b)[^。；;.\n]{0,16}?\d",
            re.IGNORECASE | re.ASCII,
        ),
    ),
    # "WMA 在 WebArena 上的成功率具体是多少？" of a digest with no rate at all quoted WebRL's
    # success rates beside WMA's (a Chinese user test): a rate is a percentage, or a number
    # right after the word for it.
    "rate": (
        re.compile(
            rf"(?:{_RATE_ZH})[^？?。，,]{{0,10}}(?:多少|几|多高)|(?:多少|几)[^？?。]{{0,4}}(?:{_RATE_ZH})"
            r"|\b(?:success|pass|win|error|hit)\s+rates?\b|\baccuracy\b",
            re.IGNORECASE | re.ASCII,
        ),
        re.compile(
            r"\d\s*(?:%|％|个?百分点|percentage\s+points?|分(?!之)|points?\b)"
            rf"|(?:{_RATE_ZH}|accuracy|success\s+rate|pass@\d|win\s+rate|\bF1\b)[^。；;\n]{{0,24}}?"
            r"(?<![A-Za-z\-.\d])\d+(?:\.\d+)?(?![\d.]*[A-Za-z\-])",
            re.IGNORECASE | re.ASCII,
        ),
    ),
    # "BitNet a4.8 推理速度比 BitNet b1.58 快几倍？" of a digest that says only "速度更快": a
    # speed-up is a multiple or a share next to a word for speed, or a rate (FPS, tok/s).
    "speed": (
        re.compile(
            r"(?:快|慢)了?(?:多少|几倍|多少倍)|速度[^？?。，,]{0,8}(?:多少|几倍|多快)"
            r"|(?:加速|提速)(?:比|了)?(?:多少|几倍)"
            r"|\bhow\s+(?:much|many\s+times)\s+(?:faster|slower)\b|\bspeed-?ups?\b"
            r"|\bhow\s+fast\b",
            re.IGNORECASE | re.ASCII,
        ),
        re.compile(
            rf"(?:{_SPEED_WORD})[^。；;\n]{{0,24}}?\d+(?:\.\d+)?\s*(?:倍|%|％|[x×])"
            rf"|\d+(?:\.\d+)?\s*(?:倍|%|％|[x×])[^。；;\n]{{0,16}}?(?:{_SPEED_WORD})"
            r"|FPS|帧/秒|tok(?:en)?s?\s*/\s*s|毫秒|\d\s*ms\b",
            re.IGNORECASE | re.ASCII,
        ),
    ),
    # "LOGO 最后把上下文窗口扩到多长": a length, "32K" or "100 万 token".
    "context": (
        re.compile(r"context\s+(?:window|length)|上下文(?:窗口|长度)", re.IGNORECASE | re.ASCII),
        # Near a word for it: Pangea's "600 万条指令" is no context length.
        re.compile(
            rf"(?:{_CONTEXT_WORD})[^。；;\n]{{0,30}}?(?:{_LENGTH})"
            rf"|(?:{_LENGTH})[^。；;\n]{{0,12}}?(?:{_CONTEXT_WORD})",
            re.IGNORECASE | re.ASCII,
        ),
    ),
}


def asked_measures(question: str) -> list[str]:
    """The measures (keys of MEASURES) a question asks for."""
    asked = [m for m, (ask, _) in MEASURES.items() if ask.search(question)]
    # "how much faster, in tok/s?" asks the speed-up in a unit of its own: a throughput.
    return [m for m in asked if not (m == "speed" and "throughput" in asked)]


# What a question may ask about a paper beyond its content, that digests seldom state; asked
# without a number, unlike MEASURES. (question pattern, pattern of a digest stating it).
# "What do the authors of PUMA propose?" asks about the content: only asking *who* counts.
PAPER_FACTS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "authors": (
        re.compile(
            r"\bwho\b[^?？]*\b(?:wrote|writes?|authored|authors?|behind|made|developed|created"
            r"|built|published|released)\b"
            # "Authors of PUMA?", but not "the authors of LOGO say what about …?"
            r"|^\W*(?:the\s+)?authors?\s+(?:of|for|list)\b(?![^?？]*\b(?:say|says|said|propose"
            r"|proposed|find|found|claim|think|use|used|do|does|did|argue|show|report)\b)"
            r"|\b(?:list|name|give|show|tell)\b[^?？]{0,24}\bauthors?\b(?![^?？]*\b(?:propose"
            r"|say|claim|find|use)\b)"
            # An organisation asked for as the paper's maker, not as anything's: "Which
            # company's GPU was used …?" asks for hardware.
            r"|\b(?:which|what)\s+(?:institutions?|universit(?:y|ies)|organi[sz]ations?|labs?"
            r"|laborator(?:y|ies)|compan(?:y|ies)|teams?|research\s+groups?|affiliations?)\b"
            r"(?=[^?？]*\b(?:wrote|written|authored|developed|made|built|created|released"
            r"|published|behind|from|authors?|did|work|works|affiliated|belong|based)\b)"
            r"|\b(?:researchers|people|team)\s+behind\b"
            r"|\bauthors?'?s?\s+(?:affiliations?|institutions?|names?)\b"
            r"|作者(?:是|都是|有|都有|包括)?(?:谁|哪些人|哪几位|哪位|哪些)"
            r"|(?:是)?谁(?:写|撰写|提出|发表|做|开发|发布)的|(?:哪些|哪几位|哪位)作者|有谁"
            r"|(?:哪个|哪家|哪些|什么)(?:研究)?(?:团队|机构|单位|实验室|公司|大学|学校|组织|课题组)"
            r"(?=.*(?:做|写|开发|发布|发表|提出|出自|来自|的人|作者|研发|推出))"
            r"|(?:出自|来自)(?:哪个|哪家|哪些|什么)"
            r"|作者(?:来自|属于|是)?(?:哪|什么)(?:个|家|所)?(?:机构|单位|大学|学校|团队|公司|实验室|国家)"
            r"|作者(?:名单|列表|信息|单位|机构|姓名|名字)",
            re.IGNORECASE | re.ASCII,
        ),
        # Who they are, not that they exist: "作者提出了…" ("the authors propose") names nobody.
        re.compile(
            r"et al|\b(?:University|Institute|Lab|Laboratory)\b|大学|研究院|研究所|实验室"
            r"|作者(?:是|为|包括|来自|分别)|\bauthors?\s+(?:are|include|from)\b",
            re.ASCII,
        ),
    ),
    "venue": (
        re.compile(
            r"\b(?:which|what)\s+(?:conference|journal|venue|workshop)\b"
            r"|\b(?:published|accepted|appear(?:ed|s)?|presented)\s+(?:at|in)\s+(?:which|what)\b"
            r"|(?:发表|收录|录用|接收)(?:在|于)?(?:哪个|哪|什么)(?:个)?(?:会议|期刊|会|刊)"
            r"|(?:在|于)哪(?:里|儿)?(?:发表|录用|收录)|(?:发表|录用|收录)(?:在|于)哪(?:里|儿)?"
            r"|\bwhere\s+(?:was|is|were|has)\b[^?？]*\b(?:published|accepted|presented)\b"
            r"|(?:哪个|什么)(?:会议|期刊)",
            re.IGNORECASE | re.ASCII,
        ),
        re.compile(
            r"\b(?:NeurIPS|ICML|ICLR|CVPR|ICCV|ECCV|ACL|EMNLP|NAACL|AAAI|IJCAI|KDD|SIGIR"
            r"|conference|journal|workshop)\b|会议|期刊",
            re.IGNORECASE | re.ASCII,
        ),
    ),
    "funding": (
        re.compile(
            r"\bwho\s+(?:funded|funds|sponsored|sponsors|paid\s+for|financed)\b"
            r"|\b(?:funding|funded\s+by|sponsored\s+by|grants?)\b"
            r"|(?:谁|哪[个家些]?)(?:资助|赞助|出资)|资助(?:方|来源|机构)|经费(?:来源|来自)",
            re.IGNORECASE | re.ASCII,
        ),
        re.compile(r"\b(?:fund\w*|grants?|sponsor\w*)\b|资助|赞助|基金|经费", re.I | re.ASCII),
    ),
    # "github链接给我一下", "代码地址", "project page?": a digest that gives one has a URL. (The
    # arXiv link every paper has; a question for "the link" alone gets it with the citation.)
    "link": (
        re.compile(
            r"\b(?:github|repo(?:sitory)?|project\s+(?:page|site|website)|homepage)\b"
            r"|\b(?:code|source)\s+(?:link|url)\b|代码(?:的)?(?:地址|链接|仓库)|项目(?:地址|主页|页面)"
            r"|仓库|主页",
            re.IGNORECASE | re.ASCII,
        ),
        re.compile(r"https?://|www\.|github\.com", re.IGNORECASE | re.ASCII),
    ),
    # Whether the code is out: "Is the code of SpectroMotion released?", "DimensionX 的代码开源
    # 了吗？". Asked as a question only: "哪些论文评测了开源模型？" asks about open models.
    # Stated by a link, or by a release said in words ("AndroidLab 已开源"); "开源 LLM" alone
    # is an open model, not the paper's code.
    "code": (
        re.compile(
            r"\b(?:code|weights|implementation|checkpoints?)\b[^?？]{0,30}"
            r"\b(?:released|available|open[- ]?sourced?|public|published|out)\b"
            r"|\b(?:is|are|was|were)\s+(?:it|they|\S+(?:\s+\S+){0,3})\s+open[- ]?sourced?\b"
            r"|\bwhere\b[^?？]{0,40}\b(?:code|implementation|weights)\b"
            r"|\b(?:did|do|does|have|has|will)\b[^?？]{0,30}\brelease[sd]?\b[^?？]{0,20}"
            r"\b(?:code|weights|implementation)\b"
            r"|开源了(?:吗|没|么)|(?:是否|有没有|有无|会不会|可否)(?:已经?)?开源|开源(?:了)?没有"
            r"|代码(?:是否|有没有|有无|能否|可否)?(?:已经?)?(?:公开|发布|放出|开放)(?:了)?(?:吗|没|么)"
            r"|(?:有没有|有无|是否有|有)(?:公开的?|开源的?)?代码(?:吗|么)?[？?]"
            r"|代码在哪|哪里(?:能|可以)?(?:找到|下载|获取)[^？?]{0,12}代码",
            re.IGNORECASE | re.ASCII,
        ),
        re.compile(
            r"https?://|www\.|github\.com|(?:已|将|均已|全部|完全)(?:经)?(?:开源|公开发布)"
            # Not "开源代码 LLMs" (open code models): a release says 了, or 公开/发布.
            r"|开源了(?:代码|模型权重|权重|实现)|代码(?:和[^，。]{0,12})?(?:已|将)?(?:开源|公开|发布)"
            r"|(?:公开|发布)了?[^，。]{0,10}(?:代码|权重)"
            r"|\bopen[- ]sourced\b|\b(?:code|weights|implementation)s?\b[^.]{0,40}"
            r"\b(?:is|are|will\s+be)\s+(?:publicly\s+)?(?:available|released|public)\b"
            r"|\brelease[sd]?\s+(?:the|our|its|all)?\s*(?:code|weights|implementation)",
            re.IGNORECASE | re.ASCII,
        ),
    ),
    # "Agent K 用的底座大模型是哪一个？", "Which base LLM does Pangea build on?": a Chinese user
    # test got intro sentences quoted for four such questions. Stated by a model family's
    # name anywhere in the digest (generous: "GPT-4o" in WMA's motivation counts) or by a word
    # for a base model.
    "base_model": (
        re.compile(
            r"\b(?:base|backbone|underlying|foundation)\s+(?:(?:language|vision|diffusion|video)"
            r"\s+)?(?:models?|LLMs?|MLLMs?|VLMs?)\b"
            r"|\b(?:fine-?tuned|built|initiali[sz]ed|trained)\s+(?:on\s+top\s+of|on|from)\s+"
            r"(?:which|what)\b"
            r"|(?:底座|基座|基模|骨干)(?:大)?(?:语言|视觉|扩散|视频)?(?:扩散)?(?:模型|LLM|网络)?"
            r"|基础(?:大)?(?:语言)?模型(?:是|用的)(?:哪|什么)|基于(?:哪个|哪一个|什么)(?:大)?(?:语言)?模型",
            re.IGNORECASE | re.ASCII,
        ),
        re.compile(
            r"\b(?:Llama|LLaMA|Qwen|Mistral|Mixtral|Vicuna|GPT-?[34]|ChatGPT|Gemma|GLM|ChatGLM"
            r"|Phi-?\d|DeepSeek|Yi-\d|Baichuan|InternLM|InternVL|LLaVA|T5|BERT|RoBERTa|CLIP"
            r"|SigLIP|ViT|Stable\s*Diffusion|SDXL|SVD|CogVideoX?|FLUX|OPT|BLOOM|Falcon|Claude"
            r"|Gemini|Molmo|Whisper|DINO(?:v2)?|SAM)"
            r"|底座|基座|骨干|backbone|base\s+model|基础模型|foundation\s+model",
            re.ASCII,
        ),
    ),
    "license": (
        re.compile(
            r"\b(?:licen[cs]e[sd]?|licensing)\b|许可证|许可协议|开源协议|授权协议|(?:什么|哪个|哪种)协议",
            re.IGNORECASE | re.ASCII,
        ),
        re.compile(r"licen[cs]|许可|\b(?:MIT|Apache|GPL|BSD|CC[- ]BY)\b", re.I | re.ASCII),
    ),
}


# "When was WebRL published?": the arXiv id says the month (YYMM.NNNNN), the digests nothing.
_ASKS_DATE = re.compile(
    r"\bwhen\s+(?:was|were|did|is|has|had)\b[^?？]*\b(?:published|released|posted|submitted"
    r"|come\s+out|came\s+out|appear(?:ed)?|uploaded|put\s+(?:out|online)|announced|out|written"
    r"|publish|release|post|submit)\b"
    r"|\b(?:publication|release|submission|posting|arxiv)\s+(?:date|year|month|time)\b"
    r"|\b(?:date|year|month)\s+of\s+(?:publication|release|submission)\b"
    r"|\b(?:what|which)\s+(?:year|month|date)\b[^?？]*\b(?:published|released|posted|submitted"
    r"|out|appear(?:ed)?|come|came|publish|release)\b"
    r"|\bhow\s+(?:old|recent|new)\s+is\b"
    r"|\b(?:what|which)\s+(?:year|month)s?\s+(?:is|are|was|were)\b[^?？]*\bfrom\b"
    r"|(?:什么时候|何时|哪年|哪一年|哪个月|几月|几月份|哪天|什么时间|啥时候|何年|哪个时间)[^？?，,。]{0,12}"
    r"(?:发表|发布|提交|上线|出来|公开|挂|放出|推出|问世|上传|出的|发的)"
    r"|(?:发表|发布|提交|上传|公开)(?:于|在)?(?:什么时候|何时|哪年|哪一年|哪个月|几月|什么时间)"
    r"|(?:发表|发布|提交|上传|公开)(?:的)?(?:时间|日期|年份|月份)"
    r"|(?:哪个月|哪一年|哪年|几月份?|什么时候)的\s*[?？]?\s*$",
    re.IGNORECASE | re.ASCII,
)


# "Which is newer, PUMA or Pangea?", "Was WebRL released before SAM2Long?", "哪篇更早发表？":
# which of the papers named came out first, which their arXiv ids also say.
_RELEASED = r"(?:published|released|posted|submitted|out|uploaded|appeared)"
_ASKS_ORDER = re.compile(
    r"\b(?:newer|older|more\s+recent|less\s+recent)\b"
    rf"|\b(?:came|come|was|were|got|is|are)\s+(?:\w+\s+)?{_RELEASED}\s+(?:first|earlier|later|last|before|after|sooner)\b"
    rf"|\b(?:first|earlier|later)\s+to\s+(?:be\s+)?{_RELEASED}\b"
    r"|\b(?:predates?|postdates?|chronolog\w*)\b"
    r"|\bwhich\b[^?.]*\b(?:newest|latest|most\s+recent|oldest|earliest)\b"
    r"|\b(?:oldest|earliest|newest|latest)\s+to\s+(?:newest|latest|oldest|earliest)\b"
    r"|\bby\s+(?:date|release\s+date|publication\s+date|arxiv\s+id)\b"
    r"|(?:哪|谁)[^，,。？?]{0,8}(?:最新|最早|最晚)"
    r"|时间顺序|从早到晚|从新到旧|从旧到新|从晚到早|按(?:发表|发布)?(?:时间|日期)"
    r"|(?:哪|谁)(?:篇|个|一篇|一个)?(?:论文|工作)?(?:更新|更早|更晚|较新|较早|较晚|先|后|早|晚)"
    r"|(?:更早|更晚|先|后)(?:发表|发布|提交|上传|出来|问世|推出)"
    r"|(?:早|晚)于|比[^，,。？?]{1,40}(?:早|晚|新|旧)"
    r"|(?:哪|谁)[^，,。？?]{0,4}(?:发|出|提交|发布|发表)得?更?(?:早|晚)"
    # "这两篇都是 10 月份发的吗？", "Were both posted in October?": each one's month answers it.
    r"|都是[^，,。？?]{0,12}月份?(?:发|出|发表|发布|提交)的"
    r"|\b(?:were|are)\s+(?:both|they|all)\b[^?]*\b(?:published|posted|released|submitted)\s+in\b",
    re.IGNORECASE | re.ASCII,
)


def asks_for_order(question: str) -> bool:
    """The question may ask which of some papers came out first: it does when it names two
    or more ("What models are newer than GPT-4?" names none)."""
    return bool(_ASKS_ORDER.search(question))


def asks_for_date(question: str) -> bool:
    """The question asks when a paper was published."""
    return bool(_ASKS_DATE.search(question))


def asked_paper_facts(question: str) -> list[str]:
    """The facts (keys of PAPER_FACTS) a question asks for."""
    return [f for f, (ask, _) in PAPER_FACTS.items() if ask.search(question)]


# Several papers, not several things of one paper: "WMA 在哪些基准上做了实验?" asks for the
# benchmarks of one paper, as "which benchmarks did WMA use?" does.
_MULTI = re.compile(
    r"哪些(?:论文|工作|研究|文章|方法|模型)|哪几篇|有哪些[^，,。？?]{0,30}(?:论文|工作|研究|文章)|列出"
    r"|which (?:papers|works|studies|methods|models|ones)|what (?:papers|works)"
    r"|list (?:the )?papers|any papers",
    re.IGNORECASE,
)


def wants_several(question: str) -> bool:
    """'Which papers…' questions have several right answers."""
    return bool(_MULTI.search(question))
