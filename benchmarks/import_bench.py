"""Import throughput and memory: the five JD files and the 2,484 livecareer CVs, each in a fresh process.

    python benchmarks/import_bench.py [--quick]

Target (issue): the livecareer file (15 MB) in under 10 s, memory flat as files grow (streamed). Flatness is shown by
importing a 4x-concatenated livecareer file (~60 MB) and comparing peak RSS with the 1x import.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, bench_line, data_dir

from rich.console import Console
from rich.table import Table

FILES = [
    ("jd", "jds/monster_jobs_sample/jobs_sample.csv", "monster"),
    ("jd", "jds/google_job_skills/job_skills.csv", "google"),
    ("jd", "jds/dice_jobs_sample/dice_com-job_us_sample.csv", "dice"),
    ("jd", "jds/glassdoor_ds_jobs/glassdoor_jobs.csv", "glassdoor"),
    ("jd", "jds/panoslin_linkedin_jds/job_descriptions.csv", "panoslin"),
    ("cv", "cvs/livecareer_resumes/livecareer_resumes_from_pdf.csv", "livecareer"),
]

CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
sys.path.insert(0, {bench!r})
from _common import peak_rss_mb
from synth.store import DatasetStore
from synth.importer import import_file
t = time.perf_counter()
r = import_file(DatasetStore({home!r}), {kind!r}, {path!r}, {name!r}, preset={preset!r})
print(json.dumps({{"seconds": time.perf_counter() - t, "rows": r.rows, "imported": r.imported,
                  "rss_mb": peak_rss_mb()}}))
"""


def run_child(home: str, kind: str, path: Path, name: str, preset: str) -> dict:
    code = CHILD.format(root=str(ROOT), bench=str(Path(__file__).parent), home=home, kind=kind, path=str(path), name=name, preset=preset)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def baseline_rss_mb() -> float:
    code = (f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(Path(__file__).parent)!r}]; import synth.importer; "
            "from _common import peak_rss_mb; print(peak_rss_mb())")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="skip the 4x file")
    args = ap.parse_args()
    data = data_dir()
    console = Console()
    results = {}
    with tempfile.TemporaryDirectory() as home:
        for kind, rel, preset in FILES:
            results[preset] = run_child(home, kind, data / rel, preset, preset)
        lc = data / FILES[-1][1]
        if not args.quick:
            big = Path(home) / "livecareer_x4.csv"
            csv.field_size_limit(sys.maxsize)
            with open(lc, newline="", encoding="utf-8") as src, open(big, "w", newline="", encoding="utf-8") as dst:
                w = csv.writer(dst)
                for copy in range(4):  # make every copy's text distinct, so nothing is deduplicated away
                    src.seek(0)
                    reader = csv.reader(src)
                    header = next(reader)
                    if copy == 0:
                        w.writerow(header)
                    w.writerows(r[:3] + [f"{r[3]}\ncopy {copy}"] + r[4:] for r in reader)
            results["livecareer_x4"] = run_child(home, "cv", big, "lcx4", "livecareer")
        base = baseline_rss_mb()
    t = Table(title="mira data import (each in a fresh process)")
    for col in ("file", "rows", "imported", "seconds", "rows/s", "peak RSS MB"):
        t.add_column(col, justify="left" if col == "file" else "right")
    for name, r in results.items():
        t.add_row(name, str(r["rows"]), str(r["imported"]), f"{r['seconds']:.2f}", f"{r['rows'] / r['seconds']:.0f}",
                  f"{r['rss_mb']:.0f}")
    console.print(t)
    console.print(f"interpreter + imports alone: {base:.0f} MB peak RSS")
    lc_r = results["livecareer"]
    jd_rows = sum(results[p]["rows"] for _, _, p in FILES[:-1])
    jd_secs = sum(results[p]["seconds"] for _, _, p in FILES[:-1])
    keys = dict(livecareer_seconds=lc_r["seconds"], livecareer_rows_per_s=lc_r["rows"] / lc_r["seconds"],
                jd_rows_per_s=jd_rows / jd_secs, peak_rss_mb=max(r["rss_mb"] for r in results.values()),
                livecareer_rss_mb=lc_r["rss_mb"], target_seconds=10.0, speedup_vs_target=10.0 / lc_r["seconds"])
    if "livecareer_x4" in results:
        x4 = results["livecareer_x4"]
        keys.update(x4_rss_mb=x4["rss_mb"], x4_rows_per_s=x4["rows"] / x4["seconds"],
                    x4_extra_rss_mb=x4["rss_mb"] - lc_r["rss_mb"])
    print(bench_line("import", **keys))


if __name__ == "__main__":
    main()
