"""Chat completions from hosted OpenAI or any OpenAI-compatible server, through `openai`.

Errors become one-line LLMError messages that never contain the API key; every call is bounded
by the configured timeout (including a stream that drips slowly) and a bounded retry count."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import cast

import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam

from .settings import Settings


class LLMError(RuntimeError):
    """The LLM could not answer (down, slow, refused, or broke off)."""


def _describe(exc: Exception) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "cannot connect"
    if isinstance(exc, openai.RateLimitError):
        return "rate limited (429)"
    if isinstance(exc, openai.AuthenticationError):
        return "authentication failed (check the API key)"
    if isinstance(exc, openai.APIStatusError):
        return f"server error {exc.status_code}"
    return type(exc).__name__


class ChatLLM:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = openai.OpenAI(
            base_url=settings.llm_base_url or None,  # None: the openai package's default
            api_key=settings.api_key() or "not-needed",  # local servers accept any key
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
        )

    def complete(self, messages: list[dict[str, str]]) -> str:
        try:
            resp = self.client.chat.completions.create(
                messages=cast(list[ChatCompletionMessageParam], messages),
                model=self.settings.llm_model,
                temperature=self.settings.llm_temperature,
                max_tokens=self.settings.llm_max_tokens,
            )
        except openai.OpenAIError as exc:
            raise LLMError(_describe(exc)) from None
        return (resp.choices[0].message.content or "") if resp.choices else ""

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Content pieces as they arrive. Raises LLMError when the stream fails or exceeds the
        timeout as a whole (a per-read timeout alone would let a slow drip run forever)."""
        deadline = time.monotonic() + self.settings.llm_timeout
        try:
            stream = self.client.chat.completions.create(
                messages=cast(list[ChatCompletionMessageParam], messages),
                model=self.settings.llm_model,
                temperature=self.settings.llm_temperature,
                max_tokens=self.settings.llm_max_tokens,
                stream=True,
            )
            finished = False
            with stream:
                for chunk in stream:
                    if time.monotonic() > deadline:
                        raise LLMError("timed out while streaming")
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content
                    if choice.finish_reason:
                        finished = True
            if not finished:
                raise LLMError("the stream broke off before the answer was complete")
        except openai.OpenAIError as exc:
            raise LLMError(_describe(exc)) from None
        except (OSError, ValueError, httpx.HTTPError) as exc:
            # Mid-stream transport errors are not wrapped by openai: a connection cut inside
            # the body surfaces as httpx.RemoteProtocolError.
            raise LLMError(f"the stream broke off ({type(exc).__name__})") from None
