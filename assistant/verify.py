"""Claims of a generated answer checked against the digests its markers cite. cite.py checks
that each marker points to a source; this checks what the cited sentence says: every number it
states and every name it uses must occur in the digest of a paper the sentence cites. A model
that writes "840 participants [1]" where [1] says 804, or "outperforms DreamBooth [1]" where
[1] never names DreamBooth, is caught; paraphrase and translation pass, because numbers are
compared by value (12M = 1200 万 = 12 million) and names as written. The evaluation's offline
judge uses the same number rules (evaluation/judge.py)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .cite import find_markers, strip_markers
from .records import UnsupportedClaim
from .text import STOPWORDS_EN, content_terms, is_cjk_term, split_sentences, token_set

# --- numbers ------------------------------------------------------------------------------------

_NUMBER = re.compile(r"\d+(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_UNIT = re.compile(
    r"\s*(%|百万|万|亿|千|thousand\b|million\b|billion\b|[KMB](?![A-Za-z]))", re.IGNORECASE
)
_SCALE = {
    "%": 1.0,
    "百万": 1e6,
    "万": 1e4,
    "亿": 1e8,
    "千": 1e3,
    "thousand": 1e3,
    "million": 1e6,
    "billion": 1e9,
    "k": 1e3,
    "m": 1e6,
    "b": 1e9,
}
_ZH_DIGIT = dict(zip("零一两二三四五六七八九", (0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True))
_ZH_UNIT = {"十": 10, "百": 100, "千": 1000}
_ZH_BIG = {"万": 10_000, "亿": 100_000_000}
# Chinese numerals before a counter word ("九个应用", "两张图像", "八百零四名", "十万条"):
# elsewhere 一/二/三 are parts of ordinary words (一种, 统一). A lone 一 is skipped: it mostly
# means "a".
_ZH_NUMBER = re.compile(
    r"(?<![\d零一二两三四五六七八九十百千万亿])(?<!\d\s)"  # not the unit of "6 百万"
    r"([一二两三四五六七八九十][零一二两三四五六七八九十百千万亿]+|[两二三四五六七八九十])"
    r"(?=[个种项篇位名条类步张枚层倍阶次款组])"
)
_EN_NUMBER = re.compile(
    r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\b", re.IGNORECASE
)
_EN_VALUE = {
    w: i + 2
    for i, w in enumerate("two three four five six seven eight nine ten eleven twelve".split())
}


def _zh_value(s: str) -> int | None:
    """八百零四 → 804, 十万 → 100000, 三十 → 30; None for what is no numeral (一二)."""
    total, section, digit = 0, 0, None
    for ch in s:
        if ch in _ZH_DIGIT:
            if digit is not None and ch != "零":
                return None  # two digits in a row: 一二
            digit = _ZH_DIGIT[ch] if ch != "零" else None
        elif ch in _ZH_UNIT:
            section += (1 if digit is None else digit) * _ZH_UNIT[ch]
            digit = None
        else:  # 万 or 亿 closes a section
            total += (section + (digit or 0)) * _ZH_BIG[ch]
            section, digit = 0, None
    return total + section + (digit or 0)


@dataclass(frozen=True)
class Quantity:
    written: float  # the number as written: 1200 in "1200 万"
    value: float  # with its unit applied: 1.2e7
    word: bool = False  # written as a word (九个, nine) rather than digits
    text: str = ""  # as written, unit included: "12M", "1200 万"
    at: int = 0  # where it starts in the (NFKC-normalised) text


def quantities(text: str) -> list[Quantity]:
    """The quantities a text states: '12M', '1200 万' and '12 million' all have the value 1.2e7;
    '5,856' is 5856; '九个' and 'nine' are 9. Digits inside identifiers (GPT-4o, W8A8, 3DGS,
    Llama-3.1, arXiv ids in URLs) are names, not quantities, and are skipped."""
    text = unicodedata.normalize("NFKC", text)
    out: list[Quantity] = []
    for m in _NUMBER.finditer(text):
        start, end = m.start(), m.end()
        before = text[start - 1] if start else ""
        if before and before.isascii() and (before.isalpha() or before in "._/#"):
            continue
        if before == "-" and start >= 2 and text[start - 2].isascii() and text[start - 2].isalpha():
            continue  # Llama-3.1
        unit = _UNIT.match(text, end)
        after = text[end] if end < len(text) else ""
        times = after in "xX" and not text[end + 1 : end + 2].isalnum()  # "3x faster"
        if unit is None and after.isascii() and after.isalpha() and not times:
            continue  # 3D, 4o, 80GB: part of a name, or a unit we do not convert
        written = float(m.group().replace(",", ""))
        scale = _SCALE[unit.group(1).lower()] if unit else 1.0
        shown = text[start : unit.end() if unit else end].strip()
        out.append(Quantity(written, written * scale, text=shown, at=start))
    for m in _ZH_NUMBER.finditer(text):
        if (zh := _zh_value(m.group(1))) is None:
            continue
        v = float(zh)
        out.append(Quantity(v, v, word=True, text=m.group(0), at=m.start()))
    for m in _EN_NUMBER.finditer(text):
        v = float(_EN_VALUE[m.group(1).lower()])
        out.append(Quantity(v, v, word=True, text=m.group(0), at=m.start()))
    return out


DIGITS = re.compile(r"\d+(?:\.\d+)?")


# "两个数量级", "two orders of magnitude": a factor of 100, which answers write as "100x".
_MAGNITUDES = re.compile(
    r"(\d+|[两二三四五六七八九]|two|three|four|five|six)\s*(?:个\s*)?"
    r"(?:数量级|orders? of magnitude)",
    re.IGNORECASE,
)


def _stated(passage_text: str) -> set[float]:
    text = unicodedata.normalize("NFKC", passage_text)
    have = {v for q in quantities(text) for v in (q.written, q.value)}
    for m in _MAGNITUDES.finditer(text):
        k = m.group(1).lower()
        have.add(10.0 ** (int(k) if k.isdigit() else _ZH_DIGIT.get(k) or _EN_VALUE[k]))
    return have | {float(d) for d in DIGITS.findall(text)}


def _is_stated(value: float, have: set[float]) -> bool:
    return any(math.isclose(value, h, rel_tol=1e-9) for h in have)


def missing_numbers(claim: str, passage_text: str) -> list[float]:
    """Quantities of the claim that the passage does not state.

    The passage counts a number as written, with its unit applied, and digits inside names too
    (INT4 states a 4). The claim's numbers count with their unit applied (its '12M' must match
    12M, 1200 万 or 12 million). "Two" written as a word is exempt: claims use it to count what
    the passage lists without stating the count ("用到了 GPT-4o-mini 和 Llama-3.1 两种模型")."""
    have = _stated(passage_text)
    want = {q.value for q in quantities(claim) if not (q.word and q.value == 2)}
    return sorted(v for v in want if not _is_stated(v, have))


# Clause boundaries for pairing numbers with what they measure. Not parentheses: in
# "GPT-4-Turbo (17.6%)" the number belongs to the name before it. Not 与/及: they are also
# word-internal (参与者).
_CLAUSE = re.compile(r"[，,；;、。.!?！？：:\n]+(?!\d)|\s+(?:and|but|while|whereas)\s+|和|而|但")


def _clauses(text: str) -> list[str]:
    return [c for c in _CLAUSE.split(unicodedata.normalize("NFKC", text)) if c.strip()]


def _anchors(clause: str, subjects: frozenset[str] = frozenset()) -> set[str]:
    """What a clause talks about: its Chinese content words and names (numbers removed).
    `subjects`: names the passage uses in several clauses (the paper's own, "Agent K v1.0"),
    which pair a number with nothing: "compared against 5,856 Kaggle competitors and ranked in
    the top 38%" was flagged, its 5,856 paired with "Agent K v1.0 排名在前 38%" (an eval user
    test)."""
    names = set(claim_names(clause)) - subjects
    terms = {t for t in content_terms(clause) if is_cjk_term(t)} | names
    return {t for t in terms if not re.fullmatch(r"[\d.,%]+", t)}


def mispaired_numbers(claim: str, passage_text: str) -> list[float]:
    """Numbers the claim attaches to the wrong thing: swapped ("training 55%, FLOPs 40%" when
    the passage says training 40%, FLOPs 55%). For each claim clause holding exactly one
    number, the passage clause holding any of the claim's numbers that best matches the claim
    clause's words must hold that number (ties pass). Claims whose clauses share no words with
    the passage (translations) are never flagged."""
    want = {q.value for q in quantities(claim) if not q.word}
    candidates = []
    for pc in _clauses(passage_text):
        vals = {v for q in quantities(pc) for v in (q.written, q.value)}
        vals |= {float(d) for d in DIGITS.findall(pc)}  # INT4 states a 4, as in missing_numbers
        if vals & want:
            candidates.append((token_set(pc), vals))
    clauses = _clauses(passage_text)
    seen = [set(claim_names(pc)) for pc in clauses]
    subjects = frozenset(n for n in set().union(*seen) if sum(n in s for s in seen) > 1)
    out = []
    for cc in _clauses(claim):
        nums = {q.value for q in quantities(cc) if not q.word}
        anchors = _anchors(cc, subjects)
        if len(nums) != 1 or not anchors:
            continue
        (v,) = nums
        scores = [(len(anchors & toks), v in vals) for toks, vals in candidates]
        best = max((s for s, _ in scores), default=0)
        if best > 0 and not any(has for s, has in scores if s == best):
            out.append(v)
    return out


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9&+._/\-]*[A-Za-z0-9+]|[A-Z]")


def claim_names(claim: str) -> list[str]:
    """Names in a claim (UCFE, LLaVA-NeXT, GPT-4o, JudgerBench): ASCII tokens with a capital or
    a digit, lower-cased like the passage tokens. Pure numbers are left to missing_numbers."""
    out: dict[str, None] = {}
    for tok in _NAME.findall(unicodedata.normalize("NFKC", claim)):
        if any(ch.isupper() or ch.isdigit() for ch in tok) and not re.fullmatch(r"[\d.,%]+", tok):
            out.setdefault(tok.lower(), None)
    return list(out)


# --- names --------------------------------------------------------------------------------------

# An ASCII word, with its inner - . + joins (GPT-4o, Llama-3.1, W8A8-FP, CLIP-ViT-L).
_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9]*(?:[-.+][A-Za-z0-9]+)*")


# Capitalised English words, one or several in a row: "Blender", "Stable Diffusion".
_PHRASE = re.compile(
    r"(?<![A-Za-z0-9])[A-Z][a-z]+(?:-[a-z]+)*(?:[\s-]+[A-Z][a-z]+(?:-[a-z]+)*)*(?![A-Za-z0-9])"
)
# An acronym in parentheses right after, or after a comma inside them: the phrase spells it
# out ("Dynamic Masked Degradation（DM-Deg）" for a digest's 动态掩码退化 (DM-Deg);
# "（Outcome-supervised Reward Model, ORM）").
_SPELLED_OUT = re.compile(r"\s*(?:[(（]\s*[A-Za-z]|[,，]\s*[A-Z][A-Za-z-]*[A-Z]\s*[)）])")


def answer_names(sentence: str) -> list[str]:
    """Names a sentence uses, as written: words with a capital and a digit (GPT-4o, W8A8), an
    inner capital (DreamBooth, LLaVA, MagicTailor), four or more capitals (MMLU, COCO) or an
    acronym joined to another part (DM-Deg). Not two- or three-letter acronyms (LLM, GUI, RL):
    an English answer writes them for the Chinese terms the digests use (大语言模型, 图形界面,
    强化学习), so they are translations, not names the digest must contain. A plural's s goes
    (LoRAs, LLMs). In a Chinese sentence, capitalised English words are a name too (Blender,
    Stable Diffusion), unless they spell out the acronym in parentheses after them; in an
    English one, see _english_names."""
    out: dict[str, None] = {}
    text = unicodedata.normalize("NFKC", sentence)
    for m in _WORD.finditer(text):
        word = m.group(0)
        if word.endswith("s") and len(word) > 2 and word[-2].isupper():
            word = word[:-1]
        # "GPT-4-comparable", "LLaMA-based": the name without its English suffix.
        word = re.sub(r"(?:-[a-z]+)+$", "", word)
        upper = any(ch.isupper() for ch in word)
        digit = upper and any(ch.isdigit() for ch in word)
        inner = re.search(r"[a-z][A-Z]|[A-Z]{2}[a-z]", word) is not None
        capitals = word.isupper() and sum(ch.isalpha() for ch in word) >= 4
        # An acronym joined to a part: DM-Deg, DS-Bal, MIA-DPO.
        joined = "-" in word and re.search(r"(?:^|-)[A-Z]{2,}(?:-|$)", word) is not None
        if digit or inner or capitals or joined:
            out.setdefault(word, None)
    # Among Chinese words, capitalised English is a name (Blender, Stable Diffusion). In English
    # it may only start a sentence or be a language (Chinese, Hindi).
    if is_cjk_term(sentence):
        # A list item's label ("- **Point one**: PUMA 提出…", as models format answers) is the
        # answer's own wording, not a name from a digest (the LLM-path user test).
        label = _ITEM_LABEL.match(text)
        for m in _PHRASE.finditer(text):
            if label is not None and m.end() <= label.end():
                continue
            # "…参与者 [1]。 Also." (a dropped marker's sentence): English words, not a name.
            if all(w.lower() in STOPWORDS_EN for w in re.split(r"[\s-]+", m.group(0))):
                continue
            if len(m.group(0)) >= 4 and not _SPELLED_OUT.match(text, m.end()):
                out.setdefault(m.group(0), None)
    return list(out)


# A list item's label before its colon: "- **Point one**:", "1. *Key idea*：".
_ITEM_LABEL = re.compile(
    r"^\s*(?:(?:[-*+•]|\d+[.)])\s+)?(?:\*\*|\*|__|_)[^*_\n:：]{1,40}(?:\*\*|\*|__|_)\s*[:：]"
)


def _compact(text: str) -> str:
    # Names are compared without case, spaces or joins: "Llama 3.1" is "Llama-3.1".
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKC", text).lower())


# --- answers ------------------------------------------------------------------------------------


# Words that make a number a rounding of the stated one, and which way: "more than 800" and
# "八百多" for 804 (stated at or above), "nearly 6,000" for 5,856 (below), "about 17" (either).
_AT_LEAST = re.compile(r"(?:more than|over|at least|超过|逾|至少)\s*$", re.IGNORECASE)
_AT_LEAST_AFTER = re.compile(r"\s*(?:多|余|\+)")
_AT_MOST = re.compile(r"(?:nearly|almost|close to|近|接近|将近)\s*$", re.IGNORECASE)
_ABOUT = re.compile(r"(?:about|around|roughly|approximately|some|~|约|大约)\s*$", re.IGNORECASE)
_ABOUT_AFTER = re.compile(r"\s*(?:左右|上下)")
# A sentence that multiplies: "8×A800", "4.7× the start", "2 times", "两倍", "per GPU".
_TIMES = re.compile(r"\d\s*[×xX*]|\btimes\b|倍|\bper\b|\beach\b|每", re.IGNORECASE)
# What a sentence lists: "Windows、Linux、MacOS、Android 和 Web 五个平台".
_LIST_SEP = re.compile(r"[、，,;；]|\s+(?:and|or)\s+|和|与|及|或")


def _rounded(value: float, target: float, written: float) -> bool:
    """`value` is `target` to the precision `written` shows (17 for 16.91, 44 for 44.2)."""
    text = f"{written:g}"
    step = 10.0 ** -(len(text.split(".")[1]) if "." in text else 0)
    return abs(value - target) <= step / 2 * (value / written if written else 1.0) + 1e-9


def _supported(
    q: Quantity, claim: str, own: list[Quantity], context: list[Quantity], have: set[float]
) -> bool:
    """Whether the digest supports a quantity of the claim: stated as such, or what a careful
    writer derives from it. Each derivation is a habit the blind answer sets and the LLM-path
    user test showed (eval/claim_check.py): a rounding marked as one, the right way ("more
    than 800" for 804, never "more than 1,000"); the sum of the sentence's `own` numbers ("6
    gold, 3 silver and 7 bronze, 16 medals"); a sum, difference, product or ratio of two in
    `context`, its own and the sentence before's ("from 4.59% to 21.50%, about 17 points";
    "16 hours on 8×A800, 128 GPU-hours"); the rest of a percentage ("55.8% of the FLOPs, 44%
    fewer"); a small count of what the sentence lists ("Windows、Linux 和 Web 三个平台")."""
    if q.word and q.value == 2:  # "two models" for two listed, as in missing_numbers
        return True
    if _is_stated(q.value, have):
        return True
    before, end, v = claim[: q.at], q.at + len(q.text), q.value
    if _AT_LEAST.search(before) or _AT_LEAST_AFTER.match(claim, end):
        lo, hi = v, 1.34 * v
    elif _AT_MOST.search(before):
        lo, hi = 0.75 * v, v
    elif _ABOUT.search(before) or _ABOUT_AFTER.match(claim, end):
        lo, hi = 0.9 * v, 1.1 * v
    else:
        lo, hi = v, v
    if lo < hi and any(lo <= h <= hi for h in have):
        return True
    others = [o.value for o in context if o is not q and _is_stated(o.value, have)]
    derived = [sum(o.value for o in own if o is not q and _is_stated(o.value, have))]
    derived += [100 - o for o in others]
    derived += [a + b for i, a in enumerate(others) for b in others[i + 1 :]]
    derived += [abs(a - b) for i, a in enumerate(others) for b in others[i + 1 :]]
    # "16 hours on 8×A800, i.e. 128 GPU-hours"; "from 4.59% to 21.50%, 4.7× the start".
    if _TIMES.search(claim):  # a product or ratio only where the sentence multiplies
        pairs = [(a, b) for i, a in enumerate(others) for b in others[i + 1 :]]
        derived += [a * b for a, b in pairs]
        derived += [max(a, b) / min(a, b) for a, b in pairs if min(a, b) > 0]
    enough = len(others) >= 2 or (others and q.text.endswith("%"))
    if enough and any(_rounded(q.value, d, q.written) for d in derived if d > 0):
        return True
    listed = len([part for part in _LIST_SEP.split(claim) if part.strip()])
    return q.value == q.written and q.value <= min(listed, 12) and q.value.is_integer()


# Markers that open a sentence ("… participants. [1] It …") belong to the one before.
_LEADING_MARKERS = re.compile(r"^\s*((?:\[\d+\]\s*)+)")


# A list item, and a line that leads into a list citing its source: "WebRL's results on
# WebArena-Lite [1]:" then "- Llama-3.1-8B: 4.8% → 42.4%", an item the lead-in's [1] covers.
_ABBREVIATION = re.compile(r"\b(?:i\.e|e\.g|etc|vs|cf|approx|et al|Fig|Eq)\.$", re.IGNORECASE)
# A list item's mark; its own number ("1. MagicTailor …", "2) …") is no quantity it states.
_ITEM = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)、])\s+", re.MULTILINE)
_LEAD_IN = re.compile(r"[:：]\s*(?:\[\d+\]\s*)*$")


def _cited_sentences(text: str) -> list[str]:
    out: list[str] = []
    lead = ""  # the markers of the line leading into the current list
    for line in text.splitlines():
        item = _ITEM.match(line) is not None
        if not item:
            lead = ""
        pieces: list[str] = []
        for piece in split_sentences(line):
            if pieces and _ABBREVIATION.search(pieces[-1]):  # "i.e. +16.91 points": one
                pieces[-1] += " " + piece
            else:
                pieces.append(piece)
        for sentence in pieces:
            if out and (m := _LEADING_MARKERS.match(sentence)):
                out[-1] += " " + m.group(1).strip()
                sentence = sentence[m.end() :]
            if not sentence.strip():
                continue
            if item and lead and not find_markers(sentence):
                sentence = f"{sentence} {lead}"
            out.append(sentence)
        if not item and _LEAD_IN.search(line.strip()) and (markers := find_markers(line)):
            lead = "".join(f"[{n}]" for n in dict.fromkeys(markers))
    return out


def _in_capitalised_phrase(text: str, start: int, end: int) -> bool:
    """One of a capitalised phrase ("Gaussian Splatting (3DGS)", "Android Instruction
    dataset"), or a word an acronym in parentheses follows: a term spelled out, not a name."""
    before = re.search(r"([A-Za-z][\w-]*)[\s-]+$", text[:start])
    after = re.match(r"[\s-]+([A-Za-z][\w-]*)", text[end:])
    return bool(
        (before and before.group(1)[0].isupper())
        or (after and after.group(1)[0].isupper())
        or re.match(r"\s*[(（]", text[end:])
    )


_CAPITALISED = re.compile(r"(?<![A-Za-z0-9\-])[A-Z][a-z]{3,}(?![A-Za-z0-9])")
_NOT_NAMES = frozenset(
    """english chinese hindi japanese korean french german spanish arabic russian italian
    portuguese indonesian vietnamese thai turkish african asian european american western
    eastern monday tuesday wednesday thursday friday saturday sunday january february march
    april june july august september october november december""".split()
)


def _english_names(claim: str, field_term: Callable[[str], bool]) -> list[str]:
    """Capitalised words inside an English sentence ("outperforms Gemini") that no digest uses
    anywhere: names. Not a sentence's first word, a language (digests say 中文, not Chinese), a
    word of a capitalised phrase, nor an adjective made from a name (Bayesian, Gaussian)."""
    if is_cjk_term(claim):
        return []
    return [
        m.group(0)
        for m in _CAPITALISED.finditer(claim)
        if m.start() > 0
        and not _in_capitalised_phrase(claim, m.start(), m.end())
        and not re.search(r"[.!?:;]\s*(?:\*\*)?$|^\W*$", claim[: m.start()])
        and m.group(0).lower() not in _NOT_NAMES
        and not m.group(0).endswith(("ian", "ean"))
        and not field_term(m.group(0))
    ]


# A short acronym (LLM, GUI, BGE), with a plural's s.
_SHORT_ACRONYM = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2,3})s?(?![A-Za-z0-9])")


def _everywhere(term: str) -> bool:
    return True


def unsupported_claims(
    text: str, cited: Mapping[int, str], field_term: Callable[[str], bool] = _everywhere
) -> list[UnsupportedClaim]:
    """The sentences of a checked answer (markers already normalised to [n]) whose numbers or
    names occur in none of the digests they cite, or whose number is tied to another thing than
    in the digest (a swap: "training 55%, FLOPs 40%" where it says 40% and 55%). `cited` maps
    a marker to its paper's text: titles, arXiv id and whole digest. Sentences without a
    marker claim nothing about a source and are not checked.

    `field_term` says whether a two- or three-letter acronym is a term of the field, which
    an English answer may write for a digest's Chinese words (LLM for 大语言模型): the
    assistant passes "some digest in the index uses it". One no digest uses (BGE) is a name,
    checked like the others. By default every short acronym is a field term."""
    out: list[UnsupportedClaim] = []
    previous: list[Quantity] = []  # the numbers of the sentence before
    # What the digests of each set of markers state, read once: sentences citing [1] in a row
    # would each parse the whole digest again.
    read: dict[tuple[int, ...], tuple[str, set[float], str]] = {}
    for sentence in _cited_sentences(text):
        markers = tuple(dict.fromkeys(n for n in find_markers(sentence) if n in cited))
        claim = _ITEM.sub("", unicodedata.normalize("NFKC", strip_markers(sentence)))
        stated = quantities(claim)
        # "… by 3.0% and 4.3% [1]. The gain is thus 1.3 points larger [1]": a number derived
        # from the sentence before.
        context, previous = [*stated, *previous], stated
        if not markers:
            continue
        if markers not in read:
            joined = "\n".join(cited[n] for n in markers)
            read[markers] = (joined, _stated(joined), _compact(joined))
        digest, have, compact = read[markers]
        missing = [q.text for q in stated if not _supported(q, claim, stated, context, have)]
        swapped = set(mispaired_numbers(claim, digest))
        # Only a number the digest states can be tied to the wrong thing; one derived from
        # them (47 - 39 = "8 more languages") is tied to nothing there.
        missing += [
            q.text
            for q in stated
            if not q.word and q.value in swapped and _is_stated(q.value, have)
        ]
        short = [m.group(1) for m in _SHORT_ACRONYM.finditer(claim)]
        proper = _english_names(claim, field_term)
        for name in [*answer_names(claim), *(a for a in short if not field_term(a)), *proper]:
            if _compact(name) not in compact:
                missing.append(name)
        # "Qwen2-7B" flagged as a name says it all: not its "7B" again.
        names = [m for m in missing if not m[:1].isdigit()]
        missing = [m for m in missing if not any(m != n and m in n for n in names)]
        if missing:
            missing.sort(key=lambda item: claim.find(item) if item in claim else len(claim))
            out.append(
                UnsupportedClaim(
                    sentence=sentence.strip(),
                    markers=list(markers),
                    missing=list(dict.fromkeys(missing)),
                )
            )
    return out
