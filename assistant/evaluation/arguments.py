"""The `assistant eval` options, apart from the evaluation itself: `assistant --help` and a
mistyped option answer at once, without importing the models and stores the run needs."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..settings import REPO_ROOT

DEFAULT_SET = REPO_ROOT / "eval" / "questions.jsonl"

# The CI slice: 40 dev questions spread over every category (evenly spaced in file order,
# 5-8 per category; the unanswerable ones mix near-topic and off-topic). Frozen as ids so that
# adding questions to the set does not silently change what CI measures.
FAST_IDS = (
    "q001", "q005", "q011", "q015", "q021", "q025", "q031",
    "q036", "q040", "q045", "q049", "q053",
    "q059", "q062", "q066", "q070", "q075", "q079",
    "q083", "q087", "q092", "q096", "q100",
    "q104", "q110", "q115", "q121", "q127",
    "q133", "q136", "q140", "q144",
    "q149", "q153", "q158", "q162", "q166", "q170", "q175", "q179",
)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set", dest="question_set", type=Path, default=DEFAULT_SET, metavar="FILE",
        help="question set (JSONL, see eval/DATASET.md); default eval/questions.jsonl",
    )  # fmt: skip
    parser.add_argument(
        "--split", default="dev", metavar="NAME",
        help="questions of this split: dev (default), heldout (for final numbers only), a "
        "split of your own set, or all",
    )  # fmt: skip
    parser.add_argument(
        "--config", action="append", default=[], metavar="KEY=VALUE",
        help="setting override for this run, e.g. --config bm25_weight=0.8 (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=None, metavar="DIR",
        help="report folder (default eval/reports/<timestamp>/)",
    )  # fmt: skip
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the report already in --out DIR"
    )
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N",
        help="at most N questions (1 or more), taken round-robin over categories",
    )  # fmt: skip
    parser.add_argument(
        "--baselines", action="store_true",
        help="also rank with BM25 only, dense only and a default llama-index VectorStoreIndex",
    )  # fmt: skip
    parser.add_argument(
        "--fast", action="store_true", help=f"the {len(FAST_IDS)}-question CI slice (dev split)"
    )
    parser.add_argument(
        "--judge", choices=("auto", "offline", "llm"), default="auto",
        help="support judge: llm when an LLM is configured (auto), or offline",
    )  # fmt: skip
    parser.add_argument(
        "--check-floors", action="store_true",
        help="exit 1 when a headline metric misses its floor in eval/floors.json",
    )  # fmt: skip
    parser.add_argument(
        "--no-agreement", action="store_true",
        help="skip re-measuring the judge on eval/judge_labels.jsonl",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
