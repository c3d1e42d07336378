"""Pool judging: every (JD, candidate) pair of a pool through the runner into `judgment` records; optionally a
`pool` version whose positives are the judge-positive candidates (the paper's global-pool protocol)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from synth.errors import InputError
from synth.store import pool_members
from synth.runner import Runner, Task
from synth.stages.pipeline import BudgetStop, reason_key
from synth.store import DatasetStore, Version

from .module import Judge, check, judgment_record, make_task, requirements_of
from .rubric import Rubric, load_rubric


@dataclass
class PoolJudgeResult:
    judgments: Version
    labels: Version | None
    stats: Counter


def pool_tasks(store: DatasetStore, pool: Version, redact_pii: bool, anchors_ref: str | None = None,
               pairs: list[tuple[str, str]] | None = None) -> tuple[list[Task], dict, dict]:
    """Tasks for every (jd, candidate) of the pool (or the given pairs); unknown ids fail before any call."""
    jd_v, cv_v = pool_members(store, pool)
    jds, cvs = jd_v.by_id(), cv_v.by_id()
    anchors = {}
    if anchors_ref:
        anchors = {a["jd_id"]: a for a in store.resolve(anchors_ref, "jd_anchor").iter_records()}
    entries = pool.records()
    if pairs is None:
        pairs = [(e["jd_id"], c) for e in entries for c in e["candidate_ids"]]
    unknown_cv = sorted({c for _, c in pairs if c not in cvs})
    unknown_jd = sorted({j for j, _ in pairs if j not in jds})
    if unknown_cv or unknown_jd:
        parts = []
        if unknown_jd:
            parts.append(f"unknown JD ids {', '.join(unknown_jd[:5])}" + (" ..." if len(unknown_jd) > 5 else ""))
        if unknown_cv:
            parts.append(f"unknown CV ids {', '.join(unknown_cv[:5])}" + (" ..." if len(unknown_cv) > 5 else ""))
        raise InputError(f"{pool.ref} references {'; '.join(parts)} (not in {jd_v.ref} / {cv_v.ref}).")
    tasks = [make_task(jds[j], cvs[c], requirements_of(jds[j], anchors.get(j)), redact_pii) for j, c in pairs]
    return tasks, jds, cvs


def estimate_pool(store: DatasetStore, runner: Runner, pool_ref: str, rubric: Rubric | None = None,
                  redact_pii: bool | None = None, anchors_ref: str | None = None) -> dict:
    """The dry-run estimate: the same tasks `judge_pool` would send, priced with every re-ask."""
    rubric = rubric or load_rubric()
    pool = store.resolve(pool_ref, "pool")
    redact_pii = (not runner.lm_config.is_local) if redact_pii is None else redact_pii
    tasks, _, _ = pool_tasks(store, pool, redact_pii, anchors_ref)
    return runner.estimate(Judge(rubric), tasks)


def judge_pool(store: DatasetStore, runner: Runner, pool_ref: str, name: str, as_labels: bool = False,
               rubric: Rubric | None = None, redact_pii: bool | None = None,
               anchors_ref: str | None = None) -> PoolJudgeResult:
    rubric = rubric or load_rubric()
    pool = store.resolve(pool_ref, "pool")
    redact_pii = (not runner.lm_config.is_local) if redact_pii is None else redact_pii
    tasks, _, _ = pool_tasks(store, pool, redact_pii, anchors_ref)
    res = runner.run(Judge(rubric), tasks, check=check(rubric), label="judge")
    if not res.complete:
        raise BudgetStop(f"Stopped at the budget after {len(res.outcomes)} of {res.total} pairs. Re-run the same "
                         "command with a larger --max-cost to continue; nothing is paid twice.")
    by_key = {t.key: t for t in tasks}
    records, rejects, stats = [], [], Counter()
    for o in res.outcomes:
        if o.ok:
            rec = judgment_record(by_key[o.key], o.output, rubric, runner.lm_config.model)
            records.append(rec)
            stats["positive" if rec["label"] else "negative"] += 1
            stats["downgraded_met"] += rec["downgraded"]
            stats["capped"] += rec["cap"] is not None
        else:
            stats[f"failed: {reason_key(o.reason)}"] += 1
            rejects.append({"reason": o.reason, "stage": "judge", "where": o.key, "raw": o.raw,
                            "jd_id": o.meta["jd_id"], "cv_id": o.meta["cv_id"]})
    counts = {"judge": {"in": len(tasks), "kept": len(records),
                        "rejected": dict(Counter(reason_key(r["reason"]) for r in rejects)), "duplicates": 0}}
    manifest = {"parents": [pool.ref] + ([anchors_ref] if anchors_ref else []), "prompts": {"rubric": rubric.hash},
                "lm": runner.lm_public, "stages": counts, "params": {"redacted": redact_pii,
                                                                     "threshold": rubric.threshold},
                "refs": pool.manifest.get("refs"), "summary": dict(stats)}
    jv = store.write(name, "judgment", records, rejects, manifest=manifest)
    labels = labels_pool(store, pool, jv, f"{name}-labels") if as_labels else None
    return PoolJudgeResult(jv, labels, stats)


def labels_pool(store: DatasetStore, pool: Version, judgments: Version, name: str) -> Version:
    """A pool whose positives are the judge-positive candidates; pairs the judge failed on are left out (never
    counted as negatives)."""
    judged = {(j["jd_id"], j["cv_id"]): j["label"] for j in judgments.iter_records()}
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
