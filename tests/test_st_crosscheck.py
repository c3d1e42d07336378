"""#28 item 4 (cross-check): plain sentence-transformers' InformationRetrievalEvaluator on a pool gives the Recall@K,
Precision@K, nDCG@K and MRR that `mira eval local` reports on it (same JDs, same candidates), for the zero-shot
MiniLM and for a model folder Mira trained."""

import csv

import pytest
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

from mira.cli.demo import import_samples
from synth.pool_long import import_pool_file
from synth.records import stable_id
from train.backbones import resolve_base
from train.config import R2Config, load_config
from train.embed_cache import EmbeddingCache
from train.evaluate import local_eval
from train.scorer import make_scorer
from train.rounds import train_r2

KS = [1, 3, 5, 10]


@pytest.fixture
def full_pool(store, tmp_path):
    """5 RJDB JDs, each against all 10 of their CVs (so the evaluator's whole-corpus search sees exactly Mira's
    candidates): the matched resume positive, the unmatched one a hard negative, the rest unlabelled; a sixth JD
    with no label at all is excluded on both sides."""
    import_samples(store)
    pool = store.resolve("sample-rjdb")
    refs = pool.manifest["refs"]
    jds, cvs = store.resolve(refs["jd"]).by_id(), store.resolve(refs["cv"]).by_id()
    entries = pool.records()[:6]
    texts = [cvs[c]["text"] for e in entries[:5] for c in e["candidate_ids"]]
    rows = []
    for i, e in enumerate(entries):
        label = {e["positive_ids"][0]: "1", e["hard_negative_ids"][0]: "hard_negative"} if i < 5 else {}
        rows += [{"jd": jds[e["jd_id"]]["text"], "cv": t, "label": label.get(stable_id("cv", t), "")} for t in texts]
    path = tmp_path / "full.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, ["jd", "cv", "label"])
        w.writeheader()
        w.writerows(rows)
    return store, import_pool_file(store, path, "full").versions


def st_metrics(model_path: str, versions) -> tuple[dict, int]:
    jd_v, cv_v, pool = versions
    jds, cvs = jd_v.by_id(), cv_v.by_id()
    entries = pool.records()
    n = len(cvs)
    ev = InformationRetrievalEvaluator(
        queries={e["jd_id"]: jds[e["jd_id"]]["text"] for e in entries}, corpus={c: r["text"] for c, r in cvs.items()},
        relevant_docs={e["jd_id"]: set(e["positive_ids"]) for e in entries}, mrr_at_k=[n], ndcg_at_k=KS,
        accuracy_at_k=[1], precision_recall_at_k=KS, map_at_k=[n], write_csv=False, name="pool")
    model = SentenceTransformer(model_path, device="cpu")
    return ev(model), len(ev.queries_ids)


def check_same(store, versions, model_path, spec, tmp_path):
    st, n_st = st_metrics(model_path, versions)
    m = local_eval(store, versions[2].ref, make_scorer(spec), KS, EmbeddingCache(tmp_path / "emb.sqlite"))
    assert (m["n_queries"], m["excluded_no_positive"]) == (n_st, 1) == (5, 1)
    assert m["candidates_per_jd"] == [10, 10, 10]
    for k in KS:
        for name in ("recall", "precision", "ndcg"):
            assert m[f"{name}@{k}"] == pytest.approx(st[f"pool_cosine_{name}@{k}"], abs=1e-6), (name, k)
    assert m["mrr"] == pytest.approx(st["pool_cosine_mrr@10"], abs=1e-6)
    return m


def test_zero_shot_matches_information_retrieval_evaluator(full_pool, tmp_path):
    store, versions = full_pool
    m = check_same(store, versions, resolve_base(None), "zero-shot", tmp_path)
    assert 0 < m["recall@1"] < 1  # a ranking with errors: the agreement is not between two perfect scores


@pytest.mark.slow
def test_trained_folder_matches_information_retrieval_evaluator(full_pool, tmp_path):
    store, versions = full_pool
    cfg = load_config(R2Config, epochs=1, lr=2e-3, batch_size=4, max_length=64, val_fraction=0.0, precision="fp32")
    train_r2(store, versions[2].ref, None, tmp_path / "r2", cfg)  # a few steps on the pool itself
    zs = local_eval(store, versions[2].ref, make_scorer("zero-shot"), KS, EmbeddingCache(tmp_path / "zs.sqlite"))
    m = check_same(store, versions, str(tmp_path / "r2"), str(tmp_path / "r2"), tmp_path)
    assert m["ndcg@10"] != zs["ndcg@10"]  # the trained folder, not the base model, was scored on both sides
