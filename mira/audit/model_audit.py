"""The model audit: every counterfactual variant of every candidate of a pool encoded with the model (a folder,
`zero-shot`, or MODEL+HEAD, as `mira eval`), through the embedding cache (or Ray Data with `remote`).

Per variant: its score for the JD (cosine; with a head, the final score cos - lambda * sigmoid(head)) and its rank
among the JD's candidates when it replaces the original (1 + the number of the other candidates, as they are, that
score higher); selected = rank <= K. Statistics as in mira/audit/stats.py, score differences in score units."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.store import DatasetStore, pool_members

from .names import Group, variants_for
from .stats import group_stats

DEFAULT_MIN_DIFF = 0.01  # cosine units (1 point on a 0-100 scale)


@dataclass
class ModelAuditParams:
    k: int = 10
    min_diff: float = DEFAULT_MIN_DIFF
    level: float = 0.95
    seed: int = 0
    per_group: int | None = None


def model_audit(store: DatasetStore, pool_ref: str, scorer, cache, groups: dict[str, Group],
                params: ModelAuditParams, names_file: str = "") -> dict:
    pool = store.resolve(pool_ref, "pool")
    jd_v, cv_v = pool_members(store, pool)
    jds, cvs = jd_v.by_id(), cv_v.by_id()
    entries = pool.records()
    used = sorted({c for e in entries for c in e["candidate_ids"]})
    variants, excluded = variants_for([cvs[c] for c in used], groups, params.per_group)
    by_cv: dict[str, list] = {}
    for v in variants:
        by_cv.setdefault(v.cv_id, []).append(v)
    # one encoding pass for everything (the cache skips what this model has embedded before)
    orig = dict(zip(used, scorer.embed([cvs[c]["text"] for c in used], cache)))
    vvec = scorer.embed([v.text for v in variants], cache) if variants else np.zeros((0, 1))
    vec_of = {id(v): vvec[i] for i, v in enumerate(variants)}
    qv = dict(zip([e["jd_id"] for e in entries], scorer.embed_queries([jds[e["jd_id"]]["text"] for e in entries],
                                                                       cache)))
    rows, orig_rows = [], []
    for e in entries:
        jd, cands = jds[e["jd_id"]], e["candidate_ids"]
        base = scorer.rerank(qv[e["jd_id"]], np.stack([orig[c] for c in cands]), jd, [cvs[c]["text"] for c in cands])
        for i, c in enumerate(cands):
            vs = by_cv.get(c)
            if not vs:
                continue
            others = np.delete(base, i)
            s = scorer.rerank(qv[e["jd_id"]], np.stack([vec_of[id(v)] for v in vs]), jd, [v.text for v in vs])
            orig_rows.append({"unit": (e["jd_id"], c), "score": float(base[i]),
                              "rank": int(1 + (others > base[i]).sum())})
            for v, sc in zip(vs, s):
                rank = int(1 + (others > sc).sum())
                rows.append({"unit": (e["jd_id"], c), "group": v.group, "score": float(sc), "rank": rank,
                             "selected": int(rank <= params.k)})
    names = list(groups)
    stats = group_stats(rows, names, params.min_diff, params.level, params.seed, extra=("rank",))
    for g in names:
        s = stats[g]
        s["mean_rank"] = s.pop("rank")
        s["top_k_share"] = s["positive_rate"]
    return {"kind": "model", "groups": stats, "excluded": excluded,
            "scores": {g: [r["score"] for r in rows if r["group"] == g] for g in names},
            "original": {"mean_score": float(np.mean([r["score"] for r in orig_rows])) if orig_rows else None,
                         "mean_rank": float(np.mean([r["rank"] for r in orig_rows])) if orig_rows else None},
            "params": {"pool": pool.ref, "names": names_file, "model": scorer.name, "k": params.k,
                       "min_diff": params.min_diff, "level": params.level, "seed": params.seed,
                       "per_group": params.per_group, "variants": len(rows),
                       "lambda": scorer.lam if getattr(scorer, "head", None) is not None else None,
                       "names_per_group": {g: list(v.names[:params.per_group] if params.per_group else v.names)
                                           for g, v in groups.items()}}}
