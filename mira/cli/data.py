"""`mira data ...`: import, list, show, diff and export dataset versions."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table
from rich.text import Text

from synth.errors import InputError
from synth.export import export_version
from synth.importer import import_file
from synth.presets import PRESETS
from synth.rows import DEFAULT_MAX_CHARS, ImportReport, parse_map
from synth.store import Version
from synth.pool_long import import_pool_file
from synth.pool_trec import import_trec
from synth.textfile import guess_encoding
from .common import HomeOpt, console, short, store_for

app = typer.Typer(no_args_is_help=True, help="Import, inspect, compare and export dataset versions.")


@app.command("import")
def import_cmd(
    kind: Annotated[Literal["jd", "cv", "pool"], typer.Argument(help="the record kind to import")],
    file: Annotated[Optional[Path], typer.Argument(help="CSV / TSV (any dialect), JSON or JSONL file; a pool file "
                                                   "may hold one row per JD (RJDB) or one per JD–CV pair "
                                                   "(jd, cv, label); samples to try are in datasets/_raw/ of a "
                                                   "checkout, the real public data in $MIRA_DATA",
                                                   show_default=False)] = None,
    name: Annotated[str, typer.Option("--name", help="dataset name")] = ...,
    preset: Annotated[Optional[str], typer.Option(help=f"column preset: {', '.join(PRESETS)}")] = None,
    map_: Annotated[Optional[list[str]], typer.Option("--map", help="column=field (repeatable), e.g. "
                                                      "--map Description=text --map Role=title")] = None,
    max_chars: Annotated[int, typer.Option(help="reject texts longer than this")] = DEFAULT_MAX_CHARS,
    encoding: Annotated[Optional[str], typer.Option(help="file encoding, e.g. latin-1 or cp1252 (default: UTF-8; a "
                                                         "byte-order mark for UTF-8/16/32 is detected)",
                                                    show_default=False)] = None,
    queries: Annotated[Optional[Path], typer.Option(help="pool from a TREC-style set: the JDs (id, text)",
                                                    show_default=False)] = None,
    collection: Annotated[Optional[Path], typer.Option(help="TREC-style set: the CVs (id, text)",
                                                       show_default=False)] = None,
    qrels: Annotated[Optional[Path], typer.Option(help="TREC-style set: graded judgments (qid 0 docid grade)",
                                                  show_default=False)] = None,
    run: Annotated[Optional[Path], typer.Option(help="TREC-style set: the upstream retriever's run (its shortlist "
                                                "and scores)", show_default=False)] = None,
    home: HomeOpt = None,
) -> None:
    """Import a file: bad rows go to rejects with file:line and reason, exact duplicates are dropped and counted."""
    store = store_for(home)
    if queries or collection or qrels or run:
        if kind != "pool" or file or not (queries and collection and qrels):
            raise InputError("A TREC-style set imports as a pool: `mira data import pool --queries FILE "
                             "--collection FILE --qrels FILE [--run FILE] --name NAME` (no FILE argument).")
        _print_report(import_trec(store, name, queries, collection, qrels, run, max_chars, encoding or "utf-8"))
        return
    if file is None:
        raise InputError(f"Name the file to import: `mira data import {kind} FILE --name NAME`.")
    importer = import_pool_file if kind == "pool" else partial(import_file, kind=kind)
    size = file.stat().st_size if file.is_file() else None
    with Progress(TextColumn("[bold]importing[/] {task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=console, transient=True,
                  disable=not console.is_terminal) as prog:
        task = prog.add_task(file.name, total=size)
        report = importer(store, path=file, name=name, preset=preset, mapping=parse_map(map_), max_chars=max_chars,
                             encoding=encoding, on_bytes=lambda n: prog.advance(task, n))
    _print_report(report)


def _print_report(r: ImportReport) -> None:
    t = Table(title=f"import {r.file}", show_header=True)
    t.add_column("outcome")
    t.add_column("rows", justify="right")
    t.add_row("imported", str(r.imported))
    for reason, n in r.rejected.most_common():
        t.add_row(f"rejected: {short(reason, 70)}", str(n), style="yellow")
    t.add_row("duplicates (exact text)" if r.kind != "pool" else "duplicates (same JD–CV pair or JD)",
              str(r.duplicates))
    t.add_row("rows read", str(r.rows), style="bold")
    console.print(t)
    for v in r.versions:
        console.print(f"  → [bold]{v.ref}[/] ({v.kind}, {v.count} records) in {v.path}")
        if v.kind == "pool":
            e = v.records()
            graded = sum(1 for x in e if "relevance" in x)
            console.print(f"    {sum(len(x['candidate_ids']) for x in e)} candidates, "
                          f"{sum(len(x['positive_ids']) for x in e)} positives (grade >= 1), "
                          f"{sum(1 for x in e if not x['positive_ids'])} JDs without a positive"
                          + (f"; graded relevance on {graded} JDs" if graded else ""))
    bad = sum(n for why, n in r.rejected.items() if why.startswith("undecodable bytes"))
    if bad:
        enc = guess_encoding(Path(r.file))
        console.print(f"[yellow]{bad} rows have bytes that are not valid in the file's encoding: if the file is in "
                      f"another one (charset-normalizer guesses {enc}), import it again with --encoding {enc}.[/]",
                      highlight=False)


@app.command("list")
def list_cmd(home: HomeOpt = None) -> None:
    """Every dataset version: name, version, kind, count, rejects, date."""
    versions = store_for(home).all_versions()
    if not versions:
        console.print("No datasets yet. Import one with `mira data import jd FILE --name NAME`.")
        return
    t = Table(title="datasets")
    for col in ("name", "version", "kind", "records", "rejected", "duplicates", "created", "parents"):
        t.add_column(col, justify="right" if col in ("records", "rejected", "duplicates") else "left")
    for v in versions:
        m = v.manifest
        t.add_row(v.name, v.version, v.kind, str(v.count), str(m.get("rejected", 0)),
                  str(m.get("duplicates", 0)), m.get("created_at", ""),
                  ", ".join(m.get("parents") or []))
    console.print(t)


def stage_table(v: Version) -> Table | None:
    stages = v.manifest.get("stages") or {}
    if not stages:
        return None
    t = Table(title="per-stage counts")
    per_jd = any("requested_per_jd" in c for c in stages.values())
    cols = ["stage", "generated", "kept", "rejected", "duplicates"] + \
        (["kept per JD / requested", "JDs at request"] if per_jd else []) + ["rejected by reason"]
    for col in cols:
        t.add_column(col, justify="left" if col in ("stage", "rejected by reason") else "right")
    for stage, c in stages.items():
        rej = c.get("rejected", {})
        total = sum(rej.values()) if isinstance(rej, dict) else rej
        reasons = "; ".join(f"{short(k, 40)}: {n}" for k, n in rej.items()) if isinstance(rej, dict) else ""
        row = [stage, str(c.get("in", "")), str(c.get("kept", "")), str(total), str(c.get("duplicates", 0))]
        if per_jd:
            if "requested_per_jd" in c and c.get("jds"):
                row += [f"{c['kept'] / c['jds']:.2f} / {c['requested_per_jd']}", f"{c['jds_at_request']}/{c['jds']}"]
            else:
                row += ["", ""]
        t.add_row(*row, reasons)
    return t


@app.command("show")
def show_cmd(ref: Annotated[str, typer.Argument(help="name, name@latest or name@VERSION-PREFIX")],
             n: Annotated[int, typer.Option("-n", help="records to show")] = 3, home: HomeOpt = None) -> None:
    """A version's manifest summary, per-stage counts and first records."""
    v = store_for(home).resolve(ref)
    m = v.manifest
    t = Table(title=v.ref, show_header=False)
    t.add_column("key", style="bold")
    t.add_column("value")
    for key in ("kind", "count", "rejected", "duplicates", "created_at", "parents", "prompts", "lm", "seed", "code_version",
                "command", "preset", "sources", "params", "dedup"):
        if m.get(key) not in (None, [], {}):
            val = m[key]
            t.add_row(key, val if isinstance(val, str) else json.dumps(val, ensure_ascii=False))
    console.print(t)
    if (st := stage_table(v)) is not None:
        console.print(st)
    rt = Table(title=f"first {n} records")
    rt.add_column("id")
    rt.add_column("content")
    for i, rec in enumerate(v.iter_records()):
        if i >= n:
            break
        rt.add_row(rec["id"], preview(rec))
    console.print(rt)


_BODY = ("text", "card", "query", "anchor_text", "positive", "jd_text")


def preview(rec: dict) -> Text:
    """A record as a reader looks at it: its title (bold), the start of its text, then the other fields, shortened."""
    body = next((k for k in _BODY if isinstance(rec.get(k), str)), None)
    out = Text()
    if rec.get("title"):
        out.append(str(rec["title"]), style="bold")
        out.append("\n")
    if body:
        out.append(short(rec[body], 200))
    rest = {k: val for k, val in rec.items() if k not in ("id", "kind", "title", body, "source", "lineage")
            and val not in (None, [], {}, "")}
    if rest:
        out.append(("\n" if len(out) else "") + short(json.dumps(rest, ensure_ascii=False), 160), style="dim")
    return out


@app.command("diff")
def diff_cmd(a: Annotated[str, typer.Argument(help="old REF")], b: Annotated[str, typer.Argument(help="new REF")],
             home: HomeOpt = None) -> None:
    """Added / removed / changed record ids between two versions, and the count deltas."""
    store = store_for(home)
    va, vb = store.resolve(a), store.resolve(b)
    ra, rb = va.by_id(), vb.by_id()
    added = [i for i in rb if i not in ra]
    removed = [i for i in ra if i not in rb]
    changed = [i for i in ra if i in rb and ra[i] != rb[i]]
    t = Table(title=f"{va.ref} → {vb.ref}")
    for col in ("", "count"):
        t.add_column(col)
    t.add_row("records", f"{va.count} → {vb.count} ({vb.count - va.count:+d})")
    t.add_row("added", str(len(added)))
    t.add_row("removed", str(len(removed)))
    t.add_row("changed", str(len(changed)))
    console.print(t)
    for label, ids in (("added", added), ("removed", removed), ("changed", changed)):
        if ids:
            more = f" … (+{len(ids) - 10})" if len(ids) > 10 else ""
            console.print(f"[bold]{label}:[/] {', '.join(ids[:10])}{more}")


@app.command("export")
def export_cmd(ref: Annotated[str, typer.Argument()],
               format: Annotated[Literal["jsonl", "parquet", "hf"], typer.Option("--format", help="the output format")] = "jsonl",
               out: Annotated[Optional[Path], typer.Option(help="output file (jsonl, parquet) or folder (hf)")] = None,
               home: HomeOpt = None) -> None:
    """Export a version as JSONL, Parquet, or a folder that `datasets.load_from_disk` opens."""
    v = store_for(home).resolve(ref)
    if format not in ("jsonl", "parquet", "hf"):
        raise InputError(f"Unknown export format '{format}': use jsonl, parquet or hf.")
    out = out or Path(f"{v.name}-{v.version}" + ("" if format == "hf" else f".{format}"))
    export_version(v, format, out)
    console.print(f"Exported {v.ref} ({v.count} records) to {out}")


@app.command("split")
def split_cmd(ref: Annotated[str, typer.Argument()],
              by: Annotated[Literal["jd", "jd_family", "employer"], typer.Option("--by", help="the group kept in one split")] = "jd",
              ratios: Annotated[str, typer.Option("--ratios", help="train,val[,test]")] = "0.8,0.1,0.1",
              seed: Annotated[int, typer.Option("--seed")] = 0,
              name: Annotated[Optional[str], typer.Option("--name", help="prefix (default: the dataset name)")] = None,
              home: HomeOpt = None) -> None:
    """Group-aware train / val / test versions: no group (JD, family, employer) in two splits."""
    from synth.split import split_version

    try:
        rs = tuple(float(x) for x in ratios.split(","))
    except ValueError:
        raise InputError(f"--ratios '{ratios}': use numbers, e.g. 0.8,0.1,0.1.") from None
    for v in split_version(store_for(home), ref, by, rs, seed, name):
        console.print(f"  → [bold]{v.ref}[/] ({v.count} records, {v.manifest['split']['groups']} groups)")


@app.command("sample")
def sample_cmd(ref: Annotated[str, typer.Argument(help="jd or pool REF")],
               n: Annotated[int, typer.Option("--n", help="JDs to draw")],
               name: Annotated[str, typer.Option("--name")],
               stratify: Annotated[str, typer.Option("--stratify", help="jd_family,seniority,length")] =
               "jd_family,seniority,length",
               seed: Annotated[int, typer.Option("--seed")] = 0,
               anchors: Annotated[Optional[str], typer.Option("--anchors", help="jd_anchor REF for family and "
                                                              "seniority")] = None,
               home: HomeOpt = None) -> None:
    """Draw JDs proportionally across strata (length in quantile bins) before any model is evaluated."""
    from synth.sample import stratified_sample

    out = stratified_sample(store_for(home), ref, n, [f.strip() for f in stratify.split(",") if f.strip()], seed,
                            name, anchors)
    t = Table(title=f"strata of {out[0].ref} (seed {seed})")
    for col in ("stratum", "JDs", "sampled"):
        t.add_column(col)
    for s in out[0].manifest.get("strata") or out[1].manifest["strata"]:
        t.add_row(" / ".join(s["stratum"]), str(s["size"]), str(s["sampled"]))
    console.print(t)
    for v in out:
        console.print(f"  → [bold]{v.ref}[/] ({v.kind}, {v.count} records)")


@app.command("filter")
def filter_cmd(ref: Annotated[str, typer.Argument(help="the labelled version (pairs, triplets, judgments)")],
               labels: Annotated[list[str], typer.Option("--labels", help="label REF (repeatable): drop what any "
                                                         "reviewer rejected")],
               name: Annotated[Optional[str], typer.Option("--name", help="default: NAME-reviewed")] = None,
               home: HomeOpt = None) -> None:
    """A new version without the records a reviewer rejected in `mira studio`."""
    from synth.labels import filter_rejected

    v, dropped = filter_rejected(store_for(home), ref, labels, name)
    console.print(f"  → [bold]{v.ref}[/] ({v.count} records; {dropped} rejected by a reviewer dropped)")
