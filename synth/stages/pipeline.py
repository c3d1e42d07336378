"""`mira synth jd`: the five stages over real JDs -> a `jd_anchor` version and a `jd_pair` version.

Counts always add up per stage: in = kept + rejected + duplicates. The manifests carry them (the paper's Table 1),
the prompt hashes, the LM, the dedup parameters and the thresholds.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field

from ..dedup import Deduplicator, MinHashParams
from ..errors import BudgetStop, InputError  # noqa: F401  (BudgetStop: raised here, imported by jdcv_pipeline)
from ..runner import Runner
from ..runner.calls import reason_key
from ..store import DatasetStore, Version
from . import boundary, card, constraint, extract, paraphrase
from .scope import load_cues

STAGE_NAMES = {1: "extract", 2: "paraphrase", 3: "card", 4: "boundary", 5: "constraint"}


def parse_stages(spec: str) -> tuple[int, ...]:
    out: set[int] = set()
    for part in spec.replace(" ", "").split(","):
        m = re.fullmatch(r"([1-5])(?:-([1-5]))?", part)
        if not m:
            raise InputError(f"--stages '{spec}': use numbers 1-5, ranges and commas, e.g. 1-5 or 1,2,4.")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        out.update(range(lo, hi + 1))
    return tuple(sorted(out))


@dataclass
class JDPipelineConfig:
    stages: tuple[int, ...] = (1, 2, 3, 4, 5)
    n_boundary: int = 3
    n_constraint: int = 2
    limit: int | None = None
    only: tuple[str, ...] = ()  # these JD ids only (in the version's order), before `limit`
    dedup: MinHashParams = field(default_factory=MinHashParams)
    near_copy: float = paraphrase.NEAR_COPY


class StageCounts:
    def __init__(self):
        self.counts: dict[str, dict] = {}

    def stage(self, name: str) -> dict:
        return self.counts.setdefault(name, {"in": 0, "kept": 0, "rejected": Counter(), "duplicates": 0})

    def reject(self, name: str, reason: str) -> None:
        c = self.stage(name)
        c["in"] += 1
        c["rejected"][reason_key(reason)] += 1

    def manifest(self) -> dict:
        return {k: {**v, "rejected": dict(v["rejected"])} for k, v in self.counts.items()}


@dataclass
class PipelineResult:
    anchors: Version | None
    pairs: Version | None
    counts: StageCounts


def _run(runner: Runner, module, tasks, check, label: str):
    res = runner.run(module, tasks, check=check, label=label)
    if not res.complete:
        raise BudgetStop(f"Stopped at the budget during {label} after {len(res.outcomes)} of {res.total} items. "
                         "Re-run the same command (with a larger --max-cost) to continue; nothing is paid twice.")
    return res


def run_jd_pipeline(store: DatasetStore, runner: Runner, jds_ref: str | None, name: str,
                    cfg: JDPipelineConfig = JDPipelineConfig(), anchors_ref: str | None = None,
                    command_lm: dict | None = None) -> PipelineResult:
    model = runner.lm_config.model
    counts = StageCounts()
    dedup = Deduplicator(cfg.dedup)
    prompts: dict[str, str] = {}
    parents: list[str] = []
    jds: dict[str, dict] = {}
    if jds_ref:
        jd_v = store.resolve(jds_ref, "jd")
        parents.append(jd_v.ref)
        for rec in jd_v.iter_records():
            if cfg.limit is not None and len(jds) >= cfg.limit:
                break
            if not cfg.only or rec["id"] in cfg.only:
                jds[rec["id"]] = rec
        missing = set(cfg.only) - set(jds)
        if missing and (cfg.limit is None or len(jds) < cfg.limit):
            raise InputError(f"{jd_v.ref} has no JD {', '.join(sorted(missing))}.")
    base_manifest = {"lm": runner.lm_public, "params": {**asdict(cfg), "dedup": cfg.dedup.manifest()},
                     "dedup": cfg.dedup.manifest()}

    anchors_v = None
    if 1 in cfg.stages:
        if not jds:
            raise InputError("Stage 1 needs --jds REF (a jd version with at least one record).")
        module = extract.Extract()
        prompts["extract"] = module.prompt_hash
        rejects, tasks = [], []
        for jd in jds.values():
            why = extract.precheck(jd)
            if why:
                counts.reject("extract", why)
                runner.count_outside([why], kept_before=False)
                rejects.append({"reason": why, "stage": "extract", "where": jd["id"], "source_id": jd["id"]})
            else:
                tasks.append(extract.make_task(jd))
        res = _run(runner, module, tasks, extract.check, "jd-extract")
        anchors, grounding = [], Counter()
        for o in res.outcomes:
            jd = jds[o.meta["jd_id"]]
            anchor, why = (None, o.reason) if not o.ok else extract.build_anchor(jd, o.output, module.prompt_hash,
                                                                                 model)[:2]
            if anchor is None:
                counts.reject("extract", why)
                if o.ok:  # the runner kept the answer; the summary counts the reject too
                    runner.count_outside([why])
                rejects.append({"reason": why, "stage": "extract", "where": o.key, "raw": o.raw, "source_id": jd["id"]})
                continue
            for k, v in (anchor.get("dropped") or {}).items():
                grounding[f"{k}_dropped"] += len(v)
            grounding["skills_kept"] += len(anchor["skills"])
            anchors.append(anchor)
        built = len(anchors)
        anchors = dedup_counted("extract", anchors, [a["card"] for a in anchors], Deduplicator(cfg.dedup), counts,
                                rejects)
        runner.count_duplicates(built - len(anchors))
        counts.stage("extract")["grounding"] = dict(grounding)
        anchors_v = store.write(f"{name}-anchors", "jd_anchor", anchors, rejects, manifest={
            **base_manifest, "parents": parents, "prompts": dict(prompts),
            "stages": {"extract": counts.manifest()["extract"]}})
    elif any(s > 1 for s in cfg.stages):
        if not anchors_ref:
            raise InputError("Stages 2-5 without stage 1 need --anchors REF (a jd_anchor version).")
        anchors_v = store.resolve(anchors_ref, "jd_anchor")
        anchors = anchors_v.records()
        if cfg.limit is not None:
            anchors = anchors[: cfg.limit]
    if not any(s > 1 for s in cfg.stages):
        return PipelineResult(anchors_v, None, counts)
    if 3 in cfg.stages and not jds:
        raise InputError("Stage 3 (card) reads the raw JDs: pass --jds REF too.")

    pairs, rejects = [], []
    # the queries are in the index: a variant equal to its own anchor card or raw JD is a duplicate, never a pair
    dedup.seed([a["id"] for a in anchors], [a["card"] for a in anchors])
    dedup.seed([f"{j['id']}(raw)" for j in jds.values()], [j["text"] for j in jds.values()])
    prompts["scope_cues"] = load_cues().hash
    plan = {
        2: (paraphrase.Paraphrase, lambda a: paraphrase.make_tasks(a),
            lambda t, o: paraphrase.check(t, o, cfg.near_copy), paraphrase.build, 1),
        3: (card.Card, lambda a: card.make_tasks(a, jds[a["jd_id"]]) if a["jd_id"] in jds else [],
            card.check, card.build, 1),
        4: (boundary.Boundary, lambda a: boundary.make_tasks(a, cfg.n_boundary), boundary.check, boundary.build,
            cfg.n_boundary),
        5: (constraint.ConstraintFlip, lambda a: constraint.make_tasks(a, cfg.n_constraint), constraint.check,
            constraint.build, cfg.n_constraint),
    }
    for num in sorted(s for s in cfg.stages if s > 1):
        stage = STAGE_NAMES[num]
        cls, make, check, build, per_anchor = plan[num]
        module = cls()
        prompts[stage] = module.prompt_hash
        tasks = []
        for a in anchors:
            made = make(a)
            tasks.extend(made)
            for _ in range(per_anchor - len(made)):
                why = _shortfall(num, a)
                counts.reject(stage, why)
                runner.count_outside([why], kept_before=False)
                rejects.append({"reason": why, "stage": stage, "where": a["id"], "source_id": a["jd_id"]})
        c = counts.stage(stage)
        c["requested_per_jd"], c["jds"] = per_anchor, len(anchors)
        res = _run(runner, module, tasks, check, f"jd-{stage}")
        by_key = {t.key: t for t in tasks}
        built = []
        for o in res.outcomes:
            if o.ok:
                built.append(build(by_key[o.key], o.output, module.prompt_hash, model))
            else:
                counts.reject(stage, o.reason)
                rejects.append({"reason": o.reason, "stage": stage, "where": o.key, "raw": o.raw,
                                "source_id": o.meta["anchor"]["jd_id"]})
        kept = dedup_counted(stage, built, [p["text"] for p in built], dedup, counts, rejects)
        runner.count_duplicates(len(built) - len(kept))
        per = Counter(p["anchor_id"] for p in kept)
        c["jds_at_request"] = sum(per[a["id"]] >= per_anchor for a in anchors)
        pairs.extend(kept)
    parents_pairs = parents + ([anchors_v.ref] if anchors_v else [])
    pairs_v = store.write(f"{name}-pairs", "jd_pair", pairs, rejects, manifest={
        **base_manifest, "parents": parents_pairs, "prompts": prompts, "stages": counts.manifest()})
    return PipelineResult(anchors_v, pairs_v, counts)


def _shortfall(num: int, anchor: dict) -> str:
    if num == 4:
        return "anchor already at the lowest scope (assists)"
    if num == 5:
        return "fewer non-location must constraints than requested"
    return "raw JD not available for this anchor"


def dedup_counted(stage: str | list[str], records: list[dict], texts: list[str], dedup: Deduplicator,
                  counts: StageCounts, rejects: list[dict]) -> list[dict]:
    """Drop exact / near duplicates (first kept), counting each record under its stage (one name, or one per
    record); duplicates go to rejects with what they duplicate."""
    res = dedup.run([r["id"] for r in records], texts)
    kept = []
    stages = [stage] * len(records) if isinstance(stage, str) else stage
    for rec, st, keep, dup in zip(records, stages, res.keep, res.duplicate_of):
        c = counts.stage(st)
        c["in"] += 1
        if keep:
            c["kept"] += 1
            kept.append(rec)
        else:
            c["duplicates"] += 1
            rejects.append({"reason": "duplicate", "stage": "dedup", "where": rec["id"], "duplicate_of": dup,
                            "of_stage": st, "source_id": rec.get("jd_id")})
    return kept
