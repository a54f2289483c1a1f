"""The benchmark's synthetic digests (eval/bench/synth.py) read like the seeds to the project's
own parser: zero problems, exact counts, unique ids, deterministic output."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from assistant.parse import parse_paths
from assistant.text import detect_language, split_sentences

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
ARXIV_ID = re.compile(r"^24(0[1-9]|1[0-2])\.\d{5}$")
CJK = re.compile(r"[\u4e00-\u9fff]")


def load_synth() -> ModuleType:
    # eval/bench is a folder of scripts, not a package: load the module from its file.
    spec = importlib.util.spec_from_file_location("bench_synth", REPO / "eval/bench/synth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


synth = load_synth()


@pytest.fixture(scope="module")
def pool() -> object:
    return synth.load_pool(SEEDS)


@pytest.mark.parametrize("n", [1, 19, 20, 21, 257])
def test_generated_files_parse_with_zero_problems(tmp_path: Path, pool: object, n: int) -> None:
    corpus = synth.generate(n, tmp_path, seed=7, pool=pool)
    parsed = parse_paths([tmp_path])
    assert parsed.problems == []
    assert len(parsed.papers) == n == len(corpus.paper_ids)
    ids = [p.paper_id for p in parsed.papers]
    assert len(set(ids)) == n
    assert set(ids) == set(corpus.paper_ids)
    assert all(ARXIV_ID.match(pid) for pid in ids), ids[:5]
    assert sorted(parsed.files) == sorted(str(f) for f in corpus.files)


def test_files_hold_about_twenty_papers_like_the_seeds(tmp_path: Path, pool: object) -> None:
    corpus = synth.generate(500, tmp_path, seed=1, pool=pool)
    sizes = [len(parse_paths([f]).papers) for f in corpus.files]
    assert sum(sizes) == 500
    assert all(15 <= s <= 25 for s in sizes[:-1]), sizes
    assert 18 <= 500 / len(sizes) <= 22


def test_ids_never_collide_with_the_seeds(tmp_path: Path, pool: object) -> None:
    synth.generate(2000, tmp_path, seed=0, pool=pool)
    for f in SEEDS.glob("*.txt"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    parsed = parse_paths([tmp_path])
    assert parsed.problems == []  # a shared id would be reported as a duplicate
    assert len(parsed.papers) == 2000 + 34


def test_same_seed_same_bytes_other_seed_other_papers(tmp_path: Path, pool: object) -> None:
    a = synth.generate(60, tmp_path / "a", seed=5, pool=pool)
    b = synth.generate(60, tmp_path / "b", seed=5, pool=pool)
    c = synth.generate(60, tmp_path / "c", seed=6, pool=pool)
    assert [f.name for f in a.files] == [f.name for f in b.files]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a.files, b.files, strict=True))
    assert a.paper_ids != c.paper_ids
    assert a.files[0].read_bytes() != c.files[0].read_bytes()


def test_papers_read_like_the_seeds(tmp_path: Path, pool: object) -> None:
    synth.generate(200, tmp_path, seed=2, pool=pool)
    papers = parse_paths([tmp_path]).papers
    seeds = parse_paths([SEEDS]).papers
    for p in papers:
        assert detect_language(p.text) == "zh"  # Chinese summaries...
        assert re.search(r"[A-Za-z]{2,}", p.text)  # ...with English terms
        assert CJK.search(p.title_zh) and not CJK.search(p.title)
        assert p.title_zh.startswith(p.title.split(":")[0])  # both titles name the model
        assert len(split_sentences(p.text)) >= 5
        assert "\n## " not in p.text and "arxiv.org" not in p.text
    # Numbers (redrawn from the seeds' sentences) in most summaries, as in the seeds.
    assert sum(bool(re.search(r"\d", p.text)) for p in papers) >= 0.85 * len(papers)
    mean = sum(len(p.text) for p in papers) / len(papers)
    seed_mean = sum(len(p.text) for p in seeds) / len(seeds)
    assert 0.6 * seed_mean <= mean <= 1.6 * seed_mean
    # Recombined, not copied: no synthetic summary equals a seed summary.
    assert not {p.text for p in papers} & {p.text for p in seeds}
    assert len({p.title for p in papers}) > 190
    # The seed paper a sentence came from is renamed to the synthetic paper's model name.
    named = sum(p.title.split(":")[0] in p.text for p in papers)
    assert named >= 0.5 * len(papers)
    # (one-word names, e.g. 'SAM2Long'; 'BitNet a4.8' is left as it is)
    seed_names = {p.title.split(":")[0] for p in seeds if ":" in p.title}
    seed_names = {name for name in seed_names if len(name) > 5 and " " not in name}
    assert len(seed_names) > 10
    assert not any(name in p.text for p in papers for name in seed_names)
