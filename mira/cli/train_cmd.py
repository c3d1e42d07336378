"""`mira train r1|r2`: LoRA rounds on a sentence-transformers backbone (the train extra: torch, peft, ST)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from rich.table import Table

from .common import HomeOpt, console, err_console, store_for

app = typer.Typer(no_args_is_help=True, help="Train the encoder: R1 (JD–JD curriculum), R2 (JD–CV MNRL).")

DataOpt = Annotated[str, typer.Option("--data", help="dataset REF")]
BaseOpt = Annotated[Optional[str], typer.Option("--base", help="local sentence-transformers folder (default: the "
                                                "offline all-MiniLM-L6-v2)", show_default=False)]
OutOpt = Annotated[Path, typer.Option("--out", help="output folder for the merged model")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="YAML / JSON overriding the paper's defaults",
                                                   show_default=False)]
EpochsOpt = Annotated[Optional[int], typer.Option("--epochs", help="passes over the training data (default: enough "
                                                 "for ~150 optimiser steps, 5 to 20; early stopping on validation)",
                                                 show_default=False)]
LrOpt = Annotated[Optional[float], typer.Option("--lr", help="peak learning rate (default: the paper's scaled to the "
                                               "data size, then a short probe on validation keeps the best of "
                                               "lr/4, lr, 4 lr)", show_default=False)]
BatchOpt = Annotated[Optional[int], typer.Option("--batch-size", help="examples per batch per process: each JD sees "
                                                 "the batch's other CVs as negatives (default 32)",
                                                 show_default=False)]
MaxLenOpt = Annotated[Optional[int], typer.Option("--max-length", help="tokens per text, longer ones are cut (default: "
                                                  "R1 512, R2 2048, capped at the backbone's limit)",
                                                  show_default=False)]
MaxStepsOpt = Annotated[Optional[int], typer.Option("--max-steps", help="stop after N optimiser steps (overrides "
                                                    "--epochs)", show_default=False)]
AccumOpt = Annotated[Optional[int], typer.Option("--grad-accum", help="optimiser step every N batches (default 1)",
                                                 show_default=False)]
SaveStepsOpt = Annotated[Optional[int], typer.Option("--save-steps", help="checkpoint every N optimiser steps, and at "
                                                     "each epoch end (default 50), in OUT/checkpoints",
                                                     show_default=False)]
ReportOpt = Annotated[Optional[str], typer.Option("--report-to", help="none (default), tensorboard, wandb or trackio",
                                                  show_default=False)]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="require a checkpoint in OUT/checkpoints and continue from "
                                         "it (re-running the same command without it also continues)")]
FreshOpt = Annotated[bool, typer.Option("--fresh", help="discard OUT/checkpoints and start afresh")]
TrustOpt = Annotated[bool, typer.Option("--trust-remote-code", help="run the backbone folder's own modelling code "
                                        "(Jina v3 needs it); explicit opt-in, recorded in mira_train.json")]
TargetsOpt = Annotated[Optional[str], typer.Option("--lora-targets", help="comma-separated module names to adapt "
                                                   "(default: chosen from the modules the model has)",
                                                   show_default=False)]
ScheduleOpt = Annotated[Optional[str], typer.Option("--schedule", help="learning schedule: auto (default): learning "
                                                   "rate and epochs fit the data size, recorded with why in "
                                                   "mira_train.json; paper: PAPER.md's values", show_default=False)]
PrecisionOpt = Annotated[Optional[str], typer.Option("--precision", help="auto (default: bf16 where supported, fp16 "
                                                     "on GPUs without bf16, else fp32), bf16, fp16 or fp32",
                                                     show_default=False)]


DistillOpt = Annotated[Optional[float], typer.Option("--distill", help="forgetting guard: weight of the pull towards "
                                                  "the original model's embeddings of the training JDs (default "
                                                  "2; 0 turns it off)", show_default=False)]
DistillOnOpt = Annotated[Optional[Literal["jd", "all"]], typer.Option(
    "--distill-on", help="what the guard anchors: jd (default: the JDs) or all (JDs and both CVs)",
    show_default=False)]


NprocOpt = Annotated[int, typer.Option("--nproc", help="data-parallel processes (one per GPU; CPU: gloo), started "
                                      "with torchrun; the loss sees the global batch")]


def _relaunch(command: str, nproc: int, options: dict) -> None:
    """Start `mira train COMMAND` once per rank under torchrun (unless already inside it) and exit with its status."""
    import os
    import subprocess
    import sys

    args = ["train", command]
    for flag, value in options.items():
        if value is None or value is False:
            continue
        args += [flag] if value is True else [flag, str(value)]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
           "-m", "mira.cli"] + args
    err_console.print(f"[dim]{' '.join(cmd)}[/]")
    raise typer.Exit(subprocess.call(cmd, env={**os.environ, "MIRA_NPROC_CHILD": "1"}))


def _targets(spec: str | None) -> list[str] | None:
    return [x.strip() for x in spec.split(",") if x.strip()] if spec else None


def _summary(res) -> None:
    t = Table(title=f"training log ({res.manifest['round']}, {res.manifest['device']}, {res.manifest['precision']})")
    for col in ("stage", "epoch", "train loss", "samples/s", "validation"):
        t.add_column(col)
    for e in res.manifest["epochs"]:
        val = ", ".join(f"{k}={v:.4f}" for k, v in e["val"].items() if isinstance(v, float))
        rate = f"{e['samples_per_s']:.2f}" if e.get("samples_per_s") else "-"
        t.add_row(e["stage"], str(e["epoch"]), f"{e['train_loss']:.4f}", rate, val)
    console.print(t)
    console.print(f"wall time {res.manifest['wall_seconds']} s; manifest: {res.out / 'mira_train.json'}")


def _interrupted(out: Path) -> None:
    """Ctrl-C during training: say what the checkpoints allow (not the pipeline's journal message)."""
    from train.st_trainer import interrupted_message

    err_console.print(f"[yellow]{interrupted_message(out)}[/]")
    raise typer.Exit(130)


@app.command("r2")
def r2_cmd(data: DataOpt, out: OutOpt, base: BaseOpt = None,
           val: Annotated[Optional[str], typer.Option("--val", help="pool or jdcv_triplet REF for validation "
                                                      "(default: 10% of the JDs held out)")] = None,
           config: ConfigOpt = None, epochs: EpochsOpt = None, lr: LrOpt = None, batch_size: BatchOpt = None,
           max_length: MaxLenOpt = None, precision: PrecisionOpt = None, trust_remote_code: TrustOpt = False,
           lora_targets: TargetsOpt = None, schedule: ScheduleOpt = None, max_steps: MaxStepsOpt = None,
           grad_accum: AccumOpt = None, save_steps: SaveStepsOpt = None, report_to: ReportOpt = None,
           distill: DistillOpt = None, distill_on: DistillOnOpt = None, resume: ResumeOpt = False,
           fresh: FreshOpt = False, nproc: NprocOpt = 1, home: HomeOpt = None) -> None:
    """R2: LoRA + cached MNRL over (JD, CV+, CV-) from a jdcv_triplet or pool version, on sentence-transformers'
    Trainer; checkpoints in OUT/checkpoints (a re-run continues from the last); merged into OUT."""
    from train.config import R2Config, load_config
    from train.rounds import train_r2

    if resume and fresh:
        raise typer.BadParameter("--resume and --fresh exclude each other.")
    if nproc > 1 and "WORLD_SIZE" not in __import__("os").environ:
        _relaunch("r2", nproc, {"--data": data, "--out": out, "--base": base, "--val": val, "--config": config,
                                "--epochs": epochs, "--lr": lr, "--batch-size": batch_size, "--max-length": max_length,
                                "--precision": precision, "--trust-remote-code": trust_remote_code,
                                "--lora-targets": lora_targets, "--schedule": schedule, "--max-steps": max_steps,
                                "--grad-accum": grad_accum, "--save-steps": save_steps, "--report-to": report_to,
                                "--distill": distill, "--distill-on": distill_on, "--resume": resume,
                                "--fresh": fresh, "--home": home})

    cfg = load_config(R2Config, config, epochs=epochs, lr=lr, batch_size=batch_size, max_length=max_length,
                      precision=precision, trust_remote_code=trust_remote_code or None,
                      lora_targets=_targets(lora_targets), schedule=schedule, max_steps=max_steps,
                      grad_accum=grad_accum, save_steps=save_steps, report_to=report_to, distill=distill,
                      distill_on=distill_on)
    try:
        res = train_r2(store_for(home), data, base, out, cfg, val, err_console,
                       resume="always" if resume else "never" if fresh else "auto")
    except KeyboardInterrupt:
        _interrupted(out)
    if res.saved:
        _summary(res)


@app.command("r1")
def r1_cmd(data: DataOpt, out: OutOpt, base: BaseOpt = None, config: ConfigOpt = None, epochs: EpochsOpt = None,
           lr: LrOpt = None, batch_size: BatchOpt = None, max_length: MaxLenOpt = None,
           precision: PrecisionOpt = None, trust_remote_code: TrustOpt = False, lora_targets: TargetsOpt = None,
           schedule: ScheduleOpt = None, nproc: NprocOpt = 1, home: HomeOpt = None) -> None:
    """R1: card warm-up, semantic alignment, grouped ranking on a jd_pair version; one adapter; merged into OUT."""
    from train.config import R1Config, load_config
    from train.rounds import train_r1

    if nproc > 1 and "WORLD_SIZE" not in __import__("os").environ:
        _relaunch("r1", nproc, {"--data": data, "--out": out, "--base": base, "--config": config, "--epochs": epochs,
                                "--lr": lr, "--batch-size": batch_size, "--max-length": max_length,
                                "--precision": precision, "--trust-remote-code": trust_remote_code,
                                "--lora-targets": lora_targets, "--schedule": schedule, "--home": home})

    cfg = load_config(R1Config, config, epochs=epochs, lr=lr, batch_size=batch_size, max_length=max_length,
                      precision=precision, trust_remote_code=trust_remote_code or None,
                      lora_targets=_targets(lora_targets), schedule=schedule)
    if epochs is not None:
        cfg.stage_epochs = {k: epochs if v is None else min(v, epochs) for k, v in cfg.stage_epochs.items()}
    res = train_r1(store_for(home), data, base, out, cfg, err_console)
    if res.saved:
        _summary(res)


@app.command("head")
def head_cmd(data: Annotated[list[str], typer.Option("--data", help="boundary_pair REF (JD–JD), or a pool with hard "
                                                     "negatives (JD–CV); repeat to train on both")],
             encoder: Annotated[str, typer.Option("--encoder", help="frozen encoder folder (e.g. the R2 model); "
                                                  "'zero-shot' for the base model")],
             out: OutOpt,
             lam: Annotated[Optional[str], typer.Option("--lambda", help="a number, or 'auto' to grid-search it on "
                                                        "--val-pool (default: auto with --val-pool, else the "
                                                        "paper's 0.1)", show_default=False)] = None,
             val_pool: Annotated[Optional[str], typer.Option("--val-pool", help="pool REF lambda is searched "
                                                             "on")] = None,
             select: Annotated[Optional[str], typer.Option("--select", help="metric lambda maximises, e.g. "
                                                           "recall@50 (default: Recall at the largest --k <= 50)",
                                                           show_default=False)] = None,
             k: Annotated[str, typer.Option("--k", help="the cutoffs you report")] = "10,20,30,40,50,60,70",
             features: Annotated[str, typer.Option("--features", help="auto: requirement features (train/"
                                                   "requirements.py) when most training JDs yield requirements; "
                                                   "requirements; none (the paper's head)")] = "auto",
             seed: Annotated[int, typer.Option("--seed")] = 0, home: HomeOpt = None) -> None:
    """BoundaryHead: a PairHead MLP on frozen embeddings (BCE, AdamW 1e-3, batch 128, <= 40 epochs, patience 5),
    by default also reading requirement features computed by code from the JD and the candidate's text."""
    import numpy as np

    from train.data import head_pairs_with_jds
    from train.embed_cache import EmbeddingCache
    from train.evaluate import search_lambda_on_pool
    from train.scorer import make_scorer
    from train.requirements import FEATURES, choose_features, requirement_features
    from train.head import HeadConfig, default_select, head_config_dict, parse_select, save_head, train_head

    from .eval_cmd import _ks

    lam = lam or ("auto" if val_pool else "0.1")
    select = select or default_select(_ks(k))
    parse_select(select)

    store = store_for(home)
    q, c, y, g, src = [], [], [], [], []
    for ref in data:
        for acc, part in zip((q, c, y, g, src), head_pairs_with_jds(store, ref)):
            acc.extend(part)
    use_req, why = choose_features(src, features)
    scorer = make_scorer(encoder)
    cache = EmbeddingCache(store.home / ".mira" / "embeddings.sqlite")
    cfg = HeadConfig(seed=seed)
    x = requirement_features(src, c) if use_req else None
    res = train_head(scorer.embed_queries(q, cache), scorer.embed(c, cache), np.array(y, dtype=np.float32), g, cfg,
                     x)
    search = None
    if lam == "auto":
        if not val_pool:
            from synth.errors import InputError

            raise InputError("--lambda auto needs --val-pool REF (a pool to grid-search lambda on).")
        res.lam, search = search_lambda_on_pool(store, val_pool, scorer, res.head, cache, select)
    else:
        res.lam = float(lam)
    save_head(res, out, {"data": [store.resolve(d).ref for d in data], "encoder": scorer.model_path,
                         "features": list(FEATURES) if use_req else [], "features_why": why,
                         "encoder_fingerprint": scorer.fingerprint, "config": head_config_dict(cfg),
                         "pairs": len(y), "positives": int(sum(y)), "lambda_search": search, "val_pool": val_pool})
    how = f"searched on {val_pool} for {select}" if search else "given"
    console.print(f"features: {why}")
    console.print(f"BoundaryHead: {len(y)} pairs, stopped after {res.stopped_epoch} epochs (best val loss "
                  f"{res.best_val_loss:.4f}), lambda {res.lam} ({how}) → {out}")
