"""Training schedules that fit the data: learning rate and epochs chosen from the data size, every choice recorded
with why (in `mira_train.json`, "schedule").

The paper's values (PAPER.md: R1 lr 8e-6, R2 lr 1e-5, up to 5 epochs) are tuned for its corpus (36,173 JD–CV
triplets, 3,317 anchors). On a few hundred examples they barely move the model (measured on RJDB: validation triplet
accuracy 0.88 before and after 5 epochs of R2 at 1e-5). So, unless the user sets them (flags, config file) or asks for
`--schedule paper`:

- learning rate: the paper's, scaled by sqrt(paper size / data size) (the usual square-root rule for fewer, noisier
  steps), at most `LR_CAP`; with validation data, a short probe (`PROBE_STEPS` optimiser steps from the same start at
  lr/4, lr and 4 lr, capped) keeps the one that scores best on validation;
- epochs: enough for at least `MIN_STEPS` optimiser steps, between the paper's 5 and `MAX_EPOCHS`; early stopping
  on validation (patience) restores the best epoch, so more epochs cost time, not quality.
"""

from __future__ import annotations

import math

PAPER = {"r1": {"lr": 8e-6, "epochs": 5, "size": 3317}, "r2": {"lr": 1e-5, "epochs": 5, "size": 36173}}
LR_CAP = 2e-4
MIN_STEPS = 150
MAX_EPOCHS = 20
PROBE_STEPS = 10
PRESETS = ("auto", "paper")


def plan(kind: str, schedule: str, lr: float | None, epochs: int | None, n_train: int, batch_size: int) -> dict:
    """{"lr": {"value", "why"}, "epochs": {"value", "why"}, "probe": bool, "name"}: what to train with and why."""
    if schedule not in PRESETS:
        raise ValueError(f"unknown schedule '{schedule}' (known: {', '.join(PRESETS)})")
    paper = PAPER[kind]
    steps = max(1, math.ceil(n_train / max(1, batch_size)))
    out: dict = {"name": schedule, "train_examples": n_train, "steps_per_epoch": steps, "probe": False}
    if lr is not None:
        out["lr"] = {"value": lr, "why": "set by the user"}
    elif schedule == "paper":
        out["lr"] = {"value": paper["lr"], "why": "the paper's value (--schedule paper)"}
    else:
        scale = math.sqrt(paper["size"] / max(1, n_train))
        value = min(LR_CAP, paper["lr"] * max(1.0, scale))
        out["lr"] = {"value": value, "why": f"the paper's {paper['lr']:g} is tuned for {paper['size']:,} examples; "
                                            f"x{max(1.0, scale):.1f} (sqrt of {paper['size']:,} / {n_train:,}), "
                                            f"at most {LR_CAP:g}"}
        out["probe"] = True
    if epochs is not None:
        out["epochs"] = {"value": epochs, "why": "set by the user"}
    elif schedule == "paper":
        out["epochs"] = {"value": paper["epochs"], "why": "the paper's value (--schedule paper)"}
    else:
        value = min(MAX_EPOCHS, max(paper["epochs"], math.ceil(MIN_STEPS / steps)))
        out["epochs"] = {"value": value, "why": f"at least {MIN_STEPS} optimiser steps at {steps} per epoch "
                                                f"(between {paper['epochs']} and {MAX_EPOCHS} epochs); early "
                                                "stopping on validation restores the best epoch"}
    return out


def probe_candidates(lr: float) -> list[float]:
    """lr/4, lr and 4 lr (capped at LR_CAP), distinct, ascending."""
    return sorted({lr / 4, lr, min(LR_CAP, lr * 4)})
