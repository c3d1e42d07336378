"""`mira synth jdcv`: (JD, qualified CV, unqualified CV) triplets from real JDs -> a `jdcv_triplet` version.

Counts add up per generator and per negative type (in = kept + rejected + duplicates); the manifest carries the
balance of negative types and job families.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Callable

from ..dedup import Deduplicator, MinHashParams
from ..errors import InputError
from ..runner import Runner
from ..store import DatasetStore, Version
from . import jdcv
from .estimate import combine
from .pipeline import BudgetStop, StageCounts, dedup_counted

GENERATORS = ("balanced", "hardneg", "both")

Verifier = Callable[[list[dict], list[dict], dict], dict[str, str]]
"""(generated triplets, the JD records, anchors by JD id) -> {triplet id: why it is dropped}; one with an
`estimate(jds, negatives_per_jd, anchors)` method is priced by the dry run too."""


def _run(runner: Runner, module, tasks, check, label):
    res = runner.run(module, tasks, check=check, label=label)
    if not res.complete:
        raise BudgetStop(f"Stopped at the budget during {label} ({len(res.outcomes)} of {res.total}). Re-run the "
                         "same command with a larger --max-cost to continue; nothing is paid twice.")
    return res


def _unrelated(cvs: list[dict], title: str, rng: random.Random) -> dict | None:
    words = set(re.findall(r"[a-z]{4,}", title.lower()))
    pool = [c for c in cvs if not (set(re.findall(r"[a-z]{4,}", f"{c.get('category')} {c.get('title')}".lower()))
                                   & words)]
    return rng.choice(pool) if pool else None


def _examples(cvs: list[dict], n: int, rng: random.Random) -> list[str]:
    """Distinct example CVs for the n variants of one JD (as many as there are)."""
    return [c["text"] for c in rng.sample(cvs, min(n, len(cvs)))] if cvs else [""]


def estimate_jdcv(store: DatasetStore, runner: Runner, jds_ref: str, generator: str = "both", per_jd: int = 1,
                  cvs_ref: str | None = None, anchors_ref: str | None = None, limit: int | None = None,
                  seed: int = 0, verify: Verifier | None = None) -> dict:
    """The dry-run estimate of every call `run_jdcv` can send: the balanced generator (always: it writes the
    positive), the hard-negative generator for every JD (at most: a JD whose balanced call fails gets none), and with
    a verifier (--verify-with-judge) its own estimate for every negative, each as long as the generator may write."""
    if generator not in GENERATORS:
        raise InputError(f"--generator '{generator}': use balanced, hardneg or both.")
    jd_v = store.resolve(jds_ref, "jd")
    jds = jd_v.records()[:limit] if limit else jd_v.records()
    anchors = {a["jd_id"]: a for a in store.resolve(anchors_ref, "jd_anchor").iter_records()} if anchors_ref else {}
    cvs = store.resolve(cvs_ref, "cv").records() if cvs_ref else []
    rng = random.Random(seed)
    n_bal = per_jd if generator in ("balanced", "both") else 1
    tasks = [t for jd in jds for t in jdcv.balanced_tasks(jd, anchors.get(jd["id"]), n_bal, _examples(cvs, n_bal, rng))]
    parts = {"balanced": runner.estimate(jdcv.Balanced(), tasks)}
    if generator in ("hardneg", "both"):
        parts["hardneg"] = runner.estimate(jdcv.HardNegative(), [
            t for i, jd in enumerate(jds) for t in jdcv.hardneg_tasks(jd, anchors.get(jd["id"]), per_jd, offset=i)])
    if verify is not None and hasattr(verify, "estimate"):
        n_neg = (n_bal if generator in ("balanced", "both") else 0) + \
            (per_jd if generator in ("hardneg", "both") else 0) + (1 if cvs else 0)
        parts.update(verify.estimate(jds, n_neg, anchors))
    return combine(parts)


def run_jdcv(store: DatasetStore, runner: Runner, jds_ref: str, name: str, generator: str = "both",
             per_jd: int = 1, cvs_ref: str | None = None, anchors_ref: str | None = None,
             verify: Verifier | None = None, limit: int | None = None, seed: int = 0) -> Version:
    """Generate, check, optionally verify (`verify`: e.g. the judge, from `mira.jdcv_verify`) and deduplicate the
    triplets of the JDs in `jds_ref`; every reject is kept with its reason."""
    if generator not in GENERATORS:
        raise InputError(f"--generator '{generator}': use balanced, hardneg or both.")
    jd_v = store.resolve(jds_ref, "jd")
    jds = jd_v.records()[:limit] if limit else jd_v.records()
    anchors = {a["jd_id"]: a for a in store.resolve(anchors_ref, "jd_anchor").iter_records()} if anchors_ref else {}
    cvs = store.resolve(cvs_ref, "cv").records() if cvs_ref else []
    rng = random.Random(seed)
    model = runner.lm_config.model
    counts, rejects, triplets = StageCounts(), [], []
    bal, hard = jdcv.Balanced(), jdcv.HardNegative()
    prompts = {"balanced": bal.prompt_hash}
    n_bal = per_jd if generator in ("balanced", "both") else 1
    tasks = [t for jd in jds for t in jdcv.balanced_tasks(jd, anchors.get(jd["id"]), n_bal, _examples(cvs, n_bal, rng))]
    res = _run(runner, bal, tasks, jdcv.check_balanced(), "jdcv-balanced")
    positives: dict[str, tuple[str, str | None]] = {}
    for o in res.outcomes:
        jd = o.meta["jd"]
        if not o.ok:
            counts.reject("balanced", o.reason)
            rejects.append({"reason": o.reason, "stage": "balanced", "where": o.key, "raw": o.raw,
                            "source_id": jd["id"]})
            continue
        fam = (o.output.get("job_family") or "").strip().lower() or None
        positives.setdefault(jd["id"], (o.output["qualified_cv"], fam))
        if generator in ("balanced", "both"):
            triplets.append(("balanced", jdcv.triplet(jd, o.output["qualified_cv"], o.output["unqualified_cv"],
                                                      "balanced", "screening", fam, bal.prompt_hash, model,
                                                      [jd["id"]])))
    if generator in ("hardneg", "both"):
        prompts["hardneg"] = hard.prompt_hash
        tasks = [t for i, jd in enumerate(jds) if jd["id"] in positives
                 for t in jdcv.hardneg_tasks(jd, anchors.get(jd["id"]), per_jd, offset=i)]
        for jd in jds:
            if jd["id"] not in positives:
                for _ in range(per_jd):
                    counts.reject("hardneg", "no qualified CV for this JD (balanced generation failed)")
        res = _run(runner, hard, tasks, jdcv.check_hardneg, "jdcv-hardneg")
        for o in res.outcomes:
            jd, tag = o.meta["jd"], o.meta["tag"]
            if not o.ok:
                counts.reject(f"hardneg:{tag}", o.reason)
                rejects.append({"reason": o.reason, "stage": f"hardneg:{tag}", "where": o.key, "raw": o.raw,
                                "source_id": jd["id"]})
                continue
            pos, fam = positives[jd["id"]]
            triplets.append((f"hardneg:{tag}", jdcv.triplet(jd, pos, o.output["cv"], "hardneg", tag, fam,
                                                            hard.prompt_hash, model, [jd["id"]])))
    if cvs:
        for jd in jds:
            if jd["id"] in positives:
                cv = _unrelated(cvs, jdcv.jd_view(jd, anchors.get(jd["id"]))[1], rng)
                if cv is None:
                    counts.reject("real", "no real CV of an unrelated category")
                    continue
                pos, fam = positives[jd["id"]]
                triplets.append(("real", jdcv.triplet(jd, pos, cv["text"], "real", "real_unrelated", fam, None, None,
                                                      [jd["id"], cv["id"]])))
    if verify is not None:
        triplets = _apply_verifier(verify, triplets, counts, rejects, jds, anchors)
    dedup = Deduplicator(MinHashParams())
    kept = dedup_counted([s for s, _ in triplets], [t for _, t in triplets], [t["negative"] for _, t in triplets],
                         dedup, counts, rejects)
    balance = {"negative_type": dict(Counter(t["negative_type"] for t in kept)),
               "job_family": dict(Counter(t["job_family"] or "unknown" for t in kept))}
    parents = [jd_v.ref] + [r for r in (cvs_ref and store.resolve(cvs_ref).ref, anchors_ref and
                                        store.resolve(anchors_ref).ref) if r]
    return store.write(name, "jdcv_triplet", kept, rejects, manifest={
        "parents": parents, "prompts": prompts, "lm": runner.lm_public, "seed": seed, "stages": counts.manifest(),
        "balance": balance, "params": {"generator": generator, "per_jd": per_jd, "verify": getattr(verify, "name", None) if verify else None,
                                       "limit": limit}, "dedup": dedup.params.manifest()})


def _apply_verifier(verify: Verifier, triplets, counts: StageCounts, rejects: list, jd_records: list[dict],
                    anchors: dict) -> list:
    """Drop the generated triplets the verifier names (real negatives are not generated: never sent), each counted
    as a reject of its own stage with the verifier's reason."""
    generated = [t for s, t in triplets if t["generator"] != "real"]
    drop = verify(generated, jd_records, anchors) if generated else {}
    kept = []
    for stage, t in triplets:
        if t["id"] in drop:
            counts.reject(stage, drop[t["id"]])
            rejects.append({"reason": drop[t["id"]], "stage": "judge-verify", "where": t["id"]})
        else:
            kept.append((stage, t))
    return kept
