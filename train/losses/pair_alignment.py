"""Pair alignment loss for R1's card warm-up and semantic-alignment stages (PAPER.md Eq. 6)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .distillation import distillation_mse


def pair_alignment_loss(q: torch.Tensor, c: torch.Tensor, q_t: torch.Tensor | None = None,
                        c_t: torch.Tensor | None = None, w_p: float = 1.0, w_d: float = 0.05) -> dict:
    """L_pair = w_p * mean((1 - cos(q, c))^2) + w_d * (MSE(q, q^t) + MSE(c, c^t)).

    Returns {"loss", "align", "distill"} (unweighted parts, and the weighted total).
    """
    align = torch.mean((1 - F.cosine_similarity(q, c, dim=-1)) ** 2)
    distill = q.new_zeros(())
    if q_t is not None and c_t is not None:
        distill = distillation_mse(q, q_t) + distillation_mse(c, c_t)
    return {"loss": w_p * align + w_d * distill, "align": align, "distill": distill}


class PairAlignmentLoss(nn.Module):
    """Pulls a positive pair together while staying near the frozen teacher.

    Formula:
        L_pair = w_p * (1 - cos(q, c))^2 + w_d * (MSE(e_q, e_q^t) + MSE(e_c, e_c^t))
    averaged over the batch; e^t are the frozen original model's embeddings.

    Args:
        w_p: weight of the alignment term (default 1.0).
        w_d: weight of the distillation term (default 0.05, as in the ranking stage).

    Reference: PAPER.md, "Training", Round 1, stages 1 and 2 (Eq. 6).

    Example:
        >>> loss = PairAlignmentLoss()
        >>> q = torch.tensor([[1.0, 0.0]]); c = torch.tensor([[0.0, 1.0]])
        >>> float(loss(q, c)["loss"])  # cos = 0 -> (1 - 0)^2
        1.0
    """

    def __init__(self, w_p: float = 1.0, w_d: float = 0.05):
        super().__init__()
        self.w_p, self.w_d = w_p, w_d

    def forward(self, q, c, q_t=None, c_t=None) -> dict:
        return pair_alignment_loss(q, c, q_t, c_t, self.w_p, self.w_d)
