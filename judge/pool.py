"""Pool judging: every (JD, candidate) pair of a pool through the runner into `judgment` records; optionally a
`pool` version whose positives are the judge-positive candidates (the paper's global-pool protocol)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from synth.errors import BudgetStop, InputError
from synth.store import pool_members
from synth.runner import Runner
from synth.runner.calls import reason_key
from synth.store import DatasetStore, Version

from .rubric import Rubric, load_rubric
from .run import estimate_judging, judge_pairs


@dataclass
class PoolJudgeResult:
    judgments: Version
    labels: Version | None
    stats: Counter


def pool_pairs(store: DatasetStore, pool: Version, anchors_ref: str | None = None,
               pairs: list[tuple[str, str]] | None = None) -> tuple[list[tuple[dict, dict]], dict]:
    """(jd, cv) records for every (jd, candidate) of the pool (or the given pairs), and the anchors by JD id;
    unknown ids fail before any call."""
    jd_v, cv_v = pool_members(store, pool)
    jds, cvs = jd_v.by_id(), cv_v.by_id()
    anchors = {}
    if anchors_ref:
        anchors = {a["jd_id"]: a for a in store.resolve(anchors_ref, "jd_anchor").iter_records()}
    if pairs is None:
        pairs = [(e["jd_id"], c) for e in pool.iter_records() for c in e["candidate_ids"]]
    unknown_cv = sorted({c for _, c in pairs if c not in cvs})
    unknown_jd = sorted({j for j, _ in pairs if j not in jds})
    if unknown_cv or unknown_jd:
        parts = []
        if unknown_jd:
            parts.append(f"unknown JD ids {', '.join(unknown_jd[:5])}" + (" ..." if len(unknown_jd) > 5 else ""))
        if unknown_cv:
            parts.append(f"unknown CV ids {', '.join(unknown_cv[:5])}" + (" ..." if len(unknown_cv) > 5 else ""))
        raise InputError(f"{pool.ref} references {'; '.join(parts)} (not in {jd_v.ref} / {cv_v.ref}).")
    return [(jds[j], cvs[c]) for j, c in pairs], anchors


def estimate_pool(store: DatasetStore, runner: Runner, pool_ref: str, rubric: Rubric | None = None,
                  redact_pii: bool | None = None, anchors_ref: str | None = None) -> dict:
    """The dry-run estimate: the same judge calls `judge_pool` would send, priced with every re-ask."""
    rubric = rubric or load_rubric()
    pool = store.resolve(pool_ref, "pool")
    redact_pii = (not runner.lm_config.is_local) if redact_pii is None else redact_pii
    pairs, anchors = pool_pairs(store, pool, anchors_ref)
    return estimate_judging(runner, rubric, pairs, redact_pii, anchors)


def judge_pool(store: DatasetStore, runner: Runner, pool_ref: str, name: str, as_labels: bool = False,
               rubric: Rubric | None = None, redact_pii: bool | None = None,
               anchors_ref: str | None = None) -> PoolJudgeResult:
    rubric = rubric or load_rubric()
    pool = store.resolve(pool_ref, "pool")
    redact_pii = (not runner.lm_config.is_local) if redact_pii is None else redact_pii
    pairs, anchors = pool_pairs(store, pool, anchors_ref)
    jr = judge_pairs(runner, rubric, pairs, redact_pii, anchors)
    if not jr.complete:
        raise BudgetStop(f"Stopped at the budget after {len(jr.outcomes)} of {len(jr.tasks)} pairs. Re-run the "
                         "same command with a larger --max-cost to continue; nothing is paid twice.")
    records, rejects, stats = jr.records, jr.rejects, jr.stats
    runner.count_outside([r["reason"] for r in rejects if r["reason"].startswith("unscored")], kept_before=False)
    counts = {"judge": {"in": len(pairs), "kept": len(records),
                        "rejected": dict(Counter(reason_key(r["reason"]) for r in rejects)), "duplicates": 0}}
    manifest = {"parents": [pool.ref] + ([anchors_ref] if anchors_ref else []), "prompts": {"rubric": rubric.hash},
                "lm": runner.lm_public, "stages": counts, "params": {"redacted": redact_pii,
                                                                     "threshold": rubric.threshold},
                "refs": pool.manifest.get("refs"), "summary": dict(stats)}
    jv = store.write(name, "judgment", records, rejects, manifest=manifest)
    labels = labels_pool(store, pool, jv, f"{name}-labels") if as_labels else None
    return PoolJudgeResult(jv, labels, stats)


def labels_pool(store: DatasetStore, pool: Version, judgments: Version, name: str) -> Version:
    """A pool whose positives are the judge-positive candidates; pairs the judge failed on or left unscored are left
    out (never counted as negatives). A pair flagged for text addressed to the screener is never a positive."""
    judged = {(j["jd_id"], j["cv_id"]): int(j["label"] and not j.get("needs_review"))
              for j in judgments.iter_records()}
    out, left_out = [], 0
    for e in pool.iter_records():
        cands = [c for c in e["candidate_ids"] if (e["jd_id"], c) in judged]
        left_out += len(e["candidate_ids"]) - len(cands)
        if not cands:
            continue
        out.append({**e, "candidate_ids": cands, "positive_ids": [c for c in cands if judged[(e["jd_id"], c)]],
                    "hard_negative_ids": [c for c in e.get("hard_negative_ids", []) if c in cands]})
    return store.write(name, "pool", out, manifest={"parents": [pool.ref, judgments.ref], "refs": pool.manifest.get(
        "refs"), "labels": "judge", "params": {"left_out_unjudged": left_out}})
