"""Multiple negatives ranking loss for R2 (JD -> CV), with hard negatives in the denominator."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def mnrl_loss(anchors: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor | None = None,
              scale: float = 20.0) -> torch.Tensor:
    """Cross-entropy over scaled cosine similarities; anchor i's target is positive i, and every other positive and
    every hard negative in the batch is a negative:

        L = -1/B sum_i log( exp(s * cos(q_i, c_i+)) / sum_{c in C+ u C-} exp(s * cos(q_i, c)) )

    Identical to sentence-transformers' MultipleNegativesRankingLoss (scale 20 = temperature 0.05).
    """
    cands = positives if negatives is None else torch.cat([positives, negatives], dim=0)
    scores = F.normalize(anchors, dim=-1) @ F.normalize(cands, dim=-1).T * scale
    return F.cross_entropy(scores, torch.arange(anchors.shape[0], device=anchors.device))


class MultipleNegativesLoss(nn.Module):
    """In-batch negatives plus hard negatives, as sentence-transformers' MultipleNegativesRankingLoss.

    Formula:
        L = -mean_i log softmax_j( s * cos(q_i, c_j) )[i],  c_j ranging over all positives and hard negatives
    Batches must hold no duplicate texts and no JD twice, or a JD's other positives would serve as its negatives
    (Mira's batch sampler guarantees it).

    Args:
        scale: inverse temperature s (default 20).

    Reference: Henderson et al. 2017, "Efficient Natural Language Response Suggestion for Smart Reply";
    PAPER.md, "Training", Round 2.

    Example:
        >>> loss = MultipleNegativesLoss(scale=1.0)
        >>> q = torch.eye(2); p = torch.eye(2)
        >>> round(float(loss(q, p)), 4)  # -log(e / (e + 1))
        0.3133
    """

    def __init__(self, scale: float = 20.0):
        super().__init__()
        self.scale = scale

    def forward(self, anchors, positives, negatives=None) -> torch.Tensor:
        return mnrl_loss(anchors, positives, negatives, self.scale)
