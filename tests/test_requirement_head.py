"""The requirement-aware head (#15 item 2): requirement features beside the embeddings, a pairwise term, lambda on
validation with ties broken to the middle of the plateau; on by default when the JDs yield requirements."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mira.cli import app
from mira.cli.demo import import_samples
from synth.errors import InputError
from train.head import HeadResult, PairHead, _rank_pairs, load_head, save_head, search_lambda, train_head
from train.requirements import FEATURES

cli = CliRunner()


def test_head_with_features_needs_them_and_round_trips(tmp_path):
    torch.manual_seed(0)
    head = PairHead(4, hidden=8, extra=3)
    q, c, x = np.eye(4)[:2], np.eye(4)[2:], np.array([[1, 0, 0.5], [0, 1, 0.5]])
    with pytest.raises(InputError, match="requirement features"):
        head.boundary(q, c)
    before = head.boundary(q, c, x)
    save_head(HeadResult(head, lam=0.7), tmp_path / "h", {})
    again, info = load_head(tmp_path / "h")
    assert info["extra"] == 3 and again.extra == 3
    assert np.allclose(again.boundary(q, c, x), before)
    assert not np.allclose(again.boundary(q, c, x[::-1].copy()), before)  # the features reach the score


def test_rank_pairs_pair_matches_with_mismatches_of_the_same_query():
    pairs = _rank_pairs(["a", "a", "a", "b", "b", "c"], np.array([0, 1, 1, 0, 1, 0]))
    assert pairs.tolist() == [[0, 1], [0, 2], [3, 4]]  # "c" has no mismatch


def test_lambda_ties_go_to_the_middle_of_the_plateau():
    # the positive (0.80) sits under a mismatch (0.85, head 0.9): any lambda > 0.0556 fixes it, so 0.1 .. 0.5 tie
    cos, bnd, pos = [np.array([0.80, 0.85])], [np.array([0.0, 0.9])], [np.array([True, False])]
    grid = [0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert search_lambda(cos, bnd, pos, grid)[0] == 0.1
    lam, table = search_lambda(cos, bnd, pos, grid, ties="middle")
    assert lam == 0.3 and table["ties"] == "middle" and table["0.05"][0] == 0.0


def test_head_learns_from_the_features_when_embeddings_cannot_tell():
    # identical embeddings for match and mismatch; only the features (skill share) differ: the head must use them
    rng = np.random.default_rng(0)
    n = 60
    q = rng.normal(size=(n, 8)).astype(np.float32)
    c = q.copy()
    y = np.array([0, 1] * (n // 2), dtype=np.float32)
    x = np.zeros((n, len(FEATURES)), dtype=np.float32)
    x[:, 1] = np.where(y == 0, 1.0, 0.6) + rng.normal(0, 0.05, n)  # must_skill_share
    groups = [str(i // 2) for i in range(n)]
    res = train_head(q, c, y, groups, x=x)
    b = res.head.boundary(q, c, x)
    assert (b[1::2] > b[0::2]).mean() > 0.9


@pytest.fixture
def sample(store):
    import_samples(store)
    return store


def test_train_head_reads_requirements_by_default_and_eval_uses_them(sample, tmp_path):
    r = cli.invoke(app, ["train", "head", "--data", "sample-rjdb", "--encoder", "zero-shot", "--out",
                         str(tmp_path / "h"), "--val-pool", "sample-rjdb", "--k", "1"])
    assert r.exit_code == 0, r.output
    info = json.loads((tmp_path / "h" / "head.json").read_text())
    assert info["features"] == list(FEATURES) and info["extra"] == len(FEATURES)
    assert "training JDs yield requirements" in info["features_why"] and info["lambda_search"]["ties"] == "middle"
    r = cli.invoke(app, ["eval", "local", "--pool", "sample-rjdb", "--model", f"zero-shot+{tmp_path / 'h'}",
                         "--k", "1"])
    assert r.exit_code == 0, r.output
    plain = cli.invoke(app, ["train", "head", "--data", "sample-rjdb", "--encoder", "zero-shot", "--out",
                             str(tmp_path / "p"), "--features", "none", "--lambda", "0.1"])
    assert plain.exit_code == 0, plain.output
    info = json.loads((tmp_path / "p" / "head.json").read_text())
    assert info["features"] == [] and info["extra"] == 0


def test_requirement_head_demotes_rjdb_near_misses_on_held_out_jds(store, real_data):
    """Real RJDB: the head learns on 80 JDs, lambda on 40 others, and is measured on 100 more: the matched resume
    must outrank its own near miss (skills removed, experience shortened) far more often than by cosine alone."""
    from synth.importer import import_file
    from synth.split import split_version
    from train.data import head_pairs_with_jds
    from train.embed_cache import EmbeddingCache
    from train.evaluate import local_eval, search_lambda_on_pool
    from train.scorer import make_scorer
    from train.requirements import requirement_features

    import_file(store, "pool", real_data / "pairs/rjdb/rjdb_dev.jsonl", "rjdb", preset="rjdb")
    _, pool = split_version(store, "rjdb", "jd", (0.56, 0.44), seed=13)  # 220 JDs
    hd, va, te = split_version(store, pool.ref, "jd", (0.36, 0.18, 0.46), seed=13, name="h")
    sc = make_scorer("zero-shot", max_length=256)
    cache = EmbeddingCache(store.home / "e.sqlite")
    q, c, y, g, src = head_pairs_with_jds(store, hd.ref)
    res = train_head(sc.embed_queries(q, cache), sc.embed(c, cache), np.array(y, dtype=np.float32), g,
                     x=requirement_features(src, c))
    res.lam, _ = search_lambda_on_pool(store, va.ref, sc, res.head, cache)
    save_head(res, store.home / "head", {})
    cos = local_eval(store, te.ref, sc, [1], cache)["pos_above_hardneg"]
    head = local_eval(store, te.ref, make_scorer(f"zero-shot+{store.home / 'head'}", max_length=256), [1],
                      cache)["pos_above_hardneg"]
    assert te.count >= 90 and res.lam > 0
    assert head >= cos + 0.08, (cos, head)


def test_the_requirement_head_abstains_where_a_jd_has_no_structured_requirements():
    """Free text with a stray 'years' sentence is too thin to rerank by: the cosine alone; a JD with a requirements
    section gets the head."""
    from train.scorer import Scorer

    torch.manual_seed(0)
    sc = Scorer("s", "unused", head=PairHead(4, hidden=8, extra=len(FEATURES)), lam=1.0)
    q, cands = np.eye(4)[0], np.eye(4)[1:3] + 0.1
    texts = ["Python developer 2019 - 2023", "Cook"]
    flat = {"id": "jd-1", "text": "Great team. Five years in business. We like people."}
    assert np.array_equal(sc.rerank(q, cands, flat, texts), cands @ q) and sc.abstained == 1
    sectioned = {"id": "jd-2", "text": "Requirements:\n- Python\n- 3 years as a developer"}
    assert not np.allclose(sc.rerank(q, cands, sectioned, texts), cands @ q) and sc.abstained == 1
