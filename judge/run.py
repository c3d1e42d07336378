"""The one path every judging command takes (`judge pair`, `judge pool`, `judge agree`, `eval protocol`,
`synth jdcv --verify-with-judge`): requirements from code, then the judge call, then scores in code.

A pair whose JD yields no checkable requirement is unscored: it goes to the rejects with the reason and never gets
a label or a default score.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from synth.runner import Runner, Task
from synth.runner.calls import reason_key
from synth.stages import extract
from synth.stages.estimate import combine

from .module import Judge, check, judgment_record, make_task
from .requirements import make_requirements, requirements_for
from .rubric import Rubric


@dataclass
class JudgeRun:
    records: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    stats: Counter = field(default_factory=Counter)
    tasks: list[Task] = field(default_factory=list)
    complete: bool = True
    outcomes: list = field(default_factory=list)


def judge_pairs(runner: Runner, rubric: Rubric, pairs: list[tuple[dict, dict]], redact_pii: bool,
                anchors: dict[str, dict] | None = None, label: str = "judge", rollout=None,
                key_of=None, shuffle=None, requirements=None) -> JudgeRun:
    """Judge (jd, cv) records. `key_of(jd, cv)` names tasks (default judge:JD:CV); `shuffle(reqs)` reorders a JD's
    requirements (order-sensitivity checks; numbers follow the new order)."""
    out = JudgeRun()
    reqs, why = requirements or requirements_for(runner, [jd for jd, _ in pairs], anchors)
    for jd, cv in pairs:
        if jd["id"] in why:
            out.stats["unscored"] += 1
            out.rejects.append({"reason": f"unscored: {why[jd['id']]}", "stage": "judge", "where": f"{jd['id']}:"
                                f"{cv['id']}", "jd_id": jd["id"], "cv_id": cv["id"]})
            continue
        rs = reqs[jd["id"]]
        if shuffle is not None:
            rs = [replace(r, num=i + 1) for i, r in enumerate(shuffle(rs))]
        out.tasks.append(make_task(jd, cv, rs, redact_pii, rollout=rollout,
                                   key=key_of(jd, cv) if key_of else None))
    res = runner.run(Judge(rubric), out.tasks, check=check(rubric), label=label)
    out.complete, out.outcomes = res.complete, res.outcomes
    by_key = {t.key: t for t in out.tasks}
    for o in res.outcomes:
        if o.ok:
            rec = judgment_record(by_key[o.key], o.output, rubric, runner.lm_config.model)
            out.records.append(rec)
            out.stats["positive" if rec["label"] else "negative"] += 1
            out.stats["downgraded_met"] += rec["downgraded"]
            out.stats["capped"] += rec["cap"] is not None
            out.stats["flagged_injection"] += rec["needs_review"]
        else:
            out.stats[f"failed: {reason_key(o.reason)}"] += 1
            out.rejects.append({"reason": o.reason, "stage": "judge", "where": o.key, "raw": o.raw,
                                "jd_id": o.meta["jd_id"], "cv_id": o.meta["cv_id"]})
    return out


def estimate_judging(runner: Runner, rubric: Rubric, pairs: list[tuple[dict, dict]], redact_pii: bool,
                     anchors: dict[str, dict] | None = None, split: bool = False) -> dict:
    """The dry-run estimate of the judge calls, with every re-ask. A JD whose requirements still need the extract
    stage adds that call (priced as the extract stage sends it), and its judge calls are priced with its own
    requirement-like sentences as the requirements (the extracted ones are spans of those sentences). With `split`,
    {"requirements (extract)": ..., "judge": ...}; else their sum."""
    reqs, _ = requirements_for(runner, [jd for jd, _ in pairs], anchors, extract_missing=False)
    need = {jd["id"]: jd for jd, _ in pairs if jd["id"] not in reqs and not extract.precheck(jd)}
    for jd in need.values():
        must, pref = extract.requirement_sentences(jd)
        reqs[jd["id"]] = make_requirements([("must", s) for s in must] + [("preferred", s) for s in pref]) or \
            make_requirements([("must", extract.jd_input(jd)[:300])])
    tasks = [make_task(jd, cv, reqs[jd["id"]], redact_pii) for jd, cv in pairs if jd["id"] in reqs]
    parts = {"requirements (extract)": runner.estimate(extract.Extract(), [extract.make_task(j) for j in
                                                                            need.values()]),
             "judge": runner.estimate(Judge(rubric), tasks)}
    return parts if split else {**combine(parts), "jds_needing_extraction": len(need)}
