"""The chat UI's server and API: a real Gradio server on 127.0.0.1 (ephemeral port) over the
seeds index, called through gradio_client; plus the HTML rendering that the browser shows."""

from __future__ import annotations

import json
import re
import socket
import threading
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from assistant import Assistant
from assistant.assistant import AssistantError
from assistant.ui import (
    EXAMPLES,
    launch,
    public_path,
    render_answer,
    render_chat,
    render_pending,
    render_text,
)

pytestmark = pytest.mark.slow

UCFE = "2410.14059"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(assistant: Assistant) -> Iterator[str]:
    """The UI over the shared extractive seeds assistant; yields its URL."""
    port = free_port()
    demo = launch(assistant, "127.0.0.1", port, prevent_thread_lock=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def client(server: str) -> Client:
    return Client(server, verbose=False)


def cited(answer: dict[str, Any]) -> list[str]:
    return [c["paper_id"] for c in answer["citations"]]


# --- API ----------------------------------------------------------------------------------


def test_api_shows_no_absolute_paths_of_the_server(client: Client) -> None:
    """From the README user test: /ask, /search and /papers gave every client the server's
    absolute digest paths ("/home/…/seeds/000_….txt")."""
    papers = client.predict(api_name="/papers")
    found = client.predict("UCFE 用户研究", 3, api_name="/search")
    ans = client.predict("UCFE 的用户研究有多少名参与者？", None, api_name="/ask")
    files = [x["source_file"] for x in [*papers, *found, *ans["sources"]]]
    assert files and all(f.startswith("seeds/") and f.endswith(".txt") for f in files), files
    assert public_path("/srv/elsewhere/digests/d.md") == "d.md"


def test_api_lists_exactly_the_documented_endpoints(client: Client) -> None:
    info = client.view_api(return_format="dict", print_info=False)
    assert isinstance(info, dict)
    # The chat's internal events are private: clients see only the stable names.
    assert set(info["named_endpoints"]) == {"/ask", "/search", "/papers"}
    assert not info["unnamed_endpoints"]
    params = [p["parameter_name"] for p in info["named_endpoints"]["/ask"]["parameters"]]
    assert params == ["question", "history", "top_k", "language"]


def test_ask_returns_a_cited_answer(client: Client) -> None:
    ans = client.predict("UCFE 的用户研究有多少名参与者？", None, api_name="/ask")
    assert not ans["refused"]
    assert cited(ans) == [UCFE]
    assert "804" in ans["text"]
    for c in ans["citations"]:  # sources[n-1] is the paper of marker [n]
        assert f"[{c['marker']}]" in ans["text"]
        assert ans["sources"][c["marker"] - 1]["paper_id"] == c["paper_id"]
        assert c["url"] == f"https://arxiv.org/abs/{c['paper_id']}"


def test_ask_refuses_and_lists_the_closest_papers(client: Client) -> None:
    ans = client.predict(
        "What is the boiling point of ethanol in the CRC handbook?", None, api_name="/ask"
    )
    assert ans["refused"]
    assert not ans["citations"]
    assert ans["sources"]  # the closest papers, for the user to judge


def test_ask_uses_the_history(client: Client) -> None:
    first = client.predict(
        "How many tasks does the AndroidLab benchmark contain?", None, api_name="/ask"
    )
    assert cited(first) == ["2410.24024"]
    history = [
        {"role": "user", "content": "How many tasks does the AndroidLab benchmark contain?"},
        {"role": "assistant", "content": first["text"], "paper_ids": cited(first)},
    ]
    follow = client.predict("How many apps does it cover?", json.dumps(history), api_name="/ask")
    assert not follow["refused"]
    assert cited(follow) == ["2410.24024"]
    # Without the conversation the same words don't say which paper "it" is.
    alone = client.predict("How many apps does it cover?", None, api_name="/ask")
    assert "2410.24024" not in cited(alone)


def test_ask_per_call_settings(client: Client) -> None:
    q = "哪些论文涉及 3D 场景的重建或生成？"
    full = client.predict(q, None, api_name="/ask")
    assert len(full["citations"]) >= 2
    one = client.predict(q, None, 1, api_name="/ask")
    assert len(one["sources"]) == 1 and len(one["citations"]) == 1
    english = client.predict(q, None, None, "en", api_name="/ask")
    assert english["language"] == "en" and full["language"] == "zh"
    assert english["text"] != full["text"]


def test_ask_bad_input_is_one_clear_line(client: Client) -> None:
    with pytest.raises(AppError, match="the question is empty"):
        client.predict("   ", None, api_name="/ask")
    with pytest.raises(AppError, match="history is not valid JSON"):
        client.predict("UCFE?", "{oops", api_name="/ask")
    with pytest.raises(AppError, match="history must be a JSON list"):
        client.predict("UCFE?", '{"role": "user"}', api_name="/ask")
    with pytest.raises(AppError, match="answer_language"):
        client.predict("UCFE?", None, None, "fr", api_name="/ask")


def test_search_and_papers(client: Client) -> None:
    hits = client.predict("SAM2Long J&F 提升", 3, api_name="/search")
    assert 1 <= len(hits) <= 3
    assert hits[0]["paper_id"] == "2410.16268"
    assert {"paper_id", "title", "title_zh", "url", "text", "score"} <= set(hits[0])
    papers = client.predict(api_name="/papers")
    assert len(papers) == 34
    assert {p["source_file"].rsplit("/", 1)[-1] for p in papers} == {
        "000_2feac997ffb58d5c.txt",
        "001_113484fae2d8bc9d.txt",
    }


# One question per paper, Chinese and English mixed, each with the paper it must cite.
CONCURRENT = [
    ("How many participants took part in the UCFE user study?", "2410.14059"),
    ("WMA 网络智能体在哪些基准上做了实验?", "2410.13232"),
    ("How many vision-language models were evaluated on NaturalBench?", "2410.14669"),
    ("MagicTailor 用哪两个技术分别应对语义污染和语义失衡?", "2410.13370"),
    ("Which datasets were used to evaluate FrugalNeRF?", "2410.16271"),
    ("SAM2Long 在一对一比较中平均提高了多少分?一共比较了多少组?", "2410.16268"),
    ("How many tasks does the AndroidLab benchmark contain?", "2410.24024"),
    ("BitNet a4.8 只激活多少比例的参数?支持几位的 KV 缓存?", "2411.04965"),
]


def test_eight_concurrent_clients_all_get_their_own_answer(server: str) -> None:
    results: dict[int, dict[str, Any]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(CONCURRENT))

    def worker(i: int, question: str) -> None:
        try:
            c = Client(server, verbose=False)  # one client (and session) per user
            start.wait(timeout=60)
            results[i] = c.predict(question, None, api_name="/ask")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i, q)) for i, (q, _) in enumerate(CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert sorted(results) == list(range(len(CONCURRENT)))  # none lost
    for i, (question, paper) in enumerate(CONCURRENT):
        ans = results[i]
        assert not ans["refused"], question
        assert paper in cited(ans), (question, cited(ans))
        assert ans["question"] == unicodedata.normalize("NFKC", question)  # no crossed replies


def test_every_example_question_gets_a_cited_answer(assistant: Assistant) -> None:
    langs = set()
    for question, paper in EXAMPLES:
        ans = assistant.ask(question)
        assert not ans.refused, question
        assert paper in [c.paper_id for c in ans.citations], (question, ans.citations)
        langs.add(ans.language)
    assert langs == {"zh", "en"}


# --- login ------------------------------------------------------------------------------------


def test_login_required_when_ui_auth_is_set(index_copy: Path) -> None:
    port = free_port()
    a = Assistant(index_dir=index_copy, llm_enabled=False, ui_auth="alice:s3cret pw")
    demo = launch(a, "127.0.0.1", port, prevent_thread_lock=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        assert httpx.get(url + "config").status_code == 401
        with pytest.raises(Exception, match=r"(?i)login|auth|credentials|401"):
            Client(url, verbose=False)
        with pytest.raises(Exception, match=r"(?i)login|auth|credentials|401|incorrect"):
            Client(url, auth=("alice", "wrong"), verbose=False)
        c = Client(url, auth=("alice", "s3cret pw"), verbose=False)
        ans = c.predict("UCFE 的用户研究有多少名参与者？", None, api_name="/ask")
        assert cited(ans) == [UCFE]
    finally:
        demo.close()
        a.close()


def test_ui_auth_must_be_user_colon_password(
    index_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Said when the settings are read, naming the variable, never echoing its value (it
    may be a password): it was "ui_auth must …" only once the server started."""
    with pytest.raises(AssistantError, match="ui_auth: must look like user:password"):
        Assistant(index_dir=index_copy, llm_enabled=False, ui_auth="no-colon")
    monkeypatch.setenv("ASSISTANT_UI_AUTH", "s3cret-only")
    with pytest.raises(AssistantError, match="ASSISTANT_UI_AUTH: must look like") as err:
        Assistant(index_dir=index_copy, llm_enabled=False)
    assert "s3cret" not in str(err.value)


# --- rendering --------------------------------------------------------------------------------


def _answer(text: str, **extra: Any) -> dict[str, Any]:
    src = {
        "paper_id": "2410.14059",
        "title": "UCFE <b>bold</b>",
        "title_zh": "UCFE 基准",
        "url": "https://arxiv.org/abs/2410.14059",
        "text": "本文介绍了 UCFE。首先，我们进行了一项涉及 804 名参与者的用户研究。",
        "score": 0.034,
    }
    base = {
        "text": text,
        "citations": [{"marker": 1, "paper_id": "2410.14059", "title": "UCFE", "url": src["url"]}],
        "sources": [src, {**src, "paper_id": "2410.16268", "url": "javascript:alert(1)"}],
        "refused": False,
        "mode": "extractive",
        "language": "zh",
        "notices": [],
    }
    return {**base, **extra}


def test_markers_of_citations_become_links_and_nothing_else_does() -> None:
    out = render_answer(_answer("共有 804 名参与者 [1]。另见 [2] 和 [7]。"))
    links = re.findall(r'<a class="da-cite" href="([^"]+)"', out)
    assert links == ["https://arxiv.org/abs/2410.14059"]  # [2] is not a citation, [7] no source
    assert "[2]" in out and "[7]" in out
    assert out.count('class="da-card"') == 1  # cards of the cited papers only
    assert "UCFE &lt;b&gt;bold&lt;/b&gt;" in out and "<b>" not in out


def test_digest_text_is_escaped_and_bad_urls_never_become_links() -> None:
    evil = "<script>window.__pwned=1</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>"
    ans = _answer(f"{evil} [1]", citations=[], refused=True)
    ans["sources"][0]["text"] = evil
    out = render_answer(ans)
    assert "<script" not in out and "<img" not in out
    assert all(h.startswith("https://") for h in re.findall(r'href="([^"]*)"', out))
    assert "&lt;script&gt;" in out
    assert "\n" not in out  # one HTML block: Gradio's markdown never sees the digest text


def test_quoted_sentences_are_highlighted_in_the_passage() -> None:
    out = render_answer(
        _answer("根据摘要：\n\n首先，我们进行了一项涉及 804 名参与者的用户研究。 [1]")
    )
    assert "<mark>首先，我们进行了一项涉及 804 名参与者的用户研究。</mark>" in out


def test_lists_bold_and_paragraphs() -> None:
    out = render_text(
        "摘要中相关的论文：\n- **SpectroMotion** [1]：句子。\n- **FrugalNeRF** [2]\n\n结尾"
    )
    assert out.startswith("<p>摘要中相关的论文：</p><ul><li><strong>SpectroMotion</strong>")
    assert out.count("<li>") == 2 and out.endswith("<p>结尾</p>")


def test_an_llms_markdown_is_rendered_and_still_escaped() -> None:
    """The LLM-path user test: a heading, *italic*, a fenced code block and a table were shown
    as raw Markdown."""
    out = render_text(
        "## Answer\n\n- *Point two*: 统一框架 [1]\n\n```python\nprint('<b>')\n```\n\n"
        "| model | score |\n|---|---|\n| PUMA | 2*3*4 [1] |",
        {1: ("https://arxiv.org/abs/2410.13861", "PUMA")},
    )
    assert out.startswith("<p><strong>Answer</strong></p><ul><li><em>Point two</em>: ")
    assert "<pre><code>print(&#x27;&lt;b&gt;&#x27;)</code></pre>" in out
    assert "<table><thead><tr><th>model</th><th>score</th></tr></thead>" in out
    assert '<td>2*3*4 <a class="da-cite"' in out  # stars not hugging a word stay
    assert "\n" not in out and "```" not in out and "|---" not in out


def test_a_web_link_in_a_quoted_sentence_is_a_link() -> None:
    """From the UI user test: "https://github.com/Mark12Ding/SAM2Long" in a quote was plain text;
    only the arXiv citations were links."""
    out = render_text(
        '代码已在 https://github.com/Mark12Ding/SAM2Long 发布。 [1] 见 "https://x.org/a?b=1&c=2".',
        {1: ("https://arxiv.org/abs/2410.16268", "SAM2Long")},
    )
    assert (
        '<a class="da-url" href="https://github.com/Mark12Ding/SAM2Long" target="_blank" '
        'rel="noopener noreferrer">https://github.com/Mark12Ding/SAM2Long</a> 发布。' in out
    )
    assert 'href="https://x.org/a?b=1&amp;c=2"' in out and "c=2</a>&quot;." in out
    assert 'href="https://arxiv.org/abs/2410.16268"' in out  # the citation still links
    # Only http(s) becomes a link.
    assert "<a" not in render_text("javascript:alert(1) and ftp://x.org/y")


def test_a_list_read_from_the_index_gets_compact_cards_without_scores() -> None:
    retrieved = render_answer(_answer("- UCFE [1]"))
    listed = render_answer(_answer("- UCFE [1]", mode="index"))
    assert "score 0.034" in retrieved and "score" not in listed
    assert '<span class="da-preview"></span>' in listed  # passage folded away
    assert "from the index" not in retrieved and "来自索引记录" in listed


def test_refusal_and_notice_rendering() -> None:
    out = render_answer(
        _answer(
            "摘要中没有能回答这个问题的内容。", citations=[], refused=True, notices=["LLM 不可用"]
        )
    )
    assert "da-refused" in out and "最接近的论文" in out and "LLM 不可用" in out
    assert out.count('class="da-card"') == 2


def test_an_llm_answer_citing_nothing_shows_the_sources_it_was_given() -> None:
    """Its notice says "check it against the sources retrieved"; before, none were shown."""
    out = render_answer(
        _answer(
            "UCFE 有 804 名参与者。", citations=[], mode="llm", notices=["请对照检索到的来源核实"]
        )
    )
    assert "提供给 LLM 的来源" in out and out.count('class="da-card"') == 2
    assert 'class="da-cite"' not in out and "da-refused" not in out


def test_the_wait_names_the_llm_it_waits_for() -> None:
    """From the LLM-path user test: "Searching the digests" stood for a minute while a hung
    local server was waited on."""
    assert "asking qwen2.5:7b-instruct" in render_pending("", "qwen2.5:7b-instruct")
    assert "asking" not in render_pending("") and "Searching the digests" in render_pending("")
    assert "&lt;b&gt;" in render_pending("", "<b>")  # a model name is escaped
    assert "asking" not in render_pending("已有文字", "m")  # text shown: no label


def test_stored_chat_renders_each_answer_with_its_own_sources() -> None:
    a1 = _answer("UCFE [1]")
    a2 = _answer(
        "SAM2Long [1]",
        citations=[
            {
                "marker": 1,
                "paper_id": "2410.16268",
                "title": "S",
                "url": "https://arxiv.org/abs/2410.16268",
            }
        ],
        sources=[
            {
                **a1["sources"][0],
                "paper_id": "2410.16268",
                "url": "https://arxiv.org/abs/2410.16268",
            }
        ],
    )
    turns = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "UCFE [1]", "answer": a1},
        {"role": "user", "content": "<b>q2</b>"},
        {"role": "assistant", "content": "SAM2Long [1]", "answer": a2},
        {"role": "system", "content": "ignored"},
        "garbage",
    ]
    msgs = render_chat(turns)  # type: ignore[arg-type]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert "2410.14059" in msgs[1]["content"] and "2410.16268" not in msgs[1]["content"]
    assert "2410.16268" in msgs[3]["content"] and "2410.14059" not in msgs[3]["content"]
    assert "&lt;b&gt;q2&lt;/b&gt;" in msgs[2]["content"]


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        str(Path(__file__).resolve()),  # a file inside the project, outside any served folder
        "../../../../etc/passwd",
    ],
)
def test_no_endpoint_serves_arbitrary_files(server: str, path: str) -> None:
    # Gradio serves files only from its cache and explicitly allowed folders; none are allowed.
    for route in ("gradio_api/file=", "file="):
        resp = httpx.get(server + route + path, timeout=10)
        assert b"root:x:0:0" not in resp.content, (route, resp.status_code)
        assert b"def test_no_endpoint" not in resp.content, (route, resp.status_code)
        assert resp.status_code in (400, 403, 404), (route, path, resp.status_code)
