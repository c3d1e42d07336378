"""The embedded SmolLM2-135M with constrained decoding, for real (slow: run with -m slow; CI runs them)."""

import pytest
from typer.testing import CliRunner

from synth.cli import app
from synth.cli.demo import import_samples
from synth.lm.config import LMConfig
from synth.runner import Runner, RunnerConfig
from synth.stages import extract

pytestmark = pytest.mark.slow


def test_one_jd_through_stage_1_gives_a_valid_anchor_or_a_counted_reject(store):
    import_samples(store)
    jd = store.resolve("sample-jd").records()[0]
    runner = Runner(LMConfig(model="local", max_tokens=400), store.home, RunnerConfig(concurrency=1, max_reasks=0))
    res = runner.run(extract.Extract(), [extract.make_task(jd)], check=extract.check, label="slow-extract")
    assert len(res.outcomes) == 1  # never a silent drop, never a crash
    o = res.outcomes[0]
    assert o.raw and "[[ ## title ## ]]" in o.raw  # constrained JSON, re-rendered for DSPy's parser
    assert o.usage["completion_tokens"] > 0
    if o.ok:
        anchor, why, _ = extract.build_anchor(jd, o.output, "h", "local")
        if anchor is not None:
            from synth.records import validate

            validate("jd_anchor", anchor)
        else:
            assert why
    else:
        assert o.reason


def test_mira_demo_runs_offline(home, store):
    r = CliRunner().invoke(app, ["demo", "--jds", "1"])
    assert r.exit_code == 0, r.output
    for name in ("demo-jd-anchors", "demo-jdcv", "demo-judgments"):
        assert store.resolve(name)
    assert (home / "models" / "demo-r2" / "mira_train.json").exists()
    assert (home / "reports" / "demo-eval" / "comparison.png").exists()
