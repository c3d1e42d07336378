"""R1 (JD–JD curriculum) and R2 (JD–CV MNRL): LoRA on a sentence-transformers backbone, merged at the end."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from synth.errors import InputError
from synth.store import pool_members
from synth.store import DatasetStore, Version, code_version

from .backbones import (apply_lora, load_encoder, load_lora_state, lora_state, lora_targets, merge_lora, pick_device,
                        query_prompt, resolve_base)
from .config import R1Config, R2Config, as_dict
from .data import Triplet, jd_lineage, make_batches, r1_data, r2_triplets, split_by_group
from .distributed import init_from_env, is_main, world
from .encode import Tokens, embed, resolve_precision
from .engine import Trainer, run_stage
from .losses import grouped_ranking_loss, mnrl_loss, pair_alignment_loss
from .metrics import Query, rank_metrics, triplet_metrics
from .schedule import PROBE_STEPS, plan, probe_candidates

MANIFEST = "mira_train.json"


@dataclass
class TrainResult:
    out: Path
    manifest: dict
    saved: bool = True  # False on the ranks other than 0 of a distributed run (rank 0 saves)


def _progress(console: Console | None) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), console=console or Console(stderr=True), disable=console is None)


def _setup(base: str | None, cfg):
    init_from_env()  # under torchrun: join the process group (train/distributed.py)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = pick_device()
    model = load_encoder(base, device, cfg.max_length, cfg.trust_remote_code)
    precision = resolve_precision(cfg.precision, device)
    return model, device, precision


def _backbone_record(model, cfg) -> dict:
    """What the backbone was trained with, for mira_train.json (the query prompt is also saved in the model folder's
    sentence-transformers config, so `encode(jd, prompt_name="query")` encodes JDs the same way)."""
    return {"lora_targets": lora_targets(model, cfg.lora_targets), "max_seq_length": model.max_seq_length,
            "query_prompt_name": "query" if query_prompt(model) else None, "query_prompt": query_prompt(model),
            "trust_remote_code": cfg.trust_remote_code}


def _queries_prompted(items: list[Triplet], prompt: str) -> list[Triplet]:
    return [replace(t, query=prompt + t.query) for t in items] if prompt else items


def _pool_queries(store: DatasetStore, pool: Version) -> tuple[list[dict], set[str]]:
    jd_v, cv_v = pool_members(store, pool)
    jds, cvs = jd_v.by_id(), cv_v.by_id()
    qs = [{"qid": e["jd_id"], "text": jds[e["jd_id"]]["text"], "cands": [(c, cvs[c]["text"]) for c in e["candidate_ids"]],
           "pos": set(e["positive_ids"]), "hn": set(e.get("hard_negative_ids", []))} for e in pool.iter_records()]
    texts = {q["text"] for q in qs} | {t for q in qs for _, t in q["cands"]}
    return qs, texts


def _evaluator(model, tokens, device, precision, chunk, val_triplets=None, val_queries=None):
    def evaluate() -> dict:
        if val_queries:
            texts = sorted({q["text"] for q in val_queries} | {t for q in val_queries for _, t in q["cands"]})
            e = embed(model, tokens, texts, device, precision, chunk).numpy()
            at = {t: e[i] for i, t in enumerate(texts)}
            queries = [Query(q["qid"], [c for c, _ in q["cands"]],
                             np.array([float(at[q["text"]] @ at[t]) for _, t in q["cands"]]), q["pos"], q["hn"])
                       for q in val_queries]
            return rank_metrics(queries, [1, 5, 10])
        qs = [t for t in val_triplets if t.negative]
        if not qs:
            return {}
        enc = lambda xs: embed(model, tokens, xs, device, precision, chunk).numpy()  # noqa: E731
        return triplet_metrics(enc([t.query for t in qs]), enc([t.positive for t in qs]),
                               enc([t.negative for t in qs]))
    return evaluate


def _finish(model, out: Path, manifest: dict, console) -> TrainResult:
    rank, size = world()
    if size > 1:
        manifest["distributed"] = {"world_size": size, "backend": torch.distributed.get_backend()}
        if rank != 0:  # every rank holds the same weights; rank 0 writes them
            torch.distributed.barrier()
            return TrainResult(out, manifest, saved=False)
    merge_lora(model)
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    if console:
        console.print(f"[bold]saved[/] {out} (loads with SentenceTransformer('{out}'))")
    if size > 1:
        torch.distributed.barrier()
    return TrainResult(out, manifest)


def _manifest(kind, data: Version, val_ref, base, cfg, device, precision, logs, t0, extra=None) -> dict:
    return {"round": kind, "data": data.ref, "val": val_ref, "base": base, "base_path": resolve_base(base),
            "config": as_dict(cfg), "device": device, "precision": precision, "torch": torch.__version__,
            "platform": platform.platform(), "code_version": code_version(), "wall_seconds": round(time.time() - t0, 1),
            "epochs": [log.as_dict() for log in logs], **(extra or {})}


def _probe_lr(model, tokens, device, precision, cfg, sched: dict, batches, columns, loss_fn, evaluate, metric: str,
              console) -> float:
    """A few optimiser steps from the same start at each candidate lr; the best on validation wins (ties: the
    planned lr). The adapter is restored afterwards; the results go into `sched["lr"]`."""
    start, planned = lora_state(model), cfg.lr
    order = [b for e in range(cfg.epochs) for b in batches(e)]
    steps = min(PROBE_STEPS, len(order))
    results = []
    for lr in probe_candidates(planned):
        load_lora_state(model, start)
        trainer = Trainer(model, tokens, device, precision, lr, cfg.weight_decay, cfg.mini_batch)
        trainer.schedule(steps, cfg.warmup_ratio)
        for b in order[:steps]:
            trainer.step(columns(b), loss_fn)
        results.append({"lr": lr, metric: evaluate()[metric]})
        if console:
            console.print(f"lr probe: {lr:g} -> validation {metric} {results[-1][metric]:.4f} after {steps} steps")
    load_lora_state(model, start)
    best = max(results, key=lambda r: (round(r[metric], 6), r["lr"] == planned))
    sched["lr"] = {"value": best["lr"], "planned": planned, "probe": results, "probe_steps": steps,
                   "why": sched["lr"]["why"] + f"; probe on validation ({steps} steps each) kept {best['lr']:g}"}
    return best["lr"]


def train_r2(store: DatasetStore, data_ref: str, base: str | None, out: str | Path, cfg: R2Config | None = None,
             val_ref: str | None = None, console: Console | None = None) -> TrainResult:
    cfg = cfg or R2Config()
    t0 = time.time()
    init_from_env()
    console = console if is_main() else None
    data = store.resolve(data_ref, ("jdcv_triplet", "pool"))
    train = r2_triplets(store, data, cfg.seed)
    val_triplets, val_queries, val_texts = [], None, set()
    if val_ref:
        vv = store.resolve(val_ref, ("jdcv_triplet", "pool"))
        if vv.kind == "pool":
            val_queries, val_texts = _pool_queries(store, vv)
        else:
            val_triplets = r2_triplets(store, vv, cfg.seed)
    else:
        train, val_triplets = split_by_group(train, lambda t: t.group, cfg.val_fraction, cfg.seed)
    sched = plan("r2", cfg.preset, cfg.lr, cfg.epochs, len(train), cfg.batch_size)
    cfg = replace(cfg, lr=sched["lr"]["value"], epochs=sched["epochs"]["value"])
    model, device, precision = _setup(base, cfg)
    prompt, record = query_prompt(model), _backbone_record(model, cfg)  # JDs are the queries (Qwen3's instruction)
    train, val_triplets = _queries_prompted(train, prompt), _queries_prompted(val_triplets, prompt)
    if val_queries and prompt:
        val_queries = [{**q, "text": prompt + q["text"]} for q in val_queries]
        val_texts = {q["text"] for q in val_queries} | {t for q in val_queries for _, t in q["cands"]}
    texts = [x for t in train + val_triplets for x in (t.query, t.positive, t.negative) if x] + sorted(val_texts)
    tokens = Tokens(model, texts)
    evaluate = _evaluator(model, tokens, device, precision, cfg.mini_batch or 64, val_triplets, val_queries)
    before = evaluate()
    apply_lora(model, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_targets)

    def columns(b):
        items = [train[i] for i in b]
        return [[t.query for t in items], [t.positive for t in items], [t.negative for t in items if t.negative]]

    def loss_fn(embs):
        neg = embs[2] if embs[2].numel() else None
        return {"loss": mnrl_loss(embs[0], embs[1], neg, cfg.scale)}

    batches = lambda epoch: make_batches(  # noqa: E731
        len(train), cfg.batch_size, lambda i: train[i].group,
        lambda i: {x for x in (train[i].query, train[i].positive, train[i].negative) if x},
        lambda i: tokens.length(train[i].positive) + tokens.length(train[i].negative or train[i].positive),
        cfg.seed + epoch)
    metric = ("mrr" if val_queries else "margin") if (val_queries or val_triplets) else None
    if sched["probe"] and cfg.lr_probe and metric:
        cfg = replace(cfg, lr=_probe_lr(model, tokens, device, precision, cfg, sched, batches, columns, loss_fn,
                                        evaluate, metric, console))
    trainer = Trainer(model, tokens, device, precision, cfg.lr, cfg.weight_decay, cfg.mini_batch)
    with _progress(console) as prog:
        logs = run_stage(trainer, "r2", cfg.epochs, batches, columns, loss_fn,
                         evaluate if metric else None, metric, cfg.patience, cfg.warmup_ratio, prog)
    manifest = _manifest("r2", data, val_ref, base, cfg, device, precision, logs, t0,
                         {"train_triplets": len(train), "val_before": before, "backbone": record, "schedule": sched,
                          "lineage": jd_lineage(store, [data] + ([vv] if val_ref else []))})
    return _finish(model, Path(out), manifest, console)


def train_r1(store: DatasetStore, data_ref: str, base: str | None, out: str | Path, cfg: R1Config | None = None,
             console: Console | None = None, on_step=None) -> TrainResult:
    """Card warm-up -> semantic alignment -> grouped ranking, one adapter, frozen-teacher distillation."""
    cfg = cfg or R1Config()
    t0 = time.time()
    init_from_env()
    console = console if is_main() else None
    data = store.resolve(data_ref, "jd_pair")
    sets = r1_data(data)
    if not any(sets.values()):
        raise InputError(f"{data.ref} has no card / paraphrase pairs or complete ranking groups.")
    rank_epochs = cfg.stage_epochs.get("rank")
    sched = plan("r1", cfg.preset, cfg.lr, rank_epochs if rank_epochs is not None else cfg.epochs,
                 len(sets["rank"]) or len(sets["align"]), cfg.batch_size)
    cfg = replace(cfg, lr=sched["lr"]["value"], stage_epochs={**cfg.stage_epochs, "rank": sched["epochs"]["value"]})
    model, device, precision = _setup(base, cfg)
    prompt, record = query_prompt(model), _backbone_record(model, cfg)  # the anchor side is the query
    sets = {"card": _queries_prompted(sets["card"], prompt), "align": _queries_prompted(sets["align"], prompt),
            "rank": [(g[0], prompt + g[1], *g[2:]) for g in sets["rank"]]}
    texts = [x for t in sets["card"] + sets["align"] for x in (t.query, t.positive)] + \
            [x for g in sets["rank"] for x in g[1:]]
    tokens = Tokens(model, texts)
    # the frozen teacher: the original model's embeddings, computed once before the adapter exists
    uniq = sorted(set(texts))
    teacher_emb = embed(model, tokens, uniq, device, precision, cfg.mini_batch or 64)
    teacher = {t: teacher_emb[i] for i, t in enumerate(uniq)}
    apply_lora(model, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_targets)
    trainer = Trainer(model, tokens, device, precision, cfg.lr, cfg.weight_decay, cfg.mini_batch)
    all_logs, order = [], []
    current: dict = {}

    def pair_columns(items):
        def cols(b):
            current["teacher"] = [torch.stack([teacher[items[i].query] for i in b]),
                                  torch.stack([teacher[items[i].positive] for i in b])]
            return [[items[i].query for i in b], [items[i].positive for i in b]]
        return cols

    def pair_loss(embs):
        return pair_alignment_loss(embs[0], embs[1], *current["teacher"], w_p=cfg.w_pos, w_d=cfg.w_distill)

    groups = sets["rank"]

    def rank_columns(b):
        current["teacher"] = [torch.stack([teacher[groups[i][1]] for i in b]),
                              torch.stack([teacher[groups[i][2]] for i in b])]
        return [[groups[i][k] for i in b] for k in (1, 2, 3, 4)]

    def rank_loss(embs):
        return grouped_ranking_loss(*embs, *current["teacher"],
                                    weights=(cfg.w_pos, cfg.w_role, cfg.w_cons, cfg.w_distill),
                                    m_r=cfg.margin_role, m_k=cfg.margin_cons)

    with _progress(console) as prog:
        for stage in ("card", "align", "rank"):
            items = sets[stage]
            epochs = int(cfg.stage_epochs.get(stage) or cfg.stage_epochs["rank"])
            if not items or epochs <= 0:
                continue
            order.append(stage)
            if stage == "rank":
                group_of, texts_of = (lambda i: groups[i][0]), (lambda i: set(groups[i][1:]))
                length_of, columns, loss_fn = (lambda i: tokens.length(groups[i][1])), rank_columns, rank_loss
            else:
                group_of = (lambda it: lambda i: it[i].group)(items)
                texts_of = (lambda it: lambda i: {it[i].query, it[i].positive})(items)
                length_of = (lambda it: lambda i: tokens.length(it[i].query))(items)
                columns, loss_fn = pair_columns(items), pair_loss
            batches = (lambda n, g, t, ln: lambda e: make_batches(n, cfg.batch_size, g, t, ln, cfg.seed + e))(
                len(items), group_of, texts_of, length_of)
            step_hook = (lambda st: (lambda i, out: on_step(st, i, out)))(stage) if on_step else None
            all_logs += run_stage(trainer, f"r1-{stage}", epochs, batches, columns, loss_fn, None, None,
                                  cfg.patience, cfg.warmup_ratio, prog, step_hook)
    manifest = _manifest("r1", data, None, base, cfg, device, precision, all_logs, t0,
                         {"stages_run": order, "sizes": {k: len(v) for k, v in sets.items()},
                          "backbone": record, "schedule": sched,
                          "lineage": jd_lineage(store, [data])})
    return _finish(model, Path(out), manifest, console)
