"""Agreement and calibration: judge vs human / business labels (confusion, Cohen's kappa, precision / recall),
self-consistency over repeated rollouts, order sensitivity, score histograms, and the borderline review queue."""

from __future__ import annotations

import csv
import json
import random
import statistics
from collections import defaultdict
from pathlib import Path

from synth.errors import InputError
from synth.labels import pair_labels
from synth.store import pool_members
from synth.runner import Runner
from synth.stages.estimate import combine
from synth.store import DatasetStore, Version

from .requirements import requirements_for
from .rubric import Rubric
from .run import estimate_judging, judge_pairs


def cohen_kappa(pairs: list[tuple[int, int]]) -> float:
    """Cohen's kappa of two binary raters: (p_o - p_e) / (1 - p_e)."""
    n = len(pairs)
    if n == 0:
        raise InputError("No judged pair has a label: nothing to compare.")
    po = sum(a == b for a, b in pairs) / n
    pa, pb = sum(a for a, _ in pairs) / n, sum(b for _, b in pairs) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def confusion(pairs: list[tuple[int, int]]) -> dict:
    """pairs of (judge, label)."""
    tp = sum(1 for j, y in pairs if j and y)
    fp = sum(1 for j, y in pairs if j and not y)
    fn = sum(1 for j, y in pairs if not j and y)
    tn = sum(1 for j, y in pairs if not j and not y)
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "n": len(pairs),
            "precision": tp / (tp + fp) if tp + fp else None, "recall": tp / (tp + fn) if tp + fn else None,
            "kappa": cohen_kappa(pairs)}


def load_labels(store: DatasetStore, ref_or_file: str) -> dict[tuple[str, str], int]:
    """A pool REF (candidates labelled by membership in positives), a label REF (a reviewer's decisions, `mira
    studio`; 'unsure' left out) or a CSV / JSONL file with jd_id, cv_id, label."""
    p = Path(ref_or_file)
    if p.is_file():
        rows = [json.loads(x) for x in p.read_text().splitlines() if x.strip()] if p.suffix in (".jsonl", ".ndjson") \
            else list(csv.DictReader(p.open(newline="")))
        out = {}
        for i, r in enumerate(rows, 2 if p.suffix == ".csv" else 1):
            try:
                out[(r["jd_id"], r["cv_id"])] = int(str(r["label"]).strip().lower() in ("1", "true", "yes", "1.0"))
            except KeyError as e:
                raise InputError(f"{p}:{i}: missing field {e}.") from None
        return out
    v = store.resolve(ref_or_file, ("pool", "label"))
    if v.kind == "label":
        return pair_labels(v)
    pool = v
    return {(e["jd_id"], c): int(c in e["positive_ids"]) for e in pool.iter_records() for c in e["candidate_ids"]}


def agreement(judgments: Version, labels: dict[tuple[str, str], int]) -> dict:
    """Confusion and kappa of the judge's labels, plus Spearman / Kendall of its totals with the human grades."""
    hits = [(j, labels[(j["jd_id"], j["cv_id"])]) for j in judgments.iter_records()
            if (j["jd_id"], j["cv_id"]) in labels and j.get("rollout") is None]
    return {**confusion([(j["label"], y) for j, y in hits]), **rank_correlation([(j["total"], y) for j, y in hits])}


def rank_correlation(pairs: list[tuple[float, float]]) -> dict:
    """Spearman's rho and Kendall's tau-b (scipy) of judge totals vs human grades; None where either is constant."""
    try:
        from scipy.stats import kendalltau, spearmanr
    except ImportError:
        raise InputError("Rank correlations need scipy: pip install 'mira[studio]' (or mira[train]).") from None

    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    if len(pairs) < 2 or len(set(a)) < 2 or len(set(b)) < 2:
        return {"spearman": None, "kendall": None}
    return {"spearman": float(spearmanr(a, b).statistic), "kendall": float(kendalltau(a, b).statistic)}


def histograms(judgments: Version, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = judgments.records()
    dims = sorted({d for r in recs for d in r["scores"]})
    fig, axes = plt.subplots(1, len(dims) + 1, figsize=(3.2 * (len(dims) + 1), 3), sharey=True)
    for ax, d in zip(axes, dims + ["total"]):
        vals = [r["total"] if d == "total" else r["scores"][d] for r in recs if d == "total" or d in r["scores"]]
        ax.hist(vals, bins=range(0, 105, 5), color="#4878a8" if d != "total" else "#a84848")
        ax.set_title(d)
        ax.set_xlim(0, 100)
    axes[0].set_ylabel("pairs")
    fig.suptitle(f"judge scores: {judgments.ref}")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _sample_tasks(store, judgments: Version, n: int, seed: int, redact_pii: bool):
    parent = next((p for p in judgments.manifest.get("parents", []) if store.resolve(p).kind == "pool"), None)
    if parent is None:
        raise InputError(f"{judgments.ref} does not name the pool it judged.")
    jd_v, cv_v = pool_members(store, store.resolve(parent))
    jds, cvs = jd_v.by_id(), cv_v.by_id()
    base = [j for j in judgments.records() if j.get("rollout") is None]
    rng = random.Random(seed)
    return rng.sample(base, min(n, len(base))), jds, cvs


def _anchors(store, judgments: Version) -> dict:
    """The stage-1 anchors the judgments took their requirements from (a jd_anchor parent), if any."""
    for p in judgments.manifest.get("parents", []):
        v = store.resolve(p)
        if v.kind == "jd_anchor":
            return {a["jd_id"]: a for a in v.iter_records()}
    return {}


REPEAT_TEMPERATURE = 0.7


def self_consistency(store: DatasetStore, runner: Runner, rubric: Rubric, judgments: Version, repeat: int,
                     n: int = 20, seed: int = 0, redact_pii: bool = True) -> dict:
    """Re-judge a sample `repeat` times for real: at temperature 0.7 (the original run's answers were at the
    configured temperature) with a distinct sampling seed per repeat, each a distinct request. Reports the std of
    totals and the label flip rate, and how it was sampled."""
    sample, jds, cvs = _sample_tasks(store, judgments, n, seed, redact_pii)
    temp = max(runner.lm_config.temperature, REPEAT_TEMPERATURE)
    totals, labels = defaultdict(list), defaultdict(set)
    for j in sample:
        totals[(j["jd_id"], j["cv_id"])].append(j["total"])
        labels[(j["jd_id"], j["cv_id"])].add(j["label"])
    failed = 0
    pairs = [(jds[j["jd_id"]], cvs[j["cv_id"]]) for j in sample]
    reqs = requirements_for(runner, [jd for jd, _ in pairs], _anchors(store, judgments))  # as the original run
    for r in range(1, repeat + 1):
        rr = _resampling(runner, temp, seed * 1000 + r)
        jr = judge_pairs(rr, rubric, pairs, redact_pii, label="judge-repeat", rollout=r, requirements=reqs)
        runner.totals.merge(rr.totals)
        failed += len(jr.rejects)
        for rec in jr.records:
            totals[(rec["jd_id"], rec["cv_id"])].append(rec["total"])
            labels[(rec["jd_id"], rec["cv_id"])].add(rec["label"])
    stds = [statistics.pstdev(v) for v in totals.values() if len(v) > 1]
    return {"pairs": len(totals), "repeats": repeat, "temperature": temp, "seeds": "distinct per repeat",
            "mean_std_total": statistics.mean(stds) if stds else None,
            "label_flip_rate": sum(len(v) > 1 for v in labels.values()) / max(1, len(labels)), "failed": failed}


def _resampling(runner: Runner, temperature: float, sample_seed: int) -> Runner:
    """A runner like `runner` that samples: its own temperature and seed (so the request, and its cache key,
    differs per repeat)."""
    cfg = runner.lm_config.with_(temperature=temperature, extra={**runner.lm_config.extra, "seed": sample_seed})
    return Runner(cfg, runner.home, runner.rc, console=runner.console)


def estimate_agree(store: DatasetStore, runner: Runner, rubric: Rubric, judgments: Version, repeat: int,
                   shuffle: bool, n: int = 20, seed: int = 0, redact_pii: bool = True) -> dict:
    """The dry-run estimate of `judge agree`'s LLM calls: each repeat and the shuffled run re-judge the same sample
    (every one a new request: the runner is expected to ignore the cache), with the original run's requirements."""
    sample, jds, cvs = _sample_tasks(store, judgments, n, seed, redact_pii)
    pairs = [(jds[j["jd_id"]], cvs[j["cv_id"]]) for j in sample]
    one = estimate_judging(runner, rubric, pairs, redact_pii, _anchors(store, judgments), split=True)
    parts = {f"repeat {r}: {k}": v for r in range(1, repeat + 1) for k, v in one.items()}
    if shuffle:
        parts.update({f"shuffled order: {k}": v for k, v in one.items()})
    return combine(parts)


def order_sensitivity(store: DatasetStore, runner: Runner, rubric: Rubric, judgments: Version, n: int = 20,
                      seed: int = 0, redact_pii: bool = True) -> dict:
    """Re-judge a sample with each JD's requirements in a shuffled order: how many labels flip."""
    sample, jds, cvs = _sample_tasks(store, judgments, n, seed, redact_pii)
    rng = random.Random(seed)
    orig = {(j["jd_id"], j["cv_id"]): j["label"] for j in sample}

    def shuffle(reqs):
        reqs = list(reqs)
        rng.shuffle(reqs)
        return reqs

    jr = judge_pairs(runner, rubric, [(jds[j["jd_id"]], cvs[j["cv_id"]]) for j in sample], redact_pii,
                     _anchors(store, judgments), label="judge-shuffle", key_of=lambda jd, cv: f"shuffle:{jd['id']}:{cv['id']}", shuffle=shuffle)
    flips = sum(rec["label"] != orig[(rec["jd_id"], rec["cv_id"])] for rec in jr.records)
    return {"pairs": len(jr.records), "label_flips": flips, "flip_rate": flips / max(1, len(jr.records))}


def review_queue(judgments: Version, lo: float, hi: float, out: Path) -> int:
    """Borderline judgments (lo <= total <= hi) and every pair flagged for prompt injection, with their evidence, as
    CSV for a human reviewer."""
    rows = [j for j in judgments.iter_records() if lo <= j["total"] <= hi or j.get("needs_review")]
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["jd_id", "cv_id", "flag", "total", "raw_total", "cap", "label", "scores", "requirements",
                    "risks", "human_label"])
        for j in sorted(rows, key=lambda r: r["total"]):
            reqs = " | ".join(f"[{r['level']}] {r['requirement']}: {r['verdict']}"
                              + (f" ({r['evidence']})" if r.get("evidence") else "") for r in j["requirements"])
            risks = " | ".join(f"{r['category']}: {r.get('evidence', '')}" for r in j["risks"])
            flag = "PROMPT INJECTION: text addressed to the screener" if j.get("needs_review") else ""
            w.writerow([j["jd_id"], j["cv_id"], flag, j["total"], j["raw_total"], j["cap"], j["label"],
                        json.dumps(j["scores"]), reqs, risks, ""])
    return len(rows)
