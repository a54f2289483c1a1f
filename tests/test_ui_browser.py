"""End to end in headless Chromium: the chat streams, links its markers, keeps each answer's
sources through follow-ups and a reload, loads nothing from the internet, and never runs code
that a digest smuggles in. The LLM is the scripted OpenAI-compatible server on loopback."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import write_digest
from openai_server import Reply, ScriptedOpenAIServer

from assistant import Assistant
from assistant.ui import EXAMPLES, launch

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARXIV = "https://arxiv.org/abs/"

UCFE, ANDROIDLAB, SAM2LONG = "2410.14059", "2410.24024", "2410.16268"
Q_ZH = "UCFE 的用户研究有多少名参与者？"
Q_EN = "How many tasks does the AndroidLab benchmark contain?"
Q_FOLLOW = "How many apps does it cover?"
Q_FALLBACK = "SAM2Long 在一对一比较中平均提高了多少分？"  # the scripted LLM fails on this one
Q_SLOW = "DimensionX 能从单张图像生成什么？"  # the scripted LLM answers this one slowly
Q_STUCK = "PyramidDrop 把训练加速了多少？"  # and this one only after 15 s of silence

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _marker(prompt: str, paper_id: str) -> int | None:
    """The number the prompt gave the paper, so the scripted reply cites the right source."""
    m = re.search(rf'<source id="(\d+)" arxiv="{re.escape(paper_id)}"', prompt)
    return int(m.group(1)) if m else None


def script(body: dict[str, Any]) -> Reply:
    """A stand-in LLM: answers about UCFE and AndroidLab, rewrites the follow-up, fails on
    SAM2Long (HTTP 500) so the extractive fallback and its notice show."""
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    if not body.get("stream"):  # the follow-up is condensed with a plain completion
        assert "AndroidLab" in prompt, "the follow-up was condensed without the history"
        return Reply(text="How many apps does the AndroidLab benchmark cover?")
    question = prompt.rsplit("Question:", 1)[-1]
    if "SAM2Long" in question:
        return Reply(status=500)
    if "PyramidDrop" in question:  # a local model loading: 15 s before its first token
        return Reply(text="PyramidDrop 把训练加速了 40%。", delay=15)
    if "DimensionX" in question:  # a slow local model: ~12 s for the whole answer
        return Reply(
            text="DimensionX 从单张图像生成 3D 和 4D 场景。" * 2, chunk_size=1, chunk_delay=0.25
        )
    if "UCFE" in question:
        paper, text = (
            UCFE,
            "UCFE 的用户研究共有 804 名参与者 [{n}]，并评测了 12 个 LLM 服务 [{n}]。",
        )
    elif "apps" in question:
        # "on 20 devices" is invented: the digest gives no such number.
        paper, text = ANDROIDLAB, "The AndroidLab benchmark covers nine apps on 20 devices [{n}]."
    else:
        paper, text = ANDROIDLAB, "The AndroidLab benchmark contains 138 tasks [{n}] in nine apps."
    n = _marker(prompt, paper)
    if n is None:
        return Reply(text="NOT_IN_DIGESTS")
    # Small chunks, spaced out, so the page can be seen growing.
    return Reply(text=text.format(n=n), chunk_size=3, chunk_delay=0.08)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def llm_ui(index_copy: Path) -> Iterator[tuple[str, ScriptedOpenAIServer]]:
    with ScriptedOpenAIServer(script) as llm:
        a = Assistant(
            index_dir=index_copy,
            llm_base_url=llm.base_url,
            llm_model="scripted-model",
            llm_max_retries=0,
            llm_timeout=20,
        )
        port = free_port()
        demo = launch(a, "127.0.0.1", port, prevent_thread_lock=True)
        try:
            yield f"http://127.0.0.1:{port}/", llm
        finally:
            demo.close()
            a.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def answers(page: Any) -> Any:
    return page.locator(".da-answer:not(.da-streaming)")


def ask(page: Any, question: str) -> list[int]:
    """Type a question, press Enter; return the lengths of the streaming text as observed
    until the final answer replaced it."""
    before = answers(page).count()
    page.fill("#da-input textarea", question)
    page.keyboard.press("Enter")
    seen: list[int] = []
    for _ in range(3000):  # bounded by the observation count, not by time
        if answers(page).count() > before:
            break
        length = page.evaluate(
            "() => { const s = document.querySelector('.da-streaming .da-text, .da-streaming');"
            " return s ? s.innerText.replace(/Searching the digests.*$/s, '').length : -1; }"
        )
        if length > 0 and (not seen or seen[-1] != length):
            seen.append(length)
        page.wait_for_timeout(25)
    try:
        answers(page).nth(before).wait_for()
    except sync_api.Error:
        chat = page.locator("#da-chat").inner_text()[-600:]
        box = page.locator("#da-input textarea").input_value()[:200]
        raise AssertionError(
            f"no answer to {question[:80]!r}; box: {box!r}; chat: {chat!r}"
        ) from None
    return seen


def open_chat(page: Any, url: str | None = None) -> None:
    """Open (or, with no url, reload) the chat and let its load events (the stored chat, the
    saved settings) answer first, as they do long before a person has typed a question: a
    question sent the instant the box appeared lost its answer once in a CI run (not
    reproduced here in repeated runs, loaded or not). The network going quiet marks it; up to
    5 s, since a reload has once kept a stream open for longer."""
    if url is None:
        page.reload()
    else:
        page.goto(url)
    page.wait_for_selector("#da-input textarea")
    with contextlib.suppress(sync_api.TimeoutError):
        page.wait_for_load_state("networkidle", timeout=5000)


def cite_hrefs(message: Any) -> list[str]:
    return [a.get_attribute("href") for a in message.locator("a.da-cite").all()]


def card_papers(message: Any) -> list[str]:
    return [
        (a.get_attribute("href") or "").removeprefix(ARXIV)
        for a in message.locator(".da-card a.da-title").all()
    ]


def test_chat_streams_links_follows_up_and_survives_a_reload(
    browser: Any, llm_ui: tuple[str, ScriptedOpenAIServer]
) -> None:
    url, llm = llm_ui
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_chat(page, url)
    assert "34 papers" in page.inner_text("#da-header")
    shot(page, "01-empty")

    # A Chinese question: the answer streams in, then its marker links to the paper.
    grew = ask(page, Q_ZH)
    assert len(grew) >= 3 and grew == sorted(grew), grew  # several growing observations
    first = answers(page).nth(0)
    assert "804" in first.inner_text()
    assert cite_hrefs(first) and set(cite_hrefs(first)) == {ARXIV + UCFE}
    assert card_papers(first) == [UCFE]
    card = first.locator(".da-card").first
    assert "UCFE: A User-Centric Financial Expertise Benchmark" in card.inner_text()
    assert "一个面向大语言模型的用户中心化金融专业知识基准" in card.inner_text()
    card.locator("summary").click()  # the passage used unfolds
    assert "804 名参与者" in card.locator(".da-full").inner_text()
    shot(page, "02-chinese-answer")

    # An English question, then a follow-up that only makes sense with the history.
    grew = ask(page, Q_EN)
    assert len(grew) >= 3, grew
    second = answers(page).nth(1)
    assert set(cite_hrefs(second)) == {ARXIV + ANDROIDLAB}
    assert card_papers(second) == [ANDROIDLAB]
    ask(page, Q_FOLLOW)
    third = answers(page).nth(2)
    assert "nine apps" in third.inner_text()
    assert set(cite_hrefs(third)) == {ARXIV + ANDROIDLAB}
    # The invented number is named above the answer; the rest of it passed the check.
    [flag] = third.locator(".da-notice").all_inner_texts()
    assert "Not found in the digests cited" in flag and "20 [" in flag and "nine" not in flag
    condense = [r for r in llm.requests if not r.get("stream")]
    assert len(condense) == 1 and Q_EN in str(condense[0]["messages"])

    # The LLM fails: the extractive answer comes with a plain notice, not a traceback.
    ask(page, Q_FALLBACK)
    fourth = answers(page).nth(3)
    assert "LLM" in fourth.locator(".da-notice").inner_text()
    assert "Traceback" not in fourth.inner_text()
    assert set(cite_hrefs(fourth)) == {ARXIV + SAM2LONG}
    shot(page, "03-four-answers")

    # Reload: every answer comes back with its own sources.
    open_chat(page)
    page.wait_for_selector(".da-answer")
    assert answers(page).count() == 4
    expected = [UCFE, ANDROIDLAB, ANDROIDLAB, SAM2LONG]
    for i, paper in enumerate(expected):
        msg = answers(page).nth(i)
        assert set(cite_hrefs(msg)) == {ARXIV + paper}, i
        assert card_papers(msg) == [paper], i
    assert "20 [" in answers(page).nth(2).locator(".da-notice").inner_text()
    assert "804" in answers(page).nth(0).inner_text()
    assert answers(page).nth(3).locator(".da-notice").count() == 1
    shot(page, "04-after-reload")

    # Settings: one source, English answers, LLM off -> an extractive English answer.
    page.get_by_text("Settings · 设置").click()
    page.get_by_label("English").check()
    page.get_by_label("Use the LLM (scripted-model) · 使用 LLM").uncheck()
    streams_before = len([r for r in llm.requests if r.get("stream")])
    ask(page, "哪些论文涉及 3D 场景的重建或生成？")
    fifth = answers(page).nth(4)
    assert "Papers in the digests on this" in fifth.inner_text()
    assert len([r for r in llm.requests if r.get("stream")]) == streams_before

    # New chat forgets the conversation, also after a reload.
    page.get_by_role("button", name="New chat · 新对话").click()
    page.wait_for_function("document.querySelectorAll('.da-answer').length === 0")
    open_chat(page)
    assert answers(page).count() == 0
    # The settings chosen survive it (before, a reload turned the LLM back on).
    page.get_by_text("Settings · 设置").click()
    sync_api.expect(page.get_by_label("English")).to_be_checked()
    sync_api.expect(
        page.get_by_label("Use the LLM (scripted-model) · 使用 LLM")
    ).not_to_be_checked()

    # The empty chat offers example questions; clicking one asks it.
    page.locator("#da-chat").get_by_text(EXAMPLES[0][0]).click()
    answers(page).first.wait_for()
    assert set(cite_hrefs(answers(page).first)) == {ARXIV + EXAMPLES[0][1]}

    # The corpus view: counts and a searchable table.
    page.get_by_role("tab", name="Papers · 论文").click()
    table = page.locator("#da-papers")
    assert "34 papers" in page.inner_text("body") and "2 digest files" in page.inner_text("body")
    assert "SAM2Long" in table.inner_text() and "通过无训练记忆树增强" in table.inner_text()
    # Each arXiv id links to its paper (before: plain text).
    links = table.locator(f"a[href='{ARXIV}2410.16268']")
    links.first.wait_for()
    assert links.first.inner_text() == "2410.16268"
    shot(page, "05-papers")

    assert not errors, errors
    assert hosts == {urlsplit(url).netloc}, hosts  # nothing from the internet
    context.close()


EVIL_BODY = (
    "本文提出 Zorblax 安全基准，用于评估大语言模型抵御提示注入的能力，共包含 4321 个测试用例。"
    "<script>window.__pwned=1</script> 详见 [点击这里](javascript:window.__pwned=2) 与 "
    '<a href="javascript:window.__pwned=3">链接</a>，'
    '以及 <img src=x onerror="window.__pwned=4"> 和 <svg onload="window.__pwned=5"></svg>。'
)


@pytest.fixture
def evil_ui(index_copy: Path, tmp_path: Path) -> Iterator[str]:
    digests = tmp_path / "digests"
    digests.mkdir()
    write_digest(
        digests / "evil.txt",
        [("2501.00001", 'Zorblax <img src=x onerror="window.__pwned=6"> Safety Bench', EVIL_BODY)],
    )
    a = Assistant(index_dir=index_copy, llm_enabled=False)
    assert a.ingest([digests]).added == ["2501.00001"]
    port = free_port()
    demo = launch(a, "127.0.0.1", port, prevent_thread_lock=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
        a.close()
        shutil.rmtree(digests, ignore_errors=True)


def test_digest_html_and_javascript_links_never_run(browser: Any, evil_ui: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_chat(page, evil_ui)
    ask(page, "Zorblax 安全基准包含多少个测试用例？")
    ask(page, 'What is <img src=x onerror="window.__pwned=7"> Zorblax?')
    msg = answers(page).nth(0)
    assert set(cite_hrefs(msg)) == {ARXIV + "2501.00001"}
    for summary in page.locator(".da-passage summary").all():
        summary.click()  # unfold every passage so its text is live in the page
    body = page.inner_text("body")
    assert "<script>window.__pwned=1</script>" in body  # shown as text, not run
    page.get_by_role("tab", name="Papers · 论文").click()
    page.wait_for_timeout(500)
    page.get_by_role("tab", name="Chat · 问答").click()
    page.reload()  # and once more from the stored chat
    page.wait_for_selector(".da-answer")
    shot(page, "06-escaped-digest")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("a[href^='javascript' i]").count() == 0
    assert page.locator(".da-answer script, .da-answer img, .da-answer svg").count() == 0
    assert not dialogs
    page.close()


def test_a_long_paste_shows_only_what_was_read(browser: Any, evil_ui: str) -> None:
    """Before, a 5,000-character paste filled a bubble 1,872 px tall, though only its first
    2,000 characters were read (the answer's notice says so)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    open_chat(page, evil_ui)
    ask(page, "Zorblax 安全基准包含多少个测试用例？" + " 请详细说明" * 1000)
    bubble = page.locator(".message.user, [data-testid='user']").last.inner_text()
    assert 2000 <= len(bubble.strip()) <= 2010, len(bubble)
    assert "2000" in answers(page).nth(0).inner_text()  # the notice: cut to 2000 characters
    page.close()


def test_on_a_phone_the_input_has_a_row_of_its_own_above_the_fold(
    browser: Any, evil_ui: str
) -> None:
    """Before, at 390 px the input took a third of its row (134 px wide), under a header of
    five lines."""
    page = browser.new_page(viewport={"width": 390, "height": 844})
    open_chat(page, evil_ui)
    box = page.locator("#da-input textarea").bounding_box()
    assert box is not None and box["width"] >= 280 and box["y"] + box["height"] <= 844, box
    shot(page, "07-phone")
    page.close()


def test_on_a_phone_the_papers_table_shows_each_arxiv_id_on_one_line(
    browser: Any, evil_ui: str
) -> None:
    """From the UI user test: at 390 px the id wrapped a digit or two per line ("24 / 10 / .1 /
    40 / 59") and the digest file name took a quarter of the width."""
    page = browser.new_page(viewport={"width": 390, "height": 844})
    open_chat(page, evil_ui)
    page.get_by_role("tab", name="Papers · 论文").click()
    # The first row, as shown: Gradio also renders the table hidden, to measure its columns.
    link = page.locator("#da-papers a:visible", has_text="2410.14059").first
    link.wait_for()
    box = link.bounding_box()
    line = float(link.evaluate("a => parseFloat(getComputedStyle(a).lineHeight) || 24"))
    assert box is not None and box["height"] < 1.5 * line, (box, line)
    assert not page.get_by_text("000_2feac997ffb58d5c.txt:1", exact=True).first.is_visible()
    shot(page, "08-phone-papers")
    page.close()


# The last answer's top and the frame of the chat box that scrolls it (for the return below).
LAST_ANSWER_IN_ITS_BOX = """() => {
      const all = document.querySelectorAll('#da-chat .da-answer');
      const el = all[all.length - 1];
      let box = el.parentElement;
      while (box && !(box.scrollHeight > box.clientHeight
                      && /(auto|scroll)/.test(getComputedStyle(box).overflowY))) {
        box = box.parentElement;
      }
      const top = el.getBoundingClientRect().top;
      const frame = box ? box.getBoundingClientRect() : null;"""


def test_a_long_answer_is_left_showing_its_top(browser: Any, evil_ui: str) -> None:
    """From the UI user test: after "Which papers study GUI or web agents?" the chat showed
    only the source cards; the four quoted sentences were scrolled above, out of view."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    open_chat(page, evil_ui)
    ask(page, "Which papers study GUI or web agents?")
    top_in_view = (
        LAST_ANSWER_IN_ITS_BOX
        + """
      return box !== null && box.scrollTop > 0 && top >= frame.top; }"""
    )
    page.wait_for_function(top_in_view, timeout=10_000)  # Gradio scrolls to the end first
    page.wait_for_timeout(1000)
    assert page.evaluate(top_in_view)  # and leaves it there
    shot(page, "09-long-answer-top")
    # The next answer comes into view too. Before, Gradio followed the chat only while it
    # was scrolled to its end, which showing the long answer's top was not: every later
    # answer was written out of view (the chat UI user test).
    in_view = (
        LAST_ANSWER_IN_ITS_BOX
        + """
      return top >= frame.top && top < frame.bottom - 40; }"""
    )
    for question in ("What papers do you have?", "Zorblax 安全基准包含多少个测试用例？"):
        ask(page, question)
        page.wait_for_timeout(1000)
        assert page.evaluate(in_view), question
    shot(page, "09b-next-answer-in-view")
    page.close()


def streaming(page: Any) -> None:
    """Wait until the answer being written shows some text."""
    page.wait_for_function(
        "() => { const s = document.querySelector('.da-streaming');"
        " return s && s.innerText.replace(/Searching the digests.*$/s, '').trim().length > 0; }"
    )


def test_a_slow_answer_can_be_stopped_reloaded_or_dropped_by_new_chat(
    browser: Any, llm_ui: tuple[str, ScriptedOpenAIServer]
) -> None:
    """From the LLM-path user test: a reload mid-answer lost the question, New chat was ignored
    mid-answer (and the old chat was sent with the next question), and nothing stopped a slow
    answer."""
    url, llm = llm_ui
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    open_chat(page, url)
    ask(page, Q_ZH)
    box = page.locator("#da-input textarea")

    # Reload while the slow answer streams: the question is back in the box, the chat as before.
    box.fill(Q_SLOW)
    page.keyboard.press("Enter")
    streaming(page)
    page.reload()
    page.wait_for_selector(".da-answer")
    page.wait_for_function(f"document.querySelector('#da-input textarea').value === {Q_SLOW!r}")
    assert answers(page).count() == 1 and page.locator(".da-streaming").count() == 0

    # Stop: the answer ends where it is, the question goes back to the box, nothing is stored.
    page.keyboard.press("Enter") if box.focus() is None else None
    streaming(page)
    page.get_by_role("button", name="Stop · 停止").click()
    page.wait_for_function("document.querySelectorAll('.da-streaming').length === 0")
    assert box.input_value() == Q_SLOW
    assert answers(page).count() == 1
    page.wait_for_timeout(1500)  # the stopped answer never comes
    assert answers(page).count() == 1 and page.locator(".da-streaming").count() == 0

    # New chat mid-answer clears the chat, and the next question is asked without it.
    page.keyboard.press("Enter") if box.focus() is None else None
    streaming(page)
    page.get_by_role("button", name="New chat · 新对话").click()
    page.wait_for_function("document.querySelectorAll('.da-answer').length === 0")
    page.wait_for_timeout(1000)  # New chat's reply (an empty box) has landed
    ask(page, Q_EN)
    last = [r for r in llm.requests if r.get("stream")][-1]
    assert Q_ZH not in str(last["messages"]) and Q_SLOW not in str(last["messages"])
    page.reload()
    page.wait_for_selector(".da-answer")
    assert answers(page).count() == 1
    context.close()


def test_a_question_sent_with_enter_right_after_stop_is_asked(
    browser: Any, llm_ui: tuple[str, ScriptedOpenAIServer]
) -> None:
    """From the LLM-path user test: Stop while a slow model had sent nothing yet, then Enter
    1.5 s later: the question stayed in the box for 42 s, unanswered. Stop ended the event only
    when the answer next moved, and until then the Enter key's event was still pending."""
    url, _ = llm_ui
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    open_chat(page, url)
    page.fill("#da-input textarea", Q_STUCK)
    page.keyboard.press("Enter")
    page.wait_for_selector(".da-streaming")
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Stop · 停止").click()
    page.wait_for_function("document.querySelectorAll('.da-streaming').length === 0")
    page.wait_for_timeout(1500)
    page.fill("#da-input textarea", Q_EN)
    page.keyboard.press("Enter")
    # Well inside the 15 s the stopped question's model stays silent.
    answers(page).first.wait_for(timeout=8000)
    assert "138" in answers(page).first.inner_text()
    assert page.locator("#da-input textarea").input_value() == ""
    context.close()
