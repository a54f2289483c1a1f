"""`assistant` command: a thin layer over the Assistant facade."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .cite import check_citations
from .evaluation.arguments import add_arguments
from .records import Answer, Severity

if TYPE_CHECKING:
    # Imported in main, after the arguments parse: `assistant --help` and a mistyped option
    # answer at once instead of after ~2 s of importing llama-index, chromadb and openai.
    from .assistant import Assistant


def _print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def _cmd_ingest(a: Assistant, args: argparse.Namespace) -> int:
    report = a.ingest(args.paths or None, progress=None)
    if args.json:
        _print_json(report.model_dump(mode="json"))
    else:
        for p in report.problems:
            print(f"{p.severity.value}: {p}", file=sys.stderr)
        print(report.summary())
    # A note (a README in a digest folder, a GBK digest) is said, not failed for; any other
    # problem (a skipped entry, a file that could not be used) exits 1, so a script notices.
    return 1 if any(p.severity != Severity.NOTE for p in report.problems) else 0


def _cmd_search(a: Assistant, args: argparse.Namespace) -> int:
    sources = a.search(args.question, k=args.k)
    if args.json:
        _print_json([s.model_dump(mode="json") for s in sources])
        return 0
    for i, s in enumerate(sources, 1):
        zh = f"\n   {s.title_zh}" if s.title_zh else ""  # no empty line for a paper without one
        print(f"{i}. [{s.paper_id}] {s.title}  ({s.score:.4f}){zh}\n   {s.url}")
    return 0


def _print_answer(ans: Answer, prompts_dir: Path, *, text_shown: bool = False) -> None:
    # A list read from the index (the papers it holds, those of a month) is its references:
    # printed once, each title with its link, under the answer's lead line.
    listed = ans.mode == "index" and len(ans.citations) > 1
    if not text_shown:
        print(ans.text.splitlines()[0] if listed else ans.text)
    for n in ans.notices:
        print(f"note: {n}", file=sys.stderr)
    # An LLM answer citing nothing is told to "check it against the sources retrieved": shown.
    uncited = not ans.refused and not ans.citations and bool(ans.sources)
    if (ans.refused and ans.sources) or uncited:
        from .prompt import message  # loaded by now: answering imported it

        print("\n" + message(prompts_dir, ans.language, "given" if uncited else "closest"))
    elif ans.citations and not listed:
        print()
    shown = (
        ans.sources
        if ans.refused or uncited
        else [ans.sources[c.marker - 1] for c in ans.citations]
    )
    for s in shown:
        marker = next((c.marker for c in ans.citations if c.paper_id == s.paper_id), None)
        tag = f"[{marker}]" if marker else "-"
        title = (s.title_zh or s.title) if listed and ans.language == "zh" else s.title
        print(f"{tag} {title} — {s.url}")


def _cmd_ask(a: Assistant, args: argparse.Namespace) -> int:
    if args.json:
        _print_json(a.ask(args.question).model_dump(mode="json"))
        return 0
    final: Answer | None = None
    pieces: list[str] = []
    shown = 0  # pieces printed as they came
    # On a terminal, a slow local model left the screen blank for its whole first token (20 s
    # in the LLM-path user test): say what is being waited for, then clear it.
    waiting = a.settings.llm_active and sys.stderr.isatty()
    if waiting:
        model = a.settings.llm_model
        print(f"searching the digests, then asking {model}…", end="\r", file=sys.stderr, flush=True)
    for piece in a.stream(args.question):
        if waiting:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
            waiting = False
        if isinstance(piece, Answer):
            final = piece
            continue
        pieces.append(piece)
        # One piece behind: only the LLM streams several pieces; a whole answer (extractive,
        # a refusal, a list from the index, the fallback after a failed stream) comes as the
        # last piece before the Answer and is printed once, checked, below.
        if len(pieces) > 1 and "".join(pieces[:-1]).strip():
            print("".join(pieces[shown:-1]), end="", flush=True)
            shown = len(pieces) - 1
    assert final is not None
    if not shown:
        _print_answer(final, a.settings.prompts_dir)
        return 0
    if final.mode == "llm":
        print("".join(pieces[shown:]))  # the rest of the streamed answer
        # A refusal in the LLM's words ("I don't have enough information") streams, then the
        # plain refusal as the last piece: that is the answer's text, shown.
        said = final.refused and pieces[-1].strip() == final.text.strip()
        # Only a marker removed makes the checked answer worth showing again: "(Source 1)"
        # read as [1] says the same as what streamed.
        rechecked = check_citations("".join(pieces), final.sources)
        same = said or (final.text.strip() == rechecked.text.strip() and not rechecked.dropped)
        if not same:
            # The checked answer differs (a marker removed): shown below the draft, labelled,
            # or it read as the model repeating itself (the LLM-path user test).
            print("\n" + _label(a, final, "checked_below"))
        _print_answer(final, a.settings.prompts_dir, text_shown=same)
        return 0
    # The stream broke off or was refused: what is shown instead, below, labelled.
    print("\n\n" + _label(a, final, "replaced_below"))
    _print_answer(final, a.settings.prompts_dir)
    return 0


def _label(a: Assistant, final: Answer, key: str) -> str:
    from .prompt import message  # loaded by now: answering imported it

    return message(a.settings.prompts_dir, final.language, key)


def _cmd_chat(a: Assistant, args: argparse.Namespace) -> int:
    from .ui import launch

    launch(a, host=args.host, port=args.port)
    return 0


def _cmd_eval(a: Assistant, args: argparse.Namespace) -> int:
    from .evaluation.run import run_from_args

    return run_from_args(a, args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="assistant", description="Cited answers over research-paper digests."
    )
    p.add_argument("--index-dir", help="index folder (ASSISTANT_INDEX_DIR)")
    p.add_argument("--seeds-dir", help="digest folder (ASSISTANT_SEEDS_DIR)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ingest", help="index digest files (default: the seeds folder)")
    s.add_argument("paths", nargs="*", help="digest files or folders")
    s.add_argument(
        "--json", action="store_true", help="print the ingest report as JSON (added, problems…)"
    )
    s.set_defaults(func=_cmd_ingest)

    s = sub.add_parser("search", help="papers for a question, best first")
    s.add_argument("question")
    s.add_argument("-k", type=int, default=5, metavar="N", help="number of papers (default 5)")
    s.add_argument(
        "--json", action="store_true", help="print the papers as JSON (id, titles, url, score…)"
    )
    s.set_defaults(func=_cmd_search)

    s = sub.add_parser(
        "ask",
        help="a cited answer",
        # What decides how it answers, where a user looks first (the LLM-path user test).
        epilog="Answers quote the digests unless an LLM is configured: ASSISTANT_LLM_BASE_URL "
        "and ASSISTANT_LLM_MODEL for a local OpenAI-compatible server (ASSISTANT_LLM_API_KEY "
        "if it wants one), or OPENAI_API_KEY for OpenAI.",
    )
    s.add_argument("question")
    s.add_argument(
        "--json", action="store_true", help="print the answer as JSON (text, citations, sources…)"
    )
    s.set_defaults(func=_cmd_ask)

    s = sub.add_parser("chat", help="the browser chat UI")
    s.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=None, help="port (default 7860)")
    s.set_defaults(func=_cmd_chat)

    s = sub.add_parser("eval", help="grounding evals on the question set")
    add_arguments(s)
    s.set_defaults(func=_cmd_eval)
    return p


class Terminated(KeyboardInterrupt):
    """SIGTERM (`timeout`, `systemctl stop`, `kill`), handled as Ctrl-C is: it ended an ingest
    with no word at all (the corpus user test)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def _interrupted(exc: BaseException) -> bool:
    """Whether Ctrl-C (or SIGTERM) is behind `exc`. Python 3.11 wraps an exception raised while
    a class body is set up: Ctrl-C during numpy's import arrives as "RuntimeError: Error calling
    __set_name__ …" caused by the KeyboardInterrupt (seen in CI)."""
    return _interrupt(exc) is not None


def _interrupt(exc: BaseException) -> KeyboardInterrupt | None:
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _status(exc: BaseException) -> int:
    """The exit status of an interrupt, as a shell reports a process killed by the signal."""
    return 143 if isinstance(_interrupt(exc), Terminated) else 130


def _bad_settings(overrides: dict[str, str]) -> str | None:
    """What is wrong with the settings (environment and options), in one line; None if
    nothing. Only pydantic is imported for this."""
    from pydantic import ValidationError

    from .settings import Settings, SettingsError, explain

    try:
        Settings(**overrides)
    except SettingsError as exc:
        return str(exc)
    except ValidationError as exc:
        return explain(exc)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # Our warnings are for the user, one line each, like the rest of the CLI's output.
    warnings.formatwarning = lambda message, *_args, **_kw: f"warning: {message}\n"
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    # What the package says on its own (first-use indexing), one plain line each on stderr.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    pkg_log = logging.getLogger("assistant")
    pkg_log.addHandler(handler)
    pkg_log.setLevel(logging.INFO)
    pkg_log.propagate = False
    overrides = {}
    if args.index_dir:
        overrides["index_dir"] = args.index_dir
    if args.seeds_dir:
        overrides["seeds_dir"] = args.seeds_dir
    # A bad setting is said before the imports below, which took 7-12 s on a busy machine
    # ("127.0.0.1:18080/v1" with no http://, the LLM-path user test).
    if (bad := _bad_settings(overrides)) is not None:
        print(f"error: bad settings: {bad}", file=sys.stderr)
        return 1
    try:  # ~2-5 s of imports: Ctrl-C here is an interrupt too, not a traceback
        from .assistant import Assistant, AssistantError
    except Exception as exc:
        if not _interrupted(exc):
            raise
        print("interrupted", file=sys.stderr)
        return _status(exc)
    except KeyboardInterrupt as exc:
        print("interrupted", file=sys.stderr)
        return _status(exc)

    try:
        with Assistant(**overrides) as a:
            return int(args.func(a, args))
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        if args.func is _cmd_ingest:
            # What was written stays, and the next ingest finishes it (no paper doubled).
            print(
                "interrupted: the papers written so far are kept; run the same "
                "`assistant ingest` again to finish",
                file=sys.stderr,
            )
        else:
            print("interrupted", file=sys.stderr)
        return _status(exc)
    except BrokenPipeError:
        # `assistant search … | head -2`: the reader closed the pipe, as it may; said as tools
        # killed by SIGPIPE say it (status 141, nothing printed). stdout goes to devnull so the
        # flush at exit cannot fail again (Python's signal docs advise this).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # one line for the user, not a traceback
        if _interrupted(exc):
            print("interrupted", file=sys.stderr)
            return _status(exc)
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
