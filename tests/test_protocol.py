import csv
import json
import zlib

import pytest
from typer.testing import CliRunner

from mira.protocol import pooled_metrics
from mira.cli import app
from mira.cli.demo import import_samples
from synth.records import stable_id
from synth.sample import allocate, stratified_sample
from tests.scripted_judge import answer

cli = CliRunner()


def mira(*args):
    return cli.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_allocate_largest_remainder():
    assert allocate({("a",): 15, ("b",): 10, ("c",): 5}, 6) == {("a",): 3, ("b",): 2, ("c",): 1}
    # quotas 1.5 / 0.75 / 0.75: floors 1 / 0 / 0, the two seats left go to the largest remainders (b and c)
    assert allocate({("a",): 2, ("b",): 1, ("c",): 1}, 3) == {("a",): 1, ("b",): 1, ("c",): 1}


def test_stratified_proportions_on_hand_built_jds(store):
    recs = []
    for fam, n in (("nursing", 15), ("sales", 10), ("finance", 5)):
        for i in range(n):
            text = f"{fam} role {i} " + "word " * (10 + 30 * (i % 3))
            recs.append({"id": stable_id("jd", text), "kind": "jd", "text": text, "category": fam,
                         "title": ("Senior " if i % 2 else "") + fam, "source": {"file": "f", "line": i + 1}})
    v = store.write("jobs", "jd", recs)
    out = stratified_sample(store, v.ref, 6, ["jd_family"], seed=1, name="s")[0]
    fams = [r["category"] for r in out.iter_records()]
    assert (fams.count("nursing"), fams.count("sales"), fams.count("finance")) == (3, 2, 1)
    m = out.manifest
    assert m["seed"] == 1 and {tuple(s["stratum"]): s["sampled"] for s in m["strata"]}[("sales",)] == 2
    again = stratified_sample(store, v.ref, 6, ["jd_family"], seed=1, name="s")[0]
    assert again.version == out.version
    three = stratified_sample(store, v.ref, 12, ["jd_family", "seniority", "length"], seed=2, name="t")[0]
    assert three.count == 12 and all(len(s["stratum"]) == 3 for s in three.manifest["strata"])


def test_recall_against_pooled_labels_hand_computed():
    labels = {("j1", "a"): 1, ("j1", "b"): 0, ("j1", "c"): 1, ("j2", "x"): 0}
    m = pooled_metrics({"j1": ["b", "a", "z", "c"], "j2": ["x"]}, labels, [1, 2, 3])
    # j1: positives {a, c}; 'z' was never judged (a failed judgment) and is dropped, not a negative -> [b, a, c]
    assert m["recall@1"] == 0 and m["recall@2"] == 0.5 and m["recall@3"] == 1.0
    assert m["precision@2"] == 0.5 and m["n_queries"] == 1 and m["excluded_no_positive"] == 1
    assert m["unjudged_dropped"] == 1


@pytest.fixture
def sampled(store):
    import_samples(store)
    r = mira("data", "sample", "sample-rjdb", "--n", 4, "--stratify", "length", "--seed", 0, "--name", "prot")
    assert r.exit_code == 0, r.output
    return store


def test_protocol_pools_judges_each_pair_once_and_adds_only_new_pairs(sampled, llm_server, tmp_path):
    llm_server.add("", fn=answer)
    head = tmp_path / "head"
    assert mira("train", "head", "--data", "sample-rjdb", "--encoder", "zero-shot", "--out", head,
                "--lambda", "0.9").exit_code == 0
    base = ["eval", "protocol", "--jds", "prot", "--k", 3, "--report-k", "1,3", "--name", "p",
            "--lm", "openai/gpt-4o-mini", "--api-base", llm_server.url]
    r = mira(*base, "--models", "zero-shot")
    assert r.exit_code == 0, r.output
    assert llm_server.calls == 4 + 4 * 3  # one requirement extraction per JD; 4 JDs x top-3, every pair once
    first = {(q["messages"][-1]["content"]) for q in llm_server.state.requests}
    assert len(first) == 16
    r = mira(*base, "--models", f"zero-shot,zero-shot+{head}")
    assert r.exit_code == 0, r.output
    store = sampled
    rank_a = {e["jd_id"]: set(e["candidate_ids"]) for e in store.resolve("p-rank-zero-shot").iter_records()}
    rank_b = {e["jd_id"]: set(e["candidate_ids"]) for e in store.resolve("p-rank-zero-shot-head").iter_records()}
    new_pairs = sum(len(rank_b[j] - rank_a[j]) for j in rank_a)
    assert llm_server.calls == 16 + new_pairs
    labels = store.resolve("p-labels")
    assert labels.records()
    rep = store.home / "reports" / "p"
    # the run's metrics are in its report (the labels version is content-addressed: when the second model pools no
    # new pair, the labels are the first run's version, manifest included)
    assert [r["model"] for r in csv.DictReader(open(rep / "protocol.csv"))] == ["zero-shot", f"zero-shot+{head}"]
    assert (rep / "protocol.png").stat().st_size > 1000 and "Table 8" in (rep / "protocol.md").read_text()
    assert "Table 8" in r.stdout and "Table 9" in r.stdout


def test_protocol_bad_inputs_fail_before_any_call(sampled, llm_server, tmp_path):
    llm_server.add("", fn=answer)
    r = mira("eval", "protocol", "--jds", "prot", "--models", str(tmp_path / "no-model"), "--name", "x",
             "--lm", "openai/gpt-4o-mini", "--api-base", llm_server.url)
    assert r.exit_code == 1 and "No model folder" in r.output and llm_server.calls == 0
    r = mira("data", "sample", "sample-rjdb", "--n", 500, "--name", "too-many")
    assert r.exit_code == 1 and "larger than the 50 JDs" in r.output
    empty = sampled.write("empty-cvs", "cv", [])
    r = mira("eval", "protocol", "--jds", "sample-jd", "--corpus", empty.ref, "--models", "zero-shot", "--name", "y",
             "--lm", "openai/gpt-4o-mini", "--api-base", llm_server.url)
    assert r.exit_code == 1 and "no CV text" in r.output and llm_server.calls == 0


def test_diagnose_accepts_judged_pairs(sampled, llm_server, tmp_path):
    def boundary_answer(messages):  # a deterministic half of the pairs get the role_boundary_mismatch risk
        out = answer(messages)
        if zlib.crc32(messages[-1]["content"].encode()) % 2:
            return out.replace("[[ ## risks ## ]]\n[]",
                               '[[ ## risks ## ]]\n[{"category": "role_boundary_mismatch", "evidence": "x"}]')
        return out

    llm_server.add("", fn=boundary_answer)
    assert mira("judge", "pool", "--pool", "prot", "--name", "jp", "--lm", "openai/gpt-4o-mini", "--api-base",
                llm_server.url).exit_code == 0
    head = tmp_path / "head"
    assert mira("train", "head", "--data", "sample-rjdb", "--encoder", "zero-shot", "--out", head).exit_code == 0
    y = [int(any(x["category"] == "role_boundary_mismatch" for x in j["risks"]))
         for j in sampled.resolve("jp").iter_records()]
    assert 0 < sum(y) < len(y)  # the scripted judge gives both classes
    r = mira("eval", "diagnose", "--pairs", "jp", "--model", "zero-shot", "--head", head, "--out",
             tmp_path / "d.json")
    assert r.exit_code == 0, r.output
    d = json.loads((tmp_path / "d.json").read_text())
    assert (d["n_mismatch"], d["n_match"]) == (sum(y), len(y) - sum(y)) and "AUC" in r.stdout
    # the head's scores recomputed here, on each judged pair's own JD and CV texts: the diagnostic must pair every
    # label with its own texts (AUC and the class means follow the pairing, the counts do not)
    import numpy as np
    from sentence_transformers import SentenceTransformer
    from sklearn.metrics import roc_auc_score

    from synth.store import pool_members
    from train.backbones import resolve_base
    from train.head import load_head
    from train.requirements import jd_requirements, pair_features

    jv = sampled.resolve("jp")
    jd_v, cv_v = pool_members(sampled, sampled.resolve("prot"))
    jds, cvs = jd_v.by_id(), cv_v.by_id()
    recs = jv.records()
    enc = SentenceTransformer(resolve_base(None), device="cpu")
    qt, ct = [jds[j["jd_id"]]["text"] for j in recs], [cvs[j["cv_id"]]["text"] for j in recs]
    q, c = enc.encode(qt, normalize_embeddings=True), enc.encode(ct, normalize_embeddings=True)
    h, _ = load_head(head)
    x = pair_features([jd_requirements(t) for t in qt], ct) if h.extra else None  # the head's requirement inputs
    s, lab = h.boundary(q, c, x), np.array(y)
    assert d["auc"] == pytest.approx(roc_auc_score(lab, s), abs=1e-3)
    assert (d["mean_mismatch"], d["mean_match"]) == pytest.approx((s[lab == 1].mean(), s[lab == 0].mean()), abs=1e-4)


def test_diagnose_with_one_label_class_says_so(sampled, llm_server, tmp_path):
    llm_server.add("", fn=answer)  # no judgment carries the role_boundary_mismatch risk
    assert mira("judge", "pool", "--pool", "prot", "--name", "jq", "--lm", "openai/gpt-4o-mini", "--api-base",
                llm_server.url).exit_code == 0
    head = tmp_path / "head"
    assert mira("train", "head", "--data", "sample-rjdb", "--encoder", "zero-shot", "--out", head).exit_code == 0
    r = mira("eval", "diagnose", "--pairs", "jq", "--model", "zero-shot", "--head", head)
    assert r.exit_code == 1 and "both labels" in r.output
