"""Shared CLI pieces: console, common options, error handling."""

from __future__ import annotations

import os
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from synth.store import DatasetStore

# Not a terminal (a log, a pipe) and no COLUMNS: tables keep their full width instead of rich's 80 columns, which
# cut values and wrapped each reason a word per line.
_LOG_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 250
console = Console(width=_LOG_WIDTH)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() or os.environ.get("COLUMNS") else 250)

HomeOpt = Annotated[Optional[Path], typer.Option("--home", help="Mira home (default: $MIRA_HOME, else the current "
                                                 "directory); datasets live in HOME/datasets.", show_default=False)]


def store_for(home: Path | None) -> DatasetStore:
    return DatasetStore(home)


def short(text: str | None, n: int = 80) -> str:
    text = (text or "").replace("\n", " ⏎ ")
    return text if len(text) <= n else text[: n - 1] + "…"


# -- LM and runner options shared by every command that calls an LLM ------------------------------------------
LMOpt = Annotated[Optional[str], typer.Option("--lm", help="litellm model string, e.g. openai/Qwen/Qwen3-32B, "
                                              "ollama_chat/qwen3:32b, or 'local' (default: $MIRA_LM, mira.toml, "
                                              "else the embedded local model)", show_default=False)]
ApiBaseOpt = Annotated[Optional[list[str]], typer.Option("--api-base", help="OpenAI-compatible server URL, e.g. "
                                                         "http://localhost:8000/v1 (default: $MIRA_API_BASE); give it "
                                                         "again for more servers of the same model: calls are "
                                                         "spread over them and a failing one is backed off",
                                                         show_default=False)]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", help="LLM calls in flight at once")]
MaxCostOpt = Annotated[Optional[float], typer.Option("--max-cost", help="stop cleanly (resumable) once this many "
                                                     "dollars are spent", show_default=False)]
RpmOpt = Annotated[Optional[float], typer.Option("--rpm", help="requests per minute limit", show_default=False)]
TpmOpt = Annotated[Optional[float], typer.Option("--tpm", help="tokens per minute limit", show_default=False)]
MaxReasksOpt = Annotated[int, typer.Option("--max-reasks", help="re-asks with the validation error before a "
                                           "record is rejected")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="ignore cached answers (new answers are cached)")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="estimate tokens and cost, call nothing")]
TimeoutOpt = Annotated[Optional[float], typer.Option("--timeout", help="seconds per LLM request",
                                                     show_default=False)]
ApiKeyEnvOpt = Annotated[Optional[str], typer.Option("--api-key-env", help="environment variable whose key is sent "
                                                     "to --api-base (a custom endpoint gets no key otherwise)",
                                                     show_default=False)]

RayOpt = Annotated[Optional[str], typer.Option("--ray", help="run the LLM calls and corpus encoding on Ray Data: "
                                              "'local' (start a cluster on this machine; also --ray alone), 'auto' "
                                              "(the running cluster) or ray://HOST:PORT; needs the ray extra",
                                              show_default=False)]
WorkersOpt = Annotated[int, typer.Option("--workers", help="Ray workers (with --ray), each with --concurrency "
                                         "calls in flight")]

BatchOpt = Annotated[bool, typer.Option("--batch", help="send the calls through the provider's batch API (OpenAI "
                                        "/v1/batches or a server implementing it, Anthropic Message Batches): about "
                                        "half the price, answers within 24 h; killed runs re-attach to their batch")]
PollOpt = Annotated[float, typer.Option("--poll", help="seconds between batch status checks (with --batch)")]
ReaskOnlineOpt = Annotated[bool, typer.Option("--reask-online", help="with --batch: send re-asks online instead of "
                                              "as a second batch")]
BatchSizeOpt = Annotated[Optional[int], typer.Option("--batch-size", help="requests per batch (default: the "
                                                     "provider's limit, 50,000 for OpenAI)", show_default=False)]
BatchDirOpt = Annotated[Optional[Path], typer.Option("--batch-dir", help="with --batch: write each batch as a "
                                                    "JSONL file in this folder for an offline runner (vllm run-batch) "
                                                    "and wait for its .output.jsonl there", show_default=False)]


@dataclass(frozen=True)
class BatchSettings:
    """The batch flags of one command (`--batch`, `--poll`, `--reask-online`, `--batch-size`)."""

    poll: float = 60.0
    reask_online: bool = False
    size: int | None = None
    folder: Path | None = None


def batch_settings(batch: bool, poll: float = 60.0, reask_online: bool = False, batch_size: int | None = None,
                   batch_dir: Path | None = None) -> BatchSettings | None:
    if batch_dir is not None and not batch:
        from synth.errors import InputError

        raise InputError("--batch-dir goes with --batch (add --batch to write the batch files there).")
    return BatchSettings(poll, reask_online, batch_size, batch_dir) if batch else None


GroundedOpt = Annotated[bool, typer.Option("--grounded", help="send each item's grounded JSON schema as "
                                           "response_format (vLLM guided decoding); the embedded model always "
                                           "decodes this way")]


def make_runner(home: Path | None, lm: str | None, api_base: str | list[str] | None, concurrency: int = 16,
                max_cost: float | None = None, rpm: float | None = None, tpm: float | None = None,
                max_reasks: int = 1, no_cache: bool = False, timeout: float | None = None,
                api_key_env: str | None = None, grounded: bool = False, ray: str | None = None, workers: int = 2,
                batch: BatchSettings | None = None):
    """The runner for a command's LM flags (flags > env > mira.toml > local). The command ends with the runner's
    summary table (calls, cache, retries, re-asks, rejects by reason, tokens, dollars, wall time) on stderr."""
    from synth.lm.config import resolve_lm_config
    from synth.runner import Runner, RunnerConfig

    store = store_for(home)
    cfg = resolve_lm_config(lm, api_base, store.home, timeout=timeout, api_key_env=api_key_env,
                            grounded=grounded or None)
    if cfg.model == "local":
        err_console.print("[yellow]Using the embedded SmolLM2-135M: a tiny model to show the plumbing, not "
                          "quality. Point --lm / --api-base at a real model for real data.[/]")
    executor = None
    if batch is not None and ray:
        from synth.errors import InputError
        from synth.runner.batch import BATCH_WITH_RAY

        raise InputError(BATCH_WITH_RAY)
    if batch is not None:
        from synth.runner.batch import BatchExecutor

        executor = BatchExecutor(cfg, batch.poll, batch.size, batch.reask_online, console=err_console,
                                 folder=batch.folder)
    if ray:
        from synth.runner.ray_exec import RayExecutor

        executor = RayExecutor(cfg, ray, workers, concurrency)
        err_console.print(f"Ray: {workers} workers x {concurrency} calls in flight; this process keeps the cache, "
                          "the journal, the checks and the limits.")
    rc = RunnerConfig(concurrency=concurrency * (workers if ray else 1), rpm=rpm, tpm=tpm, max_reasks=max_reasks,
                      max_cost=max_cost, use_cache=not no_cache)
    # progress on stderr: stdout stays clean for --json
    runner = Runner(cfg, store.home, rc, console=err_console, executor=executor)
    made = COMMAND_RUNNERS.get()
    if made is not None:
        made.append(runner)
    return runner


# The runners one CLI invocation made: `mira`'s group prints their summary tables when the command ends (also when
# it ends in an error, so what was paid is always shown). Scoped to the invocation, not a process-wide registry.
COMMAND_RUNNERS: ContextVar[list | None] = ContextVar("mira_command_runners", default=None)


def print_summaries(runners: list) -> None:
    from synth.runner.progress import runner_summary

    for runner in runners:
        if runner.totals.any():
            err_console.print(runner_summary(runner))


def print_estimate(est: dict, model: str, dry_run: bool = True) -> None:
    from rich.table import Table

    t = Table(title=f"dry run ({model}): nothing was called" if dry_run else f"estimate before the calls ({model})")
    t.add_column("")
    t.add_column("estimate", justify="right")
    for k in ("items", "cached", "calls", "calls_max", "input_tokens", "output_tokens_max"):
        if k in est:
            t.add_row({"calls_max": "calls with every re-ask (at most)", "input_tokens": "input tokens (at most)"}
                      .get(k, k.replace("_", " ")), f"{est[k]:,}")
    t.add_row("cost (at most)", "unknown: model not in litellm's cost map" if est["cost_max"] is None
              else f"${est['cost_max']:.4f}")
    if est.get("pricing"):
        t.add_row("priced at", est["pricing"])
    for name, p in (est.get("parts") or {}).items():
        t.add_row(f"  {name}: calls / with re-asks / input tokens",
                  f"{p['calls']:,} / {p['calls_max']:,} / {p['input_tokens']:,}")
    console.print(t)
