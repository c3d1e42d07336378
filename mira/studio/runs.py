"""Evaluation runs on disk: what `mira eval local|global --out FILE.json` and `mira eval compare --out DIR` wrote,
found under the home (and any --runs folder), never under datasets/ or caches."""

from __future__ import annotations

import csv
import json
from pathlib import Path

SKIP = {"datasets", ".mira", ".tmp", ".cache", "node_modules", ".git"}
MAX_DEPTH = 4


def _walk(root: Path, depth: int = 0):
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return
    for p in entries:
        if p.is_dir() and p.name not in SKIP and not p.name.startswith(".") and depth < MAX_DEPTH:
            yield from _walk(p, depth + 1)
        elif p.is_file() and p.suffix == ".json":
            yield p


def find_runs(roots: list[Path]) -> list[dict]:
    """Compare folders (comparison.json + csv / md / png) and single metric files (a JSON with recall@K)."""
    runs, seen = [], set()
    for root in roots:
        for f in _walk(Path(root)):
            if f in seen:
                continue
            seen.add(f)
            if f.name == "comparison.json":
                png = f.parent / "comparison.png"
                runs.append({"kind": "compare", "path": f, "name": str(f.parent.relative_to(root)) or f.parent.name,
                             "csv": f.parent / "comparison.csv", "png": png if png.exists() else None})
                continue
            try:
                if f.stat().st_size > 5_000_000:
                    continue
                m = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(m, dict) and any(str(k).startswith("recall@") for k in m):
                runs.append({"kind": m.get("mode", "metrics"), "path": f, "name": str(f.relative_to(root)),
                             "png": None})
    return runs


def run_tables(run: dict) -> list[dict]:
    """[{title, header, rows}] for one run."""
    if run["kind"] == "compare":
        if run["csv"].exists():
            rows = list(csv.reader(run["csv"].open(newline="")))
            return [{"title": "comparison", "header": rows[0] if rows else [], "rows": rows[1:]}]
        rows = json.loads(run["path"].read_text())
        header = sorted({k for r in rows for k in r})
        return [{"title": "comparison", "header": header, "rows": [[r.get(k, "") for k in header] for r in rows]}]
    m = json.loads(run["path"].read_text())
    ks = sorted({int(k.split("@")[1]) for k in m if k.startswith("recall@") and k.split("@")[1].isdigit()})
    metrics = [n for n in ("recall", "precision", "ndcg") if any(f"{n}@{k}" in m for k in ks)]
    table = {"title": f"{m.get('mode', '')} pool {m.get('pool', '')} · {m.get('model', '')}",
             "header": ["K"] + [f"{n}@K" for n in metrics],
             "rows": [[k] + [_fmt(m.get(f"{n}@{k}")) for n in metrics] for k in ks]}
    rest = {"title": "other figures", "header": ["", "value"],
            "rows": [[k, _fmt(v)] for k, v in m.items() if "@" not in k and not isinstance(v, (dict, list))]}
    return [table, rest]


def _fmt(v):
    return f"{v:.4f}" if isinstance(v, float) else v
