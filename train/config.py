"""Training configuration. PAPER.md's hyperparameters are the defaults, except the learning rate and epochs, which fit
the data size unless set (train/schedule.py; `schedule: paper` restores the paper's); a YAML / JSON file or flags
override them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import yaml

from synth.errors import InputError


@dataclass
class TrainConfig:
    lora_r: int = 8
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_targets: list[str] | None = None  # None: the preset for the backbone's architecture
    lr: float | None = None  # None: chosen from the data size (train/schedule.py), or the paper's with schedule paper
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    epochs: int | None = None  # None: as many as MIN_STEPS optimiser steps need (paper: 5)
    schedule: str = "auto"  # auto: lr / epochs fit the data size (recorded with why); paper: PAPER.md's values
    lr_probe: bool = True  # auto lr with validation data: a short probe at lr/4, lr, 4 lr keeps the best
    batch_size: int = 32
    max_length: int = 2048  # capped by the backbone's own limit
    mini_batch: int | None = 16  # texts per forward in the gradient-cached loss; None: plain (uncached) MNRL
    precision: str = "auto"  # auto | bf16 | fp16 | fp32 (auto: bf16 where supported, fp16 on older GPUs, else fp32)
    grad_accum: int = 1  # optimiser step every N batches
    max_steps: int | None = None  # stop after N optimiser steps (overrides epochs)
    save_steps: int = 50  # a checkpoint every N optimiser steps, and one at each epoch end
    keep_checkpoints: int = 2  # checkpoints kept (the oldest are deleted)
    report_to: str = "none"  # none | tensorboard | wandb | trackio
    log_every: int = 10  # plain progress line every N steps when not in a terminal
    patience: int = 2
    val_fraction: float = 0.1  # held out by JD when no --val is given
    seed: int = 0
    threads: int | None = None  # torch CPU threads (default: all cores)
    trust_remote_code: bool = False  # run the backbone folder's own modelling code (Jina v3); explicit opt-in


@dataclass
class R1Config(TrainConfig):
    lora_r: int = 16
    lora_alpha: int = 32
    max_length: int = 512
    w_pos: float = 1.0
    w_role: float = 0.25
    w_cons: float = 0.10
    w_distill: float = 0.05
    margin_role: float = 0.10
    margin_cons: float = 0.05
    stage_epochs: dict = field(default_factory=lambda: {"card": 1, "align": 1, "rank": None})  # None: planned


@dataclass
class R2Config(TrainConfig):
    scale: float = 20.0  # MNRL inverse temperature
    distill: float = 2.0  # forgetting guard: weight of the pull towards the original model's embeddings (0: off)
    distill_on: str = "jd"  # the texts it anchors: jd (the JD side; measured, benchmarks/real_eval.py) or all


def load_config(cls, path: str | Path | None = None, **overrides):
    """Defaults <- file (YAML or JSON) <- explicit overrides (None values ignored)."""
    cfg = cls()
    known = {f.name for f in fields(cls)}
    if path:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"Config file {p} not found.")
        try:
            data = (json.loads if p.suffix == ".json" else yaml.safe_load)(p.read_text()) or {}
        except (ValueError, yaml.YAMLError) as e:
            raise InputError(f"{p}: cannot parse ({e}).") from None
        bad = sorted(set(data) - known)
        if bad:
            raise InputError(f"{p}: unknown setting(s) {', '.join(bad)} (known: {', '.join(sorted(known))}).")
        cfg = replace(cfg, **data)
    set_over = {k: v for k, v in overrides.items() if v is not None}
    bad = sorted(set(set_over) - known)
    if bad:
        raise InputError(f"unknown setting(s) {', '.join(bad)}.")
    cfg = replace(cfg, **set_over)
    from .schedule import PRESETS

    if cfg.schedule not in PRESETS:
        raise InputError(f"schedule '{cfg.schedule}' is not known (use {' or '.join(PRESETS)}).")
    return cfg


def as_dict(cfg) -> dict:
    return asdict(cfg)
