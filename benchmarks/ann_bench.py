"""ANN (usearch) against exact search for `mira eval global`, on the shared RJDB dev pool with every livecareer CV as
distractors: the same model, corpus, JDs and first-stage depth; Recall@K of both and the difference in points.

    python benchmarks/ann_bench.py [--k1 100]

Target (#17): Recall@K of the ANN path within 0.5 pp of exact search. Embeddings are cached, so both rows encode
once; the search times are reported apart.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import bench_line, data_dir

from synth.importer import import_file
from synth.store import DatasetStore


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k1", type=int, default=100)
    args = ap.parse_args()
    from rich.console import Console
    from rich.table import Table

    from train.embed_cache import EmbeddingCache
    from train.retrieval import global_eval
    from train.scorer import make_scorer

    tmp = Path(tempfile.mkdtemp(prefix="mira-ann-"))
    store = DatasetStore(tmp)
    import_file(store, "pool", data_dir() / "pairs/rjdb/rjdb_dev.jsonl", "rjdb", preset="rjdb")
    import_file(store, "cv", data_dir() / "cvs/livecareer_resumes/livecareer_resumes_from_pdf.csv", "livecareer",
                preset="livecareer")
    cache = EmbeddingCache(tmp / ".mira" / "embeddings.sqlite")
    scorer = make_scorer("zero-shot")
    ks = [1, 5, 10, 50, 100]
    global_eval(store, "rjdb", scorer, ks, cache, args.k1, "livecareer")  # fills the embedding cache
    rows = {}
    for name, threshold in (("exact", 10**9), ("ann", 0)):
        t0 = time.perf_counter()
        rows[name] = global_eval(store, "rjdb", scorer, ks, cache, args.k1, "livecareer", ann_threshold=threshold)
        rows[name]["seconds"] = time.perf_counter() - t0
    t = Table(title=f"RJDB dev {rows['exact']['n_queries']} JDs against {rows['exact']['corpus_size']:,} CVs "
                    f"(RJDB + livecareer), zero-shot MiniLM, first stage top {args.k1}")
    t.add_column("search")
    for k in ks:
        t.add_column(f"Recall@{k}", justify="right")
    t.add_column("seconds (cached embeddings)", justify="right")
    for name, m in rows.items():
        t.add_row(name, *(f"{m[f'recall@{k}']:.4f}" for k in ks), f"{m['seconds']:.1f}")
    diffs = {k: 100 * (rows["ann"][f"recall@{k}"] - rows["exact"][f"recall@{k}"]) for k in ks}
    t.add_row("ann - exact (pp)", *(f"{diffs[k]:+.2f}" for k in ks), "")
    Console().print(t)
    print(bench_line("ann", jds=rows["exact"]["n_queries"], corpus=rows["exact"]["corpus_size"], k1=args.k1,
                     max_abs_diff_pp=max(abs(d) for d in diffs.values()),
                     **{f"exact_recall@{k}": rows["exact"][f"recall@{k}"] for k in ks},
                     **{f"ann_recall@{k}": rows["ann"][f"recall@{k}"] for k in ks}))


if __name__ == "__main__":
    main()
