"""What an LLM's reply says besides its answer: the refusal sentinel the answer prompt asks
for (prompts/answer_system.md), wherever the model put it."""

from __future__ import annotations

import re

from .cite import find_markers
from .prompt import NOT_IN_DIGESTS

# Markdown a model may wrap the sentinel in: **NOT_IN_DIGESTS**, `NOT_IN_DIGESTS`, NOT\_IN\_DIGESTS.
_SENTINEL = re.compile(r"[*_`]*NOT_IN_DIGESTS[*_`]*")


class SentinelFilter:
    """The streamed reply with the sentinel held back, so it is never shown: from where it
    appears nothing more is passed on, and an end that may be its start ("NOT_IN", "**N") waits
    for the next piece."""

    def __init__(self) -> None:
        self.buf = ""
        self.said = False

    def feed(self, piece: str) -> str:
        if self.said:
            return ""
        self.buf += piece
        if (m := _SENTINEL.search(self.buf.replace("\\_", "_"))) is not None:
            self.said = True
            out, self.buf = self.buf[: m.start()], ""
            return out
        cut = self._maybe_start()
        out, self.buf = self.buf[:cut], self.buf[cut:]
        return out

    def _maybe_start(self) -> int:
        """Where an unfinished sentinel may begin at the end of buf (else its length)."""
        for i in range(max(0, len(self.buf) - 24), len(self.buf)):
            tail = re.sub(r"[*_`\\]", "", self.buf[i:])
            if self.buf[i] in "N*`" and NOT_IN_DIGESTS.replace("_", "").startswith(tail):
                return i
        return len(self.buf)

    def flush(self) -> str:
        out, self.buf = ("" if self.said else self.buf), ""
        return out


def read_sentinel(raw: str) -> tuple[bool, str]:
    """(refused, the reply without the sentinel). "Sorry, the sources do not say.
    NOT_IN_DIGESTS" is a refusal; an answer with citations that also says the sentinel for a
    part it cannot answer keeps its cited part."""
    plain = raw.replace("\\_", "_")
    if NOT_IN_DIGESTS not in plain:
        return False, raw
    rest = _SENTINEL.sub("", plain).strip()
    return not find_markers(rest), rest
