"""Loss math against hand-computed values."""

import math
import subprocess
import sys

import pytest
import torch

from train.losses import distillation_mse, grouped_ranking_loss, mnrl_loss, pair_alignment_loss


def unit(*xs):
    t = torch.tensor(xs, dtype=torch.float32)
    return t / t.norm(dim=-1, keepdim=True)


def test_pair_alignment_hand_values():
    q = torch.stack([unit(1.0, 0.0), unit(1.0, 0.0)])
    c = torch.stack([unit(1.0, 0.0), unit(0.0, 1.0)])  # cos 1 and cos 0
    qt, ct = q + 0.1, c  # MSE(q, q^t) = 0.01, MSE(c, c^t) = 0
    out = pair_alignment_loss(q, c, qt, ct, w_p=1.0, w_d=0.5)
    assert float(out["align"]) == pytest.approx((0 + 1) / 2)
    assert float(out["distill"]) == pytest.approx(0.01)
    assert float(out["loss"]) == pytest.approx(0.5 + 0.5 * 0.01)


def test_grouped_ranking_hand_values():
    q = unit(1.0, 0.0)[None]
    pos = unit(1.0, 1.0)[None]  # cos = 0.7071
    role = unit(1.0, 0.2)[None]  # cos = 0.9806 (above the positive: margin violated)
    cons = unit(0.0, 1.0)[None]  # cos = 0 (well below: no loss)
    out = grouped_ranking_loss(q, pos, role, cons, weights=(1.0, 0.25, 0.10, 0.05), m_r=0.10, m_k=0.05)
    s_pos, s_role = 1 / math.sqrt(2), 1 / math.sqrt(1.04)
    assert float(out["pos"]) == pytest.approx((1 - s_pos) ** 2, rel=1e-5)
    assert float(out["role"]) == pytest.approx((0.10 - (s_pos - s_role)) ** 2, rel=1e-5)
    assert float(out["cons"]) == 0.0 and float(out["distill"]) == 0.0
    assert float(out["loss"]) == pytest.approx((1 - s_pos) ** 2 + 0.25 * (0.10 - (s_pos - s_role)) ** 2, rel=1e-5)


def test_distillation_mse():
    assert float(distillation_mse(torch.zeros(2, 2), torch.full((2, 2), 2.0))) == 4.0


def test_mnrl_hand_value_and_equals_sentence_transformers():
    q, p, n = unit(1.0, 0.0)[None], unit(1.0, 0.0)[None], unit(0.0, 1.0)[None]
    # scale 1: -log(e^1 / (e^1 + e^0))
    assert float(mnrl_loss(q, p, n, scale=1.0)) == pytest.approx(-math.log(math.e / (math.e + 1)))
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    torch.manual_seed(0)
    a, b, c = torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 8)

    class Fake(torch.nn.Module):  # returns the given embeddings, so the ST loss sees the same vectors
        def forward(self, f):
            return {"sentence_embedding": f["e"]}

    st = MultipleNegativesRankingLoss(Fake(), scale=20.0)
    ref = st([{"e": a}, {"e": b}, {"e": c}], None)
    assert float(mnrl_loss(a, b, c, 20.0)) == pytest.approx(float(ref), rel=1e-5)


def test_importing_train_loads_neither_dspy_nor_litellm():
    code = ("import sys, train, train.rounds, train.losses, train.metrics, train.data; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('dspy', 'litellm')]; print(bad); "
            "sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
