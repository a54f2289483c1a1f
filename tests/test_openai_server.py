"""Tests for the scripted OpenAI server, driven by the real ``openai`` client over loopback HTTP."""

from __future__ import annotations

import itertools
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

# tests/ has no __init__.py, so pytest puts this directory on sys.path (rootdir "prepend" mode).
from openai_server import Reply, ScriptedOpenAIServer


def user(text: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


USER = user("What is BM25?")

# A broken server tends to hang rather than fail: cap every test (pytest-timeout is a dev dep).
pytestmark = pytest.mark.timeout(10)


def make_client(server: ScriptedOpenAIServer, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 5.0)
    return openai.OpenAI(base_url=server.base_url, api_key="test-key", **kwargs)


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as srv:
        yield srv


def stream_pieces(client: openai.OpenAI, include_usage: bool = False) -> list[ChatCompletionChunk]:
    stream = client.chat.completions.create(
        model="m",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True} if include_usage else openai.omit,
    )
    return list(stream)


def test_base_url_is_loopback_with_ephemeral_port(server: ScriptedOpenAIServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.base_url.endswith("/v1")
    port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
    assert port > 0


def test_models_endpoint() -> None:
    with ScriptedOpenAIServer(model="my-model") as srv, make_client(srv) as client:
        models = client.models.list()
    assert [m.id for m in models.data] == ["my-model"]
    assert models.data[0].owned_by == "test"


def test_default_script_replies_ok(server: ScriptedOpenAIServer) -> None:
    with make_client(server) as client:
        resp = client.chat.completions.create(model="m", messages=USER)
    assert resp.choices[0].message.content == "OK"


def test_non_stream_round_trip_and_request_recorded() -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is BM25?"},
    ]
    with ScriptedOpenAIServer([Reply(text="A ranking function.")]) as srv:
        with make_client(srv) as client:
            resp = client.chat.completions.create(
                model="gpt-test", messages=messages, temperature=0.0
            )
        assert resp.choices[0].message.content == "A ranking function."
        assert resp.choices[0].message.role == "assistant"
        assert resp.choices[0].finish_reason == "stop"
        assert resp.object == "chat.completion"
        assert resp.model == "gpt-test"
        assert resp.usage is not None
        assert resp.usage.completion_tokens > 0
        assert resp.usage.prompt_tokens > 0
        assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens

        assert len(srv.requests) == 1
        req = srv.requests[0]
        assert req["model"] == "gpt-test"
        assert req["messages"] == messages
        assert req["temperature"] == 0.0
        assert "stream" not in req or not req["stream"]
        assert req["_headers"]["authorization"] == "Bearer test-key"
        assert req["_headers"]["content-type"] == "application/json"


def test_stream_delivers_text_in_several_chunks() -> None:
    text = "The quick brown fox jumps."
    with ScriptedOpenAIServer([Reply(text=text, chunk_size=5)]) as srv, make_client(srv) as client:
        chunks = stream_pieces(client)
        assert srv.requests[0]["stream"] is True

    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert not chunks[0].choices[0].delta.content
    contents = [c.choices[0].delta.content for c in chunks[1:-1]]
    assert contents == [text[i : i + 5] for i in range(0, len(text), 5)]
    assert len(contents) == 6
    assert "".join(c or "" for c in contents) == text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert not chunks[-1].choices[0].delta.content
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


def test_stream_include_usage_adds_usage_chunk() -> None:
    with ScriptedOpenAIServer([Reply(text="hello world")]) as srv, make_client(srv) as client:
        chunks = stream_pieces(client, include_usage=True)
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
    assert "".join(c.choices[0].delta.content or "" for c in chunks[:-1]) == "hello world"


def test_stream_is_incremental() -> None:
    # 5 content chunks, 0.15 s apart (plus one pause before the finish chunk): a server (or
    # transport) that buffered the body would deliver every chunk at the same instant.
    delay = 0.15
    text = "aaaabbbbccccddddeeee"
    with (
        ScriptedOpenAIServer([Reply(text=text, chunk_size=4, chunk_delay=delay)]) as srv,
        make_client(srv) as client,
    ):
        stream = client.chat.completions.create(model="m", messages=USER, stream=True)
        arrivals: list[tuple[float, str]] = []
        for chunk in stream:
            piece = chunk.choices[0].delta.content
            if piece:
                arrivals.append((time.monotonic(), piece))
        finished = time.monotonic()

    assert "".join(p for _, p in arrivals) == text
    assert len(arrivals) == 5
    first_at = arrivals[0][0]
    # The first chunk reached the client while the server still had 4 delayed chunks to send.
    assert finished - first_at >= 4 * delay * 0.8
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(arrivals)]
    assert all(gap >= delay * 0.5 for gap in gaps), gaps


def test_list_script_consumed_in_order_last_repeats() -> None:
    script = [Reply(text="first"), Reply(text="second"), Reply(text="last")]
    with ScriptedOpenAIServer(script) as srv, make_client(srv) as client:
        answers = [
            client.chat.completions.create(model="m", messages=USER).choices[0].message.content
            for _ in range(5)
        ]
        assert len(srv.requests) == 5
    assert answers == ["first", "second", "last", "last", "last"]


def test_list_script_must_not_be_empty() -> None:
    with pytest.raises(ValueError):
        ScriptedOpenAIServer([])


def test_function_script_sees_request() -> None:
    seen: list[dict[str, Any]] = []

    def script(request: dict[str, Any]) -> Reply:
        seen.append(request)
        question = request["messages"][-1]["content"]
        return Reply(text=f"echo[{request['model']}]: {question}")

    with ScriptedOpenAIServer(script) as srv, make_client(srv) as client:
        one = client.chat.completions.create(model="m1", messages=USER)
        two = client.chat.completions.create(model="m2", messages=user("Second?"))
        assert srv.requests == seen
    assert one.choices[0].message.content == "echo[m1]: What is BM25?"
    assert two.choices[0].message.content == "echo[m2]: Second?"
    assert [r["model"] for r in seen] == ["m1", "m2"]
    assert "authorization" in seen[0]["_headers"]


def test_function_script_exception_becomes_500() -> None:
    def script(request: dict[str, Any]) -> Reply:
        raise KeyError("boom")

    with (
        ScriptedOpenAIServer(script) as srv,
        make_client(srv) as client,
        pytest.raises(openai.InternalServerError) as info,
    ):
        client.chat.completions.create(model="m", messages=USER)
    assert "KeyError" in str(info.value)


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
        (429, openai.RateLimitError),
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
    ],
)
def test_error_status_raises_openai_exception(
    status: int, exc_type: type[openai.APIStatusError]
) -> None:
    with ScriptedOpenAIServer([Reply(status=status)]) as srv, make_client(srv) as client:
        with pytest.raises(exc_type) as info:
            client.chat.completions.create(model="m", messages=USER)
        assert len(srv.requests) == 1  # max_retries=0: no retry
    err = info.value
    assert err.status_code == status
    assert isinstance(err.body, dict)
    assert {"message", "type", "code"} <= set(err.body)
    if status == 429:
        assert err.response.headers["retry-after"] == "0"
        assert err.body["code"] == "rate_limit_exceeded"


def test_error_while_streaming_raises_before_iteration() -> None:
    with (
        ScriptedOpenAIServer([Reply(status=429)]) as srv,
        make_client(srv) as client,
        pytest.raises(openai.RateLimitError),
    ):
        client.chat.completions.create(model="m", messages=USER, stream=True)


@pytest.mark.parametrize("status", [500, 429])
def test_client_retries_then_succeeds(status: int) -> None:
    with ScriptedOpenAIServer([Reply(status=status), Reply(text="ok")]) as srv:
        started = time.monotonic()
        with make_client(srv, max_retries=2) as client:
            resp = client.chat.completions.create(model="m", messages=USER)
        elapsed = time.monotonic() - started
        assert resp.choices[0].message.content == "ok"
        assert len(srv.requests) == 2
        assert srv.requests[0]["messages"] == srv.requests[1]["messages"] == USER
        # The client counts its retries in a header: proves the second call really was a retry.
        assert srv.requests[1]["_headers"].get("x-stainless-retry-count") == "1"
    assert elapsed < 0.4  # retry-after-ms makes the retry immediate (default backoff ~0.5 s)


def test_delay_beyond_client_timeout_raises_and_stop_is_prompt() -> None:
    srv = ScriptedOpenAIServer([Reply(text="too late", delay=3.0)]).start()
    try:
        started = time.monotonic()
        with make_client(srv, timeout=0.5) as client, pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model="m", messages=USER)
        assert time.monotonic() - started < 1.5
        assert len(srv.requests) == 1  # the request did reach the server
    finally:
        stop_started = time.monotonic()
        srv.stop()  # the delayed handler is still sleeping here
        stop_took = time.monotonic() - stop_started
    assert stop_took < 2.0


def test_stop_is_prompt_while_stream_in_flight() -> None:
    srv = ScriptedOpenAIServer([Reply(text="x" * 40, chunk_size=1, chunk_delay=0.5)]).start()
    client = make_client(srv)
    stream = client.chat.completions.create(model="m", messages=USER, stream=True)
    next(stream)  # role chunk: the handler is now sleeping between chunks
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 2.0
    with pytest.raises((httpx.HTTPError, openai.APIError)):
        list(stream)
    client.close()


def test_stop_is_prompt_with_idle_keep_alive_connection() -> None:
    srv = ScriptedOpenAIServer().start()
    client = make_client(srv)
    try:
        assert client.chat.completions.create(model="m", messages=USER).choices[0].message.content
        # The client keeps the HTTP/1.1 connection open: a handler thread is parked on it.
        started = time.monotonic()
        srv.stop()
        assert time.monotonic() - started < 2.0
        with pytest.raises(openai.APIConnectionError):  # nothing is listening any more
            client.chat.completions.create(model="m", messages=USER)
    finally:
        client.close()


def test_server_responsive_during_delayed_request() -> None:
    def script(request: dict[str, Any]) -> Reply:
        if request["messages"][-1]["content"] == "slow":
            return Reply(text="slow answer", delay=1.0)
        return Reply(text="fast answer")

    results: dict[str, float] = {}

    def ask_slow(client: openai.OpenAI) -> None:
        client.chat.completions.create(model="m", messages=user("slow"))
        results["slow"] = time.monotonic()

    with ScriptedOpenAIServer(script) as srv, make_client(srv) as client:
        slow = threading.Thread(target=ask_slow, args=(client,))
        slow.start()
        deadline = time.monotonic() + 2
        while not srv.requests:  # wait until the slow request is being handled
            assert time.monotonic() < deadline, "slow request never reached the server"
            time.sleep(0.01)
        # A server that handled one request at a time would make this time out.
        fast = client.with_options(timeout=0.8).chat.completions.create(
            model="m", messages=user("fast")
        )
        results["fast"] = time.monotonic()
        slow.join(timeout=5)
    assert fast.choices[0].message.content == "fast answer"
    assert "slow" in results
    assert results["fast"] < results["slow"]


def test_cut_after_breaks_the_stream() -> None:
    # The server sends 2 content chunks, then closes the socket inside the chunked body (no
    # finish chunk, no [DONE], no terminating zero-length chunk). What the client sees: iterating
    # the openai Stream raises httpx.RemoteProtocolError ("peer closed connection without sending
    # complete message body (incomplete chunked read)"); openai does not wrap errors raised while
    # iterating a stream, so it surfaces as the raw httpx exception.
    text = "0123456789abcdefghij"
    with (
        ScriptedOpenAIServer(
            [Reply(text=text, chunk_size=4, cut_after=2), Reply(text="again")]
        ) as srv,
        make_client(srv) as client,
    ):
        stream = client.chat.completions.create(model="m", messages=USER, stream=True)
        received = ""
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
            for chunk in stream:
                received += chunk.choices[0].delta.content or ""
                assert chunk.choices[0].finish_reason is None
        # The server survives a cut stream and keeps serving.
        after = client.chat.completions.create(model="m", messages=USER)
    assert received == text[:8]
    assert received != text
    assert after.choices[0].message.content == "again"


def test_cut_after_zero_cuts_before_any_content() -> None:
    with (
        ScriptedOpenAIServer([Reply(text="never seen", cut_after=0)]) as srv,
        make_client(srv) as client,
    ):
        stream = client.chat.completions.create(model="m", messages=USER, stream=True)
        received = ""
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in stream:
                received += chunk.choices[0].delta.content or ""
    assert received == ""


def test_cut_after_larger_than_chunk_count_streams_everything() -> None:
    with ScriptedOpenAIServer([Reply(text="short", cut_after=10)]) as srv, make_client(srv) as c:
        chunks = stream_pieces(c)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "short"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_unknown_paths_return_404_json(server: ScriptedOpenAIServer) -> None:
    with make_client(server) as client, pytest.raises(openai.NotFoundError) as info:
        client.embeddings.create(model="m", input="hello")
    assert isinstance(info.value.body, dict)
    assert "message" in info.value.body
    assert server.requests == []  # only chat completions are recorded

    with pytest.raises(urllib.error.HTTPError) as get_info:
        urllib.request.urlopen(server.base_url + "/nope", timeout=5)
    assert get_info.value.code == 404
    assert get_info.value.headers["Content-Type"] == "application/json"
    assert b'"error"' in get_info.value.read()


def test_server_is_quiet(capfd: pytest.CaptureFixture[str]) -> None:
    script = [Reply(text="t", cut_after=0), Reply(text="slow", delay=0.5), Reply(text="fine")]
    with ScriptedOpenAIServer(script) as srv, make_client(srv) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            stream_pieces(client)
        with pytest.raises(openai.APITimeoutError):  # server later writes to a closed socket
            client.with_options(timeout=0.2).chat.completions.create(model="m", messages=USER)
        client.chat.completions.create(model="m", messages=USER)
        with pytest.raises(openai.NotFoundError):
            client.embeddings.create(model="m", input="x")
        time.sleep(0.5)  # let the abandoned delayed handler try to answer before checking
    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""
