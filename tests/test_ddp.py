"""Data-parallel R2 (#17 item 3, #32): `mira train r2 --nproc 2` starts torchrun with 2 CPU processes (gloo); the
library's Trainer runs DDP and the cached MNRL gathers every rank's texts into the denominator
(`gather_across_devices`); rank 0 alone saves."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

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
    # each optimiser step takes a batch of 16 on each of the 2 ranks (the library's sampler, sharded by accelerate)
    assert m["steps"] >= 1 and m["epochs"][0]["samples"] == min(m["train_triplets"], 32 * m["steps"])
    from sentence_transformers import SentenceTransformer

    assert SentenceTransformer(str(out), device="cpu").encode(["a JD"]).shape == (1, 384)
