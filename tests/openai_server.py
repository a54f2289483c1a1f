"""A scripted, loopback-only HTTP server that speaks the OpenAI chat-completions protocol.

Tests point the real ``openai`` client at ``server.base_url`` and get deterministic replies
over real HTTP (no mocking of the client, no network beyond 127.0.0.1)::

    with ScriptedOpenAIServer([Reply(text="hello")]) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        client.chat.completions.create(model="m", messages=[...])
        server.requests[-1]["messages"]  # what the client sent

Only the standard library is used.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["Reply", "ScriptedOpenAIServer"]


@dataclass
class Reply:
    """One scripted answer of the server."""

    text: str = ""  # assistant content to return
    status: int = 200  # != 200 -> OpenAI-style error JSON {"error": {...}}
    error: str | None = None  # that error's message (default "Scripted error (HTTP n)")
    delay: float = 0.0  # seconds to sleep before answering (to test timeouts)
    chunk_delay: float = 0.0  # seconds between streamed chunks
    cut_after: int | None = None  # streaming: close the connection after N content chunks
    chunk_size: int = 4  # characters per streamed content chunk
    finish_reason: str = "stop"  # "length": the reply was cut at max_tokens
    raw_body: str | None = None  # sent as is with HTTP 200 (an HTML login page, a wrong port)
    raw_type: str = "text/html"  # its Content-Type
    retry_after: float | None = None  # error replies: the Retry-After header, in seconds
    error_event: str | None = None  # streaming: after cut_after chunks, an error event saying this
    ignore_stream: bool = False  # answer a streaming request with the whole JSON completion


Script = Callable[[dict[str, Any]], Reply] | list[Reply] | None

_ERROR_TYPES: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "not_found"),
    408: ("timeout", None),
    409: ("conflict", None),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}
_RETRYABLE = {408, 409, 429}


def _rough_tokens(text: str) -> int:
    """About one token per four characters (never zero for non-empty text)."""
    return (len(text) + 3) // 4


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: ScriptedOpenAIServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse-DNS lookup (socket.getfqdn); skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Broken pipes from clients that gave up (timeouts, cut streams) are expected: stay quiet.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    # --- plumbing -----------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send_json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-request-id", f"req_{time.monotonic_ns()}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _send_error_json(self, status: int, message: str, retry_after: float | None = None) -> None:
        err_type, code = _ERROR_TYPES.get(
            status, ("server_error" if status >= 500 else "error", None)
        )
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers = {"retry-after": f"{retry_after:g}"}
        elif status in _RETRYABLE or status >= 500:
            # The openai client ignores ``retry-after: 0`` (it only honours values > 0) and would
            # fall back to ~0.5 s exponential backoff; ``retry-after-ms`` takes precedence.
            headers = {"retry-after": "0", "retry-after-ms": "1"}
        payload = {"error": {"message": message, "type": err_type, "param": None, "code": code}}
        self._send_json(status, payload, headers)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    # --- routes -------------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/v1/models":
            model = self.server.owner.model
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [{"id": model, "object": "model", "created": 0, "owned_by": "test"}],
                },
            )
        else:
            self._send_error_json(404, f"Unknown path: GET {self.path}")

    def do_POST(self) -> None:
        raw = self._read_body()
        path = self.path.split("?", 1)[0].rstrip("/")
        if path != "/v1/chat/completions":
            self._send_error_json(404, f"Unknown path: POST {self.path}")
            return
        try:
            body = json.loads(raw.decode("utf-8") or "{}")
            if not isinstance(body, dict):
                raise ValueError("request body must be a JSON object")
        except ValueError as exc:
            self._send_error_json(400, f"Invalid JSON body: {exc}")
            return
        owner = self.server.owner
        body["_headers"] = {k.lower(): v for k, v in self.headers.items()}
        owner._record(body)
        try:
            reply = owner._next_reply(body)
        except Exception as exc:  # a broken script should show up in the test, not hang it
            self._send_error_json(500, f"script raised {type(exc).__name__}: {exc}")
            return

        try:
            if reply.delay > 0 and owner._stopping.wait(reply.delay):
                self.close_connection = True  # server is stopping: drop the request
                return
            if reply.raw_body is not None:
                data = reply.raw_body.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", reply.raw_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
            elif reply.status != 200:
                said = reply.error or f"Scripted error (HTTP {reply.status})"
                self._send_error_json(reply.status, said, reply.retry_after)
            elif body.get("stream") and not reply.ignore_stream:
                self._stream(body, reply)
            else:
                self._complete(body, reply)
        except OSError:  # client went away (timeout, closed stream): nothing to answer
            self.close_connection = True

    # --- chat completions ---------------------------------------------------------------------

    def _usage(self, body: dict[str, Any], text: str) -> dict[str, int]:
        messages = body.get("messages") or []
        prompt = "".join(_content_text(m.get("content")) for m in messages if isinstance(m, dict))
        prompt_tokens = _rough_tokens(prompt) + 3 * len(messages)
        completion_tokens = _rough_tokens(text)
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

    def _model(self, body: dict[str, Any]) -> str:
        model = body.get("model")
        return model if isinstance(model, str) and model else self.server.owner.model

    def _complete(self, body: dict[str, Any], reply: Reply) -> None:
        self._send_json(
            200,
            {
                "id": f"chatcmpl-scripted-{time.monotonic_ns()}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self._model(body),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.text, "refusal": None},
                        "logprobs": None,
                        "finish_reason": reply.finish_reason,
                    }
                ],
                "usage": self._usage(body, reply.text),
                "system_fingerprint": "fp_scripted",
            },
        )

    def _write_chunk(self, data: bytes) -> None:
        # One HTTP/1.1 chunk per SSE event, written straight to the socket (wfile is unbuffered).
        self.wfile.write(f"{len(data):X}\r\n".encode("ascii") + data + b"\r\n")
        self.wfile.flush()

    def _stream(self, body: dict[str, Any], reply: Reply) -> None:
        owner = self.server.owner
        completion_id = f"chatcmpl-scripted-{time.monotonic_ns()}"
        created = int(time.time())
        model = self._model(body)

        def event(delta: dict[str, Any], finish: str | None) -> bytes:
            chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_scripted",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            return f"data: {json.dumps(chunk)}\n\n".encode()

        def pause() -> bool:
            """Sleep chunk_delay; True if the server is stopping."""
            return reply.chunk_delay > 0 and owner._stopping.wait(reply.chunk_delay)

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", f"req_{completion_id}")
        self.end_headers()
        self.wfile.flush()

        self._write_chunk(event({"role": "assistant", "content": ""}, None))
        size = max(1, reply.chunk_size)
        pieces = [reply.text[i : i + size] for i in range(0, len(reply.text), size)]
        for sent, piece in enumerate(pieces):
            if reply.cut_after is not None and sent >= reply.cut_after:
                break
            if pause():
                self.close_connection = True
                return
            self._write_chunk(event({"content": piece}, None))
        if reply.error_event is not None:
            # llama.cpp's server reports a failure inside the stream, as an error event.
            error = {"error": {"message": reply.error_event, "type": "server_error"}}
            self._write_chunk(f"data: {json.dumps(error)}\n\n".encode())
            self._write_chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        if reply.cut_after is not None and reply.cut_after < len(pieces):
            # Abort mid-body: no finish chunk, no [DONE], no terminating zero-length chunk.
            # The client sees EOF inside a chunked body -> "incomplete chunked read".
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if pause():
            self.close_connection = True
            return
        self._write_chunk(event({}, reply.finish_reason))
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            usage_chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": self._usage(body, reply.text),
            }
            self._write_chunk(f"data: {json.dumps(usage_chunk)}\n\n".encode())
        self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class ScriptedOpenAIServer:
    """OpenAI-compatible server on 127.0.0.1 (ephemeral port) answering from a script.

    ``script`` is a function of the parsed request JSON returning a :class:`Reply`, a list of
    replies consumed in order (the last one repeats), or ``None`` (always ``Reply(text="OK")``).
    """

    def __init__(self, script: Script = None, model: str = "scripted-model") -> None:
        if isinstance(script, list) and not script:
            raise ValueError("script list must contain at least one Reply")
        self.script: Script = script
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._index = 0
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> ScriptedOpenAIServer:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._stopping.clear()
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        port = httpd.server_port
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"scripted-openai-{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; never waits for in-flight (delayed or streaming) requests."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping in delay / chunk_delay
        httpd.shutdown()  # stop accepting; returns within one poll interval
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # unblock handlers waiting on idle keep-alive connections
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- used by the handler ------------------------------------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _record(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(body)

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        script = self.script
        if script is None:
            return Reply(text="OK")
        if isinstance(script, list):
            with self._lock:
                reply = script[min(self._index, len(script) - 1)]
                self._index += 1
            return reply
        return script(body)
