"""Questions the index answers rather than the digests' text: which papers it holds, when a
paper was posted; and who wrote a paper, which no digest says."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, write_digest

from assistant import Assistant
from assistant.collection import (
    CATALOG_LIMIT,
    FEW,
    CatalogIntent,
    asks_for_catalog,
    catalog_answer,
    newest_first,
    plainly_catalog,
    posted_month,
)
from assistant.prompt import message
from assistant.records import Source
from assistant.text import asked_paper_facts, asks_for_date

PROMPTS = REPO / "prompts"


# --- which papers the index holds -------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "lang"),
    [("What papers do you have?", "en"), ("一共有多少篇论文?", "zh")],
)
def test_the_collection_question_lists_every_indexed_paper_once(
    assistant: Assistant, question: str, lang: str
) -> None:
    papers = {p["paper_id"]: p for p in assistant.papers()}
    ans = assistant.ask(question)
    assert not ans.refused and ans.mode == "index" and ans.language == lang
    cited = [c.paper_id for c in ans.citations]
    assert sorted(cited) == sorted(papers)  # every paper, none twice
    assert [c.marker for c in ans.citations] == list(range(1, len(papers) + 1))
    lead = message(PROMPTS, lang, "catalog_lead", n=len(papers), s="s")
    assert ans.text.splitlines()[0] == lead
    for c in ans.citations:  # each line names its paper, in the question's language
        p = papers[c.paper_id]
        title = p["title_zh"] or p["title"] if lang == "zh" else p["title"]
        assert f"- {title} [{c.marker}]" in ans.text


def test_the_list_follows_the_digests_order(assistant: Assistant) -> None:
    ans = assistant.ask("List all the papers.")
    assert [c.paper_id for c in ans.citations] == [p["paper_id"] for p in assistant.papers()]


def test_a_topic_question_is_not_answered_with_the_list(assistant: Assistant) -> None:
    for question in (
        "List the papers about video generation.",
        "有哪些论文研究 GUI 智能体?",
        # Before, the whole list: "any paper" with the topic said before "for that".
        "I only have a little labeled data but lots of unlabeled data. Any paper for that?",
    ):
        ans = assistant.ask(question)
        assert ans.mode == "extractive" and 0 < len(ans.citations) < 10, question


@pytest.mark.parametrize(
    "question",
    ["Python 里怎么把一个列表倒过来？", "How do I reverse a list in Python?", "Excel 怎么做目录"],
)
def test_a_list_or_a_table_of_contents_of_something_else_is_not_the_collection(
    assistant: Assistant, question: str
) -> None:
    """列表 (a list) and 目录 (contents) name the collection only when nothing else is asked: the
    first question got all 34 titles."""
    ans = assistant.ask(question)
    assert ans.mode != "index" and ans.refused, question


def test_mid_chat_the_collection_question_is_not_a_follow_up(assistant: Assistant) -> None:
    history = [
        {"role": "user", "content": "What is PUMA?"},
        {"role": "assistant", "content": "PUMA … [1]", "paper_ids": ["2410.13861"]},
    ]
    ans = assistant.ask("which papers do you have?", history=history)
    assert ans.mode == "index" and len(ans.citations) == 34


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("List all the papers.", True),
        ("有哪些论文?", True),
        ("论文列表", True),
        ("show me every paper", True),
        ("你這裡有哪些論文？", True),  # Traditional characters
        ("有哪些關於擴散模型的論文", False),
        ("Which papers study GUI agents?", False),  # a topic
        ("列出所有关于扩散模型的论文", False),
        ("Which papers were published in 2023?", False),  # a number narrows it
        ("What papers cite OpenCoder?", False),  # a name narrows it
        ("what should I cook tonight?", False),  # nothing about papers
    ],
)
def test_the_word_rule(question: str, expected: bool) -> None:
    assert asks_for_catalog(question) is expected  # no model given: the word rule alone


def test_the_fitted_model_recognises_what_the_word_rule_cannot(assistant: Assistant) -> None:
    intent = CatalogIntent.load()
    assert intent is not None and intent.model == assistant.index.embed.model_name
    embed = assistant.index.embed

    def vec(text: str):  # type: ignore[no-untyped-def]
        return embed.embed_queries([text])[0]

    chatty = "hi! first time here, what can I ask you about? which papers do you have"
    assert not plainly_catalog(chatty)
    assert asks_for_catalog(chatty, intent, vec)
    for topic in ("What papers do you have on climate change?", "all papers by Meta"):
        assert not asks_for_catalog(topic, intent, vec), topic


def source(pid: str) -> Source:
    return Source(paper_id=pid, title=f"T{pid}", title_zh=f"中{pid}", url="", text="", score=1)


def test_past_the_limit_the_newest_papers_are_listed_and_the_total_said() -> None:
    ids = [f"24{m:02d}.{n:05d}" for m in (1, 12, 3) for n in range(30)]
    order = newest_first(ids)
    assert order[0] == "2412.00029" and order[-1] == "2401.00000"
    text, shown = catalog_answer([source(p) for p in order], len(ids), "en", PROMPTS)
    assert len(shown) == CATALOG_LIMIT
    assert text.splitlines()[0] == message(
        PROMPTS, "en", "catalog_lead_some", n=len(ids), shown=CATALOG_LIMIT
    )
    assert f"- T{order[CATALOG_LIMIT - 1]} [{CATALOG_LIMIT}]" in text
    assert f"T{order[CATALOG_LIMIT]}" not in text


def test_one_paper_is_not_papers() -> None:
    text, _ = catalog_answer([source("2410.00001")], 1, "en", PROMPTS)
    assert text.splitlines()[0] == "The digests cover 1 paper:"


# --- when a paper was posted ------------------------------------------------------------------


def test_when_a_paper_was_published_comes_from_its_arxiv_id(assistant: Assistant) -> None:
    ans = assistant.ask("When was WebRL published?")
    assert ans.mode == "index" and not ans.refused
    assert [c.paper_id for c in ans.citations] == ["2411.02337"]
    assert "November 2024" in ans.text and "2411.02337" in ans.text
    zh = assistant.ask("PUMA 哪一年发布的?")
    assert [c.paper_id for c in zh.citations] == ["2410.13861"]
    assert "2024 年 10 月" in zh.text


def test_each_named_paper_gets_its_month(assistant: Assistant) -> None:
    ans = assistant.ask("When were PUMA and OpenCoder released?")
    assert [c.paper_id for c in ans.citations] == ["2410.13861", "2411.04905"]
    assert "October 2024" in ans.text and "November 2024" in ans.text


def test_other_questions_about_time_are_answered_from_the_digest(assistant: Assistant) -> None:
    ans = assistant.ask("How long did LOGO take to train?")
    assert ans.mode == "extractive" and "16 小时" in ans.text
    assert not asks_for_date("When does SAM2Long fail?")
    assert not asks_for_date("SAM2Long 什么时候会分割失败?")


@pytest.mark.parametrize(
    ("paper_id", "expected"),
    [
        ("2411.02337", (2024, 11)),
        ("0704.0001", (2007, 4)),
        ("cs/0501001", (2005, 1)),  # old-style ids: archive/YYMMNNN, 1991 to 2007
        ("hep-th/9901001", (1999, 1)),
        ("math.AG/0601001", (2006, 1)),
        ("hep-ph/9108001", (1991, 8)),
        ("2413.00001", None),
        ("hep-th/9913001", None),
    ],
)
def test_posted_month(paper_id: str, expected: tuple[int, int] | None) -> None:
    assert posted_month(paper_id) == expected


def test_old_style_ids_sort_by_their_month_before_every_new_style_id() -> None:
    ids = ["math.AG/0601001", "2410.12345", "2413.00001", "hep-th/9901001", "0704.0001"]
    ids += ["cs/0703999", "2411.00999"]
    assert newest_first(ids) == [
        "2411.00999",
        "2410.12345",
        "0704.0001",
        "cs/0703999",
        "math.AG/0601001",
        "hep-th/9901001",
        "2413.00001",  # no month: after the rest
    ]


OLD_STYLE = [
    ("hep-th/9901001", "Dualities in String Theory", "本文讨论了弦论中的 T 对偶和 S 对偶。"),
    ("math.AG/0601001", "Algebraic Geometry Notes", "这是一份关于概形理论的讲义，包含 12 个练习。"),
    ("2410.12345", "TinyRAG: RAG on Microcontrollers", "TinyRAG 在微控制器上运行检索增强生成。"),
]


@pytest.fixture(scope="module")
def old_style_digests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """digests/ with two old-style ids and a new one, indexed on first use into index/."""
    folder = tmp_path_factory.mktemp("old-style")
    (folder / "digests").mkdir()
    write_digest(folder / "digests" / "old.md", OLD_STYLE)
    return folder


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which is the oldest paper?", ["hep-th/9901001"]),
        ("最早的论文是哪篇？", ["hep-th/9901001"]),
        ("What are the two newest papers?", ["2410.12345", "math.AG/0601001"]),
        ("Which papers were published in 1999?", ["hep-th/9901001"]),
        ("2006年1月有哪些论文？", ["math.AG/0601001"]),
    ],
)
def test_old_style_ids_have_their_month(
    old_style_digests: Path, question: str, expected: list[str]
) -> None:
    """hep-th/9901001 had no month: the oldest paper was said to be one from 2024, and
    "in 1999" found nothing."""
    index, seeds = old_style_digests / "index", old_style_digests / "digests"
    with Assistant(index_dir=index, seeds_dir=seeds, llm_enabled=False) as a:
        ans = a.ask(question)
    assert ans.mode == "index" and [c.paper_id for c in ans.citations] == expected


@pytest.mark.parametrize(
    ("question", "mode", "paper", "said"),
    [
        ("When was hep-th/9901001 published?", "index", "hep-th/9901001", "January 1999"),
        ("hep-th/9901001 是什么时候发表的？", "index", "hep-th/9901001", "1999 年 1 月"),
        ("When was math.AG/0601001v2 posted?", "index", "math.AG/0601001", "January 2006"),
        ("math.AG/0601001 讲了什么", "extractive", "math.AG/0601001", "概形理论"),
        ("hep-th/9901001 和 math.AG/0601001 有什么区别？", "extractive", "hep-th/9901001", "对偶"),
    ],
)
def test_a_question_naming_an_old_style_id_is_about_that_paper(
    old_style_digests: Path, question: str, mode: str, paper: str, said: str
) -> None:
    """Only new-style ids were read in questions: the date question was refused, and
    "math.AG/0601001" was taken for an unknown name "math.AG"."""
    index, seeds = old_style_digests / "index", old_style_digests / "digests"
    with Assistant(index_dir=index, seeds_dir=seeds, llm_enabled=False) as a:
        ans = a.ask(question)
    assert ans.mode == mode and not ans.refused and said in ans.text
    assert ans.citations[0].paper_id == paper and not ans.notices


def test_an_old_style_id_the_index_does_not_hold_is_refused(old_style_digests: Path) -> None:
    """Before, hep-th/9901001 was quoted for it, as if it were that paper."""
    index, seeds = old_style_digests / "index", old_style_digests / "digests"
    with Assistant(index_dir=index, seeds_dir=seeds, llm_enabled=False) as a:
        ans = a.ask("hep-th/9902001 讲了什么？")
    assert ans.refused and ans.citations == []
    assert ans.notices == [message(PROMPTS, "zh", "not_indexed", names="hep-th/9902001")]


# --- who wrote it -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "lang", "paper"),
    [
        ("Who are the authors of PUMA?", "en", "2410.13861"),
        ("PUMA 的作者是谁?", "zh", "2410.13861"),
        # Before, answered: its link ".../Android-Lab" was read as naming a lab.
        ("Who wrote AndroidLab?", "en", "2410.24024"),
    ],
)
def test_who_wrote_a_paper_is_refused_saying_the_digests_name_no_author(
    assistant: Assistant, question: str, lang: str, paper: str
) -> None:
    ans = assistant.ask(question)
    assert ans.refused
    authors = message(PROMPTS, lang, "measure_authors")
    assert message(PROMPTS, lang, "unstated", measures=authors) in ans.notices
    assert ans.sources and ans.sources[0].paper_id == paper  # where to look instead


def test_what_the_authors_propose_is_a_question_about_the_content(assistant: Assistant) -> None:
    assert asked_paper_facts("What do the authors of PUMA propose?") == []
    assert asked_paper_facts("作者在 SAM2Long 中提出了什么方法?") == []
    ans = assistant.ask("What do the authors of PUMA propose?")
    assert not ans.refused and ans.citations[0].paper_id == "2410.13861"


def test_a_large_collection_lists_its_newest_papers_and_says_how_many(tmp_path: Path) -> None:
    n = CATALOG_LIMIT + 5
    entries = [
        (f"24{1 + i % 12:02d}.{10000 + i:05d}", f"Paper number {i}", f"第 {i} 篇论文研究主题 {i}。")
        for i in range(n)
    ]
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    write_digest(seeds / "big.md", entries)
    with Assistant(index_dir=tmp_path / "index", seeds_dir=seeds, llm_enabled=False) as a:
        a.ingest(progress=False)
        ans = a.ask("What papers do you have?")
    assert ans.mode == "index" and len(ans.citations) == CATALOG_LIMIT
    lead = message(PROMPTS, "en", "catalog_lead_some", n=n, shown=CATALOG_LIMIT)
    assert ans.text.splitlines()[0] == lead
    newest = newest_first([pid for pid, _, _ in entries])[:CATALOG_LIMIT]
    assert [c.paper_id for c in ans.citations] == newest


@pytest.mark.parametrize("question", ["Sora 是哪家公司的？", "Which company developed Sora?"])
def test_who_made_a_thing_a_digest_names_with_its_maker_is_answered(
    assistant: Assistant, question: str
) -> None:
    """Only who wrote a paper is a fact no digest states; "OpenAI 的 Sora …" is quotable."""
    ans = assistant.ask(question)
    assert not ans.refused and "OpenAI" in ans.text
    assert [c.paper_id for c in ans.citations] == ["2411.02385"]


def test_who_wrote_a_paper_named_by_its_full_title_is_refused(assistant: Assistant) -> None:
    ans = assistant.ask(
        'Who wrote "How Far is Video Generation from World Model: A Physical Law Perspective"?'
    )
    assert ans.refused and ans.sources[0].paper_id == "2411.02385"


# --- which papers of a period, the newest, the oldest -------------------------------------------


@pytest.mark.parametrize(
    ("question", "prefix", "lang"),
    [
        ("Which papers were published in November 2024?", "2411.", "en"),
        ("2024年10月有哪些论文？", "2410.", "zh"),
        ("papers from 2024-08", "2408.", "en"),
        ("2024 年 8 月的有哪篇？", "2408.", "zh"),  # "哪篇" asks for the month's papers
        ("2024 年 11 月发的有哪些？", "2411.", "zh"),  # nothing but "which" once the month is out
        ("What came out in November 2024?", "2411.", "en"),
    ],
)
def test_the_papers_of_a_month_are_those_its_arxiv_ids_give(
    assistant: Assistant, question: str, prefix: str, lang: str
) -> None:
    """Before, "No digest uses any word of the question (published, november, 2024)"."""
    every = [p["paper_id"] for p in assistant.papers()]
    ans = assistant.ask(question)
    assert ans.mode == "index" and not ans.refused and ans.language == lang
    assert [c.paper_id for c in ans.citations] == [p for p in every if p.startswith(prefix)]


def test_a_period_with_no_paper_says_so(assistant: Assistant) -> None:
    ans = assistant.ask("Which papers were published in 2023?")
    assert ans.refused and ans.citations == []
    assert ans.text == message(PROMPTS, "en", "period_none", when="2023")


def test_a_topic_in_a_period_is_not_the_whole_period(assistant: Assistant) -> None:
    ans = assistant.ask("Which papers about web agents were published in November 2024?")
    assert ans.mode != "index"


@pytest.mark.parametrize(
    ("question", "paper"),
    [
        ("Which is the newest paper?", "2411.05003"),
        ("最早的论文是哪篇？", "2408.00203"),
    ],
)
def test_the_newest_and_the_oldest_paper_by_arxiv_id(
    assistant: Assistant, question: str, paper: str
) -> None:
    ids = sorted(assistant.papers(), key=lambda p: p["paper_id"])
    assert paper in (ids[0]["paper_id"], ids[-1]["paper_id"])  # the seeds' extremes
    ans = assistant.ask(question)
    assert ans.mode == "index" and [c.paper_id for c in ans.citations] == [paper]


@pytest.mark.parametrize(
    ("question", "which", "n", "lang"),
    [
        ("What are the two newest papers?", "newest", 2, "en"),
        ("最早的三篇论文是哪些？", "oldest", 3, "zh"),
        ("What are the latest papers?", "newest", FEW, "en"),  # several, no number
        ("show me the 40 oldest papers", "oldest", 34, "en"),  # no more than there are
    ],
)
def test_the_n_newest_or_oldest_papers_by_arxiv_id(
    assistant: Assistant, question: str, which: str, n: int, lang: str
) -> None:
    """Before, "What are the two newest papers?" was refused: its "two" read as a topic."""
    newest = newest_first([p["paper_id"] for p in assistant.papers()])
    expected = (newest if which == "newest" else newest[::-1])[:n]
    ans = assistant.ask(question)
    assert ans.mode == "index" and ans.language == lang
    assert [c.paper_id for c in ans.citations] == expected
    assert ans.text.splitlines()[0] == message(PROMPTS, lang, f"{which}_lead_n", n=n)


def test_which_of_the_named_papers_came_out_first_is_read_from_their_ids(
    assistant: Assistant,
) -> None:
    """Before, "Which is newer, PUMA or Pangea?" quoted what each paper proposes."""
    for question, lang in (
        ("Which is newer, PUMA or Pangea?", "en"),
        ("Pangea 比 PUMA 早吗？", "zh"),
    ):
        ans = assistant.ask(question)
        assert ans.mode == "index" and not ans.refused, question
        ids = [c.paper_id for c in ans.citations]
        assert sorted(ids) == ["2410.13861", "2410.16153"] and ids == sorted(ids, key=float)
        order = message(PROMPTS, lang, "order_pair", earlier="PUMA [1]", later="Pangea [2]")
        assert ans.text.splitlines()[0] == order
    three = assistant.ask("Sort PUMA, WebRL and OmniParser from oldest to newest")
    ids = [c.paper_id for c in three.citations]
    assert len(ids) == 3 and ids == sorted(ids, key=float)  # OmniParser has no short name


@pytest.mark.parametrize(
    "question",
    [
        "What models are newer than GPT-4?",  # names no paper
        "Compare the latest results of PUMA and Pangea",
        "Is PUMA older than the paper on physical laws?",  # one paper named
    ],
)
def test_newer_or_latest_without_two_named_papers_is_no_date_question(
    assistant: Assistant, question: str
) -> None:
    assert assistant.ask(question).mode != "index"


def test_the_newest_paper_of_a_topic_is_not_the_newest_paper(assistant: Assistant) -> None:
    assert assistant.ask("最新的视频生成论文是哪篇？").mode != "index"


@pytest.mark.parametrize(
    ("question", "lang"),
    [("Summarize all the papers", "en"), ("用表格对比所有论文的方法和结果", "zh")],
)
def test_asked_for_more_than_the_list_it_says_it_gives_titles_only(
    assistant: Assistant, question: str, lang: str
) -> None:
    ans = assistant.ask(question)
    assert ans.mode == "index" and len(ans.citations) == 34
    assert ans.notices == [message(PROMPTS, lang, "titles_only")]
    assert assistant.ask("What papers do you have?").notices == []


@pytest.mark.parametrize(
    ("question", "lang"),
    [("When was Sora released?", "en"), ("FreeNeRF 是什么时候发布的？", "zh")],
)
def test_a_thing_a_digest_only_mentions_gets_no_date_of_the_paper_mentioning_it(
    assistant: Assistant, question: str, lang: str
) -> None:
    """Before, "How Far is Video Generation … was first posted to arXiv in November 2024" for
    Sora: a false statement with a real citation."""
    ans = assistant.ask(question)
    assert ans.refused and ans.mode != "index" and ans.citations == []
    when = message(PROMPTS, lang, "measure_date")
    assert message(PROMPTS, lang, "unstated", measures=when) in ans.notices


def test_a_follow_up_after_a_date_is_not_another_date(assistant: Assistant) -> None:
    first = assistant.ask("When was WebRL published?")
    history = [
        {"role": "user", "content": "When was WebRL published?"},
        {"role": "assistant", "content": first.text, "paper_ids": ["2411.02337"]},
    ]
    ans = assistant.ask("What success rate did it reach?", history=history)
    # Before, the month again: the resolved question carried the last one's "published".
    assert ans.mode == "extractive" and [c.paper_id for c in ans.citations] == ["2411.02337"]


@pytest.mark.parametrize(
    "question",
    [
        "Which papers were published before October 2024?",
        "Papers published after October 2024?",
        "2024年11月之前的论文有哪些",
    ],
)
def test_before_or_after_a_month_is_not_that_month(assistant: Assistant, question: str) -> None:
    """Before, "before October 2024" listed the October papers."""
    ans = assistant.ask(question)
    assert not (ans.mode == "index" and ans.citations)


@pytest.mark.parametrize(
    ("question", "prefix", "expected"),
    [
        ("Which video papers came out in November 2024?", "2411.", {"2411.05003", "2411.04928"}),
        ("Which papers about GUI agents were published in October 2024?", "2410.", {"2410.23218"}),
        ("2024年11月有哪些关于多模态的论文？", "2411.", {"2411.04996"}),
    ],
)
def test_a_topic_among_the_papers_of_a_month_cites_only_that_months_papers(
    assistant: Assistant, question: str, prefix: str, expected: set[str]
) -> None:
    """Before, refused (the month's words are in no digest) or PUMA (October) for November."""
    ans = assistant.ask(question)
    cited = {c.paper_id for c in ans.citations}
    assert not ans.refused and ans.mode == "extractive"
    assert all(p.startswith(prefix) for p in cited) and expected <= cited


def test_a_topic_no_paper_of_the_month_holds_says_so(assistant: Assistant) -> None:
    ans = assistant.ask("Which papers about GUI agents were published in November 2024?")
    assert ans.refused and ans.citations == []
    assert ans.text == message(PROMPTS, "en", "period_topic_none", when="November 2024")
    assert ans.sources and ans.sources[0].paper_id == "2410.23218"  # the closest, of October
