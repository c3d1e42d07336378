"""#28: labelled shortlists as long files (one row per JD–CV pair) and TREC-style sets; the upstream retriever's own
order as a model; graded relevance in the metrics."""

import csv
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from mira.cli import app
from synth.errors import InputError
from synth.pool_long import import_pool_file
from synth.pool_trec import import_trec
from train.local_eval import upstream_eval
from train.metrics import query_metrics

runner = CliRunner()


def mira(*args):
    return runner.invoke(app, [str(a) for a in args])


def jd(j):
    return f"Job {j}: senior pipe welder, {j + 3} years of TIG welding, AWS certified."


def cv(c):
    return f"CV {c}: welder with {c} years in shipyards, TIG and MIG welding."


def write_csv(path, rows, cols):
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, cols)
        w.writeheader()
        w.writerows(rows)
    return path


def rejects(v):
    return [json.loads(line) for line in (v.path / "rejects.jsonl").read_text().splitlines()]


def test_long_file_grouped_by_jd_text_keeps_every_row_and_the_grades(store, tmp_path):
    """The issue's case: 4 JDs x 8 CVs, one row per pair, imported as 4 pools of 8 (not 4 pools of one CV with 28
    'duplicates'); the last JD's rows are all unlabelled: its pool has no positive."""
    grades = ["2", "1", "hard_negative", "0", "", "negative", "positive", ""]
    rows = [{"jd": jd(j), "cv": cv(c), "label": grades[c] if j < 3 else ""} for j in range(4) for c in range(8)]
    r = import_pool_file(store, write_csv(tmp_path / "long.csv", rows, ["jd", "cv", "label"]), "lp")
    jd_v, cv_v, pool = r.versions
    assert (r.rows, r.imported, r.duplicates, r.rejected_total) == (32, 32, 0, 0)
    assert (jd_v.count, cv_v.count, pool.count) == (4, 8, 4)
    cvs = {c["text"]: c["id"] for c in cv_v.iter_records()}
    ids = [cvs[cv(c)] for c in range(8)]
    entries = {e["jd_id"]: e for e in pool.iter_records()}
    first = entries[next(j["id"] for j in jd_v.iter_records() if j["text"] == jd(0))]
    assert first["candidate_ids"] == ids  # file order: the upstream ranking
    assert first["relevance"] == {ids[0]: 2, ids[1]: 1, ids[2]: 0, ids[3]: 0, ids[5]: 0, ids[6]: 1}
    assert first["positive_ids"] == [ids[0], ids[1], ids[6]] and first["hard_negative_ids"] == [ids[2]]
    last = entries[next(j["id"] for j in jd_v.iter_records() if j["text"] == jd(3))]
    assert last["positive_ids"] == [] and last["relevance"] == {} and len(last["candidate_ids"]) == 8


def test_long_file_grouped_by_id_with_bad_rows_to_rejects(store, tmp_path):
    """JD text on the first row of each id only; a bad grade, a missing CV, a JD text that contradicts its id, a
    repeated pair and a conflicting label each go to rejects with file:line."""
    rows = [{"req": "A", "job": jd(0), "resume": cv(0), "rel": "1"},
            {"req": "A", "job": "", "resume": cv(1), "rel": "0"},
            {"req": "B", "job": jd(1), "resume": cv(1), "rel": "2"},
            {"req": "B", "job": "", "resume": cv(2), "rel": "maybe"},       # line 5: bad grade
            {"req": "B", "job": "", "resume": "", "rel": "1"},              # line 6: missing CV
            {"req": "B", "job": jd(2), "resume": cv(3), "rel": "1"},        # line 7: other text under id B
            {"req": "A", "job": "", "resume": cv(0), "rel": "1"},           # line 8: repeated pair
            {"req": "A", "job": "", "resume": cv(1), "rel": "2"},           # line 9: conflicting label
            {"req": "C", "job": "", "resume": cv(0), "rel": "1"}]           # line 10: id without any JD text
    path = write_csv(tmp_path / "byid.csv", rows, ["req", "job", "resume", "rel"])
    r = import_pool_file(store, path, "lp", mapping={"req": "jd_id", "job": "jd", "resume": "cv", "rel": "label"})
    jd_v, _, pool = r.versions
    assert (r.rows, r.imported, r.duplicates) == (9, 3, 1) and pool.count == 2
    got = {x["where"]: x["reason"] for x in rejects(pool)}
    assert got["byid.csv:5"].startswith("bad label 'maybe'")
    assert got["byid.csv:6"] == "empty CV text"
    assert got["byid.csv:7"] == "JD id 'B' has a different text on line 4"
    assert got["byid.csv:8"] == "duplicate JD–CV pair"
    assert got["byid.csv:9"].startswith("conflicting label")
    assert got["byid.csv:10"] == "empty JD text"
    assert sorted(len(e["candidate_ids"]) for e in pool.iter_records()) == [1, 2]
    assert {j["source"]["source_id"] for j in jd_v.iter_records()} == {"A", "B"}


def test_wide_pool_files_still_import_as_before(store, tmp_path):
    rows = [{"jd": jd(0), "positive": cv(0), "hard_negative": cv(1)}]
    r = import_pool_file(store, write_csv(tmp_path / "wide.csv", rows, ["jd", "positive", "hard_negative"]), "w",
                         mapping={"jd": "jd", "positive": "positive", "hard_negative": "hard_negative"})
    (e,) = r.versions[2].records()
    assert len(e["candidate_ids"]) == 2 and len(e["positive_ids"]) == 1 and "relevance" not in e
    with pytest.raises(InputError, match="does not carry a retriever's ranking"):  # positives-first is no ranking
        upstream_eval(store, r.versions[2].ref, [1])


@pytest.fixture
def trec(tmp_path):
    (tmp_path / "queries.tsv").write_text(f"q1\t{jd(0)}\nq2\t{jd(1)}\nq3\t{jd(2)}\n")
    (tmp_path / "collection.jsonl").write_text("".join(json.dumps({"_id": f"d{c}", "text": cv(c)}) + "\n"
                                                       for c in range(6)))
    (tmp_path / "qrels.txt").write_text("q1 0 d1 2\nq1 0 d3 1\nq1 0 d5 0\nq2 0 d0 1\nq9 0 d1 1\nq2 0 d7 1\n"
                                        "q2 0 d2 x\nq3 0 d4 1\n")
    # q1 retrieved d0..d4 (d1 ranked 2nd); q2 retrieved d2, d0; q3 has no run: its candidates are its judged docs
    (tmp_path / "run.txt").write_text("q1 Q0 d3 1 9.0 bm25\nq1 Q0 d1 2 8.0 bm25\nq1 Q0 d0 3 7.0 bm25\n"
                                      "q1 Q0 d4 4 6.0 bm25\nq1 Q0 d2 5 5.0 bm25\nq2 Q0 d2 1 3.0 bm25\n"
                                      "q2 Q0 d0 2 2.5 bm25\nq2 Q0 d9 3 2.0 bm25\n")
    return tmp_path


def test_trec_set_with_run_and_unknown_ids_to_rejects(store, trec):
    r = import_trec(store, "t", trec / "queries.tsv", trec / "collection.jsonl", trec / "qrels.txt", trec / "run.txt")
    jd_v, cv_v, pool = r.versions
    got = {x["where"]: x["reason"] for x in rejects(pool)}
    assert got["qrels.txt:5"] == "unknown query id 'q9' (not in queries.tsv)"
    assert got["qrels.txt:6"].startswith("unknown document id 'd7'")
    assert got["qrels.txt:7"].startswith("bad grade 'x'")
    assert got["run.txt:8"].startswith("unknown document id 'd9'")
    cid = {c["source"]["source_id"]: c["id"] for c in cv_v.iter_records()}
    assert set(cid) == {"d0", "d1", "d2", "d3", "d4", "d5"}  # only what the qrels and run name
    by_q = {j["source"]["source_id"]: j["id"] for j in jd_v.iter_records()}
    e = {x["jd_id"]: x for x in pool.iter_records()}
    q1, q2, q3 = (e[by_q[q]] for q in ("q1", "q2", "q3"))
    assert q1["candidate_ids"] == [cid[d] for d in ("d3", "d1", "d0", "d4", "d2")]
    assert q1["upstream_scores"] == [9.0, 8.0, 7.0, 6.0, 5.0]
    assert q1["relevance"] == {cid["d1"]: 2, cid["d3"]: 1, cid["d5"]: 0}
    assert q2["candidate_ids"] == [cid["d2"], cid["d0"]] and q2["positive_ids"] == [cid["d0"]]
    assert q3["candidate_ids"] == [cid["d4"]] and "upstream_scores" not in q3


def test_upstream_row_by_hand_on_a_tiny_pool(store, trec):
    """q1: run order d3 (grade 1), d1 (2), d0, d4, d2; d5 judged 0. q2: d2, d0 (1). q3: d4 (1), no run."""
    r = import_trec(store, "t", trec / "queries.tsv", trec / "collection.jsonl", trec / "qrels.txt", trec / "run.txt")
    m = upstream_eval(store, r.versions[2].ref, [1, 2, 3])
    assert m["n_queries"] == 3 and m["excluded_no_positive"] == 0 and m["candidates_scored"] == 5 + 2 + 1
    assert m["recall@1"] == pytest.approx((1 / 2 + 0 + 1) / 3)
    assert m["recall@2"] == pytest.approx((1 + 1 + 1) / 3)
    assert m["precision@2"] == pytest.approx((2 / 2 + 1 / 2 + 1 / 2) / 3)
    assert m["mrr"] == pytest.approx((1 + 1 / 2 + 1) / 3)
    # graded nDCG@2 for q1: gains (1, 2) at ranks 1, 2; ideal (2, 1)
    ndcg_q1 = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    ndcg_q2 = (1 / math.log2(3)) / 1
    assert m["ndcg@2"] == pytest.approx((ndcg_q1 + ndcg_q2 + 1) / 3)
    hi = upstream_eval(store, r.versions[2].ref, [1, 2], min_grade=2)  # only q1's d1 counts: q2, q3 excluded
    assert (hi["n_queries"], hi["excluded_no_positive"]) == (1, 2)
    assert (hi["recall@1"], hi["recall@2"], hi["mrr"]) == (0.0, 1.0, 0.5)


def test_graded_ndcg_differs_from_binary():
    order = ["a", "b", "c"]
    binary = query_metrics(order, {"a", "b"}, [2])
    graded = query_metrics(order, {"a", "b"}, [2], {"a": 1, "b": 2})
    assert binary["ndcg@2"] == 1.0
    assert graded["ndcg@2"] == pytest.approx((1 + 2 / np.log2(3)) / (2 + 1 / np.log2(3)))


def test_cli_long_import_and_eval_names_the_jd_set(home, tmp_path):
    rows = [{"jd": jd(j), "cv": cv(c), "label": ("1" if c == j else "0") if j < 3 else ""}
            for j in range(4) for c in range(8)]
    path = write_csv(tmp_path / "long.csv", rows, ["jd", "cv", "label"])
    r = mira("data", "import", "pool", path, "--name", "lp", "--home", home)
    assert r.exit_code == 0, r.output
    assert "32 candidates, 3 positives (grade >= 1), 1 JDs without a positive" in " ".join(r.output.split())
    r = mira("eval", "local", "--pool", "lp", "--model", "upstream", "--k", "1,5", "--home", home,
             "--out", tmp_path / "m.json")
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "m.json").read_text())
    # JD j's positive is its (j+1)-th row: recall@1 only for JD 0, recall@5 for JDs 0..2; MRR (1 + 1/2 + 1/3) / 3
    assert (m["recall@1"], m["recall@5"]) == (pytest.approx(1 / 3), 1.0)
    assert m["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    out = " ".join(r.output.split())
    assert f"JD set {m['jd_set']}: 4 JDs in the pool, 3 scored, 1 without a positive excluded; 24 candidates" in out
    r = mira("data", "import", "pool", "--queries", path, "--name", "x", "--home", home)
    assert r.exit_code != 0 and "--collection FILE --qrels FILE" in " ".join(r.output.split())
