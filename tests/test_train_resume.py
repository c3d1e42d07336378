"""R2 on sentence-transformers' Trainer survives a kill: checkpoints every N steps and at each epoch end; a re-run
of the same command continues from the last one (data order, optimiser, scheduler) and ends with the weights an
uninterrupted run ends with; a checkpoint of a different run is never resumed silently."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mira.cli import app
from synth.records import stable_id

ROOT = Path(__file__).resolve().parents[1]

RUN = r'''
import os, sys
sys.path.insert(0, {root!r})
from transformers import TrainerCallback
from synth.store import DatasetStore
from train.config import R2Config, load_config
from train.rounds import train_r2

home, out, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])


class KillNine(TrainerCallback):
    """SIGKILL this process at the end of step `kill_at` (before that step's checkpoint could be written)."""
    def on_step_end(self, args, state, control, **kw):
        if state.global_step == kill_at:
            os.kill(os.getpid(), 9)


cfg = load_config(R2Config, epochs=2, lr=1e-3, batch_size=8, max_length=48, val_fraction=0.0, precision="fp32",
                  save_steps=2, threads=1)
res = train_r2(DatasetStore(home), "rjdb24", None, out, cfg, callbacks=[KillNine()] if kill_at else [])
print("RESUMED_FROM", res.manifest["resumed_from"], "STEPS", res.manifest["steps"])
'''


def _triplets(store, n=24):
    from mira.cli.demo import import_samples
    from train.data import r2_triplets

    import_samples(store)
    trip = r2_triplets(store, store.resolve("sample-rjdb"))[:n]
    return store.write(f"rjdb{n}", "jdcv_triplet", [
        {"id": stable_id("jdcv_triplet", t.query + t.positive), "kind": "jdcv_triplet", "jd_id": t.group,
         "jd": t.query, "positive": t.positive, "negative": t.negative, "generator": "imported",
         "negative_type": "rjdb_unmatched", "lineage": {"stage": "import", "source_ids": [t.group]}} for t in trip])


def _run(script: Path, home: Path, out: Path, kill_at: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(script), str(home), str(out), str(kill_at)], capture_output=True,
                          text=True, timeout=900, env=env, check=False)


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_killed_mid_epoch_and_rerun_ends_with_the_uninterrupted_weights(store, tmp_path):
    _triplets(store)
    script = tmp_path / "run.py"
    script.write_text(RUN.format(root=str(ROOT)))
    whole = _run(script, store.home, tmp_path / "whole", 0)
    assert whole.returncode == 0, whole.stderr[-3000:]
    # 24 triplets, batch 8: 3 steps per epoch, 6 in all; checkpoints at 2, 3 (epoch end), 4; killed at step 5
    killed = _run(script, store.home, tmp_path / "cut", 5)
    assert killed.returncode == -9
    ckpts = sorted(p.name for p in (tmp_path / "cut" / "checkpoints").glob("checkpoint-*"))
    assert ckpts == ["checkpoint-3", "checkpoint-4"]  # the two newest kept
    assert not (tmp_path / "cut" / "model.safetensors").exists()
    again = _run(script, store.home, tmp_path / "cut", 0)  # the same command, in a new process
    assert again.returncode == 0, again.stderr[-3000:]
    assert "checkpoint-4" in again.stdout and "STEPS 6" in again.stdout
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "cut")
    assert set(a) == set(b)
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst <= 1e-6, worst  # the tolerance: fp32 on CPU, one thread: the same sums in the same order
    base = _weights(Path(__import__("train.backbones", fromlist=["x"]).resolve_base(None)))
    moved = max(float((a[k] - base[k]).abs().max()) for k in a if k in base)
    assert moved > 1e-4  # training changed the weights: equality above is not two untouched models
    m = json.loads((tmp_path / "cut" / "mira_train.json").read_text())
    assert m["resumed_from"].endswith("checkpoint-4") and m["steps"] == 6


def test_rerun_continues_a_checkpoint_and_refuses_a_different_run(store, tmp_path):
    _triplets(store, 16)
    out = tmp_path / "m"
    base = ["train", "r2", "--data", "rjdb16", "--out", str(out), "--batch-size", "8", "--max-length", "32",
            "--lr", "1e-3", "--precision", "fp32"]
    r = CliRunner().invoke(app, base + ["--max-steps", "1", "--save-steps", "1"])
    assert r.exit_code == 0, r.output
    assert (out / "checkpoints" / "checkpoint-1" / "adapter_model.safetensors").is_file()
    r = CliRunner().invoke(app, base + ["--max-steps", "2", "--resume"])
    assert r.exit_code == 1 and "different run" in r.output and "max_steps" in r.output
    r = CliRunner().invoke(app, base + ["--max-steps", "1", "--resume"])  # the same run: continues (nothing left)
    assert r.exit_code == 0, r.output
    assert json.loads((out / "mira_train.json").read_text())["resumed_from"].endswith("checkpoint-1")
    r = CliRunner().invoke(app, base + ["--max-steps", "2", "--fresh", "--save-steps", "1"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "mira_train.json").read_text())["resumed_from"] is None
    r = CliRunner().invoke(app, ["train", "r2", "--data", "rjdb16", "--out", str(tmp_path / "none"), "--resume"])
    assert r.exit_code == 1 and "no checkpoint" in r.output


def test_interrupted_message_names_the_checkpoint(tmp_path):
    from train.st_trainer import interrupted_message

    assert "nothing to resume" in interrupted_message(tmp_path)
    ck = tmp_path / "checkpoints" / "checkpoint-7"
    ck.mkdir(parents=True)
    (ck / "trainer_state.json").write_text("{}")
    msg = interrupted_message(tmp_path)
    assert "checkpoint-7" in msg and "step 7" in msg and "journaled" not in msg
