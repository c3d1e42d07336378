"""R1 (JD -> JD curriculum) on sentence-transformers' Trainer: card warm-up -> semantic alignment -> grouped
ranking as three Trainer stages on one LoRA adapter; the paper's losses (train/losses) as sentence-transformers
loss modules; distillation towards the frozen original model's embeddings, computed once before the adapter exists
and carried as the label column. Each stage checkpoints in OUT/checkpoints/<stage>; a re-run skips finished stages
and resumes the interrupted one."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import torch
from rich.console import Console
from transformers import TrainerCallback

from synth.errors import InputError
from synth.store import DatasetStore

from .backbones import apply_lora, query_prompt
from .config import R1Config, as_dict
from .data import jd_lineage, r1_data
from .losses import GroupedRankingLoss, PairAlignmentLoss
from .r2 import NOT_IDENTITY, no_dropout, world
from .run_record import (
    TrainResult,
    backbone_record,
    manifest,
    queries_prompted,
    save_merged,
    set_card,
    setup,
)
from .schedule import plan
from .st_trainer import (
    CHECKPOINTS,
    EpochClock,
    MiraTrainer,
    Progress,
    SaveAtEpochEnd,
    epoch_logs,
    last_checkpoint,
    prepare_run,
    saved_schedule,
    training_args,
    write_run,
)

STAGES = ("card", "align", "rank")
DONE = "stage_done"


class StepHook(TrainerCallback):
    """on_step(stage, step_in_stage, the loss's parts) after every optimiser step (tests, diagnostics)."""

    def __init__(self, stage, loss, fn):
        self.stage, self.loss, self.fn = stage, loss, fn

    def on_step_end(self, args, state, control, **kw):
        self.fn(self.stage, state.global_step - 1, dict(self.loss.last))


def _datasets(sets: dict, teacher: dict):
    from datasets import Dataset

    out = {}
    for stage in ("card", "align"):
        items = sets[stage]
        out[stage] = Dataset.from_dict({"anchor": [t.query for t in items], "positive": [t.positive for t in items],
                                        "label": [teacher[t.query] + teacher[t.positive] for t in items]})
    g = sets["rank"]
    out["rank"] = Dataset.from_dict({"anchor": [x[1] for x in g], "positive": [x[2] for x in g],
                                     "role": [x[3] for x in g], "constraint": [x[4] for x in g],
                                     "label": [teacher[x[1]] + teacher[x[2]] for x in g]})
    return out


def train_r1(store: DatasetStore, data_ref: str, base: str | None, out: str | Path, cfg: R1Config | None = None,
             console: Console | None = None, on_step=None, resume: str = "auto") -> TrainResult:
    """Card warm-up -> semantic alignment -> grouped ranking, one adapter, frozen-teacher distillation."""
    cfg = cfg or R1Config()
    t0, out = time.time(), Path(out)
    rank, size = world()
    console = console if rank == 0 else None
    data = store.resolve(data_ref, "jd_pair")
    sets = r1_data(data)
    if not any(sets.values()):
        raise InputError(f"{data.ref} has no card / paraphrase pairs or complete ranking groups.")
    identity = {"round": "r1", "data": data.ref, "base": base,
                **{k: v for k, v in as_dict(cfg).items() if k not in NOT_IDENTITY}}
    ckpt = out / CHECKPOINTS
    start = prepare_run(ckpt, identity, resume, console)
    rank_epochs = cfg.stage_epochs.get("rank")
    sched = (saved_schedule(ckpt) if start or any((ckpt / s / DONE).exists() for s in STAGES) else None) or plan(
        "r1", cfg.schedule, cfg.lr, rank_epochs if rank_epochs is not None else cfg.epochs,
        len(sets["rank"]) or len(sets["align"]), cfg.batch_size * cfg.grad_accum * size)
    if console:
        console.print(f"schedule: lr {sched['lr']['value']:g} ({sched['lr']['why']}); ranking-stage epochs "
                      f"{sched['epochs']['value']} ({sched['epochs']['why']})")
    cfg = replace(cfg, lr=sched["lr"]["value"], stage_epochs={**cfg.stage_epochs, "rank": sched["epochs"]["value"]})
    model, device, precision = setup(base, cfg)
    prompt, record = query_prompt(model), backbone_record(model, cfg)  # the anchor side is the query
    sets = {"card": queries_prompted(sets["card"], prompt), "align": queries_prompted(sets["align"], prompt),
            "rank": [(g[0], prompt + g[1], *g[2:]) for g in sets["rank"]]}
    texts = sorted({x for t in sets["card"] + sets["align"] for x in (t.query, t.positive)} |
                   {x for g in sets["rank"] for x in g[1:3]})
    no_dropout(model)
    # the frozen teacher: the original model's embeddings, computed once before the adapter exists
    emb = model.encode(texts, batch_size=cfg.mini_batch or 64, normalize_embeddings=True, convert_to_numpy=True,
                       show_progress_bar=False)
    teacher = {t: emb[i].tolist() for i, t in enumerate(texts)}
    data_sets = _datasets(sets, teacher)
    apply_lora(model, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_targets)
    set_card(model, "r1", base, [data.ref])
    if rank == 0:
        write_run(ckpt, identity, sched)
    epochs, order, previous, skipped = [], [], None, False
    for stage in STAGES:
        n_epochs = int(cfg.stage_epochs.get(stage) or cfg.stage_epochs["rank"])
        if not len(data_sets[stage]) or n_epochs <= 0:
            continue
        order.append(stage)
        folder = ckpt / stage
        last = last_checkpoint(folder)
        if (folder / DONE).exists() and last is not None:
            previous, skipped = last, True  # finished before: its last checkpoint carries the adapter on
            history = json.loads((last / "trainer_state.json").read_text())["log_history"]
            epochs += epoch_logs(f"r1-{stage}", history, len(data_sets[stage]), cfg.batch_size * size,
                                 EpochClock(), None)
            continue
        skipped = False
        if last is None and previous is not None:
            MiraTrainer._load_adapter(model, previous)
        loss = (GroupedRankingLoss(model, (cfg.w_pos, cfg.w_role, cfg.w_cons, cfg.w_distill), cfg.margin_role,
                                   cfg.margin_cons) if stage == "rank"
                else PairAlignmentLoss(model, cfg.w_pos, cfg.w_distill))
        args = training_args(cfg, folder, precision, None, n_epochs, cfg.lr, False, f"mira-r1-{stage}-{data.ref}")
        clock = EpochClock()
        cbs = [SaveAtEpochEnd(), clock, Progress(f"r1-{stage}", console, cfg.log_every)]
        if on_step:
            cbs.append(StepHook(stage, loss, on_step))
        trainer = MiraTrainer(model=model, args=args, train_dataset=data_sets[stage], loss=loss, callbacks=cbs)
        trainer.train(resume_from_checkpoint=str(last) if last else None)
        if rank == 0:
            (folder / DONE).write_text("done\n")
        previous = last_checkpoint(folder)
        epochs += epoch_logs(f"r1-{stage}", trainer.state.log_history, len(data_sets[stage]),
                             cfg.batch_size * size, clock, None)
    if skipped:  # every stage had finished before this run: the last one's adapter is the result
        MiraTrainer._load_adapter(model, previous)
    record = manifest("r1", data, None, base, cfg, device, precision, epochs, t0,
                      {"stages_run": order, "sizes": {k: len(v) for k, v in sets.items()}, "backbone": record,
                       "schedule": sched, "resumed_from": str(start) if start else None,
                       "lineage": jd_lineage(store, [data])})
    if size > 1:
        record["distributed"] = {"world_size": size, "backend": torch.distributed.get_backend()}
        if rank != 0:
            return TrainResult(out, record, saved=False)
    save_merged(model, out, record, console)
    return TrainResult(out, record)
