"""The requirement model (synth/requirements) on real data, no LLM involved.

    python benchmarks/requirements_bench.py

1. RJDB dev (Megagon Labs, 500 JDs; $MIRA_DATA/pairs/rjdb/rjdb_dev.jsonl): each JD's years musts are read by the
   reader and verified against the matched resume and against its hard negative. On the hard negatives whose
   Filtered-information says an experience entry was shortened or removed ("instead of ... use ...", "without
   including ..."; not those whose entry reads "the same job experience as before": only skills were removed from
   them, and they are counted apart), the share whose shortfall the verifier detects (some years must unmet); on the
   matched resumes, the share it wrongly calls short (some years must unmet). Targets: detection >= 80%, matched
   false-short <= 10%.
2. Google postings ($MIRA_DATA/jds/google_job_skills/job_skills.csv): each posting written as a JD with its
   Responsibilities, Minimum qualifications and Preferred qualifications under their headings; the reader's musts
   (must level, not negated) against the minimum-qualifications column: precision (share of the reader's musts whose
   span lies in that column) and recall (share of that column's lines some reader must covers). A second row reads
   the same postings with the headings removed (phrasing only: "preferred", "a plus", ...). Targets (with headings):
   precision >= 90%, recall >= 90%.
"""

from __future__ import annotations

import csv
import json
import time
from datetime import date

from _common import bench_line, data_dir

from synth.requirements import musts, read_cv, read_jd, verify

TODAY = date(2026, 1, 1)


def rjdb() -> dict:
    rows = [json.loads(x) for x in open(data_dir() / "pairs/rjdb/rjdb_dev.jsonl", encoding="utf-8")]
    shortened = detected = with_years = false_short = unchanged = 0
    for r in rows:
        years = [q for q in musts(read_jd(r["Job-Description"])) if q.kind == "years"]
        if not years:
            continue
        with_years += 1
        matched, unmatched = read_cv(r["Resume-matched"], TODAY), read_cv(r["Resume-unmatched"], TODAY)
        false_short += any(verify(q, matched).status == "unmet" for q in years)
        lost = r.get("Filtered-information")
        if isinstance(lost, dict) and lost.get("Experience"):
            if str(lost["Experience"]).strip().lower().startswith("the same job experience"):
                unchanged += 1  # RJDB's own word: the experience was kept, only skills went
                continue
            shortened += 1
            detected += any(verify(q, unmatched).status == "unmet" for q in years)
    return {"jds": len(rows), "jds_with_years": with_years, "shortened": shortened, "unchanged": unchanged,
            "detected": detected / max(1, shortened), "matched_false_short": false_short / max(1, with_years)}


def _lines(cell: str) -> list[str]:
    return [x.strip() for x in (cell or "").splitlines() if len(x.strip().split()) >= 2]


def google(headings: bool) -> dict:
    tp = fp = covered = total = postings = 0
    with open(data_dir() / "jds/google_job_skills/job_skills.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            mins = _lines(row.get("Minimum Qualifications"))
            if not mins:
                continue
            postings += 1
            parts = [("Responsibilities", _lines(row.get("Responsibilities"))), ("Minimum qualifications", mins),
                     ("Preferred qualifications", _lines(row.get("Preferred Qualifications")))]
            text, spans = f"{row['Title']}\n\n", {}
            for head, lines in parts:
                if headings:
                    text += f"{head}:\n"
                for ln in lines:
                    spans.setdefault(head, []).append((len(text), len(text) + len(ln)))
                    text += ln + "\n"
                text += "\n"
            got = [q.span for q in musts(read_jd(text)) if q.span]
            in_min = [any(a <= s < b for a, b in spans["Minimum qualifications"]) for s, _ in got]
            tp += sum(in_min)
            fp += len(in_min) - sum(in_min)
            total += len(mins)
            covered += sum(any(a <= s < b for s, _ in got) for a, b in spans["Minimum qualifications"])
    return {"postings": postings, "precision": tp / max(1, tp + fp), "recall": covered / max(1, total)}


def main() -> None:
    t0 = time.perf_counter()
    r = rjdb()
    print(f"RJDB dev: {r['jds']} JDs, {r['jds_with_years']} with a years must read by the reader")
    print(f"  'experience shortened' hard negatives: {r['shortened']}; shortfall detected: {100 * r['detected']:.1f}% "
          f"(target >= 80%); left out: {r['unchanged']} whose experience RJDB kept ('the same job experience as "
          f"before')")
    print(f"  matched resumes wrongly called short: {100 * r['matched_false_short']:.1f}% (target <= 10%)")
    g, bare = google(True), google(False)
    print(f"Google postings: {g['postings']} with minimum qualifications")
    print(f"  reader's musts vs the minimum-qualifications column, with headings: precision {100 * g['precision']:.1f}%"
          f", recall {100 * g['recall']:.1f}% (targets >= 90%)")
    print(f"  the same postings without headings (phrasing only): precision {100 * bare['precision']:.1f}%, "
          f"recall {100 * bare['recall']:.1f}%")
    print(bench_line("requirements", rjdb_shortfall_detected=r["detected"], rjdb_matched_false_short=r["matched_false_short"],
                     rjdb_shortened=r["shortened"], rjdb_experience_unchanged=r["unchanged"],
                     google_precision=g["precision"], google_recall=g["recall"],
                     google_bare_precision=bare["precision"], google_bare_recall=bare["recall"],
                     seconds=time.perf_counter() - t0))


if __name__ == "__main__":
    main()
