"""The judge audit: every counterfactual variant of every (JD, CV) pair of a pool judged through the one judging path
(`judge.run.judge_pairs`: requirements from code, the runner's cache, journal, budget and --ray executor), then the
per-group statistics of mira/audit/stats.py on the totals (score) and labels (selected)."""

from __future__ import annotations

from dataclasses import dataclass, field

from judge.pool import pool_pairs
from judge.rubric import Rubric
from judge.run import estimate_judging, judge_pairs
from synth.runner import Runner
from synth.stages.pipeline import BudgetStop
from synth.store import DatasetStore

from .names import Group, variants_for
from .stats import group_stats

DEFAULT_MIN_DIFF = 5.0  # points of the 0-100 judge total


@dataclass
class JudgeAuditParams:
    min_diff: float = DEFAULT_MIN_DIFF
    level: float = 0.95
    seed: int = 0
    per_group: int | None = None  # names per group (the first N); None: all


@dataclass
class Plan:
    pairs: list[tuple[dict, dict]]  # (jd, variant cv record)
    meta: dict[str, dict] = field(default_factory=dict)  # variant id -> cv_id, group, name
    excluded: list[dict] = field(default_factory=list)
    anchors: dict = field(default_factory=dict)


def plan(store: DatasetStore, pool_ref: str, groups: dict[str, Group], params: JudgeAuditParams,
         anchors_ref: str | None = None) -> Plan:
    pool = store.resolve(pool_ref, "pool")
    pairs, anchors = pool_pairs(store, pool, anchors_ref)
    cvs = list({cv["id"]: cv for _, cv in pairs}.values())
    variants, excluded = variants_for(cvs, groups, params.per_group)
    by_cv: dict[str, list[dict]] = {}
    meta = {}
    for i, v in enumerate(variants):
        vid = f"{v.cv_id}~{v.group}~{i}"
        meta[vid] = {"cv_id": v.cv_id, "group": v.group, "name": v.name}
        by_cv.setdefault(v.cv_id, []).append({"id": vid, "kind": "cv", "text": v.text})
    return Plan([(jd, vcv) for jd, cv in pairs for vcv in by_cv.get(cv["id"], [])], meta, excluded, anchors)


def estimate(runner: Runner, rubric: Rubric, p: Plan, redact: bool) -> dict:
    """The dry run: every judge call the audit would send (and with `redact`, those of the redacted audit)."""
    est = estimate_judging(runner, rubric, p.pairs, False, p.anchors)
    if redact:
        red = estimate_judging(runner, rubric, p.pairs, True, p.anchors)
        for k in ("items", "cached", "calls", "calls_max", "input_tokens", "output_tokens_max"):
            est[k] += red[k]
        est["cost_max"] = None if est["cost_max"] is None or red["cost_max"] is None else (est["cost_max"]
                                                                                            + red["cost_max"])
    return est


def _audit_once(runner: Runner, rubric: Rubric, p: Plan, groups: list[str], params: JudgeAuditParams,
                redact: bool) -> dict:
    label = "audit-judge-redacted" if redact else "audit-judge"
    jr = judge_pairs(runner, rubric, p.pairs, redact, p.anchors, label=label,
                     key_of=lambda jd, cv: f"audit:{jd['id']}:{cv['id']}" + (":redacted" if redact else ""))
    if not jr.complete:
        raise BudgetStop(f"Stopped at the budget after {len(jr.outcomes)} of {len(jr.tasks)} judge calls. Re-run "
                         "the same command with a larger --max-cost to continue; nothing is paid twice.")
    rows = []
    for r in jr.records:
        m = p.meta[r["cv_id"]]
        rows.append({"unit": (r["jd_id"], m["cv_id"]), "group": m["group"], "score": r["total"],
                     "selected": r["label"]})
    stats = group_stats(rows, groups, params.min_diff, params.level, params.seed)
    failed = [{"jd_id": x["jd_id"], "cv_id": p.meta[x["cv_id"]]["cv_id"], "group": p.meta[x["cv_id"]]["group"],
               "reason": x["reason"]} for x in jr.rejects]
    return {"groups": stats, "judged": len(rows), "not_judged": failed,
            "scores": {g: [r["score"] for r in rows if r["group"] == g] for g in groups}}


def judge_audit(runner: Runner, rubric: Rubric, p: Plan, groups: dict[str, Group], params: JudgeAuditParams,
                redact: bool = False, pool_ref: str = "", names_file: str = "") -> dict:
    """The report: per-group statistics, excluded CVs, params; with `redact`, the same audit on redacted CVs
    under "redacted"."""
    names = list(groups)
    main = _audit_once(runner, rubric, p, names, params, False)
    report = {"kind": "judge", "groups": main["groups"], "excluded": p.excluded, "not_judged": main["not_judged"],
              "scores": main["scores"],
              "params": {"pool": pool_ref, "names": names_file, "model": runner.lm_config.model,
                         "rubric_hash": rubric.hash, "threshold": rubric.threshold, "min_diff": params.min_diff,
                         "level": params.level, "seed": params.seed, "per_group": params.per_group,
                         "variants": len(p.pairs), "judged": main["judged"],
                         "names_per_group": {g: list(v.names[:params.per_group] if params.per_group else v.names)
                                             for g, v in groups.items()}}}
    if redact:
        red = _audit_once(runner, rubric, p, names, params, True)
        report["redacted"] = {"groups": red["groups"], "not_judged": red["not_judged"], "scores": red["scores"]}
    return report
