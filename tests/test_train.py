"""Training on real RJDB triplets and tiny scripted JD pairs (CPU, a few steps each)."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mira.cli import app
from mira.cli.demo import import_samples
from synth.records import stable_id
from train.backbones import apply_lora, load_encoder, merge_lora
from train.config import R1Config, R2Config, load_config
from train.data import r2_triplets
from train.losses import mnrl_loss
from train.rounds import train_r1, train_r2


@pytest.fixture
def rjdb(store):
    import_samples(store)
    return store


def _embed(model, texts):
    with torch.no_grad():
        return model.encode(texts, convert_to_tensor=True, normalize_embeddings=True, batch_size=16).float()


def test_r2_one_epoch_lowers_loss_and_raises_margin(rjdb, tmp_path):
    trip = r2_triplets(rjdb, rjdb.resolve("sample-rjdb"))[:32]
    sub = rjdb.write("rjdb32", "jdcv_triplet", [
        {"id": stable_id("jdcv_triplet", t.query + t.positive), "kind": "jdcv_triplet", "jd_id": t.group,
         "jd": t.query, "positive": t.positive, "negative": t.negative, "generator": "imported",
         "negative_type": "rjdb_unmatched", "lineage": {"stage": "import", "source_ids": [t.group]}} for t in trip])
    cfg = load_config(R2Config, epochs=1, lr=2e-3, batch_size=8, max_length=128, val_fraction=0.0, precision="fp32")
    base = load_encoder(None, "cpu", 128)
    q, p, n = (_embed(base, [getattr(t, f) for t in trip]) for f in ("query", "positive", "negative"))
    loss0, margin0 = float(mnrl_loss(q, p, n)), float(((q * p).sum(1) - (q * n).sum(1)).mean())
    res = train_r2(rjdb, sub.ref, None, tmp_path / "r2", cfg)
    from sentence_transformers import SentenceTransformer

    trained = SentenceTransformer(str(tmp_path / "r2"), device="cpu")
    trained.max_seq_length = 128
    q, p, n = (_embed(trained, [getattr(t, f) for t in trip]) for f in ("query", "positive", "negative"))
    loss1, margin1 = float(mnrl_loss(q, p, n)), float(((q * p).sum(1) - (q * n).sum(1)).mean())
    assert loss1 < loss0 and margin1 > margin0
    m = json.loads((tmp_path / "r2" / "mira_train.json").read_text())
    assert m["data"] == sub.ref and m["train_triplets"] == 32 and m["epochs"][0]["samples"] == 32
    assert m["config"]["lora_r"] == 8 and m["device"] == "cpu" and res.manifest["precision"] == "fp32"


def test_merge_round_trip(tmp_path):
    model = load_encoder(None, "cpu", 64)
    apply_lora(model, 8, 32)
    torch.manual_seed(0)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.02)  # a non-trivial adapter
    texts = ["Senior data engineer, Spark and Airflow", "Registered nurse, ICU nights", "Accountant, CPA"]
    before = _embed(model, texts)
    merge_lora(model)
    after = _embed(model, texts)
    assert float((before - after).abs().max()) < 1e-5
    assert float((before - _embed(load_encoder(None, "cpu", 64), texts)).abs().max()) > 1e-3  # the adapter mattered


def _pair(kind, anchor, text, atext):
    return {"id": stable_id("jd_pair", kind + anchor + text), "kind": "jd_pair", "anchor_id": anchor,
            "jd_id": "jd-" + anchor[-16:], "anchor_text": atext, "text": text, "type": kind,
            "label": "positive" if kind in ("card", "paraphrase") else "negative", "structured": {},
            "lineage": {"stage": kind, "source_ids": []}}


def test_r1_three_stages_in_order_distillation_zero_at_step_0(store, tmp_path):
    recs = []
    for i, (title, skill) in enumerate([("Data Engineer", "Spark"), ("Nurse", "ICU care"), ("Accountant", "audit"),
                                        ("Chef", "French cuisine"), ("Sales Manager", "B2B sales"),
                                        ("Teacher", "algebra")]):
        a = f"jd_anchor-{i:016x}"
        card = f"Title: {title}\nMust: years_experience: 5 years\nSkills: {skill}"
        recs += [_pair("card", a, f"{title}. 5 years. {skill}.", f"We hire a {title} with 5 years of {skill}."),
                 _pair("paraphrase", a, f"Hiring: {title}, 5 yrs of {skill} required.", card),
                 _pair("boundary", a, f"Junior {title} assistant helping with {skill}.", card),
                 _pair("constraint", a, f"{title} with 1 year of {skill}.", card)]
    v = store.write("tiny-pairs", "jd_pair", recs)
    seen = []
    cfg = load_config(R1Config, batch_size=4, lr=1e-3, precision="fp32", max_length=64,
                      stage_epochs={"card": 1, "align": 1, "rank": 1})
    res = train_r1(store, v.ref, None, tmp_path / "r1", cfg, on_step=lambda st, i, out: seen.append((st, i, out)))
    assert [s for s, i, _ in seen if i == 0] == ["card", "align", "rank"]
    assert res.manifest["stages_run"] == ["card", "align", "rank"]
    first = seen[0][2]
    assert first["distill"] < 1e-10  # student == frozen teacher before the first update
    assert any(out["distill"] > 1e-10 for _, _, out in seen[1:])  # and drifts afterwards
    assert set(seen[-1][2]) == {"loss", "pos", "role", "cons", "distill"}
    from sentence_transformers import SentenceTransformer

    assert SentenceTransformer(str(tmp_path / "r1"), device="cpu").encode(["x"]).shape == (1, 384)


def test_cli_train_r2_on_rjdb_pool_gives_a_loadable_model(rjdb, tmp_path):
    out = tmp_path / "model"
    r = CliRunner().invoke(app, ["train", "r2", "--data", "sample-rjdb", "--out", str(out), "--epochs", "1",
                                 "--batch-size", "16", "--max-length", "96", "--lr", "1e-3"])  # no lr probe here
    assert r.exit_code == 0, r.output
    assert "training log" in r.stdout
    from sentence_transformers import SentenceTransformer

    emb = SentenceTransformer(str(out), device="cpu").encode(["Data scientist"], normalize_embeddings=True)
    assert emb.shape == (1, 384) and np.isclose(np.linalg.norm(emb), 1.0, atol=1e-4)
    m = json.loads((out / "mira_train.json").read_text())
    assert m["val"] is None and m["epochs"][0]["val"]["n"] > 0  # 10% of JDs held out by default
    # a sentence-transformers model card: base model, Mira's dataset version, the loss, the final validation
    card = (out / "README.md").read_text()
    ref = rjdb.resolve("sample-rjdb").ref
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2" in card and ref in card
    assert "AnchoredCachedMNRL" in card and f'"distill": {R2Config().distill}' in card and "mira_val_margin" in card
    assert "Personal Information" not in card and "Job Summary" not in card  # no CV / JD text in the card
    loaded = SentenceTransformer(str(out), device="cpu")
    assert {"query", "document"} <= set(loaded.prompts)  # encode_query / encode_document work as trained


def test_unknown_base_is_a_clear_error(rjdb, tmp_path):
    r = CliRunner().invoke(app, ["train", "r2", "--data", "sample-rjdb", "--out", str(tmp_path / "m"), "--base",
                                 "sentence-transformers/all-mpnet-base-v2"])
    assert r.exit_code == 1 and "runs offline" in r.output


def test_schedule_fits_the_data_size_and_keeps_what_the_user_set():
    from train.schedule import LR_CAP, MIN_STEPS, plan, probe_candidates

    small = plan("r2", "auto", None, None, 450, 32)  # 15 steps per epoch
    assert small["lr"]["value"] == pytest.approx(min(LR_CAP, 1e-5 * (36173 / 450) ** 0.5))
    assert small["epochs"]["value"] == 10 and small["probe"] and "450" in small["lr"]["why"]
    big = plan("r2", "auto", None, None, 36173, 32)
    assert big["lr"]["value"] == pytest.approx(1e-5) and big["epochs"]["value"] == 5  # the paper's size: its values
    tiny = plan("r2", "auto", None, None, 20, 32)
    assert tiny["lr"]["value"] == LR_CAP and tiny["epochs"]["value"] == 20  # capped, not MIN_STEPS epochs
    paper = plan("r2", "paper", None, None, 450, 32)
    assert (paper["lr"]["value"], paper["epochs"]["value"], paper["probe"]) == (1e-5, 5, False)
    mine = plan("r2", "auto", 3e-4, 2, 450, 32)
    assert (mine["lr"], mine["epochs"]["value"], mine["probe"]) == ({"value": 3e-4, "why": "set by the user"}, 2, False)
    assert probe_candidates(1e-4) == [2.5e-5, 1e-4, LR_CAP] and MIN_STEPS > 5 * 15


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_cli_r2_records_the_schedule_and_the_lr_probe(rjdb, tmp_path):
    out = tmp_path / "auto"
    r = CliRunner().invoke(app, ["train", "r2", "--data", "sample-rjdb", "--out", str(out), "--epochs", "1",
                                 "--batch-size", "16", "--max-length", "64"])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "mira_train.json").read_text())
    s = m["schedule"]
    assert s["name"] == "auto" and s["epochs"] == {"value": 1, "why": "set by the user"}
    probe = s["lr"]["probe"]
    from train.schedule import probe_candidates

    assert [p["lr"] for p in probe] == probe_candidates(s["lr"]["planned"]) and len(probe) >= 2
    assert m["config"]["lr"] == s["lr"]["value"] == max(probe, key=lambda p: p["margin"])["lr"]
    r = CliRunner().invoke(app, ["train", "r2", "--data", "sample-rjdb", "--out", str(tmp_path / "paper"),
                                 "--epochs", "1", "--batch-size", "16", "--max-length", "64", "--schedule", "paper"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "paper" / "mira_train.json").read_text())
    assert m["config"]["lr"] == 1e-5 and "probe" not in m["schedule"]["lr"]
    bad = CliRunner().invoke(app, ["train", "r2", "--data", "sample-rjdb", "--out", str(tmp_path / "x"),
                                   "--schedule", "fast"])
    assert bad.exit_code == 1 and "schedule 'fast'" in bad.output
