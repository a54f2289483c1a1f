"""Browser chat (Gradio) and its HTTP API: a thin layer over the `Assistant` facade.

Start it with ``assistant chat [--host 127.0.0.1] [--port 7860]`` (or ``make run``). It binds
127.0.0.1:7860 unless told otherwise (``ASSISTANT_HOST``, ``ASSISTANT_PORT``) and asks for a
login when ``ASSISTANT_UI_AUTH=user:password`` is set. The page loads nothing from the internet.

API (``gradio_client``)
-----------------------
Three endpoints with stable names; answers and sources are the JSON of the records in
``assistant.records`` (``Answer``, ``Source``)::

    from gradio_client import Client

    c = Client("http://127.0.0.1:7860/")          # auth=("user", "password") with UI auth
    ans = c.predict("UCFE 的用户研究有多少名参与者？", None, api_name="/ask")
    ans["text"], ans["citations"], ans["sources"], ans["refused"]

    history = [{"role": "user", "content": "UCFE 的用户研究有多少名参与者？"},
               {"role": "assistant", "content": ans["text"],
                "paper_ids": [x["paper_id"] for x in ans["citations"]]}]
    c.predict("它对多少个 LLM 服务做了基准测试？", json.dumps(history), api_name="/ask")

    c.predict("J&F 提升", 5, api_name="/search")   # list of sources, best first
    c.predict(api_name="/papers")                  # the indexed papers

``/ask(question: str, history: str | None = None, top_k: int | None = None,
language: str | None = None) -> dict``
    A cited answer or a refusal: ``text`` (with ``[n]`` markers), ``citations``
    (``marker``, ``paper_id``, ``title``, ``url``), ``sources`` (``sources[n-1]`` is marker
    ``[n]``; on a refusal the closest papers), ``refused``, ``mode``
    (``llm``/``extractive``/``index``), ``language``, ``notices`` (e.g. the LLM fell back to
    extractive). ``history`` is a JSON list of ``{"role", "content", "paper_ids"?}`` messages
    (or null). ``top_k`` and ``language``
    (``auto``/``zh``/``en``) override the server's settings for this call.
``/search(question: str, k: int = 5) -> list[dict]``
    Up to ``k`` sources (``paper_id``, ``title``, ``title_zh``, ``url``, ``text``, ``score``...).
``/papers() -> list[dict]``
    Every indexed paper: ``paper_id``, ``title``, ``title_zh``, ``url``, ``source_file``,
    ``line``. Here (and in the sources above) ``source_file`` is relative to the server's
    working directory, or the file's name alone: clients are not shown the server's paths.

Bad input (an empty question, a malformed history) comes back as a ``gradio_client``
``AppError`` with a one-line message.
"""

# No `from __future__ import annotations` here: gr.api reads the endpoints' type hints at run
# time to describe them to API clients.

import hashlib
import html
import json
import logging
import queue
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from .assistant import Assistant, AssistantError
from .records import Answer
from .retrieve import ARXIV_ID

log = logging.getLogger(__name__)

# Questions shown on the empty chat; each was checked on the shipped seeds (tests/test_ui.py
# asserts that each gets a cited, non-refused answer from the paper listed next to it).
EXAMPLES: list[tuple[str, str]] = [
    ("UCFE 的用户研究有多少名参与者？", "2410.14059"),
    ("SAM2Long 在一对一比较中平均提高了多少分？", "2410.16268"),
    ("哪些论文涉及 3D 场景的重建或生成？", "2410.17249"),
    ("How many tasks does the AndroidLab benchmark contain?", "2410.24024"),
    ("Which datasets were used to evaluate FrugalNeRF?", "2410.16271"),
    # Not "Which papers are about video generation?": it cites PUMA and SAM2Long and misses
    # DimensionX ("Video Diffusion"), and a shipped example should not show a wrong list.
    ("Which papers study GUI or web agents?", "2410.23218"),
]

LANGUAGES = [("Follow the question · 跟随提问", "auto"), ("中文", "zh"), ("English", "en")]

# The browser keeps the last 30 exchanges (sources included, so ~5-15 KB each): the whole
# conversation travels with every question, and localStorage holds only a few MB.
MAX_STORED_MESSAGES = 60
PREVIEW_CHARS = 150

_SAFE_URL = re.compile(r"^https?://[^\s\"'<>`]+$", re.IGNORECASE)
_MARKER = re.compile(r"\[(\d{1,3})\]")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_CODE = re.compile(r"`([^`\n]+)`")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
# What else LLMs write (the LLM-path user test saw it shown raw): *italic*, a fenced code block,
# a table. Not "2*3*4": the stars must hug a word.
_ITALIC = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![\w*])")
_FENCE = re.compile(r"^\s*```")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")


# --- rendering (pure functions of JSON-like data: the same output live and after a reload) ---


def _esc(text: Any) -> str:
    return html.escape(str(text if text is not None else ""), quote=True)


def _safe_url(url: Any) -> str | None:
    """Only plain http(s) links ever become hrefs: a digest can't smuggle in `javascript:`."""
    if isinstance(url, str) and _SAFE_URL.match(url.strip()):
        return url.strip()
    return None


def _link(url: str | None, label_html: str, cls: str, title: str = "") -> str:
    if url is None:
        return f'<span class="{cls}">{label_html}</span>'
    tip = f' title="{_esc(title)}"' if title else ""
    return (
        f'<a class="{cls}" href="{_esc(url)}" target="_blank" rel="noopener noreferrer"{tip}>'
        f"{label_html}</a>"
    )


# A URL in a quoted sentence ("代码已在 https://github.com/Mark12Ding/SAM2Long 发布"), as the
# escaped text has it: it was plain text, only the arXiv links were anchors.
_WEB_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#@!$&*+,;=%]+", re.ASCII)


def _linked_url(m: re.Match[str]) -> str:
    whole = m.group(0)
    # A quote or angle bracket after it (escaped as an entity) ends the URL.
    shown = re.split(r"&(?:quot|#x27|lt|gt);", whole, maxsplit=1)[0]
    after = whole[len(shown) :]
    trail = len(shown) - len(shown.rstrip(".,;:!?"))
    if shown[len(shown) - trail :].endswith(";") and "&" in shown:
        trail = 0  # "&amp;" ends in ";": the entity is part of the URL
    core, rest = (shown[:-trail], shown[-trail:]) if trail else (shown, "")
    url = _safe_url(html.unescape(core))
    return (_link(url, core, "da-url") if url else core) + rest + after


def _inline(text: str, links: dict[int, tuple[str | None, str]]) -> str:
    """Escape one line, then add the little markdown answers use (**bold**, `code`) and turn
    the markers of real citations into links; any other `[n]` stays plain text."""
    out = _esc(text)
    out = _CODE.sub(r"<code>\1</code>", out)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)
    out = _WEB_URL.sub(_linked_url, out)  # before the markers, whose links hold URLs

    def marker(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if n not in links:
            return m.group(0)
        url, title = links[n]
        return _link(url, f"[{n}]", "da-cite", title)

    return _MARKER.sub(marker, out)


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def render_text(text: str, links: dict[int, tuple[str | None, str]] | None = None) -> str:
    """Answer text as HTML: paragraphs, bullet lists, line breaks; everything escaped.

    The result has no newlines so Gradio's markdown step treats the whole message as one HTML
    block and never interprets digest text as markdown (links, images, headings)."""
    links = links or {}
    blocks: list[str] = []
    para: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if para:
            blocks.append("<p>" + "<br>".join(para) + "</p>")
            para.clear()
        if items:
            blocks.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    lines = (text or "").splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        line = raw.strip()
        i += 1
        if _FENCE.match(line):
            # A fenced block is shown as written, escaped; it ends at the next fence (or at the
            # answer's end, when the model stopped inside it).
            flush()
            body: list[str] = []
            while i < len(lines) and not _FENCE.match(lines[i]):
                body.append(_esc(lines[i]))
                i += 1
            i += 1
            # <br> keeps the block's lines without a newline in the HTML (see above).
            blocks.append("<pre><code>" + "<br>".join(body) + "</code></pre>")
            continue
        if _TABLE_ROW.match(line) and i < len(lines) and _TABLE_RULE.match(lines[i]):
            flush()
            head = _cells(line)
            i += 1
            rows: list[list[str]] = []
            while i < len(lines) and _TABLE_ROW.match(lines[i]):
                rows.append(_cells(lines[i]))
                i += 1
            th = "".join(f"<th>{_inline(c, links)}</th>" for c in head)
            trs = "".join(
                "<tr>" + "".join(f"<td>{_inline(c, links)}</td>" for c in row) + "</tr>"
                for row in rows
            )
            blocks.append(f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>")
            continue
        if not line:
            flush()
        elif line.startswith("#") and (heading := line.lstrip("#")).startswith(" "):
            flush()  # "## Answer": a heading, shown bold on its own line
            blocks.append(f"<p><strong>{_inline(heading.strip(), links)}</strong></p>")
        elif _BULLET.match(line):
            if para:
                flush()
            items.append(_inline(_BULLET.sub("", line, count=1), links))
        else:
            if items:
                flush()
            para.append(_inline(line.lstrip("#").strip() if line.startswith("#") else line, links))
    flush()
    return "".join(blocks)


def _arxiv_id(source: dict[str, Any]) -> str:
    pid = str(source.get("paper_id") or "")
    m = ARXIV_ID.fullmatch(pid)  # new- or old-style, without its version
    return m.group(1) if m else pid


def _fmt_score(value: Any, digits: int) -> str | None:
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return None


def _quotes(text: str, marker: int) -> list[str]:
    """The answer's sentences that carry [marker], markers removed. Extractive answers quote
    the digest verbatim, so these can be found (and highlighted) in the passage."""
    out: list[str] = []
    for line in text.splitlines():
        if f"[{marker}]" not in line:
            continue
        for piece in _MARKER.split(_BULLET.sub("", line.strip(), count=1))[::2]:
            piece = " ".join(piece.replace("**", "").split()).strip(" ：:")
            if len(piece) >= 8:
                out.append(piece)
    return out


def _passage_html(passage: str, quotes: list[str]) -> tuple[str, str]:
    """(preview, full) of a passage, with the quoted sentences marked. The preview starts at
    the first quoted sentence, which is the part of the passage that answered the question."""
    full = _esc(passage)
    first: str | None = None
    for q in quotes:
        eq = _esc(q)
        if eq in full and f"<mark>{eq}" not in full:
            full = full.replace(eq, f"<mark>{eq}</mark>", 1)
            if first is None or passage.find(q) < passage.find(first):
                first = q
    if first is not None:
        start = passage.find(first)
        cut = first if len(first) <= 2 * PREVIEW_CHARS else first[: 2 * PREVIEW_CHARS] + "…"
        tail = "…" if start + len(cut) < len(passage) else ""
        preview = ("…" if start > 0 else "") + f"<mark>{_esc(cut)}</mark>" + tail
    else:
        preview = _esc(passage[:PREVIEW_CHARS].rstrip()) + "…"
    return preview, full


def render_card(
    source: dict[str, Any],
    marker: int | None,
    quotes: list[str] | None = None,
    *,
    compact: bool = False,
    scored: bool = True,
) -> str:
    """A source card: English title, Chinese title, arXiv link, score, the passage used.
    `compact` (the closest papers of a refusal, the papers of a list) keeps the passage folded
    away entirely; `scored=False` (a paper read from the index, not retrieved) shows no score."""
    url = _safe_url(source.get("url"))
    title = str(source.get("title") or source.get("paper_id") or "")
    title_zh = str(source.get("title_zh") or "")
    num = f'<span class="da-num">{marker}</span>' if marker is not None else ""
    head = f'<div class="da-card-title">{num}{_link(url, _esc(title), "da-title")}</div>'
    zh = f'<div class="da-zh">{_esc(title_zh)}</div>' if title_zh and title_zh != title else ""
    meta = [_link(url, "arXiv:" + _esc(_arxiv_id(source)), "da-arxiv")]
    score = _fmt_score(source.get("score"), 3) if scored else None
    if score is not None:
        meta.append(f'<span title="fused retrieval score (higher is better)">score {score}</span>')
    cosine = _fmt_score(source.get("dense_score"), 2)
    if cosine is not None:
        meta.append(f'<span title="cosine similarity of the passage">cos {cosine}</span>')
    passage = " ".join(str(source.get("text") or "").split())
    body = ""
    if passage:
        preview, full = _passage_html(passage, quotes or [])
        if compact:
            preview = ""
        if compact or len(passage) > PREVIEW_CHARS:
            body = (
                '<details class="da-passage"><summary>'
                f'<span class="da-preview">{preview}</span>'
                '<span class="da-more">passage · 原文</span></summary>'
                f'<div class="da-full">{full}</div></details>'
            )
        else:
            body = f'<div class="da-passage da-short">{full}</div>'
    return (
        f'<div class="da-card">{head}{zh}<div class="da-meta">{" · ".join(meta)}</div>{body}</div>'
    )


def render_answer(answer: dict[str, Any]) -> str:
    """An assistant message: notices, the answer with linked markers, then its source cards.

    The cards live inside the message itself, so they stay with it after more messages and
    after a reload (the chat is re-rendered from the stored answers)."""
    sources = [s for s in answer.get("sources") or [] if isinstance(s, dict)]
    refused = bool(answer.get("refused"))
    zh = answer.get("language") == "zh"
    links: dict[int, tuple[str | None, str]] = {}
    for c in answer.get("citations") or []:
        if not isinstance(c, dict):
            continue
        try:
            n = int(c.get("marker"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if 1 <= n <= len(sources):
            links[n] = (_safe_url(c.get("url")), str(c.get("title") or ""))
    parts: list[str] = []
    for notice in answer.get("notices") or []:
        parts.append(f'<div class="da-notice">⚠ {_esc(notice)}</div>')
    parts.append(f'<div class="da-text">{render_text(str(answer.get("text") or ""), links)}</div>')
    if refused:
        cards = [render_card(s, None, compact=True) for s in sources]
        label = "最接近的论文" if zh else "Closest papers"
    elif not links and answer.get("mode") == "llm":
        # An LLM answer citing nothing says "check it against the sources retrieved": shown below.
        cards = [render_card(s, None, compact=True) for s in sources]
        label = "提供给 LLM 的来源" if zh else "Sources given to the LLM"
    else:
        # Cited papers first in marker order; retrieved-but-uncited ones are left out (they
        # did not contribute to the text).
        text = str(answer.get("text") or "")
        listed = answer.get("mode") == "index"  # the list of papers: it cites each by title
        cards = [
            render_card(sources[n - 1], n, _quotes(text, n), compact=listed, scored=not listed)
            for n in sorted(links)
        ]
        label = "来源" if zh else "Sources"
    if cards:
        parts.append(
            f'<div class="da-sources"><div class="da-sources-head">{label}</div>'
            + "".join(cards)
            + "</div>"
        )
    mode = answer.get("mode")
    feet = {
        "llm": ("由 LLM 生成", "generated by the LLM"),
        "extractive": ("摘录自摘要原文", "quoted from the digests"),
        "index": ("来自索引记录（论文列表、arXiv 编号）", "from the index (paper list, arXiv ids)"),
    }
    if not refused and mode in feet:
        what = feet[mode][0] if zh else feet[mode][1]
        parts.append(f'<div class="da-foot">{what}</div>')
    cls = "da-answer da-refused" if refused else "da-answer"
    return f'<div class="{cls}">' + "".join(parts) + "</div>"


def render_pending(text: str, model: str | None = None) -> str:
    """The answer while it streams: plain escaped text, markers not yet checked or linked.
    Before any text: what it waits for, the LLM (`model`) included. "Searching the digests"
    alone stood for a minute while a hung local server was waited on."""
    wait = (
        f"Searching the digests, then asking {_esc(model)} · 正在检索摘要并等待 LLM 回答…"
        if model
        else "Searching the digests · 正在检索摘要…"
    )
    body = render_text(text) if text.strip() else f'<p class="da-wait">{wait}</p>'
    return f'<div class="da-answer da-streaming">{body}<span class="da-caret"></span></div>'


def render_user(text: str) -> str:
    return f'<div class="da-question">{render_text(text)}</div>'


def render_error(message: str) -> str:
    return f'<div class="da-answer da-error"><div class="da-notice">⚠ {_esc(message)}</div></div>'


def render_chat(turns: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Chatbot messages for the stored conversation."""
    out: list[dict[str, str]] = []
    for t in turns:
        if not isinstance(t, dict):
            continue
        if t.get("role") == "user":
            out.append({"role": "user", "content": render_user(str(t.get("content") or ""))})
        elif t.get("role") == "assistant":
            ans = t.get("answer")
            content = (
                render_answer(ans)
                if isinstance(ans, dict)
                else render_text(str(t.get("content") or ""))
            )
            out.append({"role": "assistant", "content": content})
    return out


def public_path(source_file: str | None) -> str:
    """A digest's path as the HTTP API shows it: relative to the server's working directory
    when inside it, else the file's name. The absolute path told every client of a shared
    server how its disk is laid out."""
    if not source_file:
        return ""
    path = Path(source_file)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return path.name


# --- conversation state (stored in the browser) ---------------------------------------------


def _stored_answer(ans: Answer) -> dict[str, Any]:
    """What the browser keeps of an answer: enough to re-render it and to resolve follow-ups."""
    data = ans.model_dump(
        mode="json",
        include={"text", "citations", "refused", "mode", "language", "notices"},
    )
    data["sources"] = [
        s.model_dump(
            mode="json",
            include={"paper_id", "title", "title_zh", "url", "text", "score", "dense_score"},
        )
        for s in ans.sources
    ]
    return data


# Marks a stored question whose answer had not come yet (see respond and restore).
PENDING = "pending"


# How long an answer being written may go without a word to Gradio. Stop cancels the event
# only when it yields: while a slow local model had not sent its first token (20 s), Stop
# left the Enter key's event pending, and a question sent with Enter right after was
# dropped (the LLM-path user test; the Ask button, another event, worked).
POLL_SECONDS = 0.25


def polled(pieces: Iterator[Any], every: float = POLL_SECONDS) -> Iterator[Any]:
    """The pieces, produced in a thread of their own; None whenever `every` seconds pass
    without one. Closing this generator (Stop) ends the producer at its next piece."""
    out: queue.Queue[tuple[str, Any]] = queue.Queue()
    stopped = threading.Event()

    def produce() -> None:
        try:
            for piece in pieces:
                if stopped.is_set():
                    break
                out.put(("piece", piece))
            out.put(("end", None))
        except BaseException as exc:  # re-raised in the consumer, as if raised there
            out.put(("error", exc))
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()

    threading.Thread(target=produce, name="answer", daemon=True).start()
    try:
        while True:
            try:
                kind, value = out.get(timeout=every)
            except queue.Empty:
                yield None
                continue
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stopped.set()


def _turns(state: Any) -> list[dict[str, Any]]:
    """The conversation in the browser state (ignoring anything malformed)."""
    if isinstance(state, dict):
        state = state.get("turns")
    if not isinstance(state, list):
        return []
    return [t for t in state if isinstance(t, dict) and t.get("role") in ("user", "assistant")]


def history_for(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history the Assistant reads: messages plus the papers each answer cited."""
    out: list[dict[str, Any]] = []
    for t in turns:
        item: dict[str, Any] = {"role": t["role"], "content": str(t.get("content") or "")}
        ans = t.get("answer")
        if t["role"] == "assistant" and isinstance(ans, dict):
            item["paper_ids"] = [
                str(c.get("paper_id"))
                for c in ans.get("citations") or []
                if isinstance(c, dict) and c.get("paper_id")
            ]
        out.append(item)
    return out


def _parse_history(history: Any) -> list[dict[str, Any]]:
    """API history: a JSON list of {"role", "content", "paper_ids"?} (or the list itself)."""
    if history is None or (isinstance(history, str) and not history.strip()):
        return []
    if isinstance(history, str):
        try:
            history = json.loads(history)
        except ValueError as exc:
            raise gr.Error(f"history is not valid JSON: {exc}", print_exception=False) from None
    if not isinstance(history, list) or not all(isinstance(m, dict) for m in history):
        raise gr.Error(
            'history must be a JSON list of {"role": ..., "content": ...} messages',
            print_exception=False,
        )
    return history


def _storage_key(assistant: Assistant) -> tuple[str, str]:
    """Browser-storage key and secret, stable across restarts (a restart must not lose the
    chats) and distinct per index (paper ids of another corpus would mean nothing)."""
    s = assistant.settings
    where = s.chroma_url or str(s.index_dir.resolve())
    digest = hashlib.sha256(f"digest-assistant|{where}|{s.collection}".encode()).hexdigest()
    return f"digest-assistant-chat-{digest[:12]}", digest[12:44]


# --- the app ----------------------------------------------------------------------------------

CSS = """
.da-answer, .da-question { line-height: 1.6; }
.da-answer p, .da-question p { margin: 0 0 .5em 0; }
.da-answer ul { margin: .2em 0 .6em 1.2em; padding: 0; }
.da-answer li { margin: .15em 0; }
.da-answer table { border-collapse: collapse; margin: .3em 0 .6em 0; }
.da-answer th, .da-answer td { border: 1px solid var(--border-color-primary); padding: 2px 8px; }
.da-answer pre { overflow-x: auto; padding: .4em .6em; margin: .3em 0 .6em 0; }
.da-answer a.da-cite { text-decoration: none; font-weight: 600; padding: 0 1px;
  color: var(--color-accent); white-space: nowrap; }
.da-answer a.da-cite:hover { text-decoration: underline; }
.da-answer a.da-url { color: var(--color-accent); word-break: break-all; }
.da-notice { border-left: 3px solid #d97706; background: rgba(217, 119, 6, .09);
  padding: .35em .7em; margin: 0 0 .6em 0; border-radius: 4px; font-size: .92em; }
.da-refused .da-text { border-left: 3px solid #9ca3af; padding-left: .6em; }
.da-sources { margin-top: .7em; display: flex; flex-direction: column; gap: .5em; }
.da-sources-head { font-size: .8em; text-transform: uppercase; letter-spacing: .06em;
  opacity: .7; font-weight: 600; }
.da-card { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: .5em .75em; background: var(--background-fill-secondary); font-size: .92em; }
.da-card-title { line-height: 1.4; font-size: 1.04em; }
.da-card-title a.da-title { text-decoration: none; color: inherit; }
.da-card-title a.da-title:hover { text-decoration: underline; }
.da-num { display: inline-block; min-width: 1.5em; text-align: center; margin-right: .45em;
  border-radius: 4px; background: var(--color-accent); color: white; font-size: .85em;
  padding: 0 .3em; }
.da-zh { opacity: .85; margin-top: .1em; }
.da-meta { font-size: .85em; opacity: .75; margin-top: .2em; }
.da-meta a { color: var(--color-accent); text-decoration: none; }
.da-passage { margin-top: .35em; font-size: .92em; }
.da-passage summary { cursor: pointer; list-style: none; opacity: .85; }
.da-passage summary::-webkit-details-marker { display: none; }
.da-passage .da-more { margin-left: .4em; color: var(--color-accent); font-size: .9em;
  white-space: nowrap; }
.da-passage .da-more::before { content: "▸ "; }
.da-passage[open] .da-preview { display: none; }
.da-passage[open] .da-more::before { content: "▾ "; }
.da-full { margin-top: .3em; }
.da-passage mark { background: rgba(250, 204, 21, .32); color: inherit; border-radius: 2px;
  padding: 0 1px; }
.da-short { opacity: .85; }
.da-foot { font-size: .78em; opacity: .55; margin-top: .5em; }
.da-caret { display: inline-block; width: .5em; height: 1em; vertical-align: text-bottom;
  background: currentColor; opacity: .5; animation: da-blink 1s steps(2) infinite; }
@keyframes da-blink { 50% { opacity: 0; } }
.da-wait { opacity: .6; }
#da-header h1 { margin-bottom: 0; }
/* A phone (390 px): the input took a third of the row and sat below the fold, under a header of
   five lines. The intro is left out there (the placeholder and the examples say it), and the
   input gets a row of its own above the two buttons. */
@media (max-width: 640px) {
  #da-header h1 { font-size: 1.3em; }
  #da-header p { display: none; }
  #da-input-row { flex-wrap: wrap; }
  #da-input-row > .form { flex: 1 1 100% !important; min-width: 100% !important; }
  #da-input-row > button { flex: 1 1 40% !important; min-width: 0 !important; }
  /* The Papers table: the arXiv id wrapped a digit or two per line ("24 / 10 / .1 / 40"), and
     the digest file took a quarter of the width. */
  #da-papers th:nth-child(4), #da-papers td:nth-child(4),
  #da-papers .virtual-row > .body-cell:nth-child(4) { display: none !important; }
  #da-papers th:first-child, #da-papers td:first-child,
  #da-papers .virtual-row > .body-cell:first-child { white-space: nowrap;
    min-width: 6.2em !important; width: 6.2em !important; flex: 0 0 6.2em !important; }
}
#da-papers .virtual-row, #da-papers .virtual-row *, #da-papers td,
#da-papers th, #da-papers input { font-family: var(--font) !important; }
"""

# The chat follows an answer as it is written, to its end: a long one (four papers, their
# cards) was left scrolled to its sources, its text above the fold. Once written, an answer
# whose top is out of view is scrolled back to its top: after Gradio's own scroll to the end,
# which waits 300 ms.
SHOW_ANSWER_TOP = """() => { setTimeout(() => {
  const all = document.querySelectorAll('#da-chat .da-answer');
  const el = all[all.length - 1];
  if (!el) return;
  let box = el.parentElement;
  while (box && !(box.scrollHeight > box.clientHeight
                  && /(auto|scroll)/.test(getComputedStyle(box).overflowY))) {
    box = box.parentElement;
  }
  if (!box) return;
  const top = el.getBoundingClientRect().top - box.getBoundingClientRect().top;
  if (top < 0) box.scrollTop += top - 8;
}, 500); }"""

# Gradio follows the chat only while it is scrolled to its end, which showing a long answer's
# top (above) is not: every later answer was written below the fold, and on a phone nothing
# seemed to happen (the chat UI user test). Asking scrolls to the end, so the question and
# the answer being written are followed again.
SCROLL_TO_END = """() => { for (const wait of [50, 400]) setTimeout(() => {
  const chat = document.querySelector('#da-chat');
  if (!chat) return;
  for (const box of [chat, ...chat.querySelectorAll('*')]) {
    if (box.scrollHeight > box.clientHeight
        && /(auto|scroll)/.test(getComputedStyle(box).overflowY)) box.scrollTop = box.scrollHeight;
  }
}, wait); }"""

FONTS: list[gr.themes.Font | str] = [
    gr.themes.LocalFont("Source Sans Pro"),  # served by Gradio itself, no CDN
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "PingFang SC",
    "Microsoft YaHei",
    "ui-sans-serif",
    "system-ui",
    "sans-serif",
]


def theme() -> gr.themes.Base:
    return gr.themes.Default(primary_hue="blue", font=FONTS)


def build_ui(assistant: Assistant) -> gr.Blocks:
    """The chat, corpus and settings views plus the /ask, /search and /papers endpoints.

    Launch with `launch()`, or `build_ui(a).launch(css=CSS, theme=theme())` to embed it."""
    assistant.ensure_indexed()
    s = assistant.settings
    papers = assistant.papers()
    files = sorted({str(p.get("source_file") or "") for p in papers})
    llm_configured = bool(s.llm_base_url or s.api_key())
    key, secret = _storage_key(assistant)

    def ui_overrides(top_k: float | None, language: str | None, use_llm: bool | None) -> dict:
        out: dict[str, Any] = {}
        if top_k:
            out["top_k"] = int(top_k)
        if language in ("auto", "zh", "en"):
            out["answer_language"] = language
        if llm_configured and use_llm is not None:
            out["llm_enabled"] = bool(use_llm)
        return out

    # -- chat ---------------------------------------------------------------------------------
    def respond(
        message: str, state: Any, top_k: float, language: str, use_llm: bool
    ) -> Iterator[tuple[Any, Any, Any]]:
        """Yields (textbox, chatbot, stored state) while the answer streams."""
        question = (message or "").strip()
        turns = [t for t in _turns(state) if not t.get(PENDING)]
        if not question:
            yield gr.skip(), gr.skip(), gr.skip()
            return
        # A question past max_question_chars is read cut (the answer's notice says so); the
        # bubble shows what is read, not a 5,000-character paste.
        limit = assistant.settings.max_question_chars
        asked = question if len(question) <= limit else question[:limit] + " …"
        shown = [*render_chat(turns), {"role": "user", "content": render_user(asked)}]
        # The question is stored at once, marked pending: a reload mid-answer puts it back in
        # the box (restore) instead of losing it; the answer replaces the mark.
        pending_state = {
            "v": 1,
            "turns": [*turns, {"role": "user", "content": asked, PENDING: True}],
        }
        overrides = ui_overrides(top_k, language, use_llm)
        asks_llm = llm_configured and overrides.get("llm_enabled", s.llm_active)
        model = s.llm_model if asks_llm else None
        waiting = {"role": "assistant", "content": render_pending("", model)}
        yield "", [*shown, waiting], pending_state
        draft = ""
        final: Answer | None = None
        try:
            pieces = assistant.stream(question, history_for(turns), **overrides)
            for piece in polled(pieces):
                if piece is None:  # still waiting: a moment for Stop to take effect
                    yield gr.skip(), gr.skip(), gr.skip()
                    continue
                if isinstance(piece, Answer):
                    final = piece
                else:
                    draft += piece
                    pending = {"role": "assistant", "content": render_pending(draft)}
                    yield gr.skip(), [*shown, pending], gr.skip()
        except AssistantError as exc:
            # Bad input: say so (in Chinese too: the page is bilingual), keep the question in
            # the box, store nothing.
            gr.Warning(f"{exc} · {exc.zh}" if exc.zh else str(exc))
            yield question, render_chat(turns), {"v": 1, "turns": turns}
            return
        except Exception as exc:  # a clear line in the chat, the traceback in the server log
            log.exception("answering %r failed", question)
            err = {"role": "assistant", "content": render_error(f"{type(exc).__name__}: {exc}")}
            yield gr.skip(), [*shown, err], {"v": 1, "turns": turns}
            return
        assert final is not None
        turns = [
            *turns,
            {"role": "user", "content": asked},
            {"role": "assistant", "content": final.text, "answer": _stored_answer(final)},
        ][-MAX_STORED_MESSAGES:]
        yield gr.skip(), render_chat(turns), {"v": 1, "turns": turns}

    def restore(state: Any) -> tuple[list[dict[str, str]], Any, Any]:
        """The stored chat, on load and after Stop: a question left pending (the page was
        reloaded, or the answer stopped, before it came) goes back into the box."""
        turns = _turns(state)
        if turns and turns[-1].get(PENDING):
            question = str(turns[-1].get("content") or "")
            turns = turns[:-1]
            return render_chat(turns), question, {"v": 1, "turns": turns}
        return render_chat(turns), gr.skip(), gr.skip()

    def load_prefs(saved: Any) -> tuple[Any, Any, Any]:
        """The settings the user chose, as stored; anything missing or invalid stays as is."""
        saved = saved if isinstance(saved, dict) else {}
        k = saved.get("top_k")
        lang = saved.get("language")
        llm = saved.get("use_llm")
        return (
            k if isinstance(k, int) and 1 <= k <= 10 else gr.skip(),
            lang if lang in ("auto", "zh", "en") else gr.skip(),
            llm if isinstance(llm, bool) and llm_configured else gr.skip(),
        )

    def save_prefs(top_k: float, language: str, use_llm: bool) -> dict[str, Any]:
        return {"top_k": int(top_k), "language": language, "use_llm": bool(use_llm)}

    def new_chat() -> tuple[list[Any], dict[str, Any], str]:
        return [], {"v": 1, "turns": []}, ""

    def pick_example(evt: gr.SelectData) -> str:
        value = evt.value
        return str(value.get("text", "")) if isinstance(value, dict) else str(value or "")

    # -- API ----------------------------------------------------------------------------------
    def ask(
        question: str,
        history: str | None = None,
        top_k: int | None = None,
        language: str | None = None,
    ) -> dict:
        """A cited answer (or a refusal) as JSON; history is a JSON list of messages."""
        turns = _parse_history(history)
        extra: dict[str, Any] = {}
        if top_k is not None:
            extra["top_k"] = top_k
        if language:
            extra["answer_language"] = language  # the Assistant validates both
        try:
            ans = assistant.ask(question, turns, **extra)
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        data = ans.model_dump(mode="json")
        for src in data["sources"]:
            src["source_file"] = public_path(src["source_file"])
        return data

    def search(question: str, k: int = 5) -> list[dict]:
        """Up to k sources for the question, best first."""
        try:
            found = [x.model_dump(mode="json") for x in assistant.search(question, k=int(k))]
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return [{**x, "source_file": public_path(x["source_file"])} for x in found]

    def list_papers() -> list[dict]:
        """Every indexed paper."""
        return [{**p, "source_file": public_path(p["source_file"])} for p in assistant.papers()]

    # -- layout -------------------------------------------------------------------------------
    with gr.Blocks(title="Digest assistant · 论文摘要问答", fill_height=True) as demo:
        store = gr.BrowserState({"v": 1, "turns": []}, storage_key=key, secret=secret)
        # The settings panel's choices, kept apart from the chat: a reload (or New chat) must
        # not turn the LLM back on or reset the language after the user chose otherwise.
        prefs = gr.BrowserState({}, storage_key=f"{key}-settings", secret=secret)
        gr.Markdown(
            "# Digest assistant · 论文摘要问答\n"
            f"Ask about {len(papers)} papers from {len(files)} digest "
            f"file{'s' if len(files) != 1 else ''}, in Chinese or English. "
            "Every claim links to its arXiv paper; when the digests don't say, it tells you. "
            "· 用中文或英文提问，答案中的 [n] 指向 arXiv 论文。",
            elem_id="da-header",
        )
        with gr.Tabs():
            with gr.Tab("Chat · 问答"):
                chatbot = gr.Chatbot(
                    elem_id="da-chat",
                    show_label=False,
                    height="calc(100vh - 330px)",
                    min_height=420,
                    layout="bubble",
                    sanitize_html=True,  # second line of defence; our HTML is escaped already
                    latex_delimiters=[],  # digest text such as "$$" must stay text
                    feedback_options=None,
                    buttons=[],  # "copy" would copy the message's HTML source
                    examples=[{"text": q} for q, _ in EXAMPLES],
                    placeholder="**Ask a question about the papers** · 针对论文摘要提问",
                )
                with gr.Row(equal_height=True, elem_id="da-input-row"):
                    box = gr.Textbox(
                        show_label=False,
                        placeholder="Ask in Chinese or English · 用中文或英文提问，回车发送",
                        scale=8,
                        autofocus=True,
                        max_lines=6,
                        elem_id="da-input",
                    )
                    send = gr.Button("Ask · 提问", variant="primary", scale=0, min_width=120)
                    stop = gr.Button("Stop · 停止", variant="stop", scale=0, min_width=110)
                    clear = gr.Button("New chat · 新对话", scale=0, min_width=170)
                with gr.Accordion("Settings · 设置", open=False), gr.Row():
                    top_k = gr.Slider(
                        1, 10, value=min(s.top_k, 10), step=1, label="Sources · 来源数量"
                    )
                    language = gr.Radio(
                        LANGUAGES,
                        value=s.answer_language.value,
                        label="Answer language · 回答语言",
                    )
                    use_llm = gr.Checkbox(
                        value=s.llm_active,
                        label=f"Use the LLM ({s.llm_model}) · 使用 LLM",
                        info="Off: answers quote the digests directly.",
                        visible=llm_configured,
                    )
            with gr.Tab("Papers · 论文"):
                gr.Markdown(
                    f"**{len(papers)} papers** indexed from **{len(files)} digest "
                    f"file{'s' if len(files) != 1 else ''}**: "
                    + ", ".join(f"`{f.rsplit('/', 1)[-1]}`" for f in files)
                )
                gr.Dataframe(
                    value=[
                        [
                            # A link (ids and URLs come from the parser, which accepts only
                            # arXiv links); titles stay plain text, as digests wrote them.
                            f"[{p.get('paper_id')}]({p.get('url')})",
                            p.get("title"),
                            p.get("title_zh"),
                            f"{str(p.get('source_file') or '').rsplit('/', 1)[-1]}:{p.get('line')}",
                        ]
                        for p in papers
                    ],
                    headers=["arXiv", "Title", "中文标题", "Digest file"],
                    datatype=["markdown", "str", "str", "str"],
                    interactive=False,
                    wrap=True,
                    show_search="search",
                    column_widths=["10%", "38%", "31%", "21%"],
                    max_height=640,
                    elem_id="da-papers",
                )

        # One wiring for every way a question is asked: Enter, the button, an example.
        ask_event: dict[str, Any] = {
            "fn": respond,
            "inputs": [box, store, top_k, language, use_llm],
            "outputs": [box, chatbot, store],
            "api_visibility": "private",
            "show_progress": "hidden",
            "concurrency_limit": None,
        }
        asking = [
            box.submit(**ask_event),
            send.click(**ask_event),
            chatbot.example_select(pick_example, None, box, api_visibility="private").then(
                **ask_event
            ),
        ]
        for event in asking:
            event.then(None, js=SHOW_ANSWER_TOP, api_visibility="private")
        for trigger in (box.submit, send.click, chatbot.example_select):
            trigger(None, js=SCROLL_TO_END, api_visibility="private")
        # Stop and New chat end an answer being written (a slow local LLM): before, New chat
        # was ignored mid-answer and the old chat was sent with the next question.
        stop.click(restore, store, [chatbot, box, store], cancels=asking, api_visibility="private")
        clear.click(new_chat, None, [chatbot, store, box], cancels=asking, api_visibility="private")
        # The chatbot's own trash icon must forget the stored chat too, or it would come back.
        chatbot.clear(new_chat, None, [chatbot, store, box], api_visibility="private")
        demo.load(
            restore, store, [chatbot, box, store], api_visibility="private", show_progress="hidden"
        )
        controls = [top_k, language, use_llm]
        demo.load(load_prefs, prefs, controls, api_visibility="private", show_progress="hidden")
        for changed in (top_k.change, language.change, use_llm.change):
            changed(save_prefs, controls, prefs, api_visibility="private")

        # Several API callers are answered at once (the Assistant is thread-safe); the queue
        # still bounds the total through Gradio's worker threads.
        gr.api(ask, api_name="ask", concurrency_limit=None)
        gr.api(search, api_name="search", concurrency_limit=None)
        gr.api(list_papers, api_name="papers", concurrency_limit=None)
    return demo


def _auth(assistant: Assistant) -> tuple[str, str] | None:
    raw = assistant.settings.ui_auth
    if raw is None:
        return None
    user, _, password = raw.get_secret_value().partition(":")  # checked by Settings
    return user, password


def _cannot_serve(host: str, port: int, exc: OSError) -> AssistantError:
    return AssistantError(
        f"cannot serve on {host}:{port} ({exc.strerror or 'port in use'}): another server"
        " may be running there; choose a port with --port N or ASSISTANT_PORT"
    )


def _check_port(host: str, port: int) -> None:
    """Bind the address and let it go, as the server will (uvicorn sets SO_REUSEADDR too)."""
    if not port:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except OSError as exc:
        raise _cannot_serve(host, port, exc) from None


def launch(
    assistant: Assistant,
    host: str | None = None,
    port: int | None = None,
    *,
    prevent_thread_lock: bool = False,
) -> gr.Blocks:
    """Index the seeds if needed, then serve the chat (127.0.0.1:7860 by default).

    With `prevent_thread_lock` it returns at once with the server running (tests); call
    `.close()` on the returned Blocks to stop it."""
    host = host or assistant.settings.host
    port = port or assistant.settings.port
    # A busy port was said only after the first indexing (45 s on the seeds): ask first.
    _check_port(host, port)
    assistant.ensure_indexed()
    auth = _auth(assistant)
    demo = build_ui(assistant)
    demo.queue(default_concurrency_limit=8)
    try:
        _, url, _ = demo.launch(
            server_name=host,
            server_port=port,
            auth=auth,
            auth_message="Digest assistant · 论文摘要问答" if auth else None,
            prevent_thread_lock=True,
            quiet=True,
            show_error=True,
            footer_links=["api"],
            theme=theme(),
            css=CSS,
            ssr_mode=False,  # the node SSR server is one more process and nothing we need
        )
    except OSError as exc:
        # Gradio's message points at GRADIO_SERVER_PORT; ours are --port and ASSISTANT_PORT.
        raise _cannot_serve(host, port, exc) from None
    n = assistant.index.count_papers()
    print(f"Digest assistant: {url}  ({n} papers){'  [login required]' if auth else ''}")
    if not n:
        print(f"warning: {assistant.empty_index_hint()} (questions get this error until then)")
    if not prevent_thread_lock:
        try:
            demo.block_thread()
        finally:
            demo.close()
    return demo
