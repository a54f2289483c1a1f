"""Chat completions from hosted OpenAI or any OpenAI-compatible server, through `openai`.

Errors become one-line LLMError messages that never contain the API key; every call is bounded
by the configured timeouts (a wait, and a stream in all, so a slow drip ends too) and a bounded
retry count.
Reasoning that local models write inline (<think>…</think>) is dropped from every reply."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam

from .settings import Settings


class LLMError(RuntimeError):
    """The LLM could not answer (down, slow, refused, broke off, or said nothing)."""


class LLMUnreachable(LLMError):
    """No LLM answers there at all: it timed out, refused the connection, or sent something
    that is no chat completion. Asking again within the same question would only wait again."""


# deepseek-r1, qwen3 and other reasoning models think in the reply's content.
_TAGS = ("think", "thinking", "reasoning")
_OPEN = re.compile(r"<(?:think|thinking|reasoning)>", re.IGNORECASE)
_CLOSE = re.compile(r"</(?:think|thinking|reasoning)>", re.IGNORECASE)
_BLOCK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.IGNORECASE | re.DOTALL)


def strip_reasoning(text: str) -> str:
    """The reply without its reasoning. An unclosed block (cut at max_tokens) is reasoning to
    the end; a closing tag with no opener (the chat template opened it) ends reasoning that
    began the reply."""
    text = _BLOCK.sub("", text)
    if (m := _OPEN.search(text)) is not None:
        text = text[: m.start()]
    if (m := _CLOSE.search(text)) is not None:
        text = text[m.end() :]
    return text


class ReasoningFilter:
    """strip_reasoning for a stream: tags may arrive split across pieces ("<thi", "nk>")."""

    def __init__(self) -> None:
        self.buf = ""
        self.inside = False

    def feed(self, piece: str) -> str:
        self.buf += piece
        out: list[str] = []
        while True:
            if self.inside:
                m = _CLOSE.search(self.buf)
                if m is None:
                    self.buf = self.buf[-16:]  # may hold the start of the closing tag
                    return "".join(out)
                self.buf, self.inside = self.buf[m.end() :], False
                continue
            m = _OPEN.search(self.buf)
            if m is not None:
                out.append(self.buf[: m.start()])
                self.buf, self.inside = self.buf[m.end() :], True
                continue
            cut = self._partial_tag()
            out.append(self.buf[:cut])
            self.buf = self.buf[cut:]
            return "".join(out)

    def _partial_tag(self) -> int:
        """Where a possible unfinished opening tag starts at the end of buf (else its length)."""
        i = self.buf.rfind("<")
        tail = self.buf[i:].lower() if i >= 0 else ""
        if tail and any(f"<{t}>".startswith(tail) for t in _TAGS):
            return i
        return len(self.buf)

    def flush(self) -> str:
        rest, self.buf = ("" if self.inside else self.buf), ""
        return rest


def _server_message(exc: openai.APIStatusError) -> str:
    body: Any = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        body = inner.get("message") if isinstance(inner, dict) else inner
    text = " ".join(str(body or "").split())
    return text[:160]


def _describe(exc: Exception, settings: Settings) -> str:
    """One line on what failed, naming the server and the setting to change (the LLM-path user
    test: "timed out" and "check the API key" said neither)."""
    where = settings.llm_base_url or "the OpenAI API"
    if isinstance(exc, openai.APITimeoutError):
        return f"{where} timed out after {settings.llm_timeout:g} s (ASSISTANT_LLM_TIMEOUT)"
    if isinstance(exc, openai.APIConnectionError):
        # A local server behind https:// usually speaks plain http: the TLS handshake fails.
        host = urlsplit(settings.llm_base_url or "").hostname or ""
        plain = (
            settings.llm_base_url
            and settings.llm_base_url.startswith("https://")
            and (host in ("localhost", "127.0.0.1", "::1") or host.startswith(("192.168.", "10.")))
        )
        # "cannot connect" alone did not say what to check (the LLM-path user test).
        return f"cannot connect to {where}" + (
            " (does it speak https, or http://?)"
            if plain
            else " (is the server running? ASSISTANT_LLM_BASE_URL)"
            if settings.llm_base_url
            else ""
        )
    if isinstance(exc, openai.RateLimitError):
        return f"rate limited (429) by {where}"
    if isinstance(exc, openai.AuthenticationError):
        if settings.api_key() is None and os.environ.get("OPENAI_API_KEY"):
            # OPENAI_API_KEY is withheld from any server but OpenAI's: say so, or the user
            # checks a key that is right and was never sent.
            return (
                f"authentication failed at {where}: OPENAI_API_KEY is sent only to OpenAI's "
                "API; set ASSISTANT_LLM_API_KEY for this server"
            )
        return f"authentication failed at {where} (check ASSISTANT_LLM_API_KEY)"
    if isinstance(exc, openai.APIStatusError):
        said = _server_message(exc)
        key = settings.api_key()
        if key:
            said = said.replace(key, "***")  # some servers echo what they were sent
        kind = "server error" if exc.status_code >= 500 else "error"
        out = f"{kind} {exc.status_code} from {where}" + (f": {said}" if said else "")
        if re.search(r"context|too long|maximum.{0,20}length|max_tokens|exceed", said, re.I):
            # The prompt and answer do not fit the model's context: the setting to lower.
            out += (
                f" (the prompt is too long for the model: lower ASSISTANT_PROMPT_TOKEN_BUDGET, "
                f"now {settings.prompt_token_budget})"
            )
        elif exc.status_code == 404 and "model" in said.lower():
            # The usual slip: only a base URL set, so the default model name goes to Ollama.
            out += f" (model {settings.llm_model!r}; set ASSISTANT_LLM_MODEL)"
        elif exc.status_code == 404:
            # No such route: a base URL without /v1 (Ollama, llama.cpp answer "404 page not
            # found"), or with /chat/completions pasted on. The hint named the model before.
            base = settings.llm_base_url or "the base URL"
            route = re.search(r"/chat/completions/?$|/completions/?$", base)
            out += (
                f" (no chat endpoint under {base}; ASSISTANT_LLM_BASE_URL stops before "
                f"{route.group(0).rstrip('/')}, e.g. {base[: route.start()]})"
                if route
                else f" (no chat endpoint under {base}; ASSISTANT_LLM_BASE_URL usually ends in /v1)"
            )
        return out
    if isinstance(exc, openai.APIError) and (said := " ".join(str(exc.message).split())):
        # An error event inside a stream ("KV cache is full"): what the server said.
        key = settings.api_key()
        return said[:160].replace(key, "***") if key else said[:160]
    return type(exc).__name__


# A reasoning model that thought and then said nothing: "empty reply" sent users looking at
# the server (the LLM-path user test).
ONLY_REASONING = "the reply held only reasoning (<think>…</think>), no answer"


# Where OPENAI_API_KEY may go. Passed explicitly: left to the openai package, the base URL
# came from OPENAI_BASE_URL, so a key exported for OpenAI went to whatever server that named.
OPENAI_BASE_URL = "https://api.openai.com/v1"


def _cap_retry_after(limit: float) -> Callable[[httpx.Response], None]:
    """The openai package waits out a Retry-After of up to two minutes before its retry. A
    server asking for longer than `limit` is not retried (the answer falls back to quoting
    now): its Retry-After is raised past the package's cap, which it then declines to wait."""

    def hook(response: httpx.Response) -> None:
        if response.status_code not in (429, 503):
            return
        raw = response.headers.get("retry-after-ms"), response.headers.get("retry-after")
        try:
            wait = float(raw[0]) / 1000 if raw[0] else float(raw[1] or 0)
        except ValueError:
            return  # an HTTP date: left to the package
        if wait > limit:
            response.headers["retry-after"] = "86400"
            response.headers.pop("retry-after-ms", None)

    return hook


class ChatLLM:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = openai.OpenAI(
            base_url=settings.llm_base_url or OPENAI_BASE_URL,
            api_key=settings.api_key() or "not-needed",  # local servers accept any key
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
            http_client=openai.DefaultHttpxClient(
                event_hooks={"response": [_cap_retry_after(settings.llm_timeout)]}
            ),
        )

    def _request(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        s = self.settings
        return {
            "messages": cast(list[ChatCompletionMessageParam], messages),
            "model": s.llm_model,
            "temperature": s.llm_temperature,
            "max_tokens": s.llm_max_tokens,
        }

    def complete(self, messages: list[dict[str, str]], *, retries: int | None = None) -> str:
        """The reply's text without reasoning. `retries` overrides llm_max_retries (the
        optional condense call makes one try: a hung server should not cost two timeouts)."""
        client = self.client if retries is None else self.client.with_options(max_retries=retries)
        try:
            resp = client.chat.completions.create(**self._request(messages))
            text = (resp.choices[0].message.content or "") if resp.choices else ""
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise LLMUnreachable(_describe(exc, self.settings)) from None
        except openai.OpenAIError as exc:
            raise LLMError(_describe(exc, self.settings)) from None
        except Exception as exc:
            # A 200 that is no chat completion (an HTML login page, a wrong port) fails inside
            # the openai client as JSONDecodeError or AttributeError, which it does not wrap.
            name = type(exc).__name__
            raise LLMUnreachable(f"the reply is not a chat completion ({name})") from None
        answer = strip_reasoning(text).strip()
        if not answer:
            raise LLMError(ONLY_REASONING if text.strip() else "empty reply")
        return answer

    def stream(
        self,
        messages: list[dict[str, str]],
        on_finish: Callable[[str], None] | None = None,
    ) -> Iterator[str]:
        """Content pieces as they arrive, reasoning dropped. Raises LLMError when the stream
        fails, is silent for llm_timeout, runs past llm_stream_timeout in all (a per-read
        timeout alone would let a slow drip run forever) or says nothing. A whole-call timeout
        of llm_timeout cut a healthy 7B model on CPU (3 tokens/s) after 30 s, mid-answer.
        `on_finish` gets the finish reason ("length": cut at llm_max_tokens)."""
        limit = self.settings.llm_stream_timeout
        deadline = time.monotonic() + limit
        reasoning = ReasoningFilter()
        said = False
        sent = False  # any content at all, reasoning included
        try:
            stream = self.client.chat.completions.create(**self._request(messages), stream=True)
            finish: str | None = None
            chunks = choices = 0
            with stream:
                for chunk in stream:
                    chunks += 1
                    if time.monotonic() > deadline:
                        raise LLMError(
                            f"still streaming after {limit:g} s; a slower model needs a larger "
                            "ASSISTANT_LLM_STREAM_TIMEOUT"
                        )
                    if not chunk.choices:
                        continue
                    choices += 1
                    choice = chunk.choices[0]
                    content = choice.delta.content if choice.delta else None
                    sent = sent or bool(content and content.strip())
                    if content and (text := reasoning.feed(content)):
                        said = said or bool(text.strip())
                        yield text
                    if choice.finish_reason:
                        finish = choice.finish_reason
            if finish is None and not chunks:
                # A 200 with no event of a chat completion: an HTML login page or another
                # service on the port. "Broke off" sent users looking at their network.
                kind = stream.response.headers.get("content-type", "?").split(";")[0]
                if kind == "application/json":
                    # A server that does not stream answers with the whole completion, which
                    # the stream cannot read: ask it once more without streaming.
                    yield self.complete(messages, retries=0)
                    if on_finish is not None:
                        on_finish("stop")
                    return
                raise LLMError(
                    f"the reply is not a chat completion ({kind}); check ASSISTANT_LLM_BASE_URL"
                )
            if finish is None and not choices:
                # Events, then the end, and never a choice: not a broken stream (the LLM-path
                # user test's "choices: []" server was told its stream broke off).
                raise LLMError("the stream ended without an answer (no choices in its events)")
            if finish is None:
                raise LLMError("the stream broke off before the answer was complete")
            if text := reasoning.flush():
                said = said or bool(text.strip())
                yield text
            if not said and finish == "length":
                # A reasoning model that spent llm_max_tokens thinking: no answer is left, and
                # "empty reply" sent the user looking at the server.
                raise LLMError(
                    f"the reply was cut at {self.settings.llm_max_tokens} tokens before any "
                    "answer (reasoning?); raise ASSISTANT_LLM_MAX_TOKENS"
                )
            if not said:
                raise LLMError(ONLY_REASONING if sent else "empty reply")
            if on_finish is not None:
                on_finish(finish)
        except openai.OpenAIError as exc:
            raise LLMError(_describe(exc, self.settings)) from None
        except httpx.TimeoutException:
            raise LLMError(
                f"{self.settings.llm_base_url or 'the OpenAI API'} sent nothing for "
                f"{self.settings.llm_timeout:g} s while streaming (ASSISTANT_LLM_TIMEOUT)"
            ) from None
        except (OSError, ValueError, httpx.HTTPError) as exc:
            # Mid-stream transport errors are not wrapped by openai: a connection cut inside
            # the body surfaces as httpx.RemoteProtocolError.
            raise LLMError(f"the stream broke off ({type(exc).__name__})") from None
