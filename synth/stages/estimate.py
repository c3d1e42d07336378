"""Dry-run estimates of every stage a command will run: an upper bound of calls, tokens and dollars, per stage and in
total, before anything is called.

Where a stage's inputs come from an earlier stage of the same command (the anchors of stages 2-5, the anchors
`prompt try` makes first), they are not known yet: each such JD is priced with a stand-in anchor whose card is the
JD's own text (a card is built from the JD's extract and is shorter), and the number of calls is the most the stage
can send per JD (1 paraphrase, 1 card, --n-boundary, --n-constraint). Cached items cost nothing."""

from __future__ import annotations

from ..runner import Runner, Task
from ..store import DatasetStore
from . import boundary, card, constraint, extract, paraphrase
from .common import fence

SUM_KEYS = ("items", "cached", "calls", "calls_max", "input_tokens", "output_tokens_max")


def combine(parts: dict[str, dict]) -> dict:
    """The totals of per-stage estimates, keeping each stage's own under `parts`."""
    out: dict = {k: sum(p.get(k, 0) for p in parts.values()) for k in SUM_KEYS}
    costs = [p.get("cost_max") for p in parts.values()]
    out["cost_max"] = None if any(c is None for c in costs) else sum(costs)
    pricing = {p["pricing"] for p in parts.values() if p.get("pricing")}  # how the calls were priced (batch rates)
    if pricing:
        out["pricing"] = "; ".join(sorted(pricing))
    out["parts"] = parts
    return out


def standin_anchor(jd: dict) -> dict:
    """An anchor for a JD whose stage-1 answer is not known yet: the JD's text as its card, the highest scope (so
    stage 4 asks its full count) and no constraints (stage 5 is priced separately)."""
    return {"id": f"standin:{jd['id']}", "jd_id": jd["id"], "title": (jd.get("title") or "").strip() or "Role",
            "card": extract.jd_input(jd), "must": [], "preferred": [], "scope_level": "owns",
            "responsibilities": [], "skills": []}


def _constraint_standins(anchor: dict, n: int) -> list[Task]:
    """n stage-5 requests of the size the stage sends (the anchor card and one flip)."""
    return [Task(f"constraint:{anchor['id']}:{v}", {"anchor": fence(anchor["card"], "ANCHOR"),
                                                     "flip": "years_experience: 5+ years -> 1 year"})
            for v in range(n)]


def later_stage_tasks(num: int, anchors: list[dict], jds: dict[str, dict], n_boundary: int, n_constraint: int,
                      standin: bool) -> list[Task]:
    """The tasks stage `num` (2-5) sends for these anchors: exact for real anchors; for stand-ins, the most it can."""
    out: list[Task] = []
    for a in anchors:
        if num == 2:
            out += paraphrase.make_tasks(a)
        elif num == 3:
            out += card.make_tasks(a, jds[a["jd_id"]]) if a["jd_id"] in jds else []
        elif num == 4:
            out += boundary.make_tasks(a, n_boundary)
        elif standin:
            out += _constraint_standins(a, n_constraint)
        else:
            out += constraint.make_tasks(a, n_constraint)
    return out


MODULES = {1: extract.Extract, 2: paraphrase.Paraphrase, 3: card.Card, 4: boundary.Boundary,
           5: constraint.ConstraintFlip}
NAMES = {1: "extract", 2: "paraphrase", 3: "card", 4: "boundary", 5: "constraint"}


def estimate_jd_pipeline(store: DatasetStore, runner: Runner, jds_ref: str | None, stages: tuple[int, ...],
                         n_boundary: int, n_constraint: int, limit: int | None,
                         anchors_ref: str | None = None) -> dict:
    """`mira synth jd --dry-run`: every stage in `stages`, as `run_jd_pipeline` would send them."""
    jds: dict[str, dict] = {}
    if jds_ref:
        for rec in store.resolve(jds_ref, "jd").records()[:limit]:
            jds[rec["id"]] = rec
    parts: dict[str, dict] = {}
    if 1 in stages:
        runnable = [j for j in jds.values() if not extract.precheck(j)]
        parts["extract"] = runner.estimate(extract.Extract(), [extract.make_task(j) for j in runnable])
        anchors, standin = [standin_anchor(j) for j in runnable], True
    elif anchors_ref:
        anchors, standin = store.resolve(anchors_ref, "jd_anchor").records()[:limit], False
    else:
        anchors, standin = [], False
    for num in sorted(s for s in stages if s > 1):
        tasks = later_stage_tasks(num, anchors, jds, n_boundary, n_constraint, standin)
        parts[NAMES[num]] = runner.estimate(MODULES[num](), tasks)
    return combine(parts)


def estimate_try(stage: str, store: DatasetStore, runner: Runner, jds_ref: str | None, anchors_ref: str | None,
                 n: int, prompts: tuple = (None,)) -> dict:
    """`mira prompt try / diff --dry-run`: the extract calls that make anchors first (when no --anchors), then n
    items of the stage for each prompt version (diff: 2; the first version's answers are not reused)."""
    from .tryout import STAGES

    num = STAGES.index(stage) + 1 if stage in STAGES else None
    if num is None:
        from ..errors import InputError

        raise InputError(f"Unknown stage '{stage}' (stages: {', '.join(STAGES)}).")
    jds = {r["id"]: r for r in store.resolve(jds_ref, "jd").records()[: max(n, 1) * 3]} if jds_ref else {}
    runnable = [j for j in jds.values() if not extract.precheck(j)]
    parts: dict[str, dict] = {}
    if num == 1:
        tasks = [extract.make_task(j) for j in runnable][:n]
    else:
        if anchors_ref:
            anchors, standin = store.resolve(anchors_ref, "jd_anchor").records(), False
        else:
            made = runnable[: n * 2]
            parts["extract (anchors first)"] = runner.estimate(extract.Extract(), [extract.make_task(j) for j in made])
            anchors, standin = [standin_anchor(j) for j in made], True
        tasks = later_stage_tasks(num, anchors, jds, 1, 1, standin)[:n]
    for v, prompt in enumerate(prompts):  # each version's own prompt: its own cache keys
        name = stage if len(prompts) == 1 else f"{stage} ({'current' if v == 0 else 'other'} prompt)"
        parts[name] = runner.estimate(MODULES[num](prompt), tasks)
    return combine(parts)
