"""Digest parsing: the real seeds, and every malformed input a user's folder may hold. Each
problem must point at the right file:line, and the good entries must still come through."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.parse import (
    DigestError,
    decode,
    digest_files,
    display_name,
    parse_paths,
    parse_text,
)
from assistant.records import Paper, Problem, Severity
from assistant.text import without_latex

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


def test_latex_style_commands_give_way_to_the_words_they_style() -> None:
    """OmniParser's digest writes "\\textsc{OmniParser}": quoted as written, the markup showed
    in answers and BM25 read "textsc". Other LaTeX is left as written."""
    omni = by_id(parse_paths(SEED_FILES).papers)["2408.00203"]
    raw = SEED_FILES[0].read_text(encoding="utf-8")
    assert "\\textsc{OmniParser}" in raw
    assert "\\textsc" not in omni.text and "仅依靠截图输入的 OmniParser 在性能上" in omni.text
    assert without_latex("\\emph{a} \\frac{1}{2} \\textbf{B}") == "a \\frac{1}{2} B"


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


def test_a_link_to_another_site_is_named_in_the_warning(tmp_path: Path) -> None:
    """An OpenReview link where the arXiv one belongs was reported as a heading inside the
    summary above, and what was found was not said."""
    path = tmp_path / "a.md"
    path.write_text(
        "## Good\n[好](https://arxiv.org/abs/2501.10001)\n\n好的摘要。\n\n"
        "## Under Review\n[审稿中](https://openreview.net/forum?id=abc)\n\n摘要。\n",
        encoding="utf-8",
    )
    result = parse_paths([path])
    assert [p.paper_id for p in result.papers] == ["2501.10001"]
    (problem,) = result.problems
    assert problem.line == 7 and "found a link to openreview.net" in problem.reason
    assert "cuts that summary short" not in problem.reason


@pytest.mark.parametrize(
    "heading",
    [
        "### Wrong Level",
        "# Wrong Level",
        "##Wrong Level",
        "\u200b## Wrong Level",
        "＃＃ Wrong Level",
    ],
)
def test_an_entry_under_a_heading_written_another_way_is_reported_not_merged(
    tmp_path: Path, heading: str
) -> None:
    """Read as part of the summary above, such an entry was merged into the paper before it
    (its sentences cited under that paper's name), or dropped when first; without a word."""
    path = tmp_path / "a.md"
    entry = "[{zh}](https://arxiv.org/abs/{pid})\n\n{body}\n\n"
    path.write_text(
        f"## Good One\n{entry.format(zh='一', pid='2501.10001', body='第一篇的摘要。')}"
        f"{heading}\n{entry.format(zh='二', pid='2501.10002', body='第二篇的摘要。')}"
        "## Good Three\n[三](https://arxiv.org/abs/2501.10003)\n\n第三篇。\n\n### 方法\n小节。\n",
        encoding="utf-8",
    )
    result = parse_paths([path])
    first, third = result.papers
    assert first.text == "第一篇的摘要。" and "小节" in third.text  # a '### ' section stays
    (problem,) = result.problems
    assert problem.line == 6 and "an entry's heading is '## <title>'" in problem.reason
    assert problem.severity == Severity.WARNING
    assert result.skipped[0].ids == {"2501.10002"}  # an indexed copy of it is kept
    alone = tmp_path / "b.md"  # first in its file: reported, not dropped silently
    alone.write_text(f"{heading}\n{entry.format(zh='二', pid='2501.10002', body='摘要。')}")
    assert [p.line for p in parse_paths([alone]).problems] == [1]


def test_an_invisible_character_in_a_link_is_named(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("## Zero Width\n[零宽](https://arxiv.org/abs/2410.\u200b14059)\n\n摘要。\n")
    (problem,) = parse_paths([path]).problems
    assert "malformed arXiv link" in problem.reason and "invisible U+200B" in problem.reason


def test_a_stray_nul_byte_is_removed_and_its_line_named(tmp_path: Path) -> None:
    """One NUL byte made a digest a "binary file", and in a folder its papers went with only a
    note."""
    text = "## Good One\n[好一](https://arxiv.org/abs/2501.10001)\n\n第一篇\x00的摘要。\n"
    (tmp_path / "a.md").write_bytes(text.encode("utf-8"))
    (tmp_path / "b.md").write_bytes(b"## \x00\x01\x02 PK\x03\x04" + bytes(range(256)))
    result = parse_paths([tmp_path])
    assert [(p.paper_id, p.text) for p in result.papers] == [("2501.10001", "第一篇的摘要。")]
    nul, binary = sorted(result.problems, key=lambda p: p.file)
    assert (nul.line, nul.reason, nul.severity) == (4, "NUL bytes removed", Severity.WARNING)
    assert binary.reason.startswith("binary file") and binary.severity == Severity.NOTE


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
    # The longer copy is kept, wherever it is: here b's, read after a's.
    shared = by_id(result.papers)["2501.30001"]
    assert shared.text == "乙文件中不同的摘要。" and shared.source_file == display_name(b)
    assert problems_at(result.problems, b) == {}
    # a's copy and c's (the same text) are each named, with the copy that was kept.
    for path in (a, c):
        reason = problems_at(result.problems, path)[1]
        assert "duplicate arXiv id 2501.30001" in reason
        assert reason.endswith(f"kept the copy at {display_name(b)}:6 (longer)")


def test_a_stub_copy_never_displaces_the_full_entry(tmp_path: Path) -> None:
    """A one-line stub of a paper, pasted into a file sorting first or above the real entry,
    was kept and the paper's whole digest skipped (the first copy won): its facts were then
    refused."""
    full = "作者训练了 400 多个模型。Chinchilla 在 MMLU 上平均准确率达到 67.5%。"
    entry = "## Chinchilla\n[训练计算最优](https://arxiv.org/abs/2203.15556)\n\n{}\n\n"
    (tmp_path / "a.md").write_text(entry.format("（误复制到这里）"), encoding="utf-8")
    (tmp_path / "b.md").write_text(entry.format(full), encoding="utf-8")
    same_file = parse_text(entry.format("（误复制到这里）") + entry.format(full), "one.md")
    for result in (parse_paths([tmp_path]), same_file):
        [paper] = result.papers
        assert paper.text == full
        [problem] = result.problems
        assert problem.line == 1 and "longer" in problem.reason  # the stub is the one named
    # Of two copies as long, the first is kept as before.
    other = full.replace("67.5", "76.5")
    [kept] = parse_text(entry.format(full) + entry.format(other), "tie.md").papers
    assert kept.text == full


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
    assert "GBK" in problem.reason and problem.severity == Severity.NOTE


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
    for p in errors.values():  # in a folder, a file that is no digest is only noted
        assert p.severity == Severity.NOTE and p.line == 0
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


def test_a_missing_path_beside_others_is_an_error_problem(tmp_path: Path) -> None:
    entry = "## Paper\n[论文](https://arxiv.org/abs/2501.60001)\n\n摘要。\n"
    (tmp_path / "a.md").write_text(entry, encoding="utf-8")
    result = parse_paths([tmp_path / "a.md", tmp_path / "nope.md"])
    assert [p.paper_id for p in result.papers] == ["2501.60001"]
    assert [(str(p), p.severity) for p in result.problems] == [
        (f"{display_name(tmp_path / 'nope.md')}: no such file or folder", Severity.ERROR)
    ]


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
    assert got["2501.10008"].url == "https://arxiv.org/abs/2501.10008"  # the page, not the PDF
    # A URL inside other words is still not a link line: which part is the title?
    assert "malformed arXiv link" in problems_at(result.problems, path)[12]


# --- what users' own digests hold -----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://arXiv.org/abs/2501.10011",  # arXiv's own spelling
        "HTTPS://ARXIV.ORG/abs/2501.10011v2",
        "https://Export.ArXiv.org/pdf/2501.10011.pdf",
    ],
)
def test_the_arxiv_host_is_read_whatever_its_case(url: str) -> None:
    for line in (f"[大小写]({url})", url):
        result = parse_text(f"## Case Paper\n{line}\n\n摘要。\n", "case.md")
        assert result.problems == []
        [paper] = result.papers
        # Written one way, the paper's page (a PDF link too), its version kept.
        page = "https://arxiv.org/abs/2501.10011" + ("v2" if "v2" in url else "")
        assert paper.paper_id == "2501.10011" and paper.url == page


def test_a_link_that_cannot_be_read_says_what_is_expected() -> None:
    text = "## Colon Paper\narXiv:2410.123\n\n摘要。\n"  # an id of three digits
    [problem] = parse_text(text, "colon.md").problems
    assert problem.line == 2 and "\n" not in str(problem)
    assert "malformed arXiv link under '## Colon Paper'" in problem.reason
    assert "expected '[中文标题](https://arxiv.org/abs/ID)' or the bare URL" in problem.reason
    assert "found 'arXiv:2410.123'" in problem.reason


def test_a_heading_inside_a_summary_is_reported_as_cutting_it() -> None:
    text = (
        "## TinyRAG: RAG on Microcontrollers\n[微型](https://arxiv.org/abs/2410.12345)\n\n"
        "第一段。\n\n## 方法\n\n作者使用 2 比特量化。\n"
    )
    result = parse_text(text, "sub.md")
    [paper] = result.papers
    assert paper.text == "第一段。"
    [problem] = result.problems
    assert problem.line == 8  # the first line under '## 方法', where a link would be
    assert "'## 方法'" in problem.reason and "summary of line 1" in problem.reason
    assert "cut" in problem.reason and "'### '" in problem.reason


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode("utf-16"),  # BOM first, little-endian here: Notepad's "Unicode"
        lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
        lambda t: t.encode("utf-32"),
    ],
    ids=["utf-16", "utf-16-be", "utf-32"],
)
def test_utf16_and_utf32_with_a_bom_are_decoded(
    tmp_path: Path, encode: Callable[[str], bytes]
) -> None:
    """Windows Notepad's "Unicode" is UTF-16 with a BOM; it was called a binary file."""
    entry = (
        "## Wide Paper {n}\n[宽字符的论文](https://arxiv.org/abs/2501.2{n:04d})\n\n摘要 {n}。\n\n"
    )
    data = encode("".join(entry.format(n=n) for n in range(1, 800)))
    assert len(data) > 64 * 1024  # past the head that is sniffed for '## ' headings
    path = tmp_path / "notepad.md"
    path.write_bytes(data)
    result = parse_paths([path])
    assert result.problems == [] and len(result.papers) == 799
    first = result.papers[0]
    assert (first.title, first.title_zh, first.text) == ("Wide Paper 1", "宽字符的论文", "摘要 1。")


def test_folders_match_suffixes_whatever_their_case_and_skip_hidden_folders(
    tmp_path: Path,
) -> None:
    entry = "## Paper {0}\n[论文](https://arxiv.org/abs/2501.6000{0})\n\n摘要。\n"
    for n, name in enumerate(
        ["a.MD", "b.TXT", "sub/c.Md", ".obsidian/d.md", ".git/e.md", "sub/.f.md", "g.csv"], 1
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(entry.format(n), encoding="utf-8")
    assert [f.relative_to(tmp_path).as_posix() for f in digest_files([tmp_path])] == [
        "a.MD",
        "b.TXT",
        "sub/c.Md",
    ]
    assert sorted(p.paper_id for p in parse_paths([tmp_path]).papers) == [
        "2501.60001",
        "2501.60002",
        "2501.60003",
    ]
    # A hidden folder given itself is read: only what is inside a folder is filtered.
    assert [f.name for f in digest_files([tmp_path / ".obsidian"])] == ["d.md"]
    # The same file given twice (or inside a folder also given) is one file.
    assert len(digest_files([tmp_path / "a.MD", tmp_path, tmp_path / "a.MD"])) == 3


def test_source_files_are_absolute_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "digests"
    folder.mkdir()
    path = folder / "x.md"
    path.write_text("## X\n[叉](https://arxiv.org/abs/2501.70001)\n\n摘要。\n\n## Bad\n", "utf-8")
    recorded = set()
    for cwd, given in ((tmp_path, Path("digests")), (folder, Path(".")), (REPO, folder)):
        monkeypatch.chdir(cwd)
        result = parse_paths([given])
        recorded.add((result.papers[0].source_file, *result.files))
        # Problems name the file as the user sees it from where they are.
        assert result.problems[0].file == display_name(path)
    assert recorded == {(str(path.resolve()), str(path.resolve()))}


def test_non_digests_in_a_folder_are_notes_and_given_by_name_problems(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    # A corpus maintainer's README: a how-to section with an example link and a contacts
    # section were two skipped entries, and every ingest exited 1.
    (folder / "README.md").write_text(
        "# Notes\n\n## How to add a digest\n\nSee https://arxiv.org/abs/2410.13861 for the "
        "link form.\n\n## Contacts\n\nAsk Li.\n",
        encoding="utf-8",
    )
    (folder / "notes.txt").write_text("- read 2411.99999\n", encoding="utf-8")
    (folder / "empty.md").write_bytes(b"")
    (folder / "real.md").write_text(
        "## Real\n[真的](https://arxiv.org/abs/2501.80001)\n\n摘要。\n", encoding="utf-8"
    )
    result = parse_paths([folder])
    assert [p.paper_id for p in result.papers] == ["2501.80001"]
    assert all(p.severity == Severity.NOTE for p in result.problems)
    notes = {Path(p.file).name: p.reason for p in result.problems}
    assert notes == {
        "README.md": "documentation, not a digest (by its name)",
        "empty.md": "empty file",
        "notes.txt": "not a digest (no '## <title>' entries)",
    }
    # Given by name, a file that is no digest is a problem, not a note; a README given by
    # name is read as a digest.
    problems = parse_paths([folder / "README.md"]).problems
    assert problems and all(p.severity != Severity.NOTE for p in problems)
    assert "documentation" not in str(problems)


def test_a_heading_inside_a_fenced_code_block_is_code() -> None:
    """A "## 第一步" comment in a ```bash block was read as the next entry's heading: the
    summary stopped at the fence, its last sentence was lost, and the warning told the user to
    write '### ' in their shell script."""
    text = (
        "## QLoRA: Efficient Finetuning of Quantized LLMs\n"
        "[QLoRA](https://arxiv.org/abs/2305.14314)\n\n"
        "QLoRA 把模型量化为 4 位。\n\n```bash\n## 第一步：安装依赖\npip install peft\n```\n\n"
        "~~~~\n## also code\n~~~~\n\n"
        "Guanaco 达到 ChatGPT 性能的 99.3%。\n\n"
        "## Next Paper\n[下一篇](https://arxiv.org/abs/2305.14315)\n\n摘要。\n"
    )
    result = parse_text(text, "fence.md")
    assert result.problems == []
    qlora, nxt = result.papers
    assert "## 第一步" in qlora.text and qlora.text.endswith("99.3%。")
    assert nxt.paper_id == "2305.14315" and nxt.line == 17
    # A fence left open hides nothing: the entry after it is still read.
    unclosed = text.replace("pip install peft\n```", "pip install peft", 1)
    assert [p.paper_id for p in parse_text(unclosed, "open.md").papers][-1] == "2305.14315"


@pytest.mark.parametrize(
    ("entry", "title", "title_zh", "url", "summary"),
    [
        (  # the heading is the link
            "## [LoRA: Low-Rank Adaptation](https://arxiv.org/abs/2106.09685)\n\nLoRA 冻结权重。",
            "LoRA: Low-Rank Adaptation",
            "",
            "https://arxiv.org/abs/2106.09685",
            "LoRA 冻结权重。",
        ),
        (  # the link after the title, the Chinese title's link under it
            "## LoRA (https://arxiv.org/abs/2106.09685)\n[低秩适配](https://arxiv.org/abs/2106.09685)"
            "\n\nLoRA 冻结权重。",
            "LoRA",
            "低秩适配",
            "https://arxiv.org/abs/2106.09685",
            "LoRA 冻结权重。",
        ),
        (  # an arXiv id as text
            "## GPT-3\narXiv:2005.14165v4\n\nGPT-3 有 1750 亿参数。",
            "GPT-3",
            "",
            "https://arxiv.org/abs/2005.14165",
            "GPT-3 有 1750 亿参数。",
        ),
        (  # a labelled link, in bold, and a generic link text
            "## GPT-3\n**论文**：[arXiv](https://arxiv.org/pdf/2005.14165v2)\n\n"
            "GPT-3 有 1750 亿参数。",
            "GPT-3",
            "",
            "https://arxiv.org/abs/2005.14165v2",
            "GPT-3 有 1750 亿参数。",
        ),
        (  # the link after the summary
            "## 1. **DDPM: Denoising Diffusion**\n\n扩散模型逐步去噪。\n\n原文：https://arxiv.org/abs/2006.11239",
            "DDPM: Denoising Diffusion",
            "",
            "https://arxiv.org/abs/2006.11239",
            "扩散模型逐步去噪。",
        ),
    ],
)
def test_links_written_the_ways_people_write_them_are_read(
    entry: str, title: str, title_zh: str, url: str, summary: str
) -> None:
    """Each of these was skipped with "no arXiv link" (and told to use '### ' for a heading
    inside a summary), though it names its paper unambiguously."""
    result = parse_text(entry + "\n", "mine.md")
    assert result.problems == []
    [paper] = result.papers
    assert (paper.title, paper.title_zh, paper.url, paper.text) == (title, title_zh, url, summary)


def test_numbered_headings_lose_their_number_but_titles_starting_with_numbers_do_not() -> None:
    link = "\n[中文](https://arxiv.org/abs/2501.{:05d})\n\n摘要。\n\n"
    headings = [
        "1. BERT",
        "(2) GPT",
        "三、T5",
        "3D Gaussian Splatting",
        "2.5D Scenes",
        "1.58-bit LLMs",
    ]
    text = "".join(f"## {h}" + link.format(i) for i, h in enumerate(headings))
    titles = [p.title for p in parse_text(text, "n.md").papers]
    assert titles == ["BERT", "GPT", "T5", "3D Gaussian Splatting", "2.5D Scenes", "1.58-bit LLMs"]


def test_two_different_link_lines_in_an_entry_are_not_guessed_between() -> None:
    text = (
        "## Which One\n\n本文基于 ViT。\n\n原文：https://arxiv.org/abs/2501.00001\n"
        "ViT：https://arxiv.org/abs/2010.11929\n"
    )
    [problem] = parse_text(text, "two.md").problems
    assert "several arXiv links" in problem.reason and "2010.11929, 2501.00001" in problem.reason
    assert problem.line == 5


def test_a_missing_link_under_a_paper_title_is_not_called_a_section_heading() -> None:
    text = (
        "## LLaMA: Open Foundation Models\n[LLaMA](https://arxiv.org/abs/2302.13971)\n\n摘要。\n\n"
        "## Llama 2: Open Foundation and Fine-Tuned Chat Models\n\nLlama 2 有三种规模。\n"
    )
    [problem] = parse_text(text, "l.md").problems
    assert "no arXiv link under '## Llama 2" in problem.reason
    assert "cuts that summary short" not in problem.reason


def test_a_chinese_heading_over_an_english_link_text_is_read_the_right_way_round() -> None:
    """From the eval user test: '## 思维链压缩…' over '[Chain-of-Thought Compression…](…)' was
    indexed with the Chinese title as the English one, and English answers cited it."""
    text = (
        "## 思维链压缩：让推理模型少说废话\n"
        "[Chain-of-Thought Compression for Reasoning Models](https://arxiv.org/abs/2501.06789)\n\n"
        "本文研究如何在不损失准确率的前提下缩短推理模型的思维链。\n\n"
        "## SAM2Long: Enhancing SAM 2 for Long Video Segmentation\n"
        "[SAM2Long: 通过无训练记忆树增强 SAM 2](https://arxiv.org/abs/2410.16268)\n\n"
        "SAM2Long 是一种无训练的视频分割方法。\n"
    )
    swapped, kept = parse_text(text, "mine.md").papers
    assert swapped.title == "Chain-of-Thought Compression for Reasoning Models"
    assert swapped.title_zh == "思维链压缩：让推理模型少说废话"
    assert kept.title.startswith("SAM2Long: Enhancing") and kept.title_zh.startswith(
        "SAM2Long: 通过"
    )


def test_a_pdf_link_is_the_papers_page() -> None:
    """From the API user test: a `pdf/…v2` link was kept as written, so one source opened a PDF
    download where every other opened the paper's page."""
    text = (
        "## Quokka: A Test Paper\n"
        "[Quokka：测试论文](https://arxiv.org/pdf/2503.04567v2)\n\n"
        "Quokka 是一篇测试论文。\n"
    )
    [paper] = parse_text(text, "mine.md").papers
    assert paper.paper_id == "2503.04567"
    assert paper.url == "https://arxiv.org/abs/2503.04567v2"


@pytest.mark.parametrize(
    ("line", "url", "title_zh"),
    [
        # A corpus maintainer's links: the first two were skipped as malformed, the others
        # cited as typed beside cards that read https://arxiv.org/abs/….
        ("[课程式 RLHF](arXiv:2411.09011)", "https://arxiv.org/abs/2411.09011", "课程式 RLHF"),
        (
            "[大写](HTTPS://ARXIV.ORG/ABS/2411.09011V1)",
            "https://arxiv.org/abs/2411.09011v1",
            "大写",
        ),
        (
            "[万维网](http://www.arxiv.org/abs/2411.09011v2)",
            "https://arxiv.org/abs/2411.09011v2",
            "万维网",
        ),
        ("https://arXiv.org/abs/2411.09011#S3", "https://arxiv.org/abs/2411.09011", ""),
    ],
)
def test_every_form_of_an_arxiv_link_is_read_and_written_one_way(
    line: str, url: str, title_zh: str
) -> None:
    [paper] = parse_text(f"## Quokka Three: A Test Paper\n{line}\n\n摘要。\n", "mine.md").papers
    assert (paper.paper_id, paper.url, paper.title_zh) == ("2411.09011", url, title_zh)


@pytest.mark.parametrize(
    ("line", "title_zh"),
    [
        # arXiv's listing pages link with a query; people paste anchors. Both skipped the entry.
        ("[带查询串](https://arxiv.org/abs/2503.04568?context=cs#section)", "带查询串"),
        ("https://arxiv.org/abs/2503.04568#S3", ""),
        # Brackets in the Chinese title, balanced as Markdown allows: skipped too.
        (
            "[基于 [CLS] 标记的检索方法](https://arxiv.org/abs/2503.04568)",
            "基于 [CLS] 标记的检索方法",
        ),
    ],
)
def test_links_with_a_query_an_anchor_or_brackets_in_the_title_are_read(
    line: str, title_zh: str
) -> None:
    """From the corpus maintainer's user test."""
    result = parse_text(f"## Quokka Two: A Test Paper\n{line}\n\n摘要。\n", "mine.md")
    assert result.problems == []
    [paper] = result.papers
    assert paper.paper_id == "2503.04568" and paper.url == "https://arxiv.org/abs/2503.04568"
    assert paper.title_zh == title_zh


def test_markdown_images_and_links_in_a_summary_are_read_as_a_reader_sees_them() -> None:
    """The corpus user test: an answer quoted "[架构图](images/rockettune.png) 代码见
    [GitHub](https://…)" as written, and the image's "!" was glued to the table row before."""
    text = (
        "## RocketTune: Fast Tuning\n[火箭调优](https://arxiv.org/abs/2412.10001)\n\n"
        "| 方法 | GLUE |\n|---|---|\n| RocketTune | 88.4 |\n\n"
        "![架构图](images/rockettune.png) 代码见 [GitHub](https://github.com/example/rt)。"
        '另见[项目主页](https://x.io/p "主页")。\n'
    )
    [paper] = parse_text(text, "mine.md").papers
    assert "images/" not in paper.text and "![" not in paper.text and "](" not in paper.text
    assert paper.text.endswith(
        "\n\n代码见 GitHub (https://github.com/example/rt)。另见项目主页 (https://x.io/p)。"
    )
    # Nothing else is touched: the property test found "> ␣␣0" read back as "> 0".
    spaced = parse_text(text.replace("88.4 |", "88.4  |"), "mine.md").papers[0]
    assert "88.4  |" in spaced.text


def test_a_utf8_entry_appended_to_a_gbk_digest_keeps_every_entry(tmp_path: Path) -> None:
    """The corpus user test: one UTF-8 entry added to a GBK file made every old entry
    "undecodable" and skipped (their earlier copies kept, so the counts stopped adding up)."""
    path = tmp_path / "mixed.md"
    old = "## Old One: GBK Paper\n[旧论文](https://arxiv.org/abs/2412.10005)\n\n用 GBK 写的摘要。\n"
    new = "\n## MixedEnc: A UTF-8 Entry\n[混合编码](https://arxiv.org/abs/2412.10011)\n\n追加的条目。\n"
    path.write_bytes(old.encode("gb18030") + new.encode("utf-8"))
    result = parse_paths([path])
    assert [(p.paper_id, p.title_zh) for p in result.papers] == [
        ("2412.10005", "旧论文"),
        ("2412.10011", "混合编码"),
    ]
    [note] = result.problems
    assert note.severity == Severity.NOTE and "mixes encodings" in note.reason
