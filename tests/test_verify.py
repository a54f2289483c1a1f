"""Claims of a generated answer against the digests its markers cite (assistant/verify.py), on
the seeds' real digests: what passes (paraphrase, translation, unit changes) and what is
flagged (a changed or invented number, a name the digest never uses, a swapped pair)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import SEEDS

from assistant import Assistant
from assistant.assistant import AssistantError
from assistant.parse import parse_paths
from assistant.verify import answer_names, unsupported_claims

UCFE, PANGEA, PYRAMID, LLAMA_QUANT = "2410.14059", "2410.16153", "2410.17247", "2411.02355"


@pytest.fixture(scope="module")
def digests() -> dict[str, str]:
    papers = parse_paths([SEEDS]).papers
    # As the index gives them (PaperIndex.paper_texts).
    return {p.paper_id: f"arXiv {p.paper_id}\n{p.title} {p.title_zh}\n{p.text}" for p in papers}


def flagged(
    text: str, cited: dict[int, str], field_term: Callable[[str], bool] | None = None
) -> list[list[str]]:
    if field_term is None:
        return [c.missing for c in unsupported_claims(text, cited)]
    return [c.missing for c in unsupported_claims(text, cited, field_term)]


@pytest.mark.parametrize(
    "answer",
    [
        "The UCFE user study had 804 participants [1].",
        "UCFE 的用户研究共有 804 名参与者 [1]。",
        # 600 万条 is 6 million; 39 as written; the paper's name in its title.
        "PangeaIns holds 6 million instructions in 39 languages [2].",
        "Pangea's PangeaBench covers 14 datasets in 47 languages [2].",
        "PyramidDrop speeds up LLaVA-NeXT training by 40% and inference FLOPs by 55% [3].",
        # A list's own numbers and an uncited sentence are not claims about a source.
        "1. UCFE: 804 participants [1]\n2. Pangea: 39 languages [2]\nThere were 1000 others.",
        # Two-letter acronyms translate the digests' Chinese terms (大语言模型 → LLMs).
        "UCFE evaluates LLMs on financial tasks with 804 users [1].",
        # "Llama 3.1" is the digest's "Llama-3.1"; FP8 and INT4 as written.
        "It quantizes Llama 3.1 to FP8, INT8 and INT4 over 500,000 evaluations [4].",
    ],
)
def test_faithful_answers_pass(digests: dict[str, str], answer: str) -> None:
    cited = {1: digests[UCFE], 2: digests[PANGEA], 3: digests[PYRAMID], 4: digests[LLAMA_QUANT]}
    assert flagged(answer, cited) == []


@pytest.mark.parametrize(
    ("answer", "missing"),
    [
        ("The UCFE user study had 840 participants [1].", ["840"]),
        ("UCFE 的用户研究共有 840 名参与者 [1]。", ["840"]),
        ("PangeaIns holds 60 million instructions [2].", ["60 million"]),
        ("UCFE was trained on 1.2M examples [1].", ["1.2M"]),
        ("UCFE outperforms DreamBooth on financial tasks [1].", ["DreamBooth"]),
        ("UCFE was evaluated with GPT-4o and MMLU [1].", ["GPT-4o", "MMLU"]),
        # True of [2], cited as [1].
        ("PangeaBench covers 14 datasets in 47 languages [1].", ["PangeaBench", "14", "47"]),
        # The two figures swapped between training time and inference FLOPs.
        ("PyramidDrop 将 LLaVA-NeXT 的训练时间加速 55%，推理 FLOPs 加速 40% [3]。", ["55%", "40%"]),
    ],
)
def test_unsupported_numbers_and_names_are_flagged(
    digests: dict[str, str], answer: str, missing: list[str]
) -> None:
    cited = {1: digests[UCFE], 2: digests[PANGEA], 3: digests[PYRAMID]}
    assert flagged(answer, cited) == [missing]


def test_a_sentence_is_checked_against_every_digest_it_cites(digests: dict[str, str]) -> None:
    cited = {1: digests[UCFE], 2: digests[PANGEA]}
    both = "UCFE had 804 participants and PangeaIns spans 39 languages [1][2]."
    assert flagged(both, cited) == []
    assert flagged(both.replace("[1][2]", "[1]"), cited) == [["PangeaIns", "39"]]
    [claim] = unsupported_claims(both.replace("[1][2]", "[2]"), cited)
    assert claim.markers == [2] and claim.missing == ["UCFE", "804"]


def test_markers_after_the_full_stop_belong_to_the_sentence(digests: dict[str, str]) -> None:
    cited = {1: digests[UCFE]}
    [claim] = unsupported_claims("UCFE had 840 participants. [1] It is a benchmark.", cited)
    assert claim.missing == ["840"] and claim.markers == [1]


def test_names_are_words_that_look_like_names() -> None:
    sentence = "The MagicTailor model beats LLaVA, GPT-4o and COCO with LoRAs, not LLMs or RL."
    assert answer_names(sentence) == ["MagicTailor", "LLaVA", "GPT-4o", "COCO", "LoRA"]


ANDROIDLAB, AGENT_K, MOT, OS_ATLAS = "2410.24024", "2411.03562", "2411.04996", "2410.23218"


@pytest.mark.parametrize(
    ("answer", "paper", "missing"),
    [
        # A rounding marked as one, the right way round: 804 participants.
        ("UCFE's user study had more than 800 participants [1].", UCFE, []),
        ("UCFE 的用户研究有八百多名参与者 [1]。", UCFE, []),
        ("UCFE's user study had about 800 participants [1].", UCFE, []),
        ("UCFE's user study had more than 1000 participants [1].", UCFE, ["1000"]),
        ("UCFE's user study had nearly 800 participants [1].", UCFE, ["800"]),
        # A difference of the sentence's own numbers (21.50 - 4.59 = 16.91), to its precision.
        ("LLMs rose from 4.59% to 21.50%, about 17 points [1].", ANDROIDLAB, []),
        ("LLMs rose from 4.59% to 21.50%, about 19 points [1].", ANDROIDLAB, ["19"]),
        # A sum of them: 6 + 3 + 7.
        ("Agent K won 6 gold, 3 silver and 7 bronze medals, 16 in all [1].", AGENT_K, []),
        ("Agent K won 6 gold, 3 silver and 7 bronze medals, 18 in all [1].", AGENT_K, ["18"]),
        # The rest of a percentage: 55.8% of the FLOPs is 44% fewer.
        ("MoT needs only 55.8% of the FLOPs, roughly 44% fewer [1].", MOT, []),
        ("MoT needs only 55.8% of the FLOPs, so 54% fewer [1].", MOT, ["54%"]),
        # A count of what the sentence lists, not of more.
        ("它覆盖 Windows、Linux、MacOS、Android 和 Web 五个平台 [1]。", OS_ATLAS, []),
        ("它覆盖 Windows、Linux 和 Web 八个平台 [1]。", OS_ATLAS, ["八"]),
        # A number the splitter would cut in a chunk ("优于 1." | "4B").
        ("A 760M MoT beats a 1.4B dense baseline [1].", MOT, []),
    ],
)
def test_what_a_careful_writer_derives_passes(
    digests: dict[str, str], answer: str, paper: str, missing: list[str]
) -> None:
    assert flagged(answer, {1: digests[paper]}) == ([missing] if missing else [])


def test_english_words_are_names_among_chinese_ones(digests: dict[str, str]) -> None:
    assert answer_names("它在 LLFF、DTU 和 Blender 数据集上做了实验") == ["LLFF", "Blender"]
    assert answer_names("它以 Stable Diffusion 为基础模型") == ["Stable Diffusion"]
    # Spelling out the acronym that follows is no name: the acronym is checked instead.
    spelled = "它用 Dynamic Masked Degradation（DM-Deg）和 Dual-Stream Balancing (DS-Bal) 处理"
    assert answer_names(spelled) == ["DM-Deg", "DS-Bal"]
    assert answer_names("It was tested on Blender scenes in English.") == []
    # A name with an English suffix is the name: GPT-4-comparable is GPT-4.
    assert answer_names("It reaches GPT-4-comparable quality.") == ["GPT-4"]
    # A list item's label is the answer's wording: "Point" was reported as missing from the
    # digest (the LLM-path user test). Names after the label still count.
    assert answer_names("- **Point one**: PUMA 在 Blender 中渲染 [1]") == ["PUMA", "Blender"]
    assert answer_names("1. *Key idea*：它以 Stable Diffusion 为基础") == ["Stable Diffusion"]
    assert answer_names("**Point one**: PUMA 提出 [1]") == ["PUMA"]  # the item, unmarked
    # An English word left after a dropped marker ("… [1]。 Also [9].") is no name: it was
    # flagged as missing from the digest (the LLM-path user test).
    assert answer_names("UCFE 用户研究有 804 名参与者 [1]。 Also.") == ["UCFE"]


def test_a_short_acronym_no_digest_uses_is_a_name(digests: dict[str, str]) -> None:
    answer = "UCFE's 804 users compared LLM answers scored with a BGE model [1]."
    cited = {1: digests[UCFE]}
    assert flagged(answer, cited) == []  # by default every short acronym is a field term
    used = {"LLM"}  # the field's acronyms: what some digest of the index says
    assert flagged(answer, cited, lambda a: a in used) == [["BGE"]]


def test_a_derived_number_is_not_read_as_swapped(digests: dict[str, str]) -> None:
    # 47 - 39 = 8 more languages: derived, and tied to nothing in the digest.
    answer = "PangeaIns 覆盖 39 种语言，PangeaBench 覆盖 47 种语言，评测比训练多 8 种语言[1]。"
    assert flagged(answer, {1: digests[PANGEA]}) == []


def test_the_papers_own_name_pairs_a_number_with_nothing(digests: dict[str, str]) -> None:
    """An eval user test: 5,856 was reported missing, paired by "Agent K v1.0" with "Agent K
    v1.0 排名在前 38%" rather than with "与 5,856 名人类 Kaggle 竞争者相比"."""
    digest = {1: digests[AGENT_K]}
    faithful = (
        "Agent K v1.0 was compared against 5,856 human Kaggle competitors and ranked in the "
        "top 38% [1]."
    )
    assert flagged(faithful, digest) == []
    assert (
        flagged("Agent K reached 92.5% and ranked in the top 38% of 5,856 players [1].", digest)
        == []
    )
    assert flagged("Agent K v1.0 was compared against 5,586 human competitors [1].", digest) != []


def test_the_api_checks_any_text_against_indexed_papers(assistant: Assistant) -> None:
    [claim] = assistant.check_claims("UCFE had 840 participants [1].", {1: UCFE})
    assert claim.missing == ["840"] and claim.markers == [1]
    assert assistant.check_claims("UCFE had 804 participants [1].", {1: UCFE}) == []
    with pytest.raises(AssistantError, match=r"not in the index: 2599\.99999"):
        assistant.check_claims("It had 804 participants [1].", {1: "2599.99999"})


INF_CL, LOGO, WEBRL = "2410.17243", "2410.18533", "2411.02337"


@pytest.mark.parametrize(
    ("answer", "paper", "missing"),
    [
        # From the LLM-path user test. Chinese numerals are read whole: 八百零四 is 804.
        ("UCFE 用户研究有八百零四名参与者 [1]。", UCFE, []),
        ("UCFE 用户研究有八百四十名参与者 [1]。", UCFE, ["八百四十"]),
        ("PangeaIns 有 6 百万条指令 [1]。", PANGEA, []),  # 百万 is the unit of 6, no numeral
        # "arXiv 2410.14059" names the paper as its link does.
        ("UCFE (arXiv 2410.14059) had 804 participants [1].", UCFE, []),
        # "i.e." ends no sentence: 128 is 16 hours on 8 GPUs, in the same sentence.
        ("LOGO trained 16 hours on 8×A800, i.e. 128 GPU-hours [1].", LOGO, []),
        # 两个数量级 is what "100x" says; "3x faster" is said nowhere.
        ("It cuts memory by two orders of magnitude (roughly 100x) [1].", INF_CL, []),
        ("PyramidDrop makes training 3x faster [1].", PYRAMID, ["3"]),
        # A name flagged whole is not flagged again for its number.
        ("It was compared with Qwen2-7B [1].", UCFE, ["Qwen2-7B"]),
    ],
)
def test_what_the_llm_path_user_test_found(
    digests: dict[str, str], answer: str, paper: str, missing: list[str]
) -> None:
    assert flagged(answer, {1: digests[paper]}) == ([missing] if missing else [])


def test_a_list_under_a_cited_lead_in_is_checked_against_its_source(
    digests: dict[str, str],
) -> None:
    answer = (
        "WebRL's results on WebArena-Lite [1]:\n"
        "- Llama-3.1-8B: 4.8% → 44.2%\n"
        "- GLM-4-9B: 6.1% → 43%\n"
        "Other models were not tested.\n"
        "- 99% of something"  # after a line that is no lead-in: cites nothing
    )
    assert flagged(answer, {1: digests[WEBRL]}) == [["44.2%"]]


def test_the_api_reads_markers_and_ids_as_json_or_a_link_gives_them(
    assistant: Assistant,
) -> None:
    for ref in ("2410.14059v2", "arXiv:2410.14059", "https://arxiv.org/abs/2410.14059"):
        [claim] = assistant.check_claims("UCFE had 840 participants [1].", {"1": ref})
        assert claim.missing == ["840"]
    with pytest.raises(AssistantError, match="cited must map each marker"):
        assistant.check_claims("UCFE had 840 participants [1].", ["2410.14059"])  # type: ignore[arg-type]
    with pytest.raises(AssistantError, match="text must be a str"):
        assistant.check_claims(None, {1: UCFE})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("answer", "missing"),
    [
        ("FrugalNeRF outperforms Gemini and Midjourney on LLFF [1].", ["Gemini", "Midjourney"]),
        ("FrugalNeRF was tested on Blender scenes [1].", ["Blender"]),
        # A language, a capitalised phrase spelling out an acronym, an adjective from a name.
        ("FrugalNeRF's results hold in English and Chinese [1].", []),
        ("Unlike 3D Gaussian Splatting (3DGS), FrugalNeRF uses voxels [1].", []),
        ("FrugalNeRF needs no Bayesian priors [1].", []),
        # A capitalised word some digest uses is a word of the field (Kaggle, Android).
        ("FrugalNeRF is not an Android agent [1].", []),
    ],
)
def test_a_capitalised_word_no_digest_uses_is_a_name_in_english(
    assistant: Assistant, answer: str, missing: list[str]
) -> None:
    got = assistant.check_claims(answer, {1: "2410.16271"})
    assert [c.missing for c in got] == ([missing] if missing else [])


def test_a_number_derived_from_the_sentence_before_passes(digests: dict[str, str]) -> None:
    """From the LLM-path user test: MIA-DPO's gains, then their difference, a sentence later."""
    gains = "MIA-DPO gains 3.0% on LLaVA-v1.5 and 4.3% on InternLM-XC2.5 [1]. "
    mia = {1: digests["2410.17637"]}
    assert flagged(gains + "The gain is thus 1.3 points larger [1].", mia) == []
    assert flagged(gains + "The gain is thus 2.3 points larger [1].", mia) == [["2.3"]]
