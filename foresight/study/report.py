"""A study's report from its records: ``report.json`` (every number), ``README.md`` and plots.

Two kinds of uncertainty are kept apart. *Episode-level*: the Wilson 95 % interval of the success rate pooled
over every episode of an arm (all seeds), which says how well the episodes measured that pool. *Training-seed
spread*: the mean, standard deviation and range of the per-seed success rates, which says how much retraining
the same arm moves the result; with one seed it is not measured, and the report says so. Pairwise differences
between arms use Fisher's exact test on the pooled counts (two-sided); with a handful of trials per task only
large differences can reach significance, which the report states next to the p-values.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

from foresight.fileio import atomic_write_bytes, atomic_write_text
from foresight.leaderboard.stats import fisher_exact, wilson_interval
from foresight.study.components import COMPONENTS, flags

REPORT_JSON = "report.json"
REPORT_MD = "README.md"


def load_records(records_dir: Path, order: Sequence[str] | None = None) -> list[dict[str, Any]]:
    records = [json.loads(p.read_text()) for p in sorted(records_dir.glob("*.json"))]
    if order is not None:
        rank = {name: i for i, name in enumerate(order)}
        records = [r for r in records if r["arm"] in rank]
        records.sort(key=lambda r: (rank[r["arm"]], r["seed"]))
    return records


def _rate(s: int, n: int) -> dict[str, Any]:
    lo, hi = wilson_interval(s, n)
    return {"successes": s, "trials": n, "rate": s / n, "ci95": [lo, hi]}


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.fmean(vals) if vals else None


def summarize(records: Sequence[Mapping[str, Any]], baseline: str) -> dict[str, Any]:
    """Every number of the report, computed from the records alone."""
    arms: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        arms.setdefault(r["arm"], []).append(r)
    flagged = flags({a: [r["components"] for r in rs] for a, rs in arms.items()}, baseline)
    out_arms = []
    task_names: dict[int, str] = {}
    for arm, rs in arms.items():
        seeds = sorted(r["seed"] for r in rs)
        s = sum(t["successes"] for r in rs for t in r["tasks"])
        n = sum(t["trials"] for r in rs for t in r["tasks"])
        per_seed = [
            sum(t["successes"] for t in r["tasks"]) / sum(t["trials"] for t in r["tasks"])
            for r in sorted(rs, key=lambda r: r["seed"])
        ]
        per_task: dict[int, list[int]] = {}
        for r in rs:
            for t in r["tasks"]:
                task_names.setdefault(t["index"], t["name"])
                acc = per_task.setdefault(t["index"], [0, 0])
                acc[0] += t["successes"]
                acc[1] += t["trials"]
        out_arms.append(
            {
                "arm": arm,
                "label": rs[0]["label"],
                "method": rs[0]["method"],
                "seeds": seeds,
                "pooled": _rate(s, n),
                "seed_rates": per_seed,
                "seed_mean": statistics.fmean(per_seed),
                "seed_sd": statistics.stdev(per_seed) if len(per_seed) > 1 else None,
                "seed_range": [min(per_seed), max(per_seed)],
                "tasks": {str(i): _rate(*per_task[i]) for i in sorted(per_task)},
                "train_steps": rs[0]["train"]["steps"],
                "train_wall_s": _mean([r["train"]["wall_s"] for r in rs]),
                "plan_ms": _mean([r["latency_ms"]["plan"] for r in rs]),
                "chunk_ms": _mean([r["latency_ms"]["chunk"] for r in rs]),
                "params_total": rs[0]["params"]["total"],
                "params_foresight": rs[0]["params"]["foresight"],
                "components": dict(rs[0]["components"]),
                "differs_in": flagged.get(arm, []),
            }
        )
    pairs = []
    for a, b in combinations(out_arms, 2):
        pa, pb = a["pooled"], b["pooled"]
        pairs.append(
            {
                "a": a["arm"],
                "b": b["arm"],
                "difference": pa["rate"] - pb["rate"],
                "p_value": fisher_exact(pa["successes"], pa["trials"], pb["successes"], pb["trials"]),
                "test": "fisher_exact_two_sided",
            }
        )
    return {
        "baseline": baseline,
        "arms": out_arms,
        "pairs": pairs,
        "tasks": {str(i): task_names[i] for i in sorted(task_names)},
    }


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _ci(rate: Mapping[str, Any]) -> str:
    lo, hi = rate["ci95"]
    return f"{pct(rate['rate'])} [{pct(lo)}, {pct(hi)}] ({rate['successes']}/{rate['trials']})"


def _num(x: float | None, fmt: str = "{:.1f}") -> str:
    return "—" if x is None else fmt.format(x)


def _spread(arm: Mapping[str, Any]) -> str:
    if arm["seed_sd"] is None:
        return f"{pct(arm['seed_mean'])} (1 seed: spread not measured)"
    lo, hi = arm["seed_range"]
    return f"{pct(arm['seed_mean'])} ± {pct(arm['seed_sd'])} (range {pct(lo)}–{pct(hi)}, {len(arm['seeds'])} seeds)"


def _params(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n / 1e3:.1f} k"


def render_markdown(study: Mapping[str, Any], summary: Mapping[str, Any], plots: Sequence[str]) -> str:
    arms = summary["arms"]
    lines = [f"# Study: {study['name']}", ""]
    if study.get("description"):
        lines += [study["description"].strip(), ""]
    if study.get("caveats"):
        lines += ["## What these numbers mean", "", study["caveats"].strip(), ""]
    if study.get("missing"):
        lines += [
            "## Not finished",
            "",
            f"Not trained and evaluated yet: {', '.join(study['missing'])}. The numbers below cover the finished "
            "arms and seeds only; the command under *Reproduce* continues the study where it stopped.",
            "",
        ]
    lines += [
        "## Arms side by side",
        "",
        "Success pooled over every episode of every seed (Wilson 95 % interval: episode-level uncertainty); "
        "mean ± standard deviation of the per-seed rates (training-seed spread). Latencies are per policy call "
        "during the evaluation, timed on the benchmark's observations (a call may batch one episode per "
        "simulator worker); `plan` is the foresight alone.",
        "",
        "| arm | method | success (%) | per-seed (%) | params (foresight) | train steps | train time | plan (ms) "
        "| chunk (ms) | differs from baseline besides the foresight |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for a in arms:
        differs = ", ".join(a["differs_in"]) if a["differs_in"] else "nothing"
        lines.append(
            f"| {a['label']} (`{a['arm']}`) | {a['method']} | {_ci(a['pooled'])} | {_spread(a)} | "
            f"{_params(a['params_total'])} ({_params(a['params_foresight'])}) | {a['train_steps']} | "
            f"{_num(a['train_wall_s'] / 60 if a['train_wall_s'] is not None else None)} min | "
            f"{_num(a['plan_ms'])} | {_num(a['chunk_ms'])} | {'⚠ ' if a['differs_in'] else ''}{differs} |"
        )
    lines += ["", *[f"![{p}]({p})" for p in plots], ""]
    lines += ["## Success per task (%, pooled over seeds, Wilson 95 %)", ""]
    lines.append("| task | " + " | ".join(a["label"] for a in arms) + " |")
    lines.append("|---" * (len(arms) + 1) + "|")
    for i, name in summary["tasks"].items():
        cells = [_ci(a["tasks"][i]) if i in a["tasks"] else "—" for a in arms]
        lines.append(f"| T{int(i) + 1} {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Pairwise differences (Fisher's exact test, two-sided, pooled counts)",
        "",
        "| arm A | arm B | A − B (points) | p |",
        "|---|---|---|---|",
    ]
    labels = {a["arm"]: a["label"] for a in arms}
    for p in summary["pairs"]:
        lines.append(f"| {labels[p['a']]} | {labels[p['b']]} | {100 * p['difference']:+.1f} | {p['p_value']:.3g} |")
    lines += [
        "",
        "## Components",
        "",
        f"Baseline arm: `{summary['baseline']}`. An arm is flagged (⚠) where anything other than the foresight "
        "differs from the baseline, i.e. where the comparison is not foresight alone.",
        "",
        "| arm | " + " | ".join(COMPONENTS) + " |",
        "|---" * (len(COMPONENTS) + 1) + "|",
    ]
    for a in arms:
        cells = [("⚠ " if k in a["differs_in"] else "") + f"`{a['components'][k]}`" for k in COMPONENTS]
        lines.append(f"| {a['label']} | " + " | ".join(cells) + " |")
    if study.get("command"):
        lines += ["", "## Reproduce", "", "```bash", study["command"], "```"]
    return "\n".join(lines) + "\n"


def render_plots(summary: Mapping[str, Any], title: str) -> dict[str, bytes]:
    """PNG bytes: pooled success per arm with Wilson bars and per-seed dots; success per task and arm."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = summary["arms"]
    out: dict[str, bytes] = {}

    def save(fig: Any, name: str) -> None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
        plt.close(fig)
        out[name] = buf.getvalue()

    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(arms), 3.6))
    xs = range(len(arms))
    rates = [100 * a["pooled"]["rate"] for a in arms]
    lows = [r - 100 * a["pooled"]["ci95"][0] for r, a in zip(rates, arms, strict=True)]
    highs = [100 * a["pooled"]["ci95"][1] - r for r, a in zip(rates, arms, strict=True)]
    ax.bar(xs, rates, color=["#b0b0b0" if a["differs_in"] else "#4c72b0" for a in arms])
    ax.errorbar(xs, rates, yerr=[lows, highs], fmt="none", ecolor="black", capsize=4)
    for x, a in zip(xs, arms, strict=True):
        ax.scatter([x] * len(a["seed_rates"]), [100 * r for r in a["seed_rates"]], color="#dd8452", zorder=3, s=14)
    ax.set_xticks(list(xs), [a["label"] for a in arms], rotation=20, ha="right")
    ax.set_ylabel("success (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{title}: pooled success, Wilson 95 % (bars), seeds (dots)", fontsize=9)
    fig.tight_layout()
    save(fig, "success.png")

    tasks = list(summary["tasks"])
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(tasks) + 2), 3.6))
    width = 0.8 / max(1, len(arms))
    for k, a in enumerate(arms):
        vals = [100 * a["tasks"][t]["rate"] if t in a["tasks"] else 0.0 for t in tasks]
        ax.bar([i + k * width for i in range(len(tasks))], vals, width=width, label=a["label"])
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(tasks))], [f"T{int(t) + 1}" for t in tasks])
    ax.set_ylabel("success (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, ncol=min(4, len(arms)))
    ax.set_title(f"{title}: success per task (pooled over seeds)", fontsize=9)
    fig.tight_layout()
    save(fig, "tasks.png")
    return out


def write_report(study: Mapping[str, Any], records: Sequence[Mapping[str, Any]], baseline: str, out: Path) -> Path:
    """``report.json``, plots and ``README.md`` in ``out``; returns the README."""
    summary = summarize(records, baseline)
    atomic_write_text(out / REPORT_JSON, json.dumps(summary, indent=2, sort_keys=True) + "\n")
    plots = render_plots(summary, study["name"])
    for name, data in plots.items():
        atomic_write_bytes(out / name, data)
    return atomic_write_text(out / REPORT_MD, render_markdown(study, summary, sorted(plots)))
