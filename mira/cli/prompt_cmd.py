"""`mira prompt try|diff`: iterate on a stage's prompt file on a small sample; nothing is written to datasets."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.table import Table

from synth.stages.estimate import estimate_try
from synth.stages.tryout import field_diff, resolve_prompt_version, run_try
from .common import (ApiBaseOpt, ApiKeyEnvOpt, DryRunOpt, GroundedOpt, HomeOpt, LMOpt, TimeoutOpt, console,
                     make_runner, print_estimate, short, store_for)

app = typer.Typer(no_args_is_help=True, help="Try prompt files on a sample; compare two prompt versions.")

StageArg = Annotated[str, typer.Argument(help="extract, paraphrase, card, boundary or constraint")]
JdsOpt = Annotated[Optional[str], typer.Option("--jds", help="jd REF to sample from")]
AnchorsOpt = Annotated[Optional[str], typer.Option("--anchors", help="jd_anchor REF (stages 2-5)")]
NOpt = Annotated[int, typer.Option("-n", help="sample size")]


def _fmt(v) -> str:
    return short(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False), 300)


@app.command("try")
def try_cmd(stage: StageArg, jds: JdsOpt = None, anchors: AnchorsOpt = None, n: NOpt = 5,
            prompt: Annotated[Optional[str], typer.Option("--prompt", help="prompt file to use instead of "
                                                          "prompts/jd/STAGE.md")] = None,
            lm: LMOpt = None, api_base: ApiBaseOpt = None, timeout: TimeoutOpt = None,
            api_key_env: ApiKeyEnvOpt = None, grounded: GroundedOpt = False, home: HomeOpt = None,
            dry_run: DryRunOpt = False) -> None:
    """Run one stage on n sample items and show inputs, outputs and the check's verdict side by side."""
    runner = make_runner(home, lm, api_base, max_reasks=0, timeout=timeout, api_key_env=api_key_env, grounded=grounded)
    if dry_run:
        print_estimate(estimate_try(stage, store_for(home), runner, jds, anchors, n, (prompt,)),
                       runner.lm_config.model)
        return
    res = run_try(stage, store_for(home), runner, jds, anchors, n, prompt)
    t = Table(title=f"prompt try {stage}", show_lines=True)
    for col in ("input", "output", "check"):
        t.add_column(col, ratio=2 if col != "check" else 1)
    for row in res.rows:
        out = "\n".join(f"[bold]{k}[/]: {_fmt(v)}" for k, v in (row["output"] or {}).items()) or _fmt(row["raw"])
        t.add_row(_fmt(next(iter(row["input"].values()))), out,
                  "[green]ok[/]" if row["ok"] else f"[red]{row['check']}[/]")
    console.print(t)
    console.print(f"{sum(r['ok'] for r in res.rows)} of {len(res.rows)} pass the check. No dataset was written.")


@app.command("diff")
def diff_cmd(stage: StageArg,
             against: Annotated[str, typer.Option("--against", help="prompt file, or a git revision (e.g. HEAD~1) "
                                                  "of prompts/jd/STAGE.md")],
             jds: JdsOpt = None, anchors: AnchorsOpt = None, n: NOpt = 5, lm: LMOpt = None,
             api_base: ApiBaseOpt = None, timeout: TimeoutOpt = None, api_key_env: ApiKeyEnvOpt = None,
             grounded: GroundedOpt = False,
             home: HomeOpt = None, dry_run: DryRunOpt = False) -> None:
    """Run the current prompt and another version on the same sample; show what changed, field by field."""
    store = store_for(home)
    runner = make_runner(home, lm, api_base, max_reasks=0, timeout=timeout, api_key_env=api_key_env, grounded=grounded)
    other = resolve_prompt_version(stage, against, store.home)
    if dry_run:
        print_estimate(estimate_try(stage, store, runner, jds, anchors, n, (None, other)), runner.lm_config.model)
        return
    cur = run_try(stage, store, runner, jds, anchors, n)
    old = run_try(stage, store, runner, jds, anchors, n, other)
    t = Table(title=f"prompt diff {stage}: current vs {against}", show_lines=True)
    for col in ("item", "field", "current", against):
        t.add_column(col)
    changed = 0
    for a, b in zip(cur.rows, old.rows):
        diffs = field_diff(a["output"], b["output"])
        if a["check"] != b["check"]:
            diffs.append(("(check)", a["check"], b["check"]))
        changed += bool(diffs)
        for f, x, y in diffs:
            t.add_row(a["key"], f, _fmt(x), _fmt(y))
    console.print(t)
    console.print(f"{changed} of {len(cur.rows)} items differ; checks passed: current "
                  f"{sum(r['ok'] for r in cur.rows)}, {against} {sum(r['ok'] for r in old.rows)}.")
