"""Shared fixtures. The seeds index is embedded once per session (about 25 s on 2 cores) and
copied for tests that need their own folder; nothing here touches the network."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
for _var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
    os.environ.pop(_var, None)  # a developer's key must never make a test call a hosted API
for _var in [v for v in os.environ if v.startswith("ASSISTANT_")]:
    os.environ.pop(_var, None)

from assistant import Assistant  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


@pytest.fixture(scope="session")
def seeds_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the index of the shipped seeds, built once."""
    folder = tmp_path_factory.mktemp("seeds-index")
    with Assistant(index_dir=folder, seeds_dir=SEEDS) as a:
        report = a.ingest(progress=False)
        assert len(report.added) == 34
    return folder


@pytest.fixture(scope="session")
def assistant(seeds_index_dir: Path) -> Iterator[Assistant]:
    """An extractive (no LLM) assistant over the seeds, shared by read-only tests."""
    a = Assistant(index_dir=seeds_index_dir, seeds_dir=SEEDS, llm_enabled=False)
    yield a
    a.close()


@pytest.fixture
def index_copy(seeds_index_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the seeds index, for tests that write or use another process."""
    dest = tmp_path / "index"
    shutil.copytree(seeds_index_dir, dest, ignore=shutil.ignore_patterns(".lock"))
    return dest


def write_digest(path: Path, entries: list[tuple[str, str, str]]) -> Path:
    """Write a small digest: entries of (arxiv id, English title, Chinese summary)."""
    parts = [
        f"## {title}\n[{title}（中文）](https://arxiv.org/abs/{pid})\n\n{body}\n"
        for pid, title, body in entries
    ]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
