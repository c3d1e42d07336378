"""`mira demo`: Mira end to end on the committed samples, offline. Grows as the parts land."""

from __future__ import annotations

import time

from rich.console import Console
from rich.panel import Panel

from ..importer import import_file
from ..paths import sample_file
from ..store import DatasetStore
from .data import show_cmd

SAMPLES = [("jd", "monster_jds_sample.csv", "monster", "sample-jd"),
           ("cv", "livecareer_cvs_sample.csv", "livecareer", "sample-cv"),
           ("pool", "rjdb_pairs_sample.jsonl", "rjdb", "sample-rjdb")]


def import_samples(store: DatasetStore) -> dict[str, str]:
    """Import the three committed samples; returns dataset name -> ref."""
    refs = {}
    for kind, file, preset, name in SAMPLES:
        report = import_file(store, kind, sample_file(file), name, preset=preset)
        for v in report.versions:
            refs[v.name] = v.ref
    return refs


def run_demo(store: DatasetStore, console: Console) -> dict:
    t0 = time.time()
    console.rule("[bold]Mira demo[/] — offline, on the committed samples")
    console.print("[bold]1. Import[/] the committed samples (Monster JDs, livecareer CVs, RJDB JD–CV pairs)")
    refs = import_samples(store)
    for ref in refs.values():
        show_cmd(ref, n=1, home=store.home)
    console.print(Panel.fit(
        "Datasets written under " + str(store.root) + "\n" + "\n".join(f"  {r}" for r in refs.values()) +
        "\n\nNext: `mira data list`, `mira data show REF`, `mira data export REF --format parquet`."
        f"\nDemo finished in {time.time() - t0:.1f} s.", title="done"))
    return refs
