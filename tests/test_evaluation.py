"""Grounding evals: metric arithmetic, the offline judge against its labels, the LLM judge over
a real loopback OpenAI-protocol server, the retrieval baselines, the CLI report, and the CI
fast slice held to the floors in eval/floors.json."""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

import pytest
from openai_server import Reply, ScriptedOpenAIServer

from assistant import Assistant
from assistant.assistant import AssistantError
from assistant.evaluation import metrics as M
from assistant.evaluation.arguments import FAST_IDS, add_arguments
from assistant.evaluation.baselines import (
    BM25Retriever,
    DenseRetriever,
    LlamaIndexRetriever,
    PipelineRetriever,
)
from assistant.evaluation.judge import (
    GIVE_UP_AFTER,
    JudgeError,
    LLMJudge,
    OfflineJudge,
    Passage,
    agreement,
    load_labels,
    mispaired_numbers,
    missing_numbers,
    parse_verdict,
)
from assistant.evaluation.report import category_bars
from assistant.evaluation.run import (
    CATEGORIES,
    boilerplate,
    check_floors,
    check_gold,
    gold_problems,
    key_fact_problems,
    load_floors,
    load_questions,
    overridden,
    parse_overrides,
    run_eval,
    run_from_args,
    select_questions,
)
from assistant.prompt import message
from assistant.records import Source
from assistant.settings import Settings

REPO = Path(__file__).resolve().parent.parent


# --- retrieval metrics --------------------------------------------------------------------------


def test_mrr_of_ranks_one_two_none() -> None:
    gold = [["a"], ["a"], ["a"]]
    retrieved = [["a", "b"], ["x", "a"], ["x", "y"]]  # first gold at rank 1, 2, never
    got = M.mrr(retrieved, gold)
    assert got["individual_scores"] == [1.0, 0.5, 0.0]
    assert got["score"] == pytest.approx((1 + 0.5 + 0) / 3)


def test_hit_and_recall_at_k() -> None:
    retrieved = [["a", "b", "c"], ["x", "y", "a"], ["x", "y", "z"]]
    gold = [["a"], ["a"], ["a"]]
    assert M.hit_at_k(retrieved, gold, 1)["individual_scores"] == [1.0, 0.0, 0.0]
    assert M.hit_at_k(retrieved, gold, 3)["score"] == pytest.approx(2 / 3)
    # Three gold papers, one in the top 2 and two in the top 4.
    multi = M.recall_at_k([["a", "x", "b", "y"]], [["a", "b", "c"]], 2)
    assert multi["score"] == pytest.approx(1 / 3)
    assert M.recall_at_k([["a", "x", "b", "y"]], [["a", "b", "c"]], 4)["score"] == pytest.approx(
        2 / 3
    )


def test_ndcg_at_k() -> None:
    # Gold a, b at ranks 2 and 3: DCG = 1/log2(3) + 1/log2(4); ideal = 1/log2(2) + 1/log2(3).
    got = M.ndcg_at_k([["x", "a", "b"]], [["a", "b"]], 3)["score"]
    assert got == pytest.approx((1 / math.log2(3) + 1 / 2) / (1 + 1 / math.log2(3)))
    assert M.ndcg_at_k([["a", "b", "x"]], [["a", "b"]], 3)["score"] == pytest.approx(1.0)
    assert M.ndcg_at_k([["x", "y"]], [["a"]], 2)["score"] == 0.0


def test_empty_inputs_score_nan() -> None:
    assert math.isnan(M.hit_at_k([], [], 1)["score"])
    assert M.refusal_accuracy([])["individual_scores"] == []


# --- answer correctness and refusal --------------------------------------------------------------


def test_answer_correctness_normalises_width_case_and_spaces() -> None:
    answers = [
        "涉及 ８０４ 名参与者，使用 masked video  fine-tuning。",  # full-width digits, case, spaces
        "涉及 1804 名参与者。",  # 804 inside a longer number is not the fact
        "使用 Masked Video Fine-Tuning。",  # one of two facts
        "涉及 804 名参与者。",  # refused: counts 0 even though the text has the fact
    ]
    facts = [["804", "Masked Video Fine-Tuning"], ["804"]] + [
        ["804", "Masked Video Fine-Tuning"]
    ] * 2
    got = M.answer_correctness(answers, facts, [False, False, False, True])
    assert got["individual_scores"] == [1.0, 0.0, 0.5, 0.0]
    assert got["score"] == pytest.approx(1.5 / 4)
    assert M.fact_present("颜色 > 大小 > 速度", "优先考虑：颜色>大小>速度>形状")
    assert not M.fact_present("4.8", "从 4.85 提高")
    # A number ends where a space does: "A800 80GB" holds A800 (an eval user test).
    assert M.fact_present("A800", "使用8或32个A800 80GB")
    assert M.fact_present("32 A800", "on 32 A800 80GB GPUs")
    assert not M.fact_present("A800", "使用 A8000 显卡")


def test_refusal_accuracy_and_false_refusal_rate() -> None:
    assert M.refusal_accuracy([True, False, True, True])["score"] == pytest.approx(0.75)
    assert M.false_refusal_rate([False, True, False, False])["score"] == pytest.approx(0.25)


# --- statements and ALCE citation arithmetic -----------------------------------------------------


def test_split_statements_attaches_markers_and_drops_leads() -> None:
    text = (
        "From the digests: Some Title [1]\n\n"
        "首先，我们进行了一项涉及 804 名参与者的用户研究。 [1]\n"
        "- **NaturalBench** [2]：包含 10,000 个样本。\n"
        "Claim one [1]. [3] Claim two about GPT-4o [2, 3]."
    )
    got = M.split_statements(text, ["From the digests:"])
    assert [(s.text, s.markers) for s in got] == [
        ("首先，我们进行了一项涉及 804 名参与者的用户研究。", [1]),
        ("NaturalBench：包含 10,000 个样本。", [2]),
        ("Claim one.", [1, 3]),  # a marker run opening a sentence closes the one before
        ("Claim two about GPT-4o.", [2, 3]),
    ]


class KeywordJudge:
    """A transparent judge for arithmetic tests: supported iff every word of the claim occurs
    in the cited passages together."""

    name = "keyword"

    def supports(self, claim: str, passages: list[Passage]) -> bool:
        have = {w for p in passages for w in p.text.split()}
        return bool(passages) and set(re.findall(r"[a-z]+", claim)) <= have


def test_citation_recall_precision_faithfulness_alce() -> None:
    passages = {1: Passage("alpha beta"), 2: Passage("gamma delta"), 3: Passage("alpha gamma")}
    answer = "\n".join(
        [
            "alpha beta [1]",  # supported by [1]; [1] precise
            "alpha gamma [1][2]",  # needs both: both precise
            "beta [1][2]",  # [1] alone suffices, [2] adds nothing: [2] imprecise
            "epsilon [3]",  # unsupported: [3] imprecise
            "delta",  # no citation: not citation-supported, but faithful to [2]
            "zeta [7]",  # [7] points to no source: counted apart, not judged
        ]
    )
    check = M.check_answer(answer, passages, KeywordJudge())
    assert [s.supported for s in check.statements] == [True, True, True, False, False, False]
    assert check.citation_recall == pytest.approx(3 / 6)
    assert check.n_citations == 6
    assert check.citation_precision == pytest.approx(4 / 6)  # 1 + 2 + 1 + 0 of 6
    assert check.faithfulness == pytest.approx(4 / 6)
    assert check.out_of_range == 1
    assert M.citation_precision([check, check])["score"] == pytest.approx(4 / 6)
    none_cited = M.check_answer("alpha beta", passages, KeywordJudge())
    assert none_cited.citation_recall == 0.0 and none_cited.citation_precision == 0.0


def test_out_of_range_markers_in_generated_text() -> None:
    got = M.out_of_range_markers(["a [1] b [5] c [2, 6]", "x [1]"], [4, 1])
    assert got["individual_scores"] == [2.0, 0.0]


# --- offline judge -------------------------------------------------------------------------------


def test_numbers_must_match() -> None:
    passage = "首先，我们进行了一项涉及 804 名参与者的用户研究。"
    assert missing_numbers("The UCFE user study involved 840 participants.", passage) == [840.0]
    assert missing_numbers("The study had 804 participants.", passage) == []
    # Units: 6 million is 600 万; 12M is 1200 万; digits inside names are not quantities.
    assert (
        missing_numbers("6 million instructions in 39 languages", "39 种语言的 600 万条指令") == []
    )
    assert missing_numbers("1200 万的批量规模", "以4M或12M的批量规模训练CLIP-ViT-L/14模型") == []
    assert missing_numbers("GPT-4o and W8A8-FP", "GPT-4o 与 W8A8-FP") == []
    assert missing_numbers("在十个数据集上", "在七个通用数据集上") == [10.0]
    swapped = "PyramidDrop 将 LLaVA-NeXT 的训练时间加速 55%,推理 FLOPs 加速 40%。"
    source = "PyramidDrop 可以将 LLaVA-NeXT 的训练时间加速 40%，推理 FLOPs 加速 55%。"
    assert sorted(mispaired_numbers(swapped, source)) == [40.0, 55.0]
    assert mispaired_numbers(source, source) == []


@pytest.fixture(scope="module")
def offline_judge(assistant: Assistant) -> OfflineJudge:
    return OfflineJudge(assistant.index.embed)


@pytest.fixture(scope="module")
def titles(assistant: Assistant) -> dict[str, str]:
    return {p["paper_id"]: f"{p['title']}\n{p['title_zh']}" for p in assistant.papers()}


def test_offline_judge_agrees_with_labels(offline_judge: OfflineJudge, titles: dict) -> None:
    floors = load_floors()["judge_agreement"]
    report = agreement(offline_judge, load_labels(titles))
    print(f"offline judge agreement {report['accuracy']:.3f}", report["by_kind"])
    assert report["n"] == 109
    assert report["accuracy"] >= floors["min"]
    # Supported claims (verbatim, paraphrase, translation) must stay recognised: a judge that
    # rejects true claims would make every faithfulness number look worse than it is.
    for kind in ("verbatim", "paraphrase", "translation"):
        assert report["by_kind"][kind]["accuracy"] >= floors["supported_kinds_min"], kind
    assert report["by_kind"]["wrong_number"]["accuracy"] >= floors["wrong_number_min"]


def test_offline_judge_catches_a_citation_to_the_wrong_paper(
    assistant: Assistant, offline_judge: OfflineJudge
) -> None:
    ans = assistant.ask("How many participants took part in the UCFE user study?")
    assert not ans.refused and ans.sources[0].paper_id == "2410.14059"
    other = assistant.search("PyramidDrop visual token redundancy", k=1)[0]
    assert other.paper_id != "2410.14059"

    def passage(src: Source) -> Passage:
        sv = assistant.index.sentence_vectors([src.paper_id])[src.paper_id]
        title = f"{src.title}\n{src.title_zh}"
        return Passage(" ".join(sv.texts), title, src.paper_id, tuple(sv.texts))

    leads = boilerplate(assistant.settings.prompts_dir)
    right = M.check_answer(ans.text, {1: passage(ans.sources[0])}, offline_judge, leads)
    wrong = M.check_answer(ans.text, {1: passage(other)}, offline_judge, leads)
    # The quoted sentences are the claims; the lead line naming the papers is not one.
    quoted = [ln.rsplit(" [", 1)[0] for ln in ans.text.splitlines()[1:] if ln.strip()]
    assert quoted and [st.text for st in right.statements] == quoted
    assert right.citation_precision == 1.0 and right.faithfulness == 1.0
    assert wrong.citation_precision == 0.0 and wrong.citation_recall == 0.0


def test_every_answer_lead_is_boilerplate_not_a_claim(assistant: Assistant) -> None:
    """The lead an answer quoting English digests starts with ("From the digests:") was
    missing, so its line of titles was judged as a claim."""
    leads = boilerplate(assistant.settings.prompts_dir)
    for lang in ("en", "zh"):
        for key in ("extractive_lead", "extractive_lead_plain", "multi_lead"):
            lead = message(assistant.settings.prompts_dir, lang, key)
            line = f"{lead} PUMA: Empowering Unified MLLM [1]"
            assert M.split_statements(line, leads) == [], (lang, key)


# --- LLM judge over a real loopback server -------------------------------------------------------


def test_llm_judge_parses_verdicts_over_http() -> None:
    replies = [
        "SUPPORTED",
        "UNSUPPORTED",
        " supported.",
        "NOT SUPPORTED",
        "**Unsupported**",
        "maybe",
    ]
    with ScriptedOpenAIServer([Reply(text=t) for t in replies]) as server:
        settings = Settings(llm_base_url=server.base_url, llm_max_retries=0, llm_model="judge-m")
        judge = LLMJudge.from_settings(settings)
        assert judge.name == "llm:judge-m"
        passage = Passage("首先，我们进行了一项涉及 804 名参与者的用户研究。", "UCFE", "2410.14059")
        got = [judge.supports(f"claim {i}", [passage]) for i in range(5)]
        assert got == [True, False, True, False, False]
        with pytest.raises(JudgeError):
            judge.supports("claim 5", [passage])
        sent = server.requests[0]["messages"][-1]["content"]
        assert "claim 0" in sent and "804 名参与者" in sent and "UCFE" in sent
        assert "SUPPORTED or UNSUPPORTED" in sent  # the rubric of prompts/judge.md


def test_llm_judge_stops_calling_a_server_that_keeps_failing() -> None:
    """Eval user test: a judge whose server was down made ~234 calls for 5 questions. After
    GIVE_UP_AFTER failures in a row it makes none; a verdict in between resets the count."""
    passage = Passage("首先，我们进行了一项涉及 804 名参与者的用户研究。", "UCFE", "2410.14059")
    script = [Reply(status=500), Reply(status=500), Reply(text="SUPPORTED")]
    script += [Reply(status=503)] * 10
    with ScriptedOpenAIServer(script) as server:
        judge = LLMJudge.from_settings(Settings(llm_base_url=server.base_url, llm_max_retries=0))
        got: list[bool | str] = []
        for i in range(8):
            try:
                got.append(judge.supports(f"claim {i}", [passage]))
            except JudgeError as exc:
                got.append(str(exc))
        assert len(server.requests) == 3 + GIVE_UP_AFTER
    assert got[2] is True and all(isinstance(g, str) for g in got[:2] + got[3:])
    assert judge.gave_up is not None and judge.gave_up in got[-1]
    assert f"stopped after {GIVE_UP_AFTER} failed calls in a row" in judge.gave_up


def test_llm_judge_in_an_eval_run_is_named_in_the_report(
    assistant: Assistant, tmp_path: Path
) -> None:
    # Every claim gets "UNSUPPORTED": the pipeline's answers then score 0 on citation metrics,
    # and the report must say those numbers came from the LLM judge.
    with ScriptedOpenAIServer(lambda body: Reply(text="UNSUPPORTED")) as server:
        judge = LLMJudge.from_settings(Settings(llm_base_url=server.base_url, llm_max_retries=0))
        qs = [q for q in load_questions() if q.id in ("q001", "q104")]
        run = run_eval(assistant, qs, judge=judge, judge_agreement=False, progress=False)
        assert len(server.requests) > 0
    assert run.judge["name"] == judge.name
    assert run.headline["citation_precision"] == 0.0
    assert run.headline["faithfulness"] == 0.0
    from assistant.evaluation.report import summary_markdown

    assert f"support judge: `{judge.name}`" in summary_markdown(run)
    # A count, not a rate: it read "0.000" (eval user test).
    assert "| out_of_range_markers | 0 |" in summary_markdown(run)


def test_an_llm_run_counts_the_answers_the_claim_check_flagged(index_copy: Path) -> None:
    """A scripted model that invents a number for UCFE (840 for 804) and answers the other
    question faithfully: the run counts one flagged answer and keeps the flag per question."""

    def reply(body: dict) -> Reply:
        prompt = str(body["messages"][-1]["content"])
        n = re.search(r'<source id="(\d+)" arxiv="2410.14059"', prompt)
        if "UCFE" in prompt.rsplit("Question:", 1)[-1] and n:
            return Reply(text=f"The UCFE user study had 840 participants [{n.group(1)}].")
        n = re.search(r'<source id="(\d+)" arxiv="2410.13232"', prompt)
        return Reply(text=f"WMA 在 WebArena 和 Mind2Web 上做了实验 [{n.group(1) if n else 1}]。")

    qs = [q for q in load_questions() if q.id in ("q001", "q002")]
    with (
        ScriptedOpenAIServer(reply) as server,
        Assistant(
            index_dir=index_copy, llm_base_url=server.base_url, llm_model="m", llm_max_retries=0
        ) as llm_assistant,
    ):
        judge = OfflineJudge(llm_assistant.index.embed)
        run = run_eval(llm_assistant, qs, judge=judge, judge_agreement=False, progress=False)
    by_id = {r["id"]: r["answer"] for r in run.questions}
    assert [c["missing"] for c in by_id["q001"]["unsupported"]] == [["840"]]
    assert by_id["q002"]["unsupported"] == [] and by_id["q002"]["mode"] == "llm"
    assert run.summary["overall"]["unsupported_answers"] == 1
    from assistant.evaluation.report import summary_markdown

    assert "`results.json`): 1" in summary_markdown(run)


def test_parse_verdict_chinese_and_errors() -> None:
    assert parse_verdict("支持") is True
    assert parse_verdict("不支持") is False
    with pytest.raises(JudgeError):
        parse_verdict("")


# --- baselines -----------------------------------------------------------------------------------


def test_retrievers_rank_papers(assistant: Assistant) -> None:
    q = "WebRL 将 Llama-3.1-8B 在 WebArena-Lite 上的成功率提高到多少?"
    for r in (PipelineRetriever(assistant), BM25Retriever(assistant), DenseRetriever(assistant)):
        ranked = r.rank(q, 5)
        assert 0 < len(ranked) <= 5 and len(set(ranked)) == len(ranked), r.name
        assert "2411.02337" in ranked, r.name


def test_llamaindex_baseline_maps_chunks_to_named_papers(
    assistant: Assistant, tmp_path: Path
) -> None:
    # Three entries of a seed file keep the embedding cheap; default chunking still applies.
    text = (REPO / "seeds" / "000_2feac997ffb58d5c.txt").read_text(encoding="utf-8")
    entries = [e for e in re.split(r"(?m)^(?=## )", text) if e.startswith("## ")][:3]
    small = tmp_path / "small.txt"
    small.write_text("".join(entries), encoding="utf-8")
    ids = re.findall(r"arxiv\.org/abs/(\d{4}\.\d{4,5})", small.read_text(encoding="utf-8"))
    assert "2410.14059" in ids
    r = LlamaIndexRetriever(assistant, files=[small])
    ranked = r.rank("How many participants took part in the UCFE user study?", 5)
    assert r.n_chunks >= 1
    assert ranked[0] == "2410.14059" and set(ranked) <= set(ids)
    assert r.papers_named("no titles here") == []


# --- runner, CLI and floors ----------------------------------------------------------------------


def test_fast_slice_is_fixed_dev_and_covers_every_category() -> None:
    qs = select_questions(load_questions(), fast=True)
    assert [q.id for q in qs] == list(FAST_IDS) and len(qs) == 40
    assert {q.split for q in qs} == {"dev"}
    assert {q.category for q in qs} == set(CATEGORIES)
    limited = select_questions(load_questions(), "dev", limit=7)
    assert {q.category for q in limited} == set(CATEGORIES)


def test_a_users_question_set_needs_only_question_and_gold(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(
        '{"question": "What is PUMA?", "gold": ["2410.13861"]}\n\n'
        '{"question": "Which papers study agents?", "gold": ["2410.23218", "2410.24024"]}\n'
        '{"question": "What is the boiling point of water?", "answerable": false}\n',
        encoding="utf-8",
    )
    qs = load_questions(path)
    assert [(q.id, q.category, q.answerable, q.split) for q in qs] == [
        ("line1", "single", True, "dev"),
        ("line3", "multi", True, "dev"),
        ("line4", "unanswerable", False, "dev"),
    ]


def test_a_question_set_written_as_one_json_array_is_told_so(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text('[\n{"question": "What is PUMA?", "gold": ["2410.13861"]}\n]\n', "utf-8")
    with pytest.raises(AssistantError, match="one JSON array; a question set is JSONL"):
        load_questions(path)


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ("not json", "mine.jsonl:2: not JSON"),
        ("question,gold", "one JSON object per line"),  # a CSV
        ('["What is PUMA?"]', "mine.jsonl:2: bad question row: expected a JSON object"),
        ('{"gold": ["2410.13861"]}', "missing field 'question'"),
        ('{"question": "What is PUMA?"}', "give 'gold'"),
        ('{"question": "Q", "gold": ["x"], "answerable": "false"}', "true or false"),
        ('{"question": "Q", "gold": "2410.13861"}', "'gold' must be a list"),
        ('{"question": "Q", "gold": ["x"], "answerable": false}', "cannot have 'gold'"),
        ('{"question": "Q", "answerable": true}', "needs its 'gold'"),
        # Before, these said "error: history[0]: …" with no file:line, only when asked.
        (
            '{"question": "And it?", "gold": ["x"], "history": [{"role": "bot", "content": "hi"}]}',
            "mine.jsonl:2: bad question row: history[0]: role must be 'user' or 'assistant'",
        ),
        ('{"question": "Q", "gold": ["x"], "history": {"role": "user"}}', "'history' must be"),
        # Before, accepted: the misspelt key was ignored, the category defaulted silently.
        (
            '{"question": "Q", "gold": ["x"], "catgory": "multi"}',
            "mine.jsonl:2: bad question row: unknown key 'catgory' (did you mean 'category'?)",
        ),
        (
            '{"id": "line1", "question": "Q", "gold": ["x"]}',
            "mine.jsonl:2: bad question row: duplicate id 'line1' (first on line 1)",
        ),
    ],
)
def test_a_bad_question_row_names_its_line_and_reason(tmp_path: Path, row: str, says: str) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text('{"question": "What is PUMA?", "gold": ["2410.13861"]}\n' + row + "\n")
    with pytest.raises(AssistantError, match=re.escape(says)):
        load_questions(path)


def test_a_question_set_is_read_with_a_bom_normalised_gold_and_inferred_lang(
    tmp_path: Path,
) -> None:
    """Before: a BOM was 'not JSON', "arXiv:2501.01111v2" never matched the index's
    "2501.01111", and a row without lang was left out of the by-language table."""
    path = tmp_path / "mine.jsonl"
    rows = [
        '{"question": "What is PUMA?", "gold": ["arXiv:2410.13861v2"], "split": "test"}',
        '{"question": "PUMA 是什么？", "gold": ["https://arxiv.org/abs/2410.13861"]}',
        '{"question": "Q", "gold": ["ARXIV: 2410.13861", "2410.13861v1"], "lang": "en"}',
    ]
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(rows).encode("utf-8"))
    qs = load_questions(path)
    assert [q.gold for q in qs] == [["2410.13861"]] * 3  # one id, written three ways, once
    assert [q.lang for q in qs] == ["en", "zh", "en"]
    assert qs[0].split == "test" and qs[1].where == f"{path}:2"


@pytest.mark.parametrize("encoding", ["gbk", "utf-16"])
def test_a_question_set_saved_as_gbk_or_utf16_is_read(tmp_path: Path, encoding: str) -> None:
    """From the eval user test: both said "error: UnicodeDecodeError: 'utf-8' codec can't
    decode byte 0xd4 in position 41", naming no file. Digests in these encodings are read."""
    path = tmp_path / "mine.jsonl"
    path.write_bytes('{"question": "PUMA 是什么？", "gold": ["2410.13861"]}\n'.encode(encoding))
    assert [q.question for q in load_questions(path)] == ["PUMA 是什么？"]


def test_a_folder_or_missing_file_as_question_set_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(AssistantError, match=r"a folder, not a question set"):
        load_questions(tmp_path)
    with pytest.raises(AssistantError, match=r"nope\.jsonl: no such question set"):
        load_questions(tmp_path / "nope.jsonl")


def test_an_unknown_lang_or_category_is_warned_about_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(
        '{"question": "What is PUMA?", "gold": ["2410.13861"], "lang": "cn"}\n'
        '{"question": "What is PUMA?", "gold": ["2410.13861"], "category": "singel"}\n',
        encoding="utf-8",
    )
    with pytest.warns(UserWarning) as caught:
        qs = load_questions(path)
    said = [str(w.message) for w in caught]
    assert said == [
        f"{path}:1: lang 'cn' is not one of zh, en; reported as its own language",
        f"{path}:2: category 'singel' is not one of {', '.join(CATEGORIES)}; reported as its "
        "own category",
    ]
    assert [(q.lang, q.category) for q in qs] == [("cn", "single"), ("en", "singel")]


def test_a_key_fact_no_gold_digest_holds_is_reported(assistant: Assistant, tmp_path: Path) -> None:
    """From the eval user test: "87.4%" of a digest saying 78.4% scored 0 without a word."""
    path = tmp_path / "mine.jsonl"
    path.write_text(
        '{"question": "UCFE 的用户研究有多少名参与者？", "gold": ["2410.14059"], '
        '"key_facts": ["804", "840"]}\n',
        encoding="utf-8",
    )
    qs = load_questions(path)
    texts = assistant.index.paper_texts(["2410.14059"])
    assert key_fact_problems(qs, texts) == [
        f"{path}:1: key fact '840' is in none of its gold papers' digests; a quoted "
        "(extractive) answer never has it"
    ]


def test_gold_ids_are_checked_against_the_index(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(
        '{"question": "What is PUMA?", "gold": ["2410.13861"]}\n'
        '{"question": "Which two?", "gold": ["2410.13861", "2599.99999"]}\n',
        encoding="utf-8",
    )
    qs = load_questions(path)
    assert gold_problems(qs, {"2410.13861"}) == [
        f"{path}:2: gold id 2599.99999 is not in the index; this question scores 0 for it"
    ]
    with pytest.warns(UserWarning, match=r"mine\.jsonl:2: gold id 2599\.99999"):
        check_gold(qs, {"2410.13861"}, "idx")
    with pytest.raises(AssistantError, match=r"none of the 2 gold ids .*wrong index"):
        check_gold(qs, {"2401.00001"}, "idx")


def test_config_overrides_validate_and_restore(assistant: Assistant) -> None:
    with pytest.raises(AssistantError, match="unknown setting"):
        parse_overrides(["no_such_thing=1"])
    with pytest.raises(AssistantError, match="fixed when the index opens"):
        parse_overrides(["index_dir=/tmp/x"])
    before = assistant.settings.bm25_weight
    with overridden(assistant.settings, parse_overrides(["bm25_weight=0.25"])):
        assert assistant.settings.bm25_weight == 0.25
    assert assistant.settings.bm25_weight == before
    with pytest.raises(AssistantError), overridden(assistant.settings, {"top_k": "lots"}):
        pass
    assert assistant.settings.bm25_weight == before


def test_check_floors_reports_misses() -> None:
    floors = {"floors": {"hit@5": {"min": 0.9}, "false_refusal_rate": {"max": 0.2}}}
    assert check_floors({"hit@5": 0.95, "false_refusal_rate": 0.1}, floors) == []
    misses = check_floors({"hit@5": 0.5, "false_refusal_rate": 0.3}, floors)
    assert len(misses) == 2 and "hit@5" in misses[0]
    assert check_floors({"false_refusal_rate": 0.1}, floors) == ["hit@5: not measured"]


def test_cli_eval_writes_a_report(assistant: Assistant, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = tmp_path / "report"
    args = parser.parse_args(
        ["--limit", "7", "--out", str(out), "--quiet", "--no-agreement", "--config", "top_k=3"]
    )
    assert run_from_args(assistant, args) == 0
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert len(data["questions"]) == 7 and data["judge"]["name"] == "offline"
    assert data["meta"]["config"] == {"top_k": "3"} and data["meta"]["settings"]["top_k"] == 3
    assert assistant.settings.top_k == 5  # restored after the run
    assert {q["category"] for q in data["questions"]} == set(CATEGORIES)
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "support judge: `offline`" in summary and "| followup |" in summary
    assert (out / "by_category.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fast_slice_meets_floors(assistant: Assistant, tmp_path: Path) -> None:
    floors = load_floors()
    qs = select_questions(load_questions(), fast=True)
    run = run_eval(assistant, qs, judge_agreement=False, progress=False)
    print(json.dumps(run.headline, indent=1))
    # The plot draws no citation bars for unanswerable questions, as the table shows none (the
    # eval user test saw 1.0 there, for answers that should have been refusals).
    cats, bars = category_bars(run)
    none, single = cats.index("unanswerable"), cats.index("single")
    assert bars["citation precision"][none] is None and bars["faithfulness"][none] is None
    assert bars["refusal (unanswerable)"][none] is not None
    assert bars["citation precision"][single] is not None
    assert run.judge["name"] == floors["judge"]
    failures = check_floors(run.headline, floors)
    assert not failures, "\n".join(failures)


def test_the_unanswerable_row_shows_no_citation_numbers(
    assistant: Assistant, tmp_path: Path
) -> None:
    """From the own-digests user test: the unanswerable row showed cit.prec and faithfulness
    1.000, computed over the answers that should have been refusals, which read as good news."""
    from assistant.evaluation.report import summary_markdown

    path = tmp_path / "mine.jsonl"
    # Labelled unanswerable though the digests answer it: its answer is quoted faithfully.
    path.write_text('{"question": "UCFE 的用户研究有多少名参与者？", "answerable": false}\n')
    run = run_eval(assistant, load_questions(path), judge_agreement=False, progress=False)
    group = run.summary["by_category"]["unanswerable"]
    assert group["faithfulness"] == 1.0  # still in results.json
    [row] = [ln for ln in summary_markdown(run).splitlines() if ln.startswith("| unanswerable |")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    columns = ["category", "n", "hit@1", "hit@5", "R@5", "MRR", "nDCG@5", "facts"]
    columns += ["cit.rec", "cit.prec", "faithful", "refusal", "false ref."]
    shown = dict(zip(columns, cells, strict=True))
    assert shown["cit.prec"] == shown["faithful"] == shown["cit.rec"] == "–"
    assert shown["refusal"] == "0.000"
