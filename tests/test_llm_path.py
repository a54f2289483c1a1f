"""The LLM path against a real loopback HTTP server speaking the OpenAI protocol (no mocks):
what is sent, how streamed replies become checked answers, and every way the LLM can fail."""

from __future__ import annotations

import re
import shutil
import socket
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SEEDS
from openai_server import Reply, ScriptedOpenAIServer

from assistant import Assistant
from assistant.cite import find_markers
from assistant.llm import ONLY_REASONING, OPENAI_BASE_URL, ChatLLM
from assistant.prompt import build_answer_messages, count_tokens, message
from assistant.records import Answer, Turn
from assistant.settings import Settings

# A hung stream must fail its test, not stall the session (setup may build the seeds index).
pytestmark = pytest.mark.timeout(240)

UCFE = "2410.14059"
QUESTION_ZH = "UCFE 用户研究有多少名参与者？"
QUESTION_EN = "How many participants took part in the UCFE user study?"
KEY = "sk-test-SECRET123"
PROMPTS = REPO / "prompts"
SOURCE_TAG = re.compile(r'<source id="(\d+)" arxiv="([^"]+)" title="([^"]*)">')


@pytest.fixture(scope="module")
def llm_index(seeds_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One private copy of the seeds index for this module (answering only reads it)."""
    dest = tmp_path_factory.mktemp("llm") / "index"
    shutil.copytree(seeds_index_dir, dest, ignore=shutil.ignore_patterns(".lock"))
    return dest


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Fail any connection to anything but this machine (a hosted API, a model hub...)."""
    outside: list[Any] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if host not in ("127.0.0.1", "::1", "localhost"):
                outside.append(address)
                raise ConnectionRefusedError(f"test forbids connecting to {address}")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield outside
    assert outside == [], f"connections outside loopback: {outside}"


def llm_assistant(index_dir: Path, server: ScriptedOpenAIServer, **overrides: Any) -> Assistant:
    settings: dict[str, Any] = {
        "index_dir": index_dir,
        "seeds_dir": SEEDS,
        "llm_base_url": server.base_url,
        "llm_model": "scripted-model",
        "llm_timeout": 2,
        "llm_stream_timeout": 3,
        "llm_max_retries": 0,
        "llm_api_key": KEY,
    }
    return Assistant(**{**settings, **overrides})


def run(a: Assistant, question: str, history: Any = None) -> tuple[list[str], Answer]:
    """All streamed text pieces, and the final Answer (which must come last, once)."""
    items = list(a.stream(question, history))
    assert isinstance(items[-1], Answer)
    assert all(isinstance(x, str) for x in items[:-1])
    return [str(x) for x in items[:-1]], items[-1]


def answer_to(index_dir: Path, reply: str, question: str) -> Answer:
    """The final Answer to one question, the scripted model replying `reply`."""
    with (
        ScriptedOpenAIServer([Reply(text=reply)]) as server,
        llm_assistant(index_dir, server) as a,
    ):
        return run(a, question)[1]


def user_message(request: dict[str, Any]) -> str:
    return str(request["messages"][-1]["content"])


def n_sources(request: dict[str, Any]) -> int:
    return len(SOURCE_TAG.findall(user_message(request)))


def assert_no_secret(pieces: list[str], answer: Answer) -> None:
    everything = "\n".join([*pieces, answer.model_dump_json()])
    assert "SECRET123" not in everything


# --- the request and a streamed answer --------------------------------------------------------


@pytest.mark.parametrize(("question", "lang"), [(QUESTION_ZH, "zh"), (QUESTION_EN, "en")])
def test_request_carries_numbered_sources_and_the_system_prompt(
    llm_index: Path, question: str, lang: str
) -> None:
    reply = {
        "zh": "UCFE 的用户研究共有 804 名参与者 [1]。",
        "en": "The UCFE user study had 804 participants [1].",
    }[lang]
    with (
        ScriptedOpenAIServer([Reply(text=reply, chunk_size=3)]) as server,
        llm_assistant(llm_index, server) as a,
    ):
        pieces, answer = run(a, question)

    [request] = server.requests  # no history: no condense call, and no retries
    assert request["model"] == "scripted-model" and request["stream"] is True
    assert request["_headers"]["authorization"] == f"Bearer {KEY}"

    system, user = request["messages"]
    template = (PROMPTS / "answer_system.md").read_text(encoding="utf-8")
    instruction = message(PROMPTS, lang, "language_instruction")
    assert system["role"] == "system"
    assert system["content"] == template.replace("{language_instruction}", instruction)
    assert user["role"] == "user"
    assert unicodedata.normalize("NFKC", question) in user["content"]  # as cleaned

    tags = SOURCE_TAG.findall(user["content"])
    assert [(int(n), pid) for n, pid, _ in tags] == [
        (i + 1, s.paper_id) for i, s in enumerate(answer.sources)
    ]
    assert tags[0][1] == UCFE and tags[0][2] == answer.sources[0].title
    assert user["content"].count("</source>") == len(tags)
    first_block = user["content"].split("</source>")[0]
    assert "804 名参与者" in first_block  # the passage itself is inside its tag

    # Streamed in several pieces, as they arrived; the final answer is the checked text.
    assert len(pieces) >= 3 and "".join(pieces) == reply
    assert answer.mode == "llm" and not answer.refused and answer.language == lang
    assert answer.text == reply
    assert [(c.marker, c.paper_id) for c in answer.citations] == [(1, UCFE)]
    assert answer.citations[0].url == answer.sources[0].url
    assert answer.notices == []
    assert_no_secret(pieces, answer)


def test_out_of_range_marker_is_removed_with_a_notice(llm_index: Path) -> None:
    reply = (
        "WMA 网络智能体使用世界模型 [1]。WebRL 使用在线课程强化学习 [2]。"
        "另有一篇 [7]。合计 [1, 7]。"
    )
    with (
        ScriptedOpenAIServer([Reply(text=reply)]) as server,
        llm_assistant(llm_index, server, top_k=2) as a,
    ):
        _, answer = run(a, "哪些论文与网页智能体有关？")
    assert len(answer.sources) == 2 == n_sources(server.requests[0])
    assert "[7]" not in answer.text
    assert find_markers(answer.text) == [1, 2, 1]
    assert [c.marker for c in answer.citations] == [1, 2]
    assert [c.paper_id for c in answer.citations] == [s.paper_id for s in answer.sources]
    assert any("[7]" in n for n in answer.notices)
    assert answer.mode == "llm"


WEB_AGENTS = "哪些论文与网页智能体有关？"  # cites several papers


@pytest.mark.parametrize("budget", [256, 400, 3000])
def test_the_prompt_never_exceeds_its_budget(assistant: Assistant, budget: int) -> None:
    """Before, cutting passages gave up at 40 characters each: five sources at the minimum
    budget came to about 500 tokens."""
    sources = assistant.search(WEB_AGENTS, k=5)
    messages, sent = build_answer_messages(PROMPTS, WEB_AGENTS, sources, [], "zh", budget)
    assert sum(count_tokens(m["content"]) for m in messages) <= budget
    # The lowest-ranked go whole; the rest keep their numbers.
    assert sent == sources[: len(sent)] and len(sent) == {256: 0, 400: 2, 3000: 5}[budget]
    tags = SOURCE_TAG.findall(user_message({"messages": messages}))
    assert [(int(n), pid) for n, pid, _ in tags] == [(i, s.paper_id) for i, s in enumerate(sent, 1)]


def test_a_long_history_is_shortened_to_fit_not_dropped(assistant: Assistant) -> None:
    """From the LLM-path user test: after two answers of ~2,400 characters, the prompt held no
    conversation at all, not even the last question. Now long answers are cut to their start
    and older turns go first."""
    long_answer = "UCFE 的用户研究共有 804 名参与者。" + "这是一段很长的引用。" * 240
    # Room for the three sources (~1,250 tokens) and a part of the history (~3,300 tokens).
    budget = 2000
    history = [
        Turn(role="user", content="FrugalNeRF 用了哪些数据集？"),
        Turn(role="assistant", content=long_answer),
        Turn(role="user", content="UCFE 是什么？"),
        Turn(role="assistant", content=long_answer),
    ]
    sources = assistant.search("它的用户研究有多少人？", k=3)
    messages, sent = build_answer_messages(
        PROMPTS, "它的用户研究有多少人？", sources, history, "zh", budget
    )
    user = user_message({"messages": messages})
    assert sum(count_tokens(m["content"]) for m in messages) <= budget
    assert "UCFE 是什么？" in user and "804 名参与者" in user  # the last exchange, its start
    assert user.count("这是一段很长的引用。") < 240
    assert len(sent) == len(sources)  # no source gave way to the history


def test_a_question_over_the_budget_keeps_its_best_source(assistant: Assistant) -> None:
    question = "网页智能体" * 200  # ~400 tokens: no prompt fits 256, dropping the last won't help
    sources = assistant.search(WEB_AGENTS, k=5)
    _, sent = build_answer_messages(PROMPTS, question, sources, [], "zh", 256)
    assert sent == sources[:1]


def test_a_marker_of_a_source_the_budget_left_out_is_no_citation(llm_index: Path) -> None:
    # [4] twice: the notice names it once (it said "[4], [4]", the LLM-path user test).
    reply = "WMA 使用世界模型 [1]。另一篇研究网页智能体 [4]，另见 [4]。"
    with ScriptedOpenAIServer([Reply(text=reply)]) as server:
        with llm_assistant(llm_index, server) as a:
            _, full = run(a, WEB_AGENTS)
        with llm_assistant(llm_index, server, prompt_token_budget=400) as a:
            _, cut = run(a, WEB_AGENTS)
    assert n_sources(server.requests[0]) >= 4 and full.citations[1].marker == 4  # sent: kept
    assert n_sources(server.requests[1]) == len(cut.sources) == 2
    assert [c.marker for c in cut.citations] == [1] and "[4]" not in cut.text
    assert message(PROMPTS, "zh", "markers_removed", markers="[4]") in cut.notices


def test_with_no_room_for_a_source_the_llm_is_not_asked(llm_index: Path) -> None:
    with (
        ScriptedOpenAIServer() as server,
        llm_assistant(llm_index, server, prompt_token_budget=256) as a,
    ):
        _, answer = run(a, QUESTION_ZH)
    assert server.requests == []
    assert answer.mode == "extractive" and "804" in answer.text
    assert answer.notices == [message(PROMPTS, "zh", "llm_no_room", budget=256)]


@pytest.mark.parametrize(
    "reply",
    [
        "NOT_IN_DIGESTS",
        "NOT_IN_DIGESTS\n",
        # Before, each of these was shown as the answer, sentinel and all.
        "Sorry, the sources do not say. NOT_IN_DIGESTS",
        "**NOT_IN_DIGESTS**",
        "<think>No source fits [9].</think>\nNOT_IN_DIGESTS",
        # From the LLM-path user test: retyped by small models, shown as answers before.
        "NOT IN DIGESTS",
        "not_in_digests",
    ],
)
def test_llm_sentinel_anywhere_is_a_refusal_and_never_streamed(llm_index: Path, reply: str) -> None:
    with (
        ScriptedOpenAIServer([Reply(text=reply, chunk_size=3)]) as server,
        llm_assistant(llm_index, server) as a,
    ):
        pieces, answer = run(a, QUESTION_ZH)
    assert len(server.requests) == 1
    assert answer.refused and answer.mode == "llm"  # the model refused, not the gate
    assert answer.text == message(PROMPTS, "zh", "refusal")
    # Said as the model's verdict (the LLM-path user test read it as the digests').
    assert answer.notices == [message(PROMPTS, "zh", "llm_declined", model="scripted-model")]
    assert answer.citations == [] and 1 <= len(answer.sources) <= 3
    streamed = "".join(pieces)
    assert "IN_DIGESTS" not in streamed.upper().replace(" ", "_") and "<think>" not in streamed
    assert streamed.endswith(answer.text)


@pytest.mark.parametrize(
    ("reply", "refused"),
    [
        # Small models in the LLM-path user test: a refusal in words, shown as an answer.
        ("The provided digests do not mention how long UCFE's study took.", True),
        ("I cannot find this in the sources.", True),
        ("摘要中没有提到相关信息。", True),
        ("无法根据所给来源回答这个问题。", True),
        # The second LLM-path user test: seven more ways, shown as answers before.
        ("I don't have enough information to answer that based on the provided context.", True),
        ("This information is not available in the provided documents.", True),
        ("Unfortunately, the answer isn't covered by the sources provided.", True),
        ("未找到相关信息。", True),
        ("文中并未说明具体的骨干网络。", True),
        ("提供的资料不足以回答该问题。", True),
        ("对不起，我不知道。", True),
        # The third: "I'm not able to" was read as an uncited answer.
        ("I'm not able to answer that based on the digests.", True),
        ("UCFE had 804 users, not able to explain why.", False),
        # Cited, it is an answer with a gap; uncited without such words, an uncited answer.
        ("UCFE had 804 participants [1]; the digest does not say how long it took.", False),
        ("UCFE had 804 participants.", False),
    ],
)
def test_a_refusal_in_words_is_a_refusal(llm_index: Path, reply: str, refused: bool) -> None:
    with (
        ScriptedOpenAIServer([Reply(text=reply, chunk_size=4)]) as server,
        llm_assistant(llm_index, server) as a,
    ):
        pieces, answer = run(a, QUESTION_EN)
    assert answer.refused == refused
    if refused:
        assert answer.text == message(PROMPTS, "en", "refusal") and answer.citations == []
        assert 1 <= len(answer.sources) <= 3  # the closest papers, as for any refusal
        assert "".join(pieces).endswith("\n\n" + answer.text)
        declined = message(PROMPTS, "en", "llm_declined", model="scripted-model")
        assert answer.notices == [declined]
    else:
        assert answer.mode == "llm" and answer.text.startswith("UCFE had 804")


@pytest.mark.parametrize("chunk_size", [3, 1000])
def test_a_sentinel_after_a_cited_part_says_that_part_is_not_in_the_digests(
    llm_index: Path, chunk_size: int
) -> None:
    """Before, the sentinel was deleted from the answer ("…[1]，但 关于其余部分。") and the stream
    stopped where it began, so what was shown and the answer differed."""
    reply = "共有 804 名参与者 [1]，但 NOT_IN_DIGESTS 关于其余部分。"
    with (
        ScriptedOpenAIServer([Reply(text=reply, chunk_size=chunk_size)]) as server,
        llm_assistant(llm_index, server) as a,
    ):
        pieces, answer = run(a, QUESTION_ZH)
    instead = message(PROMPTS, "zh", "not_answered_inline")
    assert not answer.refused and answer.mode == "llm"
    assert answer.text == f"共有 804 名参与者 [1]，但 {instead} 关于其余部分。"
    assert "".join(pieces) == answer.text
    assert [c.paper_id for c in answer.citations] == [UCFE]


def test_reasoning_is_dropped_from_the_stream_and_the_answer(llm_index: Path) -> None:
    """Before, the <think> block stayed in the answer and its [9] was reported as removed."""
    reply = "<think>Source [1] is UCFE, maybe [9] too.</think>\n\n共有 804 名参与者 [1]。"
    with (
        ScriptedOpenAIServer([Reply(text=reply, chunk_size=3)]) as server,  # tags split
        llm_assistant(llm_index, server) as a,
    ):
        pieces, answer = run(a, QUESTION_ZH)
    assert "think" not in "".join(pieces) and "maybe" not in "".join(pieces)
    assert "".join(pieces).startswith("共有")  # no blank lines where the reasoning was
    assert answer.mode == "llm" and answer.text == "共有 804 名参与者 [1]。"
    assert [c.paper_id for c in answer.citations] == [UCFE] and answer.notices == []


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("", "empty reply"),
        ("   \n", "empty reply"),
        # A reasoning model that only thought was called "empty reply" (the LLM-path user test).
        ("<think>only thinking, cut at max_tokens", ONLY_REASONING),
        ("<think>the digest says 804</think>\n\n", ONLY_REASONING),
    ],
)
def test_an_empty_reply_falls_back_to_the_extractive_answer(
    llm_index: Path, reply: str, error: str
) -> None:
    """Before, an empty reply was a refusal: "none of the indexed papers answers this"."""
    answer = answer_to(llm_index, reply, QUESTION_ZH)
    assert answer.mode == "extractive" and not answer.refused and "804" in answer.text
    assert answer.notices == [message(PROMPTS, "zh", "llm_fallback", error=error)]


@pytest.mark.parametrize(
    ("reply", "markers"),
    [
        ("UCFE has 804 participants.", []),  # no marker: flagged, not passed off as grounded
        ("UCFE has 804 participants[^1].", [1]),
        ("UCFE has 804 participants [source 1].", [1]),
        ("UCFE has 804 participants 【1，2】.", [1, 2]),
        # Small models in the LLM-path user test: shown as text, the answer flagged uncited.
        ("UCFE has 804 participants (Source 1).", [1]),
        ("UCFE 有 804 名参与者（来源 1）。", [1]),
        ("Step (2) of UCFE had 804 participants.", []),  # a bare "(2)" numbers a step
        ("UCFE has 804 participants [[1]].", [1]),
        ("UCFE has 804 participants【1†source】.", [1]),  # GPT-4o's style
        ("UCFE 有 804 名参与者〔1〕。", [1]),
        ("UCFE has 804 participants [arXiv:2410.14059].", [1]),  # by the id its tag gives
    ],
)
def test_marker_styles_are_read_and_an_uncited_answer_is_flagged(
    llm_index: Path, reply: str, markers: list[int]
) -> None:
    answer = answer_to(llm_index, reply, QUESTION_EN)
    markers = [n for n in markers if n <= len(answer.sources)]  # [2] of one source: removed
    assert answer.mode == "llm" and [c.marker for c in answer.citations] == markers
    assert find_markers(answer.text) == markers
    uncited = message(PROMPTS, "en", "uncited")
    assert (uncited in answer.notices) == (not markers)


def test_a_citation_by_the_id_of_no_source_is_removed_and_reported(llm_index: Path) -> None:
    reply = "UCFE has 804 participants [1], as [arXiv:2401.00001] found."
    answer = answer_to(llm_index, reply, QUESTION_EN)
    assert answer.mode == "llm" and "2401.00001" not in answer.text
    assert find_markers(answer.text) == [1]
    removed = message(PROMPTS, "en", "markers_removed", markers="[arXiv:2401.00001]")
    assert removed in answer.notices


@pytest.mark.parametrize(
    ("reply", "missing"),
    [
        ("UCFE 的用户研究共有 804 名参与者 [1]。", []),
        ("The UCFE user study had 840 participants [1].", ["840"]),
        ("UCFE's 804 participants were compared against DreamBooth [1].", ["DreamBooth"]),
    ],
)
def test_numbers_and_names_the_cited_digest_lacks_are_flagged(
    llm_index: Path, reply: str, missing: list[str]
) -> None:
    answer = answer_to(llm_index, reply, QUESTION_EN)
    dumped = answer.model_dump(mode="json")  # what `assistant ask --json` prints
    assert answer.mode == "llm" and answer.citations[0].paper_id == UCFE
    assert [c.missing for c in answer.unsupported] == ([missing] if missing else [])
    assert dumped["unsupported"] == [c.model_dump() for c in answer.unsupported]
    notes = [n for n in answer.notices if n.startswith("Not found in the digests cited")]
    if missing:
        assert notes == [message(PROMPTS, "en", "unsupported", items=f"{missing[0]} [1]")]
    else:
        assert notes == []


def test_a_reply_cut_at_the_token_limit_says_so(llm_index: Path) -> None:
    with (
        ScriptedOpenAIServer(
            [Reply(text="UCFE 共有 804 名参 [1]", finish_reason="length")]
        ) as server,
        llm_assistant(llm_index, server) as a,
    ):
        _, answer = run(a, QUESTION_ZH)
    assert answer.mode == "llm" and answer.notices == [message(PROMPTS, "zh", "llm_truncated")]


# --- failures fall back to the extractive answer ----------------------------------------------

FAILURES = {
    "server-500": Reply(status=500),
    "bad-key-401": Reply(status=401),
    "rate-limited-429": Reply(status=429),
    "timeout": Reply(text="too late [1]", delay=6),
    "cut-stream": Reply(
        text="UCFE 的用户研究共有 804 名参与者，这是一个很长的回答 [1]。", cut_after=2
    ),
    "stalled-stream": Reply(text="UCFE 的用户研究共有 804 名参与者 [1]。", chunk_delay=4),
    "slow-drip": Reply(
        text="UCFE 的用户研究共有 804 名参与者 [1]。" * 3, chunk_size=2, chunk_delay=0.2
    ),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_llm_failure_falls_back_to_extractive_with_a_notice(llm_index: Path, failure: str) -> None:
    with (
        ScriptedOpenAIServer([FAILURES[failure]]) as server,
        llm_assistant(llm_index, server) as a,
    ):
        pieces, answer = run(a, QUESTION_ZH)
    assert len(server.requests) == 1  # llm_max_retries=0: one try, then the fallback
    assert answer.mode == "extractive" and not answer.refused
    lead = message(PROMPTS, "zh", "llm_fallback", error="").split("（")[0]
    assert [n for n in answer.notices if n.startswith(lead)], answer.notices
    assert answer.citations and answer.citations[0].paper_id == UCFE
    assert "804" in answer.text
    assert_no_secret(pieces, answer)
    # Joined, the pieces end with the fallback; an abandoned draft is set apart from it.
    streamed = "".join(pieces)
    assert streamed.endswith(answer.text)
    draft = streamed[: -len(answer.text)]
    assert draft == "" or draft.endswith("\n\n")


def test_a_slow_model_that_keeps_streaming_is_not_cut_at_llm_timeout(llm_index: Path) -> None:
    """From the LLM-path user test: a 7B model on CPU at 3 tokens/s was cut after
    llm_timeout (30 s, then for the whole call) and its answer replaced by quotes. Now
    llm_timeout bounds each wait and llm_stream_timeout the whole stream."""
    slow = Reply(text="UCFE 的用户研究共有 804 名参与者 [1]。" * 2, chunk_size=2, chunk_delay=0.1)
    with (
        ScriptedOpenAIServer([slow, slow]) as server,
        llm_assistant(llm_index, server, llm_timeout=1, llm_stream_timeout=30) as a,
    ):
        _, kept = run(a, QUESTION_ZH)  # ~2.4 s of tokens, none more than 0.1 s apart
        assert kept.mode == "llm" and not kept.notices and "804" in kept.text
        a.settings.llm_stream_timeout = 1
        _, cut = run(a, QUESTION_ZH)
    assert cut.mode == "extractive"
    assert any("ASSISTANT_LLM_STREAM_TIMEOUT" in n for n in cut.notices), cut.notices


def test_a_reply_cut_while_reasoning_says_so(llm_index: Path) -> None:
    """From the LLM-path user test: a reasoning model that used up the token limit thinking was
    reported as "empty reply"."""
    thinking = Reply(text="<think>Let me look at source 1 carefully", finish_reason="length")
    with (
        ScriptedOpenAIServer([thinking]) as server,
        llm_assistant(llm_index, server) as a,
    ):
        _, answer = run(a, QUESTION_EN)
    assert answer.mode == "extractive"
    assert any("ASSISTANT_LLM_MAX_TOKENS" in n for n in answer.notices), answer.notices


@pytest.mark.parametrize(
    ("reply", "setting"),
    [
        (Reply(status=401), "ASSISTANT_LLM_API_KEY"),
        (Reply(status=429), None),
        (Reply(status=500), None),
        (Reply(text="late", delay=3), "ASSISTANT_LLM_TIMEOUT"),  # llm_timeout is 2 s
        (Reply(text="804 participants [1].", chunk_delay=2.5), "ASSISTANT_LLM_TIMEOUT"),
    ],
)
def test_a_failing_server_and_the_setting_to_change_are_named_in_the_notice(
    llm_index: Path, reply: Reply, setting: str | None
) -> None:
    """The LLM-path user test: "timed out", "authentication failed (check the API key)" and
    "server error 500" named neither the server nor the setting."""
    with ScriptedOpenAIServer([reply]) as server, llm_assistant(llm_index, server) as a:
        _, answer = run(a, QUESTION_EN)
    assert answer.mode == "extractive" and "804" in answer.text
    [notice] = answer.notices
    assert server.base_url in notice, notice
    assert setting is None or setting in notice, notice
    assert KEY not in notice


def test_a_401_says_openai_api_key_is_not_sent_to_another_server(
    llm_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user with OPENAI_API_KEY exported got "check the API key" from a local server that
    wanted that key: it is withheld from any server but OpenAI's, which the notice now says."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with (
        ScriptedOpenAIServer([Reply(status=401)]) as server,
        llm_assistant(llm_index, server, llm_api_key=None) as a,
    ):
        _, answer = run(a, QUESTION_EN)
    [notice] = answer.notices
    assert "OPENAI_API_KEY" in notice and "ASSISTANT_LLM_API_KEY" in notice, notice
    assert server.requests[0]["_headers"]["authorization"] != f"Bearer {KEY}"


def test_a_wrong_model_name_is_named_in_the_notice(llm_index: Path) -> None:
    """Before: "The LLM is unavailable (server error 404)"."""
    missing = Reply(status=404, error='model "scripted-model" not found, try pulling it first')
    with (
        ScriptedOpenAIServer([missing]) as server,
        llm_assistant(llm_index, server) as a,
    ):
        _, answer = run(a, QUESTION_EN)
    [notice] = answer.notices
    assert "404" in notice and "'scripted-model'" in notice and "ASSISTANT_LLM_MODEL" in notice


def test_a_base_url_without_the_api_path_is_named_in_the_notice(llm_index: Path) -> None:
    """From the LLM-path user test: a base URL without /v1 got "404 page not found" from the
    server, and the notice told the user to set ASSISTANT_LLM_MODEL."""
    with (
        ScriptedOpenAIServer([Reply(status=404, error="404 page not found")]) as server,
        llm_assistant(llm_index, server) as a,
    ):
        _, answer = run(a, QUESTION_EN)
    [notice] = answer.notices
    assert "ASSISTANT_LLM_MODEL" not in notice
    assert server.base_url in notice and "/v1" in notice


def test_a_server_that_is_not_running_is_named_in_the_notice(llm_index: Path) -> None:
    with ScriptedOpenAIServer([Reply(text="unused")]) as server:
        url = server.base_url
    with llm_assistant(llm_index, server) as a:  # stopped: nothing listens there now
        _, answer = run(a, QUESTION_EN)
    assert answer.mode == "extractive"
    assert any(f"cannot connect to {url}" in n for n in answer.notices), answer.notices
    # What to check (it said only "cannot connect", the LLM-path user test).
    assert any("is the server running? ASSISTANT_LLM_BASE_URL" in n for n in answer.notices)


@pytest.mark.parametrize(
    ("reply", "suffix", "says"),
    [
        # Said what the server said, cut, and no setting (the LLM-path user test).
        (
            Reply(status=400, error="This model's maximum context length is 2048 tokens."),
            "",
            "lower ASSISTANT_PROMPT_TOKEN_BUDGET, now",
        ),
        # The route pasted on: "usually ends in /v1" of a URL that has /v1.
        (
            Reply(status=404, error="404 page not found"),
            "/chat/completions",
            "ASSISTANT_LLM_BASE_URL stops before /chat/completions, e.g. http://",
        ),
        # Events with no choices, then the end: it was "the stream broke off".
        (
            Reply(
                raw_body='data: {"id": "x", "object": "chat.completion.chunk", "created": 1, '
                '"model": "m", "choices": []}\n\ndata: [DONE]\n\n',
                raw_type="text/event-stream",
            ),
            "",
            "the stream ended without an answer (no choices in its events)",
        ),
    ],
)
def test_what_went_wrong_with_the_server_names_what_to_change(
    llm_index: Path, reply: Reply, suffix: str, says: str
) -> None:
    with (
        ScriptedOpenAIServer([reply] * 3) as server,
        llm_assistant(llm_index, server, llm_base_url=server.base_url + suffix) as a,
    ):
        _, answer = run(a, QUESTION_EN)
    assert answer.mode == "extractive" and "804" in answer.text
    assert any(says in n for n in answer.notices), answer.notices


def test_a_page_that_is_no_chat_completion_is_named_in_the_notice(llm_index: Path) -> None:
    """A login page answering the stream with HTTP 200 was told as "the stream broke off
    before the answer was complete", which sent users looking at their network."""
    page = Reply(raw_body="<html><body>Please log in</body></html>")
    with ScriptedOpenAIServer([page]) as server, llm_assistant(llm_index, server) as a:
        _, answer = run(a, QUESTION_ZH)
    assert answer.mode == "extractive" and "804" in answer.text
    (notice,) = answer.notices
    assert "text/html" in notice and "ASSISTANT_LLM_BASE_URL" in notice, notice


def test_retry_then_success_uses_the_llm(llm_index: Path) -> None:
    script = [Reply(status=500), Reply(text="共有 804 名参与者 [1]。")]
    with (
        ScriptedOpenAIServer(script) as server,
        llm_assistant(llm_index, server, llm_max_retries=1) as a,
    ):
        _, answer = run(a, QUESTION_ZH)
    assert len(server.requests) == 2
    assert answer.mode == "llm" and answer.text == "共有 804 名参与者 [1]。"
    assert answer.notices == []


# --- follow-ups: the condense call -----------------------------------------------------------

HISTORY: list[Any] = [
    {"role": "user", "content": "UCFE 基准是什么？"},
    {"role": "assistant", "content": "UCFE 是一个金融专业知识基准 [1]。", "paper_ids": [UCFE]},
]
CONDENSED = "UCFE 基准的用户研究用了多少名参与者？"


def scripted(condense: Reply, answer: Reply) -> Callable[[dict[str, Any]], Reply]:
    """The condense call is the non-streaming one; the answer is streamed."""
    return lambda body: answer if body.get("stream") else condense


def test_follow_up_is_condensed_by_the_llm_and_used_for_retrieval(llm_index: Path) -> None:
    script = scripted(Reply(text=f'"{CONDENSED}"'), Reply(text="共有 804 名参与者 [1]。"))
    with ScriptedOpenAIServer(script) as server, llm_assistant(llm_index, server) as a:
        _, answer = run(a, "它用了多少名参与者？", HISTORY)

    condense, answer_request = server.requests
    assert not condense.get("stream")
    prompt = user_message(condense)
    assert "UCFE 基准是什么？" in prompt and "它用了多少名参与者?" in prompt
    assert answer.retrieval_query == CONDENSED  # quotes stripped, used as the search query
    assert answer.sources[0].paper_id == UCFE
    assert SOURCE_TAG.findall(user_message(answer_request))[0][1] == UCFE
    assert "UCFE 基准是什么？" in user_message(answer_request)  # history is in the prompt too
    assert answer.mode == "llm" and [c.paper_id for c in answer.citations] == [UCFE]


def test_failed_condense_falls_back_to_the_history_heuristic(llm_index: Path) -> None:
    script = scripted(Reply(status=500), Reply(text="共有 804 名参与者 [1]。"))
    with ScriptedOpenAIServer(script) as server, llm_assistant(llm_index, server) as a:
        _, answer = run(a, "它用了多少名参与者？", HISTORY)
    assert len(server.requests) == 2
    assert answer.retrieval_query and "UCFE" in answer.retrieval_query
    assert answer.sources[0].paper_id == UCFE
    assert answer.mode == "llm"


@pytest.mark.parametrize(
    "rewrite",
    [
        "UCFE 有 804 名参与者 [1]。",  # an answer with a marker
        "UCFE 是金融基准。\n它的用户研究有 804 名参与者。",  # several lines
        "NOT_IN_DIGESTS",
        # From the LLM-path user test: small models return the follow-up unchanged, or put
        # another paper in it; searched, either cited unrelated papers (7 of 8 follow-ups).
        "它用了多少名参与者？",
        "NaturalBench 用了多少名参与者？",
    ],
)
def test_a_rewrite_that_reads_as_an_answer_is_not_searched(llm_index: Path, rewrite: str) -> None:
    """Before, a chatty model's answer to the rewrite prompt became the search query, and the
    follow-up was refused; the history heuristic resolves it instead. So it does a rewrite
    that names no paper the chat is about."""
    script = scripted(Reply(text=rewrite), Reply(text="共有 804 名参与者 [1]。"))
    with ScriptedOpenAIServer(script) as server, llm_assistant(llm_index, server) as a:
        _, answer = run(a, "它用了多少名参与者？", HISTORY)
    assert answer.retrieval_query and answer.retrieval_query != rewrite.strip()
    assert "UCFE" in answer.retrieval_query and "[1]" not in answer.retrieval_query
    assert answer.sources[0].paper_id == UCFE and answer.mode == "llm" and not answer.refused


UNREACHABLE = {
    # Before, a login page answering with HTTP 200 raised AttributeError or JSONDecodeError
    # out of ask() on every follow-up (the condense call).
    "html-page": Reply(raw_body="<html><body>Please log in</body></html>"),
    "html-as-json": Reply(raw_body="<html>Please log in</html>", raw_type="application/json"),
    # Before, a hung server cost a timeout for the condense call and another for the answer.
    "hung": Reply(text="too late", delay=6),
}


@pytest.mark.parametrize("failure", list(UNREACHABLE))
def test_an_unreachable_llm_is_asked_once_on_a_follow_up(llm_index: Path, failure: str) -> None:
    with (
        ScriptedOpenAIServer([UNREACHABLE[failure]]) as server,
        llm_assistant(llm_index, server) as a,
    ):
        _, answer = run(a, "它用了多少名参与者？", HISTORY)
    assert len(server.requests) == 1  # the failed condense call; the LLM is not asked again
    assert answer.mode == "extractive" and "804" in answer.text
    lead = message(PROMPTS, "zh", "llm_fallback", error="").split("（")[0]
    assert len(answer.notices) == 1 and answer.notices[0].startswith(lead)


def test_the_history_in_the_prompt_carries_no_old_markers(llm_index: Path) -> None:
    """The prompt numbers its sources afresh: an old "[1]" copied from the history would cite
    whichever paper is [1] now."""
    script = scripted(Reply(text=CONDENSED), Reply(text="共有 804 名参与者 [1]。"))
    with ScriptedOpenAIServer(script) as server, llm_assistant(llm_index, server) as a:
        run(a, "它用了多少名参与者？", HISTORY)
    for request in server.requests:
        prompt = user_message(request)
        assert "UCFE 是一个金融专业知识基准" in prompt and "金融专业知识基准 [1]" not in prompt


def test_no_llm_configured_sends_nothing(llm_index: Path) -> None:
    with ScriptedOpenAIServer() as server:
        with Assistant(index_dir=llm_index, seeds_dir=SEEDS) as a:  # no URL, no key
            assert a.llm is None
            answer = a.ask(QUESTION_ZH)
        assert answer.mode == "extractive"
        assert server.requests == []


def test_a_greeting_is_not_sent_to_the_llm(llm_index: Path) -> None:
    with ScriptedOpenAIServer() as server, llm_assistant(llm_index, server) as a:
        _, answer = run(a, "hi")
    assert server.requests == []  # no tokens spent on "hi", and no papers quoted for it
    assert answer.refused and answer.sources == []
    assert answer.text == message(PROMPTS, "en", "vague")


def test_a_bare_follow_up_is_condensed_by_the_llm(llm_index: Path) -> None:
    script = scripted(Reply(text=f'"{CONDENSED}"'), Reply(text="共有 804 名参与者 [1]。"))
    with ScriptedOpenAIServer(script) as server, llm_assistant(llm_index, server) as a:
        _, answer = run(a, "多少人？", HISTORY)
    assert len(server.requests) == 2  # condense, then the answer
    assert answer.retrieval_query == CONDENSED
    assert not answer.refused and [c.paper_id for c in answer.citations] == [UCFE]


@pytest.mark.parametrize(
    ("question", "paper_ids"),
    [("What papers do you have?", None), ("When was WebRL published?", ["2411.02337"])],
)
def test_what_the_index_answers_is_not_sent_to_the_llm(
    llm_index: Path, question: str, paper_ids: list[str] | None
) -> None:
    """The list of papers and a paper's month come from the index: an LLM would only be able
    to get them wrong (a list cut short, a date guessed), and would spend tokens on it."""
    with ScriptedOpenAIServer() as server, llm_assistant(llm_index, server) as a:
        _, answer = run(a, question)
        every = [p["paper_id"] for p in a.papers()]
    assert server.requests == []
    assert answer.mode == "index" and not answer.refused
    assert [c.paper_id for c in answer.citations] == (paper_ids or every)


def test_a_shells_openai_key_is_not_sent_to_another_server(
    llm_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the LLM-path user test: OPENAI_API_KEY, exported for other tools, went to the local
    server of ASSISTANT_LLM_BASE_URL. It is OpenAI's key: only an explicit llm_api_key goes
    elsewhere."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-REAL")
    with (
        ScriptedOpenAIServer([Reply(text="共有 804 名参与者 [1]。")]) as server,
        llm_assistant(llm_index, server, llm_api_key=None) as a,
    ):
        _, answer = run(a, QUESTION_ZH)
    assert answer.mode == "llm"
    assert "sk-openai-REAL" not in server.requests[0]["_headers"]["authorization"]
    assert Settings(llm_base_url="https://api.openai.com/v1").api_key() == "sk-openai-REAL"
    assert Settings().api_key() == "sk-openai-REAL"
    assert Settings(llm_base_url="http://127.0.0.1:11434/v1").api_key() is None


def test_openai_base_url_from_the_shell_never_gets_the_openai_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From the LLM-path user test: with OPENAI_API_KEY and OPENAI_BASE_URL exported (for other
    tools) and no ASSISTANT_LLM_BASE_URL, the openai package sent the key to the server
    OPENAI_BASE_URL named. Only ASSISTANT_LLM_BASE_URL chooses another server."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-REAL")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    llm = ChatLLM(Settings())
    assert str(llm.client.base_url).rstrip("/") == OPENAI_BASE_URL
    assert llm.client.api_key == "sk-openai-REAL"


def test_a_server_asking_to_wait_longer_than_the_timeout_is_not_waited_for(
    llm_index: Path,
) -> None:
    """From the LLM-path user test: a 429 with Retry-After: 120 held the answer for two
    minutes (the openai package waits out up to 120 s), though a hung server is given up on
    after about a minute. A short Retry-After is still waited out and retried."""
    ok = Reply(text="UCFE 的用户研究共有 804 名参与者 [1]。")
    for wait, tries, mode in ((100, 1, "extractive"), (0.2, 2, "llm")):
        with (
            ScriptedOpenAIServer([Reply(status=429, retry_after=wait), ok]) as server,
            llm_assistant(llm_index, server, llm_max_retries=1) as a,
        ):
            started = time.monotonic()
            _, answer = run(a, QUESTION_ZH)
            took = time.monotonic() - started
        assert (len(server.requests), answer.mode) == (tries, mode)
        assert took < 30, took  # not the 100 s asked for


def test_an_error_inside_the_stream_is_named_in_the_notice(llm_index: Path) -> None:
    """From the LLM-path user test: llama.cpp's "KV cache is full", sent as an error event
    mid-stream, reached the user as "(APIError)"."""
    reply = Reply(
        text="UCFE 的用户研究共有 804 名参与者 [1]。", cut_after=2, error_event="KV cache is full"
    )
    with ScriptedOpenAIServer([reply]) as server, llm_assistant(llm_index, server) as a:
        _, answer = run(a, QUESTION_ZH)
    assert answer.mode == "extractive" and "804" in answer.text
    assert any("KV cache is full" in n for n in answer.notices), answer.notices


def test_a_server_that_does_not_stream_is_still_read(llm_index: Path) -> None:
    """From the LLM-path user test: a server that answers a streaming request with the whole
    JSON completion was told "the reply is not a chat completion (application/json); check
    ASSISTANT_LLM_BASE_URL", though its base URL and reply were fine."""
    whole = Reply(text="UCFE 的用户研究共有 804 名参与者 [1]。", ignore_stream=True)
    with ScriptedOpenAIServer([whole, whole]) as server, llm_assistant(llm_index, server) as a:
        _, answer = run(a, QUESTION_ZH)
    assert answer.mode == "llm" and answer.notices == [], answer.notices
    assert "804" in answer.text and answer.citations[0].paper_id == UCFE
    assert [bool(r.get("stream")) for r in server.requests] == [True, False]


def test_the_rewrite_request_is_fitted_to_the_budget_too(llm_index: Path) -> None:
    """From the LLM-path user test: the follow-up's rewrite request carried the last turns
    whole (13,707 characters) while the answer prompt beside it was cut to its budget: more
    than a small local model's context."""
    long_answer = "UCFE 是一个金融专业知识基准 [1]。" + "这是一段很长的引用。" * 400
    history = [
        {"role": "user", "content": "FrugalNeRF 用了哪些数据集？"},
        {"role": "assistant", "content": long_answer, "paper_ids": ["2410.16271"]},
        {"role": "user", "content": "UCFE 基准是什么？"},
        {"role": "assistant", "content": long_answer, "paper_ids": [UCFE]},
    ]
    script = scripted(Reply(text=f'"{CONDENSED}"'), Reply(text="共有 804 名参与者 [1]。"))
    budget = 1500
    with (
        ScriptedOpenAIServer(script) as server,
        llm_assistant(llm_index, server, prompt_token_budget=budget) as a,
    ):
        _, answer = run(a, "它用了多少名参与者？", history)
    rewrite = [r for r in server.requests if not r.get("stream")]
    assert len(rewrite) == 1 and answer.mode == "llm"
    prompt = user_message(rewrite[0])
    assert count_tokens(prompt) <= budget
    assert "UCFE 基准是什么？" in prompt and "金融专业知识基准" in prompt  # the last exchange


def test_an_answer_in_another_language_than_asked_is_flagged(llm_index: Path) -> None:
    """From the LLM-path user test: an English reply to "UCFE 用户研究有多少名参与者?" (the
    prompt said "Answer in Chinese") passed without a word."""
    for question, reply, lang in (
        (QUESTION_ZH, "The UCFE user study had 804 participants [1].", "zh"),
        (QUESTION_EN, "UCFE 的用户研究共有 804 名参与者 [1]。", "en"),
    ):
        answer = answer_to(llm_index, reply, question)
        assert answer.mode == "llm" and "804" in answer.text
        assert message(PROMPTS, lang, "other_language") in answer.notices, answer.notices
    same = answer_to(llm_index, "UCFE 的用户研究共有 804 名参与者 [1]。", QUESTION_ZH)
    assert same.notices == []


def test_https_to_a_plain_http_server_says_which_it_may_be(llm_index: Path) -> None:
    """From the LLM-path user test: an https:// base URL for a local server that speaks http
    said only "cannot connect"."""
    with ScriptedOpenAIServer([Reply(text="共有 804 名参与者 [1]。")]) as server:
        https = server.base_url.replace("http://", "https://")
        with llm_assistant(llm_index, server, llm_base_url=https) as a:
            _, answer = run(a, QUESTION_EN)
    assert answer.mode == "extractive"
    assert any("does it speak https, or http://?" in n for n in answer.notices), answer.notices
