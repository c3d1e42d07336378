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
    """Pulls a positive pair together while staying near the frozen teacher (a sentence-transformers loss).

    Formula:
        L_pair = w_p * (1 - cos(q, c))^2 + w_d * (MSE(e_q, e_q^t) + MSE(e_c, e_c^t))
    averaged over the batch; e^t are the frozen original model's embeddings.

    Inputs: columns (anchor, positive); label: the teacher's embeddings of both, concatenated [e_q^t | e_c^t]
    (computed once before the adapter exists).

    Args:
        model: the SentenceTransformer being trained.
        w_p: weight of the alignment term (default 1.0).
        w_d: weight of the distillation term (default 0.05, as in the ranking stage).

    Reference: PAPER.md, "Training", Round 1, stages 1 and 2 (Eq. 6). The math: `pair_alignment_loss`.
    """

    def __init__(self, model, w_p: float = 1.0, w_d: float = 0.05):
        super().__init__()
        self.model, self.w_p, self.w_d = model, w_p, w_d
        self.last: dict = {}

    def forward(self, sentence_features, labels):
        q, c = (F.normalize(self.model(f)["sentence_embedding"].float(), dim=-1) for f in sentence_features[:2])
        q_t, c_t = labels.float().chunk(2, dim=-1) if labels is not None else (None, None)
        out = pair_alignment_loss(q, c, q_t, c_t, self.w_p, self.w_d)
        self.last = {k: float(v.detach()) for k, v in out.items()}
        return out["loss"]

    @property
    def citation(self) -> str:
        return "Mira PAPER.md, Eq. 6"
