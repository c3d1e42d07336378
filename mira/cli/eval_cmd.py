"""`mira eval local|global|compare|diagnose`: recall-first evaluation of encoders and BoundaryHeads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from synth.errors import InputError
from .common import (ApiBaseOpt, ApiKeyEnvOpt, ConcurrencyOpt, DryRunOpt, GroundedOpt, HomeOpt, LMOpt, MaxCostOpt,
                     RayOpt, TimeoutOpt, WorkersOpt, BatchOpt, PollOpt, ReaskOnlineOpt, BatchSizeOpt,
                     BatchDirOpt, batch_settings,
                     console, err_console, make_runner, print_estimate, store_for)

app = typer.Typer(no_args_is_help=True, help="Recall@K / Precision@K on local and global pools; diagnostics.")

PoolOpt = Annotated[str, typer.Option("--pool", help="pool REF")]
ModelOpt = Annotated[str, typer.Option("--model", help="encoder folder, 'zero-shot', or MODEL+HEAD")]
HeadOpt = Annotated[Optional[str], typer.Option("--head", help="BoundaryHead folder", show_default=False)]
LambdaOpt = Annotated[Optional[float], typer.Option("--lambda", help="override the head's stored lambda",
                                                    show_default=False)]
OutOpt = Annotated[Optional[Path], typer.Option("--out", help="write the metrics as JSON", show_default=False)]
MaxLenOpt = Annotated[Optional[int], typer.Option("--max-length", help="tokens per text (default: the model's own; "
                                                  "for compare, the smallest of the models')", show_default=False)]
RunFileOpt = Annotated[Optional[Path], typer.Option("--run-file", help="also write the ranking as a TREC run file",
                                                    show_default=False)]
TrustOpt = Annotated[bool, typer.Option("--trust-remote-code", help="run the model folder's own modelling code "
                                        "(e.g. Jina v3); explicit opt-in")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="refuse to evaluate a model on JDs it trained or "
                                         "validated on")]


MinGradeOpt = Annotated[int, typer.Option("--min-grade", help="graded pools: the grade a candidate needs to count as "
                                          "relevant for Recall, Precision and MRR (nDCG uses every grade)")]


def _ks(spec: str) -> list[int]:
    try:
        ks = sorted({int(x) for x in spec.split(",") if x.strip()})
    except ValueError:
        raise InputError(f"--k '{spec}': use comma-separated integers, e.g. 10,20,30.") from None
    if not ks or ks[0] < 1:
        raise InputError("--k values must be >= 1.")
    return ks


def _scorer(model: str, head: str | None, lam: float | None, max_length: int | None = None, trust: bool = False):
    from train.scorer import make_scorer
    from train.spec import ModelSpec

    spec = ModelSpec.parse(model, head)
    folder = spec.model
    if not spec.zero_shot and not Path(folder).expanduser().is_dir():
        raise InputError(f"No model folder at '{folder}'. --model / --models take an encoder folder (e.g. one written "
                         "by `mira train r2 --out DIR`), 'zero-shot' for the untrained default MiniLM, or "
                         "MODEL+HEAD.")

    return make_scorer(str(spec), lam, max_length, trust)


def guard_leakage(store, pool: str, scorers, strict: bool) -> None:
    """Warn (or with --strict, refuse) when evaluation JDs were in a model's training or validation data."""
    from train.evaluate import eval_jds
    from train.leakage import leaked_jds

    jds = eval_jds(store, pool)
    for s in scorers:
        n = leaked_jds(s, jds)
        if not n:
            continue
        msg = (f"{n} of the {len(jds)} evaluation JDs in {pool} were in the training or validation data of "
               f"{s.name} (its mira_train.json): its figures on them measure memorisation.")
        if strict:
            raise InputError(msg + " Evaluate on held-out JDs, or drop --strict to see them anyway.")
        err_console.print(f"[bold yellow]Warning:[/] {msg}")


def _remote(ray: str | None, workers: int):
    """A Ray corpus encoder for --ray, else None (encode here)."""
    if not ray:
        return None
    from train.ray_encode import RayEncoder

    return RayEncoder(ray, workers)


def _cache(home, ray: str | None = None):
    """The embedding cache: parquet shards when the corpus is encoded on Ray, else SQLite."""
    from train.embed_cache import open_cache

    return open_cache(store_for(home).home, sharded=bool(ray))


def warn_large_k(store, pool: str, ks: list[int], corpus_size: int | None = None) -> list[int]:
    """Warn when a cutoff K exceeds what can be ranked (the largest shortlist of a local pool, the corpus of a global
    one): Precision@K there is at most candidates / K and Recall@K cannot grow. The K values over, for tests."""
    if corpus_size is None:
        most = max((len(e["candidate_ids"]) for e in store.resolve(pool, "pool").iter_records()), default=0)
        what = f"the largest shortlist ({most} candidates per JD)"
    else:
        most, what = corpus_size, f"the corpus ({corpus_size} CVs)"
    over = [k for k in ks if k > most]
    if over:
        err_console.print(f"[bold yellow]Warning:[/] K = {', '.join(map(str, over))} exceed {what}: Precision@K there "
                          f"is at most {most}/K and Recall@K equals Recall@{most}; choose --k up to {most}.",
                          highlight=False, soft_wrap=True)
    return over


def _print(m: dict, ks: list[int], out: Path | None) -> None:
    t = Table(title=f"{m['mode']} pool {m['pool']} · {m['model']} · {m.get('n_queries', 0)} JDs"
                    + (f" · max length {m['max_length']}" if m.get("max_length") else ""))
    t.add_column("K", justify="right")
    t.add_column("Recall@K", justify="right")
    t.add_column("Precision@K", justify="right")
    t.add_column("nDCG@K", justify="right")
    for k in ks:
        if f"recall@{k}" in m:
            t.add_row(str(k), f"{m[f'recall@{k}']:.4f}", f"{m[f'precision@{k}']:.4f}", f"{m[f'ndcg@{k}']:.4f}")
    console.print(t)
    extra = [f"MRR {m['mrr']:.4f}"] if "mrr" in m else []
    if "pos_above_hardneg" in m:
        extra.append(f"positive above its hard negative: {m['pos_above_hardneg']:.4f} of {m['n_with_hardneg']} JDs")
    if m.get("excluded_no_positive"):
        extra.append(f"{m['excluded_no_positive']} JDs without positives excluded")
    console.print(" · ".join(extra))
    if m.get("jd_set"):
        per = m.get("candidates_per_jd") or [0, 0, 0]
        console.print(f"JD set {m['jd_set']}: {m['jds_in_pool']} JDs in the pool, {m.get('n_queries', 0)} scored, "
                      f"{m.get('excluded_no_positive', 0)} without a positive excluded; {m['candidates_scored']} "
                      f"candidates scored ({per[0]} / {per[1]:g} / {per[2]} per JD: min / median / max)"
                      + (f"; relevant = grade >= {m['min_grade']}" if m.get("graded") else ""))
    causes = sorted(k.split(":", 1)[1] for k in m if k.startswith("pos_above_hardneg:"))
    if causes or "pos_below_failing_neg" in m:
        d = Table(title="where the errors are: hard negatives by what they lost")
        d.add_column("hard negatives that lost", justify="left")
        d.add_column("JDs", justify="right")
        d.add_column("positive above them", justify="right")
        for c in causes:
            d.add_row(c, str(m[f"n_with_hardneg:{c}"]), f"{m[f'pos_above_hardneg:{c}']:.4f}")
        console.print(d)
        if "pos_below_failing_neg" in m:
            console.print(f"positives ranked below a negative that fails a must requirement: "
                          f"{m['pos_below_failing_neg']:.4f} of {m['n_pos_with_failing_neg']}")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(m, indent=2) + "\n")
        console.print(f"metrics → {out}")


@app.command("local")
def local_cmd(pool: PoolOpt, model: ModelOpt, head: HeadOpt = None, lam: LambdaOpt = None,
              k: Annotated[str, typer.Option("--k")] = "10,20,30,40,50,60,70", out: OutOpt = None,
              max_length: MaxLenOpt = None, run_file: RunFileOpt = None, strict: StrictOpt = False,
              min_grade: MinGradeOpt = 1, trust_remote_code: TrustOpt = False, home: HomeOpt = None) -> None:
    """Rerank each JD's shortlist: Recall@K, Precision@K, MRR, nDCG@K (JDs without positives excluded).
    --model upstream scores the shortlist's own order (the retriever that made it)."""
    from train.evaluate import local_eval
    from train.local_eval import is_upstream, upstream_eval

    ks, store = _ks(k), store_for(home)
    if is_upstream(model):
        _print(upstream_eval(store, pool, ks, run_file, min_grade), ks, out)
        return
    sc = _scorer(model, head, lam, max_length, trust_remote_code)
    guard_leakage(store, pool, [sc], strict)
    warn_large_k(store, pool, ks)
    _print(local_eval(store, pool, sc, ks, _cache(home), run_file, min_grade), ks, out)


@app.command("global")
def global_cmd(pool: PoolOpt, model: ModelOpt, head: HeadOpt = None, lam: LambdaOpt = None,
               corpus: Annotated[Optional[str], typer.Option("--corpus", help="cv REF added as distractors")] = None,
               k: Annotated[str, typer.Option("--k")] = "1,5,10,50,100,200",
               k1: Annotated[int, typer.Option("--k1", help="first-stage depth reranked by the head")] = 1000,
               ann_threshold: Annotated[int, typer.Option("--ann-threshold", help="use an ANN index above this "
                                                          "many CVs")] = 200_000,
               out: OutOpt = None, max_length: MaxLenOpt = None, run_file: RunFileOpt = None,
               strict: StrictOpt = False, trust_remote_code: TrustOpt = False, ray: RayOpt = None,
               workers: WorkersOpt = 2, home: HomeOpt = None) -> None:
    """Retrieve from the whole corpus, rerank the top K1 with the head, report Recall@K / Precision@K (every
    positive of a JD counts, retrieved or not)."""
    from train.retrieval import global_eval

    ks, store = _ks(k), store_for(home)
    sc = _scorer(model, head, lam, max_length, trust_remote_code)
    sc.remote = _remote(ray, workers)
    guard_leakage(store, pool, [sc], strict)
    m = global_eval(store, pool, sc, ks, _cache(home, ray), k1, corpus, ann_threshold, run_file)
    warn_large_k(store, pool, ks, m["corpus_size"])
    _print(m, ks, out)


@app.command("compare")
def compare_cmd(pool: PoolOpt,
                models: Annotated[str, typer.Option("--models", help="comma-separated: folders, 'zero-shot', "
                                                    "MODEL+HEAD")],
                mode: Annotated[str, typer.Option("--mode", help="local or global")] = "local",
                k: Annotated[Optional[str], typer.Option("--k", show_default=False)] = None,
                corpus: Annotated[Optional[str], typer.Option("--corpus")] = None,
                k1: Annotated[int, typer.Option("--k1")] = 1000,
                out: Annotated[Path, typer.Option("--out", help="folder for CSV, markdown, PNG and TREC run files")] =
                Path("comparison"), max_length: MaxLenOpt = None, strict: StrictOpt = False,
                min_grade: MinGradeOpt = 1, trust_remote_code: TrustOpt = False, ray: RayOpt = None,
                workers: WorkersOpt = 2, home: HomeOpt = None) -> None:
    """The paper's Table 4/5 shape for several models on the same JDs at one max length, with CSV, markdown, a PNG
    of the curves and one TREC run file per model. In local mode, `upstream` is the shortlist's own order."""
    from train.evaluate import local_eval
    from train.report import write_comparison
    from train.retrieval import global_eval
    from train.scorer import common_max_length
    from train.local_eval import is_upstream, upstream_eval

    if mode not in ("local", "global"):
        raise InputError("--mode is local or global.")
    ks = _ks(k or ("10,20,30,40,50,60,70" if mode == "local" else "1,5,10,50,100,200"))
    store, cache = store_for(home), _cache(home, ray)
    specs = [m.strip() for m in models.split(",") if m.strip()]
    if mode == "global" and any(is_upstream(x) for x in specs):
        raise InputError("'upstream' ranks a local pool's shortlists; use --mode local.")
    scorers = [None if is_upstream(spec) else _scorer(spec, None, None, None, trust_remote_code) for spec in specs]
    encoders = [sc for sc in scorers if sc is not None]
    length = common_max_length(encoders, max_length) if encoders else None
    remote = _remote(ray, workers)
    for sc in encoders:
        sc.remote = remote
    guard_leakage(store, pool, encoders, strict)
    rows = []
    for i, sc in enumerate(scorers):
        run = out / "runs" / f"{i + 1}.trec"
        rows.append(upstream_eval(store, pool, ks, run, min_grade) if sc is None
                    else local_eval(store, pool, sc, ks, cache, run, min_grade) if mode == "local"
                    else global_eval(store, pool, sc, ks, cache, k1, corpus, run_file=run))
    warn_large_k(store, pool, ks, rows[0].get("corpus_size"))
    for metric in ("Recall", "Precision"):
        t = Table(title=f"{mode} pool {rows[0]['pool']}: {metric}@K (%), {rows[0]['n_queries']} JDs, every model "
                        f"at max length {length}")
        t.add_column("model")
        for kk in ks:
            t.add_column(f"@{kk}", justify="right")
        t.add_column("MRR", justify="right")
        for r in rows:
            t.add_row(r["model"], *[f"{100 * r[f'{metric.lower()}@{kk}']:.2f}" for kk in ks], f"{r['mrr']:.4f}")
        console.print(t)
    if rows[0].get("jd_set"):
        r = rows[0]
        console.print(f"JD set {r['jd_set']}: {r['jds_in_pool']} JDs, {r['n_queries']} scored "
                      f"({r['excluded_no_positive']} without a positive excluded), {r['candidates_scored']} "
                      f"candidates, the same for every model" + (f"; relevant = grade >= {min_grade}"
                                                                 if r.get("graded") else ""))
    files = write_comparison(rows, ks, out, f"{mode} pool {rows[0]['pool']}")
    (out / "comparison.json").write_text(json.dumps(rows, indent=2) + "\n")
    console.print("written: " + ", ".join(str(p) for p in files.values()))


@app.command("diagnose")
def diagnose_cmd(pairs: Annotated[str, typer.Option("--pairs", help="boundary_pair REF (label 1 = mismatch), a pool "
                                                    "with hard negatives, or a judgment REF")],
                 model: ModelOpt, head: HeadOpt = None, out: OutOpt = None, home: HomeOpt = None) -> None:
    """AUC, Cohen's d and p-value of s_boundary separating boundary mismatches from matches."""
    import numpy as np

    from train.data import head_pairs
    from train.diagnose import diagnose

    store = store_for(home)
    v = store.resolve(pairs)
    if v.kind == "judgment":
        from train.data import judged_pairs

        q, c, y = judged_pairs(store, v)
    else:
        q, c, y, _ = head_pairs(store, pairs)
    m = diagnose(_scorer(model, head, None), q, c, np.array(y), _cache(home))
    m.update(pairs=v.ref, model=model, head=head)
    console.print(f"AUC {m['auc']:.3f} · Cohen's d {m['cohens_d']:.3f} · p = {m['p_value']:.3g} "
                  f"({m['n_mismatch']} mismatches, {m['n_match']} matches)")
    if out:
        out.write_text(json.dumps(m, indent=2) + "\n")


@app.command("protocol")
def protocol_cmd(jds: Annotated[str, typer.Option("--jds", help="jd REF, or a pool REF (e.g. from `mira data "
                                                  "sample`), whose candidates are the default corpus")],
                 models: Annotated[str, typer.Option("--models", help="comma-separated: folders, 'zero-shot', "
                                                     "MODEL+HEAD")],
                 name: Annotated[str, typer.Option("--name")],
                 corpus: Annotated[Optional[str], typer.Option("--corpus", help="cv REF: the shared corpus")] = None,
                 k: Annotated[int, typer.Option("--k", help="top-K per model and JD that is judged")] = 200,
                 k1: Annotated[int, typer.Option("--k1", help="first-stage depth reranked by heads")] = 1000,
                 report_k: Annotated[str, typer.Option("--report-k", help="K values in the tables")] = "10,50,100,200",
                 lm: LMOpt = None, api_base: ApiBaseOpt = None, concurrency: ConcurrencyOpt = 16,
                 max_cost: MaxCostOpt = None, timeout: TimeoutOpt = None, dry_run: DryRunOpt = False,
                 api_key_env: ApiKeyEnvOpt = None, grounded: GroundedOpt = False, ray: RayOpt = None,
                 workers: WorkersOpt = 2, batch: BatchOpt = False, poll: PollOpt = 60.0,
                 reask_online: ReaskOnlineOpt = False, batch_size: BatchSizeOpt = None,
                 batch_dir: BatchDirOpt = None,
                 home: HomeOpt = None) -> None:
    """Pooled judging: each model's top-K per JD, the union judged once, recall against the pooled labels."""
    from mira.protocol import run_protocol

    specs = [m.strip() for m in models.split(",") if m.strip()]
    runner = make_runner(home, lm, api_base, concurrency, max_cost, timeout=timeout, api_key_env=api_key_env,
                         grounded=grounded, ray=ray, workers=workers,
                         batch=batch_settings(batch, poll, reask_online, batch_size, batch_dir))
    res = run_protocol(store_for(home), runner, jds, corpus, specs, name, k, k1, _ks(report_k), dry_run=dry_run,
                       on_estimate=lambda est: print_estimate(est, runner.lm_config.model, dry_run),
                       encoder=_remote(ray, workers))
    if dry_run:
        return
    ks = sorted({x for x in _ks(report_k) if x <= k}) or [k]
    for metric, title in (("recall", "Table 8 — Recall@K (%)"), ("precision", "Table 9 — Precision@K (%)")):
        t = Table(title=f"{title}, {res.rows[0]['n_queries']} JDs with judge-positives")
        t.add_column("model")
        for kk in ks:
            t.add_column(f"@{kk}", justify="right")
        for r in res.rows:
            t.add_row(r["model"], *["n/a" if r[f"{metric}@{kk}"] is None else f"{100 * r[f'{metric}@{kk}']:.2f}"
                                    for kk in ks])
        console.print(t)
    console.print(f"pooled pairs {res.stats['pooled_pairs']}, judged {res.stats['judged']}, judge-positive "
                  f"{res.stats['judge_positive']}; new LLM calls {res.stats['new_llm_calls']}, answers from cache "
                  f"{res.stats['from_cache']}")
    failed = {kk: v for kk, v in res.stats.items() if kk.startswith("judge failed")}
    if failed:
        console.print(f"[yellow]left out of the labels (not counted as negatives): {failed}[/]")
    console.print(f"versions: {res.judgments.ref}, {res.labels.ref}, " +
                  ", ".join(v.ref for v in res.rankings.values()))
    console.print("report: " + ", ".join(str(p) for p in res.files.values()))
