"""Near-duplicate removal over 100,000 texts of generated-pair size (~80 words), built from the real JD pool.

    python benchmarks/dedup_bench.py [--quick]

Texts: 80-word windows of the real JDs (bases, half the corpus), light perturbations of distinct bases (2 words
replaced: planted near-duplicates, 30%) and heavy ones (25 words replaced: not duplicates, 20%), shuffled with a
fixed seed. Recall =
planted duplicates found; precision = found pairs whose exact shingle Jaccard is >= the threshold. Mira's
Deduplicator (exact keys, then rensa R-MinHash signatures and rensa's banded LSH with every candidate verified;
tokenising split over the CPU cores: this process and `python -m synth.dedup` workers) is compared with the naive
datasketch loop (one `MinHash.update` per shingle, `MinHashLSH.insert` per document), each in a fresh process with its
libraries imported before the timer starts (time, peak RSS of the process and of the largest worker). Target: Mira <= 5 s at 100k texts with precision and recall at least 0.998 / 0.911.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, bench_line, data_dir, peak_rss_mb

sys.path.insert(0, str(ROOT))
THRESHOLD, NUM_PERM, SHINGLE, SEED = 0.8, 128, 3, 1
JD_FILES = [("jds/monster_jobs_sample/jobs_sample.csv", "job_description"),
            ("jds/google_job_skills/job_skills.csv", "Responsibilities"),
            ("jds/dice_jobs_sample/dice_com-job_us_sample.csv", "jobdescription"),
            ("jds/glassdoor_ds_jobs/glassdoor_jobs.csv", "Job Description"),
            ("jds/panoslin_linkedin_jds/job_descriptions.csv", "job_description")]


def build_corpus(n: int, seed: int = 7) -> tuple[list[str], list[int]]:
    """(texts, index of the base text each planted near-duplicate was made from, or -1).

    Bases are 80-word windows of the real JDs at a stride of 16 words (neighbouring windows share ~66% of their
    shingles: below the threshold). Half the corpus is bases; 30% are light perturbations (2 words replaced), each
    of a different base, so the true duplicate pairs are known and never chained; 20% are heavy perturbations (25
    words replaced), which are not duplicates.
    """
    csv.field_size_limit(sys.maxsize)
    rng = random.Random(seed)
    seen, bases = set(), []
    for rel, col in JD_FILES:
        with open(data_dir() / rel, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                words = re.findall(r"\S+", row.get(col) or "")
                for i in range(0, len(words) - 79, 16):
                    w = " ".join(words[i:i + 80])
                    if w.lower() not in seen:
                        seen.add(w.lower())
                        bases.append(w)
    rng.shuffle(bases)
    n_base = n // 2
    if len(bases) < n_base:
        raise SystemExit(f"Only {len(bases)} distinct windows in the JD pool; use --n {2 * len(bases)} or less.")
    bases = bases[:n_base]
    vocab = sorted({w for b in bases[:2000] for w in b.split()})
    texts, origin = list(bases), [-1] * n_base
    light = rng.sample(range(n_base), 3 * n // 10)
    heavy = [rng.randrange(n_base) for _ in range(n - n_base - len(light))]
    for b, k in [(b, 2) for b in light] + [(b, 25) for b in heavy]:
        words = bases[b].split()
        for j in rng.sample(range(len(words)), k):
            words[j] = rng.choice(vocab)
        texts.append(" ".join(words))
        origin.append(b if k == 2 else -1)
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[i] for i in order], _remap(order, origin)


def _remap(order: list[int], origin: list[int]) -> list[int]:
    pos = {old: new for new, old in enumerate(order)}
    return [pos[origin[old]] if origin[old] >= 0 else -1 for old in order]


def shingles(text: str) -> set[str]:
    w = re.findall(r"\w+", text.lower())
    return {" ".join(w[i:i + SHINGLE]) for i in range(max(1, len(w) - SHINGLE + 1))}


def run_mira(texts: list[str]) -> list[int]:
    from synth.dedup import Deduplicator, MinHashParams

    d = Deduplicator(MinHashParams(num_perm=NUM_PERM, shingle=SHINGLE, seed=SEED, threshold=THRESHOLD))
    res = d.run([str(i) for i in range(len(texts))], texts)
    return [-1 if k else int(dup) for k, dup in zip(res.keep, res.duplicate_of)]


def run_naive(texts: list[str]) -> list[int]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    out = []
    for i, t in enumerate(texts):
        m = MinHash(num_perm=NUM_PERM, seed=SEED)
        for s in shingles(t):
            m.update(s.encode("utf-8"))
        hits = lsh.query(m)
        if hits:
            out.append(int(min(hits)))
        else:
            lsh.insert(str(i), m)
            out.append(-1)
    return out


def child(kind: str, corpus: Path) -> None:
    texts = json.loads(corpus.read_text())
    import datasketch  # noqa: F401  (both sides' libraries load before the timer)
    import synth.dedup  # noqa: F401
    t0 = time.perf_counter()
    dups = run_mira(texts) if kind == "mira" else run_naive(texts)
    import resource
    workers_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest tokenising worker
    print(json.dumps({"seconds": time.perf_counter() - t0, "rss_mb": peak_rss_mb(), "worker_rss_mb": workers_mb,
                      "dups": dups}))


def score(texts, origin, dups) -> tuple[float, float, int, int]:
    """Precision: flagged (doc, kept doc) pairs whose exact Jaccard is near the threshold or above (a chain of
    near-duplicates counts). Recall: planted pairs (exact Jaccard >= threshold) that end up in one group, whichever
    of the two came first."""
    parent = list(range(len(texts)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    found = [(i, d) for i, d in enumerate(dups) if d >= 0]
    for i, d in found:
        parent[find(i)] = find(d)
    true_pos = 0
    for i, d in found:
        a, b = shingles(texts[i]), shingles(texts[d])
        true_pos += len(a & b) / len(a | b) >= THRESHOLD - 0.05
    planted = [(i, o) for i, o in enumerate(origin) if o >= 0 and len(shingles(texts[i]) & shingles(texts[o])) /
               len(shingles(texts[i]) | shingles(texts[o])) >= THRESHOLD]
    recall = sum(find(i) == find(o) for i, o in planted) / max(1, len(planted))
    return true_pos / max(1, len(found)), recall, len(planted), len(found)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="20,000 texts")
    ap.add_argument("--n", type=int)
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    from rich.console import Console
    from rich.table import Table

    n = args.n or (20_000 if args.quick else 100_000)
    texts, origin = build_corpus(n)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.json"
        corpus.write_text(json.dumps(texts))
        for kind in ("mira", "naive"):
            out = subprocess.run([sys.executable, __file__, "--child", kind, str(corpus)], capture_output=True,
                                 text=True, check=True).stdout
            results[kind] = json.loads(out.strip().splitlines()[-1])
    t = Table(title=f"near-duplicate removal: {len(texts):,} texts of ~80 words, threshold {THRESHOLD}")
    for col in ("method", "seconds", "peak RSS MB", "worker peak RSS MB", "flagged", "precision", "recall"):
        t.add_column(col, justify="left" if col == "method" else "right")
    scores = {}
    for kind, r in results.items():
        p, rc, planted, found = score(texts, origin, r["dups"])
        scores[kind] = (p, rc)
        t.add_row(kind, f"{r['seconds']:.1f}", f"{r['rss_mb']:.0f}", f"{r['worker_rss_mb']:.0f}", str(found),
                  f"{p:.3f}", f"{rc:.3f}")
    console = Console()
    console.print(t)
    console.print(f"planted near-duplicates (exact Jaccard >= {THRESHOLD}): {planted:,}")
    m, nv = results["mira"], results["naive"]
    print(bench_line("dedup", texts=len(texts), seconds=m["seconds"], peak_rss_mb=m["rss_mb"],
                     worker_peak_rss_mb=m["worker_rss_mb"],
                     naive_seconds=nv["seconds"], naive_peak_rss_mb=nv["rss_mb"],
                     speedup=nv["seconds"] / m["seconds"], dup_precision=scores["mira"][0],
                     dup_recall=scores["mira"][1], naive_dup_precision=scores["naive"][0],
                     naive_dup_recall=scores["naive"][1]))


if __name__ == "__main__":
    main()
