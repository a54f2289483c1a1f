"""What an LLM's reply says besides its answer: the refusal sentinel the answer prompt asks
for (prompts/answer_system.md), wherever the model put it."""

from __future__ import annotations

import re

from .cite import find_markers
from .prompt import NOT_IN_DIGESTS

# Markdown a model may wrap the sentinel in: **NOT_IN_DIGESTS**, `NOT_IN_DIGESTS`, NOT\_IN\_DIGESTS;
# and how small models retype it: "NOT IN DIGESTS", "not_in_digests" (the LLM-path user test saw
# both shown as answers).
_SENTINEL = re.compile(r"[*_`]*NOT[ _-]IN[ _-]DIGESTS[*_`]*", re.IGNORECASE)


class SentinelFilter:
    """The streamed reply with the sentinel held back, so it is never shown. In an answer that
    has cited something already, it stands for the part the sources do not answer ("… 42K
    parameters [1], but NOT_IN_DIGESTS for the rest"): `instead` ("(not in the digests)") is
    shown in its place and the reply goes on, as `read_sentinel` keeps it. Otherwise it is a
    refusal, and nothing more is passed on. An end that may be its start ("NOT_IN", "**N")
    waits for the next piece."""

    def __init__(self, instead: str = "") -> None:
        self.instead = instead
        self.buf = ""
        self.shown = ""
        self.said = False

    def feed(self, piece: str) -> str:
        if self.said:
            return ""
        # Markdown's escaped "NOT\_IN\_DIGESTS" renders as the sentinel: read it as one.
        self.buf = (self.buf + piece).replace("\\_", "_")
        out = ""
        while (m := _SENTINEL.search(self.buf)) is not None:
            before = self.buf[: m.start()]
            if not find_markers(self.shown + out + before):
                self.said = True
                self.buf = ""
                return self._show(out + before)
            out += before + self.instead
            self.buf = self.buf[m.end() :]
        cut = self._maybe_start()
        out, self.buf = out + self.buf[:cut], self.buf[cut:]
        return self._show(out)

    def _show(self, text: str) -> str:
        self.shown += text
        return text

    def _maybe_start(self) -> int:
        """Where an unfinished sentinel may begin at the end of buf (else its length)."""
        for i in range(max(0, len(self.buf) - 24), len(self.buf)):
            tail = re.sub(r"[*_`\\ -]", "", self.buf[i:]).upper()
            if self.buf[i] in "Nn*`" and NOT_IN_DIGESTS.replace("_", "").startswith(tail):
                return i
        return len(self.buf)

    def flush(self) -> str:
        out, self.buf = ("" if self.said else self.buf), ""
        return self._show(out)


def read_sentinel(raw: str, instead: str = "") -> tuple[bool, str]:
    """(refused, the reply without the sentinel). "Sorry, the sources do not say.
    NOT_IN_DIGESTS" is a refusal. An answer with citations that also says the sentinel for a
    part it cannot answer keeps its cited part, with `instead` where the sentinel was."""
    plain = raw.replace("\\_", "_")
    if not _SENTINEL.search(plain):
        return False, raw
    if not find_markers(_SENTINEL.sub("", plain)):
        return True, ""
    return False, _SENTINEL.sub(instead, plain).strip()


# A refusal said in words instead of the sentinel, as the LLM-path user test saw small models
# do: "The provided digests do not mention DreamBooth.", "摘要中没有提到相关信息。"
_REFUSES = re.compile(
    r"\b(?:digests?|sources?|context|passages?|documents?|papers?|excerpts?)\s+(?:provided\s+)?"
    r"(?:do|does|did)\s*(?:n['’]t|not)\s+(?:contain|mention|include|provide|say|cover|discuss"
    r"|address|specify|state|answer|describe|give)"
    r"|\bno (?:relevant |such |specific )?(?:information|details?|mention)\b"
    r"|(?:\b(?:cannot|can['’]t|can not|could not|couldn['’]t)|(?:['’]m|\bam|\bare|\bis)\s+"
    r"(?:unable|not able) to)\s+"
    r"(?:find|answer|determine|locate|tell)"
    r"|\b(?:do not|don['’]t|does not|doesn['’]t) (?:have|contain) (?:enough|sufficient|any)"
    r" (?:information|details|context)"
    r"|\bnot (?:available|covered|addressed) (?:in|by) the (?:provided |given )?"
    r"(?:sources?|digests?|context|documents?|passages?|excerpts?)"
    r"|\b(?:is|are)n['’]t (?:covered|addressed|mentioned|available) (?:in|by) the"
    r"|\bI (?:do not|don['’]t) know\b"
    r"|\bnot (?:mentioned|found|covered|discussed|provided|stated|specified) in\b"
    r"|(?:摘要|来源|资料|文献|上下文|内容)[中里内]?(?:并|均|都)?(?:没有|未|不|无)(?:提到|提及|涉及|包含"
    r"|说明|给出|出现|相关|找到)"
    r"|(?:无法|不能)(?:从|根据|在)?[^，。,.]{0,8}?(?:回答|确定|找到|判断|得知)"
    r"|(?:没有|未|并未)(?:找到|检索到)?(?:相关|有关|具体)的?(?:信息|内容|说明)"
    r"|(?:文中|文章|摘要|资料|来源)[^，。,.]{0,4}?(?:并未|未|没有)(?:说明|提到|提及|给出|涉及)"
    r"|不足以回答|我不知道|我不清楚",
    re.IGNORECASE,
)


def refuses_in_words(text: str) -> bool:
    """Whether an uncited reply says, in words, that the sources do not answer. Only for a
    reply citing nothing: "… [1]; the digest does not say how long training took" is an
    answer with a gap, not a refusal."""
    return _REFUSES.search(text) is not None
