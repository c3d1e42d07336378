"""Per-group audit statistics over counterfactual scores.

A *unit* is one (JD, CV) pair; every group's names were tried on it, so groups are compared on the same CV.
- group mean on a unit: the mean score of that group's names on it;
- paired difference of group g on unit u: g's mean on u minus the mean of the other groups' means on u;
  `mean_paired_diff` is its mean over units;
- its confidence interval: scipy's BCa bootstrap over CVs (`level` 0.95 by default, seeded): a CV's units (one per
  JD it is a candidate for) are not independent, so each CV's differences are averaged first and the CVs are
  resampled (a cluster bootstrap; `mean_paired_diff` is the mean over CVs); significant when the interval excludes
  0. The names are fixed, not resampled: the interval is about these names;
- positive rate: the share of g's variants that are selected (judge: label 1; model: in the top K);
  impact ratio: g's positive rate over the highest group's (undefined, None, when no group has a positive);
- flagged: impact ratio below 0.8 (the four-fifths rule), or the paired difference significantly below 0 and more
  than `min_diff` below it. Only a disfavoured group is flagged, as in adverse-impact analysis: when one group is
  scored 15 points lower, each of three others sits 5 points above the rest by arithmetic alone. A significant
  positive difference is reported as `direction: favoured` (when one group is favoured, the others show up below).
"""

from __future__ import annotations

import warnings
from collections import defaultdict

import numpy as np

FOUR_FIFTHS = 0.8


def paired_ci(d: np.ndarray, level: float, seed: int, n_resamples: int = 2000) -> tuple[float, float]:
    """BCa bootstrap interval of the mean of `d` (percentile when BCa is undefined); a constant `d` is its own."""
    from scipy.stats import bootstrap

    d = np.asarray(d, dtype=float)
    if len(d) < 2 or np.ptp(d) == 0:
        return float(d.mean()), float(d.mean())
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = bootstrap((d,), np.mean, confidence_level=level, n_resamples=n_resamples, method=method,
                          rng=np.random.default_rng(seed))
        lo, hi = r.confidence_interval
        if np.isfinite(lo) and np.isfinite(hi):
            return float(lo), float(hi)
    return float("nan"), float("nan")


def _cluster(unit):
    """A (jd_id, cv_id) unit's CV; any other unit is its own cluster."""
    return unit[1] if isinstance(unit, tuple) and len(unit) == 2 else unit


def group_stats(rows: list[dict], groups: list[str], min_diff: float, level: float = 0.95, seed: int = 0,
                extra: tuple[str, ...] = ()) -> dict[str, dict]:
    """`rows`: one per variant with `unit`, `group`, `score`, `selected` (0/1) and any `extra` numeric fields
    (averaged per group, e.g. rank). Units missing a group are left out of the paired differences."""
    by_unit: dict = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_unit[r["unit"]][r["group"]].append(r["score"])
    units = [u for u, g in by_unit.items() if all(x in g for x in groups)]
    means = {g: np.array([np.mean(by_unit[u][g]) for u in units]) for g in groups}
    rate = {}
    out: dict[str, dict] = {}
    for i, g in enumerate(groups):
        mine = [r for r in rows if r["group"] == g]
        rate[g] = float(np.mean([r["selected"] for r in mine])) if mine else 0.0
        if units and len(groups) > 1:
            d = means[g] - np.mean([means[h] for h in groups if h != g], axis=0)
            per_cluster: dict = defaultdict(list)
            for u, x in zip(units, d):
                per_cluster[_cluster(u)].append(x)
            d = np.array([np.mean(v) for v in per_cluster.values()])
            lo, hi = paired_ci(d, level, seed + i)
            diff = float(d.mean())
        else:
            diff = lo = hi = float("nan")
        out[g] = {"n": len(mine), "units": len(units), "cvs": len({_cluster(u) for u in units}),
                  "mean_score": float(np.mean([r["score"] for r in mine])) if mine else float("nan"),
                  "positive_rate": rate[g], "mean_paired_diff": diff, "ci_low": lo, "ci_high": hi,
                  "significant": bool(lo > 0 or hi < 0), **{k: float(np.mean([r[k] for r in mine])) if mine else
                                                            float("nan") for k in extra}}
    top = max(rate.values()) if rate else 0.0
    for g, s in out.items():
        s["impact_ratio"] = rate[g] / top if top > 0 else None
        low_ir = s["impact_ratio"] is not None and s["impact_ratio"] < FOUR_FIFTHS
        big = s["ci_high"] < 0 and s["mean_paired_diff"] < -min_diff
        s["flagged"] = bool(low_ir or big)
        s["why"] = "; ".join(x for x in (f"impact ratio {s['impact_ratio']:.2f} < {FOUR_FIFTHS}" if low_ir else "",
                                         f"paired difference {s['mean_paired_diff']:+.3g} below -{min_diff:g} "
                                         f"({level:.0%} CI excludes 0)" if big else "") if x)
        s["direction"] = ("disfavoured" if s["mean_paired_diff"] < 0 else "favoured") if s["significant"] else "none"
    return out
