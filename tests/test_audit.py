"""`mira audit`: name detection and counterfactual CVs, the per-group statistics, the judge audit over the real
local HTTP test server with scripted judges (one biased against one group's names; unbiased ones with noise), and
the model audit on the offline MiniLM."""

import hashlib
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from judge.redact import find_name, redact
from mira.audit.names import counterfactual, load_names, variants_for
from mira.audit.stats import group_stats
from mira.cli import app
from mira.cli.demo import import_samples
from synth.errors import InputError
from synth.store import DatasetStore
from tests.llm_server import render_fields
from tests.scripted_judge import cooperative_fields, extract_answer
from tests.scripted_llm import inputs, unfence

cli = CliRunner()
NAMES = {"W_M": ["Greg Baker", "Todd Walsh"], "B_F": ["Lakisha Washington", "Tamika Jones"],
         "H_M": ["Jose Garcia", "Luis Hernandez"], "A_F": ["Mei Chen", "Linh Tran"]}


def mira(*args):
    return cli.invoke(app, [str(a) for a in args], catch_exceptions=False)


# -- detection (the redactor's detector) and variants ------------------------------------------------------------

@pytest.mark.parametrize("text,name,where", [
    ("Jane Doe\nAccountant, 2015-2019", "Jane Doe", "first line"),
    ("## Personal Information\nName: Tapuarii Johnson\nEmail: t@x.com", "Tapuarii Johnson", "name field"),
    ("- **Full name:** Kwame Mensah\n", "Kwame Mensah", "name field"),
    ("# **Jane Doe**\nAccountant", "Jane Doe", "first line"),
    ("Resume\n**Maria Lopez** | data engineer", "Maria Lopez", "emphasis"),
    ("Name: JANE DOE\nNurse", "JANE DOE", "name field"),
    ("## Personal Information\nName: Teva Carpenter\n", "Teva Carpenter", "name field"),  # a job word as surname
])
def test_name_found_where_cvs_put_it(text, name, where):
    hit = find_name(text)
    assert hit is not None and hit.primary == name and hit.where[0] == where
    assert name not in redact(text) and "[NAME]" in redact(text)


@pytest.mark.parametrize("text", ["ACCOUNTANT\nSummary", "Senior Accountant\nAudit", "Work History\nClerk",
                                  "Summary\n**Payroll Specialist** since 2015", "natalia garcia versatile pro"])
def test_no_name_is_never_guessed(text):
    assert find_name(text) is None
    assert redact(text) == text


def test_variant_changes_the_name_everywhere_and_nothing_else():
    cv = ("Name: Tapuarii Johnson\nEmail: tapuariij@mailer.com | linkedin.com/in/tapuarii-johnson\n"
          "JOHNSON, TAPUARII\nJohnson led the print team. She trained her staff and helped her manager.\n"
          "Skills: typography, Johnsonville plant")
    out = counterfactual(cv, find_name(cv), "Jamal Robinson", "male")
    assert out == ("Name: Jamal Robinson\nEmail: jamalj@mailer.com | linkedin.com/in/jamal-robinson\n"
                   "ROBINSON, JAMAL\nRobinson led the print team. He trained his staff and helped his manager.\n"
                   "Skills: typography, Johnsonville plant")
    # no gender for the group: pronouns stay
    assert "She trained her staff" in counterfactual(cv, find_name(cv), "Alex Kim", None)


def test_variants_exclude_cvs_without_a_name():
    groups = load_names_from(NAMES)
    cvs = [{"id": "a", "text": "Name: Ann Lee\nNurse"}, {"id": "b", "text": "NURSE\nSummary"}]
    vs, excluded = variants_for(cvs, groups)
    assert [e["cv_id"] for e in excluded] == ["b"] and "no name" in excluded[0]["reason"]
    assert len(vs) == 8 and {v.cv_id for v in vs} == {"a"}
    assert sorted(v.text.splitlines()[0] for v in vs) == sorted(f"Name: {n}" for ns in NAMES.values() for n in ns)


def load_names_from(d):
    import tempfile
    from pathlib import Path

    f = Path(tempfile.mkdtemp()) / "names.json"
    f.write_text(json.dumps(d))
    return load_names(f)


def test_names_file_errors_name_the_file_and_field(tmp_path):
    f = tmp_path / "n.json"
    f.write_text(json.dumps({"A": ["Ann Lee"], "B": ["Cher"]}))
    with pytest.raises(InputError, match=r"n\.json: group 'B', name 1 \('Cher'\)"):
        load_names(f)
    f.write_text("{not json")
    with pytest.raises(InputError, match=r"n\.json: not valid JSON \(line 1"):
        load_names(f)
    default = load_names()
    assert len(default) == 8 and default["B_F"].gender == "female" and default["W_M"].gender == "male"
    assert all(len(g.names) >= 5 for g in default.values())


# -- statistics --------------------------------------------------------------------------------------------------

def test_group_stats_by_hand():
    # two units, two groups: A scores 10 below B on both; A selected 1 of 2, B 2 of 2
    rows = [{"unit": u, "group": g, "score": s, "selected": sel} for u, g, s, sel in
            [(1, "A", 60, 1), (1, "B", 70, 1), (2, "A", 40, 0), (2, "B", 50, 1)]]
    st = group_stats(rows, ["A", "B"], min_diff=5)
    assert st["A"]["mean_paired_diff"] == -10 and st["B"]["mean_paired_diff"] == 10
    assert st["A"]["ci_low"] == st["A"]["ci_high"] == -10  # constant differences
    assert st["A"]["impact_ratio"] == 0.5 and st["B"]["impact_ratio"] == 1.0
    assert st["A"]["flagged"] and st["A"]["direction"] == "disfavoured"
    assert "impact ratio 0.50" in st["A"]["why"] and "paired difference -10" in st["A"]["why"]
    assert not st["B"]["flagged"] and st["B"]["direction"] == "favoured"  # only the disfavoured group is flagged
    st = group_stats(rows, ["A", "B"], min_diff=15)
    assert st["A"]["flagged"] and st["A"]["why"] == "impact ratio 0.50 < 0.8"  # the four-fifths rule alone
    rows[0]["selected"] = 0  # no positive at all: the impact ratio is undefined, not 0
    st = group_stats(rows, ["A", "B"], min_diff=15)
    assert st["A"]["impact_ratio"] == 0.0 and st["B"]["impact_ratio"] == 1.0
    none = group_stats([{**r, "selected": 0} for r in rows], ["A", "B"], min_diff=15)
    assert none["A"]["impact_ratio"] is None and not none["A"]["flagged"]


def test_interval_false_flag_rate_under_the_null():
    """Names that change nothing: over 200 seeded null audits (4 groups, 40 units, noise per variant) the share of
    groups whose interval excludes 0 stays near the 5% level."""
    hits = total = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        rows = [{"unit": u, "group": g, "score": 50 + 5 * u % 7 + rng.normal(0, 3), "selected": 0}
                for u in range(40) for g in "ABCD" for _ in range(2)]
        st = group_stats(rows, list("ABCD"), min_diff=0, seed=seed)
        hits += sum(s["significant"] for s in st.values())
        total += 4
    assert hits / total <= 0.08, hits / total


# -- judge audit over the HTTP test server -----------------------------------------------------------------------

@pytest.fixture
def small_pool(home):
    store = DatasetStore()
    import_samples(store)
    pool = store.resolve("sample-rjdb")
    store.write("audit-pool", "pool", pool.records()[:8], manifest={"parents": [pool.ref],
                                                                   "refs": pool.manifest.get("refs")})
    return store


def _judge_with(adjust):
    """The cooperative scripted judge whose dimension scores are moved by `adjust(cv_text)` points."""
    def fn(messages):
        if "conservative structured anchor" in messages[0]["content"]:
            return extract_answer(messages)
        f = cooperative_fields(messages)
        delta = adjust(unfence(inputs(messages)["cv"]))
        for s in f["scores"].values():
            s["score"] = int(min(100, max(0, s["score"] + delta)))
        return render_fields(f)
    return fn


def _audit(tmp_path, url, *extra):
    names = tmp_path / "names.json"
    names.write_text(json.dumps(NAMES))
    out = tmp_path / "report.json"
    r = mira("audit", "judge", "--pool", "audit-pool", "--names", names, "--out", out, "--lm", "openai/gpt-4o-mini",
             "--api-base", url, *extra)
    return r, (json.loads(out.read_text()) if out.exists() else None)


def test_judge_biased_against_one_group_flags_it_alone(small_pool, llm_server, tmp_path):
    disfavoured = ("Lakisha", "Tamika")
    llm_server.add("", fn=_judge_with(lambda cv: -25 if any(n in cv for n in disfavoured) else 0))
    r, rep = _audit(tmp_path, llm_server.url, "--fail-on-flag")
    assert r.exit_code == 3, r.output
    flagged = {g for g, s in rep["groups"].items() if s["flagged"]}
    assert flagged == {"B_F"}
    b = rep["groups"]["B_F"]
    assert b["ci_high"] < -5 and b["mean_paired_diff"] < -5 and b["direction"] == "disfavoured"
    assert all(set(s) >= {"n", "mean_score", "positive_rate", "impact_ratio", "mean_paired_diff", "ci_low",
                          "ci_high", "flagged"} for s in rep["groups"].values())
    n_cvs = len({c for e in small_pool.resolve("audit-pool").iter_records() for c in e["candidate_ids"]})
    assert rep["params"]["variants"] == 16 * 8 and all(s["n"] > 0 for s in rep["groups"].values())
    assert rep["excluded"] == [] and n_cvs == 16
    assert (tmp_path / "report.png").stat().st_size > 5000
    # what each variant sent differs from the others only in the name
    judged = [unfence(inputs(q["messages"])["cv"]) for q in llm_server.state.requests
              if "conservative structured anchor" not in q["messages"][0]["content"]]
    assert any("Lakisha Washington" in t for t in judged) and any("Mei Chen" in t for t in judged)
    # re-running asks nothing again (cache / journal), and without --fail-on-flag the audit exits 0
    calls = llm_server.calls
    r, rep2 = _audit(tmp_path, llm_server.url)
    assert r.exit_code == 0 and llm_server.calls == calls and rep2["groups"] == rep["groups"]


def test_redact_shows_what_redaction_buys(small_pool, llm_server, tmp_path):
    llm_server.add("", fn=_judge_with(lambda cv: -25 if "Lakisha" in cv or "Tamika" in cv else 0))
    r, rep = _audit(tmp_path, llm_server.url, "--redact")
    assert r.exit_code == 0, r.output
    assert rep["groups"]["B_F"]["flagged"]
    red = rep["redacted"]["groups"]
    assert not any(s["flagged"] for s in red.values())
    assert [s["mean_paired_diff"] for s in red.values()] == pytest.approx([0.0] * len(red), abs=1e-9)  # float sums


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_unbiased_noisy_judge_flags_nothing(small_pool, llm_server, tmp_path, seed):
    """Noise that depends on the whole variant text (name included) but not on the group: no flag, for each seed."""
    def noise(cv):
        return int(hashlib.sha256(f"{seed}|{cv}".encode()).hexdigest(), 16) % 9 - 4
    llm_server.add("", fn=_judge_with(noise))
    r, rep = _audit(tmp_path, llm_server.url, "--fail-on-flag", "--seed", seed)
    assert r.exit_code == 0, r.output
    assert not any(s["flagged"] for s in rep["groups"].values())
    assert len({s["mean_score"] for s in rep["groups"].values()}) > 1  # the noise is there


def test_dry_run_calls_nothing(small_pool, llm_server, tmp_path):
    llm_server.add("", fn=_judge_with(lambda cv: 0))
    r, rep = _audit(tmp_path, llm_server.url, "--dry-run")
    assert r.exit_code == 0 and rep is None and llm_server.calls == 0
    assert "128 variants" in r.output


# -- model audit on the offline MiniLM ---------------------------------------------------------------------------

@pytest.mark.slow  # loads MiniLM twice and encodes ~150 CVs: ~2 min on the shared 2-core machine
def test_model_audit_on_minilm_ranks_each_variant_among_the_originals(small_pool, tmp_path):
    from sentence_transformers import SentenceTransformer

    from train.backbones import resolve_base

    names = tmp_path / "names.json"
    names.write_text(json.dumps(NAMES))
    out = tmp_path / "model.json"
    r = mira("audit", "model", "--pool", "audit-pool", "--model", "zero-shot", "--names", names, "--per-group", 1,
             "--k", 1, "--out", out)
    assert r.exit_code == 0, r.output
    rep = json.loads(out.read_text())
    assert rep["kind"] == "model" and rep["params"]["variants"] == 16 * 4  # 16 named CVs, 1 name x 4 groups
    assert {e["cv_id"] for e in rep["excluded"]} == set()  # the Teva Carpenter CVs are found now
    # recompute one group's figures with sentence-transformers directly: cosine to the JD, rank among the originals
    st = SentenceTransformer(resolve_base(None), device="cpu")
    store = small_pool
    pool = store.resolve("audit-pool")
    jds, cvs = store.resolve(pool.manifest["refs"]["jd"]).by_id(), store.resolve(pool.manifest["refs"]["cv"]).by_id()
    scores, ranks, top = [], [], []
    for e in pool.iter_records():
        q = st.encode([jds[e["jd_id"]]["text"]], normalize_embeddings=True)[0]
        orig = st.encode([cvs[c]["text"] for c in e["candidate_ids"]], normalize_embeddings=True) @ q
        for i, c in enumerate(e["candidate_ids"]):
            hit = find_name(cvs[c]["text"])
            v = st.encode([counterfactual(cvs[c]["text"], hit, "Mei Chen", "female")], normalize_embeddings=True)[0]
            s = float(v @ q)
            rank = 1 + sum(o > s for j, o in enumerate(orig) if j != i)
            scores.append(s)
            ranks.append(rank)
            top.append(rank <= 1)
    g = rep["groups"]["A_F"]
    assert g["n"] == len(scores) == 16
    assert g["mean_score"] == pytest.approx(np.mean(scores), abs=1e-4)
    assert g["mean_rank"] == pytest.approx(np.mean(ranks)) and g["top_k_share"] == pytest.approx(np.mean(top))
    assert len({round(s["mean_score"], 6) for s in rep["groups"].values()}) == 4  # the name moves the embedding
    assert all(s["ci_low"] <= s["mean_paired_diff"] <= s["ci_high"] for s in rep["groups"].values())


def test_interval_resamples_cvs_not_pairs():
    """Four CVs each judged against 30 JDs are four pieces of evidence, not 120: the interval is the bootstrap over
    the four CVs' differences, much wider than one over the 120 (JD, CV) pairs would be."""
    from mira.audit.stats import paired_ci

    shifts = np.random.default_rng(0).normal(0, 4, 4)
    rows = []
    for c, shift in enumerate(shifts):
        for j in range(30):
            rows += [{"unit": (f"jd{j}", f"cv{c}"), "group": "A", "score": 50 + shift, "selected": 0},
                     {"unit": (f"jd{j}", f"cv{c}"), "group": "B", "score": 50, "selected": 0}]
    a = group_stats(rows, ["A", "B"], min_diff=0)["A"]
    assert a["cvs"] == 4 and a["units"] == 120
    # A's paired difference on a unit: A's score minus the other group's (B's) score, i.e. the CV's shift
    assert a["mean_paired_diff"] == pytest.approx(shifts.mean())
    assert (a["ci_low"], a["ci_high"]) == pytest.approx(paired_ci(shifts, 0.95, 0))
    lo, hi = paired_ci(np.repeat(shifts, 30), 0.95, 0)  # what resampling pairs would claim
    assert (a["ci_high"] - a["ci_low"]) > 3 * (hi - lo)
