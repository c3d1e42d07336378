"""`mira train r1|r2`: LoRA rounds on a sentence-transformers backbone (the train extra: torch, peft, ST)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

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
EpochsOpt = Annotated[Optional[int], typer.Option("--epochs", show_default=False)]
LrOpt = Annotated[Optional[float], typer.Option("--lr", show_default=False)]
BatchOpt = Annotated[Optional[int], typer.Option("--batch-size", show_default=False)]
MaxLenOpt = Annotated[Optional[int], typer.Option("--max-length", show_default=False)]
TrustOpt = Annotated[bool, typer.Option("--trust-remote-code", help="run the backbone folder's own modelling code "
                                        "(Jina v3 needs it); explicit opt-in, recorded in mira_train.json")]
TargetsOpt = Annotated[Optional[str], typer.Option("--lora-targets", help="comma-separated module names to adapt "
                                                   "(default: chosen from the modules the model has)",
                                                   show_default=False)]
PresetOpt = Annotated[Optional[str], typer.Option("--preset", help="auto (default): learning rate and epochs fit the "
                                                   "data size, recorded with why in mira_train.json; paper: "
                                                   "PAPER.md's values", show_default=False)]
PrecisionOpt = Annotated[Optional[str], typer.Option("--precision", help="auto, fp32 or bf16", show_default=False)]


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
        t.add_row(e["stage"], str(e["epoch"]), f"{e['train_loss']:.4f}", f"{e['samples_per_s']:.2f}", val)
    console.print(t)
    console.print(f"wall time {res.manifest['wall_seconds']} s; manifest: {res.out / 'mira_train.json'}")


@app.command("r2")
def r2_cmd(data: DataOpt, out: OutOpt, base: BaseOpt = None,
           val: Annotated[Optional[str], typer.Option("--val", help="pool or jdcv_triplet REF for validation "
                                                      "(default: 10% of the JDs held out)")] = None,
           config: ConfigOpt = None, epochs: EpochsOpt = None, lr: LrOpt = None, batch_size: BatchOpt = None,
           max_length: MaxLenOpt = None, precision: PrecisionOpt = None, trust_remote_code: TrustOpt = False,
           lora_targets: TargetsOpt = None, preset: PresetOpt = None, nproc: NprocOpt = 1,
           home: HomeOpt = None) -> None:
    """R2: LoRA + MNRL over (JD, CV+, CV-) from a jdcv_triplet or pool version; merged into OUT."""
    from train.config import R2Config, load_config
    from train.rounds import train_r2

    if nproc > 1 and "WORLD_SIZE" not in __import__("os").environ:
        _relaunch("r2", nproc, {"--data": data, "--out": out, "--base": base, "--val": val, "--config": config,
                                "--epochs": epochs, "--lr": lr, "--batch-size": batch_size, "--max-length": max_length,
                                "--precision": precision, "--trust-remote-code": trust_remote_code,
                                "--lora-targets": lora_targets, "--preset": preset, "--home": home})

    cfg = load_config(R2Config, config, epochs=epochs, lr=lr, batch_size=batch_size, max_length=max_length,
                      precision=precision, trust_remote_code=trust_remote_code or None,
                      lora_targets=_targets(lora_targets), preset=preset)
    res = train_r2(store_for(home), data, base, out, cfg, val, err_console)
    if res.saved:
        _summary(res)


@app.command("r1")
def r1_cmd(data: DataOpt, out: OutOpt, base: BaseOpt = None, config: ConfigOpt = None, epochs: EpochsOpt = None,
           lr: LrOpt = None, batch_size: BatchOpt = None, max_length: MaxLenOpt = None,
           precision: PrecisionOpt = None, trust_remote_code: TrustOpt = False, lora_targets: TargetsOpt = None,
           preset: PresetOpt = None, nproc: NprocOpt = 1, home: HomeOpt = None) -> None:
    """R1: card warm-up, semantic alignment, grouped ranking on a jd_pair version; one adapter; merged into OUT."""
    from train.config import R1Config, load_config
    from train.rounds import train_r1

    if nproc > 1 and "WORLD_SIZE" not in __import__("os").environ:
        _relaunch("r1", nproc, {"--data": data, "--out": out, "--base": base, "--config": config, "--epochs": epochs,
                                "--lr": lr, "--batch-size": batch_size, "--max-length": max_length,
                                "--precision": precision, "--trust-remote-code": trust_remote_code,
                                "--lora-targets": lora_targets, "--preset": preset, "--home": home})

    cfg = load_config(R1Config, config, epochs=epochs, lr=lr, batch_size=batch_size, max_length=max_length,
                      precision=precision, trust_remote_code=trust_remote_code or None,
                      lora_targets=_targets(lora_targets), preset=preset)
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
    from train.evaluate import make_scorer, search_lambda_on_pool
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
