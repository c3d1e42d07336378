"""`mira synth ...`: generate training data from real JDs through the runner."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Literal, Optional

import typer

from mira.jdcv_verify import JudgeVerifier
from synth.stages.pipeline import JDPipelineConfig, parse_stages, run_jd_pipeline
from .common import (ApiBaseOpt, ConcurrencyOpt, DryRunOpt, HomeOpt, LMOpt, MaxCostOpt, MaxReasksOpt, NoCacheOpt,
                     RpmOpt, TimeoutOpt, TpmOpt, ApiKeyEnvOpt, GroundedOpt, RayOpt, WorkersOpt, console, make_runner,
                     print_estimate, store_for, BatchOpt, PollOpt, ReaskOnlineOpt, BatchSizeOpt,
                     BatchDirOpt, batch_settings)
from .data import stage_table

app = typer.Typer(no_args_is_help=True, help="Generate training data from real JDs (every call through the runner).")


@app.command("jd")
def synth_jd(
    name: Annotated[str, typer.Option("--name", help="output name: NAME-anchors and NAME-pairs")],
    jds: Annotated[Optional[str], typer.Option("--jds", help="jd version REF")] = None,
    anchors: Annotated[Optional[str], typer.Option("--anchors", help="jd_anchor REF (when --stages omits 1)")] = None,
    stages: Annotated[str, typer.Option("--stages", help="e.g. 1-5, 1, 2-4, 1,2,5")] = "1-5",
    n_boundary: Annotated[int, typer.Option("--n-boundary", help="boundary negatives per JD")] = 3,
    n_constraint: Annotated[int, typer.Option("--n-constraint", help="constraint negatives per JD")] = 2,
    limit: Annotated[Optional[int], typer.Option("--limit", help="first N JDs only")] = None,
    lm: LMOpt = None, api_base: ApiBaseOpt = None, concurrency: ConcurrencyOpt = 16, max_cost: MaxCostOpt = None,
    rpm: RpmOpt = None, tpm: TpmOpt = None, max_reasks: MaxReasksOpt = 1, no_cache: NoCacheOpt = False,
    dry_run: DryRunOpt = False, timeout: TimeoutOpt = None, api_key_env: ApiKeyEnvOpt = None,
    grounded: GroundedOpt = False, ray: RayOpt = None, workers: WorkersOpt = 2, home: HomeOpt = None,
    batch: BatchOpt = False, poll: PollOpt = 60.0, reask_online: ReaskOnlineOpt = False,
    batch_size: BatchSizeOpt = None, batch_dir: BatchDirOpt = None,
) -> None:
    """The five JD stages: anchor, paraphrase, card, boundary and constraint pairs; validated and deduplicated."""
    cfg = JDPipelineConfig(stages=parse_stages(stages), n_boundary=n_boundary, n_constraint=n_constraint,
                           limit=limit)
    runner = make_runner(home, lm, api_base, concurrency, max_cost, rpm, tpm, max_reasks, no_cache, timeout,
                         api_key_env, grounded, ray, workers,
                         batch=batch_settings(batch, poll, reask_online, batch_size, batch_dir))
    store = store_for(home)
    if dry_run:
        from synth.stages import extract
        from synth.stages.estimate import estimate_jd_pipeline

        print_estimate(estimate_jd_pipeline(store, runner, jds, cfg.stages, n_boundary, n_constraint, limit, anchors),
                       runner.lm_config.model)
        recs = store.resolve(jds, "jd").records()[: limit] if jds and 1 in cfg.stages else []
        left_out = Counter(why for r in recs if (why := extract.precheck(r)))
        if left_out:
            console.print(f"{sum(left_out.values())} of {len(recs)} JDs are left out before any call (a real run "
                          "keeps them in the rejects): " + "; ".join(f"{n} {why}" for why, n in left_out.most_common()),
                          highlight=False)
        if 1 in cfg.stages and any(s > 1 for s in cfg.stages):
            console.print("(stages 2-5 priced on each JD's text standing in for its anchor card, at the most calls "
                          "each stage can send per JD)")
        return
    res = run_jd_pipeline(store, runner, jds, name, cfg, anchors_ref=anchors)
    for v in (res.anchors, res.pairs):
        if v is not None and v.manifest.get("stages"):
            console.print(f"[bold]{v.ref}[/] ({v.kind}, {v.count} records)")
    last = res.pairs or res.anchors
    if last is not None and (t := stage_table(last)) is not None:
        t.title = "Table 1: per-stage counts"
        console.print(t)


@app.command("jdcv")
def synth_jdcv(
    jds: Annotated[str, typer.Option("--jds", help="jd version REF")],
    name: Annotated[str, typer.Option("--name", help="output jdcv_triplet dataset name")],
    generator: Annotated[Literal["balanced", "hardneg", "both"], typer.Option("--generator", help="which generator")] = "both",
    per_jd: Annotated[int, typer.Option("--per-jd", help="generations per JD and generator")] = 1,
    cvs: Annotated[Optional[str], typer.Option("--cvs", help="cv REF: style exemplars and real easy negatives")] = None,
    anchors: Annotated[Optional[str], typer.Option("--anchors", help="jd_anchor REF (stage-1 anchors)")] = None,
    verify_with_judge: Annotated[bool, typer.Option("--verify-with-judge", help="judge every generated negative; "
                                                    "drop those rated positive")] = False,
    limit: Annotated[Optional[int], typer.Option("--limit")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    lm: LMOpt = None, api_base: ApiBaseOpt = None, concurrency: ConcurrencyOpt = 16, max_cost: MaxCostOpt = None,
    rpm: RpmOpt = None, tpm: TpmOpt = None, max_reasks: MaxReasksOpt = 1, no_cache: NoCacheOpt = False,
    dry_run: DryRunOpt = False, timeout: TimeoutOpt = None, api_key_env: ApiKeyEnvOpt = None,
    grounded: GroundedOpt = False, ray: RayOpt = None, workers: WorkersOpt = 2, home: HomeOpt = None,
    batch: BatchOpt = False, poll: PollOpt = 60.0, reask_online: ReaskOnlineOpt = False,
    batch_size: BatchSizeOpt = None, batch_dir: BatchDirOpt = None,
) -> None:
    """JD–CV triplets: balanced positives / screening negatives and tagged deceptive hard negatives."""
    from synth.stages.jdcv_pipeline import estimate_jdcv, run_jdcv

    runner = make_runner(home, lm, api_base, concurrency, max_cost, rpm, tpm, max_reasks, no_cache, timeout,
                         api_key_env, grounded, ray, workers,
                         batch=batch_settings(batch, poll, reask_online, batch_size, batch_dir))
    verify = JudgeVerifier(runner) if verify_with_judge else None
    if dry_run:
        print_estimate(estimate_jdcv(store_for(home), runner, jds, generator, per_jd, cvs, anchors, limit, seed,
                                     verify), runner.lm_config.model)
        return
    v = run_jdcv(store_for(home), runner, jds, name, generator, per_jd, cvs, anchors, verify, limit, seed)
    console.print(f"[bold]{v.ref}[/] (jdcv_triplet, {v.count} triplets)")
    if (t := stage_table(v)) is not None:
        t.title = "per generator / negative type"
        console.print(t)
    console.print(f"balance: {v.manifest['balance']['negative_type']}")


@app.command("boundary-pairs")
def boundary_pairs_cmd(
    pairs: Annotated[str, typer.Option("--pairs", help="jd_pair REF (from `mira synth jd`)")],
    name: Annotated[str, typer.Option("--name")],
    seed: Annotated[int, typer.Option("--seed")] = 0,
    home: HomeOpt = None,
) -> None:
    """BoundaryHead training pairs: label 1 from stage-4 pairs, label 0 from matching stage-2/3 positives, 1:1."""
    from synth.stages.boundary_pairs import make_boundary_pairs

    v = make_boundary_pairs(store_for(home), pairs, name, seed=seed)
    m = v.manifest
    console.print(f"[bold]{v.ref}[/]: {v.count} pairs ({m['params']['positives']} label 0, "
                  f"{m['params']['negatives']} label 1); responsibility threshold used: "
                  f"{m['params']['threshold_used']}")
