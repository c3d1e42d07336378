"""The runner: a DSPy module over a stream of inputs -> validated outputs or rejects, never a silent drop.

Per item: look up the answer cache; on a miss call the module (bounded async concurrency, RPM/TPM limits,
retries with exponential backoff and full jitter on 429 / 5xx / timeouts / connection errors, honouring Retry-After);
validate (the Signature's typed parse, then the stage's own check); on failure re-ask with the validation error in the
prompt, at most `max_reasks` times; a final failure becomes a reject with the reason and the raw answer. Each finished
item is appended to the run's journal, so an interrupted run resumes without repeating a paid call.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import Iterable

from ..errors import InputError, MiraError
from ..lm.config import LMConfig
from ..lm.engine import SCOPE, CallScope, MiraAsyncEngine, make_dspy_lm
from ..lm.factory import make_transport
from ..lm.transport import LMCallError
from ..records import canonical_json
from ..store import mira_home
from .budget import Budget, BudgetReached
from .cache import AnswerCache, call_key, signature_fingerprint
from .calls import (EndpointUnavailable, _acall, _lm_error, _parse_error, _plain,  # noqa: F401 - re-exported
                    answer, direct_predictor, with_retries)
from .cost import dollars, estimate_tokens, known_prices
from .health import EndpointHealth
from .journal import Journal
from .limits import RateLimits
from .outcome import Attempts, Check, FinalReject, Outcome, RunnerConfig, RunResult, Task  # noqa: F401 - re-exported
from .reask import REASK, ReaskPolicy  # noqa: F401 - re-exported
from .stats import RunStats


class Interrupted(MiraError):
    """Ctrl-C: the journal is flushed; re-running the same command resumes."""


class Runner:
    """Runs DSPy modules through Mira's engine with cache, journal, limits, retries, re-asks and cost.

    One Runner serves one command: its budget (`--max-cost`) and its totals (the closing summary table) are
    cumulative over every `run` of that command.
    """

    def __init__(self, lm: LMConfig, home: str | Path | None = None, config: RunnerConfig | None = None,
                 console=None, transport=None, executor=None):
        from .adapter import CachedChatAdapter

        self.lm_config = lm
        self.home = mira_home(home)
        self.rc = config or RunnerConfig()
        self.console = console
        self.cache = AnswerCache(self.home / ".mira" / "cache.sqlite")
        # where calls are made: here (None), or on Ray Data (synth/runner/ray_exec.py, driven by rounds.py);
        # cache, journal, checks and re-asks stay here either way
        self.executor = executor
        self.transport = transport or make_transport(lm)
        self.engine = MiraAsyncEngine(lm, self.transport)
        self.lm = make_dspy_lm(lm, self.transport, self.engine)
        self.adapter = CachedChatAdapter(use_json_adapter_fallback=False)
        self.lm_public = lm.public()
        self.priced = known_prices(lm.model)
        self.budget = Budget(self.rc.max_cost)
        self.totals = RunStats()  # over every run of this runner (the command's summary table)
        self.reask = ReaskPolicy(self.rc.max_reasks)
        self.health = EndpointHealth(lm.base_url, lm.model)
        self._module_cache: dict[tuple[str, int], tuple] = {}  # (what, id(module)) -> (module, value)
        if self.rc.max_cost is not None and not self.priced:
            raise InputError(f"--max-cost needs dollar prices, and litellm's cost map does not know '{lm.model}'. "
                             "Drop --max-cost, or use a model string the cost map knows.")

    # -- public API -----------------------------------------------------------------------------------------
    def run(self, module, tasks: Iterable[Task], check: Check | None = None, label: str = "llm",
            run_id: str | None = None) -> RunResult:
        try:
            return asyncio.run(self.arun(module, tasks, check, label, run_id))
        except KeyboardInterrupt:
            raise Interrupted("Interrupted. Finished items are in the run journal; re-run the same command to "
                              "resume (no paid call is repeated).") from None

    def count_outside(self, reasons: Iterable[str], kept_before: bool = True) -> None:
        """Rejects decided outside `run`, so the command's summary counts every reject that its tables count: an
        answer the runner kept that a stage then refused (`kept_before`), or an item refused before any call."""
        for r in reasons:
            self.totals.reject(r)
            self.totals.kept_then_rejected += kept_before

    def count_duplicates(self, n: int) -> None:
        """Kept answers that deduplication dropped (the summary's kept is then what the versions hold)."""
        self.totals.duplicates += n

    def fingerprint(self, module) -> tuple[str | None, str]:
        return getattr(module, "prompt_hash", None), signature_fingerprint(module)

    def request_hash(self, module, task: Task) -> str:
        """The identity of a task's request: rendered inputs, prompt hash, Signature, model and parameters."""
        prompt_hash, sig_hash = self.fingerprint(module)
        return self._key(prompt_hash, sig_hash, task, 0)

    def estimate(self, module, tasks: Iterable[Task]) -> dict:
        """Dry run: an upper bound on calls, tokens and dollars before spending anything, re-asks included (each
        re-ask resends the prompt plus the rejected answer, at most max_tokens). Cached items cost nothing."""
        tasks = list(tasks)
        prompt_hash, sig_hash = self.fingerprint(module)
        pred = module.predictors()[0]
        tokens_in = cached = 0
        for t in tasks:
            if self.cache.get(self._key(prompt_hash, sig_hash, t, 0)) is not None:
                cached += 1
                continue
            msgs = self.adapter.format(pred.signature, pred.demos, t.inputs)
            tokens_in += sum(estimate_tokens(m["content"]) for m in msgs)
        calls = len(tasks) - cached
        r, mt = self.reask.max_reasks, self.lm_config.max_tokens
        reask_extra = estimate_tokens(self.reask.message) + mt  # the rejected answer and the re-ask message
        in_max = tokens_in * (1 + r) + calls * r * reask_extra
        out_max = calls * (1 + r) * mt
        return {"items": len(tasks), "cached": cached, "calls": calls, "calls_max": calls * (1 + r),
                "input_tokens": in_max, "output_tokens_max": out_max,
                "cost_max": getattr(self.executor, "price", dollars)(self.lm_config.model, in_max, out_max),
                "pricing": getattr(self.executor, "pricing", None)}  # batch calls: the batch rate

    def close(self) -> None:
        self.cache.close()

    # -- the loop -------------------------------------------------------------------------------------------
    def _key(self, prompt_hash, sig_hash, task: Task, attempt: int) -> str:
        grounding = task.grounding if (self.lm_config.transport == "local" or self.lm_config.grounded) else None
        return call_key(prompt_hash=prompt_hash, signature_hash=sig_hash, inputs=task.inputs, lm=self.lm_public,
                        attempt=attempt, rollout=task.rollout, grounding=grounding)

    def _run_dir(self, label: str, run_id: str | None, reqs: list[tuple[str, str]]) -> Path:
        """Named by the requests themselves: a changed input, prompt or model is a different run."""
        if run_id is None:
            run_id = hashlib.sha256(canonical_json([label, sorted(reqs)]).encode()).hexdigest()[:16]
        return self.home / ".mira" / "runs" / f"{label}-{run_id}"

    async def arun(self, module, tasks: Iterable[Task], check: Check | None = None, label: str = "llm",
                   run_id: str | None = None) -> RunResult:
        import dspy

        from .progress import RunProgress

        tasks = list(tasks)
        if len({t.key for t in tasks}) != len(tasks):
            raise InputError("Task keys must be unique within a run.")
        prompt_hash, sig_hash = self.fingerprint(module)
        reqs = {t.key: self._key(prompt_hash, sig_hash, t, 0) for t in tasks}
        run_dir = self._run_dir(label, run_id, list(reqs.items()))
        journal = Journal(run_dir, {"label": label, "lm": self.lm_public, "prompt_hash": prompt_hash,
                                    "signature_hash": sig_hash, "items": len(tasks)})
        self.budget.add_journaled(str(run_dir), journal.spent)
        stats = RunStats(items=len(tasks))
        results: dict[str, Outcome] = {}
        if self.rc.use_cache:  # --no-cache: no replay at all
            for t in tasks:
                e = journal.done.get(t.key)
                if e is None or not e.get("ok") or e.get("req") != reqs[t.key]:
                    continue  # failures are never final across runs; a different request is a new call
                if check is not None and check(t, e["output"]) is not None:
                    stats.recheck_failed += 1  # today's check is stricter: decided again below
                    continue
                fields = {k: e.get(k) for k in ("output", "reason", "raw", "attempts", "usage", "retryable")}
                results[t.key] = Outcome(t.key, True, cached=True, meta=t.meta, req=reqs[t.key], **fields)
                stats.resumed += 1
        pending = iter([t for t in tasks if t.key not in results])
        limits = RateLimits(self.rc.rpm, self.rc.tpm)
        progress = RunProgress(label, len(tasks), self.console, enabled=self.rc.progress)
        progress.advance_resumed(stats.resumed, results.values())
        state = {"stop": False}
        t0 = time.perf_counter()

        def finish(out: Outcome) -> None:
            out.req = reqs[out.key]
            results[out.key] = out
            journal.append(out.journal_entry())
            if out.ok:
                stats.keep()
            else:
                stats.reject(out.reason or "")
            progress.update(out, stats)

        async def worker():
            while not state["stop"]:
                if self.budget.exhausted:
                    state["stop"] = True
                    break
                task = next(pending, None)
                if task is None:
                    return
                try:
                    out = await self._process(module, task, check, prompt_hash, sig_hash, limits, stats, journal)
                except BudgetReached:
                    state["stop"] = True
                    break
                finish(out)
            stats.stopped_by_budget = True

        try:
            with dspy.context(lm=self.lm, adapter=self.adapter), progress:
                if getattr(self.executor, "streams", False):  # Ray Data or batches: rounds of one attempt per item
                    from .rounds import run_rounds

                    if run_rounds(self, module, list(pending), check, prompt_hash, sig_hash, stats, journal, finish):
                        stats.stopped_by_budget = True
                else:
                    await asyncio.gather(*[worker() for _ in range(max(1, self.rc.concurrency))])
        finally:
            journal.close()
            await self.transport.aclose()
            stats.wall_ms = int((time.perf_counter() - t0) * 1000)
            self.totals.merge(stats)
        ordered = [results[t.key] for t in tasks if t.key in results]
        stopped = len(ordered) < len(tasks) and stats.stopped_by_budget
        return RunResult(ordered, stats, len(tasks), stopped, run_dir)

    async def _process(self, module, task, check, prompt_hash, sig_hash, limits, stats, journal) -> Outcome:
        acc = Attempts(cost=0.0 if self.priced else None)
        for attempt in range(self.reask.attempts):
            key = self._key(prompt_hash, sig_hash, task, attempt)
            entry = self.cache.get(key) if self.rc.use_cache else None
            if entry is None:
                acc.all_cached = False
                try:
                    entry = await self._call(module, task, acc.feedback, limits, stats, journal)
                except LMCallError as e:
                    return self.failed(task, e, attempt, acc, stats)
                self.cache.put(key, entry)
                acc.add(entry)
            else:
                stats.cache_hits += 1
            out = self.verdict(task, entry, check, attempt, acc, stats)
            if out is not None:
                return out
        raise AssertionError("the last attempt always gives a verdict")

    def failed(self, task: Task, e: LMCallError, attempt: int, acc: Attempts, stats: RunStats) -> Outcome:
        """The call failed for good (retries spent, or an error that no retry fixes): a retryable reject."""
        stats.fail(e.kind)
        return Outcome(task.key, False, reason=f"LLM call failed: {e}", attempts=attempt + 1, usage=acc.usage,
                       cost=acc.cost, retryable=e.transient, meta=task.meta)

    def verdict(self, task: Task, entry: dict, check: Check | None, attempt: int, acc: Attempts,
                stats: RunStats) -> Outcome | None:
        """An answer judged: the outcome, or None when it is re-asked (`acc.feedback` then holds the re-ask)."""
        problem = entry.get("error")
        if problem is None and check is not None:
            problem = check(task, entry["fields"])
        done = dict(raw=entry.get("raw"), attempts=attempt + 1, usage=acc.usage, cost=acc.cost,
                    cached=acc.all_cached, meta=task.meta)
        if problem is None:
            return Outcome(task.key, True, output=entry["fields"], **done)
        stats.invalid_answers += 1
        if self.reask.is_final(problem, attempt):
            return Outcome(task.key, False, reason=self.reask.reason(problem), **done)
        stats.reasks += 1
        acc.feedback = self.reask.turns(entry.get("raw"), problem)
        return None

    def _schema(self, module, task: Task | None = None) -> dict | None:
        """The item's output JSON schema with its grounding (a field that must come from the input may only take the
        values the input offers): the embedded model always decodes under it (bounded lengths), a server gets it
        as `response_format` with `--grounded`; otherwise None."""
        local = self.lm_config.transport == "local"
        if not (local or self.lm_config.grounded):
            return None
        from ..lm.schema import ground_schema, output_schema

        schema = self._per_module("schema", module,
                                  lambda: output_schema(module.predictors()[0].signature, bounded=local))
        return schema if task is None or not task.grounding else ground_schema(schema, task.grounding)

    def _per_module(self, what: str, module, make):
        """A value derived from a module alone, made once per module (the module is held with it, so a freed
        module's id is never reused for another's value)."""
        entry = self._module_cache.get((what, id(module)))
        if entry is None or entry[0] is not module:
            entry = self._module_cache[(what, id(module))] = (module, make())
        return entry[1]

    def _direct(self, module):
        """`direct_predictor(module)`, kept per module (it reads the Signature's fields, which DSPy rebuilds on
        every access)."""
        return self._per_module("direct", module, lambda: direct_predictor(module))

    def _prompt_tokens(self, module, task: Task, feedback: list[dict]) -> int:
        """Input tokens of the request: the Signature's fixed prompt (formatted once per module), the inputs and
        any re-ask turns."""
        def fixed() -> int:
            pred = module.predictors()[0]
            msgs = self.adapter.format(pred.signature, pred.demos, {k: "" for k in task.inputs})
            return sum(estimate_tokens(m["content"]) for m in msgs)

        return (self._per_module("fixed_tokens", module, fixed)
                + sum(estimate_tokens(str(v)) for v in task.inputs.values())
                + sum(estimate_tokens(m["content"]) for m in feedback))

    async def _call(self, module, task: Task, feedback: list[dict], limits: RateLimits, stats: RunStats,
                    journal: Journal) -> dict:
        """One answer (with transport retries): parsed fields, or the parse / truncation error, and the raw text."""
        def retryable(e: LMCallError) -> bool:
            return e.transient and self.health.dead(e) is None

        tokens_in = self._prompt_tokens(module, task, feedback)
        est = tokens_in + self.lm_config.max_tokens
        scope = CallScope(feedback=list(feedback), output_schema=self._schema(module, task))

        async def one_try():
            held = self.budget.reserve(dollars(self.lm_config.model, tokens_in, self.lm_config.max_tokens)
                                       if self.budget.max_cost is not None else None)
            paid = None
            try:
                await limits.acquire(est)
                stats.calls += 1
                try:
                    fields, error = await answer(module, task.inputs, self.engine, self.adapter, self._direct(module))
                except LMCallError as lm_err:
                    why = self.health.dead(lm_err)
                    if why:
                        raise EndpointUnavailable(why) from None
                    raise
                self.health.answered()
                used = (scope.usage.get("prompt_tokens") or 0) + (scope.usage.get("completion_tokens") or 0)
                limits.settle(est, used)
                paid = dollars(self.lm_config.model, scope.usage.get("prompt_tokens") or 0,
                               scope.usage.get("completion_tokens") or 0)
            finally:
                self.budget.settle(held, paid)
            self.count_paid(stats, journal, scope.usage, paid)
            return fields, error, paid

        def on_retry(e: LMCallError) -> None:
            stats.fault(e.kind)

        token = SCOPE.set(scope)
        try:
            fields, error, paid = await with_retries(one_try, self.rc.max_retries, self.rc.backoff_max, retryable,
                                                     on_retry)
        finally:
            SCOPE.reset(token)
        return self.entry(fields, error, scope.raw, scope.usage, scope.finish_reason, paid)

    @staticmethod
    def count_paid(stats: RunStats, journal: Journal, usage: dict, paid: float | None) -> None:
        """A returned call's tokens and dollars in the run's totals; its dollars in the journal (a resumed run's
        budget starts from them)."""
        if paid:
            journal.spend(paid)
        stats.add_usage(usage, paid)

    def entry(self, fields, error, raw, usage, finish_reason, paid) -> dict:
        """What the answer cache keeps for one call; an answer cut off at max_tokens is a parse error."""
        if finish_reason == "length":
            error = (f"the answer was cut off at max_tokens={self.lm_config.max_tokens} (finish_reason=length); "
                     "answer more briefly")
        return {"fields": None if error else fields, "error": error, "raw": raw, "usage": usage,
                "finish_reason": finish_reason, "cost": paid}
