"""Comparison tables and plots: CSV, markdown in the paper's Table 4/5 shape, and a PNG of Recall@K and
Precision@K curves."""

from __future__ import annotations

import csv
import math
from pathlib import Path


def write_comparison(rows: list[dict], ks: list[int], out: Path, title: str) -> dict[str, Path]:
    """CSV, markdown (the paper's Table 4/5 shape, percentages) and a PNG of Recall@K and Precision@K curves."""
    out.mkdir(parents=True, exist_ok=True)
    cols = [f"recall@{k}" for k in ks] + [f"precision@{k}" for k in ks] + ["mrr", "pos_above_hardneg"]
    cols = [c for c in cols if any(c in r for r in rows)]
    with open(out / "comparison.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["model"] + cols)
        for r in rows:
            w.writerow([r["model"]] + [r.get(c, "") for c in cols])
    md = ["| model | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for r in rows:
        md.append(f"| {r['model']} | " + " | ".join(f"{100 * r[c]:.2f}" if isinstance(r.get(c), float) else ""
                                                    for c in cols) + " |")
    (out / "comparison.md").write_text(f"{title}\n\n" + "\n".join(md) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for r in rows:
        for ax, m in zip(axes, ("recall", "precision")):
            ax.plot(ks, [r.get(f"{m}@{k}", math.nan) for k in ks], marker="o", label=r["model"])
    for ax, m in zip(axes, ("Recall@K", "Precision@K")):
        ax.set_xlabel("K")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # K is a count: no 1.2, 1.4
        ax.set_title(m)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out / "comparison.png", dpi=110)
    plt.close(fig)
    return {"csv": out / "comparison.csv", "md": out / "comparison.md", "png": out / "comparison.png"}
