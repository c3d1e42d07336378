"""R2 training speed and memory on CPU: Mira's R2 vs plain sentence-transformers, one epoch on 500 RJDB-dev triplets.

    python benchmarks/train_bench.py [--quick]

Like for like: the same data (the first 500 JDs of RJDB dev: JD, matched resume, unmatched resume), the same
hyperparameters (LoRA r=8, alpha=32, LoRA dropout 0 on query/key/value/dense, lr 1e-5, batch 32, max length 256,
MNRL scale 20, warm-up 10%), no dropout anywhere, each in a fresh process, and one timer around everything each
side does: model load, data preparation, the epoch and saving the result. Mira's R2 is now that library's
Trainer with CachedMultipleNegativesRankingLoss(mini_batch_size=16) plus what Mira adds (its run record, the
epoch-end checkpoint with optimiser state, the merge and the model card). Baselines: SentenceTransformerTrainer +
peft with MultipleNegativesRankingLoss ("plain"), and with CachedMultipleNegativesRankingLoss(mini_batch_size=16)
("cached"), both with the no-duplicates batch sampler and no checkpoints. LoRA on every side wraps the module with
peft's get_peft_model (transformers 5.25's `add_adapter` refuses peft 0.21.2, the newest on the index).
The ratios compare Mira and both baselines in fp32 without Mira's forgetting guard (like for like); a last row shows
Mira at its defaults: precision auto (bf16 where the CPU has AMX / AVX512-BF16) and the guard on (the original model's
JD embeddings computed once, the anchor term in the loss), which the baselines do not do.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, bench_line, data_dir, peak_rss_mb

sys.path.insert(0, str(ROOT))
MAX_LEN, BATCH, LR = 256, 32, 1e-5


def load_triplets(n: int) -> list[tuple[str, str, str]]:
    rows = [json.loads(x) for x in open(data_dir() / "pairs/rjdb/rjdb_dev.jsonl")][:n]
    return [(r["Job-Description"], r["Resume-matched"], r["Resume-unmatched"]) for r in rows]


def run_mira(trip, out: Path, precision: str = "fp32", distill: float | None = 0.0) -> dict:
    """Mira's R2; distill None: its default forgetting guard."""
    from synth.records import stable_id
    from synth.store import DatasetStore
    from train.config import R2Config, load_config
    from train.rounds import train_r2

    store = DatasetStore(out / "home")
    v = store.write("bench", "jdcv_triplet", [
        {"id": stable_id("jdcv_triplet", q + p), "kind": "jdcv_triplet", "jd_id": stable_id("jd", q), "jd": q,
         "positive": p, "negative": n, "generator": "imported", "negative_type": "rjdb_unmatched",
         "lineage": {"stage": "import", "source_ids": []}} for q, p, n in trip])
    cfg = load_config(R2Config, epochs=1, lr=LR, batch_size=BATCH, max_length=MAX_LEN, val_fraction=0.0,
                      lora_dropout=0.0, precision=precision, distill=distill)
    t0 = time.perf_counter()
    res = train_r2(store, v.ref, None, out / "mira-model", cfg)
    e = res.manifest["epochs"][0]
    return {"samples": e["samples"], "seconds": time.perf_counter() - t0, "precision": res.manifest["precision"]}


def run_cached(trip, out: Path) -> dict:
    return run_plain(trip, out, cached=True)


def run_plain(trip, out: Path, cached: bool = False) -> dict:
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import (CachedMultipleNegativesRankingLoss,
                                                                   MultipleNegativesRankingLoss)
    from torch import nn
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.training_args import BatchSamplers

    from train.backbones import resolve_base

    t0 = time.perf_counter()
    model = SentenceTransformer(resolve_base(None), device="cpu")
    model.max_seq_length = MAX_LEN
    model[0].model = get_peft_model(model[0].model, LoraConfig(r=8, lora_alpha=32, lora_dropout=0.0,
                                                                target_modules=["query", "key", "value", "dense"]))
    for m in model.modules():  # the same dropout setting as Mira's trainer: none
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    ds = Dataset.from_dict({"anchor": [t[0] for t in trip], "positive": [t[1] for t in trip],
                            "negative": [t[2] for t in trip]})
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / "plain"), num_train_epochs=1, per_device_train_batch_size=BATCH, learning_rate=LR,
        warmup_ratio=0.1, save_strategy="no", report_to=[], logging_steps=10_000, seed=0,
        batch_sampler=BatchSamplers.NO_DUPLICATES, dataloader_num_workers=0, disable_tqdm=True, use_cpu=True)
    loss = (CachedMultipleNegativesRankingLoss(model, scale=20.0, mini_batch_size=16) if cached
            else MultipleNegativesRankingLoss(model, scale=20.0))
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds, loss=loss)
    trainer.train()
    model.save(str(out / "plain-model"))
    return {"samples": len(trip), "seconds": time.perf_counter() - t0, "precision": "fp32"}


def child(kind: str, n: int) -> None:
    trip = load_triplets(n)
    with tempfile.TemporaryDirectory() as tmp:
        r = {"mira": run_mira, "mira-auto": lambda t, o: run_mira(t, o, "auto", None), "plain": run_plain,
             "cached": run_cached}[kind](trip, Path(tmp))
    r["rss_mb"] = peak_rss_mb()
    print(json.dumps(r))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="128 triplets instead of 500")
    ap.add_argument("--child")
    ap.add_argument("--n", type=int, default=500)
    args = ap.parse_args()
    n = 128 if args.quick else args.n
    if args.child:
        child(args.child, n)
        return
    from rich.console import Console
    from rich.table import Table

    res = {}
    for kind in ("mira", "plain", "cached", "mira-auto"):  # the ratios: all fp32 (like for like); auto beside
        out = subprocess.run([sys.executable, __file__, "--child", kind, "--n", str(n)], capture_output=True,
                             text=True)
        if out.returncode != 0:
            raise SystemExit(f"{kind} failed:\n{out.stderr[-3000:]}")
        res[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    t = Table(title=f"R2, one epoch, {n} RJDB triplets, max length {MAX_LEN}, batch {BATCH} (CPU)")
    for col in ("trainer", "precision", "seconds", "samples/s", "peak RSS MB"):
        t.add_column(col, justify="left" if col in ("trainer", "precision") else "right")
    for k, r in res.items():
        t.add_row(k, r["precision"], f"{r['seconds']:.1f}", f"{r['samples'] / r['seconds']:.2f}", f"{r['rss_mb']:.0f}")
    Console().print(t)
    m, p, c = res["mira"], res["plain"], res["cached"]
    sps, psps, csps = (x["samples"] / x["seconds"] for x in (m, p, c))
    print(f"Mira R2 vs plain ST + peft + MNRL: {sps / psps:.2f}x samples/s, {p['rss_mb'] / m['rss_mb']:.2f}x less peak RSS; "
          f"vs ST + peft + CachedMNRL(mini_batch_size=16): {sps / csps:.2f}x samples/s, {c['rss_mb'] / m['rss_mb']:.2f}x less "
          "peak RSS")
    print(bench_line("train", samples_per_s=sps, plain_samples_per_s=psps, cached_samples_per_s=csps,
                     speedup=sps / psps, speedup_vs_cached=sps / csps, peak_rss_mb=m["rss_mb"],
                     plain_peak_rss_mb=p["rss_mb"], cached_peak_rss_mb=c["rss_mb"], triplets=n))


if __name__ == "__main__":
    main()
