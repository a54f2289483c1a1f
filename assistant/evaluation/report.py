"""Report folder of an eval run: results.json (every per-question result), summary.md (tables:
overall, per category, per language, retrievers side by side, judge agreement) and
by_category.png (bar plot). Also the summary table printed to the terminal."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .run import CATEGORIES, RETRIEVAL_METRICS, EvalRun

# (column title, how to read it from a group summary). Retrieval columns are the pipeline's.
_ANSWER_COLUMNS: list[tuple[str, str]] = [
    ("hit@1", "retrieval.pipeline.hit@1"),
    ("hit@5", "retrieval.pipeline.hit@5"),
    ("R@5", "retrieval.pipeline.recall@5"),
    ("MRR", "retrieval.pipeline.mrr"),
    ("nDCG@5", "retrieval.pipeline.ndcg@5"),
    ("facts", "answer_correctness"),
    ("cit.rec", "citation_recall"),
    ("cit.prec", "citation_precision"),
    ("faithful", "faithfulness"),
    ("refusal", "refusal_accuracy"),
    ("false ref.", "false_refusal_rate"),
]
_LEGEND = (
    "facts: key facts found in the answer; cit.rec/cit.prec: ALCE citation recall/precision; "
    "faithful: statements supported by the cited passages; refusal: unanswerable questions "
    "refused; false ref.: answerable questions refused; the unanswerable row shows no citation "
    "numbers (they would score answers that should have been refusals)"
)


def _get(group: dict[str, Any], path: str) -> float | None:
    cur: Any = group
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    if cur is None or (isinstance(cur, float) and math.isnan(cur)):
        return None
    return float(cur)


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def fallback_text(meta: dict[str, Any]) -> str | None:
    """'14 of 14 fell back to extractive: LLM unavailable: Connection error.' for an LLM run
    whose answers the LLM did not all write; None otherwise."""
    fb = meta.get("fallbacks") or {}
    if not fb.get("n"):
        return None
    reasons = list(fb.get("reasons", {}))
    why = reasons[0] + (f"; {len(reasons) - 1} other reasons" if len(reasons) > 1 else "")
    return f"{fb['n']} of {fb['of']} fell back to extractive: {why}"


def answers_label(meta: dict[str, Any]) -> str:
    """'llm answers', with the fallbacks said plainly so extractive numbers are not read as
    the LLM's: 'llm answers (14 of 14 fell back to extractive: LLM unavailable: …)'."""
    fell = fallback_text(meta)
    return f"{meta.get('answer_mode')} answers" + (f" ({fell})" if fell else "")


def judge_errors_line(run: EvalRun) -> str | None:
    """Said wherever the citation numbers are shown: a failed judge call counts as
    unsupported, so those numbers are understated (unmeasured when no call gave a verdict)."""
    o = run.summary["overall"]
    if not o.get("judge_errors"):
        return None
    first = o.get("first_judge_error") or ""
    effect = (
        "none gave a verdict, so citation recall/precision and faithfulness are not measured"
        if _get(o, "citation_recall") is None
        else "counted as unsupported, so citation recall/precision and faithfulness are understated"
    )
    return (
        f"judge errors: {o['judge_errors']} calls of judge {run.judge['name']} failed and "
        + effect
        + (f" (first: {first})" if first else "")
    )


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# Read over the answers an unanswerable question got, which should have been refusals: 1.000
# there (two faithful quotes of the wrong paper) read as good news. Kept in results.json.
_NOT_FOR_UNANSWERABLE = ("citation_recall", "citation_precision", "faithfulness")


def _group_rows(run: EvalRun) -> list[tuple[str, dict[str, Any]]]:
    s = run.summary
    rows = [("**all**", s["overall"]), *s["by_category"].items()]
    return [
        (name, {k: v for k, v in g.items() if k not in _NOT_FOR_UNANSWERABLE})
        if name == "unanswerable"
        else (name, g)
        for name, g in rows
    ]


def summary_markdown(run: EvalRun) -> str:
    m, j = run.meta, run.judge
    agree = j.get("agreement") or {}
    parts = [
        f"# Eval report {m.get('started', '')}",
        "",
        f"- set: `{m.get('set', '')}`, split: **{m.get('split', '')}**, "
        f"questions: {m.get('n_questions')}, limit: {m.get('limit')}, {m.get('seconds')} s",
        f"- answers: **{m.get('answer_mode')}**"
        + (f" ({m['llm_model']})" if m.get("llm_model") else "")
        + (f" — **{fell}**" if (fell := fallback_text(m)) else "")
        + f"; settings: `{json.dumps(m.get('settings', {}))}`",
        f"- config overrides: `{json.dumps(m.get('config') or {})}`",
        f"- **support judge: `{j['name']}`** — it produced every citation recall, citation "
        "precision and faithfulness number below. Agreement with eval/judge_labels.jsonl: "
        + (
            f"**{_fmt(_get(agree, 'accuracy'))}** ({j.get('agreement_source', '')})"
            if agree
            else "not measured in this run"
        ),
        *([f"- **{line}**"] if (line := judge_errors_line(run)) else []),
        "",
        "## Headline (full pipeline)",
        "",
        # The marker count is a count: "3", not "3.000" read as a rate (eval user test).
        _md_table(
            ["metric", "value"],
            [
                [k, f"{v:.0f}" if k == "out_of_range_markers" and v == v else _fmt(v)]
                for k, v in run.headline.items()
            ],
        ),
        "",
        "## Full pipeline by category",
        "",
        "Retrieval metrics over answerable questions against gold ids (pipeline ranking); key "
        "facts over answerable questions with key facts; citation and faithfulness metrics over "
        f"answers that were not refusals, judged by `{j['name']}`; refusals over unanswerable, "
        "false refusals over answerable questions. " + _LEGEND + ".",
        "",
    ]
    header = ["category", "n"] + [c for c, _ in _ANSWER_COLUMNS]
    rows = [
        [name, str(g["n"])] + [_fmt(_get(g, path)) for _, path in _ANSWER_COLUMNS]
        for name, g in _group_rows(run)
    ]
    parts += [_md_table(header, rows), ""]
    parts += ["## By question language", ""]
    rows = [
        [lang, str(g["n"])] + [_fmt(_get(g, path)) for _, path in _ANSWER_COLUMNS]
        for lang, g in run.summary["by_lang"].items()
    ]
    parts += [_md_table(["lang", "n"] + [c for c, _ in _ANSWER_COLUMNS], rows), ""]

    parts += [
        "## Retrievers side by side",
        "",
        "Same questions, same gold ids (follow-ups use the pipeline's resolved question). "
        "hit@1 (single) is over questions with exactly one gold paper."
        + "".join(f" `{k}` was built over {v}." for k, v in (m.get("corpus") or {}).items()),
        "",
    ]
    metrics = ["hit@1_single", *RETRIEVAL_METRICS]
    rows = []
    for sys_name in run.systems:
        r = run.summary["overall"]["retrieval"][sys_name]
        rows.append([sys_name] + [_fmt(_get(r, k)) for k in metrics])
    parts += [_md_table(["retriever", *metrics], rows), ""]
    if len(run.systems) > 1:
        parts += ["hit@1 by category:", ""]
        rows = []
        for cat, g in run.summary["by_category"].items():
            if g["n_answerable"]:
                rows.append(
                    [cat, str(g["n_answerable"])]
                    + [_fmt(_get(g, f"retrieval.{s}.hit@1")) for s in run.systems]
                )
        parts += [_md_table(["category", "n", *run.systems], rows), ""]
        parts += ["hit@5 by category:", ""]
        rows = []
        for cat, g in run.summary["by_category"].items():
            if g["n_answerable"]:
                rows.append(
                    [cat, str(g["n_answerable"])]
                    + [_fmt(_get(g, f"retrieval.{s}.hit@5")) for s in run.systems]
                )
        parts += [_md_table(["category", "n", *run.systems], rows), ""]

    if agree:
        parts += [f"## Support judge `{j['name']}` against the labels", ""]
        rows = [
            [kind, str(v.get("n", "")), _fmt(_get(v, "accuracy"))]
            for kind, v in agree.get("by_kind", {}).items()
        ]
        rows.append(["**all**", str(agree.get("n", "")), _fmt(_get(agree, "accuracy"))])
        parts += [_md_table(["kind", "n", "accuracy"], rows), ""]
        if agree.get("confusion"):
            parts += [f"confusion: `{json.dumps(agree['confusion'])}`", ""]
    o = run.summary["overall"]
    parts += [
        "## Notes",
        "",
        f"- out-of-range citation markers (generated, then removed by the citation check): "
        f"{o['out_of_range_markers']:.0f}; judge errors: {o['judge_errors']}",
        f"- answers whose cited sentences state numbers or names the cited digests lack "
        f"(flagged to the user, `unsupported` in `results.json`): "
        f"{o.get('unsupported_answers', 0)}",
        "- per-question results (answers, rankings, every judged statement): `results.json`",
        "",
    ]
    return "\n".join(parts)


_PLOTTED = [
    ("hit@1", "retrieval.pipeline.hit@1"),
    ("hit@5", "retrieval.pipeline.hit@5"),
    ("key facts", "answer_correctness"),
    ("citation precision", "citation_precision"),
    ("faithfulness", "faithfulness"),
    ("refusal (unanswerable)", "refusal_accuracy"),
]


def category_bars(run: EvalRun) -> tuple[list[str], dict[str, list[float | None]]]:
    """The categories and, per plotted measure, its value in each (None: no bar). The
    unanswerable category has no citation bars, as its table row shows no citation numbers:
    the plot drew 1.0 there, for answers that should have been refusals."""
    cats = [c for c in run.summary["by_category"] if c in CATEGORIES] or list(
        run.summary["by_category"]
    )
    series = {
        label: [
            None
            if c == "unanswerable" and key in _NOT_FOR_UNANSWERABLE
            else _get(run.summary["by_category"][c], key)
            for c in cats
        ]
        for label, key in _PLOTTED
    }
    return cats, series


def plot_by_category(run: EvalRun, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot
    import matplotlib.pyplot as plt

    cats, series = category_bars(run)
    n_plots = 2 if len(run.systems) > 1 else 1
    fig, axes = plt.subplots(n_plots, 1, figsize=(13, 4.2 * n_plots), squeeze=False)
    ax = axes[0][0]
    width = 0.8 / len(series)
    for i, (label, vals) in enumerate(series.items()):
        xs = [x + i * width for x in range(len(cats))]
        ax.bar(xs, [v if v is not None else 0.0 for v in vals], width, label=label)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(cats))], cats)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Full pipeline by category (judge: {run.judge['name']})")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside the bars
    if n_plots == 2:
        ax = axes[1][0]
        answerable = [c for c in cats if run.summary["by_category"][c]["n_answerable"]]
        width = 0.8 / len(run.systems)
        for i, name in enumerate(run.systems):
            vals = [
                _get(run.summary["by_category"][c], f"retrieval.{name}.hit@1") for c in answerable
            ]
            xs = [x + i * width for x in range(len(answerable))]
            ax.bar(xs, [v if v is not None else 0.0 for v in vals], width, label=name)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(answerable))], answerable)
        ax.set_ylim(0, 1.05)
        ax.set_title("hit@1 by retriever")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(run: EvalRun, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps(run.as_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (out / "summary.md").write_text(summary_markdown(run), encoding="utf-8")
    plot_by_category(run, out / "by_category.png")


def print_summary(run: EvalRun) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.width = max(console.width, 130)  # 13 columns: wrap a little, never squash to "…"
    table = Table(
        title=f"{run.meta.get('split')} · {run.meta.get('n_questions')} questions · "
        f"{answers_label(run.meta)} · judge {run.judge['name']}"
    )
    table.add_column("category")
    table.add_column("n", justify="right")
    for title, _ in _ANSWER_COLUMNS:
        table.add_column(title, justify="right")
    for name, g in _group_rows(run):
        table.add_row(name.strip("*"), str(g["n"]), *[_fmt(_get(g, p)) for _, p in _ANSWER_COLUMNS])
    console.print(table)
    console.print(_LEGEND, style="dim")
    fb = run.meta.get("fallbacks") or {}
    if fb.get("n"):
        how = "not" if fb["n"] == fb["of"] else "mostly not"
        console.print(
            f"warning: {fb['n']} of {fb['of']} answers meant for the LLM fell back to "
            f"extractive; the answer numbers above are {how} LLM numbers"
            if fb["n"] * 2 > fb["of"]
            else f"warning: {fb['n']} of {fb['of']} answers meant for the LLM fell back to "
            "extractive",
            style="bold yellow",
        )
    if line := judge_errors_line(run):
        console.print(f"warning: {line}", style="bold yellow")
    if len(run.systems) > 1:
        t2 = Table(title="retrievers (answerable questions)")
        t2.add_column("retriever")
        metrics = ["hit@1_single", *RETRIEVAL_METRICS]
        for k in metrics:
            t2.add_column(k, justify="right")
        for s in run.systems:
            r = run.summary["overall"]["retrieval"][s]
            t2.add_row(s, *[_fmt(_get(r, k)) for k in metrics])
        console.print(t2)
    agree = run.judge.get("agreement") or {}
    if agree:
        console.print(
            f"judge {run.judge['name']}: agreement {_fmt(_get(agree, 'accuracy'))} with "
            f"eval/judge_labels.jsonl ({run.judge.get('agreement_source', '')})"
        )
