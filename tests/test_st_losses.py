"""The paper's R1 losses as sentence-transformers loss modules: (features, labels) in, the plain-tensor math of
train/losses on the model's embeddings out, the teacher's embeddings read from the label column."""

import math

import pytest
import torch

from train.losses import GroupedRankingLoss, PairAlignmentLoss


class Fake(torch.nn.Module):
    """A 'model' whose sentence embedding is the feature's own vector (so the hand values are known)."""

    def forward(self, features):
        return {"sentence_embedding": features["vec"]}


def _f(*rows):
    return {"vec": torch.tensor(rows, dtype=torch.float32)}


def test_pair_alignment_module_by_hand():
    loss = PairAlignmentLoss(Fake(), w_p=1.0, w_d=0.5)
    q, c = _f([1.0, 0.0]), _f([0.0, 1.0])  # cos 0 -> (1 - 0)^2 = 1
    teacher = torch.tensor([[1.0, 0.0, 0.0, 0.8]])  # e_q^t = [1, 0] (equal), e_c^t = [0, 0.8]: MSE 0.04 / 2
    out = loss([q, c], teacher)
    assert float(out) == pytest.approx(1.0 + 0.5 * (0.2 ** 2) / 2, rel=1e-6)
    assert loss.last["align"] == pytest.approx(1.0) and loss.last["distill"] == pytest.approx(0.02, rel=1e-6)


def test_grouped_ranking_module_by_hand():
    loss = GroupedRankingLoss(Fake(), weights=(1.0, 0.25, 0.10, 0.05), m_r=0.1, m_k=0.05)
    q, pos = _f([1.0, 0.0]), _f([1.0, 1.0])  # cos(q, c+) = 0.7071 (normalised inside)
    role, cons = _f([0.0, 1.0]), _f([1.0, 0.9])  # role margin met; constraint negative above the positive
    s_pos, s_cons = 1 / math.sqrt(2), 1 / math.sqrt(1 + 0.81)
    teacher = torch.cat([torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]]) / math.sqrt(2)], dim=1)  # equal
    out = loss([q, pos, role, cons], teacher)
    l_cons = (0.05 - (s_pos - s_cons)) ** 2
    assert float(out) == pytest.approx((1 - s_pos) ** 2 + 0.10 * l_cons, rel=1e-5)
    assert loss.last["role"] == 0.0 and loss.last["distill"] == pytest.approx(0.0, abs=1e-12)
