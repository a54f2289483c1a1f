"""Digest parsing: the real seeds, and every malformed input a user's folder may hold. Each
problem must point at the right file:line, and the good entries must still come through."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.parse import DigestError, decode, display_name, parse_paths, parse_text
from assistant.records import Paper, Problem, Severity

REPO = Path(__file__).resolve().parent.parent
SEED_FILES = sorted((REPO / "seeds").glob("*.txt"))


def expected_entries(path: Path) -> list[dict[str, str | int]]:
    """The seed's entries read with plain string operations (independent of parse.py's regexes):
    every '## ' line, and the '[zh](url)' line that follows it."""
    lines = path.read_text(encoding="utf-8").split("\n")
    out: list[dict[str, str | int]] = []
    for i, line in enumerate(lines):
        if not line.startswith("## "):
            continue
        link = next(ln for ln in lines[i + 1 :] if ln.strip())
        zh, url = link[1 : link.index("](")], link[link.index("](") + 2 : link.rindex(")")]
        out.append(
            {
                "line": i + 1,
                "title": line[3:].strip(),
                "title_zh": zh,
                "url": url,
                "paper_id": url.rsplit("/", 1)[1],
            }
        )
    return out


def by_id(papers: list[Paper]) -> dict[str, Paper]:
    return {p.paper_id: p for p in papers}


def problems_at(problems: list[Problem], path: Path) -> dict[int, str]:
    """line -> reason for the problems of one file."""
    name = display_name(path)
    return {p.line: p.reason for p in problems if p.file == name}


# --- the real seeds ---------------------------------------------------------------------------


def test_seeds_parse_to_34_papers_with_every_heading_mapped() -> None:
    assert len(SEED_FILES) == 2
    result = parse_paths(SEED_FILES)
    assert result.problems == []
    assert result.failed_files == []
    assert len(result.papers) == 34
    assert len({p.paper_id for p in result.papers}) == 34

    for path in SEED_FILES:
        expected = expected_entries(path)
        mine = [p for p in result.papers if Path(p.source_file).resolve() == path.resolve()]
        # Every '## ' heading line of the file is exactly one paper, at that line.
        assert sorted(p.line for p in mine) == [e["line"] for e in expected]
        got = by_id(mine)
        for e in expected:
            p = got[str(e["paper_id"])]
            assert (p.line, p.title, p.title_zh, p.url) == (
                e["line"],
                e["title"],
                e["title_zh"],
                e["url"],
            )


def test_seed_spot_checks_against_the_file_text() -> None:
    papers = by_id(parse_paths(SEED_FILES).papers)
    first = SEED_FILES[0].read_text(encoding="utf-8").split("\n")

    ucfe = papers["2410.14059"]
    assert (
        ucfe.title == "UCFE: A User-Centric Financial Expertise Benchmark for Large Language Models"
    )
    assert ucfe.title_zh == "UCFE: 一个面向大语言模型的用户中心化金融专业知识基准"
    assert ucfe.url == "https://arxiv.org/abs/2410.14059"
    assert ucfe.line == 1 and first[0] == f"## {ucfe.title}"
    assert "804 名参与者" in ucfe.text
    assert ucfe.text == first[3].strip()  # summary only: no heading, no link line

    # A multi-paragraph summary keeps all its paragraphs and stops before the next heading.
    cj = papers["2410.16256"]
    assert first[cj.line - 1] == f"## {cj.title}"
    assert cj.text.count("\n\n") >= 2
    assert "JudgerBench" in cj.text and "## " not in cj.text

    # A title with quotes and '?' survives intact (second file).
    bf16 = next(p for p in papers.values() if p.title.startswith('"Give Me BF16'))
    second = SEED_FILES[1].read_text(encoding="utf-8").split("\n")
    assert second[bf16.line - 1] == f"## {bf16.title}"
    assert "W8A8-FP" in bf16.text


# --- malformed entries ------------------------------------------------------------------------

MIXED = """\
## Good One
[好的一](https://arxiv.org/abs/2501.10001)

第一篇的摘要，内容正常。

## No Link Here
这一条没有链接，只有摘要。

## Bad Link
[坏链接](arxiv.org/abs/2501.10003)

摘要在这里。

## Empty Summary
[空摘要](https://arxiv.org/abs/2501.10004)

## Heading Only

## Good Two
[好的二](https://arxiv.org/abs/2501.10006v2)

第二篇的摘要。

## Good One Again
[好的一](https://arxiv.org/abs/2501.10001)

同一个编号，但摘要不同。

## Good Two
[好的二](https://arxiv.org/abs/2501.10006v2)

第二篇的摘要。
"""


def test_malformed_entries_reported_at_their_lines_and_good_entries_kept(tmp_path: Path) -> None:
    path = tmp_path / "mixed.md"
    path.write_text(MIXED, encoding="utf-8")
    result = parse_paths([path])

    assert [p.paper_id for p in result.papers] == ["2501.10001", "2501.10006"]
    good = by_id(result.papers)
    assert good["2501.10001"].text == "第一篇的摘要，内容正常。"
    assert good["2501.10001"].line == 1
    assert good["2501.10006"].line == 19
    assert good["2501.10006"].url == "https://arxiv.org/abs/2501.10006v2"

    at = problems_at(result.problems, path)
    assert all(p.severity == Severity.WARNING for p in result.problems)
    assert "no arXiv link" in at[7]  # the line where the link should have been
    assert "malformed arXiv link" in at[10]
    assert "empty summary" in at[14] and "2501.10004" in at[14]
    assert "no arXiv link" in at[17]  # a bare heading is reported at the heading itself
    assert "duplicate arXiv id 2501.10001" in at[24] and "line 1" in at[24]
    # The identical repeat of 'Good Two' (line 29) is taken once, silently.
    assert sorted(at) == [7, 10, 14, 17, 24]
    assert f"{display_name(path)}:24: duplicate" in [str(p) for p in result.problems][-1]


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    entry = "## Shared\n[共享](https://arxiv.org/abs/2501.30001)\n\n{}\n"
    a = tmp_path / "a.md"
    b = tmp_path / "b.md"
    c = tmp_path / "c.md"
    a.write_text(entry.format("甲文件中的摘要。"), encoding="utf-8")
    b.write_text(
        "## Other\n[其他](https://arxiv.org/abs/2501.30002)\n\n别的摘要。\n\n"
        + entry.format("乙文件中不同的摘要。"),
        encoding="utf-8",
    )
    c.write_text(entry.format("甲文件中的摘要。"), encoding="utf-8")  # identical copy
    result = parse_paths([tmp_path])

    assert sorted(p.paper_id for p in result.papers) == ["2501.30001", "2501.30002"]
    shared = by_id(result.papers)["2501.30001"]
    assert shared.text == "甲文件中的摘要。" and shared.source_file == display_name(a)
    assert problems_at(result.problems, a) == {}
    assert problems_at(result.problems, c) == {}
    reason = problems_at(result.problems, b)[6]
    assert "duplicate arXiv id 2501.30001" in reason and f"{display_name(a)}:1" in reason


# --- encodings and line endings ---------------------------------------------------------------


def test_gbk_file_is_decoded_with_a_problem_noted(tmp_path: Path) -> None:
    path = tmp_path / "gbk.txt"
    text = "## GBK Paper\n[国标编码的论文](https://arxiv.org/abs/2501.20001)\n\n这是用国标编码保存的摘要。\n"
    path.write_bytes(text.encode("gbk"))
    result = parse_paths([path])

    [paper] = result.papers
    assert paper.title_zh == "国标编码的论文"
    assert paper.text == "这是用国标编码保存的摘要。"
    [problem] = result.problems
    assert (problem.file, problem.line) == (display_name(path), 1)
    assert "GBK" in problem.reason and problem.severity == Severity.WARNING


def test_utf8_bom_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "bom.md"
    text = "## BOM Paper\n[带签名的文件](https://arxiv.org/abs/2501.20002)\n\n摘要。\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = parse_paths([path])
    assert result.problems == []
    [paper] = result.papers
    assert paper.title == "BOM Paper" and paper.line == 1


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    text = (
        "## First CRLF\n[第一](https://arxiv.org/abs/2501.20003)\n\n第一段。\n\n第二段。\n\n"
        "## Second CRLF\n[第二](https://arxiv.org/abs/2501.20004)\n\n另一篇。\n"
    )
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    result = parse_paths([path])
    assert result.problems == []
    first, second = result.papers
    assert (first.line, second.line) == (1, 8)
    assert first.text == "第一段。\n\n第二段。"
    for p in result.papers:
        for value in (p.title, p.title_zh, p.url, p.text):
            assert "\r" not in value


def test_undecodable_bytes_skip_only_that_entry(tmp_path: Path) -> None:
    path = tmp_path / "broken-bytes.txt"
    data = (
        "## Clean Before\n[前](https://arxiv.org/abs/2501.20005)\n\n干净的摘要。\n\n".encode()
        + b"## Corrupt\n[\xe5\x9d\x8f](https://arxiv.org/abs/2501.20006)\n\n\xff\xfe\xe6\x91\n\n"
        + "## Clean After\n[后](https://arxiv.org/abs/2501.20007)\n\n另一篇干净的摘要。\n".encode()
    )
    path.write_bytes(data)
    result = parse_paths([path])
    assert [p.paper_id for p in result.papers] == ["2501.20005", "2501.20007"]
    assert by_id(result.papers)["2501.20007"].text == "另一篇干净的摘要。"
    at = problems_at(result.problems, path)
    assert list(at) == [6] and "encoding" in at[6]


# --- whole files that are not digests ---------------------------------------------------------


def test_unusable_files_are_file_level_errors_and_the_rest_is_parsed(tmp_path: Path) -> None:
    good = tmp_path / "good.md"
    good.write_text("## Fine\n[好](https://arxiv.org/abs/2501.40001)\n\n摘要。\n", encoding="utf-8")
    binary = tmp_path / "image.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)))
    notes = tmp_path / "notes.md"
    notes.write_text(
        "Just some notes.\n# A top-level heading\n### a sub-heading\n", encoding="utf-8"
    )
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    ignored = tmp_path / "picture.png"  # not a digest suffix: not even looked at
    ignored.write_bytes(b"\x89PNG\x00")

    result = parse_paths([tmp_path])

    assert [p.paper_id for p in result.papers] == ["2501.40001"]
    assert result.files == [display_name(good)]
    assert sorted(result.failed_files) == sorted(display_name(p) for p in (binary, notes, empty))
    errors = {p.file: p for p in result.problems}
    assert set(errors) == set(result.failed_files)
    for p in errors.values():
        assert p.severity == Severity.ERROR and p.line == 0
    assert "binary" in errors[display_name(binary)].reason
    assert "not a digest" in errors[display_name(notes)].reason
    assert "empty" in errors[display_name(empty)].reason


def test_parse_text_and_decode_raise_digest_error_for_non_digests() -> None:
    with pytest.raises(DigestError, match=r"x\.md"):
        parse_text("no entries here\n", "x.md")
    with pytest.raises(DigestError, match="binary"):
        decode(b"abc\x00def", "y.txt")


def test_missing_path_is_a_digest_error(tmp_path: Path) -> None:
    with pytest.raises(DigestError, match="no such file"):
        parse_paths([tmp_path / "nope.md"])


@pytest.mark.parametrize(
    "heading",
    [
        "## Fuzzing Compilers for C#",
        "## Fuzzing Compilers for C# ##",
        "##  Fuzzing Compilers for C#  ",
    ],
)
def test_heading_ending_in_hash_keeps_it(heading: str) -> None:
    # Only a closing run of '#' after a space is Markdown decoration; 'C#' is part of the title.
    text = f"{heading}\n[模糊测试](https://arxiv.org/abs/2501.50001)\n\n摘要。\n"
    [paper] = parse_text(text, "t.md").papers
    assert paper.title == "Fuzzing Compilers for C#"


def test_a_link_line_that_is_the_url_alone_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bare.md"
    path.write_text(
        "## Bare URL Paper\nhttps://arxiv.org/abs/2501.10007v3\n\n只有网址，没有中文标题。\n\n"
        "## Angled URL Paper\n<https://arxiv.org/pdf/2501.10008.pdf>\n\n尖括号里的网址。\n\n"
        "## Text Around The URL\nsee https://arxiv.org/abs/2501.10009 for details\n\n摘要。\n",
        encoding="utf-8",
    )
    result = parse_paths([path])
    got = by_id(result.papers)
    assert sorted(got) == ["2501.10007", "2501.10008"]
    assert got["2501.10007"].title_zh == "" and got["2501.10007"].text == "只有网址，没有中文标题。"
    assert got["2501.10008"].url == "https://arxiv.org/pdf/2501.10008.pdf"
    # A URL inside other words is still not a link line: which part is the title?
    assert "malformed arXiv link" in problems_at(result.problems, path)[12]
