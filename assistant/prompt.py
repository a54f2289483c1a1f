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
def messages(prompts_dir: Path) -> dict[str, dict[str, str]]:
    """prompts/messages.toml: the fixed texts of each answer language, by key."""
    return tomllib.loads(_read(prompts_dir / "messages.toml"))


def message(prompts_dir: Path, lang: str, key: str, **kwargs: object) -> str:
    text = messages(prompts_dir)[lang][key]
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


def format_history(history: Sequence[Turn], max_turns: int = 6, cap: int | None = None) -> str:
    """The last turns, their citation markers removed: the new prompt numbers its sources
    afresh, and an old "[2]" copied into the answer would cite whichever paper is [2] now.
    `cap`: the characters kept of each answer (its start: the lead and first claims)."""
    lines = []
    for t in list(history)[-max_turns:]:
        text = strip_markers(t.content).strip()
        if cap is not None and t.role == "assistant" and len(text) > cap:
            text = text[:cap].rstrip() + "…"
        lines.append(f"{t.role}: {text}")
    return "\n".join(lines)


# How the history is shortened to fit the budget, step by step, before any source is: long
# answers cut to their start, then fewer turns. Dropping it whole at once left a follow-up
# after two long answers with no conversation at all (the LLM-path user test).
_HISTORY_STEPS: list[tuple[int, int | None]] = [(6, None), (6, 400), (4, 400), (2, 400), (2, 150)]


def build_answer_messages(
    prompts_dir: Path,
    question: str,
    sources: list[Source],
    history: Sequence[Turn],
    lang: str,
    budget: int,
) -> tuple[list[dict[str, str]], list[Source]]:
    """System + user messages, sources numbered [1].. in order, cut to `budget` tokens, and
    the sources the prompt holds (the first ones of `sources`: only their markers are real).
    History goes first (shortened step by step, see _HISTORY_STEPS), then the tail of the
    longest passages, then whole sources from the last. Over the budget only when the
    instructions and the question alone are; when they leave no room for a source, it holds
    none."""
    system = template(prompts_dir, "answer_system.md").format(
        language_instruction=message(prompts_dir, lang, "language_instruction")
    )
    source_tpl = template(prompts_dir, "source.md")
    user_tpl = template(prompts_dir, "answer_user.md")
    texts = [_quote(s.text) for s in sources]
    step = 0
    hist = format_history(history)
    kept = len(sources)

    def render() -> str:
        blocks = [
            source_tpl.format(
                n=i + 1, paper_id=s.paper_id, title=_attr(s.title), text=texts[i]
            ).strip()
            for i, s in enumerate(sources[:kept])
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
        longest = max(range(kept), key=lambda i: len(texts[i]), default=None)
        if hist and step + 1 < len(_HISTORY_STEPS):
            step += 1
            hist = format_history(history, *_HISTORY_STEPS[step])
        elif hist:
            hist = ""
        elif longest is not None and len(texts[longest]) >= 40:
            texts[longest] = texts[longest][: int(len(texts[longest]) * 0.8)] + "…"
        elif kept > 1:
            kept -= 1  # the lowest-ranked source goes whole; the others keep their numbers
        else:
            break
        user = render()
    if kept and fixed + count_tokens(user) > budget:
        # Not even the best source fits beside the instructions and the question. Without it
        # the prompt may fit (and the caller asks no LLM); if the question alone is over the
        # budget, dropping it would not help.
        kept = 0
        if fixed + count_tokens(bare := render()) <= budget:
            user = bare
        else:
            kept = 1
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    return messages, sources[:kept]


def build_condense_prompt(
    prompts_dir: Path, question: str, history: Sequence[Turn], budget: int | None = None
) -> list[dict[str, str]]:
    """The rewrite request, its history shortened as the answer prompt's is until it fits
    `budget` tokens: sent whole, three long turns made a 13,700-character request (the answer
    prompt beside it was cut to its budget), more than a small local model's context."""
    tpl = template(prompts_dir, "condense.md")
    for turns, cap in _HISTORY_STEPS:
        text = tpl.format(history=format_history(history, turns, cap), question=question)
        if budget is None or count_tokens(text) <= budget:
            break
    return [{"role": "user", "content": text}]
