"""R2 (JD -> CV) on sentence-transformers' Trainer: LoRA (peft) on the backbone, the library's gradient-cached
MNRL with hard negatives, the JDs anchored to the original model's embeddings (--distill, the forgetting guard),
checkpoints that resume, Mira's validation with early stopping, the data-size schedule,
merged on save with a model card and named prompts."""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from synth.errors import InputError
from synth.store import DatasetStore

from .backbones import apply_lora, query_prompt
from .config import R2Config, as_dict
from .data import Triplet, jd_lineage, r2_triplets, split_by_group
from .losses.anchored_mnrl import AnchoredCachedMNRL, AnchoredMNRL
from .metrics import Query, rank_metrics, triplet_metrics
from .run_record import (
    TrainResult,
    backbone_record,
    manifest,
    pool_queries,
    queries_prompted,
    save_merged,
    set_card,
    setup,
)
from .schedule import PROBE_STEPS, plan, probe_candidates
from .st_trainer import (
    CHECKPOINTS,
    EarlyStopBest,
    EpochClock,
    MiraEvaluator,
    MiraTrainer,
    Progress,
    SaveAtEpochEnd,
    adapter_state,
    epoch_logs,
    load_adapter_state,
    prepare_run,
    saved_schedule,
    training_args,
    write_run,
)

# settings that do not change what is learned: a run resumed with other values is the same run
NOT_IDENTITY = ("report_to", "log_every", "threads", "save_steps", "keep_checkpoints")


def world() -> tuple[int, int]:
    import os

    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def no_dropout(model) -> None:
    """Dropout off, as Mira always trained: the student equals the frozen teacher at step 0 and a step is a
    function of the batch alone (resumed runs match uninterrupted ones)."""
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0


def r2_dataset(items: list[Triplet], teacher: dict[str, list[float]] | None = None, anchored: int = 1):
    """anchor / positive (/ negative) columns; with a teacher, a `label` column holding the frozen original model's
    embeddings of the row's first `anchored` texts (the JD alone: 1), concatenated: the anchored loss's targets."""
    from datasets import Dataset

    cols = {"anchor": [t.query for t in items], "positive": [t.positive for t in items]}
    if all(t.negative for t in items):
        cols["negative"] = [t.negative for t in items]
    if teacher is not None:
        texts = list(cols.values())[:anchored]
        cols["label"] = [[x for col in texts for x in teacher[col[i]]] for i in range(len(items))]
    return Dataset.from_dict(cols)


DISTILL_ON = {"jd": 1, "all": 3}  # the columns the forgetting guard anchors: the JD alone, or JD, CV+, CV-


def teacher_embeddings(model, items: list[Triplet], batch: int, anchored: int) -> dict[str, list[float]]:
    """The original model's embeddings of the training texts the guard anchors, computed once before the adapter
    exists."""
    texts = sorted({x for t in items for x in (t.query, t.positive, t.negative)[:anchored] if x})
    emb = model.encode(texts, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True,
                       show_progress_bar=False)
    return {t: emb[i].tolist() for i, t in enumerate(texts)}


def validation(val_triplets: list[Triplet], val_queries: list[dict] | None, batch: int):
    """fn(model) -> Mira's validation metrics: ranking metrics on a pool, else triplet margin / accuracy."""
    def enc(model, texts):
        return model.encode(texts, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=False)

    def evaluate(model) -> dict:
        if val_queries:
            texts = sorted({q["text"] for q in val_queries} | {t for q in val_queries for _, t in q["cands"]})
            e = enc(model, texts)
            at = {t: e[i] for i, t in enumerate(texts)}
            return rank_metrics([Query(q["qid"], [c for c, _ in q["cands"]],
                                       np.array([float(at[q["text"]] @ at[t]) for _, t in q["cands"]]), q["pos"],
                                       q["hn"]) for q in val_queries], [1, 5, 10])
        qs = [t for t in val_triplets if t.negative]
        if not qs:
            return {}
        return triplet_metrics(enc(model, [t.query for t in qs]), enc(model, [t.positive for t in qs]),
                               enc(model, [t.negative for t in qs]))
    return evaluate


def mnrl(model, cfg, size: int):
    """The library's (cached) MNRL, anchored to the original model's embeddings when cfg.distill > 0."""
    if cfg.mini_batch:
        return AnchoredCachedMNRL(model, cfg.distill, scale=cfg.scale, mini_batch_size=cfg.mini_batch,
                                  gather_across_devices=size > 1)
    return AnchoredMNRL(model, cfg.distill, scale=cfg.scale, gather_across_devices=size > 1)


def probe_lr(model, cfg, sched: dict, ds, evaluate, metric: str, precision: str, console) -> float:
    """PROBE_STEPS optimiser steps from the same start at each candidate lr; the best on validation wins (ties: the
    planned lr). The adapter is restored afterwards; the results go into `sched["lr"]`."""
    start, planned = adapter_state(model), cfg.lr
    steps = min(PROBE_STEPS, sched["steps_per_epoch"] * cfg.epochs)
    results = []
    for lr in probe_candidates(planned):
        load_adapter_state(model, start)
        if console:
            console.print(f"lr probe: {steps} steps at lr {lr:g} ...")
        with tempfile.TemporaryDirectory() as tmp:
            args = training_args(replace(cfg, report_to="none", save_steps=10**9), Path(tmp), precision, steps,
                                 1, lr, False, "lr-probe")
            args.save_strategy = "no"
            MiraTrainer(model=model, args=args, train_dataset=ds, loss=mnrl(model, cfg, 1)).train()
        results.append({"lr": lr, metric: evaluate(model)[metric]})
        if console:
            console.print(f"lr probe: {lr:g} -> validation {metric} {results[-1][metric]:.4f}")
    load_adapter_state(model, start)
    best = max(results, key=lambda r: (round(r[metric], 6), r["lr"] == planned))
    sched["lr"] = {"value": best["lr"], "planned": planned, "probe": results, "probe_steps": steps,
                   "why": sched["lr"]["why"] + f"; probe on validation ({steps} steps each) kept {best['lr']:g}"}
    return best["lr"]


def train_r2(store: DatasetStore, data_ref: str, base: str | None, out: str | Path, cfg: R2Config | None = None,
             val_ref: str | None = None, console: Console | None = None, resume: str = "auto",
             callbacks: list | None = None) -> TrainResult:
    """R2: LoRA + cached MNRL over (JD, CV+, CV-); checkpoints in OUT/checkpoints; merged into OUT.
    resume: auto (continue the same run's last checkpoint), always, never (start afresh), or a checkpoint folder."""
    cfg = cfg or R2Config()
    if cfg.distill_on not in DISTILL_ON:
        raise InputError(f"distill_on '{cfg.distill_on}' is not known (use {' or '.join(DISTILL_ON)}).")
    if cfg.distill < 0:
        raise InputError(f"distill must be 0 (off) or more, not {cfg.distill:g}.")
    t0, out = time.time(), Path(out)
    rank, size = world()
    console = console if rank == 0 else None
    data = store.resolve(data_ref, ("jdcv_triplet", "pool"))
    train = r2_triplets(store, data, cfg.seed)
    val_triplets, val_queries, vv = [], None, None
    if val_ref:
        vv = store.resolve(val_ref, ("jdcv_triplet", "pool"))
        if vv.kind == "pool":
            val_queries = pool_queries(store, vv)
        else:
            val_triplets = r2_triplets(store, vv, cfg.seed)
    else:
        train, val_triplets = split_by_group(train, lambda t: t.group, cfg.val_fraction, cfg.seed)
    identity = {"round": "r2", "data": data.ref, "val": vv.ref if vv else None, "base": base,
                **{k: v for k, v in as_dict(cfg).items() if k not in NOT_IDENTITY}}
    ckpt = out / CHECKPOINTS
    start = prepare_run(ckpt, identity, resume, console)
    sched = (saved_schedule(ckpt) if start else None) or plan("r2", cfg.schedule, cfg.lr, cfg.epochs, len(train),
                                                              cfg.batch_size * cfg.grad_accum * size)
    if console:
        console.print(f"schedule: lr {sched['lr']['value']:g} ({sched['lr']['why']}); epochs "
                      f"{sched['epochs']['value']} ({sched['epochs']['why']})")
    cfg = replace(cfg, lr=sched["lr"]["value"], epochs=sched["epochs"]["value"])
    model, device, precision = setup(base, cfg)
    prompt, record = query_prompt(model), backbone_record(model, cfg)  # JDs are the queries (Qwen3's instruction)
    train, val_triplets = queries_prompted(train, prompt), queries_prompted(val_triplets, prompt)
    if val_queries and prompt:
        val_queries = [{**q, "text": prompt + q["text"]} for q in val_queries]
    if any(t.negative for t in train) and not all(t.negative for t in train):
        raise InputError(f"{data.ref}: some triplets have a hard negative and some do not; R2 needs all or none.")
    evaluate = validation(val_triplets, val_queries, cfg.mini_batch or 64)
    metric = ("mrr" if val_queries else "margin") if (val_queries or val_triplets) else None
    before = evaluate(model) if metric else {}
    no_dropout(model)
    # the forgetting guard's targets: the original model's embeddings, before the adapter exists
    anchored = DISTILL_ON[cfg.distill_on]
    ds = r2_dataset(train, teacher_embeddings(model, train, cfg.mini_batch or 64, anchored) if cfg.distill else None,
                    anchored)
    apply_lora(model, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_targets)
    set_card(model, "r2", base, [data.ref] + ([vv.ref] if vv else []))
    if sched["probe"] and cfg.lr_probe and metric and not start:
        cfg = replace(cfg, lr=probe_lr(model, cfg, sched, ds, evaluate, metric, precision, console))
    if rank == 0:
        write_run(ckpt, identity, sched)
    args = training_args(cfg, ckpt, precision, cfg.max_steps, cfg.epochs, cfg.lr, bool(metric), f"mira-r2-{data.ref}")
    clock = EpochClock()
    stopper = EarlyStopBest("eval_mira_val_" + metric, cfg.patience, ckpt, model) if metric else None
    cbs = [SaveAtEpochEnd(), clock, Progress("r2", console, cfg.log_every)] + ([stopper] if stopper else [])
    trainer = MiraTrainer(model=model, args=args, train_dataset=ds, loss=mnrl(model, cfg, size),
                          evaluator=MiraEvaluator(evaluate, metric) if metric else None,
                          callbacks=cbs + list(callbacks or []))
    trainer.train(resume_from_checkpoint=str(start) if start else None)
    best_step = stopper.restore() if stopper else None
    epochs = epoch_logs("r2", trainer.state.log_history, len(train), cfg.batch_size * size, clock, metric)
    record = manifest("r2", data, val_ref, base, cfg, device, precision, epochs, t0,
                      {"train_triplets": len(train), "val_before": before, "backbone": record, "schedule": sched,
                       "steps": trainer.state.global_step, "best_step": best_step,
                       "resumed_from": str(start) if start else None, "checkpoints": str(ckpt),
                       "lineage": jd_lineage(store, [data] + ([vv] if vv else []))})
    if size > 1:
        record["distributed"] = {"world_size": size, "backend": torch.distributed.get_backend()}
    if not trainer.is_world_process_zero():
        return TrainResult(out, record, saved=False)
    save_merged(model, out, record, console)
    return TrainResult(out, record)
