"""Evaluation over the right denominators, at one max length, with a leakage guard; the lambda search optimises
the reported cutoff; gradient caching changes nothing; the grouped loss's margin and distillation terms."""

import json
import math
import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mira.cli import app
from mira.cli.demo import import_samples
from train.head import default_select, search_lambda
from train.metrics import Query, rank_metrics, write_trec_run

cli = CliRunner()


def q(ids, scores, pos, hn=()):
    return Query("q", list(ids), np.array(scores, dtype=float), set(pos), set(hn))


def test_positive_missed_by_the_first_stage_counts_as_a_miss():
    # the first stage retrieved x and a; positives are a and b (b was never retrieved)
    m = rank_metrics([q("xa", [0.9, 0.5], {"a", "b"}), Query("q2", ["y"], np.array([0.3]), {"c"})], [1, 2])
    assert m["n_queries"] == 2  # the JD whose only positive was missed still counts
    assert m["recall@2"] == pytest.approx((1 / 2 + 0) / 2)  # denominator: every positive, b (never retrieved) too
    assert m["recall@1"] == 0 and m["mrr"] == pytest.approx((1 / 2 + 0) / 2)
    # nDCG's ideal ranking has both positives on top: IDCG@2 = 1 + 1/log2(3)
    assert m["ndcg@2"] == pytest.approx(((1 / math.log2(3)) / (1 + 1 / math.log2(3)) + 0) / 2)


def test_pos_above_hardneg_counts_unretrieved_items_below():
    m = rank_metrics([q("pn", [0.9, 0.1], {"p"}, {"n"}),      # positive above: yes
                      q("n", [0.9], {"p"}, {"n"}),            # positive not retrieved, hard negative is: no
                      q("p", [0.9], {"p"}, {"n"}),            # hard negative not retrieved: yes
                      q("x", [0.9], {"p"}, {"n"})], [1])      # neither retrieved: no
    assert m["n_with_hardneg"] == 4 and m["pos_above_hardneg"] == 0.5


def test_error_causes_split_pos_above_hardneg_and_count_positives_below_failing_negatives():
    def lq(qid, ids, scores, pos, lost):
        return Query(qid, list(ids), np.array(scores, dtype=float), set(pos), set(lost), lost)

    skill, both = ["skill removed"], ["skill removed", "experience shortened"]
    m = rank_metrics([lq("1", "pn", [0.9, 0.1], {"p"}, {"n": skill}),          # above its skill-less negative
                      lq("2", "np", [0.9, 0.1], {"p"}, {"n": both}),           # below one that lost both
                      lq("3", "pmn", [0.9, 0.5, 0.1], {"p", "m"}, {"n": both}),  # both positives above
                      lq("4", "nq", [0.9, 0.5], {"p"}, {"n": skill}),          # p unretrieved: below n
                      lq("5", "x", [0.9], {"p"}, {"n": skill}),                # neither retrieved: not below
                      Query("6", ["p", "n"], np.array([0.1, 0.9]), {"p"}, {"n"})], [1])  # no cause: not counted
    assert m["n_with_hardneg:skill removed"] == 5 and m["pos_above_hardneg:skill removed"] == 2 / 5
    assert m["n_with_hardneg:experience shortened"] == 2 and m["pos_above_hardneg:experience shortened"] == 1 / 2
    assert m["n_pos_with_failing_neg"] == 6 and m["pos_below_failing_neg"] == 2 / 6
    assert m["pos_above_hardneg"] == 2 / 6  # the overall figure is unchanged by the split
    assert "pos_below_failing_neg" not in rank_metrics([q("pn", [0.9, 0.1], {"p"}, {"n"})], [1])


def test_trec_run_file(tmp_path):
    f = write_trec_run([Query("jd-1", ["b", "a", "c"], np.array([0.5, 0.5, 0.9]), {"a"})], tmp_path / "r.trec",
                       "zero shot")
    assert f.read_text().splitlines() == ["jd-1 Q0 c 1 0.900000 zero_shot", "jd-1 Q0 a 2 0.500000 zero_shot",
                                          "jd-1 Q0 b 3 0.500000 zero_shot"]


def test_lambda_search_optimises_the_selected_cutoff():
    # A and C: the positive (0.60) sits under a boundary mismatch (0.70, head 0.5): lambda 0.3 lifts it to rank 1.
    # B: the head fires on the positive itself (0.6): lambda 0.1 drops it to rank 2, lambda 0.3 to rank 3.
    a = (np.array([0.60, 0.70]), np.array([0.0, 0.5]), np.array([True, False]))
    b = (np.array([0.80, 0.75, 0.70]), np.array([0.6, 0.0, 0.0]), np.array([True, False, False]))
    cos, bnd, pos = zip(a, b, a)
    grid = [0.0, 0.1, 0.3]
    lam1, t1 = search_lambda(list(cos), list(bnd), list(pos), grid, select="recall@1")
    lam2, t2 = search_lambda(list(cos), list(bnd), list(pos), grid, select="recall@2")
    assert t1["0.0"][0] == pytest.approx(1 / 3) and t1["0.3"][0] == pytest.approx(2 / 3) and lam1 == 0.3
    assert t2["0.0"][0] == 1.0 and t2["0.3"][0] == pytest.approx(2 / 3) and lam2 == 0.0  # 0.1 ties, lower MRR
    assert default_select([10, 20, 30, 40, 50, 60, 70]) == "recall@50" and default_select([1, 5]) == "recall@5"
    assert default_select([100, 200]) == "recall@100"


@pytest.fixture
def sample(store):
    import_samples(store)
    return store


def test_global_recall_equal_for_shallow_and_full_first_stage(sample, tmp_path):
    out = {}
    for k1 in (5, 150):
        f = tmp_path / f"g{k1}.json"
        r = cli.invoke(app, ["eval", "global", "--pool", "sample-rjdb", "--model", "zero-shot", "--k", "1,5",
                             "--k1", str(k1), "--corpus", "sample-cv", "--out", str(f), "--run-file",
                             str(tmp_path / f"g{k1}.trec")])
        assert r.exit_code == 0, r.output
        out[k1] = json.loads(f.read_text())
    assert out[5]["n_queries"] == out[150]["n_queries"] == 50
    assert out[5]["recall@5"] == out[150]["recall@5"] and out[5]["recall@1"] == out[150]["recall@1"]
    lines = (tmp_path / "g5.trec").read_text().splitlines()
    assert len(lines) == 50 * 5 and lines[0].split()[1:4:2] == ["Q0", "1"]


def test_ann_search_matches_exact_search(sample, tmp_path):
    """The usearch path (above --ann-threshold) against exact search on the same corpus and model: the same
    candidates, the same recall, and the same run file when built again (the index is float32 and built on one
    thread, so neither the CPU's bf16 support nor thread scheduling changes the ranking)."""
    out = {}
    for name, threshold in (("exact", 10**9), ("ann", 0), ("ann2", 0)):
        f = tmp_path / f"{name}.json"
        r = cli.invoke(app, ["eval", "global", "--pool", "sample-rjdb", "--model", "zero-shot", "--k", "1,5,10",
                             "--k1", "50", "--corpus", "sample-cv", "--ann-threshold", str(threshold), "--out", str(f),
                             "--run-file", str(tmp_path / f"{name}.trec")])
        assert r.exit_code == 0, r.output
        out[name] = json.loads(f.read_text())
    assert out["ann"]["ann"] is True and out["exact"]["ann"] is False
    assert out["ann"]["ann_params"]["dtype"] == "f32" and out["ann"]["ann_params"]["expansion_search"] >= 100
    runs = {n: (tmp_path / f"{n}.trec").read_text() for n in out}
    assert runs["ann"] == runs["ann2"]
    top = {n: {} for n in out}
    for n in out:
        for line in runs[n].splitlines():
            qid, _, doc, *_ = line.split()
            top[n].setdefault(qid, set()).add(doc)
    assert sum(len(v) for v in top["ann"].values()) == sum(len(v) for v in top["exact"].values()) == 50 * 50
    shared = sum(len(top["ann"][q] & top["exact"][q]) for q in top["exact"])
    assert shared >= 0.99 * 50 * 50, shared
    for k in (1, 5, 10):
        assert abs(out["ann"][f"recall@{k}"] - out["exact"][f"recall@{k}"]) <= 0.005


def _model_copy(tmp_path, name, max_len=None, lineage=None):
    from train.backbones import resolve_base

    src, dst = resolve_base(None), tmp_path / name
    shutil.copytree(src, dst, symlinks=False)
    if max_len:
        cfg = json.loads((dst / "sentence_bert_config.json").read_text())
        cfg["max_seq_length"] = max_len
        (dst / "sentence_bert_config.json").write_text(json.dumps(cfg))
    if lineage is not None:
        (dst / "mira_train.json").write_text(json.dumps({"round": "r2", "lineage": lineage}))
    return dst


def test_compare_encodes_every_model_at_one_length(sample, tmp_path):
    short = _model_copy(tmp_path, "short", max_len=64)
    r = cli.invoke(app, ["eval", "compare", "--pool", "sample-rjdb", "--models", f"zero-shot,{short}", "--k", "1",
                         "--out", str(tmp_path / "cmp")])
    assert r.exit_code == 0, r.output
    rows = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert [x["max_length"] for x in rows] == [64, 64] and "max length 64" in " ".join(r.output.split())
    # same weights at the same length: identical figures (before, zero-shot ran at 256 and the copy at 64)
    assert rows[0]["recall@1"] == rows[1]["recall@1"] and rows[0]["mrr"] == rows[1]["mrr"]
    assert (tmp_path / "cmp" / "runs" / "2.trec").exists()


def test_leakage_guard_warns_and_strict_refuses(sample, tmp_path):
    jds = [e["jd_id"] for e in sample.resolve("sample-rjdb").iter_records()][:7]
    leaky = _model_copy(tmp_path, "leaky", lineage={"jd_ids": jds, "jd_text_hashes": []})
    r = cli.invoke(app, ["eval", "local", "--pool", "sample-rjdb", "--model", str(leaky), "--k", "1"])
    assert r.exit_code == 0 and "7 of the 50 evaluation JDs" in r.output
    r = cli.invoke(app, ["eval", "local", "--pool", "sample-rjdb", "--model", str(leaky), "--k", "1", "--strict"])
    assert r.exit_code == 1 and "7 of the 50 evaluation JDs" in r.output
    clean = cli.invoke(app, ["eval", "local", "--pool", "sample-rjdb", "--model", "zero-shot", "--k", "1", "--strict"])
    assert clean.exit_code == 0 and "evaluation JDs" not in clean.output


def test_train_head_searches_lambda_by_default_with_a_validation_pool(sample, tmp_path):
    r = cli.invoke(app, ["train", "head", "--data", "sample-rjdb", "--encoder", "zero-shot", "--out",
                         str(tmp_path / "h"), "--val-pool", "sample-rjdb", "--k", "1,5"])
    assert r.exit_code == 0, r.output
    info = json.loads((tmp_path / "h" / "head.json").read_text())
    assert info["lambda_search"]["select"] == "recall@5" and "searched on sample-rjdb" in r.output


def test_grouped_loss_constraint_and_distillation_terms_by_hand():
    from train.losses import grouped_ranking_loss

    def unit(*xs):
        t = torch.tensor(xs, dtype=torch.float32)
        return (t / t.norm())[None]

    q, pos = unit(1.0, 0.0), unit(1.0, 1.0)  # cos(q, c+) = 0.7071
    role = unit(0.0, 1.0)  # cos 0: role margin met
    cons = unit(1.0, 0.9)  # cos 0.7433: above the positive, constraint margin violated
    q_t, pos_t = q + torch.tensor([[0.2, 0.0]]), pos - torch.tensor([[0.0, 0.1]])
    out = grouped_ranking_loss(q, pos, role, cons, q_t, pos_t, weights=(1.0, 0.25, 0.10, 0.05), m_r=0.1, m_k=0.05)
    s_pos, s_cons = 1 / math.sqrt(2), 1 / math.sqrt(1 + 0.81)
    l_cons = (0.05 - (s_pos - s_cons)) ** 2
    l_dist = (0.2 ** 2) / 2 + (0.1 ** 2) / 2  # MSE over the 2 dimensions of each
    assert float(out["role"]) == 0.0
    assert float(out["cons"]) == pytest.approx(l_cons, rel=1e-5)
    assert float(out["distill"]) == pytest.approx(l_dist, rel=1e-5)
    assert float(out["loss"]) == pytest.approx((1 - s_pos) ** 2 + 0.10 * l_cons + 0.05 * l_dist, rel=1e-5)
