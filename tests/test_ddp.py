"""Data-parallel R2 step (#17 item 3): torchrun with 2 CPU processes (gloo) gives the loss and the gradients of one
process over the same global batch, with every rank's texts in the MNRL denominator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

STEP = r'''
import sys, torch
sys.path.insert(0, {root!r})
from train.backbones import apply_lora, load_encoder
from train.distributed import init_from_env, world
from train.encode import Tokens
from train.engine import Trainer
from train.losses import mnrl_loss

def batch():
    q = [f"job {{i}}: data engineer with {{i}} years of Spark and Airflow" for i in range(7)]
    p = [f"CV {{i}}: built Spark pipelines for {{i + 1}} years, Airflow, SQL" for i in range(7)]
    n = [f"CV {{i}}: retail cashier, {{i}} years, customer service" for i in range(5)]  # not every row has one
    return [q, p, n]

def run(mini_batch, out):
    distributed = init_from_env()
    torch.manual_seed(0)
    model = load_encoder(None, "cpu", 48)
    apply_lora(model, 4, 16)
    torch.manual_seed(1)
    for name, prm in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(prm, std=0.05)  # a non-trivial adapter, identical on every rank
    cols = batch()
    tr = Trainer(model, Tokens(model, [t for c in cols for t in c]), "cpu", "fp32", 1e-3, 0.0, mini_batch)
    res = tr.backward(cols, lambda e: {{"loss": mnrl_loss(e[0], e[1], e[2] if e[2].numel() else None)}})
    grads = {{n: (p.grad if p.grad is not None else torch.zeros_like(p)).clone()
             for n, p in model.named_parameters() if p.requires_grad}}
    if world()[0] == 0:
        torch.save({{"loss": res["loss"], "grads": grads, "world": world()[1]}}, out)

if __name__ == "__main__":
    run(None if sys.argv[1] == "none" else int(sys.argv[1]), sys.argv[2])
'''


def _run(tmp_path: Path, nproc: int, mini_batch: str) -> dict:
    script = tmp_path / "step.py"
    script.write_text(STEP.format(root=str(ROOT)))
    out = tmp_path / f"out-{nproc}-{mini_batch}.pt"
    cmd = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc)]
           if nproc > 1 else [sys.executable])
    r = subprocess.run(cmd + [str(script), mini_batch, str(out)], capture_output=True, text=True, timeout=600,
                       cwd=tmp_path, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    return torch.load(out)


@pytest.mark.timeout(900)
def test_two_ranks_equal_one_process_over_the_global_batch(tmp_path):
    one = _run(tmp_path, 1, "none")  # plain step, whole batch at once
    two = _run(tmp_path, 2, "4")  # 2 ranks, gradient-cached chunks of 4
    assert one["world"] == 1 and two["world"] == 2
    # the same loss as one process: each rank's anchors saw every rank's positives and negatives
    assert two["loss"] == pytest.approx(one["loss"], abs=1e-5)
    assert set(one["grads"]) == set(two["grads"])
    layers = [n for n in one["grads"] if "encoder.layer" in n]
    for name, g in one["grads"].items():
        torch.testing.assert_close(two["grads"][name], g, rtol=1e-3, atol=1e-6)
    assert layers and all(one["grads"][n].abs().sum() > 0 for n in layers)  # every layer's adapter takes part


@pytest.mark.timeout(900)
def test_cli_r2_nproc_2_trains_and_saves_once(store, tmp_path):
    import json

    from typer.testing import CliRunner

    from mira.cli import app
    from mira.cli.demo import import_samples

    import_samples(store)
    out = tmp_path / "ddp"
    r = CliRunner().invoke(app, ["train", "r2", "--data", "sample-rjdb", "--out", str(out), "--epochs", "1",
                                 "--batch-size", "16", "--max-length", "48", "--lr", "1e-4", "--nproc", "2"])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "mira_train.json").read_text())
    assert m["distributed"] == {"world_size": 2, "backend": "gloo"}
    assert m["epochs"][0]["samples"] > 0 and m["train_triplets"] == m["epochs"][0]["samples"]
    from sentence_transformers import SentenceTransformer

    assert SentenceTransformer(str(out), device="cpu").encode(["a JD"]).shape == (1, 384)
