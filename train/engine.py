"""The training step and epoch loop shared by R1 and R2.

Speed and memory on CPU come from: texts tokenised once; batches bucketed by length so padding stays small; the
backbone kept in eval mode (no dropout: the student equals the frozen teacher at step 0, and no RNG work); bf16
autocast where the CPU has AMX / AVX512-BF16 (or on CUDA); and a gradient-cached step (GradCache, Gao et al. 2021):
embeddings of the whole batch are computed without a graph, the loss's gradient with respect to them is taken once,
then each chunk of `mini_batch` texts is re-encoded with a graph and back-propagated alone, so peak memory follows
the chunk, not the batch, while the loss still sees every in-batch negative.
"""

from __future__ import annotations

import ctypes
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from .backbones import load_lora_state, lora_state
from .distributed import all_reduce_grads, gather_rows, shard, world
from .encode import Tokens, autocast, embed


@dataclass
class EpochLog:
    stage: str
    epoch: int
    train_loss: float
    samples: int
    seconds: float
    val: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"stage": self.stage, "epoch": self.epoch, "train_loss": round(self.train_loss, 6),
                "samples": self.samples, "seconds": round(self.seconds, 2),
                "samples_per_s": round(self.samples / max(self.seconds, 1e-9), 3), "val": self.val}


class Trainer:
    def __init__(self, model, tokens: Tokens, device: str, precision: str, lr: float, weight_decay: float,
                 mini_batch: int | None):
        self.model, self.tokens, self.device, self.precision = model, tokens, device, precision
        self.mini_batch = mini_batch
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=lr, weight_decay=weight_decay)
        self.lr = lr
        self.sched = None
        model.eval()

    def schedule(self, total_steps: int, warmup_ratio: float) -> None:
        """Linear warm-up then linear decay over `total_steps` (reset per curriculum stage)."""
        for g in self.opt.param_groups:
            g["lr"] = self.lr
        warm = max(1, int(total_steps * warmup_ratio))

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            return max(0.0, (total_steps - step) / max(1, total_steps - warm))

        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, factor)

    def _encode(self, texts: list[str]) -> torch.Tensor:
        with autocast(self.precision, self.device):
            out = self.model(self.tokens.batch(texts, self.device))["sentence_embedding"]
        return torch.nn.functional.normalize(out.float(), dim=-1)

    def backward(self, columns: list[list[str]], loss_fn: Callable[[list[torch.Tensor]], dict]) -> dict:
        """The loss of a batch given as columns of texts (e.g. [jds, positives, negatives]) and its gradients in the
        parameters' `.grad`. Distributed (train/distributed.py): this rank encodes its shard of each column, the loss
        sees the gathered global batch, and the gradients are summed over ranks."""
        rank, size = world()
        if size > 1:
            columns = [shard(c, rank, size) for c in columns]
        n_texts = sum(len(c) for c in columns)
        if size == 1 and (self.mini_batch is None or n_texts <= self.mini_batch):
            embs = [self._encode(c) if c else torch.zeros(0) for c in columns]
            out = loss_fn(embs)
            out["loss"].backward()
            return {k: float(v.detach()) for k, v in out.items()}
        chunk = self.mini_batch or max(1, max(len(c) for c in columns))
        embs = [embed(self.model, self.tokens, c, self.device, self.precision, chunk) for c in columns]
        if size > 1:
            gathered = [gather_rows(e) for e in embs]
            full = [g.requires_grad_() for g, _ in gathered]
            out = loss_fn([f if f.numel() else torch.zeros(0) for f in full])
            out["loss"].backward()
            grads = [f.grad[sl] if f.grad is not None else None for f, (_, sl) in zip(full, gathered)]
        else:
            embs = [e.requires_grad_() for e in embs]
            out = loss_fn(embs)
            out["loss"].backward()
            grads = [e.grad for e in embs]
        for col, g in zip(columns, grads):
            if g is None or not col:
                continue
            order = sorted(range(len(col)), key=lambda i: self.tokens.length(col[i]))
            for s in range(0, len(order), chunk):
                idx = order[s: s + chunk]
                part = self._encode([col[i] for i in idx])
                part.backward(g[idx])
        if size > 1:
            all_reduce_grads(self.params)
        return {k: float(v.detach()) for k, v in out.items()}

    def step(self, columns: list[list[str]], loss_fn: Callable[[list[torch.Tensor]], dict]) -> dict:
        """One optimiser step on a batch given as columns of texts (see `backward`)."""
        out = self.backward(columns, loss_fn)
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        if self.sched is not None:
            self.sched.step()
        self.opt.zero_grad(set_to_none=True)
        _trim()
        return out


def _trim() -> None:
    """Hand freed memory back to the OS after each step (glibc keeps it otherwise, and the peak RSS creeps up)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def run_stage(trainer: Trainer, stage: str, epochs: int, batches: Callable[[int], list[list[int]]],
              columns: Callable[[list[int]], list[list[str]]], loss_fn: Callable, evaluate: Callable[[], dict] | None,
              metric: str | None, patience: int, warmup_ratio: float, progress=None,
              on_step: Callable[[int, dict], None] | None = None) -> list[EpochLog]:
    """Epochs of one stage with validation after each, early stopping on `metric`, best epoch restored."""
    per_epoch = [batches(e) for e in range(epochs)]
    trainer.schedule(sum(len(b) for b in per_epoch), warmup_ratio)
    logs: list[EpochLog] = []
    best, best_state, bad = -math.inf, None, 0
    step_no = 0
    task = progress.add_task(stage, total=sum(len(b) for b in per_epoch), loss=float("nan")) if progress else None
    for epoch, epoch_batches in enumerate(per_epoch):
        t0, losses, samples = time.perf_counter(), [], 0
        for b in epoch_batches:
            out = trainer.step(columns(b), loss_fn)
            if on_step:
                on_step(step_no, out)
            step_no += 1
            losses.append(out["loss"])
            samples += len(b)
            if progress:
                progress.update(task, advance=1, loss=sum(losses[-20:]) / len(losses[-20:]))
        log = EpochLog(stage, epoch + 1, sum(losses) / max(1, len(losses)), samples, time.perf_counter() - t0)
        if evaluate is not None:
            log.val = evaluate()
        logs.append(log)
        if metric and log.val:
            score = log.val[metric]
            if score > best + 1e-9:
                best, best_state, bad = score, lora_state(trainer.model), 0
            else:
                bad += 1
                if bad >= patience:
                    break
    if best_state is not None:
        load_lora_state(trainer.model, best_state)
    return logs
