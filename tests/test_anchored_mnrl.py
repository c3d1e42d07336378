"""R2's forgetting guard: MNRL anchored to the frozen original model's embeddings (train/losses/anchored_mnrl.py)."""

import json

import pytest
import torch
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

from mira.cli.demo import import_samples
from synth.errors import InputError
from synth.records import stable_id
from train.backbones import apply_lora, load_encoder
from train.config import R2Config, load_config
from train.data import r2_triplets
from train.losses.anchored_mnrl import AnchoredCachedMNRL, AnchoredMNRL, anchor_distance, split_teachers
from train.rounds import train_r2


def test_anchor_distance_by_hand():
    s = [torch.tensor([[3.0, 0.0], [0.0, 2.0]]), torch.tensor([[1.0, 1.0], [1.0, 0.0]])]
    t = [torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([[2.0, 2.0], [-1.0, 0.0]])]
    # column 0: rows 0 (same direction: 0) and 1 (orthogonal: |(0,1)-(1,0)|^2 = 2) -> 1.0
    # column 1: rows 0 (0) and 1 (opposite: |(1,0)-(-1,0)|^2 = 4) -> 2.0; mean over columns 1.5
    assert float(anchor_distance(s, t)) == pytest.approx(1.5)


def test_split_teachers_reads_columns_in_order():
    labels = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    a, p, n = split_teachers(labels, 2)
    assert a.tolist() == [[1.0, 2.0]] and p.tolist() == [[3.0, 4.0]] and n.tolist() == [[5.0, 6.0]]
    (jd,) = split_teachers(torch.tensor([[1.0, 2.0]]), 2)  # the JD alone
    assert jd.tolist() == [[1.0, 2.0]]


@pytest.fixture(scope="module")
def tiny_batch():
    model = load_encoder(None, "cpu", 32)
    apply_lora(model, 4, 8)
    texts = [["Data engineer, Spark", "Nurse, ICU nights", "Accountant, CPA audits"],
             ["Built Spark pipelines for 5 years", "ICU nurse for 3 years", "Audited firms as a CPA"],
             ["Barista", "Welder", "Pilot"]]
    return model, texts


def _features(model, texts):
    return [model.tokenize(col) for col in texts]


def _grads(model, loss, texts, labels):
    model.zero_grad()
    loss(_features(model, texts), labels).backward()
    return torch.cat([p.grad.flatten() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None])


def test_anchored_loss_adds_the_weighted_distance_to_the_librarys_mnrl(tiny_batch):
    model, texts = tiny_batch
    torch.manual_seed(0)
    teachers = torch.nn.functional.normalize(torch.randn(3, 3 * 384), dim=-1)
    with torch.no_grad():
        emb = [model(f)["sentence_embedding"] for f in _features(model, texts)]
        plain = MultipleNegativesRankingLoss(model)(_features(model, texts), teachers)
        anchored = AnchoredMNRL(model, 0.7)(_features(model, texts), teachers)
        off = AnchoredMNRL(model, 0.0)(_features(model, texts), teachers)
    expected = float(plain) + 0.7 * float(anchor_distance(emb, split_teachers(teachers, 384)))
    assert float(anchored) == pytest.approx(expected, rel=1e-5)
    assert float(off) == pytest.approx(float(plain), rel=1e-6)
    with torch.no_grad():  # a label with the JD's teacher alone anchors the JD column alone
        jd_only = AnchoredMNRL(model, 0.7)(_features(model, texts), teachers[:, :384])
    expected = float(plain) + 0.7 * float(anchor_distance(emb[:1], [teachers[:, :384]]))
    assert float(jd_only) == pytest.approx(expected, rel=1e-5)


def test_cached_anchored_loss_has_the_uncached_gradient_and_the_term_moves_it(tiny_batch):
    """The anchor term backpropagates through the gradient cache: the cached loss (mini-batches of 1) gives the
    uncached loss's gradient, and that gradient differs from MNRL's alone."""
    model, texts = tiny_batch
    torch.manual_seed(1)
    teachers = torch.nn.functional.normalize(torch.randn(3, 3 * 384), dim=-1)
    g_plain = _grads(model, AnchoredMNRL(model, 2.0), texts, teachers)
    g_cached = _grads(model, AnchoredCachedMNRL(model, 2.0, mini_batch_size=1), texts, teachers)
    g_mnrl = _grads(model, AnchoredMNRL(model, 0.0), texts, teachers)
    assert torch.allclose(g_plain, g_cached, atol=1e-5, rtol=1e-3)
    assert float((g_plain - g_mnrl).abs().max()) > 1e-4


def _drift(folder, texts, base_emb):
    from sentence_transformers import SentenceTransformer

    m = SentenceTransformer(str(folder), device="cpu")
    m.max_seq_length = 128
    e = m.encode(texts, convert_to_tensor=True, normalize_embeddings=True)
    return float((1 - (e * base_emb).sum(1)).mean())


def test_distill_keeps_r2_nearer_the_original_model_and_is_recorded(store, tmp_path):
    import_samples(store)
    trip = r2_triplets(store, store.resolve("sample-rjdb"))[:32]
    sub = store.write("rjdb32", "jdcv_triplet", [
        {"id": stable_id("jdcv_triplet", t.query + t.positive), "kind": "jdcv_triplet", "jd_id": t.group,
         "jd": t.query, "positive": t.positive, "negative": t.negative, "generator": "imported",
         "negative_type": "rjdb_unmatched", "lineage": {"stage": "import", "source_ids": [t.group]}} for t in trip])
    # texts the training never saw: how far the model moved in general, not on its own data
    unseen = ["Registered nurse with ICU experience, BLS certified", "Line cook, French cuisine, 3 years",
              "Commercial pilot, 1,500 flight hours", "Primary school teacher, maths and science",
              "Welder, MIG and TIG, shipyard work", "Accountant, month-end close, CPA"]
    base = load_encoder(None, "cpu", 128).encode(unseen, convert_to_tensor=True, normalize_embeddings=True)
    drift = {}
    for on, w in (("all", 0.0), ("all", 20.0), ("jd", 20.0)):
        cfg = load_config(R2Config, epochs=2, lr=3e-3, batch_size=8, max_length=128, val_fraction=0.0,
                          precision="fp32", distill=w, distill_on=on)
        res = train_r2(store, sub.ref, None, tmp_path / f"r2-{on}-{w}", cfg)
        drift[on, w] = _drift(res.out, unseen, base)
        m = json.loads((res.out / "mira_train.json").read_text())
        assert m["config"]["distill"] == w and m["config"]["distill_on"] == on
    assert drift["all", 0.0] > 1e-3  # unanchored R2 moved the unseen texts
    assert drift["all", 20.0] < 0.5 * drift["all", 0.0]
    assert drift["jd", 20.0] < drift["all", 0.0]  # anchoring the JDs alone holds the shared encoder back too


def test_a_negative_weight_or_unknown_side_is_a_clear_error(store, tmp_path):
    import_samples(store)
    for bad in ({"distill": -1.0}, {"distill_on": "cv"}):
        with pytest.raises(InputError, match="distill"):
            train_r2(store, "sample-rjdb", None, tmp_path / "x", load_config(R2Config, **bad))
