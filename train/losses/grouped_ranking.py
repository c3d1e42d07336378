"""Grouped ranking loss for R1's main stage: positive, role-boundary and constraint margins (PAPER.md Eq. 7-10)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .distillation import distillation_mse


def grouped_ranking_loss(q: torch.Tensor, pos: torch.Tensor, role: torch.Tensor, cons: torch.Tensor,
                         q_t: torch.Tensor | None = None, pos_t: torch.Tensor | None = None,
                         weights: tuple[float, float, float, float] = (1.0, 0.25, 0.10, 0.05),
                         m_r: float = 0.10, m_k: float = 0.05) -> dict:
    """L = w_p L_pos + w_r L_role + w_k L_cons + w_d L_distill, each averaged over the batch:

        L_pos  = (1 - cos(q, c+))^2
        L_role = max(0, m_r - [cos(q, c+) - cos(q, c_r-)])^2
        L_cons = max(0, m_k - [cos(q, c+) - cos(q, c_k-)])^2
        L_distill = MSE(e_q, e_q^t) + MSE(e_c+, e_c+^t)

    Returns the weighted "loss" and the unweighted parts.
    """
    w_p, w_r, w_k, w_d = weights
    s_pos = F.cosine_similarity(q, pos, dim=-1)
    s_role = F.cosine_similarity(q, role, dim=-1)
    s_cons = F.cosine_similarity(q, cons, dim=-1)
    l_pos = torch.mean((1 - s_pos) ** 2)
    l_role = torch.mean(torch.clamp(m_r - (s_pos - s_role), min=0) ** 2)
    l_cons = torch.mean(torch.clamp(m_k - (s_pos - s_cons), min=0) ** 2)
    l_dist = q.new_zeros(())
    if q_t is not None and pos_t is not None:
        l_dist = distillation_mse(q, q_t) + distillation_mse(pos, pos_t)
    total = w_p * l_pos + w_r * l_role + w_k * l_cons + w_d * l_dist
    return {"loss": total, "pos": l_pos, "role": l_role, "cons": l_cons, "distill": l_dist}


class GroupedRankingLoss(nn.Module):
    """Ranks a JD's paraphrase above its role-boundary and constraint-conflict negatives by margins, near the frozen
    teacher (a sentence-transformers loss).

    Formula:
        L = w_p (1 - cos(q,c+))^2 + w_r max(0, m_r - [cos(q,c+) - cos(q,c_r-)])^2
            + w_k max(0, m_k - [cos(q,c+) - cos(q,c_k-)])^2 + w_d (MSE(e_q, e_q^t) + MSE(e_c+, e_c+^t))

    Inputs: columns (anchor, positive, role_negative, constraint_negative); label: the teacher's embeddings of the
    anchor and the positive, concatenated [e_q^t | e_c+^t].

    Args:
        model: the SentenceTransformer being trained.
        weights: (w_p, w_r, w_k, w_d), default (1.0, 0.25, 0.10, 0.05).
        m_r: role-boundary margin, default 0.10.
        m_k: constraint margin, default 0.05.

    Reference: PAPER.md, "Training", Round 1, stage 3 (Eq. 7-11). The math: `grouped_ranking_loss`.
    """

    def __init__(self, model, weights=(1.0, 0.25, 0.10, 0.05), m_r: float = 0.10, m_k: float = 0.05):
        super().__init__()
        self.model, self.weights, self.m_r, self.m_k = model, tuple(weights), m_r, m_k
        self.last: dict = {}

    def forward(self, sentence_features, labels):
        q, pos, role, cons = (F.normalize(self.model(f)["sentence_embedding"].float(), dim=-1)
                              for f in sentence_features[:4])
        q_t, pos_t = labels.float().chunk(2, dim=-1) if labels is not None else (None, None)
        out = grouped_ranking_loss(q, pos, role, cons, q_t, pos_t, self.weights, self.m_r, self.m_k)
        self.last = {k: float(v.detach()) for k, v in out.items()}
        return out["loss"]

    @property
    def citation(self) -> str:
        return "Mira PAPER.md, Eq. 7-11"
