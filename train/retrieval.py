"""Global pools: every JD retrieves from the whole corpus (exact search, or a reproducible usearch ANN index for
large corpora), the top K1 reranked with the head; Recall counts positives the first stage missed as misses."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synth.errors import InputError
from synth.store import DatasetStore

from .embed_cache import EmbeddingCache
from .local_eval import load_pool, scored_summary
from .metrics import Query, rank_metrics, write_trec_run
from .scorer import Scorer


def _ann_index(corpus: np.ndarray, k1: int):
    """A usearch HNSW index that reproduces: vectors stored as float32 (usearch otherwise picks bf16 or f16 where the
    CPU accelerates them, so rankings would differ between machines), built on one thread (a multi-threaded build
    gives a different graph each run) and searched with a beam of at least 2*K1. None without usearch."""
    try:
        from usearch.index import Index
    except ImportError:
        return None  # exact search: slower, never wrong
    index = Index(ndim=corpus.shape[1], metric="cos", dtype="f32", connectivity=16, expansion_add=128,
                  expansion_search=max(128, 2 * k1))
    index.add(np.arange(len(corpus)), np.ascontiguousarray(corpus, dtype=np.float32), threads=1)
    return index


def top_k(corpus: np.ndarray, q: np.ndarray, k: int, index=None) -> np.ndarray:
    """The top k rows of `corpus` by cosine with `q`, best first, ties by row. With an ANN index the candidates come
    from the index and are ordered by their exact float32 score, so both paths rank the same way."""
    if index is not None:
        idx = np.asarray(index.search(q, min(k, len(corpus))).keys, dtype=np.int64)
        scores = corpus[idx] @ q
        return idx[np.lexsort((idx, -scores))]
    scores = corpus @ q
    k = min(k, len(scores))
    idx = np.argpartition(-scores, k - 1)[:k]
    return idx[np.lexsort((idx, -scores[idx]))]


def global_eval(store: DatasetStore, pool_ref: str, scorer: Scorer, ks: list[int], cache: EmbeddingCache,
                k1: int = 1000, corpus_ref: str | None = None, ann_threshold: int = 200_000,
                run_file: Path | None = None) -> dict:
    """Every JD retrieves from the whole corpus (the pool's candidates, plus --corpus CVs as distractors): exact
    search, or a usearch ANN index above `ann_threshold` CVs; the top K1 are reranked with the head. Recall counts
    every positive of the JD, so positives the first stage missed are misses (see train/metrics.py)."""
    pool, jds, cvs = load_pool(store, pool_ref)
    scorer.abstained = 0
    entries = pool.records()
    texts = {c: cvs[c]["text"] for e in entries for c in e["candidate_ids"]}
    if corpus_ref:
        for r in store.resolve(corpus_ref, "cv").iter_records():
            texts.setdefault(r["id"], r["text"])
    ids = sorted(texts)
    if not ids:
        raise InputError(f"{pool.ref} has no candidate texts to search.")
    corpus = scorer.embed([texts[i] for i in ids], cache)
    jv = scorer.embed_queries([jds[e["jd_id"]]["text"] for e in entries], cache)
    index = _ann_index(corpus, k1) if len(ids) > ann_threshold else None
    queries = []
    for e, q in zip(entries, jv):
        top = top_k(corpus, q, k1, index)
        scores = scorer.rerank(q, corpus[top], jds[e["jd_id"]], [texts[ids[i]] for i in top] if scorer.head else None)
        queries.append(Query(e["jd_id"], [ids[i] for i in top], scores, set(e["positive_ids"]),
                             set(e.get("hard_negative_ids", [])), e.get("hard_negative_lost") or {}))
    if run_file:
        write_trec_run(queries, run_file, scorer.name)
    return {**rank_metrics(queries, ks), **scored_summary(pool, queries, 1), "model": scorer.name, "pool": pool.ref,
            "mode": "global", "k1": k1,
            "corpus_size": len(ids), "corpus": corpus_ref, "ann": index is not None,
            "ann_params": ({"dtype": "f32", "connectivity": index.connectivity,
                            "expansion_search": index.expansion_search} if index is not None else None),
            "lambda": scorer.lam if scorer.head else None, "max_length": scorer.max_length,
            "head_abstained": scorer.abstained}
