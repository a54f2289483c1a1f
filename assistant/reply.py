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
