"""`--dry-run` on every LLM command (#27 item 1): the estimate's calls bound the calls the real run then makes
against the scripted server (equal where the inputs are known in advance), and nothing is called by the dry run."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from mira.cli import app
from mira.cli.demo import import_samples
from synth.paths import PROMPTS_DIR
from synth.store import DatasetStore
from tests import scripted_judge
from tests.scripted_jdcv import answer as jdcv_answer
from tests.scripted_llm import answer

LM = ("--lm", "openai/gpt-4o-mini")


def mira(*args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def estimate(r) -> dict:
    assert r.exit_code == 0, r.output
    assert "nothing was called" in r.output
    rows = dict(re.findall(r"│ ([^│]+?)\s+│\s+([^│]+?) │", r.output))
    return {"calls": int(rows["calls"].replace(",", "")),
            "calls_max": int(rows["calls with every re-ask (at most)"].replace(",", "")),
            "input": int(rows["input tokens (at most)"].replace(",", ""))}


def dry_then_real(llm_server, *args):
    """(the dry run's estimate, the calls the same command then makes)."""
    est = estimate(mira(*args, "--dry-run"))
    assert llm_server.calls == 0
    r = mira(*args)
    assert r.exit_code == 0, r.output
    return est, llm_server.calls


@pytest.fixture
def sample(home):
    import_samples(DatasetStore())
    return DatasetStore()


def test_synth_jd_all_stages_bounds_the_real_calls(sample, llm_server):
    llm_server.add("", fn=answer)
    args = ["synth", "jd", "--jds", "sample-jd", "--name", "s", "--limit", 6, "--max-reasks", 0, *LM,
            "--api-base", llm_server.url]
    est, real = dry_then_real(llm_server, *args)
    # stages 2-5 at most 1 + 1 + 3 + 2 calls per JD after stage 1's: the old estimate counted stage 1 only (6)
    assert est["calls"] == est["calls_max"] == 6 * (1 + 1 + 1 + 3 + 2)
    assert 6 < real <= est["calls"]


def test_synth_jd_later_stages_from_anchors_are_exact(sample, llm_server):
    llm_server.add("", fn=answer)
    url = ("--api-base", llm_server.url)
    assert mira("synth", "jd", "--jds", "sample-jd", "--name", "a", "--limit", 6, "--stages", "1", *LM,
                *url).exit_code == 0
    before = llm_server.calls
    args = ["synth", "jd", "--jds", "sample-jd", "--anchors", "a-anchors", "--stages", "2-5", "--name", "b",
            "--limit", 6, "--max-reasks", 0, *LM, *url]
    est = estimate(mira(*args, "--dry-run"))
    assert llm_server.calls == before
    assert mira(*args).exit_code == 0
    assert est["calls"] == llm_server.calls - before > 0  # was 0


def test_synth_jdcv_counts_both_generators(sample, llm_server):
    llm_server.add("", fn=jdcv_answer)
    args = ["synth", "jdcv", "--jds", "sample-jd", "--name", "t", "--generator", "both", "--per-jd", 2, "--limit",
            4, "--max-reasks", 0, *LM, "--api-base", llm_server.url]
    est, real = dry_then_real(llm_server, *args)
    assert est["calls"] == 4 * 2 + 4 * 2  # balanced + hard negatives (the old estimate: the balanced 8)
    assert 8 < real <= est["calls"]  # a JD whose balanced call is rejected gets no hard negatives


def test_judge_pair_prices_the_requirement_extraction(sample, llm_server, tmp_path):
    llm_server.add("conservative structured anchor", fn=scripted_judge.extract_answer)
    llm_server.add("", fn=scripted_judge.answer)
    jd = sample.resolve("sample-jd").records()[0]
    cv = sample.resolve("sample-cv").records()[0]
    (tmp_path / "jd.txt").write_text(jd["text"])
    (tmp_path / "cv.txt").write_text(cv["text"])
    args = ["judge", "pair", "--jd", tmp_path / "jd.txt", "--cv", tmp_path / "cv.txt", *LM, "--api-base",
            llm_server.url]
    est, real = dry_then_real(llm_server, *args)
    assert est["calls"] == real == 2  # the JD's requirements (stage 1), then the judgment
    assert est["calls_max"] == 4  # one re-ask each at most


def test_judge_agree_prices_repeats_and_the_shuffle(sample, llm_server, tmp_path):
    llm_server.add("conservative structured anchor", fn=scripted_judge.extract_answer)
    llm_server.add("", fn=scripted_judge.answer)
    url = ("--api-base", llm_server.url)
    assert mira("judge", "pool", "--pool", "sample-rjdb", "--name", "j", *LM, *url).exit_code == 0
    before = llm_server.calls
    args = ["judge", "agree", "--judgments", "j", "--repeat", 2, "--shuffle-requirements", "--sample", 3, "--out",
            tmp_path / "a", *LM, *url]
    est = estimate(mira(*args, "--dry-run"))
    assert llm_server.calls == before and est["calls"] == 3 * 2 + 3
    assert mira(*args).exit_code == 0
    assert 3 * 2 < llm_server.calls - before <= est["calls"]  # a shuffle that keeps the order is a cache hit


def test_prompt_try_and_diff_estimate_the_anchors_first(sample, llm_server, tmp_path):
    llm_server.add("", fn=answer)
    args = ["prompt", "try", "paraphrase", "--jds", "sample-jd", "-n", 2, *LM, "--api-base", llm_server.url]
    est, real = dry_then_real(llm_server, *args)
    assert est["calls"] == 2 * 2 + 2 and 2 < real <= est["calls"]  # anchors for 2n JDs, then n paraphrases
    other = tmp_path / "other.md"
    other.write_text((PROMPTS_DIR / "jd" / "paraphrase.md").read_text() + "\nBe brief.\n")
    before = llm_server.calls
    diff = ["prompt", "diff", "paraphrase", "--against", other, "--jds", "sample-jd", "-n", 2, *LM, "--api-base",
            llm_server.url]
    d = estimate(mira(*diff, "--dry-run"))
    assert llm_server.calls == before
    # the anchors' extraction is cached now (0); each prompt version's n paraphrases are priced on stand-in anchors
    # (a dry run builds no anchors), so the current prompt's cached answers count too: 2 + 2, an upper bound
    assert d["calls"] == 4
    assert mira(*diff).exit_code == 0
    assert llm_server.calls - before == 2  # only the other prompt's answers were new


def test_judge_pool_prices_the_jds_that_need_extraction(sample, llm_server):
    llm_server.add("conservative structured anchor", fn=scripted_judge.extract_answer)
    llm_server.add("", fn=scripted_judge.answer)
    args = ["judge", "pool", "--pool", "sample-rjdb", "--name", "j", *LM, "--api-base", llm_server.url]
    est, real = dry_then_real(llm_server, *args)
    pool = sample.resolve("sample-rjdb").records()
    pairs = sum(len(e["candidate_ids"]) for e in pool)
    assert est["calls"] == real == len(pool) + pairs  # one extraction per JD (none has fields), one call per pair
