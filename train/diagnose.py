"""The boundary diagnostic: does the head's s_boundary separate judged boundary mismatches (AUC, Cohen's d)?"""

from __future__ import annotations

import math

import numpy as np

from synth.errors import InputError

from .embed_cache import EmbeddingCache
from .scorer import Scorer


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """P(score of a label-1 item > score of a label-0 item), ties counting half (Mann-Whitney U / n1 n0)."""
    from scipy.stats import rankdata

    r = rankdata(scores)
    n1, n0 = int(labels.sum()), int((1 - labels).sum())
    if not n1 or not n0:
        raise InputError("The diagnostic needs both labels among the pairs.")
    return float((r[labels == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def cohens_d(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = len(a), len(b)
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    return float((a.mean() - b.mean()) / pooled) if pooled else 0.0


def diagnose(scorer: Scorer, queries: list[str], cands: list[str], labels: np.ndarray,
             cache: EmbeddingCache) -> dict:
    """Does s_boundary separate labelled boundary mismatches (1) from matches (0)? AUC, Cohen's d, Welch p-value."""
    from scipy.stats import ttest_ind

    if scorer.head is None:
        raise InputError("diagnose needs a head: --head DIR (or MODEL+HEAD).")
    x = None
    if scorer.head.extra:
        from .requirements import jd_requirements, pair_features

        reqs = {t: jd_requirements(t) for t in set(queries)}
        x = pair_features([reqs[t] for t in queries], cands)
    s = scorer.head.boundary(scorer.embed_queries(queries, cache), scorer.embed(cands, cache), x)
    pos, neg = s[labels == 1], s[labels == 0]
    p = float(ttest_ind(pos, neg, equal_var=False).pvalue) if len(pos) > 1 and len(neg) > 1 else float("nan")
    return {"auc": auc(s, labels), "cohens_d": cohens_d(pos, neg), "p_value": p, "n_mismatch": int(len(pos)),
            "n_match": int(len(neg)), "mean_mismatch": float(pos.mean()), "mean_match": float(neg.mean())}
