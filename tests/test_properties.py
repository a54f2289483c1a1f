"""Property tests: the digest parser round-trips whatever a digest can hold, and the citation
checker never lets an out-of-range or made-up marker through."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from assistant.cite import check_citations, find_markers
from assistant.extractive import defuse_markers
from assistant.parse import DigestError, parse_text, titles_reversed
from assistant.records import Source

# In CI the examples are drawn from a fixed seed: a clean clone has no example database, and a
# new counterexample found at random must not decide whether work lands (it is found locally).
SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)

# --- digest generation ------------------------------------------------------------------------

# Characters a digest may hold: ASCII, Chinese, full-width punctuation, emoji, markdown.
_ALPHABET = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF),
    st.sampled_from(list("，。：；！？（）【】《》、“”")),
    st.sampled_from(["😀", "🚀", "🧪", "👩‍🔬", "∑", "α", "é"]),
    st.sampled_from(["**", "_", "`", "[", "]", "(", ")", "#", "> ", "- ", "|", "<b>"]),
)


def _line(min_size: int = 1) -> st.SearchStrategy[str]:
    return st.lists(_ALPHABET, min_size=min_size, max_size=40).map("".join)


@st.composite
def titles(draw: st.DrawFn) -> str:
    t = draw(_line()).strip().rstrip("#").strip()
    # A list number or emphasis around the whole heading is not part of the title
    # ("## 1. **BERT**" is "BERT"); such titles are tested in test_parse.py.
    if re.match(r"[\d(（*_一二三五七九]", t):
        t = "x" + t
    return t or "Untitled 论文"


@st.composite
def zh_titles(draw: st.DrawFn) -> str:
    # The link text of a markdown link cannot hold ']'.
    t = draw(_line()).replace("]", "").strip()
    return t or "中文标题"


@st.composite
def bodies(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.one_of(_line(), st.just("")), min_size=1, max_size=6))
    # No body line may look like a heading ("## ..."), which would start a new entry.
    lines = ["x" + ln.strip() if ln.lstrip().startswith("#") else ln.strip() for ln in lines]
    body = "\n".join(lines).strip()
    return body or "正文"


@st.composite
def entries(draw: st.DrawFn) -> list[tuple[str, str, str, str]]:
    nums = draw(
        st.lists(
            st.tuples(st.integers(1, 12), st.integers(0, 99999)),
            min_size=1,
            max_size=6,
            unique=True,
        )
    )
    out = [
        (f"24{m:02d}.{n:05d}", draw(titles()), draw(zh_titles()), draw(bodies())) for m, n in nums
    ]
    # A Chinese heading over an English link text is read the other way round, by design.
    assume(not any(titles_reversed(t.strip(), z.strip()) for _, t, z, _ in out))
    return out


def render(entry: tuple[str, str, str, str]) -> list[str]:
    pid, title, zh, body = entry
    return [f"## {title}", f"[{zh}](https://arxiv.org/abs/{pid})", "", *body.split("\n"), ""]


def assert_round_trip(
    got: list[tuple[str, str, str, str]], want: list[tuple[str, str, str, str]]
) -> None:
    assert [g[0] for g in got] == [w[0] for w in want]
    assert got == [(p, t.strip(), z.strip(), b.strip()) for p, t, z, b in want]


@SETTINGS
@given(entries(), st.sampled_from(["\n", "\r\n"]))
def test_rendered_digest_parses_back_exactly(
    papers: list[tuple[str, str, str, str]], newline: str
) -> None:
    lines = [ln for e in papers for ln in render(e)]
    result = parse_text(newline.join(lines), "gen.md")
    assert result.problems == []
    got = [(p.paper_id, p.title, p.title_zh, p.text) for p in result.papers]
    assert_round_trip(got, papers)
    # Each paper's recorded line is its heading.
    for p in result.papers:
        assert lines[p.line - 1] == f"## {dict((e[0], e[1]) for e in papers)[p.paper_id]}"


@SETTINGS
@given(entries(), st.data())
def test_one_malformed_entry_is_one_problem_and_the_rest_parse(
    papers: list[tuple[str, str, str, str]], data: st.DataObject
) -> None:
    at = data.draw(st.integers(0, len(papers)), label="position")
    bad_title = data.draw(titles(), label="bad title")
    # A line that is not an arXiv link (no '[...](' link syntax at all).
    not_link = data.draw(_line(), label="not a link").replace("[", "").replace("#", "").strip()
    not_link = not_link or "no link here"
    bad_body = data.draw(bodies(), label="bad body")
    lines: list[str] = []
    bad_heading = 0
    for i, e in enumerate(papers):
        if i == at:
            bad_heading = len(lines) + 1
            lines += [f"## {bad_title}", not_link, "", *bad_body.split("\n"), ""]
        lines += render(e)
    if at == len(papers):
        bad_heading = len(lines) + 1
        lines += [f"## {bad_title}", not_link, "", *bad_body.split("\n"), ""]
    result = parse_text("\n".join(lines), "gen.md")
    assert len(result.problems) == 1, result.problems
    problem = result.problems[0]
    assert problem.file == "gen.md"
    assert problem.line in (bad_heading, bad_heading + 1)
    got = [(p.paper_id, p.title, p.title_zh, p.text) for p in result.papers]
    assert_round_trip(got, papers)


_DIGESTISH = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "## A title",
            "##",
            "## ",
            "##\t#",
            "[标题](https://arxiv.org/abs/2410.14059)",
            "[x](https://arxiv.org/pdf/2410.1405v2.pdf)",
            "[x](https://arxiv.org/abs/cs.AI/0101001)",
            "https://arxiv.org/abs/2401.00001",
            "\ufffd",
            "\r",
            "",
        ]
    ),
)


@SETTINGS
@given(st.lists(_DIGESTISH, max_size=20).map("\n".join))
def test_parse_text_raises_only_digest_error(text: str) -> None:
    try:
        result = parse_text(text, "any.md")
    except DigestError:
        return
    for p in result.papers:
        assert p.paper_id and p.title and p.text
    for problem in result.problems:
        assert problem.file == "any.md" and problem.line >= 1


# --- citations --------------------------------------------------------------------------------


def _sources(k: int) -> list[Source]:
    return [
        Source(
            paper_id=f"2401.{i:05d}",
            title=f"Paper {i}",
            url=f"https://arxiv.org/abs/2401.{i:05d}",
            text="passage",
            score=1.0,
        )
        for i in range(1, k + 1)
    ]


_N = st.integers(0, 20)
_MARKERS = st.one_of(
    _N.map(lambda n: f"[{n}]"),
    _N.map(lambda n: f"【{n}】"),
    _N.map(lambda n: f"【 {n} 】"),
    st.tuples(_N, _N).map(lambda t: f"[{t[0]}, {t[1]}]"),
    st.tuples(_N, _N).map(lambda t: f"[{t[0]}，{t[1]}]"),
    st.tuples(_N, _N).map(lambda t: f"[{t[0]}、{t[1]}]"),
    st.tuples(_N, st.integers(0, 6)).map(lambda t: f"[{t[0]}-{t[0] + t[1]}]"),
)
# Filler without brackets: every bracket in the text belongs to a generated marker.
_PLAIN = st.one_of(
    st.text(alphabet=st.sampled_from(list("ab 。.,，;0123456789-\n")), max_size=12),
    st.sampled_from(["The method works", " 。", " ,", "很好", " "]),
)
# Filler with stray brackets and digits: dropping a marker may splice neighbours together.
_STRAY = st.one_of(
    _PLAIN,
    st.text(alphabet=st.sampled_from(list("ab 。,[]【】0123456789-")), max_size=8),
    st.sampled_from(["[", "]", "【", "】", "[1", "2]", "【1", "[1, "]),
)


def _check_invariants(text: str, k: int) -> tuple[list[int], list[int], list[int]]:
    """The invariants that hold for any text; returns (markers left, cited, removed)."""
    sources = _sources(k)
    checked = check_citations(text, sources)
    left = find_markers(checked.text)
    assert all(1 <= n <= k for n in left), (checked.text, left)
    markers = [c.marker for c in checked.citations]
    assert len(markers) == len(set(markers))
    for c in checked.citations:
        assert 1 <= c.marker <= k
        assert c.paper_id == sources[c.marker - 1].paper_id
        assert c.url == sources[c.marker - 1].url
    # Every marker a reader sees in the text is one of the listed citations.
    assert set(left) <= set(markers)
    assert all(not 1 <= n <= k for n in checked.removed)
    return left, markers, checked.removed


@SETTINGS
@given(st.lists(st.one_of(_MARKERS, _PLAIN), max_size=14).map("".join), st.integers(0, 6))
def test_check_citations_keeps_only_real_markers(text: str, k: int) -> None:
    left, markers, removed = _check_invariants(text, k)
    original = find_markers(text)
    assert removed == [n for n in original if not 1 <= n <= k]
    assert markers == list(dict.fromkeys(n for n in original if 1 <= n <= k))
    assert set(left) == set(markers)


@SETTINGS
@given(st.lists(st.one_of(_MARKERS, _STRAY), max_size=14).map("".join), st.integers(0, 6))
def test_check_citations_with_stray_brackets(text: str, k: int) -> None:
    _, _, removed = _check_invariants(text, k)
    original_out = [n for n in find_markers(text) if not 1 <= n <= k]
    assert removed[: len(original_out)] == original_out


@pytest.mark.parametrize(
    ("text", "k", "cited"),
    [("x [1[9]] y", 0, []), ("x [[5]1] y", 0, []), ("x [1[9]] y", 1, [1]), ("[2【7】]", 1, [])],
)
def test_dropped_marker_cannot_splice_a_new_one(text: str, k: int, cited: list[int]) -> None:
    left, markers, _ = _check_invariants(text, k)
    assert markers == cited
    assert set(left) == set(cited)


@SETTINGS
@given(st.lists(st.one_of(_MARKERS, _STRAY, st.text(max_size=10)), max_size=14).map("".join))
@example("[[0]]")  # found by this test: "［[0]］" still held the marker [0]
def test_defused_text_holds_no_marker(text: str) -> None:
    out = defuse_markers(text)
    assert find_markers(out) == []
    # Nothing but the brackets changes.
    assert re.sub(r"[\[\]【】［］]", "", out) == re.sub(r"[\[\]【】［］]", "", text)


@pytest.mark.parametrize("k", [0, 1, 3])
def test_check_citations_examples(k: int) -> None:
    checked = check_citations("A [1]. B [2, 9]. C 【3】 [0]", _sources(k))
    assert checked.removed == [n for n in (1, 2, 9, 3, 0) if not 1 <= n <= k]
    assert find_markers(checked.text) == [n for n in (1, 2, 3) if n <= k]
