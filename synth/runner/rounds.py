"""The runner's loop when calls are made on Ray Data (#17): rounds of one attempt per item, instead of one coroutine
per item.

Round r holds every item still open at attempt r. Its answers are looked up in the cache first (a hit is judged here
and never dispatched); the rest go out as one Ray dataset (synth/runner/ray_exec.py) and are judged here as they
stream back: each answer is written to the cache the moment it arrives, then checked; a finished item goes to the
journal, one to re-ask joins round r + 1 with the re-ask turns. The cache keys, checks, re-asks, rejects and outcomes
are the single-process runner's own (Runner.verdict, Runner.entry), so a run gives the same dataset versions.
"""

from __future__ import annotations

from typing import Callable

from .calls import EndpointUnavailable
from .cost import dollars
from .journal import Journal
from .outcome import Attempts
from .stats import RunStats


def run_rounds(runner, module, tasks: list, check, prompt_hash: str | None, sig_hash: str, stats: RunStats,
               journal: Journal, finish: Callable) -> bool:
    """Runs `tasks` to outcomes (`finish(outcome)` for each); True when the budget stopped the run."""
    from .ray_exec import rebuild_error

    rc, lm = runner.rc, runner.lm_config
    acc = {t.key: Attempts(cost=0.0 if runner.priced else None) for t in tasks}
    todo, stopped = list(tasks), False
    if hasattr(runner.executor, "bind"):  # a batch executor journals its batches in the run folder
        runner.executor.bind(journal.folder)
    for attempt in range(runner.reask.attempts):
        if not todo or stopped:
            break
        keys = {t.key: runner._key(prompt_hash, sig_hash, t, attempt) for t in todo}
        by_key, send, reask = {t.key: t for t in todo}, [], []

        def judge(task, entry: dict) -> None:
            out = runner.verdict(task, entry, check, attempt, acc[task.key], stats)
            if out is None:
                reask.append(task)
            else:
                finish(out)

        for t in todo:
            entry = runner.cache.get(keys[t.key]) if rc.use_cache else None
            if entry is None:
                acc[t.key].all_cached = False
                send.append(t)
            else:
                stats.cache_hits += 1
                judge(t, entry)
        rows = []
        for t in send:
            tokens_in = runner._prompt_tokens(module, t, acc[t.key].feedback)
            rows.append((t.key, {
                "inputs": t.inputs, "feedback": list(acc[t.key].feedback), "schema": runner._schema(module, t),
                "est_tokens": tokens_in + lm.max_tokens,
                "est_dollars": (dollars(lm.model, tokens_in, lm.max_tokens)
                                if runner.budget.max_cost is not None else None)}))
        for key, got in runner.executor.stream(module, rows, rc, runner.budget):
            task = by_key[key]
            stats.calls += got["calls"]
            for kind in got["faults"]:
                stats.fault(kind)
            if got.get("budget"):  # the gate refused it: not sent, no outcome (a re-run with more budget resumes)
                stopped = True
                continue
            if "lm_error" in got:
                err = rebuild_error(*got["lm_error"])
                why = runner.health.dead(err)
                if why:
                    raise EndpointUnavailable(why)
                finish(runner.failed(task, err, attempt, acc[key], stats))
                continue
            runner.health.answered()
            paid, usage = got["cost"], got["usage"]
            runner.budget.settle(0.0, paid)  # the gate held its reservation; the driver's ledger records the spend
            runner.count_paid(stats, journal, usage, paid)
            entry = runner.entry(got["fields"], got["error"], got["raw"], usage, got["finish_reason"], paid)
            runner.cache.put(keys[key], entry)
            acc[key].add(entry)
            judge(task, entry)
        todo = reask
    return stopped
