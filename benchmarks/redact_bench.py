"""PII redaction on the real livecareer CVs (all 2,484 of the shared set): what was replaced, and what must never be.

    python benchmarks/redact_bench.py

Counts the phones / e-mails / URLs / names `judge.redact.redact` replaced, and checks content survives: every year
range (2015-2019, 2015 - Present, 05/2015 to 06/2019 ...) and every month/year date in the original is still in the
redacted text (target: 0 touched). Shows a few replaced first lines so a person can see what a "name" was.
"""

from __future__ import annotations

import csv
import re
import sys
import time
from collections import Counter

from _common import ROOT, bench_line, data_dir

sys.path.insert(0, str(ROOT))
YEAR_RANGE = re.compile(r"\b(?:\d{1,2}/)?(?:19|20)\d\d\s*(?:-|–|to)\s*(?:(?:\d{1,2}/)?(?:19|20)\d\d|present|current)\b",
                        re.I)


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    from judge.redact import redact

    csv.field_size_limit(sys.maxsize)
    path = data_dir() / "cvs/livecareer_resumes/livecareer_resumes_from_pdf.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        texts = [r["Resume_text"] for r in csv.DictReader(fh) if (r.get("Resume_text") or "").strip()]
    counts, touched, ranges, cvs_with = Counter(), 0, 0, Counter()
    names = []
    t0 = time.perf_counter()
    for text in texts:
        c = Counter()
        out = redact(text, c)
        counts.update(c)
        for tag, n in c.items():
            cvs_with[tag] += n > 0
        before = Counter(m.group(0) for m in YEAR_RANGE.finditer(text))
        after = Counter(m.group(0) for m in YEAR_RANGE.finditer(out))
        ranges += sum(before.values())
        touched += sum((before - after).values())
        if c["[NAME]"] and len(names) < 5:  # the original of each line that now holds [NAME]
            names += [a.strip()[:60] for a, b in zip(text.split("\n"), out.split("\n")) if "[NAME]" in b and a != b]
    secs = time.perf_counter() - t0
    t = Table(title=f"redaction of {len(texts)} livecareer CVs ({secs:.1f} s)")
    for col in ("replaced", "occurrences", "CVs"):
        t.add_column(col, justify="left" if col == "replaced" else "right")
    for tag in ("[PHONE]", "[EMAIL]", "[URL]", "[NAME]"):
        t.add_row(tag, str(counts[tag]), str(cvs_with[tag]))
    t.add_row("year ranges in the originals", str(ranges), "")
    t.add_row("year ranges touched", str(touched), "")
    Console().print(t)
    if names:
        print("lines that now hold [NAME] (sample, to check for false positives):", " | ".join(names))
    print(bench_line("redact", cvs=len(texts), phones=counts["[PHONE]"], emails=counts["[EMAIL]"],
                     urls=counts["[URL]"], names=counts["[NAME]"], year_ranges=ranges, year_ranges_touched=touched,
                     seconds=secs))


if __name__ == "__main__":
    main()
