"""Sentence windows: a paper's sentences share window rows (mean vector in the HNSW, each
sentence's own vector in the metadata). Retrieval and extractive answers must see exactly the
sentences and cosines a row-per-sentence index gave them."""

from __future__ import annotations

import shutil
from pathlib import Path

import chromadb
import numpy as np
import pytest
from conftest import SEEDS
from llama_index.core.schema import TextNode

from assistant import Assistant
from assistant.parse import parse_paths
from assistant.sentences import FETCH, WINDOW, rescore, unpack, windows
from assistant.text import split_sentences


def unit(rng: np.random.Generator, n: int, dim: int = 384) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def sentence_nodes(texts: list[str], vecs: np.ndarray) -> list[TextNode]:
    return [TextNode(text=t, embedding=v.tolist()) for t, v in zip(texts, vecs, strict=True)]


@pytest.mark.parametrize("n", [1, WINDOW, WINDOW + 1, 3 * WINDOW + 2])
def test_windows_keep_every_sentence_and_its_vector(n: int) -> None:
    rng = np.random.default_rng(n)
    texts = [f"第 {i} 句，含 “引号” 与 [3] 标记。" for i in range(n)]
    vecs = unit(rng, n)
    rows = windows("2501.00001", "h", sentence_nodes(texts, vecs))

    assert [r.id for r in rows] == [f"2501.00001~{w}" for w in range(len(rows))]
    assert len(rows) == -(-n // WINDOW)
    got_texts: list[str] = []
    got_vecs = []
    for r in rows:
        assert r.metadata["n_windows"] == len(rows)
        t, v = unpack(r.document, r.metadata)
        got_texts += t
        got_vecs.append(v)
        mean = v.mean(axis=0)  # the HNSW vector is the normalised mean of its sentences
        assert np.allclose(r.embedding, mean / np.linalg.norm(mean), atol=2e-3)
    assert got_texts == texts
    assert np.allclose(np.concatenate(got_vecs), vecs, atol=1e-3)  # float16


def test_rescore_ranks_sentences_as_brute_force_does() -> None:
    rng = np.random.default_rng(7)
    rows = []
    all_vecs, owners = [], []
    for p in range(12):
        n = int(rng.integers(1, 9))
        vecs = unit(rng, n)
        pid = f"2501.{p:05d}"
        rows += windows(pid, "h", sentence_nodes([f"s{i}" for i in range(n)], vecs))
        all_vecs.append(vecs)
        owners += [pid] * n
    q = unit(rng, 1)[0]
    exact = np.concatenate(all_vecs) @ q
    order = np.argsort(-exact)[:10]

    got = rescore(q, [r.id for r in rows], [r.metadata for r in rows], 10)

    assert [pid for pid, _ in got] == [owners[i] for i in order]
    assert np.allclose([c for _, c in got], exact[order], atol=2e-3)


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "它能够：1. 作为奖励模型进行单一评分；2. 按照指定格式进行评估；3. 生成批评意见。",
            [
                "它能够：1. 作为奖励模型进行单一评分；",
                "2. 按照指定格式进行评估；",
                "3. 生成批评意见。",
            ],
        ),
        (
            "1. The first item is here. 2. The second item is here.",
            ["1. The first item is here.", "2. The second item is here."],
        ),
        (
            "We compare with GPT-4. It is strong. 我们的方法更好。",
            ["We compare with GPT-4.", "It is strong.", "我们的方法更好。"],
        ),
    ],
)
def test_a_list_number_does_not_end_a_sentence(text: str, sentences: list[str]) -> None:
    """ "它能够：1." used to be a sentence of its own, quoted as such (CompassJudger-1's digest)."""
    assert split_sentences(text) == sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (  # "TL;DR" is one word: the quote was "在情感控制、摘要 (TL;" then "DR) 和…"
            "DPO 在情感控制、摘要 (TL;DR) 和单轮对话任务上效果好。它的训练也更加稳定。",
            ["DPO 在情感控制、摘要 (TL;DR) 和单轮对话任务上效果好。", "它的训练也更加稳定。"],
        ),
        (  # a table's rows name their columns; its header and rule are no sentences
            "CoT 效果显著：\n\n| 模型 | 提示方式 | GSM8K |\n|---|:---:|---:|\n"
            "| PaLM 540B | 标准 | 17.9% |\n| PaLM 540B | CoT | 56.9% |\n\n可见 CoT 很有效。",
            [
                "CoT 效果显著：",
                "模型：PaLM 540B，提示方式：标准，GSM8K：17.9%",
                "模型：PaLM 540B，提示方式：CoT，GSM8K：56.9%",
                "可见 CoT 很有效。",
            ],
        ),
        (
            "| Model | Accuracy |\n| --- | --- |\n| Llama 2 70B | 68.9 |\n| GPT-4 | |",
            ["Model: Llama 2 70B, Accuracy: 68.9", "Model: GPT-4"],
        ),
        ("A | B is not a table row.", ["A | B is not a table row."]),
    ],
)
def test_tables_and_tldr_split_into_readable_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


def test_stored_sentences_are_the_papers_sentences(assistant: Assistant) -> None:
    papers = {p.paper_id: p for p in parse_paths([SEEDS]).papers}
    got = assistant.index.sentence_vectors(list(papers))
    assert set(got) == set(papers)
    for pid, paper in papers.items():
        assert got[pid].texts == split_sentences(paper.text), pid
    # One paper's stored vectors against a fresh embedding of its sentences.
    pid = max(papers, key=lambda p: len(got[p].texts))
    assert len(got[pid].texts) > WINDOW  # several windows
    fresh = assistant.index.embed.embed_passages(got[pid].texts)
    assert np.allclose(got[pid].vectors, fresh, atol=2e-3)


@pytest.mark.parametrize(
    "question", ["Which model reaches Kaggle Grandmaster level?", "超长文本 幻觉 训练不到一天"]
)
def test_sentence_query_matches_an_exhaustive_scan(assistant: Assistant, question: str) -> None:
    """Asked for 60 sentences, the store fetches FETCH * 60 windows, more than the seeds have:
    the answer must then be exactly the best 60 of every stored sentence of every paper."""
    index = assistant.index
    q = index.embed.embed_queries([question])[0]
    everything = index.sentence_vectors([p["paper_id"] for p in assistant.papers()])
    scored = sorted(
        ((pid, float(c)) for pid, sv in everything.items() for c in sv.vectors @ q),
        key=lambda h: h[1],
        reverse=True,
    )[:60]
    assert index.windows.count() <= FETCH * 60

    got = index.dense_sentences(q, 60)

    assert [pid for pid, _ in got] == [pid for pid, _ in scored]
    assert np.allclose([c for _, c in got], [c for _, c in scored], atol=1e-6)


def test_an_index_with_one_row_per_sentence_is_rewritten_on_first_use(
    seeds_index_dir: Path, tmp_path: Path
) -> None:
    """Indexes written before windows had a `<collection>-sentences` collection and no windows:
    the first Assistant on the folder drops it and re-ingests, and answers come back whole."""
    folder = tmp_path / "old"
    shutil.copytree(seeds_index_dir, folder, ignore=shutil.ignore_patterns(".lock"))
    client = chromadb.PersistentClient(path=str(folder))
    client.delete_collection("digests-windows")
    old = client.create_collection("digests-sentences")
    old.add(ids=["2410.14059~0"], embeddings=[[0.1] * 384], metadatas=[{"paper_id": "x"}])
    client.close()

    with Assistant(index_dir=folder, seeds_dir=SEEDS, llm_enabled=False) as a:
        ans = a.ask("Agent K 在 Kaggle 上达到了什么水平?")
        names = {c.name for c in a.index.client.list_collections()}
        assert "digests-sentences" not in names
        assert a.index.windows.count() > 34
        assert all(p.complete for p in a.index.state().values())
    assert not ans.refused and ans.citations
