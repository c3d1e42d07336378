"""Local pools (each JD's shortlist reranked): graded relevance, what was scored (the JD set, JDs excluded for want of
a positive, candidates per JD), and the upstream retriever's own ranking as a model named `upstream`.

The upstream ranking is the pool's candidate order (the order the shortlist came in: file order for long files, the
run file's ranks for TREC sets) or, when the pool carries `upstream_scores` (a TREC run), those scores; ties are
broken by candidate id, as for every model (train/metrics.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synth.errors import InputError
from synth.store import DatasetStore, Version, pool_members

from .metrics import Query, rank_metrics, write_trec_run

UPSTREAM = "upstream"


def load_pool(store: DatasetStore, pool_ref: str):
    """A pool version with its JD and CV records by id."""
    pool = store.resolve(pool_ref, "pool")
    jd_v, cv_v = pool_members(store, pool)
    return pool, jd_v.by_id(), cv_v.by_id()


def is_upstream(spec: str) -> bool:
    return spec.strip().lower() == UPSTREAM


def relevant(entry: dict, min_grade: int = 1) -> set[str]:
    """The JD's positives: candidates graded >= min_grade in a graded pool, else its positive_ids."""
    grades = entry.get("relevance")
    if grades is None:
        return set(entry["positive_ids"])
    return {c for c, g in grades.items() if g >= min_grade}


def entry_query(entry: dict, scores: np.ndarray, min_grade: int = 1) -> Query:
    """One pool entry scored by a model, as train/metrics.py's Query (grades as nDCG gains when the pool has them)."""
    return Query(entry["jd_id"], entry["candidate_ids"], scores, relevant(entry, min_grade),
                 set(entry.get("hard_negative_ids", [])), entry.get("hard_negative_lost") or {},
                 entry.get("relevance"))


def upstream_scores(entry: dict) -> np.ndarray:
    """The retriever's scores (a run file's) or, without them, the shortlist order: first = best."""
    if entry.get("upstream_scores") is not None:
        return np.asarray(entry["upstream_scores"], dtype=float)
    return np.arange(len(entry["candidate_ids"]), 0, -1, dtype=float)


def scored_summary(pool: Version, queries: list[Query], min_grade: int) -> dict:
    """What a local evaluation scored: the JD set, JDs left out for want of a positive, candidates per JD."""
    used = [len(q.candidate_ids) for q in queries if q.positives]
    refs = pool.manifest.get("refs") or {}
    return {"jd_set": refs.get("jd"), "jds_in_pool": len(queries), "candidates_scored": int(sum(used)),
            "candidates_per_jd": [int(min(used)), float(np.median(used)), int(max(used))] if used else [],
            "min_grade": min_grade, "graded": any(q.grades is not None for q in queries)}


def upstream_eval(store: DatasetStore, pool_ref: str, ks: list[int], run_file: Path | None = None,
                  min_grade: int = 1) -> dict:
    """The upstream retriever as a row of `mira eval local` / `compare`: its own ranking of each shortlist."""
    pool = store.resolve(pool_ref, "pool")
    pool_members(store, pool)  # the same pool contract as every model's evaluation
    entries = pool.records()
    if pool.manifest.get("format") not in ("long", "trec") and not all("upstream_scores" in e for e in entries):
        raise InputError(f"{pool.ref} does not carry a retriever's ranking (a one-row-per-JD import lists positives "
                         f"first): 'upstream' needs a long file in shortlist order, a TREC set, or upstream_scores.")
    queries = [entry_query(e, upstream_scores(e), min_grade) for e in entries]
    if run_file:
        write_trec_run(queries, run_file, UPSTREAM)
    return {**rank_metrics(queries, ks), **scored_summary(pool, queries, min_grade), "model": UPSTREAM,
            "pool": pool.ref, "mode": "local", "lambda": None, "max_length": None, "head_abstained": 0}
