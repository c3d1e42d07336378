"""What Mira adds to sentence-transformers' Trainer: LoRA checkpoints that resume, Mira's validation as an evaluator
with early stopping and best-epoch restore, progress (rich bar in a terminal, plain lines in a log), the epoch log
for `mira_train.json`, and training arguments built from Mira's config.

Everything else (batching, the gradient-cached MNRL, optimiser, scheduler, checkpoints of optimiser / scheduler /
RNG / data position, logging integrations, torchrun / accelerate data parallelism, the model card) is the library's.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from sentence_transformers import (
    SentenceTransformerTrainer,
    SentenceTransformerTrainingArguments,
)
from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator
from transformers import TrainerCallback

from synth.errors import InputError

CHECKPOINTS = "checkpoints"
RUN_FILE = "mira_run.json"  # in the checkpoints folder: what the run is (to refuse resuming a different one)
BEST_FILE = "best_adapter.pt"  # in the checkpoints folder: the best epoch's adapter and the early-stopping state
REPORTERS = ("none", "tensorboard", "wandb", "trackio")


def adapter_state(model) -> dict[str, torch.Tensor]:
    """The trainable (LoRA) tensors, copied."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_adapter_state(model, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    for n, t in state.items():
        params[n].data.copy_(t)


class MiraTrainer(SentenceTransformerTrainer):
    """SentenceTransformerTrainer whose checkpoints hold a LoRA adapter on the module (peft `get_peft_model`):
    resuming loads the adapter into the live model (the library's loader would rebuild a full model and fail on the
    PEFT wrapper's parameter names). Progress is Mira's (`Progress`), so the library's printer is removed."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        self.remove_callback(PrinterCallback)
        self.remove_callback(ProgressCallback)

    def _load_from_checkpoint(self, checkpoint_path: str, model=None) -> None:
        self._load_adapter(self.model, checkpoint_path)

    @staticmethod
    def _load_adapter(model, checkpoint_path) -> None:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        path = Path(checkpoint_path) / "adapter_model.safetensors"
        if not path.is_file():
            raise InputError(f"{checkpoint_path} holds no LoRA adapter (adapter_model.safetensors); start afresh "
                             "with --fresh.")
        set_peft_model_state_dict(model[0].model, load_file(str(path)))


class MiraEvaluator(SentenceEvaluator):
    """Mira's validation (triplet margin / accuracy, or ranking metrics on a pool) as a sentence-transformers
    evaluator, so the Trainer runs it at each epoch end, logs it and writes it into the model card."""

    def __init__(self, fn: Callable[[object], dict], metric: str, name: str = "mira_val"):
        super().__init__()
        self.fn, self.name, self.primary_metric = fn, name, metric

    def __call__(self, model, output_path=None, epoch: float = -1, steps: int = -1) -> dict:
        out = {k: float(v) for k, v in self.fn(model).items() if isinstance(v, (int, float))}
        metrics = self.prefix_name_to_metrics(out, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics


class EarlyStopBest(TrainerCallback):
    """After each evaluation: keep the best adapter (on disk beside the checkpoints, so a resumed run knows it),
    stop after `patience` evaluations without improvement, restore the best adapter at the end."""

    def __init__(self, key: str, patience: int, folder: Path, model):
        self.key, self.patience, self.path, self.model = key, patience, folder / BEST_FILE, model
        self.best, self.bad = -math.inf, 0
        if self.path.is_file():
            saved = torch.load(self.path, weights_only=True)
            self.best, self.bad = float(saved["best"]), int(saved["bad"])

    def on_evaluate(self, args, state, control, metrics=None, **kw):
        score = (metrics or {}).get(self.key)
        if score is None:
            return
        if score > self.best + 1e-9:
            self.best, self.bad = score, 0
            if args.process_index == 0:
                torch.save({"best": score, "bad": 0, "step": state.global_step,
                            "state": adapter_state(self.model)}, self.path)
        else:
            self.bad += 1
            if args.process_index == 0 and self.path.is_file():
                saved = torch.load(self.path, weights_only=True)
                torch.save({**saved, "bad": self.bad}, self.path)
            if self.bad >= self.patience:
                control.should_training_stop = True

    def restore(self) -> int | None:
        """Load the best adapter; the step it was saved at (None when nothing was evaluated)."""
        if not self.path.is_file():
            return None
        saved = torch.load(self.path, weights_only=True)
        load_adapter_state(self.model, saved["state"])
        return int(saved["step"])


class SaveAtEpochEnd(TrainerCallback):
    """Checkpoints every `save_steps` steps (the library's) and at each epoch end (this)."""

    def on_epoch_end(self, args, state, control, **kw):
        control.should_save = True


class Progress(TrainerCallback):
    """A rich bar with ETA and the running loss in a terminal; a plain line every `every` steps otherwise.
    No loss is shown before the first step has one."""

    def __init__(self, stage: str, console, every: int = 10):
        self.stage, self.console, self.every = stage, console, every
        self.bar = self.task = None
        self.loss: float | None = None
        self.t0 = 0.0
        self.start_step = 0

    def on_train_begin(self, args, state, control, **kw):
        self.t0, self.start_step = time.time(), state.global_step
        if self.console is None or args.process_index != 0:
            return
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as Bar

            self.bar = Bar(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.fields[loss]}"), TimeElapsedColumn(), TextColumn("ETA"),
                           TimeRemainingColumn(elapsed_when_finished=True), console=self.console)
            self.bar.start()
            self.task = self.bar.add_task(self.stage, total=state.max_steps, completed=state.global_step,
                                          loss="loss -")
        else:
            self.console.print(f"{self.stage}: {state.max_steps} optimiser steps"
                               + (f", resuming at step {state.global_step}" if state.global_step else ""))

    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "loss" in logs:
            self.loss = float(logs["loss"])

    def on_step_end(self, args, state, control, **kw):
        if self.console is None or args.process_index != 0:
            return
        loss = f"loss {self.loss:.4f}" if self.loss is not None else "loss -"
        if self.bar is not None:
            self.bar.update(self.task, completed=state.global_step, loss=loss)
        elif state.global_step % self.every == 0 or state.global_step == state.max_steps:
            done = state.global_step - self.start_step
            rate = done / max(time.time() - self.t0, 1e-9)
            eta = (state.max_steps - state.global_step) / rate if rate > 0 else float("nan")
            self.console.print(f"{self.stage}: step {state.global_step}/{state.max_steps} epoch {state.epoch:.2f} "
                               f"{loss} {rate:.2f} steps/s ETA {eta:.0f} s")

    def on_train_end(self, args, state, control, **kw):
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class EpochClock(TrainerCallback):
    """Wall seconds of each epoch run in this process (resumed epochs count from the resume)."""

    def __init__(self):
        self.seconds: dict[int, float] = {}
        self._t = 0.0

    def on_epoch_begin(self, args, state, control, **kw):
        self._t = time.perf_counter()

    def on_epoch_end(self, args, state, control, **kw):
        self.seconds[round(state.epoch or 0)] = time.perf_counter() - self._t


def epoch_logs(stage: str, log_history: list[dict], samples_per_epoch: int, batch: int, clock: EpochClock,
               val_key: str | None, val_prefix: str = "eval_mira_val_") -> list[dict]:
    """mira_train.json's epoch rows from the Trainer's log history (it survives a resume): mean training loss,
    samples, seconds and validation metrics per epoch."""
    rows: dict[int, dict] = {}
    for h in log_history:
        if "epoch" not in h:
            continue
        e = max(1, math.ceil(float(h["epoch"]) - 1e-9))
        row = rows.setdefault(e, {"stage": stage, "epoch": e, "losses": [], "steps": 0, "val": {}})
        if "loss" in h:
            row["losses"].append(float(h["loss"]))
            row["steps"] += 1
        if any(k.startswith(val_prefix) for k in h):
            row["val"] = {k[len(val_prefix):]: v for k, v in h.items() if k.startswith(val_prefix)}
    out = []
    for e in sorted(rows):
        r = rows[e]
        samples = min(samples_per_epoch, r["steps"] * batch)
        seconds = clock.seconds.get(e, 0.0)
        out.append({"stage": stage, "epoch": e, "train_loss": round(sum(r["losses"]) / max(1, len(r["losses"])), 6),
                    "samples": samples, "seconds": round(seconds, 2),
                    "samples_per_s": round(samples / seconds, 3) if seconds else None, "val": r["val"]})
    return out


def resolve_precision(precision: str, device: str) -> str:
    """auto: bf16 where supported (CUDA with bf16, CPUs with AMX / AVX512-BF16), fp16 on older CUDA GPUs, else fp32."""
    if precision not in ("auto", "bf16", "fp16", "fp32"):
        raise InputError(f"precision must be auto, bf16, fp16 or fp32, not '{precision}'.")
    cuda = device.startswith("cuda")
    if precision == "fp16" and not cuda:
        raise InputError("fp16 needs a CUDA GPU; on CPU use bf16 (AMX / AVX512-BF16) or fp32.")
    if precision != "auto":
        return precision
    if cuda:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "fp32"
    return "bf16" if ("amx_bf16" in flags or "avx512_bf16" in flags) else "fp32"


def training_args(cfg, out_dir: Path, precision: str, max_steps: int | None, epochs: int, lr: float,
                  evaluate: bool, run_name: str) -> SentenceTransformerTrainingArguments:
    from sentence_transformers.base.training_args import BatchSamplers

    report = cfg.report_to or "none"
    if report not in REPORTERS:
        raise InputError(f"--report-to must be one of {', '.join(REPORTERS)}, not '{report}'.")
    return SentenceTransformerTrainingArguments(
        output_dir=str(out_dir), run_name=run_name, num_train_epochs=epochs,
        max_steps=max_steps if max_steps else -1, per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, learning_rate=lr, weight_decay=cfg.weight_decay,
        warmup_steps=float(cfg.warmup_ratio), lr_scheduler_type="linear", max_grad_norm=1.0,
        bf16=precision == "bf16", fp16=precision == "fp16", use_cpu=not torch.cuda.is_available(),
        batch_sampler=BatchSamplers.NO_DUPLICATES, seed=cfg.seed, data_seed=cfg.seed,
        save_strategy="steps", save_steps=cfg.save_steps, save_total_limit=cfg.keep_checkpoints,
        eval_strategy="epoch" if evaluate else "no", logging_strategy="steps", logging_steps=1,
        report_to=[] if report == "none" else [report], disable_tqdm=True, dataloader_num_workers=0,
        ddp_find_unused_parameters=False, ddp_backend="gloo" if distributed_cpu() else None)


def distributed_cpu() -> bool:
    """Several processes (torchrun) without CUDA: gloo."""
    import os

    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def last_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint in `folder`, or in its stage subfolders (R1), by step then time."""
    from transformers.trainer_utils import get_last_checkpoint

    if not folder.is_dir():
        return None
    if p := get_last_checkpoint(str(folder)):
        return Path(p)
    subs = [Path(p) for d in folder.iterdir() if d.is_dir() and (p := get_last_checkpoint(str(d)))]
    return max(subs, key=lambda c: c.stat().st_mtime) if subs else None


def prepare_run(ckpt: Path, identity: dict, resume: str, console) -> Path | None:
    """The checkpoint to resume from, if any. `resume`: auto (the last checkpoint of the same run, when there is
    one), always (there must be one), never (start afresh, discarding old checkpoints), or a checkpoint folder.
    A checkpoint of a different run (other data or settings) is never resumed silently."""
    import shutil

    if resume not in ("auto", "always", "never"):
        path = Path(resume)
        if not (path / "trainer_state.json").is_file():
            raise InputError(f"--resume {resume}: not a checkpoint folder (no trainer_state.json).")
        return path
    saved = ckpt / RUN_FILE
    if resume == "never" and ckpt.exists():
        shutil.rmtree(ckpt)
    last = last_checkpoint(ckpt)
    if last is not None:
        old = json.loads(saved.read_text()) if saved.is_file() else {}
        if old.get("identity") != identity:
            changed = sorted(k for k in set(old.get("identity", {})) | set(identity)
                             if old.get("identity", {}).get(k) != identity.get(k))
            raise InputError(f"{ckpt} holds checkpoints of a different run (changed: {', '.join(changed)}); "
                             "re-run with --fresh to discard them, or use another --out.")
        if console:
            console.print(f"resuming from {last}")
        return last
    if resume == "always":
        raise InputError(f"--resume: no checkpoint in {ckpt} to resume from.")
    return None


def write_run(ckpt: Path, identity: dict, schedule: dict) -> None:
    ckpt.mkdir(parents=True, exist_ok=True)
    (ckpt / RUN_FILE).write_text(json.dumps({"identity": identity, "schedule": schedule}, indent=2, default=str))


def saved_schedule(ckpt: Path) -> dict | None:
    p = ckpt / RUN_FILE
    return json.loads(p.read_text()).get("schedule") if p.is_file() else None


def interrupted_message(out: Path) -> str:
    """What Ctrl-C during training left behind, and how to continue (used by the CLI)."""
    last = last_checkpoint(Path(out) / CHECKPOINTS)
    if last is None:
        return "Interrupted before the first checkpoint: nothing to resume; re-running starts afresh."
    return (f"Interrupted. The last checkpoint is {last} (step {last.name.rsplit('-', 1)[-1]}): re-run the same "
            "command to continue from it (same data order, optimiser and scheduler), or add --fresh to start over.")


def is_terminal() -> bool:
    return sys.stderr.isatty()
