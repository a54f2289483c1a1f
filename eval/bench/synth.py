"""Synthetic digests in the seeds' format, for the speed-and-scale benchmark.

Each synthetic paper recombines real summary sentences of the seeds (Chinese prose with English
terms and numbers), renames the paper the sentence came from to a generated model name, redraws
the numbers, and gets a generated English title, a Chinese title and a unique arXiv id
(24MM.NNNNN, never one of the seeds' ids). The output depends only on (n, seed): the same call
writes byte-identical files, so benchmark runs compare like with like.

    python eval/bench/synth.py 1000 /tmp/digests --seed 0
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"

if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from assistant.parse import parse_paths  # noqa: E402
from assistant.records import Paper  # noqa: E402
from assistant.text import split_sentences  # noqa: E402

# Vocabulary for generated English titles, in the style of the seeds' titles.
_ADJECTIVES = (
    "Scalable Efficient Unified Robust Adaptive Sparse Multilingual Multimodal Hierarchical "
    "Training-Free Self-Evolving Controllable Long-Context Few-shot Open Lightweight Dynamic "
    "Contrastive Generative Interpretable Faithful Compositional Streaming Quantized"
).split()
_NOUNS = (
    "Alignment Reasoning Retrieval Distillation Segmentation Generation Evaluation Benchmark "
    "Agents Diffusion Transformers Tokenization Planning Editing Quantization Pretraining "
    "Fine-tuning Grounding Captioning Navigation Reconstruction Compression Decoding Memory "
    "Attention Preference-Optimization Curriculum Search Synthesis Verification"
).split()
_DOMAINS = (
    "Large Language Models|Vision-Language Models|Text-to-Image Diffusion|Long Video Understanding"
    "|GUI Agents|Code Generation|Mathematical Reasoning|3D Scene Reconstruction|Speech Recognition"
    "|Financial Question Answering|Web Navigation|Multilingual Retrieval|Robotic Manipulation"
    "|Knowledge Editing|Retrieval-Augmented Generation|Medical Imaging|Time Series Forecasting"
).split("|")
_TEMPLATES = (
    "{name}: {adj} {noun} for {domain}",
    "{name}: Towards {adj} {noun} in {domain}",
    "{name}: {adj} and {adj2} {noun} with {noun2}",
    "{name}: Rethinking {noun} for {adj} {domain}",
    "{name}: A {adj} Benchmark for {domain}",
    "{name}: Learning {adj} {noun} from {noun2}",
)
_ZH_TEMPLATES = (
    "{name}: 面向{domain}的{adj}{noun}",
    "{name}: 通过{noun2}实现{adj}{noun}",
    "{name}: 一个用于{domain}的{adj}基准",
    "{name}：{adj}{noun}的新方法",
)
_ZH_ADJ = "可扩展 高效 统一 鲁棒 自适应 稀疏 多语言 多模态 分层 无训练 可控 长上下文 轻量级".split()
_ZH_NOUN = "对齐 推理 检索 蒸馏 分割 生成 评估 智能体 扩散 量化 预训练 微调 规划 编辑 压缩".split()
_ZH_DOMAIN = (
    "大语言模型 视觉-语言模型 文本到图像扩散 长视频理解 GUI 智能体 代码生成 数学推理 3D 重建 "
    "语音识别 金融问答 网页导航 多语言检索 机器人操作 知识编辑 检索增强生成"
).split()
_SYLLABLES = (
    "Omni Pan Nova Lumi Astra Vera Hexa Cora Zeno Mira Tala Orion Quill Sora Kairo Flux Nexa "
    "Aero Brio Cyto Dyna Echo Fera Giga Hyper Iris Juno Kilo Lyra Meta Nimbus Opti Pixel "
    "Quanta Rho Sigma Terra Ultra Vita Wave Xeno Yara Zeta"
).split()
_SUFFIXES = ("", "", "", "-7B", "-1.5", "-2", "-XL", "-Lite", "-R1", "-V", "++", "-8x7B")
_NUMBER = re.compile(r"(?<![A-Za-z\d.\-])\d+(?:\.\d+)?(?![A-Za-z\d])")
_URL = re.compile(r"https?://|github\.com|huggingface\.co", re.IGNORECASE)


@dataclass
class _Pool:
    """What synthetic papers are built from, harvested once from the seeds."""

    sentences: list[tuple[str, str]] = field(default_factory=list)  # (seed paper name, sentence)
    seed_ids: set[str] = field(default_factory=set)


def _paper_name(paper: Paper) -> str:
    """The short name a seed paper goes by ('SAM2Long', 'UCFE'), or '' when it has none."""
    head = re.split(r"[:：]", paper.title, maxsplit=1)[0].strip()
    return head if ":" in paper.title and len(head) <= 24 and " " not in head else ""


def load_pool(seeds: Path = SEEDS) -> _Pool:
    parsed = parse_paths([seeds])
    pool = _Pool(seed_ids={p.paper_id for p in parsed.papers})
    for paper in parsed.papers:
        name = _paper_name(paper)
        for sent in split_sentences(paper.text):
            # Links and headings would read as structure, not prose; the body must not hold them.
            if _URL.search(sent) or sent.lstrip().startswith("#") or len(sent) < 12:
                continue
            pool.sentences.append((name, sent))
    return pool


def _model_name(rng: random.Random) -> str:
    first, second = rng.sample(_SYLLABLES, 2)
    return f"{first}{second}{rng.choice(_SUFFIXES)}"


def _redraw_number(match: re.Match[str], rng: random.Random) -> str:
    """Same shape, new value: '804' -> '517', '0.78' -> '0.41', years stay plausible."""
    text = match.group(0)
    if "." in text:
        whole, frac = text.split(".", 1)
        w = str(rng.randint(0, 9 * 10 ** (len(whole) - 1))) if len(whole) > 1 else whole
        return f"{w}.{rng.randint(0, 10 ** len(frac) - 1):0{len(frac)}d}"
    if len(text) == 4 and text.startswith(("19", "20")):
        return str(rng.randint(2015, 2024))
    lo = 10 ** (len(text) - 1) if len(text) > 1 else 1
    return str(rng.randint(lo, 10 ** len(text) - 1))


def _summary(pool: _Pool, name: str, rng: random.Random) -> str:
    n_sent = rng.randint(5, 11)
    picked = rng.sample(pool.sentences, n_sent)
    out: list[str] = []
    for origin, sent in picked:
        if origin:
            sent = sent.replace(origin, name)
        sent = _NUMBER.sub(lambda m: _redraw_number(m, rng), sent)
        out.append(sent)
    # Most seed summaries are one paragraph; some have two or three.
    paragraphs = 1 if rng.random() < 0.8 else rng.randint(2, 3)
    cuts = sorted(rng.sample(range(1, n_sent), paragraphs - 1)) if paragraphs > 1 else []
    parts, start = [], 0
    for cut in [*cuts, n_sent]:
        parts.append("".join(_join(out[start:cut])))
        start = cut
    return "\n\n".join(parts)


def _join(sentences: list[str]) -> list[str]:
    """Chinese sentences run together; an English-final one is followed by a space."""
    res = []
    for s in sentences:
        res.append(s if s.endswith(("。", "！", "？", "；")) else s + " ")
    res[-1] = res[-1].rstrip()
    return res


def _titles(name: str, rng: random.Random) -> tuple[str, str]:
    adj, adj2 = rng.sample(_ADJECTIVES, 2)
    noun, noun2 = rng.sample(_NOUNS, 2)
    en = rng.choice(_TEMPLATES).format(
        name=name, adj=adj, adj2=adj2, noun=noun, noun2=noun2, domain=rng.choice(_DOMAINS)
    )
    zh_noun, zh_noun2 = rng.sample(_ZH_NOUN, 2)
    zh = rng.choice(_ZH_TEMPLATES).format(
        name=name,
        adj=rng.choice(_ZH_ADJ),
        noun=zh_noun,
        noun2=zh_noun2,
        domain=rng.choice(_ZH_DOMAIN),
    )
    return en, zh


def _arxiv_ids(n: int, rng: random.Random, taken: set[str]) -> list[str]:
    """n distinct ids 24MM.NNNNN (a year of arXiv has ~24k papers a month), none in `taken`."""
    ids: list[str] = []
    seen = set(taken)
    while len(ids) < n:
        pid = f"24{rng.randint(1, 12):02d}.{rng.randint(1, 29999):05d}"
        if pid not in seen:
            seen.add(pid)
            ids.append(pid)
    return ids


@dataclass
class SynthCorpus:
    files: list[Path]
    paper_ids: list[str]


def entries(n: int, seed: int = 0, pool: _Pool | None = None) -> list[tuple[str, str, str, str]]:
    """n synthetic papers as (arxiv id, English title, Chinese title, summary)."""
    pool = pool or load_pool()
    rng = random.Random(seed)
    ids = _arxiv_ids(n, rng, pool.seed_ids)
    out = []
    for pid in ids:
        name = _model_name(rng)
        en, zh = _titles(name, rng)
        out.append((pid, en, zh, _summary(pool, name, rng)))
    return out


def render(entry: tuple[str, str, str, str]) -> str:
    pid, en, zh, summary = entry
    return f"## {en}\n[{zh}](https://arxiv.org/abs/{pid})\n\n{summary}\n"


def generate(
    n: int, out_dir: Path, *, seed: int = 0, per_file: int = 20, pool: _Pool | None = None
) -> SynthCorpus:
    """Write n synthetic papers into out_dir as digest files of about per_file papers each
    (sizes vary by a few, like the real digests); names follow the seeds' NNN_<hash>.txt."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = entries(n, seed, pool)
    rng = random.Random(f"files-{seed}")
    files: list[Path] = []
    start = 0
    while start < len(rows):
        size = max(1, per_file + rng.randint(-per_file // 4, per_file // 4))
        chunk = rows[start : start + size]
        text = "\n".join(render(e) for e in chunk)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        path = out_dir / f"s{seed}_{len(files):05d}_{digest}.txt"
        path.write_text(text, encoding="utf-8")
        files.append(path)
        start += size
    return SynthCorpus(files=files, paper_ids=[r[0] for r in rows])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, help="number of papers")
    ap.add_argument("out", type=Path, help="output folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-file", type=int, default=20)
    args = ap.parse_args(argv)
    corpus = generate(args.n, args.out, seed=args.seed, per_file=args.per_file)
    print(f"{len(corpus.paper_ids)} papers in {len(corpus.files)} files under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
