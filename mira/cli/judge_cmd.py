"""`mira judge ...`: rubric judgments of JD–CV pairs; scores, caps and labels computed in code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.panel import Panel
from rich.table import Table

from synth.errors import InputError
from synth.records import normalize_text, stable_id
from .common import (ApiBaseOpt, ApiKeyEnvOpt, ConcurrencyOpt, DryRunOpt, GroundedOpt, HomeOpt, LMOpt, MaxCostOpt,
                     MaxReasksOpt,
                     NoCacheOpt, RayOpt, RpmOpt, BatchOpt, PollOpt, ReaskOnlineOpt, BatchSizeOpt,
                     BatchDirOpt, batch_settings, TimeoutOpt, TpmOpt, WorkersOpt, console, err_console, make_runner,
                     print_estimate, short, store_for)

app = typer.Typer(no_args_is_help=True, help="Judge JD–CV pairs with the rubric in prompts/judge/.")

RedactOpt = Annotated[Optional[bool], typer.Option("--redact/--no-redact", help="replace e-mails, phones, URLs and "
                                                   "the name line before text leaves the machine (default: on for "
                                                   "non-local endpoints)", show_default=False)]
RubricOpt = Annotated[Optional[Path], typer.Option("--rubric", help="folder with rubric.md and rubric.yaml "
                                                   "(default: prompts/judge)", show_default=False)]


def _runner(home, lm, api_base, rubric, **kw):
    from judge.rubric import load_rubric

    rub = load_rubric(rubric)
    return make_runner(home, lm or None, api_base, **kw), rub


@app.command("pool")
def pool_cmd(pool: Annotated[str, typer.Option("--pool", help="pool REF")],
             name: Annotated[str, typer.Option("--name", help="judgment dataset name")],
             as_labels: Annotated[bool, typer.Option("--as-labels", help="also write NAME-labels: a pool whose "
                                                     "positives are the judge-positive candidates")] = False,
             anchors: Annotated[Optional[str], typer.Option("--anchors", help="jd_anchor REF: requirements from "
                                                            "stage-1 anchors")] = None,
             redact: RedactOpt = None, rubric: RubricOpt = None, lm: LMOpt = None, api_base: ApiBaseOpt = None,
             concurrency: ConcurrencyOpt = 16, max_cost: MaxCostOpt = None, rpm: RpmOpt = None, tpm: TpmOpt = None,
             max_reasks: MaxReasksOpt = 1, no_cache: NoCacheOpt = False, timeout: TimeoutOpt = None,
             dry_run: DryRunOpt = False, api_key_env: ApiKeyEnvOpt = None, grounded: GroundedOpt = False,
             ray: RayOpt = None, workers: WorkersOpt = 2, batch: BatchOpt = False, poll: PollOpt = 60.0,
             reask_online: ReaskOnlineOpt = False, batch_size: BatchSizeOpt = None,
             batch_dir: BatchDirOpt = None,
             home: HomeOpt = None) -> None:
    """Judge every (JD, candidate) pair of a pool through the runner (cache, resume, cost, progress)."""
    from judge.pool import estimate_pool, judge_pool

    runner, rub = _runner(home, lm, api_base, rubric, concurrency=concurrency, max_cost=max_cost, rpm=rpm, tpm=tpm,
                          max_reasks=max_reasks, no_cache=no_cache, timeout=timeout, api_key_env=api_key_env,
                          grounded=grounded, ray=ray, workers=workers,
                          batch=batch_settings(batch, poll, reask_online, batch_size, batch_dir))
    if dry_run:
        print_estimate(estimate_pool(store_for(home), runner, pool, rub, redact, anchors), runner.lm_config.model)
        return
    res = judge_pool(store_for(home), runner, pool, name, as_labels, rub, redact, anchors)
    t = Table(title=f"judged {res.judgments.ref}")
    t.add_column("")
    t.add_column("pairs", justify="right")
    for k, v in sorted(res.stats.items()):
        t.add_row(k, str(v))
    console.print(t)
    if res.labels is not None:
        console.print(f"labels: [bold]{res.labels.ref}[/] (pool; positives = judge-positive)")
    failed = sum(v for k, v in res.stats.items() if k.startswith("failed"))
    unscored = res.stats["unscored"]
    if failed or unscored:
        total = res.judgments.count + failed + unscored
        if failed:
            err_console.print(f"[bold red]{failed} of {total} pairs failed[/] (reasons above and in the rejects of "
                              f"{res.judgments.ref}): re-run the same command to retry them; judged pairs come "
                              "from the cache, nothing is paid twice.", highlight=False, soft_wrap=True)
        if unscored:
            err_console.print(f"[bold red]{unscored} of {total} pairs unscored[/]: their JDs gave no checkable "
                              "requirement; pass --anchors REF (stage-1 anchors of these JDs) and re-run.",
                              highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise InputError(f"Cannot read {path}: no such file.")
    return normalize_text(path.read_text(encoding="utf-8", errors="replace"))


@app.command("pair")
def pair_cmd(jd: Annotated[Path, typer.Option("--jd", help="text file with the JD")],
             cv: Annotated[Path, typer.Option("--cv", help="text file with the CV")],
             redact: RedactOpt = None, rubric: RubricOpt = None, lm: LMOpt = None, api_base: ApiBaseOpt = None,
             timeout: TimeoutOpt = None, api_key_env: ApiKeyEnvOpt = None, grounded: GroundedOpt = False,
             home: HomeOpt = None, dry_run: DryRunOpt = False,
             as_json: Annotated[bool, typer.Option("--json", help="print the judgment as JSON")] = False) -> None:
    """Judge one pair and print a readable card."""
    from judge.run import estimate_judging, judge_pairs

    runner, rub = _runner(home, lm, api_base, rubric, timeout=timeout, api_key_env=api_key_env, grounded=grounded)
    jd_t, cv_t = _read_text(jd), _read_text(cv)
    jd_rec = {"id": stable_id("jd", jd_t), "text": jd_t}
    cv_rec = {"id": stable_id("cv", cv_t), "text": cv_t}
    red = (not runner.lm_config.is_local) if redact is None else redact
    if dry_run:
        print_estimate(estimate_judging(runner, rub, [(jd_rec, cv_rec)], red), runner.lm_config.model)
        return
    jr = judge_pairs(runner, rub, [(jd_rec, cv_rec)], red, label="judge-pair")
    if jr.rejects:
        raise InputError(f"The pair was not scored: {jr.rejects[0]['reason']}")
    j = jr.records[0]
    if as_json:
        console.print_json(json.dumps(j))
        return
    render_card(j, rub)


def render_card(j: dict, rub) -> None:
    t = Table(show_header=True, title="scores")
    for col in ("dimension", "weight", "score", "rationale"):
        t.add_column(col)
    used = j.get("weights") or {}  # the weights the total used (an unverified dimension's is bounded)
    for d in rub.dimensions:
        w = used.get(d, rub.weights[d])
        note = f" (rubric {rub.weights[d]:.2f}; unverified)" if d in (j.get("unverified") or []) else ""
        t.add_row(d, f"{w:.2f}{note}", f"{j['scores'].get(d, 0):.0f}", short(j["rationales"].get(d), 70))
    r = Table(title="requirements")
    for col in ("level", "requirement", "verdict", "evidence (the CV's own words)"):
        r.add_column(col)
    limited = ", ".join(f"{d} {x:.0f}→{j['scores'][d]:.0f}" for d, x in (j.get("scores_limited") or {}).items())
    colors = {"met": "green", "unmet": "red", "unclear": "yellow"}
    for v in j["requirements"]:
        verdict = f"[{colors[v['verdict']]}]{v['verdict']}[/]"
        if v.get("downgrade"):
            verdict += f"\n[dim]({v['downgrade']})[/]"
        elif v.get("relocated"):
            verdict += "\n[dim](the quote's passage lacked it; code found this CV line)[/]"
        shown = short(v.get("cv_span") or "", 60) if v.get("cv_span") else (
            f"[dim]LLM quote not in the CV:[/] {short(v.get('evidence'), 50)}" if v.get("evidence") else "")
        r.add_row(v["level"], short(v["requirement"], 50), verdict, shown)
    label = "[bold green]POSITIVE[/]" if j["label"] else "[bold red]negative[/]"
    cap = f" (capped at {j['cap']:.0f} from {j['raw_total']:.1f})" if j["cap"] is not None else ""
    risks = "\n".join(f"[yellow]{x['category']}[/]: {short(x.get('evidence'), 80)}" for x in j["risks"]) or "none"
    console.print(Panel.fit(f"total [bold]{j['total']:.1f}[/]{cap} → {label} (threshold {rub.threshold:.0f})\n"
                            f"'met' downgraded (no supporting CV quote): {j['downgraded']}"
                            + (f"\nscores limited by the verdicts: {limited}" if limited else "")
                            + ("\n[bold red]flagged: the CV addresses the screener (never positive; see judge "
                               "review)[/]" if j.get("needs_review") else "") + f"\nrisks:\n{risks}",
                            title=f"{j['jd_id']} × {j['cv_id']}"))
    console.print(t)
    console.print(r)


@app.command("agree")
def agree_cmd(judgments: Annotated[str, typer.Option("--judgments", help="judgment REF")],
              labels: Annotated[Optional[str], typer.Option("--labels", help="pool REF, label REF (mira "
                                                            "studio), or CSV / JSONL with jd_id, cv_id, label")] = None,
              repeat: Annotated[int, typer.Option("--repeat", help="re-judge a sample N times (self-consistency)")] = 0,
              shuffle_requirements: Annotated[bool, typer.Option("--shuffle-requirements")] = False,
              sample: Annotated[int, typer.Option("--sample", help="pairs re-judged by --repeat / --shuffle")] = 20,
              out: Annotated[Path, typer.Option("--out", help="folder for the PNG histograms and JSON")] = Path(
                  "judge-agreement"),
              rubric: RubricOpt = None, lm: LMOpt = None, api_base: ApiBaseOpt = None, redact: RedactOpt = None,
              seed: Annotated[int, typer.Option("--seed")] = 0, home: HomeOpt = None,
              dry_run: DryRunOpt = False) -> None:
    """Judge vs labels: confusion matrix, Cohen's kappa, precision / recall; histograms; self-consistency."""
    from judge.agree import agreement, estimate_agree, histograms, load_labels, order_sensitivity, self_consistency

    store = store_for(home)
    jv = store.resolve(judgments, "judgment")
    if dry_run:
        if not (repeat or shuffle_requirements):
            console.print("judge agree calls no LLM without --repeat or --shuffle-requirements: nothing to estimate.")
            return
        runner, rub = _runner(home, lm, api_base, rubric, no_cache=True)  # every re-judgment is a new request
        red = (not runner.lm_config.is_local) if redact is None else redact
        print_estimate(estimate_agree(store, runner, rub, jv, repeat, shuffle_requirements, sample, seed, red),
                       runner.lm_config.model)
        return
    report: dict = {"judgments": jv.ref}
    if labels:
        m = agreement(jv, load_labels(store, labels))
        report["agreement"] = m
        t = Table(title=f"judge vs {labels} ({m['n']} pairs)")
        for col in ("", "label 1", "label 0"):
            t.add_column(col, justify="right")
        t.add_row("judge 1", str(m["tp"]), str(m["fp"]))
        t.add_row("judge 0", str(m["fn"]), str(m["tn"]))
        console.print(t)
        fmt = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731
        console.print(f"Cohen's kappa {m['kappa']:.3f} · precision {fmt(m['precision'])} · recall {fmt(m['recall'])}"
                      f" · totals vs labels: Spearman {fmt(m['spearman'])} · Kendall {fmt(m['kendall'])}")
    png = histograms(jv, out / "score_histograms.png")
    console.print(f"histograms: {png}")
    if repeat or shuffle_requirements:
        runner, rub = _runner(home, lm, api_base, rubric)
        red = (not runner.lm_config.is_local) if redact is None else redact
        if repeat:
            report["self_consistency"] = self_consistency(store, runner, rub, jv, repeat, sample, seed, red)
            console.print(f"self-consistency: {report['self_consistency']}")
        if shuffle_requirements:
            runner, rub = _runner(home, lm, api_base, rubric)
            report["order_sensitivity"] = order_sensitivity(store, runner, rub, jv, sample, seed, red)
            console.print(f"requirement order: {report['order_sensitivity']}")
    (out / "agreement.json").write_text(json.dumps(report, indent=2))


@app.command("review")
def review_cmd(judgments: Annotated[str, typer.Option("--judgments", help="judgment REF")],
               out: Annotated[Path, typer.Option("--out", help="CSV for reviewers")],
               band: Annotated[str, typer.Option("--band", help="total range, e.g. 70-80")] = "70-80",
               home: HomeOpt = None) -> None:
    """Export borderline judgments with their evidence for a human review."""
    from judge.agree import review_queue

    try:
        lo, hi = (float(x) for x in band.split("-"))
    except ValueError:
        raise InputError(f"--band '{band}': use LOW-HIGH, e.g. 70-80.") from None
    n = review_queue(store_for(home).resolve(judgments, "judgment"), lo, hi, out)
    console.print(f"{n} judgments with totals in [{lo:g}, {hi:g}] written to {out}")
