"""Follow-up questions resolved against the chat history before retrieval."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from .records import Turn
from .text import content_terms

# References back to the conversation ("it", "该方法", "this paper"...).
_ANAPHORA = re.compile(
    r"\b(it|its|it's|they|them|their|this|that|these|those|the paper|the method|the model"
    r"|the authors|same|above|previous|former|latter)\b"
    r"|它|它们|其|该|这篇|这个|这些|那篇|那个|上述|上面|前者|后者|此",
    re.IGNORECASE,
)
_FOLLOW_UP_START = re.compile(
    r"^\s*(?:and\b|what about\b|how about\b|also\b|那么|那|还有|另外|以及)", re.I
)


def as_turns(history: Iterable[Any] | None) -> list[Turn]:
    """Accept Turn objects, OpenAI/Gradio-style {'role','content'} dicts, or (user, bot) pairs."""
    turns: list[Turn] = []
    for item in history or []:
        if isinstance(item, Turn):
            turns.append(item)
        elif isinstance(item, dict):
            content = item.get("content")
            if isinstance(content, list):  # gradio multimodal content parts
                content = " ".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
            if item.get("role") in ("user", "assistant") and isinstance(content, str):
                turns.append(
                    Turn(
                        role=item["role"],
                        content=content,
                        paper_ids=list(item.get("paper_ids") or []),
                    )
                )
        elif isinstance(item, list | tuple) and len(item) == 2:
            user, bot = item
            if user:
                turns.append(Turn(role="user", content=str(user)))
            if bot:
                turns.append(Turn(role="assistant", content=str(bot)))
    return turns


def is_follow_up(question: str) -> bool:
    return bool(
        _ANAPHORA.search(question)
        or _FOLLOW_UP_START.search(question)
        or len(content_terms(question)) <= 1
    )


def heuristic_query(
    question: str, history: Sequence[Turn], titles: dict[str, str], *, force: bool = False
) -> str:
    """Without an LLM: a follow-up is searched together with the previous question and the
    titles of the papers the previous answer cited. A standalone question is left alone, so a
    change of topic is not dragged back to the old one."""
    if not history or not (force or is_follow_up(question)):
        return question
    last_user = next((t.content for t in reversed(history) if t.role == "user"), "")
    last_ids = next((t.paper_ids for t in reversed(history) if t.role == "assistant"), [])
    cited = " ".join(titles[p] for p in last_ids[:2] if p in titles)
    return " ".join(x for x in (question, cited, last_user) if x).strip()
