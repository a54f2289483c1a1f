"""Extractive answers over the seeds: cited, consistent markers, key facts, refusals in the
question's language, follow-ups resolved against the history, bad input rejected.

The refusal gate is being recalibrated: refusals are asserted only for clearly off-topic
questions, answers only for clearly answerable ones."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SEEDS, write_digest

from assistant import Assistant, Settings, SettingsError
from assistant.assistant import AssistantError
from assistant.cite import find_markers
from assistant.extractive import link_only, lists_test_sets
from assistant.gate import stated_measures, unnamed_in_sources, unpaired_names
from assistant.prompt import message
from assistant.records import Answer, Source, Turn
from assistant.retrieve import name_parts
from assistant.sentences import SentenceVectors
from assistant.text import token_set, wants_several

UCFE = "2410.14059"


def assert_citations_consistent(answer: Answer) -> None:
    """Every marker in the text is in range, listed in answer.citations, and points to
    answer.sources[n-1]; every citation is used in the text."""
    markers = find_markers(answer.text)
    assert markers, answer.text
    assert all(1 <= n <= len(answer.sources) for n in markers)
    assert {c.marker for c in answer.citations} == set(markers)
    assert len({c.marker for c in answer.citations}) == len(answer.citations)  # no duplicates
    for c in answer.citations:
        src = answer.sources[c.marker - 1]
        assert (c.paper_id, c.title, c.url) == (src.paper_id, src.title, src.url)


def cited(answer: Answer) -> list[str]:
    return [c.paper_id for c in answer.citations]


@pytest.mark.parametrize(
    ("question", "gold", "fact", "lang"),
    [
        ("UCFE 用户研究有多少名参与者？", UCFE, "804", "zh"),
        ("How many participants took part in the UCFE user study?", UCFE, "804", "en"),
        ("Pangea 的训练数据集 PangeaIns 涵盖多少种语言？", "2410.16153", "39", "zh"),
        ("How many tasks does the AndroidLab benchmark contain?", "2410.24024", "138", "en"),
        # The name only its digest uses is no clue to the sentence: every one is about it.
        ("HalluEditBench 的数据集包含多少个幻觉？", "2410.16251", "6,000", "zh"),
        # Asked for hardware, the sentence that names a GPU; nothing else in it is a clue.
        (
            "What hardware were Mixture-of-Transformers' wall-clock numbers measured on?",
            "2411.04996",
            "A100",
            "en",
        ),
    ],
)
def test_extractive_answer_cites_the_right_paper_with_the_fact(
    assistant: Assistant, question: str, gold: str, fact: str, lang: str
) -> None:
    answer = assistant.ask(question)
    assert not answer.refused
    assert answer.mode == "extractive" and answer.language == lang
    assert cited(answer)[0] == gold
    assert fact in answer.text
    assert_citations_consistent(answer)
    assert answer.notices == []


@pytest.mark.parametrize(
    ("question", "lang"),
    [
        ("哪篇论文无需学习先验、收敛快速地做少样本新视角合成?", "zh"),
        ("Which paper synthesizes novel views from few shots without learned priors?", "en"),
    ],
)
def test_an_answer_names_the_papers_it_quotes(
    assistant: Assistant, question: str, lang: str
) -> None:
    """Asked "which paper", the paper is the answer; FrugalNeRF's quoted sentences about
    priors and convergence do not say its name."""
    answer = assistant.ask(question)
    assert not answer.refused and answer.language == lang
    lead = answer.text.splitlines()[0]
    for c in answer.citations:
        src = answer.sources[c.marker - 1]
        title = src.title_zh if lang == "zh" else src.title
        assert f"{title} [{c.marker}]" in lead
    assert "FrugalNeRF" in lead


@pytest.mark.parametrize(
    ("question", "several"),
    [
        ("哪些论文在 Mind2Web 上做了实验？", True),
        ("有哪些论文研究幻觉？", True),
        ("有哪些 3D 重建或者 3D 生成的论文？", True),  # the topic between 有哪些 and 论文
        ("Which papers use LLaVA models?", True),
        ("which ones run experiments on WebArena?", True),  # cited one of two once it was read
        ("WMA 网络智能体在哪些基准上做了实验？", False),  # one paper's benchmarks
        ("OpenCoder 总结的关键要素有哪些？", False),
        ("Which benchmarks did WMA use?", False),
    ],
)
def test_only_a_question_for_several_papers_wants_several(question: str, several: bool) -> None:
    assert wants_several(question) is several


def test_a_question_in_two_parts_gets_a_sentence_for_each(assistant: Assistant) -> None:
    """Which paper, then which benchmarks it used: one paper's answer, not a list of papers
    ("哪些" asks for benchmarks here), and the benchmarks' sentence besides the best one."""
    answer = assistant.ask("哪篇论文让网络智能体先模拟动作结果再行动？它在哪些基准上做了实验？")
    assert not answer.refused
    assert cited(answer)[0] == "2410.13232"
    assert not answer.text.startswith(message(assistant.settings.prompts_dir, "zh", "multi_lead"))
    assert "Mind2Web" in answer.text and "模拟其行动的结果" in answer.text
    # Its sources are the papers it quotes, numbered without a gap (WebRL, selected but not
    # quoted, used to sit between them as an uncited [2]).
    assert sorted(set(find_markers(answer.text))) == list(range(1, len(answer.sources) + 1))
    assert [c.paper_id for c in answer.citations] == [s.paper_id for s in answer.sources]


def test_which_papers_answer_cites_several(assistant: Assistant) -> None:
    answer = assistant.ask("哪些论文与网页智能体有关？")
    assert not answer.refused
    assert {"2410.13232", "2411.02337"} <= set(cited(answer))  # WMA and WebRL
    assert_citations_consistent(answer)


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("哪些论文在 Mind2Web 上做了实验？", "Mind2Web"),
        ("哪些论文在实验中用到了 A800 GPU？", "A800"),
    ],
)
def test_which_papers_asked_by_a_name_cites_only_papers_that_mention_it(
    assistant: Assistant, question: str, name: str
) -> None:
    """Each of these also cited a paper on the same topic whose digest never names it."""
    answer = assistant.ask(question)
    assert not answer.refused and len(answer.citations) >= 2
    texts = {s.paper_id: f"{s.title} {s.text}" for s in answer.sources}
    assert all(name in texts[c.paper_id] for c in answer.citations)


@pytest.mark.parametrize(
    ("question", "holders"),
    [
        ("Which papers evaluate on WebArena?", {"2410.13232", "2411.02337"}),
        ("Which papers evaluate on Mind2Web?", {"2410.13232", "2408.00203"}),
        ("Which papers were tested on LLFF?", {"2410.16271"}),
    ],
)
def test_which_papers_evaluate_on_a_name_cites_the_papers_with_it(
    assistant: Assistant, question: str, holders: set[str]
) -> None:
    """A user test: "evaluate" matched the titles "Evaluating …" (NaturalBench) and "… Model
    Evaluation" (CompassJudger), which were cited first for Mind2Web; and as no Chinese digest
    says "evaluate", the WebArena and LLFF questions were refused. "use" was right."""
    answer = assistant.ask(question)
    assert not answer.refused
    assert set(cited(answer)) == holders


def test_which_papers_with_a_name_and_a_missing_topic_is_still_refused(
    assistant: Assistant,
) -> None:
    # Two digests name Claude; none is about robots. Leaving out "evaluate" must not leave out
    # the topic words.
    assert assistant.ask("Which papers mention Claude and robots?").refused


def test_which_papers_asked_by_a_name_cites_every_close_paper_that_has_it(
    assistant: Assistant,
) -> None:
    """OmniParser's digest says GUI as OS-ATLAS's does and is as close in meaning, but its BM25
    score was under half of OS-ATLAS's, so the README's own example cited OS-ATLAS alone."""
    answer = assistant.ask("Which papers study GUI agents?")
    assert {"2410.23218", "2408.00203"} <= set(cited(answer))


def test_a_long_question_hinting_at_a_papers_name_cites_that_paper(assistant: Assistant) -> None:
    """The researcher user test: the other words of a long question gave Mixture-of-Transformers
    twice PyramidDrop's BM25, and PyramidDrop, the closest in meaning, was cut."""
    answer = assistant.ask(
        "I'm writing a related-work section on efficient multimodal models and I remember one "
        "of these papers dropped visual tokens progressively in deeper layers kind of like a "
        "pyramid, and I want to know exactly how much faster the training got and on which "
        "model, can you remind me?"
    )
    assert "2410.17247" in cited(answer)
    assert "LLaVA-NeXT 的训练时间加速 40%" in answer.text


def test_name_parts_are_the_long_words_of_a_short_name() -> None:
    assert name_parts("PyramidDrop: Accelerating …") == {"pyramid"}
    assert name_parts("MagicTailor: Component-…") == {"tailor"}
    assert name_parts("AutoTrain: No-code training …") == set()  # "train" is any question's
    assert name_parts("Pangea: A Fully Open …") == set()  # one word: a name as written
    assert name_parts("Web Agents with World Models: …") == set()  # no short name


def test_a_name_or_another_criterion_keeps_papers_meeting_either(assistant: Assistant) -> None:
    answer = assistant.ask(
        "Which papers use an LLM-as-judge approach or build a judge model for evaluation?"
    )
    # CompassJudger-1 builds a judge model; its digest never says "LLM-as-judge".
    assert "2410.16256" in cited(answer)


@pytest.mark.parametrize(
    ("question", "named"),
    [
        # Each of these cited only one of the two papers before named papers were kept.
        ("Compare SAM2Long and Pangea.", {"2410.16268", "2410.16153"}),
        ("NaturalBench 和 MIA-DPO 有什么区别？", {"2410.14669", "2410.17637"}),
        ("What do MagicTailor and BitNet a4.8 have in common?", {"2410.13370", "2411.04965"}),
        ("PyramidDrop 与 MIA-DPO 分别解决什么问题？", {"2410.17247", "2410.17637"}),
        # Without its own quota the second paper's best sentence fell short of the first's.
        ("HtmlRAG 与 DimensionX 分别解决什么问题？", {"2411.02959", "2411.04928"}),
        # Refused while the gate measured the question against the first paper alone, and
        # counted 区别 as a word the digests should contain.
        ("DimensionX 和 WebRL 有什么区别？", {"2411.04928", "2411.02337"}),
        # Refused while only the first paper's words counted: "WebRL" is not in MagicTailor's.
        ("MagicTailor 和 WebRL 哪个效果更好？", {"2410.13370", "2411.02337"}),
        # WMA is not in a title, but only the world-model web agent's digest uses it.
        ("WMA 和 MagicTailor 有什么共同点？", {"2410.13232", "2410.13370"}),
    ],
)
def test_an_answer_cites_every_paper_the_question_names(
    assistant: Assistant, question: str, named: set[str]
) -> None:
    answer = assistant.ask(question)
    assert not answer.refused
    assert named <= set(cited(answer)), answer.text
    assert_citations_consistent(answer)
    # Each named paper is quoted, not only listed: a sentence carries its marker.
    body = answer.text.split("\n\n", 1)[1]
    for c in answer.citations:
        assert f"[{c.marker}]" in body


@pytest.mark.parametrize(
    ("question", "says"),
    [
        ("Summarize SAM2Long.", "我们引入了 SAM2Long"),
        ("PUMA 是什么？", "我们提出了 PUMA"),
        ("介绍一下 MagicTailor。", "我们设计了 MagicTailor 框架"),
        # Asking for the contribution is asking what it is: before, the first two quoted
        # only what SAM2Long is robust to and its scores.
        ("SAM2Long 的主要贡献是什么？", "我们引入了 SAM2Long"),
        ("SAM2Long的核心思想是什么", "我们引入了 SAM2Long"),
        ("What's the key idea of PUMA?", "我们提出了 PUMA"),
    ],
)
def test_a_question_that_only_names_a_paper_gets_what_it_does(
    assistant: Assistant, question: str, says: str
) -> None:
    """Nothing in such a question picks a sentence; the answer quotes the contribution, not
    the code link that merely repeats the name."""
    answer = assistant.ask(question)
    body = answer.text.split("\n\n", 1)[1]
    assert says in body
    assert "http" not in body


@pytest.mark.parametrize(
    "question",
    ["How does SAM2Long avoid error accumulation?", "SAM2Long 解决了什么问题？"],
)
def test_a_question_about_the_method_does_not_get_the_code_link(
    assistant: Assistant, question: str
) -> None:
    """The code link "代码已在 https://github.com/…/SAM2Long 发布" repeats the name in its URL,
    which cosine rewards, but says nothing about the method."""
    answer = assistant.ask(question)
    body = answer.text.split("\n\n", 1)[1]
    assert [c.paper_id for c in answer.citations] == ["2410.16268"]
    assert "http" not in body


@pytest.mark.parametrize(
    "question",
    [
        "FrugalNeRF 用了哪些数据集？",
        "Which datasets did FrugalNeRF use?",
        "FrugalNeRF 在哪些数据上测试？",
    ],
)
def test_which_datasets_gets_the_sentence_that_lists_them(
    assistant: Assistant, question: str
) -> None:
    """ "哪些数据集" asks for names: it quoted "…从而充分利用训练数据" (数据 in common) and the
    methods it improves on ("如 FreeNeRF 和 SparseNeRF"), not the sentence naming the datasets."""
    answer = assistant.ask(question)
    assert [c.paper_id for c in answer.citations] == ["2410.16271"]
    assert "LLFF、DTU 和 RealEstate-10K" in answer.text
    assert "充分利用训练数据" not in answer.text


@pytest.mark.parametrize(
    ("question", "paper", "said"),
    [
        # Quoted the medals and "we took Kaggle as a case study" (the researcher user test).
        (
            "What success rate does Agent K achieve across Kaggle tasks?",
            "2411.03562",
            "成功率达到 92.5%",
        ),
        # Quoted NaturalBench besides, but not the five dimensions.
        (
            "What are the five dimensions HalluEditBench evaluates on?",
            "2410.16251",
            "五个维度",
        ),
        # The English user test: each quoted the paper's opening sentences instead.
        (
            "How many hallucinations are in the HalluEditBench dataset?",
            "2410.16251",
            "超过 6,000 个幻觉",
        ),
        (
            "Which platforms does the OS-Atlas toolkit synthesize data for?",
            "2410.23218",
            "Windows、Linux、MacOS",
        ),
        (
            "Which quantization format is most cost-efficient for synchronous deployment?",
            "2411.02355",
            "W4A16 在同步部署中",
        ),
        ("How does HtmlRAG prune HTML documents?", "2411.02959", "基于块树的两步修剪"),
        ("How does ReCapture generate the anchor video?", "2411.05003", "噪声锚点视频"),
        # Its question words were never read as asking for benchmarks (a "\b" in a plain
        # string was a backspace), and "WMA" picked the sentence that names it.
        (
            "Which benchmarks were used to evaluate the WMA web agent?",
            "2410.13232",
            "在 WebArena 和 Mind2Web 上的实验",
        ),
        # Quoted the formats, not that FP8 was lossless.
        (
            "Which quantization formats were evaluated in the BF16 paper, and which one was "
            "lossless?",
            "2411.02355",
            "均无损",
        ),
    ],
)
def test_an_english_question_quotes_the_chinese_sentence_with_its_words(
    assistant: Assistant, question: str, paper: str, said: str
) -> None:
    answer = assistant.ask(question)
    assert cited(answer)[0] == paper
    assert said in answer.text, answer.text


@pytest.mark.parametrize(
    ("question", "paper", "items"),
    [
        # Quoted the opening sentences, or step (1) without step (2) (split at "；").
        (
            "ReCapture 分哪两步？",
            "2411.05003",
            ["(1) 利用多视角扩散模型", "(2) 通过我们提出的掩码"],
        ),
        ("CompassJudger-1 能做哪些事情？", "2410.16256", ["1. 作为奖励模型", "4. 执行多样任务"]),
    ],
)
def test_asked_for_its_steps_or_parts_an_answer_quotes_the_whole_list(
    assistant: Assistant, question: str, paper: str, items: list[str]
) -> None:
    """The researcher user test: the numbered list was never quoted, or only its first item."""
    answer = assistant.ask(question)
    assert cited(answer) == [paper]
    assert all(item in answer.text for item in items), answer.text


def test_a_sentence_lists_test_sets_only_where_something_was_tested() -> None:
    assert lists_test_sets("在 LLFF、DTU 和 RealEstate-10K 上的实验表明，它更好。")
    assert lists_test_sets("Experiments on WebArena and Mind2Web show gains.")
    assert not lists_test_sets("现有方法，如 FreeNeRF 和 SparseNeRF，使用频率正则化。")
    assert not lists_test_sets("我们在五个数据集上做了实验。")  # tested, but nothing named


def test_only_a_link_that_names_nothing_new_counts_as_link_only() -> None:
    names = token_set("CompassJudger-1: All-in-one Judge Model Helps Model Evaluation")
    assert link_only("代码见 https://github.com/open-compass/CompassJudger 。", names)
    assert link_only("CompassJudger-1 的代码已开源：https://github.com/x/y", names)
    # JudgerBench is news: the sentence says what was released, not only where.
    assert not link_only(
        "CompassJudger 和 JudgerBench 均已发布，并可在 https://github.com/open-compass/"
        "CompassJudger 供研究社区使用。",
        names,
    )
    assert not link_only("CompassJudger-1 是一个通用 LLM。", names)


def test_a_question_about_the_code_still_gets_the_link(assistant: Assistant) -> None:
    answer = assistant.ask("Where is the SAM2Long code released?")
    assert "https://github.com/Mark12Ding/SAM2Long" in answer.text


def test_stream_yields_text_then_one_final_answer(assistant: Assistant) -> None:
    pieces = list(assistant.stream("UCFE 用户研究有多少名参与者？"))
    assert isinstance(pieces[-1], Answer)
    assert all(isinstance(p, str) for p in pieces[:-1]) and pieces[:-1]
    assert pieces[-1].text and "804" in pieces[-1].text


@pytest.mark.parametrize(
    ("question", "lang"),
    [
        ("今天北京天气怎么样？", "zh"),
        ("红烧肉怎么做？", "zh"),
        ("《Attention Is All You Need》这篇论文提出了什么？", "zh"),
        ("How do I bake a chocolate cake?", "en"),
        ("Will it rain in London this weekend?", "en"),
        ("What does the BERT paper by Devlin et al. propose?", "en"),
    ],
)
def test_off_topic_questions_are_refused_in_their_language(
    assistant: Assistant, question: str, lang: str
) -> None:
    answer = assistant.ask(question)
    assert answer.refused
    assert answer.language == lang
    assert answer.text == message(assistant.settings.prompts_dir, lang, "refusal")
    assert answer.citations == [] and find_markers(answer.text) == []
    assert 1 <= len(answer.sources) <= 3  # the closest papers, for the user to look at
    assert len({s.paper_id for s in answer.sources}) == len(answer.sources)


@pytest.mark.parametrize(
    ("question", "lang", "name"),
    [
        (
            "Is the Llama 3 technical report in your collection? What does it say about context "
            "length?",
            "en",
            "Llama 3 technical report",
        ),
        ("Is the Mamba paper in your library?", "en", "Mamba"),
        ("有没有收录 Llama 3 技术报告？", "zh", "Llama 3 技术报告"),
    ],
)
def test_asked_whether_a_paper_it_does_not_hold_is_held_it_says_no(
    assistant: Assistant, question: str, lang: str, name: str
) -> None:
    """The researcher user test: the Llama 3 question quoted three papers that mention Llama
    and never said the report is not held."""
    answer = assistant.ask(question)
    assert answer.refused and answer.citations == []
    assert message(assistant.settings.prompts_dir, lang, "untitled", names=name) in answer.notices


@pytest.mark.parametrize(
    "question",
    [
        "Is the PUMA paper in your collection?",
        "Do you have the Baichuan alignment technical report?",
    ],
)
def test_asked_whether_a_paper_it_holds_is_held_it_answers_with_it(
    assistant: Assistant, question: str
) -> None:
    # Not the list of all 34 papers, which "in your collection" had given for PUMA.
    answer = assistant.ask(question)
    assert answer.mode != "index" and not answer.refused
    assert cited(answer)[0] in {"2410.13861", "2410.14940"}


@pytest.mark.parametrize(
    ("question", "lang"),
    [
        ("hi", "en"),
        ("Hello there!", "en"),
        ("what?", "en"),
        ("你好", "zh"),
        ("模型", "zh"),
        ("help", "en"),
        ("x" * 3000, "en"),  # a key held down: before, three unrelated papers were quoted
        ("哈哈哈哈", "zh"),
        ("test", "en"),
        ("Testing 123", "en"),
        ("hello world!", "en"),
        ("测试一下", "zh"),
        ("ping", "en"),
        # A hand run along the keyboard: before, two papers were quoted for "asdfgh".
        ("asdfgh 是什么", "zh"),
        ("qwerty?", "en"),
        # SQL injections (README user test): the first got all 34 titles, the second quotes.
        ("'; DROP TABLE papers; --", "en"),
        ("1 OR 1=1; DROP TABLE students", "en"),
    ],
)
def test_a_question_that_asks_nothing_is_told_what_to_ask(
    assistant: Assistant, question: str, lang: str
) -> None:
    """Retrieval ranks some paper first for "hi" too; the answer must not quote it."""
    answer = assistant.ask(question)
    assert answer.refused and answer.language == lang
    assert answer.text == message(assistant.settings.prompts_dir, lang, "vague")
    assert answer.citations == [] and answer.sources == []


@pytest.mark.parametrize("question", ["MLLM 相关论文", "LLFF"])
def test_a_word_of_two_letters_the_digests_use_is_a_question(
    assistant: Assistant, question: str
) -> None:
    """ "MLLM" is made of two letters, as "xxxx" is, but it is a word: before, "MLLM 相关论文" was
    told to ask something."""
    answer = assistant.ask(question)
    assert not answer.refused and answer.citations
    word = question.split()[0]
    assert all(word in src.text for src in answer.sources)


@pytest.mark.parametrize(
    ("question", "lang", "words"),
    [
        ("lorem ipsum dolor sit amet", "en", "lorem, ipsum"),
        ("Can you recommend a good laptop?", "en", "laptop"),
        ("Where can I buy cheap bananas?", "en", "buy, cheap, bananas"),
        ("123456", "en", "123456"),  # a number is the same in both languages: one is enough
    ],
)
def test_a_question_no_digest_has_a_word_of_is_refused_naming_them(
    assistant: Assistant, question: str, lang: str, words: str
) -> None:
    """e5 puts nonsense about as close to a digest as a real question; the words decide."""
    answer = assistant.ask(question)
    assert answer.refused and answer.citations == []
    assert answer.text == message(assistant.settings.prompts_dir, lang, "refusal")
    assert any(words in n for n in answer.notices)


@pytest.mark.parametrize(
    ("question", "name", "lang"),
    [
        ("What is FooNet-9?", "FooNet-9", "en"),
        ("Which lab released the TerraSight-VL encoder?", "TerraSight-VL", "en"),
        ("Zorblax-3 是什么？", "Zorblax-3", "zh"),
        # A version of a paper's model the digest never mentions is not that paper: before,
        # "What is PUMA 2?" was answered with PUMA.
        ("What is PUMA 2?", "PUMA 2", "en"),
        ("What is SAM2Long v3?", "SAM2Long v3", "en"),
        ("OpenCoder 2.0 用了多少数据？", "OpenCoder 2.0", "zh"),
    ],
)
def test_a_name_no_digest_mentions_is_refused_whatever_is_asked(
    assistant: Assistant, question: str, name: str, lang: str
) -> None:
    answer = assistant.ask(question)
    assert answer.refused and answer.citations == []
    assert answer.notices == [message(assistant.settings.prompts_dir, lang, "unnamed", names=name)]


def test_a_version_the_digest_names_or_a_count_after_a_name_is_answered(
    assistant: Assistant,
) -> None:
    """SAM2Long's digest names SAM 2; "Pangea 39 种语言" counts languages."""
    for question, paper in (
        ("What is SAM 2?", "2410.16268"),
        ("Pangea 的 39 种语言是哪些？", "2410.16153"),
    ):
        answer = assistant.ask(question)
        assert not answer.refused and answer.citations[0].paper_id == paper, question


@pytest.mark.parametrize(
    ("question", "paper"),
    [
        ("Which paper trains Llama 3.1 8B as a web agent?", "2411.02337"),
        ("Which paper trains Llama3.1-8B as a web agent?", "2411.02337"),
        ("Which papers evaluate Qwen2VL?", "2410.14669"),
    ],
)
def test_a_name_spelled_another_way_than_in_the_digest_is_known(
    assistant: Assistant, question: str, paper: str
) -> None:
    """Llama-3.1-8B is no word of the vocabulary when a digest writes "Llama 3.1 8B"."""
    answer = assistant.ask(question)
    assert not answer.refused and not answer.notices
    assert paper in [c.paper_id for c in answer.citations]


@pytest.mark.parametrize(
    ("question", "paper"),
    [
        ("MagicTailor是什么？", "2410.13370"),
        ("SAM2Long的主要结果是什么？", "2410.16268"),
        ("PyramidDrop解决了什么问题？", "2410.17247"),
    ],
)
def test_a_name_written_against_chinese_is_still_the_name(
    assistant: Assistant, question: str, paper: str
) -> None:
    """No space between a Latin name and the Chinese after it, as many people type: the name
    is "MagicTailor", not "MagicTailor是什么" (which no digest mentions)."""
    answer = assistant.ask(question)
    assert not answer.refused and not answer.notices
    assert [c.paper_id for c in answer.citations] == [paper]


@pytest.mark.parametrize(
    "spaced",
    ["SAM2Long 用了多少 GPU 训练?", "OpenCoder 有多少 params?", "Pangea 训练用了多少 hours?"],
)
def test_an_english_word_written_against_chinese_is_still_read(
    assistant: Assistant, spaced: str
) -> None:
    """ "多少GPU" asks for GPUs as "多少 GPU" does: a pattern's word boundary between Chinese and
    Latin letters must hold (Python's \\b sees none: both are word characters to it)."""
    a, b = assistant.ask(spaced), assistant.ask(spaced.replace(" ", ""))
    assert a.refused and a.notices  # the digests state no such measure
    assert (b.refused, b.notices) == (a.refused, a.notices)


@pytest.mark.parametrize("question", ["hallucination", "幻觉", "PUMA", "RLHF", "2410.13861", "804"])
def test_a_one_word_question_is_still_answered(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert not answer.refused and answer.citations


def test_a_bare_follow_up_asks_about_the_paper_before(assistant: Assistant) -> None:
    history = [
        {"role": "user", "content": "What is PUMA?"},
        {"role": "assistant", "content": "PUMA unifies multi-granular visual generation [1]."},
    ]
    answer = assistant.ask("why?", history=history)
    assert not answer.refused
    assert [c.paper_id for c in answer.citations][:1] == ["2410.13861"]
    # Trying the box out mid-chat is not a question about PUMA.
    answer = assistant.ask("test", history=history)
    assert answer.refused and answer.sources == []
    assert answer.text == message(assistant.settings.prompts_dir, "en", "vague")


@pytest.mark.parametrize(
    ("said", "lang"),
    [
        ("thanks!", "en"),
        ("谢谢！", "zh"),
        ("ok thanks", "en"),
        ("谢谢，很有帮助！", "zh"),
        ("Thanks, that's all for now.", "en"),
        ("行 就这些", "zh"),
    ],
)
def test_thanks_closes_a_turn_instead_of_quoting_the_paper_again(
    assistant: Assistant, said: str, lang: str
) -> None:
    history = [
        {"role": "user", "content": "What is PUMA?"},
        {"role": "assistant", "content": "PUMA … [1]", "paper_ids": ["2410.13861"]},
    ]
    for h in (history, None):
        answer = assistant.ask(said, history=h)
        assert answer.text == message(assistant.settings.prompts_dir, lang, "thanks")
        assert answer.refused and answer.citations == [] and answer.sources == []


@pytest.mark.parametrize(
    ("follow_up", "paper"),
    [
        ("第二篇呢？", "2410.24024"),
        ("the first one?", "2411.02337"),
        ("后者用了多少个任务？", "2410.24024"),
    ],
)
def test_a_follow_up_can_pick_a_paper_by_its_place_in_the_last_answer(
    assistant: Assistant, follow_up: str, paper: str
) -> None:
    """Before, "第二篇呢？" got the list of every paper (篇 counts papers), and "the first one?"
    whatever both titles and the old question retrieved."""
    history = [
        {"role": "user", "content": "Compare WebRL and AndroidLab"},
        {"role": "assistant", "content": "… [1] … [2]", "paper_ids": ["2411.02337", "2410.24024"]},
    ]
    answer = assistant.ask(follow_up, history=history)
    assert answer.mode == "extractive" and [c.paper_id for c in answer.citations] == [paper]


def test_each_of_the_papers_just_compared_is_no_pairing_of_their_names(
    assistant: Assistant,
) -> None:
    """ "它们各自的提升幅度是多少？" was refused: the names the follow-up resolution added from the
    titles (MIA-DPO, PyramidDrop) were taken as a pair the user asked a number for."""
    history = [
        {"role": "user", "content": "比较 PyramidDrop 和 MIA-DPO"},
        {"role": "assistant", "content": "… [1] … [2]", "paper_ids": ["2410.17637", "2410.17247"]},
    ]
    answer = assistant.ask("它们各自的提升幅度是多少？", history=history)
    assert not answer.refused and not answer.notices
    assert {c.paper_id for c in answer.citations} == {"2410.17637", "2410.17247"}


def test_number_about_a_name_the_paper_never_mentions_is_refused(assistant: Assistant) -> None:
    # WebRL's digest gives success rates on WebArena-Lite, never on Mind2Web: quoting its
    # 42.4 % as "the Mind2Web success rate" would be a wrong answer with a real citation.
    answer = assistant.ask("WebRL 在 Mind2Web 上的成功率是多少？")
    assert answer.refused and answer.citations == []
    assert any("Mind2Web" in n for n in answer.notices)
    # Asked about the benchmark the digest does report, the same kind of question answers.
    answer = assistant.ask("WebRL 在 WebArena-Lite 上把 Llama-3.1-8B 的成功率提高到多少？")
    assert not answer.refused and "42.4" in answer.text
    assert answer.citations and answer.citations[0].paper_id == "2411.02337"
    assert not answer.notices


@pytest.mark.parametrize(
    ("question", "asked", "stated"),
    [
        ("How many GPUs were used to train X?", "gpu", "在 8 块 A800 上训练。"),
        ("训练 X 需要多少小时？", "time", "训练仅用 16 小时。"),
        ("How many parameters does X have?", "parameters", "X 是一个 7B 模型。"),
        ("How much did it cost in dollars to train X?", "cost", "总成本不到 100 美元。"),
        ("What learning rate was used for X?", "learning_rate", "学习率设为 1e-4。"),
        ("训练 X 具体要几分钟？", "time", "训练只需 10 分钟。"),
        ("How many tokens of pretraining data did X use?", "tokens", "在 2T tokens 上预训练。"),
        ("X 把上下文窗口扩到多长？", "context", "将上下文窗口扩展到 32K。"),
        ("X 是什么许可证？", "license", "代码以 Apache-2.0 许可证发布。"),
        ("X 每帧要多少毫秒？", "time", "每帧仅需 30 ms。"),
        ("how much faster is X, in tok/s?", "throughput", "达到 120 tokens/s。"),
        ("X 的 github 链接给我一下", "link", "代码见 https://github.com/x/x 。"),
    ],
)
def test_a_measure_is_unstated_only_when_no_source_states_it(
    question: str, asked: str, stated: str
) -> None:
    def src(pid: str, text: str) -> Source:
        return Source(paper_id=pid, title="X", url="u", text=text, score=1.0)

    # Tuning hyperparameters (超参数) says nothing about a parameter count.
    silent = [src("1", "X 在三个基准上取得了最好的结果，准确率提高了 5%，并用贝叶斯优化调超参数。")]
    silent.append(src("3", "X tunes its hyperparameters by grid search."))
    # about_paper: the question is about these papers (a licence is a fact about a paper, and
    # is only checked then; numbers are checked either way).
    assert stated_measures(question, silent, {}, about_paper=True)[1] == [asked]
    assert stated_measures(question, [*silent, src("2", stated)], {}, about_paper=True)[1] == []
    # A sentence of the paper (not only its best chunk) counts as stating it.
    vectors = {"1": SentenceVectors(texts=[stated], vectors=np.zeros((1, 4)))}
    assert stated_measures(question, silent, vectors, about_paper=True)[1] == []
    assert stated_measures("X 在哪些基准上评估？", silent, {}, about_paper=True)[1] == []


def test_a_measure_named_in_passing_is_not_a_number_question() -> None:
    silent = [Source(paper_id="1", title="X", url="u", text="X 开源了代码。", score=1.0)]
    assert stated_measures("What GPUs did X use?", silent, {})[1] == ["gpu"]
    assert stated_measures("Whatever GPUs X had, was its code released?", silent, {})[1] == []


def test_names_a_number_question_pairs_must_share_one_source() -> None:
    def src(pid: str, text: str) -> Source:
        return Source(paper_id=pid, title=f"paper {pid}", url="u", text=text, score=1.0)

    webrl = src("1", "WebRL 在 WebArena-Lite 上把成功率提高到 42.4%。")
    wma = src("2", "在 WebArena 和 Mind2Web 上的实验表明……")
    question = "WebRL 在 Mind2Web 上的成功率是多少？"
    # Each name is in some source, none names both: no digest holds the pair's number.
    assert unpaired_names(question, [webrl, wma], {}) == ["Mind2Web", "WebRL"]
    both = src("3", "WebRL 在 Mind2Web 上达到 30% 的成功率。")
    assert unpaired_names(question, [webrl, wma, both], {}) == []
    # A sentence of the paper counts as naming it, as for the other rules.
    vectors = {
        "1": SentenceVectors(texts=["WebRL 也在 Mind2Web 上评估。"], vectors=np.zeros((1, 4)))
    }
    assert unpaired_names(question, [webrl, wma], vectors) == []
    assert unpaired_names("WebRL 和 Mind2Web 有什么关系？", [webrl, wma], {}) == []  # no number
    assert unpaired_names("WebRL 的成功率是多少？", [webrl, wma], {}) == []  # one name
    # Spelled with spaces or hyphens, a name is the same name.
    spaced = src("4", "webrl 把 Llama 3.1 8B 的成功率提高到 42.4%。")
    q = "WebRL 把 Llama-3.1-8B 的成功率提高到多少？"
    assert unnamed_in_sources(q, [spaced], {}, {}) == unpaired_names(q, [spaced], {}) == []
    assert unnamed_in_sources("GPT-4o 的成功率是多少？", [spaced], {}, {}) == ["GPT-4o"]


def test_a_number_about_two_names_no_digest_pairs_is_refused(assistant: Assistant) -> None:
    # GPT-4o is named in several digests and HalluEditBench in one, never together: quoting
    # HalluEditBench's dataset size as "GPT-4o's accuracy" would be a wrong, cited answer.
    answer = assistant.ask("What accuracy does GPT-4o reach on the HalluEditBench dataset?")
    assert answer.refused and answer.citations == []
    assert any("GPT-4o" in n and "HalluEditBench" in n for n in answer.notices), answer.notices
    # NaturalBench's digest names GPT-4o: the same kind of question passes the rules.
    assert assistant.gate_evidence("NaturalBench 上 GPT-4o 与人类表现的差距是多少？")[1] == {}
    # Asked in Chinese, the notice lists the names as Chinese lists them.
    answer = assistant.ask("GPT-4o 在 HalluEditBench 数据集上的准确率是多少？")
    assert answer.refused
    assert (
        message(assistant.settings.prompts_dir, "zh", "unpaired", names="GPT-4o、HalluEditBench")
        in answer.notices
    )


def test_a_question_naming_an_indexed_arxiv_id_is_answered(assistant: Assistant) -> None:
    # "What is this paper about?" shares no words with the digest but its id.
    answer = assistant.ask("2411.02337 这篇论文讲了什么？")
    assert not answer.refused and cited(answer)[0] == "2411.02337"
    assert_citations_consistent(answer)
    # An id that is not indexed names nothing: no free pass.
    assert assistant.ask("2501.99999 这篇论文讲了什么？").refused


@pytest.mark.parametrize(
    "question",
    [
        "2410.16268v2 的 J&F 提升了多少？",
        "https://arxiv.org/abs/2410.16268v3 这篇讲了什么",
        "arXiv:2410.16268 讲了什么？",
    ],
)
def test_a_question_naming_a_paper_by_id_gets_that_paper_alone(
    assistant: Assistant, question: str
) -> None:
    """A version suffix is part of the id, not an unknown name; and no other paper that scores
    close is quoted as if it were part of the answer."""
    answer = assistant.ask(question)
    assert not answer.refused and not answer.notices
    assert cited(answer) == ["2410.16268"]


def test_comparing_a_paper_named_by_id_with_another_cites_both(assistant: Assistant) -> None:
    answer = assistant.ask(
        "Compare 2410.13861 with the paper on whether video generation learns physical laws"
    )
    assert cited(answer) == ["2410.13861", "2411.02385"]


@pytest.mark.parametrize(
    ("question", "lang", "absent"),
    [
        ("2411.99999 讲了什么？", "zh", "2411.99999"),
        ("What does https://arxiv.org/abs/2501.00001 propose?", "en", "2501.00001"),
        ("Compare 2410.16268 and 2411.99999", "en", "2411.99999"),
    ],
)
def test_an_arxiv_id_the_index_does_not_hold_is_refused_saying_so(
    assistant: Assistant, question: str, lang: str, absent: str
) -> None:
    """Before, other papers were quoted for it, as if they were that paper."""
    answer = assistant.ask(question)
    assert answer.refused and answer.citations == []
    assert answer.notices == [
        message(assistant.settings.prompts_dir, lang, "not_indexed", names=absent)
    ]


def test_a_number_the_digest_never_states_is_refused(assistant: Assistant) -> None:
    # OS-Atlas's digest says nothing about hardware; DimensionX's nothing about time.
    for question, notice in [
        ("How many GPUs were used to train OS-Atlas?", "GPU"),
        ("DimensionX 从单张图像生成一个 3D 场景需要多少秒？", "耗时"),
    ]:
        answer = assistant.ask(question)
        assert answer.refused and answer.citations == [], question
        assert any(notice in n for n in answer.notices), (question, answer.notices)
    # LOGO's digest states both its GPUs and its training time: answered, with the figure.
    answer = assistant.ask("LOGO 在多少块 GPU 上训练了多少小时？")
    assert not answer.refused and "16" in answer.text and not answer.notices
    assert answer.citations[0].title.startswith("LOGO")


# --- follow-ups -------------------------------------------------------------------------------

UCFE_HISTORY: list[Any] = [
    {"role": "user", "content": "UCFE 基准是什么？"},
    {
        "role": "assistant",
        "content": "UCFE 是一个面向大语言模型的用户中心化金融专业知识基准 [1]。",
        "paper_ids": [UCFE],
    },
]


def test_follow_up_is_resolved_against_the_history(assistant: Assistant) -> None:
    answer = assistant.ask("它用了多少名参与者？", UCFE_HISTORY)
    assert answer.retrieval_query and "UCFE" in answer.retrieval_query
    assert answer.question == "它用了多少名参与者?"  # NFKC: the question as the user asked it
    assert answer.sources[0].paper_id == UCFE
    assert not answer.refused and cited(answer)[0] == UCFE and "804" in answer.text
    assert_citations_consistent(answer)


def test_follow_up_accepts_turns_and_english(assistant: Assistant) -> None:
    history = [
        Turn(role="user", content="What is the UCFE benchmark?"),
        Turn(role="assistant", content="A financial benchmark [1].", paper_ids=[UCFE]),
    ]
    answer = assistant.ask("How many participants did it involve?", history)
    assert answer.retrieval_query and "UCFE" in answer.retrieval_query
    assert answer.sources[0].paper_id == UCFE


@pytest.mark.parametrize(
    "history",
    [
        [("What is the UCFE benchmark?", "A financial benchmark.")],  # (user, bot) pairs
        [("user", "What is the UCFE benchmark?"), ("ai", "A financial benchmark.")],
        [
            {"role": "system", "content": "Answer briefly."},  # carries no turn: skipped
            {"role": "user", "content": "What is the UCFE benchmark?"},
        ],
    ],
)
def test_follow_up_accepts_pairs_and_skips_system_messages(
    assistant: Assistant, history: list[Any]
) -> None:
    answer = assistant.ask("How many participants did it involve?", history)
    assert answer.retrieval_query and "UCFE" in answer.retrieval_query
    assert "user" not in answer.retrieval_query.split()  # a role is not read as a message
    assert answer.sources[0].paper_id == UCFE


@pytest.mark.parametrize(
    ("history", "says"),
    [
        ("What is UCFE?", "history must be a list of messages, got str"),
        ({"role": "user", "content": "x"}, "got dict"),
        (5, "got int"),
        ([None], "history[0]: expected"),
        ([{"role": "user", "content": "x"}, {"role": "bot", "content": "y"}], "history[1]: role"),
        ([{"role": "user"}], "history[0]: content must be text"),
        ([{"role": "assistant", "content": "y", "paper_ids": [1]}], "history[0]: paper_ids"),
        ([("user", None)], "history[0]: content must be text, got NoneType"),
    ],
)
def test_a_malformed_history_is_rejected_naming_the_item(
    assistant: Assistant, history: Any, says: str
) -> None:
    """Skipping what cannot be read would resolve the follow-up against a different chat."""
    with pytest.raises(AssistantError, match=re.escape(says)):
        assistant.ask("How many participants did it involve?", history)


def test_same_follow_up_without_history_is_not_resolved(assistant: Assistant) -> None:
    # Nothing tells it which paper "it" is: the question is searched as asked (and still
    # finds UCFE, the one digest that counts participants).
    answer = assistant.ask("它用了多少名参与者？")
    assert answer.retrieval_query is None


def test_new_topic_is_not_dragged_back_to_the_history(assistant: Assistant) -> None:
    answer = assistant.ask("Pangea 的训练数据集 PangeaIns 涵盖多少种语言？", UCFE_HISTORY)
    assert answer.retrieval_query is None
    assert answer.sources[0].paper_id == "2410.16153"


@pytest.mark.parametrize("paper_ids", [[], None])
def test_a_paper_named_after_an_answer_citing_nothing_is_read_alone(
    assistant: Assistant, paper_ids: list[str] | None
) -> None:
    """From the LLM-path user test: after an LLM answer that cited nothing (or an API caller's
    plain messages), "PUMA 是什么?" was searched with the question before and cited FrugalNeRF
    first. Unnamed follow-ups still take their subject from the question before."""
    answer_turn: dict[str, Any] = {"role": "assistant", "content": "Published in 2019 by X."}
    if paper_ids is not None:
        answer_turn["paper_ids"] = paper_ids
    history = [{"role": "user", "content": "FrugalNeRF 用了哪些数据集?"}, answer_turn]
    answer = assistant.ask("PUMA 是什么?", history)
    assert answer.retrieval_query is None
    assert cited(answer) == ["2410.13861"]
    follow = assistant.ask("它在几个数据集上做了实验?", history)
    assert cited(follow)[:1] == ["2410.16271"]


def said(question: str, answer: Answer) -> list[dict[str, Any]]:
    """One turn of a chat as the UI keeps it: the question, the answer and the papers cited."""
    return [
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer.text, "paper_ids": cited(answer)},
    ]


def chat(assistant: Assistant, *questions: str) -> list[Answer]:
    """Each question asked with the history of the ones before and their answers."""
    history: list[dict[str, Any]] = []
    answers = []
    for q in questions:
        answers.append(assistant.ask(q, history))
        history += said(q, answers[-1])
    return answers


@pytest.mark.parametrize(
    ("question", "paper", "says"),
    [
        ("WebRL 把 GLM-4-9B 的成功率提高到多少？", "2411.02337", "43%"),
        ("Agent K 的成功率是多少？", "2411.03562", "92.5%"),
    ],
)
def test_after_the_list_of_all_papers_a_question_is_its_own_search(
    assistant: Assistant, question: str, paper: str, says: str
) -> None:
    """The chat UI user test: after the 34 titles, the first was refused for "3D、4D、BitNet…"
    (words of the titles it was searched with), the second cited four agent papers and not
    Agent K. A position in the list still picks from it."""
    listed, answer = chat(assistant, "一共有多少篇论文？", question)
    assert len(listed.citations) > 20
    assert cited(answer)[0] == paper and says in answer.text, answer.text
    third = chat(assistant, "一共有多少篇论文？", "第三篇讲了什么？")[1]
    assert cited(third) == [listed.citations[2].paper_id]


@pytest.mark.parametrize(
    ("questions", "notice"),
    [
        # It cited Breaking the Memory Barrier's "8或32个A800" as the physics paper's GPUs.
        (
            ("物理定律那篇发现模型在泛化时优先考虑哪些因素？", "它训练用了多少张GPU？"),
            ("unstated", "measure_gpu"),
        ),
        # It cited ScaleQuest, whose digest names GPT-4 and Claude; Agent K's names neither.
        (
            ("Kaggle 那篇论文的智能体叫什么？", "它用的是哪个基础大模型，GPT-4 还是 Claude？"),
            ("unnamed", "GPT-4"),
        ),
    ],
)
def test_a_follow_up_pointing_back_is_answered_only_by_the_chats_paper(
    assistant: Assistant, questions: tuple[str, str], notice: tuple[str, str]
) -> None:
    first, answer = chat(assistant, *questions)
    assert len(first.citations) >= 1 and not first.refused
    assert answer.refused and answer.citations == [], answer.text
    prompts = assistant.settings.prompts_dir
    key, what = notice
    if key == "unstated":
        expected = message(prompts, "zh", key, measures=message(prompts, "zh", what))
    else:
        expected = message(prompts, "zh", key, names=what)
    assert answer.notices == [expected]
    # Compared with another paper, that paper may be named: not refused for its name.
    compared = chat(assistant, "What is WebRL?", "它和 AndroidLab 有什么区别？")[1]
    assert not compared.refused and "2410.24024" in cited(compared)


def test_and_the_other_one_asks_the_last_question_of_the_paper_it_describes(
    assistant: Assistant,
) -> None:
    """The chat UI user test: "and the contrastive loss one?" was searched alone and quoted
    that paper's opening sentences, not the GPUs it was asked for."""
    answers = chat(
        assistant,
        "which GPUs did LOGO train on, and for how long?",
        "and the contrastive loss one?",
    )
    assert "8 倍 A800" in answers[0].text
    assert cited(answers[1])[0] == "2410.17243"
    assert "A800 80GB" in answers[1].text, answers[1].text


@pytest.mark.parametrize(
    ("questions", "paper"),
    [
        # A new subject in a follow-up's form: before, the paper before came back.
        (("有没有关于视频分割的论文？", "what about data contamination?"), "2411.03823"),
        (("WebRL 是做什么的？", "那数据污染方面呢？"), "2411.03823"),
        (("WebRL 是做什么的？", "那个用世界模型的网络智能体那篇用了什么基准"), "2410.13232"),
        # A paper named, with "it" meaning that paper: before, MIA-DPO was cited first.
        (("What is MIA-DPO?", "what about LOGO, what GPUs did it use?"), "2410.18533"),
        # Another paper asked for: before, WebRL again.
        (("WebRL 是做什么的？", "还有别的 web agent 论文吗"), "2410.13232"),
        # A fresh search said outright, with "the method" or "they" in it: before, read with
        # the paper before.
        (
            (
                "What is NaturalBench?",
                "Switching gears — is there a paper on data contamination in multimodal LLMs?"
                " What's the method called?",
            ),
            "2411.03823",
        ),
        (
            (
                "对比损失的批量大小扩展那篇论文讲了什么？",
                "UCFE 是什么？",
                "Going back to the contrastive loss paper — which model did they train?",
            ),
            "2410.17243",
        ),
    ],
)
def test_a_follow_up_with_a_subject_of_its_own_is_not_dragged_back(
    assistant: Assistant, questions: tuple[str, ...], paper: str
) -> None:
    *before, last = chat(assistant, *questions)
    assert before[0].citations and not last.refused
    assert cited(last)[0] == paper, (last.retrieval_query, cited(last))
    if "别的" in questions[-1]:
        assert not set(cited(last)) & set(cited(before[-1]))


def test_compare_them_after_a_list_compares_the_listed_papers(assistant: Assistant) -> None:
    """A user test: "compare them" cited WebRL alone. Searched with the chat's titles and last
    question ("Which papers …"), WebRL's name in its title made it the one paper asked for."""
    listed, compared = chat(assistant, "Which papers study web agents?", "compare them")
    assert len(cited(listed)) >= 2
    assert set(cited(listed)[:2]) <= set(cited(compared))


@pytest.mark.parametrize(
    ("first", "follow_up", "paper"),
    [
        # The named paper is the subject, compared with a third thing: read alone (chat_heldout).
        ("What does the BF16 paper find?", "Now BitNet a4.8 — what's new compared to b1.58?",
         "2411.04965"),
        ("UCFE 是什么？", "Different question: is OpenCoder actually open-sourced?", "2411.04905"),
    ],
)  # fmt: skip
def test_a_follow_up_naming_its_own_subject_beside_a_comparison_is_read_alone(
    assistant: Assistant, first: str, follow_up: str, paper: str
) -> None:
    _, after = chat(assistant, first, follow_up)
    assert cited(after) == [paper]


@pytest.mark.parametrize(
    ("first", "follow_up", "papers"),
    [
        # Before: AndroidLab alone, read as a question of its own.
        ("OS-Atlas 是做什么的？", "跟 AndroidLab 比呢？", ["2410.23218", "2410.24024"]),
        # Before: the contrastive-loss paper alone, quoting no sentence with its GPUs.
        (
            "LOGO 用了什么 GPU？",
            "和 Breaking the Memory Barrier 那篇用的 GPU 一样吗？",
            ["2410.18533", "2410.17243"],
        ),
    ],
)
def test_a_follow_up_comparing_with_a_named_paper_keeps_the_chats_paper(
    assistant: Assistant, first: str, follow_up: str, papers: list[str]
) -> None:
    before, after = chat(assistant, first, follow_up)
    assert cited(before) == papers[:1]
    assert cited(after) == papers
    if "GPU" in follow_up:
        # Each paper's sentence naming its GPUs, not one on GPU memory.
        assert "8 倍 A800" in after.text and "A800 80GB" in after.text


def test_a_topic_naming_gpus_is_no_question_of_which_gpus(assistant: Assistant) -> None:
    """Preferring the sentence that names GPUs for "用的 GPU 一样吗" quoted MoT's "A100 GPU"
    sentence for this topic, in LOGO's place (which_papers t040)."""
    answer = assistant.ask("降低 GPU 显存开销的论文")
    assert {"2410.17243", "2410.18533"} <= set(cited(answer))


def test_when_the_chats_papers_came_out_is_answered_for_them_from_their_ids(
    assistant: Assistant,
) -> None:
    *_, which = chat(
        assistant,
        "What is SAM2Long?",
        "What is BitNet a4.8?",
        "What is PUMA?",
        "which of these came out in October?",
    )
    # Before: the whole October list of the collection (21 papers), SAM2Long among them.
    assert which.mode == "index" and not which.refused
    assert cited(which) == ["2410.13861", "2410.16268", "2411.04965"]  # October's first
    assert which.text.startswith(
        message(assistant.settings.prompts_dir, "en", "chat_period_lead", k=3, n=2, when="October")
    )
    # Before: refused. "这两篇" are the two the chat was about most, not the paper one answer
    # quoted besides.
    history = [
        {"role": "user", "content": "SAM2Long 是什么？"},
        {"role": "assistant", "content": "… [1] … [2]", "paper_ids": ["2410.16268", "2410.13861"]},
        {"role": "user", "content": "它的核心方法？"},
        {"role": "assistant", "content": "… [1]", "paper_ids": ["2410.16268"]},
        {"role": "user", "content": "BitNet a4.8 呢？"},
        {"role": "assistant", "content": "… [1]", "paper_ids": ["2411.04965"]},
    ]
    months = assistant.ask("这两篇分别是哪个月的？", history=history)
    assert months.mode == "index" and cited(months) == ["2410.16268", "2411.04965"]
    first = assistant.ask("which of the two came out first?", history=history)
    assert cited(first) == ["2410.16268", "2411.04965"]


@pytest.mark.parametrize(
    ("question", "paper"),
    [
        # Said around the question, in no digest: before, the gate refused all three.
        ("换个话题，有代码大模型的论文吗", "2411.04905"),
        ("纯视觉的GUI解析那篇，叫什么来着", "2408.00203"),
        # "CLIP-style" is CLIP, which the digest names: before, refused as an unknown name.
        ("Any paper about scaling batch size for CLIP-style training?", "2410.17243"),
        # "库里" (in the collection) is no topic: before, support fell from 0.99 to 0.22.
        ("库里有哪些GUI agent相关论文？", "2410.23218"),
        # "AI" is a field, not a name: before, the two digests that write "AI" came first
        # (Baichuan's report).
        ("whether AI video generators like Sora really understand physics", "2411.02385"),
    ],
)
def test_words_said_around_a_question_do_not_get_it_refused(
    assistant: Assistant, question: str, paper: str
) -> None:
    answer = assistant.ask(question)
    assert not answer.refused and cited(answer)[:1] == [paper], answer.text


def test_a_misspelt_plain_word_is_read_as_the_digests_spell_it(assistant: Assistant) -> None:
    # Before: refused (no digest has "quantizaton").
    answer = assistant.ask("quantizaton papers?")
    assert not answer.refused and cited(answer)[:1] == ["2411.02355"]
    fix = message(
        assistant.settings.prompts_dir, "en", "respelled_words", names="quantizaton → quantization"
    )
    assert fix in answer.notices
    # English words as written are not typos of the digests' words ("imagines" of "images",
    # "screenshot" of ScreenSpot): the paraphrase questions stay as they were.
    for question in (
        "Is there a paper where a browsing assistant imagines what will happen after a click?",
        "Which paper turns a screenshot into a structured list of clickable elements?",
    ):
        assert not any("→" in n for n in assistant.ask(question).notices)
    # A long word near no word of the digests is left alone (and is refused as before).
    mash = assistant.ask("qwertyuiopasdf zxcvbnmlkjh poiuytrewqlkj")
    assert mash.refused and not any("→" in n for n in mash.notices)


def test_a_word_fragment_is_not_reported_as_unknown_to_the_digests(assistant: Assistant) -> None:
    # jieba cuts 做文生图 into 做文生 + 图; the refusal said no digest has 还有, 别的 or 做文生.
    answer = assistant.ask("还有别的做文生图的吗")
    assert not any("做文生" in n for n in answer.notices), answer.notices


@pytest.mark.parametrize("follow_up", ["vs other memory-efficient methods?", "和其他方法相比呢？"])
def test_a_comparison_with_other_methods_is_about_the_paper_before(
    assistant: Assistant, follow_up: str
) -> None:
    # Before: read as asking for other papers (LOGO), or refused.
    *_, vs = chat(assistant, "对比损失的批量大小扩展那篇论文讲了什么？", follow_up)
    assert cited(vs)[:1] == ["2410.17243"], vs.retrieval_query
    # "还有讲幻觉的论文吗" asks for others: not the paper before (还有 is a stopword now, and
    # the question was read with HtmlRAG until "还有…论文" counted as asking for others).
    *_, others = chat(assistant, "What is HtmlRAG?", "还有讲幻觉的论文吗")
    assert "2411.02959" not in cited(others)[:1]


@pytest.mark.parametrize(
    ("questions", "paper"),
    [
        # The answer's first paper is the one a single-paper question asked for; the second
        # was only close. Before, ReCapture (cited second) was quoted for "what's the setup".
        (
            (
                "Is there a paper testing whether video generators actually learn physics?",
                "what's the setup",
            ),
            "2411.02385",
        ),
        # Aspects any paper has, in words no digest uses: before, each was read alone and
        # refused.
        (("What is Pangea?", "开源到什么程度"), "2410.16153"),
        (("What is ReCapture?", "steps?"), "2411.05003"),
        # "QA" is in HtmlRAG's digest, past its first chunk. Read from the first chunk alone,
        # it looked like a new subject (this passed at the session's start only because "QA"
        # then pinned HtmlRAG as an acronym; two-letter acronyms no longer pin).
        (
            ("HtmlRAG 是干嘛的", "HTML 那么长，token 不会爆吗", "how many QA datasets?"),
            "2411.02959",
        ),
        # A paper of the list named. Guards the answer's-first-paper rule above: with
        # "有哪些…的论文" not read as asking for several, that rule made DimensionX, the list's
        # first paper, the subject.
        (("有哪些 3D 重建或者 3D 生成的论文？", "FrugalNeRF 在哪些数据集上做实验？"), "2410.16271"),
    ],
)
def test_a_follow_up_asks_about_the_paper_the_chat_is_on(
    assistant: Assistant, questions: tuple[str, ...], paper: str
) -> None:
    *_, last = chat(assistant, *questions)
    assert not last.refused and cited(last)[:1] == [paper], (last.retrieval_query, cited(last))


def test_a_detail_of_a_named_paper_is_not_taken_from_another_source(assistant: Assistant) -> None:
    # The contrastive-loss paper's digest gives no link; SAM2Long's, retrieved beside it, does.
    # Before, this was answered, as if SAM2Long's link were its.
    answer = assistant.ask("给我 Breaking the Memory Barrier 的 github 链接")
    assert answer.refused and answer.citations == []
    assert answer.notices == [
        message(
            assistant.settings.prompts_dir,
            "zh",
            "unstated",
            measures=message(assistant.settings.prompts_dir, "zh", "measure_link"),
        )
    ]
    # Its arXiv link is known: asked for, the paper is cited with it.
    assert cited(assistant.ask("give me the arxiv link of WebRL"))[:1] == ["2411.02337"]


def test_the_other_one_and_the_last_one_in_a_chat(assistant: Assistant) -> None:
    question = "Do you have anything on LLM quantization? like BitNet a4.8 or the BF16 paper"
    listed, _, other = chat(assistant, question, "what did BitNet a4.8 find?", "the other one?")
    assert sorted(cited(listed)[:2]) == ["2411.02355", "2411.04965"]
    # Before: read as asking for other papers, and CompassJudger was quoted.
    assert cited(other)[:1] == ["2411.02355"], other.retrieval_query
    listed, last = chat(assistant, "有哪些 3D 重建或者 3D 生成的论文？", "最后那篇讲啥")
    assert len(cited(listed)) >= 2
    # Before: refused ("最后那篇" was no position).
    assert not last.refused and cited(last)[:1] == cited(listed)[-1:]


@pytest.mark.parametrize("question", ["最新的是哪篇", "哪篇最新"])
def test_which_is_newest_with_nothing_else_asks_the_collection(
    assistant: Assistant, question: str
) -> None:
    # Before: a search quoting PUMA, OmniParser and MIA-DPO.
    answer = assistant.ask(question)
    assert answer.mode == "index" and cited(answer) == ["2411.05003"]


@pytest.mark.parametrize(
    ("said", "lang"), [("ok", "en"), ("好的", "zh"), ("I see.", "en"), ("好滴", "zh")]
)
def test_an_acknowledgement_is_no_follow_up_on_the_paper_before(
    assistant: Assistant, said: str, lang: str
) -> None:
    # Before, "ok" was searched with PUMA's title and PUMA was quoted again.
    history = [
        {"role": "user", "content": "What is PUMA?"},
        {"role": "assistant", "content": "PUMA … [1]", "paper_ids": ["2410.13861"]},
    ]
    answer = assistant.ask(said, history=history)
    assert answer.text == message(assistant.settings.prompts_dir, lang, "ack")
    assert answer.refused and answer.citations == [] and answer.sources == []
    # Something asked after the "ok" is still a question.
    assert cited(assistant.ask("ok, and does PUMA release code?", history=history))


@pytest.mark.parametrize(
    ("questions", "papers"),
    [
        # A paper the chat cited earlier, picked by what it is about: before, "it" meant the
        # paper of the last answer (PUMA).
        (
            ("Compare ReCapture and DimensionX", "What is PUMA?", "the camera one - what is it?"),
            ["2411.05003"],
        ),
        # Read right before the description rule too; kept so the rule does not pick another
        # paper of the list.
        (("有哪些 3D 重建或者 3D 生成的论文？", "镜面那篇用的是什么表示方法"), ["2410.17249"]),
        # None of the chat's papers: a search of its own, not PUMA again.
        (
            ("What is PUMA?", "the one about data contamination - what did it find?"),
            ["2411.03823"],
        ),
        # The search's first paper has the description in its title, though a listed digest
        # (UCFE) mentions judges: before, UCFE was quoted.
        (
            (
                "What papers here are about evaluating LLMs?",
                "the judge model one — what can it do?",
            ),
            ["2410.16256"],
        ),
        # "The previous one": the paper discussed before the one the last answer was about.
        # Before, "和上一篇比呢？" was asked of OmniParser alone, and "how's that different from
        # the previous one" was read alone (HtmlRAG and CompassJudger were quoted).
        (
            ("哪些论文研究 GUI 智能体？", "第二篇呢？", "和上一篇比呢？"),
            ["2410.23218", "2408.00203"],
        ),
        (
            ("What is ReCapture?", "and DimensionX?", "how's that different from the previous one"),
            ["2411.04928", "2411.05003"],
        ),
        (("What is PUMA?", "What is SAM2Long?", "上一篇用了什么数据？"), ["2410.13861"]),
        # "This one and the specular one": the paper before and the one described.
        (
            (
                "有哪些 3D 重建或者 3D 生成的论文？",
                "FrugalNeRF 需要预训练先验吗",
                "这篇和镜面那篇，哪个能处理动态场景？",
            ),
            ["2410.16271", "2410.17249"],
        ),
    ],
)
def test_a_paper_picked_by_description_or_place_in_a_chat(
    assistant: Assistant, questions: tuple[str, ...], papers: list[str]
) -> None:
    *_, last = chat(assistant, *questions)
    assert not last.refused
    assert sorted(cited(last)[: len(papers)]) == sorted(papers), (
        last.retrieval_query,
        cited(last),
    )


@pytest.mark.parametrize(
    ("questions", "paper"),
    [
        # An aspect with no pronoun is asked of the paper before: before, SemiEvol ("七个数据集")
        # and OpenCoder (代码/开源) were matched on their words.
        (("HtmlRAG 是做什么的？", "在几个数据集上实验的"), "2411.02959"),
        (("对比损失的批量大小扩展那篇论文讲了什么？", "代码开源吗"), "2410.17243"),
        # A refusal in between cites nothing; the chat is still about SAM2Long.
        (("SAM2Long 是什么？", "它用了多少 GPU 训练？", "那它的代码在哪？"), "2410.16268"),
        # The paper the last question named, not the other one its answer also cited.
        (("Does Baichuan alignment use DPO?", "what improvement does it report?"), "2410.14940"),
    ],
)
def test_a_follow_up_without_a_subject_of_its_own_asks_about_the_paper_before(
    assistant: Assistant, questions: tuple[str, ...], paper: str
) -> None:
    last = chat(assistant, *questions)[-1]
    assert not last.refused and cited(last)[0] == paper, (last.retrieval_query, cited(last))


def test_mid_chat_a_greeting_gets_the_hint_and_the_chats_papers_are_not_the_collection(
    assistant: Assistant,
) -> None:
    first, hi, both = chat(
        assistant, "Compare PUMA and Mixture-of-Transformers", "hi", "用中文简单总结一下这两篇"
    )
    prompts = assistant.settings.prompts_dir
    assert hi.refused and hi.citations == [] and hi.text == message(prompts, "en", "vague")
    # Before, "这两篇" got the whole collection's 34 titles.
    assert both.mode == "extractive" and sorted(cited(both)) == sorted(cited(first))


def test_mid_chat_who_wrote_it_and_an_unrelated_question_are_refused(
    assistant: Assistant,
) -> None:
    *_, authors, france = chat(
        assistant,
        "What's MM-Detect?",
        "In Chinese please",
        "who are the authors",
        "What's the capital of France?",
    )
    # Before, both quoted MM-Detect's digest: in a chat, the authors question read no paper
    # in its own words, and the French question was read with the chat's paper.
    assert authors.refused and france.refused and france.citations == []


@pytest.mark.parametrize(
    ("question", "order"),
    [
        ("Compare PUMA and OmniParser", ["2410.13861", "2408.00203"]),
        ("Compare OmniParser and PUMA", ["2408.00203", "2410.13861"]),
        ("2410.16268 和 2410.13861 有什么区别？", ["2410.16268", "2410.13861"]),
        ("2410.13861 和 2410.16268 有什么区别？", ["2410.13861", "2410.16268"]),
    ],
)
def test_the_papers_a_question_names_are_cited_in_its_order(
    assistant: Assistant, question: str, order: list[str]
) -> None:
    """Before, in the fusion's order (448 of 924 "Compare A and B" questions over the seeds had
    B as [1]), so "the first one?" next meant A while the answer numbered B first."""
    answer = assistant.ask(question)
    assert cited(answer)[:2] == order
    first = chat(assistant, question, "the first one?")[-1]
    assert cited(first)[0] == order[0]


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("UCFE 的用户研究有多少名参与者？", "光速是多少？"),
        ("UCFE 的用户研究有多少名参与者？", "地球的半径是多少？"),
        ("What is AndroidLab?", "How many legs does a spider have?"),
        ("PUMA 是什么？", "What is the speed of light?"),
        ("What does the Kaggle grandmaster paper do?", "how many calories in an apple?"),
        ("SAM2Long 的记忆树结构是什么样的？", "珠峰海拔多少米？"),
        ("What is NaturalBench?", "How many bones are in the adult human body?"),
    ],
)
def test_mid_chat_a_question_about_a_thing_of_its_own_is_not_read_as_the_paper_before(
    assistant: Assistant, first: str, then: str
) -> None:
    """Before, each was answered with the paper before: 804 participants for the speed of
    light. A measure with no thing of its own is still asked of it (below)."""
    answer = chat(assistant, first, then)[-1]
    assert answer.refused and answer.citations == [], answer.retrieval_query


def test_mid_chat_a_measure_alone_is_still_asked_of_the_paper_before(
    assistant: Assistant,
) -> None:
    # "gold medals" is in no digest (Agent K's says 金牌), and has no thing of its own;
    # 里面 and 一共 are no nouns.
    kaggle = "What does the Kaggle grandmaster paper do?"
    answer = chat(assistant, kaggle, "How many gold medals?")[-1]
    assert not answer.refused and cited(answer)[0] == "2411.03562"
    answer = chat(assistant, "AndroidLab 这篇论文讲了什么？", "里面一共有多少个任务")[-1]
    assert not answer.refused and cited(answer)[0] == "2410.24024" and "138" in answer.text


@pytest.mark.parametrize(
    ("question", "fact", "lang"),
    [
        ("Who funded AndroidLab?", "funding", "en"),  # before: quotes of AndroidLab
        ("MagicTailor 在哪发表的？", "venue", "zh"),  # before: quotes; "发表在哪个会议" was refused
    ],
)
def test_a_fact_about_a_paper_no_digest_states_is_refused(
    assistant: Assistant, question: str, fact: str, lang: str
) -> None:
    answer = assistant.ask(question)
    prompts = assistant.settings.prompts_dir
    measure = message(prompts, lang, f"measure_{fact}")
    assert answer.refused and message(prompts, lang, "unstated", measures=measure) in answer.notices


def test_a_measure_asked_with_others_the_digest_states_is_answered_with_a_notice(
    assistant: Assistant,
) -> None:
    """LOGO's digest gives its data (0.3B) and hours (16 小时), not money: asked for all three
    it was refused. A training cost given in compute is a cost (a blind-written chat set asks
    "训练成本呢？" of LOGO and expects that sentence); a learning rate it never gives is not."""
    prompts = assistant.settings.prompts_dir
    lr = message(prompts, "zh", "measure_learning_rate")
    answer = assistant.ask("LOGO 的训练成本大概是什么量级？用了多少数据、训了多久？")
    assert not answer.refused and cited(answer)[0] == "2410.18533"
    assert "16 小时" in answer.text and not answer.notices
    answer = assistant.ask("LOGO 的训练花了多少成本？")
    assert not answer.refused and "16 小时" in answer.text
    answer = assistant.ask("LOGO 训练了多久，学习率是多少？")
    assert not answer.refused and "16 小时" in answer.text
    assert message(prompts, "zh", "unstated", measures=lr) in answer.notices


def one_paper(tmp_path: Path, title: str, body: str) -> Assistant:
    """An extractive Assistant over a corpus of one paper (2402.01234), indexed."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    write_digest(seeds / "d.md", [("2402.01234", title, body)])
    a = Assistant(index_dir=tmp_path / "index", seeds_dir=seeds, llm_enabled=False)
    a.ingest(progress=False)
    return a


def test_a_digest_saying_the_authors_propose_names_no_author(tmp_path: Path) -> None:
    """ "作者提出了…" ("the authors propose") was taken for a digest stating who they are."""
    body = "作者提出了 Zorbnet，一种用于长文档检索的稀疏注意力方法，在三个基准上超过了基线。"
    with one_paper(tmp_path, "Zorbnet: Sparse Retrieval", body) as a:
        assert a.ask("Who wrote Zorbnet?").refused
        assert a.ask("Zorbnet 的作者是谁？").refused
        assert not a.ask("What does Zorbnet propose?").refused


def test_a_paper_named_by_its_whole_title_or_subtitle_gets_its_date(tmp_path: Path) -> None:
    """The corpus user test: "Old but Gold" is too short a head to name the paper, so writing
    out the whole title was refused, with a notice that the date was unknown; and "弦对偶那篇"
    as a first question was asked which paper it pointed back to."""
    body = "本文重新审视弦对偶性，给出 T 对偶与 S 对偶的统一推导，并讨论其在紧致化中的应用。"
    with one_paper(tmp_path, "Old but Gold: String Dualities Revisited", body) as a:
        for question in (
            "When was 'Old but Gold: String Dualities Revisited' published?",
            "When was String Dualities Revisited published?",
            "弦对偶那篇是哪年发布的？",
        ):
            answer = a.ask(question)
            assert answer.mode == "index" and cited(answer) == ["2402.01234"], question


@pytest.mark.parametrize("question", ["PUMA 是哪个月的？", "第一篇是哪个月的"])
def test_which_month_is_a_date_question(assistant: Assistant, question: str) -> None:
    history = said("What is PUMA?", assistant.ask("What is PUMA?"))
    answer = assistant.ask(question, history)
    assert answer.mode == "index" and cited(answer) == ["2410.13861"]


def test_the_latter_is_the_one_the_question_named_last(assistant: Assistant) -> None:
    """Before, 后者 was the last paper of the answer, whatever order the question gave."""
    for question, latter in (
        ("比较一下 PUMA 和 SAM2Long", "2410.16268"),
        ("比较一下 SAM2Long 和 PUMA", "2410.13861"),
    ):
        last = chat(assistant, question, "后者呢？")[-1]
        assert cited(last) == [latter], question


@pytest.mark.parametrize(
    "follow_up",
    ["核心思想是什么", "一句话总结", "优缺点", "summarize in one sentence", "give an example"],
)
def test_an_aspect_any_paper_has_is_asked_of_the_paper_before(
    assistant: Assistant, follow_up: str
) -> None:
    """Before, read alone: refused, or answered from CompassJudger ("All-in-one") or the BF16
    paper ("Give Me …"), whose titles hold "one" and "give"."""
    last = chat(assistant, "LOGO 是什么", follow_up)[-1]
    assert not last.refused and cited(last) == ["2410.18533"], (last.retrieval_query, cited(last))


@pytest.mark.parametrize("with_ids", [True, False])
def test_a_chat_stays_on_its_paper_with_or_without_paper_ids(
    assistant: Assistant, with_ids: bool
) -> None:
    """Before, without paper ids (plain messages from an API caller) the third turn was read
    with the second ("用了哪些数据集") and lost SAM2Long."""
    history: list[dict[str, Any]] = []
    for question in ("SAM2Long 是什么？", "用了哪些数据集", "效果怎么样"):
        answer = assistant.ask(question, history)
        assert cited(answer)[:1] == ["2410.16268"], (question, answer.retrieval_query)
        turn = said(question, answer)
        if not with_ids:
            turn[1].pop("paper_ids")
        history += turn


def test_a_history_ending_with_a_question_is_about_that_question(assistant: Assistant) -> None:
    """Before, the unanswered "What is PUMA?" at the end was skipped for WebRL before it."""
    history = [
        *said("What is WebRL?", assistant.ask("What is WebRL?")),
        {"role": "user", "content": "What is PUMA?"},
    ]
    assert cited(assistant.ask("what datasets did it use?", history))[:1] == ["2410.13861"]


def test_an_ordinal_counts_in_the_last_list_even_after_a_pick(assistant: Assistant) -> None:
    """Before, "the first one?" after "the second one" was the second one again."""
    listed, second, first = chat(
        assistant, "Which papers study video generation?", "the second one", "the first one?"
    )
    assert len(cited(listed)) >= 3
    assert cited(second) == [cited(listed)[1]] and cited(first) == [cited(listed)[0]]


def test_the_first_one_is_the_one_the_user_named_first(assistant: Assistant) -> None:
    """Before, "the first one" was the first paper the answer cited (BitNet a4.8)."""
    question = (
        "Do you have anything on LLM quantization? I've heard of the 'BF16 or death' paper"
        " and BitNet a4.8."
    )
    last = chat(assistant, question, "What are the main findings of the first one?")[-1]
    assert cited(last) == ["2411.02355"]


def test_when_the_chats_papers_came_out_is_read_from_their_ids(assistant: Assistant) -> None:
    *_, same_month, earlier = chat(
        assistant, "比较一下 SAM2Long 和 PUMA", "这两篇都是 10 月份发的吗？", "这两篇哪篇发得早？"
    )
    for answer in (same_month, earlier):
        assert answer.mode == "index" and cited(answer) == ["2410.13861", "2410.16268"]


def test_more_quotes_what_was_not_quoted_yet_in_the_chats_language(assistant: Assistant) -> None:
    """Before, "more" quoted the same sentences again, under an English lead."""
    first, more, go_on = chat(assistant, "SAM2Long 是什么？", "more", "继续")
    quoted = [  # the sentences, under the lead line that names the paper
        set(re.findall(r"^(.+) \[\d+\]$", a.text.split("\n", 1)[1], re.M))
        for a in (first, more, go_on)
    ]
    assert all(quoted) and not (quoted[0] & quoted[1]) and not (quoted[2] & (quoted[0] | quoted[1]))
    for answer in (more, go_on):
        assert answer.language == "zh" and cited(answer) == ["2410.16268"]


# --- input checks -----------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   ", "\n\t \u3000", "？？！", "\x00\x01"])
def test_empty_or_wordless_question_is_rejected(assistant: Assistant, question: str) -> None:
    with pytest.raises(AssistantError):
        assistant.ask(question)
    with pytest.raises(AssistantError):
        assistant.search(question)


@pytest.mark.parametrize("k", [0, -3, 2.5, "3", True])
def test_a_search_for_no_or_a_fraction_of_a_paper_is_rejected(
    assistant: Assistant, k: object
) -> None:
    with pytest.raises(AssistantError, match="k must be"):
        assistant.search("PUMA", k=k)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"topk": 3}, "unknown setting 'topk' (did you mean 'top_k'?)"),
        ({"top_k": "x"}, "top_k='x': Input should be"),
        ({"llm_base_url": "localhost:11434/v1"}, "llm_base_url='localhost:11434/v1': must be an"),
        ({"chroma_url": "notaurl"}, "e.g. http://127.0.0.1:8000"),  # not an LLM's /v1
        ({"prompts_dir": "/nonexistent"}, "/nonexistent is not a prompts folder (no answer_"),
        # Path("") is ".": the working folder was used without a word.
        ({"index_dir": ""}, "index_dir='': empty path"),
        # Sent as "model": "", it failed only at the first question (the LLM-path user test).
        ({"llm_model": ""}, "llm_model='': empty model name"),
    ],
)
def test_a_bad_setting_argument_is_one_line(kwargs: dict[str, Any], says: str) -> None:
    with pytest.raises(AssistantError, match=re.escape(says)) as err:
        Assistant(**kwargs)
    assert "\n" not in str(err.value)
    # Settings alone says it in one line too: it raised pydantic's ValidationError, a line per
    # field and a link to pydantic's docs (from the API user test).
    with pytest.raises(SettingsError, match=re.escape(says)) as raw:
        Settings(**kwargs)
    assert "\n" not in str(raw.value) and "pydantic" not in str(raw.value)


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ({"top_k": 0}, "bad setting override: top_k=0: Input should be greater than or equal"),
        ({"answer_language": "fr"}, "bad setting override: answer_language='fr': Input should"),
    ],
)
def test_a_bad_override_per_call_names_only_the_value(
    assistant: Assistant, override: dict[str, Any], says: str
) -> None:
    """The API user test: the error carried every setting, index and seeds paths included,
    into their service's HTTP 400 reply."""
    with pytest.raises(AssistantError) as err:
        assistant.ask("UCFE 有多少名参与者？", **override)
    assert str(err.value).startswith(says), str(err.value)
    assert str(assistant.settings.index_dir) not in str(err.value)
    assert len(str(err.value)) < 200


@pytest.mark.parametrize(
    ("call", "says"),
    [
        ({"question": "   "}, "the question is empty"),
        ({"question": "PUMA?", "history": [{"role": "bot"}]}, "history[0]"),
        ({"question": "PUMA?", "top_k": 0}, "bad setting override: top_k=0"),
    ],
)
def test_stream_rejects_bad_input_when_called_not_at_first_next(
    assistant: Assistant, call: dict[str, Any], says: str
) -> None:
    """The API user test: a service that checked its request by calling stream() started a
    200 response, and the error came at the first next(), mid-response."""
    with pytest.raises(AssistantError, match=re.escape(says)):
        assistant.stream(**call)


def test_a_bad_argument_is_not_blamed_on_a_good_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASSISTANT_TOP_K", "3")
    with pytest.raises(AssistantError, match=re.escape("top_k='lots'")) as err:
        Assistant(top_k="lots")
    assert "ASSISTANT_TOP_K" not in str(err.value)


def test_non_text_question_is_rejected(assistant: Assistant) -> None:
    with pytest.raises(AssistantError, match="text"):
        assistant.ask(42)  # type: ignore[arg-type]


def test_very_long_question_is_cut_with_a_notice(assistant: Assistant) -> None:
    limit = assistant.settings.max_question_chars
    question = "UCFE 用户研究有多少名参与者？" + "请结合摘要详细说明。" * 400
    answer = assistant.ask(question)
    assert len(answer.question) == limit < len(question)
    assert message(assistant.settings.prompts_dir, "zh", "question_cut", n=limit) in answer.notices
    assert answer.text  # still answered or refused, not crashed


@pytest.mark.parametrize(
    ("question", "lang"),
    [
        ("Agent K 的 Elo-MMR 排名？", "zh"),
        ("Give Me BF16 or Give Me Death 讲了什么？", "zh"),
        ("UCFE 用户研究有多少参与者?", "zh"),
        ("Which papers use GPT-4o?", "en"),
        ("What does 知识编辑 mean in HalluEditBench?", "en"),
    ],
)
def test_names_do_not_make_a_chinese_question_english(
    assistant: Assistant, question: str, lang: str
) -> None:
    """Before, "Agent K 的 Elo-MMR 排名？" (four Latin words, three Chinese characters) was
    answered under "From the digests (quoted as written, in Chinese):" with English titles."""
    assert assistant.ask(question).language == lang


def test_a_score_on_a_benchmark_in_capitals_no_digest_names_is_refused(
    assistant: Assistant,
) -> None:
    """MMMU is in no digest: Pangea's digest holds other figures, which would be quoted as its
    MMMU score. A benchmark in capitals is a name like Mind2Web; before, only names with a
    digit or an inner capital counted."""
    answer = assistant.ask("Pangea 在 MMMU 上得了多少分？")
    assert answer.refused
    assert answer.notices == [
        message(assistant.settings.prompts_dir, "zh", "unnamed", names="MMMU")
    ]
    # VQA is named in NaturalBench's digest: the number is there.
    answer = assistant.ask("How many VQA samples does NaturalBench contain?")
    assert not answer.refused and "10,000" in answer.text


@pytest.mark.parametrize(
    ("question", "notice"),
    [
        # A metric asks for a number: the LLFF sentence gives no PSNR (the English user test).
        ("What's the PSNR of FrugalNeRF on LLFF?", ("unnamed", {"names": "PSNR"})),
        # Chinese has no lower case: this did not read as a question in capitals.
        ("PUMA 的 FID 是多少？", ("unnamed", {"names": "FID"})),
        # Training steps are a measure; WebRL's "1) 自进化课程" is none.
        ("How many training steps did WebRL run?", ("unstated", {"measures": "steps"})),
        # Pangea's "600 万条指令" is no context length: the number must be said of a context.
        ("What is the context window length of Pangea?", ("unstated", {"measures": "context"})),
        # A Chinese user test: these quoted other figures, or another paper's.
        ("WMA 在 WebArena 上的成功率具体是多少？", ("unstated", {"measures": "rate"})),
        ("BitNet a4.8 推理速度比 BitNet b1.58 快几倍？", ("unstated", {"measures": "speed"})),
        ("ScaleQuest 合成这些数据一共花了多少钱？", ("unstated", {"measures": "cost"})),
        ("Agent K 用的底座大模型是哪一个？", ("unstated", {"measures": "base_model"})),
        ("Which base model does Pangea build on?", ("unstated", {"measures": "base_model"})),
        ("WebRL 在 Mind2Web 上的结果怎么样？", ("unpaired", {"names": "Mind2Web、WebRL"})),
        # A share no digest states (a corpus maintainer test: other figures were quoted).
        ("Which paper reports a 67.5% success rate?", ("unnamed", {"names": "67.5%"})),
    ],
)
def test_a_number_the_paper_asked_of_never_gives_is_refused(
    assistant: Assistant, question: str, notice: tuple[str, dict[str, str]]
) -> None:
    answer = assistant.ask(question)
    assert answer.refused and answer.citations == []
    key, fields = notice
    prompts, lang = assistant.settings.prompts_dir, answer.language
    if key == "unstated":
        fields = {"measures": message(prompts, lang, f"measure_{fields['measures']}")}
    assert answer.notices == [message(prompts, lang, key, **fields)]
    # What the digests do state is still answered.
    assert not assistant.ask("LOGO 把上下文窗口扩到多长？").refused


@pytest.mark.parametrize(
    ("question", "papers", "says"),
    [
        ("WebRL 在 WebArena-Lite 上的成功率是多少？", ["2411.02337"], ["42.4%"]),
        ("Which paper raised success from 4.8% to 42.4%?", ["2411.02337"], ["42.4%"]),
        # Two papers asked about each in turn: each digest answers for itself. Before: "none
        # of the closest papers' digests mentions AndroidLab, WebRL together".
        (
            "WebRL 和 AndroidLab 的成功率提升分别是多少？",
            ["2411.02337", "2410.24024"],
            ["42.4%", "21.50%"],
        ),
        # SOTA is a word, not a name; before: "never mention SOTA".
        (
            "Breaking the Memory Barrier 这篇跟 SOTA 的内存高效方案比，显存省了多少？",
            ["2410.17243"],
            ["两个数量级"],
        ),
        ("WebRL 用的底座模型是哪个？", ["2411.02337"], ["Llama-3.1"]),
        ("How much faster is PyramidDrop's inference?", ["2410.17247"], ["55%"]),
        # Cost-efficiency asks for no cost figure (refused for a while this session).
        (
            "Which quantization format is most cost-efficient for synchronous deployment?",
            ["2411.02355"],
            ["W4A16"],
        ),
    ],
)
def test_a_measure_the_paper_does_state_is_answered(
    assistant: Assistant, question: str, papers: list[str], says: list[str]
) -> None:
    answer = assistant.ask(question)
    assert not answer.refused and sorted(cited(answer)) == sorted(papers), answer.text
    assert all(s in answer.text for s in says), answer.text


def test_comparing_with_another_paper_asks_the_last_question_of_both(
    assistant: Assistant,
) -> None:
    """A Chinese user test: "和 AndroidLab 比呢？" after WebRL's WebArena-Lite result quoted
    each paper's introduction, not AndroidLab's success rates."""
    first = assistant.ask("WebRL 在 WebArena-Lite 上效果怎样？")
    history = [
        {"role": "user", "content": "WebRL 在 WebArena-Lite 上效果怎样？"},
        {"role": "assistant", "content": first.text, "paper_ids": cited(first)},
    ]
    for follow_up in ("和 AndroidLab 比呢？", "compared with AndroidLab?"):
        answer = assistant.ask(follow_up, history=history)
        assert sorted(cited(answer)) == ["2410.24024", "2411.02337"], follow_up
        assert "42.4%" in answer.text and "21.50%" in answer.text, answer.text


@pytest.mark.parametrize(
    ("question", "typo", "name", "paper", "lang"),
    [
        ("SAM2Lnog 的 J&F 提升了多少？", "SAM2Lnog", "SAM2Long", "2410.16268", "zh"),
        ("How many tasks does AndriodLab have?", "AndriodLab", "AndroidLab", "2410.24024", "en"),
    ],
)
def test_a_name_typed_with_a_slip_is_read_as_the_paper_saying_so(
    assistant: Assistant, question: str, typo: str, name: str, paper: str, lang: str
) -> None:
    """Before, "the closest papers' digests never mention SAM2Lnog"."""
    answer = assistant.ask(question)
    assert not answer.refused and [c.paper_id for c in answer.citations] == [paper]
    said = message(assistant.settings.prompts_dir, lang, "respelled", names=f"{typo} → {name}")
    assert answer.notices == [said]  # the notice names the reading
    assert answer.retrieval_query is not None and name in answer.retrieval_query


def test_another_version_of_a_name_is_no_slip(assistant: Assistant) -> None:
    """OpenCoder-2 is two characters from OpenCoder, but another number is another model."""
    answer = assistant.ask("What is OpenCoder-2?")
    assert answer.refused and answer.citations == []


def test_a_follow_up_picks_a_paper_past_the_tenth_of_a_list(assistant: Assistant) -> None:
    listed = assistant.ask("What papers do you have?")
    ids = [c.paper_id for c in listed.citations]
    history = [
        {"role": "user", "content": "What papers do you have?"},
        {"role": "assistant", "content": listed.text, "paper_ids": ids},
    ]
    for follow_up, n in [("第十一篇呢？", 11), ("第二十篇呢？", 20), ("the 12th one?", 12)]:
        answer = assistant.ask(follow_up, history=history)
        assert answer.mode == "extractive" and cited(answer) == [ids[n - 1]], follow_up


@pytest.mark.parametrize(
    "said",
    [
        "Perfect, thanks!",
        "Thanks a lot, bye",
        "非常感谢",
        "好的，明白了",
        "感谢回答",
        # Before, these were refused as "not in the digests".
        "Thank you, that helps!",
        "thanks, that's exactly what I needed",
        "谢谢，太有帮助了",
        "多谢，很清楚",
    ],
)
def test_ways_of_closing_a_turn_are_not_follow_ups(assistant: Assistant, said: str) -> None:
    history = [
        {"role": "user", "content": "UCFE 是什么?"},
        {"role": "assistant", "content": "UCFE … [1]", "paper_ids": ["2410.14059"]},
    ]
    answer = assistant.ask(said, history=history)
    assert answer.citations == [] and answer.text == message(
        assistant.settings.prompts_dir, answer.language, "thanks"
    )


def test_a_plural_of_a_name_is_the_name(assistant: Assistant) -> None:
    """ "32 A800s": the digest says "32 个 A800"; before, "never mention A800s"."""
    answer = assistant.ask("What batch size can be reached with 32 A800s?")
    assert not answer.refused and cited(answer) == ["2410.17243"]


def test_two_papers_compared_by_id_are_the_papers_cited(assistant: Assistant) -> None:
    answer = assistant.ask("2410.16268 和 2411.04905 有什么区别？")
    assert sorted(cited(answer)) == ["2410.16268", "2411.04905"]


def test_a_link_does_not_make_a_chinese_question_english(assistant: Assistant) -> None:
    assert assistant.ask("https://arxiv.org/abs/2410.13861 讲了什么？").language == "zh"


def test_english_digests_are_not_said_to_be_quoted_in_chinese(tmp_path: Path) -> None:
    """Before, every extractive answer began "From the digests (quoted as written, in
    Chinese):", also when the quoted sentence came from a digest written in English."""
    digests = tmp_path / "digests"
    digests.mkdir()
    write_digest(
        digests / "en.md",
        [
            (
                "2501.01001",
                "TideFormer: Transformers for Tidal Forecasting",
                "TideFormer forecasts coastal tides with a transformer. "
                "It reduces mean absolute error by 29% against harmonic analysis.",
            ),
            ("2501.01002", "FrostNet: Tiny Denoisers", "FrostNet 是一个只有 42K 参数的去噪网络。"),
        ],
    )
    with Assistant(index_dir=tmp_path / "index", seeds_dir=digests, llm_enabled=False) as a:
        english = a.ask("By how much does TideFormer reduce mean absolute error?")
        chinese = a.ask("How many parameters does FrostNet have?")
        prompts = a.settings.prompts_dir
    assert english.citations[0].paper_id == "2501.01001" and "29%" in english.text
    assert english.text.startswith(message(prompts, "en", "extractive_lead_plain") + " ")
    assert chinese.citations[0].paper_id == "2501.01002" and "42K" in chinese.text
    assert chinese.text.startswith(message(prompts, "en", "extractive_lead") + " ")


def test_a_plural_gpu_and_a_change_in_steps_are_what_the_digest_states(
    index_copy: Path, tmp_path: Path
) -> None:
    """A corpus maintainer's own digests: "How many H100s did FlashKV use?" was refused as
    "never mentions FlashKV, H100s together" over "实验在 4 张 H100 GPU 上完成", and "训练步数
    减少了 25%" as stating no number of training steps."""
    digests = tmp_path / "digests"
    digests.mkdir()
    write_digest(
        digests / "lab.md",
        [
            (
                "2411.01234",
                "FlashKV: Compressing the KV Cache",
                "FlashKV 压缩长上下文推理的 KV 缓存。实验在 4 张 H100 GPU 上完成。",
            ),
            (
                "2411.01235",
                "Curriculum RLHF: Easy Prompts First",
                "我们按难度排列 RLHF 的提示。与随机顺序相比，训练步数减少了 25%。",
            ),
            # A sentence the digest says twice was quoted twice.
            (
                "2411.01236",
                "GeoReason: Geometry Problems for LLMs",
                "GeoReason 收集了几何推理题。在困难子集上，GPT-4o 的准确率为 77.7%。"
                "我们分析了错误类型。在困难子集上，GPT-4o 的准确率为 77.7%。",
            ),
        ],
    )
    # Beside the seeds, as a maintainer adds them: the gate is fitted on a real collection.
    with Assistant(index_dir=index_copy, seeds_dir=SEEDS, llm_enabled=False) as a:
        a.ingest([digests], progress=False)
        gpus = a.ask("How many H100s did FlashKV use?")
        steps = a.ask("By how much did curriculum RLHF reduce training steps?")
        steps_zh = a.ask("课程式 RLHF 的训练步数减少了多少？")
        twice = a.ask("GeoReason 中 GPT-4o 的准确率是多少？")
    assert twice.text.count("77.7%") == 1, twice.text
    assert not gpus.refused and "4 张 H100" in gpus.text, gpus.notices
    for answer in (steps, steps_zh):
        assert not answer.refused and "25%" in answer.text, answer.notices


@pytest.mark.parametrize(
    "question",
    ["What method does SAM2Long use to avoid error accumulation?", "哪些论文研究了大模型的量化？"],
)
def test_each_source_shows_the_passage_its_quotes_come_from(
    assistant: Assistant, question: str
) -> None:
    """SAM2Long's digest has two chunks. Before, its source card showed the one retrieval ranked
    best ("值得注意的是，SAM2Long 在所有 24 个…"), which holds neither quoted sentence."""
    answer = assistant.ask(question)
    assert not answer.refused
    quoted = 0
    for line in answer.text.splitlines()[1:]:
        m = re.match(r"- \*\*.*\*\* \[(\d+)\][：:]\s*(.+)$", line) or re.match(
            r"(?P<s>.+?)\s*\[(\d+)\]$", line
        )
        if m is None:
            continue
        n, said = (
            (int(m.group(1)), m.group(2))
            if line.startswith("- ")
            else (int(m.group(2)), m.group(1))
        )
        assert said.strip() in answer.sources[n - 1].text, (n, said)
        quoted += 1
    assert quoted >= 2


@pytest.mark.parametrize(
    ("question", "held"),
    [
        ("《Attention Is All You Need》这篇论文提出了什么？", False),
        ("《Segment Anything》讲了什么？", False),
        ("《PUMA》这篇论文提出了什么？", True),  # a short name
        ("《视频生成与世界模型》这篇论文讲了什么？", True),  # a shortened Chinese title
        ("What does 《Give Me BF16 or Give Me Death》 find?", True),
    ],
)
def test_a_title_in_book_marks_that_no_paper_has_is_refused(
    assistant: Assistant, question: str, held: bool
) -> None:
    """《…》 marks a work's title: a paper the index does not hold was answered from others
    once "这篇" stopped counting as a word of the question (the gate read the English title's
    words as unknown, but two are too few for that rule)."""
    answer = assistant.ask(question)
    assert answer.refused is not held, answer.text
    said = [n for n in answer.notices if "索引中没有题为" in n]
    assert bool(said) is not held, answer.notices


def test_a_list_of_papers_punctuates_in_the_answers_language(assistant: Assistant) -> None:
    """An English list put a full-width "：" after each English title."""
    for question, colon in (
        ("Which papers are about web agents?", "]: "),
        ("哪些论文研究网络智能体？", "]："),
    ):
        items = [ln for ln in assistant.ask(question).text.splitlines() if ln.startswith("- **")]
        assert len(items) > 1 and all(colon in ln for ln in items), items


def test_how_many_quotes_the_number_that_counts_what_is_asked(assistant: Assistant) -> None:
    """From the README user test: "How many VLMs were evaluated on NaturalBench?" quoted the
    sentence with 10,000 samples and not the one with 53 VLMs (the Chinese question got it)."""
    answer = assistant.ask("How many VLMs were evaluated on NaturalBench?")
    assert "评估了 53 个最先进的 VLMs" in answer.text, answer.text


def test_a_question_writing_out_a_title_is_about_that_paper(tmp_path: Path) -> None:
    """From the own-digests user test: "Lost in the Middle 发现了什么规律？" of an English digest
    was refused (support 0.10): the gate, fitted on Chinese digests, saw no Chinese word of
    the question in it. Writing out the title names the paper, as its arXiv id does."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    english = [
        (
            "2307.03172",
            "Lost in the Middle: How Language Models Use Long Contexts",
            "Performance is highest when the relevant information is at the beginning or end "
            "of the input context, and degrades when models must use information in the middle.",
        ),
        (
            "2005.11401",
            "Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks",
            "RAG combines a parametric seq2seq model with a dense vector index of Wikipedia.",
        ),
        (
            "2305.16291",
            "Voyager: An Open-Ended Embodied Agent with Large Language Models",
            "Voyager explores Minecraft with an automatic curriculum and a skill library.",
        ),
    ]
    write_digest(seeds / "d.md", english)
    with Assistant(index_dir=tmp_path / "index", seeds_dir=seeds, llm_enabled=False) as a:
        answer = a.ask("Lost in the Middle 发现了什么规律？")
        assert not answer.refused and answer.citations[0].paper_id == "2307.03172"
        assert "beginning or end" in answer.text
        # A detail the digest lacks is still refused.
        assert a.ask("Lost in the Middle 的学习率是多少？").refused


@pytest.mark.parametrize(
    ("question", "refused"),
    [
        ("SAM2Long 每帧保留多少条分割路径？", True),  # "固定数量的分割路径": no number
        ("AndroidLab 覆盖了多少个应用？", False),  # "九个应用": a number in words
        ("UCFE 的用户研究有多少名参与者？", False),
        ("How many VLMs were evaluated on NaturalBench?", False),
    ],
)
def test_how_many_of_something_the_digest_never_counts_is_refused(
    assistant: Assistant, question: str, refused: bool
) -> None:
    """From the README user test: "SAM2Long 每帧保留多少条分割路径？" was answered with two
    sentences and no number; its digest keeps "a fixed number of segmentation pathways"."""
    answer = assistant.ask(question)
    assert answer.refused is refused, answer.text
    said = [n for n in answer.notices if "的数量" in n or "never gives a number" in n]
    assert bool(said) is refused, answer.notices


def _mixed_corpus(tmp_path: Path) -> Path:
    """English digests beside a Chinese one, as the eval user test's own digests were."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    english = [
        (
            "2501.09012",
            "VideoQA-Mini: A Tiny Model for Long Video Question Answering",
            "VideoQA-Mini is a 1.5B-parameter video language model that answers questions about "
            "hour-long videos. On the EgoSchema benchmark it scores 58.3%, close to models five "
            "times its size. Training used 32 A100 GPUs for 3 days.",
        ),
        (
            "2501.07890",
            "RAG-Guard: Detecting Poisoned Documents in Retrieval-Augmented Generation",
            "RAG-Guard detects adversarially inserted documents in a retrieval corpus before they "
            "reach the generator. On the PoisonedRAG benchmark it detects 96% of poisoned "
            "passages. The method adds about 120 ms of latency per query.",
        ),
        (
            "2501.03456",
            "HumanoidWalk: Sim-to-Real Locomotion for Full-Size Humanoids",
            "We present HumanoidWalk, a reinforcement learning recipe for training humanoid robots "
            "to walk. Training runs in Isaac Gym with 4,096 parallel environments and takes 6 "
            "hours on a single RTX 4090. The policy walks on grass, gravel and stairs.",
        ),
    ]
    chinese = [
        (
            "2501.04567",
            "SparseMoE-Lite: Efficient Mixture-of-Experts Inference on Consumer GPUs",
            "SparseMoE-Lite 通过专家缓存与预测性预取，使 470 亿参数的混合专家模型可以在单张 24GB "
            "显存的显卡上运行。与 DeepSpeed-MoE 的卸载方案相比，解码速度提升 3.1 倍。",
        ),
        (
            "2501.01234",
            "GraspNet-Zero: Zero-Shot Robotic Grasping with Language Priors",
            "本文提出 GraspNet-Zero，无需真实抓取数据即可完成抓取。在 YCB 物体集上抓取成功率达到 "
            "78.4%。实验使用 Franka Panda 机械臂完成。",
        ),
    ]
    write_digest(seeds / "en.md", english)
    write_digest(seeds / "zh.md", chinese)
    return seeds


@pytest.mark.parametrize(
    ("question", "paper", "quoted"),
    [
        # Chinese questions about English digests: their Chinese words cannot be in them.
        ("VideoQA-Mini 在 EgoSchema 上得分多少？", "2501.09012", "58.3%"),
        ("RAG-Guard 每次查询增加多少延迟？", "2501.07890", "120 ms"),
        # A GPU named by its model only.
        ("What GPU was HumanoidWalk trained on?", "2501.03456", "RTX 4090"),
        # 47B is the digest's 470 亿.
        ("Which paper runs a 47B MoE model?", "2501.04567", "470 亿"),
    ],
)
def test_what_own_digests_state_is_answered(
    tmp_path: Path, question: str, paper: str, quoted: str
) -> None:
    """From the eval user test: on their own digests a third of the answerable questions were
    refused, two with notices the digest contradicts ("do not state the GPUs used" of a digest
    saying RTX 4090; "never mention 47B" of one saying 470 亿参数)."""
    seeds = _mixed_corpus(tmp_path)
    with Assistant(index_dir=tmp_path / "index", seeds_dir=seeds, llm_enabled=False) as a:
        answer = a.ask(question)
        assert not answer.refused, (answer.text, answer.notices)
        assert answer.citations[0].paper_id == paper and quoted in answer.text, answer.text


def test_what_own_digests_do_not_state_is_still_refused(tmp_path: Path) -> None:
    seeds = _mixed_corpus(tmp_path)
    with Assistant(index_dir=tmp_path / "index", seeds_dir=seeds, llm_enabled=False) as a:
        answer = a.ask("Which paper runs a 48B MoE model?")
        assert answer.refused and any("48B" in n for n in answer.notices), answer.notices
        assert a.ask("GraspNet-Zero 用的是什么 GPU？").refused  # a Chinese digest without one
        assert a.ask("HumanoidWalk 的作者是谁？").refused
        assert a.ask("如何做红烧肉？").refused


@pytest.mark.parametrize(
    ("question", "answered", "quoted"),
    [
        # No digest of these says anything of code: before, their opening sentences were quoted.
        ("SpectroMotion 的代码开源了吗？", False, ""),
        ("Is the code of SpectroMotion released?", False, ""),
        ("Where can I find the MIA-DPO code?", False, ""),
        # DimensionX's: OpenCoder came too, for 代码 in its title.
        ("DimensionX 的代码开源了吗？", False, ""),
        ("Is the code of SAM2Long released?", True, "github.com/Mark12Ding/SAM2Long"),
        ("AndroidLab 开源了吗？", True, "AndroidLab 已开源"),
    ],
)
def test_whether_the_code_is_out_is_answered_only_from_a_digest_that_says(
    assistant: Assistant, question: str, answered: bool, quoted: str
) -> None:
    """From the UI user test: "Is the code released?" got a paper's general sentences."""
    answer = assistant.ask(question)
    assert answer.refused is not answered, answer.text
    if answered:
        assert quoted in answer.text, answer.text
    else:
        said = message(assistant.settings.prompts_dir, answer.language, "measure_code")
        assert any(said in n for n in answer.notices), answer.notices
    # "开源 VLM" is an open model, not a paper's code: the question about those is not checked.
    others = assistant.ask("哪些论文评测了开源模型？")
    code = message(assistant.settings.prompts_dir, "zh", "measure_code")
    assert not any(code in n for n in others.notices), others.notices


@pytest.mark.parametrize("question", ["它用了哪些数据集?", "Is its code released?", "第二篇呢？"])
def test_a_first_question_pointing_back_asks_which_paper(
    assistant: Assistant, question: str
) -> None:
    """From the UI user test: "它用了哪些数据集?" in a new chat quoted sentences with 数据集 in
    them from ScaleQuest, Pangea and Agent K."""
    answer = assistant.ask(question)
    key = "no_antecedent"
    assert answer.refused and not answer.citations
    assert answer.text == message(assistant.settings.prompts_dir, answer.language, key)
    # A name of its own, or a whole question: not pointing back.
    assert not assistant.ask("SAM2Long 是什么？它用了哪些数据集？").refused
    assert not assistant.ask("Is it possible to segment long videos without training?").refused
    # A topic named before 那篇 picks the paper (asked which paper, in the chat UI user test).
    kaggle = assistant.ask("Kaggle 那篇论文的智能体叫什么？")
    assert not kaggle.refused and cited(kaggle)[0] == "2411.03562"


@pytest.mark.parametrize(
    ("questions", "says"),
    [
        (("SAM2Long 是做什么的？", "第二篇呢？"), "上一个回答只引用了 1 篇论文"),
        (("What is UCFE?", "the other one?"), "The last answer cited only one paper"),
    ],
)
def test_a_position_past_the_last_list_is_said_to_be(
    assistant: Assistant, questions: tuple[str, ...], says: str
) -> None:
    """From the UI and API user tests: "第二篇呢？" after an answer citing one paper repeated
    it; "the other one?" cited CompassJudger-1 and OpenCoder."""
    answers = chat(assistant, *questions)
    assert answers[-1].refused and says in answers[-1].text, answers[-1].text
    # After a list, the position is read in it.
    listed = chat(assistant, "Which papers study GUI or web agents?", "第二篇呢？")
    assert not listed[-1].refused and listed[-1].citations[0].paper_id == cited(listed[0])[1]


def test_an_elliptical_follow_up_asking_a_figure_is_checked_like_the_full_question(
    assistant: Assistant,
) -> None:
    """From the API user test: "它的训练成本呢?" after WebRL quoted its opening sentences,
    while "它的训练成本是多少?" was refused with the notice that no cost is given."""
    for follow_up in ("它的训练成本呢?", "and the GPUs?"):
        answers = chat(assistant, "WebRL 是什么?", follow_up)
        assert answers[-1].refused and answers[-1].notices, answers[-1].text
    # A training cost given in compute is a cost: "在单台 8 倍 A800 GPU 设备上…训练 16 小时".
    answers = chat(assistant, "LOGO 是怎么解决长序列显存瓶颈的？", "训练成本呢？")
    assert not answers[-1].refused and "训练 16 小时" in answers[-1].text, answers[-1].text


def test_a_name_of_two_capitalised_words_names_its_paper(tmp_path: Path) -> None:
    """From the API user test: "When was Lost Keys published?" was refused ("do not state when
    it was released"), though the arXiv id of "Lost Keys: Retrieval Failures in Long
    Documents" gives the month, as it does for SAM2Long."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    write_digest(
        seeds / "d.md",
        [
            ("2504.11111", "Lost Keys: Retrieval Failures in Long Documents",
             "我们研究语言模型为何找不到放在长文档中间的事实，准确率从 91% 降到 47%。"),
            ("2501.00002", "Large Language Models: A Survey of Gadgets",
             "这篇综述回顾了 212 篇关于小工具学习的论文。"),
        ],
    )  # fmt: skip
    with Assistant(index_dir=tmp_path / "index", seeds_dir=seeds, llm_enabled=False) as a:
        answer = a.ask("When was Lost Keys published?")
        assert not answer.refused and "April 2025" in answer.text, answer.text
        assert a.search("When was Lost Keys published?", k=1)[0].named
        # The field's own words name no paper: "Large Language Models" is not the survey's name.
        found = a.search("How do Large Language Models retrieve facts?", k=2)
        assert not any(s.named for s in found)
