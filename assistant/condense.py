"""Follow-up questions resolved against the chat history before retrieval."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from .records import Turn
from .text import chinese_number, content_terms

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
    r"|(前者|\bformer\b)|后者|\blatter\b",
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


def is_follow_up(question: str) -> bool:
    return bool(
        _ANAPHORA.search(question)
        or ordinal(question) is not None
        or _WHICH_ONE.search(question)
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
    n = ordinal(question)
    if n is not None and last_ids and -len(last_ids) <= (n - 1 if n > 0 else n) < len(last_ids):
        # "第二篇呢?" after "Compare WebRL and AndroidLab": AndroidLab alone. The previous
        # question would bring both back.
        picked = last_ids[n - 1 if n > 0 else n]
        return f"{question} {titles.get(picked, '')}".strip()
    cited = " ".join(titles[p] for p in last_ids[:2] if p in titles)
    return " ".join(x for x in (question, cited, last_user) if x).strip()
