"""#33, the first hour with Mira: the rows about LLM commands (3, 7-10, 13, 21), `mira` in a subprocess against the
local scripted OpenAI-compatible server."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest

from synth.importer import import_file
from tests import scripted, scripted_llm
from tests.first_hour import ROOT, SAMPLES, env_for, mira, one_error_line, table_value
from tests.llm_server import render_fields

EXTRACT = "conservative structured anchor"


def _jobs(store):
    import_file(store, "jd", SAMPLES / "monster_jds_sample.csv", "jobs", preset="monster")


def _bad_title(messages):
    """Stage 1 with a title the JD does not hold (an LLM that invents one)."""
    out = scripted_llm.extract(scripted_llm.inputs(messages))
    out["title"] = "Chief Astronaut Officer"
    return render_fields(out)


def _summary(stderr: str) -> str:
    return stderr[stderr.index("LLM summary"):]


def _lm(server) -> list[str]:
    return ["--lm", "openai/gpt-4o-mini", "--api-base", server.url]


# -- row 3: an unknown litellm model ----------------------------------------------------------------------------
def test_row3_unknown_model_stops_at_once(home, store):
    _jobs(store)
    r = mira(home, "synth", "jd", "--jds", "jobs", "--name", "nonsense", "--lm", "blorp-9000", "--limit", "2")
    assert r.returncode == 1
    line = one_error_line(r)
    assert "'blorp-9000'" in line and "openai/NAME" in line
    assert "Provider List" not in r.stdout + r.stderr
    assert store.names() == ["jobs"]  # no empty nonsense-anchors version


# -- rows 7 and 8: the summary agrees with Table 1; a failed check is re-asked ------------------------------------
def test_row7_every_extraction_fails_summary_agrees_with_table1(home, store, llm_server):
    _jobs(store)
    llm_server.add(EXTRACT, fn=_bad_title)
    r = mira(home, "synth", "jd", "--jds", "jobs", "--name", "x", "--stages", "1", "--limit", "3", *_lm(llm_server))
    assert r.returncode == 0, r.stderr
    stage = store.resolve("x-anchors").manifest["stages"]["extract"]
    assert stage["kept"] == 0 and sum(stage["rejected"].values()) == 3
    s = _summary(r.stderr)
    assert table_value(s, "kept") == 0 and table_value(s, "rejected") == 3
    assert table_value(s, "re-asked") == 3 and llm_server.calls == 6  # each asked twice: the check's re-ask


def test_row8_a_wrong_title_is_reasked_and_then_kept(home, store, llm_server):
    _jobs(store)

    def first_wrong(messages):
        if "Your previous answer was rejected" in messages[-1]["content"]:
            assert "title not found in the JD" in messages[-1]["content"]
            return scripted.answer(messages)
        return _bad_title(messages)

    llm_server.add(EXTRACT, fn=first_wrong)
    r = mira(home, "synth", "jd", "--jds", "jobs", "--name", "x", "--stages", "1", "--limit", "3", *_lm(llm_server))
    assert r.returncode == 0, r.stderr
    s = _summary(r.stderr)
    kept = store.resolve("x-anchors").manifest["stages"]["extract"]["kept"]
    assert table_value(s, "re-asked") == 3 and kept == 3 and table_value(s, "kept") == kept


# -- row 9: every reject counted (stage shortfalls and duplicates too) ---------------------------------------------
def test_row9_summary_counts_every_reject_of_table1(home, store, llm_server):
    _jobs(store)
    llm_server.add("", fn=scripted.answer)
    r = mira(home, "synth", "jd", "--jds", "jobs", "--name", "x", "--limit", "4", "--n-constraint", "5",
             *_lm(llm_server))
    assert r.returncode == 0, r.stderr
    stages = store.resolve("x-pairs").manifest["stages"]
    rejected = sum(sum(c["rejected"].values()) for c in stages.values())
    kept = sum(c["kept"] for c in stages.values())
    shortfall = stages["constraint"]["rejected"].get("fewer non-location must constraints than requested", 0)
    assert shortfall > 0  # the case the issue saw: rejects made before any call
    s = _summary(r.stderr)
    assert table_value(s, "rejected") == rejected and table_value(s, "kept") == kept
    assert table_value(s, "rejected: fewer non-location must constraints than requested") == shortfall


# -- row 10: Ctrl-C exits 130 -----------------------------------------------------------------------------------
def test_row10_ctrl_c_during_llm_calls_exits_130(home, store, llm_server):
    _jobs(store)
    llm_server.state.latency = 20.0
    p = subprocess.Popen([sys.executable, "-m", "mira.cli", "synth", "jd", "--jds", "jobs", "--name", "x",
                          "--limit", "2", *_lm(llm_server)], env=env_for(home), cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,  # Ctrl-C reaches it even where ours is ignored
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while llm_server.calls < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert llm_server.calls >= 1
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert "Traceback" not in err and "re-run the same command" in err


# -- row 13: judge pool with failed pairs -----------------------------------------------------------------------
def test_row13_judge_pool_with_failed_pairs_exits_1_with_rerun_hint(home, store, llm_server):
    import_file(store, "pool", SAMPLES / "rjdb_pairs_sample.jsonl", "rjdb", preset="rjdb")
    llm_server.add("careful technical recruiter", fault="400")
    llm_server.add("", fn=scripted.answer)
    r = mira(home, "judge", "pool", "--pool", "rjdb", "--name", "j", *_lm(llm_server))
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert "100 of 100 pairs failed" in r.stderr and "re-run the same command to retry them" in r.stderr
    assert store.resolve("j").count == 0 and store.resolve("j").manifest["rejected"] == 100


def test_row13_judge_pool_all_judged_exits_0(home, store, llm_server):
    import_file(store, "pool", SAMPLES / "rjdb_pairs_sample.jsonl", "rjdb", preset="rjdb")
    llm_server.add("", fn=scripted.answer)
    r = mira(home, "judge", "pool", "--pool", "rjdb", "--name", "j", *_lm(llm_server))
    assert r.returncode == 0, r.stderr
    assert store.resolve("j").count == 100 and "pairs failed" not in r.stderr


def _no_requirements(messages):
    out = scripted_llm.extract(scripted_llm.inputs(messages))
    out.update(must=[], preferred=[], skills=[], responsibilities=[])
    return render_fields(out)


def test_row7_13_unscored_pairs_are_counted_and_exit_1(home, store, llm_server):
    import_file(store, "pool", SAMPLES / "rjdb_pairs_sample.jsonl", "rjdb", preset="rjdb")
    llm_server.add(EXTRACT, fn=_no_requirements)
    llm_server.add("", fn=scripted.answer)
    r = mira(home, "judge", "pool", "--pool", "rjdb", "--name", "j", *_lm(llm_server))
    unscored = store.resolve("j").manifest["stages"]["judge"]["rejected"]
    n = sum(v for k, v in unscored.items() if k.startswith("unscored"))
    assert n > 0 and r.returncode == 1
    assert f"{n} of 100 pairs unscored" in r.stderr and "--anchors" in r.stderr
    assert table_value(_summary(r.stderr), "rejected") == n


# -- row 21: output to a file -----------------------------------------------------------------------------------
def test_row21_log_gets_plain_progress_lines_and_full_width_tables(home, store, llm_server):
    _jobs(store)
    llm_server.add(EXTRACT, fn=_bad_title)
    r = mira(home, "synth", "jd", "--jds", "jobs", "--name", "x", "--stages", "1", "--limit", "3", *_lm(llm_server),
             MIRA_PROGRESS_SECONDS="0")
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("jd-extract: ")]
    assert [ln.split(" items")[0] for ln in lines] == ["jd-extract: 1/3", "jd-extract: 2/3", "jd-extract: 3/3",
                                                       "jd-extract: 3/3"]
    assert lines[-1].endswith("3 rejected, 0 cached (done)") and "items/s" in lines[0]
    # Table 1's row with its whole reason on one line (80 columns cut it into one word per line)
    assert re.search(r"│ extract\s+│\s+3 │\s+0 │\s+3 │\s+0 │ title not found in the JD: 3 │", r.stdout), r.stdout


@pytest.mark.parametrize("noise", ["import warnings; warnings.warn('old API', FutureWarning)",
                                   "from tqdm.auto import tqdm; [x for x in tqdm(range(3), desc='GGUF tensors')]"])
def test_row21_library_noise_is_silenced_in_a_log(home, noise):
    r = subprocess.run([sys.executable, "-c", f"import mira.cli\n{noise}"], capture_output=True, text=True,
                       env=env_for(home), cwd=ROOT, timeout=120)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_row21_progress_lines_stay_off_stdout(home, store, llm_server):
    """Progress lines go to stderr: stdout keeps only the results."""
    _jobs(store)
    llm_server.add("", fn=scripted.answer)
    r = mira(home, "synth", "jd", "--jds", "jobs", "--name", "x", "--stages", "1", "--limit", "2",
             *_lm(llm_server), MIRA_PROGRESS_SECONDS="0")
    assert "jd-extract: 2/2" in r.stderr and "jd-extract:" not in r.stdout
