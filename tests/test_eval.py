import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mira.cli import app
from mira.cli.demo import import_samples
from train.diagnose import auc, cohens_d
from train.head import search_lambda, train_head
from train.metrics import Query, rank_metrics, ranking

cli = CliRunner()


def q(scores, ids, pos, hn=()):
    return Query("q", list(ids), np.array(scores, dtype=float), set(pos), set(hn))


def test_metrics_hand_computed():
    # ranking: c (0.9), a (0.5), b (0.5, tie broken by id after a), d (0.1)
    x = q([0.5, 0.5, 0.9, 0.1], "abcd", pos={"b", "d"}, hn={"c"})
    assert ranking(x) == ["c", "a", "b", "d"]
    m = rank_metrics([x], [1, 2, 3, 10])
    assert m["recall@1"] == 0 and m["recall@3"] == 0.5 and m["recall@10"] == 1.0
    assert m["precision@3"] == pytest.approx(1 / 3) and m["precision@10"] == pytest.approx(2 / 10)  # K > pool
    assert m["mrr"] == pytest.approx(1 / 3)
    idcg = 1 + 1 / np.log2(3)
    assert m["ndcg@10"] == pytest.approx((1 / np.log2(4) + 1 / np.log2(5)) / idcg)
    assert m["pos_above_hardneg"] == 0.0


def test_ties_do_not_depend_on_input_order_and_no_positive_queries_are_excluded():
    a = q([0.5, 0.5], "xy", pos={"y"})
    b = q([0.5, 0.5], "yx", pos={"y"})
    assert ranking(a) == ranking(b) == ["x", "y"]
    m = rank_metrics([a, q([0.3, 0.2], "uv", pos=set())], [1])
    assert m["n_queries"] == 1 and m["excluded_no_positive"] == 1 and m["recall@1"] == 0.0


def test_macro_average():
    m = rank_metrics([Query("q1", list("ab"), np.array([0.9, 0.1]), {"a"}),
                      Query("q2", list("ab"), np.array([0.9, 0.1]), {"b"})], [1])
    assert m["recall@1"] == 0.5 and m["mrr"] == 0.75


def test_head_separable_toy_reaches_high_auc_and_early_stops():
    rng = np.random.default_rng(0)
    n, d = 400, 16
    qv = rng.normal(size=(n, d)).astype(np.float32)
    y = (rng.random(n) < 0.5).astype(np.float32)
    cv = qv + rng.normal(scale=0.1, size=(n, d)).astype(np.float32)
    cv[:, 0] = np.where(y == 1, 2.0, -2.0)  # linearly separable along one feature
    res = train_head(qv, cv, y)
    s = res.head.boundary(qv, cv)
    assert auc(s, y) > 0.95
    # with labels that carry no signal, validation loss rises as the head memorises: early stopping ends it
    noise = train_head(qv, cv, (rng.random(n) < 0.5).astype(np.float32))
    assert noise.stopped_epoch < 40
    assert min(x["val_loss"] for x in noise.log[-5:]) > noise.best_val_loss


def test_lambda_search_picks_known_best():
    # the positive (index 0) has a slightly lower cosine than a boundary mismatch (index 1) with high head score:
    # any lambda above 0.05 / 0.9 fixes it; the smallest such grid value wins ties on Recall@1 and MRR
    cos = [np.array([0.80, 0.85, 0.10])] * 3
    bnd = [np.array([0.0, 0.9, 0.0])] * 3
    pos = [np.array([True, False, False])] * 3
    lam, table = search_lambda(cos, bnd, pos, grid=[0.0, 0.025, 0.05, 0.075, 0.1, 0.2])
    assert lam == 0.075 and table["0.0"][0] == 0.0 and table["0.075"][0] == 1.0


def test_cohens_d_and_auc_hand_values():
    a, b = np.array([2.0, 4.0]), np.array([0.0, 2.0])
    assert cohens_d(a, b) == pytest.approx(2 / np.sqrt(2))
    assert auc(np.array([0.9, 0.8, 0.1, 0.85]), np.array([1, 0, 0, 1])) == 1.0


@pytest.fixture
def sample(store):
    import_samples(store)
    return store


ROLES = ["Registered nurse for night shifts in a cardiac ward, ACLS certified, patient charting in Epic.",
         "Senior Java backend engineer: Spring Boot microservices, Kafka, PostgreSQL, AWS deployment.",
         "Payroll specialist: ADP, multi-state tax filings, reconciliation of benefits deductions.",
         "Warehouse forklift operator, night shift, inventory scanning and loading trucks safely."]
OTHER = ["Pastry chef: laminated doughs, wedding cakes, running a bakery's morning production.",
         "Commercial airline pilot, Boeing 737 type rating, 5000 flight hours.",
         "Kindergarten teacher planning play-based lessons and parent meetings.",
         "Marine biologist surveying coral reefs, scuba certified, grant writing."]


def _pool_with_known_ranks(store):
    """4 JDs, 2 candidates each: the JD's own text (cosine 1) and an unrelated one. JDs 0-2 label their copy as the
    positive, JD 3 labels the unrelated CV positive and its copy the hard negative: a correct ranker gives recall@1
    3/4, MRR (3 + 1/2) / 4, and the copy above the hard negative 3 times of 4."""
    from synth.records import stable_id

    src = {"file": "t", "line": 1}
    jds = [{"id": stable_id("jd", t), "kind": "jd", "text": t, "source": src} for t in ROLES]
    same = [{"id": stable_id("cv", "CV: " + t), "kind": "cv", "text": t + " ", "source": src} for t in ROLES]
    other = [{"id": stable_id("cv", t), "kind": "cv", "text": t, "source": src} for t in OTHER]
    jv, cv = store.write("k-jd", "jd", jds), store.write("k-cv", "cv", same + other)
    pool = []
    for i, jd in enumerate(jds):
        pos, neg = (same[i], other[i]) if i < 3 else (other[i], same[i])
        pool.append({"id": stable_id("pool", jd["text"]), "kind": "pool", "jd_id": jd["id"], "scope": "local",
                     "candidate_ids": [neg["id"], pos["id"]], "positive_ids": [pos["id"]],
                     "hard_negative_ids": [neg["id"]], "source": src})
    return store.write("k-pool", "pool", pool, manifest={"refs": {"jd": jv.ref, "cv": cv.ref}})


def test_eval_cli_ranks_a_pool_with_known_answers(store, tmp_path):
    _pool_with_known_ranks(store)
    out = tmp_path / "local.json"
    r = cli.invoke(app, ["eval", "local", "--pool", "k-pool", "--model", "zero-shot", "--k", "1,2",
                         "--out", str(out)])
    assert r.exit_code == 0, r.output
    m = json.loads(out.read_text())
    assert m["n_queries"] == 4 and m["pool"].startswith("k-pool@")
    assert m["recall@1"] == 0.75 and m["recall@2"] == 1.0 and m["mrr"] == pytest.approx(0.875)
    assert m["pos_above_hardneg"] == 0.75
    out = tmp_path / "global.json"
    r = cli.invoke(app, ["eval", "global", "--pool", "k-pool", "--model", "zero-shot", "--k", "1",
                         "--k1", "8", "--corpus", "k-cv", "--out", str(out)])
    assert r.exit_code == 0, r.output
    g = json.loads(out.read_text())
    # from the whole corpus of 8: each JD's own text comes first, which is the positive for JDs 0-2 only
    assert g["corpus_size"] == 8 and g["n_queries"] == 4 and g["recall@1"] == 0.75


def test_head_compare_and_diagnose_cli(sample, tmp_path):
    head = tmp_path / "head"
    r = cli.invoke(app, ["train", "head", "--data", "sample-rjdb", "--encoder", "zero-shot", "--out", str(head),
                         "--lambda", "auto", "--val-pool", "sample-rjdb"])
    assert r.exit_code == 0, r.output
    info = json.loads((head / "head.json").read_text())
    table = {k: v for k, v in info["lambda_search"].items() if k not in ("select", "ties")}
    assert info["pairs"] == 100 and table[str(info["lambda"])] == max(table.values())  # the best lambda searched
    cmp_dir = tmp_path / "cmp"
    r = cli.invoke(app, ["eval", "compare", "--pool", "sample-rjdb", "--models", f"zero-shot,zero-shot+{head}",
                         "--k", "1,2", "--out", str(cmp_dir)])
    assert r.exit_code == 0, r.output
    assert (cmp_dir / "comparison.png").stat().st_size > 1000 and "zero-shot+" in (cmp_dir / "comparison.md").read_text()
    rows = json.loads((cmp_dir / "comparison.json").read_text())
    assert len(rows) == 2 and rows[1]["lambda"] == info["lambda"]
    r = cli.invoke(app, ["eval", "diagnose", "--pairs", "sample-rjdb", "--model", "zero-shot", "--head", str(head),
                         "--out", str(tmp_path / "diag.json")])
    assert r.exit_code == 0, r.output
    d = json.loads((tmp_path / "diag.json").read_text())
    assert d["n_mismatch"] == 50 and d["n_match"] == 50 and 0 <= d["auc"] <= 1


def test_embeddings_are_cached(sample, tmp_path):
    from train.embed_cache import EmbeddingCache
    from train.scorer import make_scorer

    cache = EmbeddingCache(tmp_path / "e.sqlite")
    s = make_scorer("zero-shot")
    a = s.embed(["one text", "two text", "one text"], cache)
    assert cache.misses == 2 and np.allclose(a[0], a[2])
    b = s.embed(["two text", "one text"], cache)
    assert cache.misses == 2 and cache.hits == 2 and np.allclose(b[1], a[0])


def test_parquet_shards_cache_keep_finished_chunks_and_reopen(tmp_path):
    """The sharded cache (`--ray`): stored vectors come back exactly, from a new instance too; an encoding that
    fails midway keeps the chunks it finished (and no half-written file); each model key has its own folder."""
    pq = pytest.importorskip("pyarrow.parquet")
    from train.embed_cache import ShardedEmbeddingCache

    calls = []

    def enc(texts):
        calls.append(list(texts))
        if len(calls) == 3:
            raise RuntimeError("worker lost")
        return np.array([[len(t), hash(t) % 97, 1.5] for t in texts], dtype=np.float32)

    cache = ShardedEmbeddingCache(tmp_path / "emb")
    cache.chunk = 2
    texts = ["a", "bb", "ccc", "dddd", "eeeee", "a"]
    with pytest.raises(RuntimeError):
        cache.encode("model:len128", texts, enc)
    shards = sorted((tmp_path / "emb").rglob("*.parquet"))
    assert len(shards) == 2 and not list((tmp_path / "emb").rglob("*.tmp"))  # chunks 1 and 2 kept
    assert sum(pq.read_table(s).num_rows for s in shards) == 4
    again = ShardedEmbeddingCache(tmp_path / "emb")
    out = again.encode("model:len128", texts, enc)
    assert calls[-1] == ["eeeee"] and again.hits == 4 and again.misses == 1  # only the unfinished text
    assert np.array_equal(out, np.array([[len(t), hash(t) % 97, 1.5] for t in texts], dtype=np.float32))
    other = ShardedEmbeddingCache(tmp_path / "emb").encode("other-model", ["a"], enc)
    assert other.shape == (1, 3) and len({s.parent for s in (tmp_path / "emb").rglob("*.parquet")}) == 2


def test_metrics_agree_with_ranx_on_random_pools():
    """Mira computes the per-JD formulas itself (ranx's numba kernels compile for ~10 s per process); they must
    equal ranx's on the same rankings, unretrieved positives and K beyond the list included."""
    ranx = pytest.importorskip("ranx")
    rng = np.random.default_rng(3)
    queries = []
    for i in range(40):
        n = int(rng.integers(1, 12))
        ids = [f"c{j}" for j in range(n)]
        pos = {c for c in ids if rng.random() < 0.3} | ({f"missed{i}"} if rng.random() < 0.3 else set())
        queries.append(Query(f"q{i}", ids, np.round(rng.random(n), 1), pos))
    ks = [1, 3, 5, 20]
    mine = rank_metrics(queries, ks)
    used = [q for q in queries if q.positives]
    qrels = ranx.Qrels({q.qid: {c: 1 for c in q.positives} for q in used})
    run = ranx.Run({q.qid: {c: float(len(ranking(q)) - r) for r, c in enumerate(ranking(q))} for q in used})
    names = [f"{m}@{k}" for k in ks for m in ("recall", "precision", "ndcg")] + ["mrr"]
    ref = ranx.evaluate(qrels, run, names, make_comparable=True)
    assert mine["n_queries"] == len(used) < len(queries)
    for name in names:
        assert mine[name] == pytest.approx(ref[name], abs=1e-12), name
