"""Distillation MSE (PAPER.md Eq. 11)."""

from __future__ import annotations

import torch
from torch import nn


def distillation_mse(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """MSE(e, e^t): mean over the batch and the embedding dimensions of (e - e^t)^2."""
    return torch.mean((student - teacher.to(student.dtype)) ** 2)


class DistillationMSELoss(nn.Module):
    """Keeps the student's embeddings near the frozen teacher's.

    Formula:
        L_distill = sum over embedded columns c of MSE(e_c, e_c^t)
    where e^t are the frozen original model's embeddings of the same texts (computed once, then cached).

    Args:
        weight: multiplier w_d applied to the sum.

    Reference: PAPER.md, "Training", Eq. 11 (L_distill = MSE(e_q, e_q^t) + MSE(e_c+, e_c+^t)).

    Example:
        >>> loss = DistillationMSELoss(weight=0.05)
        >>> e, t = torch.zeros(2, 3), torch.ones(2, 3)
        >>> round(float(loss([e], [t])), 4)
        0.05
    """

    def __init__(self, weight: float = 1.0):
        super().__init__()
        self.weight = weight

    def forward(self, students: list[torch.Tensor], teachers: list[torch.Tensor]) -> torch.Tensor:
        return self.weight * sum(distillation_mse(s, t) for s, t in zip(students, teachers))
