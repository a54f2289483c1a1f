"""Cited prompts from the templates in prompts/, fitted to a token budget with tiktoken."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from llama_index.core.prompts import PromptTemplate
from llama_index.core.utils import get_tokenizer

from .cite import strip_markers
from .records import Source, Turn

NOT_IN_DIGESTS = "NOT_IN_DIGESTS"  # the LLM's refusal sentinel (prompts/answer_system.md)


@lru_cache(maxsize=32)
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def template(prompts_dir: Path, name: str) -> PromptTemplate:
    path = prompts_dir / name
    if not path.exists():
        raise FileNotFoundError(f"prompt template {path} is missing")
    return PromptTemplate(_read(path))


@lru_cache(maxsize=4)
def _messages(prompts_dir: Path) -> dict[str, dict[str, str]]:
    return tomllib.loads(_read(prompts_dir / "messages.toml"))


def message(prompts_dir: Path, lang: str, key: str, **kwargs: object) -> str:
    text = _messages(prompts_dir)[lang][key]
    return text.format(**kwargs) if kwargs else text


def count_tokens(text: str) -> int:
    # llama-index's helper loads cl100k from the files it ships: tiktoken needs no network.
    return len(get_tokenizer()(text))


_TAG = re.compile(r"<(/?)(source)", re.IGNORECASE)


def _quote(text: str) -> str:
    """Sources are data: a passage cannot close its own <source> tag, in any case."""
    return _TAG.sub(r"<\1 \2", text)


def _attr(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ")


def format_history(history: Sequence[Turn], max_turns: int = 6) -> str:
    """The last turns, their citation markers removed: the new prompt numbers its sources
    afresh, and an old "[2]" copied into the answer would cite whichever paper is [2] now."""
    lines = [f"{t.role}: {strip_markers(t.content).strip()}" for t in list(history)[-max_turns:]]
    return "\n".join(lines)


def build_answer_messages(
    prompts_dir: Path,
    question: str,
    sources: list[Source],
    history: Sequence[Turn],
    lang: str,
    budget: int,
) -> list[dict[str, str]]:
    """System + user messages, sources numbered [1].. in order, cut to `budget` tokens:
    history goes first, then the tail of the longest passages, never a source's number."""
    system = template(prompts_dir, "answer_system.md").format(
        language_instruction=message(prompts_dir, lang, "language_instruction")
    )
    source_tpl = template(prompts_dir, "source.md")
    user_tpl = template(prompts_dir, "answer_user.md")
    texts = [_quote(s.text) for s in sources]
    hist = format_history(history)

    def render() -> str:
        blocks = [
            source_tpl.format(
                n=i + 1, paper_id=s.paper_id, title=_attr(s.title), text=texts[i]
            ).strip()
            for i, s in enumerate(sources)
        ]
        header = message(prompts_dir, lang, "history_header")
        return user_tpl.format(
            sources="\n\n".join(blocks),
            history=f"{header}\n{hist}\n\n" if hist else "",
            question=question,
        )

    fixed = count_tokens(system)
    user = render()
    while fixed + count_tokens(user) > budget:
        if hist:
            hist = ""
        else:
            longest = max(range(len(texts)), key=lambda i: len(texts[i]), default=None)
            if longest is None or len(texts[longest]) < 40:
                break  # nothing left to cut; the question alone exceeds the budget
            texts[longest] = texts[longest][: int(len(texts[longest]) * 0.8)] + "…"
        user = render()
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def build_condense_prompt(
    prompts_dir: Path, question: str, history: Sequence[Turn]
) -> list[dict[str, str]]:
    text = template(prompts_dir, "condense.md").format(
        history=format_history(history), question=question
    )
    return [{"role": "user", "content": text}]
