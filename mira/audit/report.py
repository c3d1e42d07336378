"""The audit report: a rich table, the JSON file and a PNG (per-group score distributions, and each group's mean
paired difference with its confidence interval)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rich.table import Table


def _f(x, fmt: str) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def table(report: dict, title: str | None = None) -> Table:
    model = report["kind"] == "model"
    p = report["params"]
    t = Table(title=title or (f"{report['kind']} audit · {p.get('model')} · pool {p.get('pool')} · "
                              f"{p.get('variants')} variants · {p['level']:.0%} CI · min diff {p['min_diff']:g}"))
    cols = ["group", "n", "mean score"] + (["mean rank", f"top-{p['k']} share"] if model else ["positive rate"])
    cols += ["impact ratio", "paired diff", "CI", "flagged"]
    for c in cols:
        t.add_column(c, justify="left" if c in ("group", "flagged") else "right")
    sfmt = ".4f" if model else ".2f"
    for g, s in report["groups"].items():
        row = [g, str(s["n"]), _f(s["mean_score"], sfmt)]
        row += ([_f(s["mean_rank"], ".2f"), _f(s["top_k_share"], ".3f")] if model else
                [_f(s["positive_rate"], ".3f")])
        row += [_f(s["impact_ratio"], ".3f"), _f(s["mean_paired_diff"], "+" + sfmt),
                f"[{_f(s['ci_low'], sfmt)}, {_f(s['ci_high'], sfmt)}]",
                f"[bold red]YES[/] ({s['why']})" if s["flagged"] else "no"]
        t.add_row(*row)
    return t


def public(report: dict) -> dict:
    """The JSON report: everything but the raw per-variant scores (those go to the PNG)."""
    out = {k: v for k, v in report.items() if k != "scores"}
    if "redacted" in out:
        out["redacted"] = {k: v for k, v in out["redacted"].items() if k != "scores"}
    return out


def write_json(report: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(public(report), indent=2, default=float) + "\n")
    return path


def plot(report: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(report["groups"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(max(8, 1.4 * len(groups) + 4), 4.5))
    a.boxplot([report["scores"][g] or [float("nan")] for g in groups], showmeans=True)
    a.set_xticks(range(1, len(groups) + 1), groups)
    a.set_title("score per variant, by group")
    a.set_ylabel("cosine / final score" if report["kind"] == "model" else "judge total")
    st = report["groups"]
    d = [st[g]["mean_paired_diff"] for g in groups]
    err = [[x - st[g]["ci_low"] for x, g in zip(d, groups)], [st[g]["ci_high"] - x for x, g in zip(d, groups)]]
    colors = ["tab:red" if st[g]["flagged"] else "tab:blue" for g in groups]
    for i, g in enumerate(groups):
        b.errorbar([i], [d[i]], yerr=[[err[0][i]], [err[1][i]]], fmt="o", color=colors[i], capsize=4)
    m = report["params"]["min_diff"]
    b.axhline(0, color="grey", lw=0.8)
    b.axhspan(-m, m, color="grey", alpha=0.12, label=f"±{m:g} (min diff)")
    b.set_xticks(range(len(groups)), groups)
    b.set_title(f"paired difference vs the other groups ({report['params']['level']:.0%} CI); red: flagged")
    b.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def any_flagged(report: dict) -> bool:
    """A flag in the audit itself (the --redact what-if is reported, never failed on)."""
    return any(s["flagged"] for s in report["groups"].values())
