"""Citation markers: normalised, checked against the sources, and never faked by digest text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.cite import check_citations, find_markers
from assistant.records import Source

TINY = Path(__file__).resolve().parent / "data"


def sources(n: int) -> list[Source]:
    return [
        Source(
            paper_id=f"2501.0000{i}",
            title=f"Paper {i}",
            url=f"https://arxiv.org/abs/2501.0000{i}",
            text="...",
            score=1.0 / i,
        )
        for i in range(1, n + 1)
    ]


def test_footnote_definitions_are_dropped_and_their_markers_kept() -> None:
    """A footnoted answer's "[^1]: Paper 1…" line repeated the source under the answer, next
    to the answer's own references (the LLM-path user test)."""
    answer = "Alpha holds [^1]. Beta too [^2].\n\n[^1]: Paper 1, arXiv\n[^2]: Paper 2\n"
    checked = check_citations(answer, sources(3))
    assert checked.text == "Alpha holds [1]. Beta too [2]."
    assert checked.markers == [1, 2]
    # A line that only starts with a marker is text, not a definition.
    assert check_citations("[1] Alpha holds: yes.", sources(1)).text == "[1] Alpha holds: yes."


def test_in_range_markers_map_to_their_sources() -> None:
    checked = check_citations("Alpha [2]. Beta [1].", sources(3))
    assert checked.text == "Alpha [2]. Beta [1]."
    assert [(c.marker, c.paper_id) for c in checked.citations] == [
        (2, "2501.00002"),
        (1, "2501.00001"),
    ]
    assert checked.citations[0].url == "https://arxiv.org/abs/2501.00002"
    assert checked.removed == []


def test_out_of_range_markers_are_removed_and_reported() -> None:
    checked = check_citations("Alpha [1]. Beta [7]. Gamma [0]。Delta [2, 9]", sources(2))
    assert checked.text == "Alpha [1]. Beta. Gamma。Delta [2]"
    assert checked.removed == [7, 0, 9]
    assert checked.markers == [1, 2]
    assert find_markers(checked.text) == [1, 2]


def test_an_arxiv_id_of_no_source_is_removed_and_reported() -> None:
    """A user test: "[arXiv:2401.00001]", the id of no source, was kept as if it were a real
    citation, and nothing said so."""
    checked = check_citations("Alpha [arXiv:2401.00001]. Beta [arXiv:2501.00002v2].", sources(2))
    assert checked.text == "Alpha. Beta [2]."
    assert checked.markers == [2] and checked.removed == []
    assert checked.removed_ids == ["2401.00001"]
    assert checked.dropped == ["[arXiv:2401.00001]"]


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("A [1, 2].", "A [1][2]."),
        ("A [1，2].", "A [1][2]."),
        ("A [1、2].", "A [1][2]."),
        ("A [1][2].", "A [1][2]."),
        ("A 【1】【2】.", "A [1][2]."),
        ("A [1-3].", "A [1][2][3]."),
        ("A [ 2 ].", "A [2]."),
        ("A [2, 2].", "A [2]."),
    ],
)
def test_marker_forms_are_normalised(raw: str, text: str) -> None:
    checked = check_citations(raw, sources(3))
    assert checked.text == text
    assert checked.removed == []


def test_repeated_markers_are_cited_once_in_order_of_first_use() -> None:
    checked = check_citations("X [3]. Y [1]. Z [3][1]. W [1, 3].", sources(3))
    assert checked.markers == [3, 1]
    assert find_markers(checked.text) == [3, 1, 3, 1, 1, 3]


def test_text_without_markers_cites_nothing() -> None:
    checked = check_citations("No citations here (2024), see section 3.", sources(2))
    assert checked.citations == [] and checked.removed == []
    assert checked.text == "No citations here (2024), see section 3."


def test_no_sources_means_every_marker_goes() -> None:
    checked = check_citations("Claim [1].", [])
    assert checked.text == "Claim." and checked.removed == [1]


def test_find_markers_keeps_duplicates_and_expands_groups() -> None:
    assert find_markers("a [1] b [1, 3] c 【2】 d [4-5] e [x] f [1a]") == [1, 1, 3, 2, 4, 5]


# --- a digest sentence with "[3]" in it -------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    """The four-paper digest in tests/data; 2501.00004 cites '文献 [3]' in its own text."""
    index_dir = tmp_path_factory.mktemp("tiny-index")
    with Assistant(index_dir=index_dir, seeds_dir=TINY, llm_enabled=False) as a:
        assert len(a.ingest(progress=False).added) == 4
        yield a


def test_bracketed_number_in_digest_text_is_not_a_citation(tiny: Assistant) -> None:
    answer = tiny.ask("Hemocyte 数据集上的平均计数误差是多少？")
    assert not answer.refused
    assert "1.7 个细胞" in answer.text
    # The digest's own "[3]" is quoted, but defused so it cannot pose as marker [3].
    assert "［3］" in answer.text and "[3]" not in answer.text
    assert [c.paper_id for c in answer.citations] == ["2501.00004"]
    assert set(find_markers(answer.text)) == {c.marker for c in answer.citations}
    assert not any("removed" in n for n in answer.notices)
