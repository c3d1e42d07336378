"""Near-duplicate removal over 100,000 texts of generated-pair size (~80 words), built from the real JD pool.

    python benchmarks/dedup_bench.py [--quick]

Texts: 80-word windows of the real JDs (bases, half the corpus), light perturbations of distinct bases (2 words
replaced: planted near-duplicates, 30%) and heavy ones (25 words replaced: not duplicates, 20%), shuffled with a
fixed seed. Recall =
planted duplicates found; precision = found pairs whose exact shingle Jaccard is >= the threshold. Mira's
Deduplicator (exact keys, then rensa R-MinHash signatures and rensa's banded LSH with every candidate verified;
tokenising split over min(cores, 8) processes: this process and `python -m synth.dedup` workers) is compared, like for
like, with datasketch doing the same work: exact keys, `MinHash.update_batch` per document on the same word
3-shingles, the same LSH bands (`MinHashLSH(params=MinHashParams().bands)`), every candidate verified on its
signature (Jaccard estimate >= threshold) and hashing split over the same number of processes (a spawn pool: fresh
interpreters, as Mira's workers). The speedup is against that baseline. The old naive loop (one `MinHash.update` per
shingle, datasketch's own bands, no verification, one process) is printed beside it for reference. Each runs in a
fresh process with its libraries imported before the timer starts (time, peak RSS of the process and of the largest
worker). Target: Mira <= 5 s at 100k texts with precision and recall at least 0.998 / 0.911.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
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


def _datasketch_chunk(texts: list[str]):
    """(exact keys, MinHash hash values) of a slice: one `update_batch` per document (a worker's job)."""
    import hashlib

    import numpy as np
    from datasketch import MinHash

    keys, values, scheme = [], [], None
    for t in texts:
        w = re.findall(r"\w+", t.lower())
        keys.append(hashlib.sha1(" ".join(w).encode("utf-8")).digest())
        m = MinHash(num_perm=NUM_PERM, seed=SEED)
        m.update_batch([s.encode("utf-8") for s in shingles(t)])
        values.append(np.asarray(m.hashvalues, dtype=np.uint64))
        scheme = m.scheme
    return keys, values, scheme


class _Inline:
    """One process: the chunks hashed here (what Mira does below PARALLEL_MIN texts)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def imap(self, fn, items):
        return map(fn, items)


def run_datasketch(texts: list[str]) -> list[int]:
    """The like-for-like baseline: Mira's algorithm on datasketch (see the module doc)."""
    import multiprocessing as mp
    import os

    from datasketch import LeanMinHash, MinHashLSH

    from synth.dedup import PARALLEL_MIN, MinHashParams

    bands = MinHashParams(num_perm=NUM_PERM, shingle=SHINGLE, seed=SEED, threshold=THRESHOLD).bands
    n_proc = min(os.cpu_count() or 1, 8)  # as synth.dedup's prepare_chunks: one process below PARALLEL_MIN texts
    if len(texts) < PARALLEL_MIN:
        n_proc = 1
    step = -(-len(texts) // n_proc)
    chunks = [texts[lo:lo + step] for lo in range(0, len(texts), step)]
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, params=bands)
    exact: dict[bytes, int] = {}
    kept: dict[int, LeanMinHash] = {}
    out: list[int] = []
    pool = mp.get_context("spawn").Pool(n_proc) if n_proc > 1 else None
    with pool or _Inline() as p:
        for keys, values, scheme in p.imap(_datasketch_chunk, chunks):
            for key, hv in zip(keys, values):
                i = len(out)
                if key in exact:
                    out.append(exact[key])
                    continue
                exact[key] = i
                m = LeanMinHash(seed=SEED, hashvalues=hv, scheme=scheme)
                hits = [int(c) for c in lsh.query(m) if kept[int(c)].jaccard(m) >= THRESHOLD]
                if hits:
                    out.append(min(hits))
                else:
                    kept[i] = m
                    lsh.insert(str(i), m)
                    out.append(-1)
    return out


def child(kind: str, corpus: Path) -> None:
    texts = json.loads(corpus.read_text())
    import datasketch  # noqa: F401  (both sides' libraries load before the timer)
    import synth.dedup  # noqa: F401
    t0 = time.perf_counter()
    dups = {"mira": run_mira, "datasketch": run_datasketch, "naive": run_naive}[kind](texts)
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
    ap.add_argument("--no-naive", action="store_true", help="skip the old one-process naive loop")
    args = ap.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    from rich.console import Console
    from rich.table import Table

    from synth.dedup import PARALLEL_MIN

    n = args.n or (20_000 if args.quick else 100_000)
    texts, origin = build_corpus(n)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.json"
        corpus.write_text(json.dumps(texts))
        for kind in ("mira", "datasketch", "naive")[:2 if args.no_naive else 3]:
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
    m, ds = results["mira"], results["datasketch"]
    nv = results.get("naive")
    console.print(f"speedup against datasketch like for like (same bands, batch updates, verification, "
                  f"{min(os.cpu_count() or 1, 8) if len(texts) >= PARALLEL_MIN else 1} process(es)): {ds['seconds'] / m['seconds']:.2f}x"
                  + (f"; against the old naive loop: {nv['seconds'] / m['seconds']:.2f}x" if nv else ""))
    print(bench_line("dedup", texts=len(texts), seconds=m["seconds"], peak_rss_mb=m["rss_mb"],
                     worker_peak_rss_mb=m["worker_rss_mb"], datasketch_seconds=ds["seconds"],
                     datasketch_peak_rss_mb=ds["rss_mb"], speedup=ds["seconds"] / m["seconds"],
                     dup_precision=scores["mira"][0], dup_recall=scores["mira"][1],
                     datasketch_dup_precision=scores["datasketch"][0], datasketch_dup_recall=scores["datasketch"][1],
                     **({"naive_seconds": nv["seconds"], "naive_speedup": nv["seconds"] / m["seconds"]} if nv else {})))


if __name__ == "__main__":
    main()
