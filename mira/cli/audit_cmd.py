"""`mira audit judge|model`: counterfactual name-swap audits (docs/audit.md). Parsing and printing only; the work is
in mira/audit/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import (ApiBaseOpt, ApiKeyEnvOpt, ConcurrencyOpt, DryRunOpt, GroundedOpt, HomeOpt, LMOpt, MaxCostOpt,
                     MaxReasksOpt, NoCacheOpt, RayOpt, RpmOpt, TimeoutOpt, TpmOpt, WorkersOpt, console, err_console,
                     make_runner, print_estimate, store_for)

app = typer.Typer(no_args_is_help=True, help="Fairness audits: the same CVs under names of different groups.")

PoolOpt = Annotated[str, typer.Option("--pool", help="pool REF: its (JD, candidate) pairs are audited")]
NamesOpt = Annotated[Optional[Path], typer.Option("--names", help="JSON: group -> list of full names (default: the "
                                                  "bundled set, see docs/audit.md)", show_default=False)]
OutOpt = Annotated[Optional[Path], typer.Option("--out", help="write the report as JSON (the PNG goes beside it)",
                                                show_default=False)]
PngOpt = Annotated[Optional[Path], typer.Option("--png", help="PNG of the score distributions and paired "
                                                "differences (default: beside --out, else audit-<kind>.png)",
                                                show_default=False)]
FailOpt = Annotated[bool, typer.Option("--fail-on-flag", help="exit 3 when any group is flagged (for CI); "
                                       "without it the audit exits 0 whatever it finds")]
LevelOpt = Annotated[float, typer.Option("--level", help="confidence level of the paired-difference intervals")]
SeedOpt = Annotated[int, typer.Option("--seed", help="bootstrap seed")]
PerGroupOpt = Annotated[Optional[int], typer.Option("--per-group", help="use only the first N names of each group",
                                                    show_default=False)]


def _finish(report: dict, out: Path | None, png: Path | None, fail_on_flag: bool) -> None:
    from mira.audit.report import plot, table, write_json

    console.print(table(report))
    if report.get("redacted"):
        console.print(table({**report, **report["redacted"]}, title="the same audit on redacted CVs (--redact)"))
    if report["excluded"]:
        err_console.print(f"[yellow]{len(report['excluded'])} CV(s) left out: no name found[/] (first: "
                          f"{report['excluded'][0]['cv_id']}); see 'excluded' in the JSON report.")
    if report.get("not_judged"):
        err_console.print(f"[yellow]{len(report['not_judged'])} variant(s) not judged[/] (left out, never scored)")
    if out:
        console.print(f"report → {write_json(report, out)}")
    png = png or (out.with_suffix(".png") if out else Path(f"audit-{report['kind']}.png"))
    console.print(f"plot → {plot(report, png)}")
    flagged = [g for g, s in report["groups"].items() if s["flagged"]]
    console.print(f"flagged: {', '.join(flagged)}" if flagged else "no group flagged")
    if fail_on_flag and flagged:
        raise typer.Exit(3)


@app.command("judge")
def judge_cmd(pool: PoolOpt, names: NamesOpt = None, out: OutOpt = None, png: PngOpt = None,
              redact: Annotated[bool, typer.Option("--redact", help="also run the audit on redacted CVs, to show "
                                                   "what redaction buys")] = False,
              min_diff: Annotated[float, typer.Option("--min-diff", help="flag a significant paired difference "
                                                      "only beyond this many points")] = 5.0,
              level: LevelOpt = 0.95, seed: SeedOpt = 0, per_group: PerGroupOpt = None,
              anchors: Annotated[Optional[str], typer.Option("--anchors", help="jd_anchor REF: requirements from "
                                                             "stage-1 anchors")] = None,
              rubric: Annotated[Optional[Path], typer.Option("--rubric", help="folder with rubric.md and "
                                                             "rubric.yaml", show_default=False)] = None,
              fail_on_flag: FailOpt = False, lm: LMOpt = None, api_base: ApiBaseOpt = None,
              concurrency: ConcurrencyOpt = 16, max_cost: MaxCostOpt = None, rpm: RpmOpt = None, tpm: TpmOpt = None,
              max_reasks: MaxReasksOpt = 1, no_cache: NoCacheOpt = False, timeout: TimeoutOpt = None,
              dry_run: DryRunOpt = False, api_key_env: ApiKeyEnvOpt = None, grounded: GroundedOpt = False,
              ray: RayOpt = None, workers: WorkersOpt = 2, home: HomeOpt = None) -> None:
    """Judge every name variant of every pool pair: per-group mean total, positive rate, impact ratio, paired
    difference with its interval, flags."""
    from judge.rubric import load_rubric
    from mira.audit.judge_audit import JudgeAuditParams, estimate, judge_audit, plan
    from mira.audit.names import default_names_path, load_names

    groups = load_names(names)
    params = JudgeAuditParams(min_diff, level, seed, per_group)
    rub = load_rubric(rubric)
    runner = make_runner(home, lm, api_base, concurrency=concurrency, max_cost=max_cost, rpm=rpm, tpm=tpm,
                         max_reasks=max_reasks, no_cache=no_cache, timeout=timeout, api_key_env=api_key_env,
                         grounded=grounded, ray=ray, workers=workers)
    p = plan(store_for(home), pool, groups, params, anchors)
    if dry_run:
        print_estimate(estimate(runner, rub, p, redact), runner.lm_config.model)
        console.print(f"{len(p.pairs)} variants of {len({m['cv_id'] for m in p.meta.values()})} CVs; "
                      f"{len(p.excluded)} CV(s) without a name left out")
        return
    report = judge_audit(runner, rub, p, groups, params, redact, pool, str(names or default_names_path().name))
    _finish(report, out, png, fail_on_flag)


@app.command("model")
def model_cmd(pool: PoolOpt,
              model: Annotated[str, typer.Option("--model", help="encoder folder, 'zero-shot', or MODEL+HEAD")],
              names: NamesOpt = None, out: OutOpt = None, png: PngOpt = None,
              k: Annotated[int, typer.Option("--k", help="top-K: a variant is selected when it ranks in it")] = 10,
              min_diff: Annotated[float, typer.Option("--min-diff", help="flag a significant paired score "
                                                      "difference only beyond this (cosine units)")] = 0.01,
              level: LevelOpt = 0.95, seed: SeedOpt = 0, per_group: PerGroupOpt = None,
              max_length: Annotated[Optional[int], typer.Option("--max-length", help="tokens per text",
                                                                show_default=False)] = None,
              trust_remote_code: Annotated[bool, typer.Option("--trust-remote-code")] = False,
              fail_on_flag: FailOpt = False, ray: RayOpt = None, workers: WorkersOpt = 2,
              home: HomeOpt = None) -> None:
    """Encode every name variant of every pool candidate: per-group mean score, mean rank when it replaces the
    original, top-K share, paired difference with its interval, flags."""
    from mira.audit.model_audit import ModelAuditParams, model_audit
    from mira.audit.names import default_names_path, load_names
    from train.embed_cache import open_cache
    from train.scorer import make_scorer

    groups = load_names(names)
    store = store_for(home)
    sc = make_scorer(model, None, max_length, trust_remote_code)
    if ray:
        from train.ray_encode import RayEncoder

        sc.remote = RayEncoder(ray, workers)
    report = model_audit(store, pool, sc, open_cache(store.home, sharded=bool(ray)), groups,
                         ModelAuditParams(k, min_diff, level, seed, per_group),
                         str(names or default_names_path().name))
    _finish(report, out, png, fail_on_flag)
