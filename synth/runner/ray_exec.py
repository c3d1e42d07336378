"""LLM calls on Ray Data (#17): the same commands and dataset versions as on a laptop, the calls spread over workers.

The driver (the `mira` process) keeps everything that makes a run trustworthy: the dataset store, the answer cache,
the run journal, the checks and re-asks (synth/runner/rounds.py). It drops items already answered (cache or journal)
before dispatch and ships the rest, one attempt per item, as a Ray dataset mapped by a pool of N runner actors
(`map_batches` with an actor pool; each actor keeps `concurrency` calls in flight with its own event loop). Answers
stream back and are written to the cache and the journal as they arrive, so a kill -9 of the driver or of a worker
loses no answered call and a re-run repeats none. A worker that dies is replaced by Ray Data, which sends the block
it held to another worker: only calls whose answers never reached the driver are made again.

On the worker runs only the call: formatting the Signature's prompt, the HTTP call to the endpoint(s) with transport
retries (backoff with full jitter, Retry-After honoured), parsing the answer. RPM / TPM limits and the `--max-cost`
ledger hold cluster-wide: every try first asks one limiter actor (`Gate`), whose budget is the driver's at dispatch.

Workers need only the installed package: the module (its prompt text included) travels with the job, and the key of
`--api-key-env` is handed to the actors in memory (never written to the cluster's environment, logs or runtime env).
Ray is optional: `pip install -e ".[ray]"`.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import time
from typing import Iterator

from ..lm import transport as tr
from ..lm.factory import make_transport
from ..lm.config import LMConfig, strip_credentials
from ..lm.engine import SCOPE, CallScope
from ..ray_connect import connect, quiet_data_context
from .budget import Budget, BudgetReached
from .calls import endpoint_problem, with_retries
from .cost import dollars
from .limits import RateLimits

RAY_MISSING = ('--ray needs Ray, an optional extra: pip install -e ".[ray]" (or pip install "ray[data]>=2.60"); '
               "without --ray everything runs in this process.")


class Gate:
    """The cluster's one limiter actor: RPM / TPM buckets and the `--max-cost` reservation ledger for every try."""

    def __init__(self, rpm: float | None, tpm: float | None):
        self.limits = RateLimits(rpm, tpm)
        self.budget = Budget(None)
        self.stopped = False

    def sync(self, max_cost: float | None, spent: float) -> None:
        """The driver's ledger at dispatch (what earlier stages and resumed runs spent)."""
        self.budget = Budget(max_cost)
        self.budget.spent, self.stopped = spent, False

    async def acquire(self, est_tokens: int, est_dollars: float | None) -> float | None:
        """The reservation held for this try, or None when it does not fit the budget (and nothing later does)."""
        if self.stopped or not self.budget.fits(est_dollars):
            self.stopped = True
            return None
        held = self.budget.reserve(est_dollars)
        await self.limits.acquire(est_tokens)
        return held

    def settle(self, est_tokens: int, used: int | None, held: float, paid: float | None) -> None:
        self.limits.settle(est_tokens, used)
        self.budget.settle(held, paid)


class LLMBatchWorker:
    """A Ray Data UDF: Mira's transport and DSPy adapter in one actor; a batch of `{key, req}` rows -> `{key, res}`,
    each `res` the pickled answer of one try sequence (fields or parse error, raw text, usage, cost, faults)."""

    def __init__(self, lm: LMConfig, key: str | None, module, gate, concurrency: int, max_retries: int,
                 backoff_max: float):
        from ..lm.engine import MiraAsyncEngine, make_dspy_lm
        from .adapter import CachedChatAdapter
        from .calls import direct_predictor

        if key:  # this actor's own process only: the variable the driver's config reads its key from
            os.environ[lm.api_key_env or "MIRA_API_KEY"] = key
        self.cfg = lm
        self.transport = make_transport(lm)
        self.engine = MiraAsyncEngine(lm, self.transport)
        self.lm = make_dspy_lm(lm, self.transport, self.engine)
        self.adapter = CachedChatAdapter(use_json_adapter_fallback=False)
        self.module, self.direct = module, direct_predictor(module)
        self.gate, self.concurrency = gate, max(1, concurrency)
        self.max_retries, self.backoff_max = max_retries, backoff_max
        self.served = False
        self._sem: asyncio.Semaphore | None = None

    async def __call__(self, batch: dict) -> dict:
        import numpy as np

        if self._sem is None:  # made on the loop that runs the batches
            self._sem = asyncio.Semaphore(self.concurrency)
        got = await asyncio.gather(*[self._guarded(pickle.loads(r)) for r in batch["req"]])
        return {"key": batch["key"], "res": np.array([pickle.dumps(g) for g in got], dtype=object)}

    async def _guarded(self, req: dict) -> dict:
        async with self._sem:
            return await self._tries(req)

    async def _tries(self, req: dict) -> dict:
        faults: list[str] = []

        def retryable(e: tr.LMCallError) -> bool:
            dead = not self.served and endpoint_problem(e, strip_credentials(self.cfg.base_url), self.cfg.model)
            return e.transient and not dead

        try:
            out = await with_retries(lambda: self._try(req), self.max_retries, self.backoff_max, retryable,
                                     lambda e: faults.append(e.kind))
        except BudgetReached:  # the gate refused the try: not sent
            return {"budget": True, "calls": len(faults), "faults": faults}
        except tr.LMCallError as e:
            return {"lm_error": [type(e).__name__, str(e), e.status, e.retry_after, getattr(e, "unreachable", False)],
                    "calls": len(faults) + 1, "faults": faults}
        out.update(calls=len(faults) + 1, faults=faults)
        return out

    async def _try(self, req: dict) -> dict:
        """One try: a reservation from the gate, the call, the gate settled with what it used."""
        import dspy

        from .calls import answer

        est, held = req["est_tokens"], 0.0
        if self.gate is not None:
            held = await self.gate.acquire.remote(est, req["est_dollars"])
            if held is None:
                raise BudgetReached()
        scope = CallScope(feedback=req["feedback"], output_schema=req["schema"])
        token = SCOPE.set(scope)
        try:
            with dspy.context(lm=self.lm, adapter=self.adapter):
                fields, error = await answer(self.module, req["inputs"], self.engine, self.adapter, self.direct)
        except tr.LMCallError:
            if self.gate is not None:
                self.gate.settle.remote(est, None, held, None)
            raise
        finally:
            SCOPE.reset(token)
        self.served = True
        usage = scope.usage or {}
        paid = dollars(self.cfg.model, usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)
        if self.gate is not None:
            used = (usage.get("prompt_tokens") or 0) + (usage.get("completion_tokens") or 0)
            self.gate.settle.remote(est, used, held, paid)
        return {"fields": fields, "error": error, "raw": scope.raw, "usage": usage, "cost": paid,
                "finish_reason": scope.finish_reason}


def rebuild_error(kind: str, message: str, status, retry_after, unreachable) -> tr.LMCallError:
    """The worker's final LMCallError, as the driver would have raised it."""
    cls = getattr(tr, kind, None)
    if not (isinstance(cls, type) and issubclass(cls, tr.LMCallError)):
        cls = tr.LMCallError
    if cls is tr.ConnectionFailed:
        return cls(message, status, retry_after, unreachable=unreachable)
    return cls(message, status, retry_after)


class RayExecutor:
    """Sends a round of calls as a Ray dataset to `workers` runner actors, `concurrency` calls in flight each."""

    streams = True  # the runner dispatches in rounds through `stream` (synth/runner/rounds.py)

    def __init__(self, lm: LMConfig, address: str | None = "local", workers: int = 2, concurrency: int = 16):
        connect(address, workers, RAY_MISSING)
        self.lm, self.key = lm, lm.api_key()
        self.workers, self.concurrency = workers, max(1, concurrency)
        self.first_answers: list[float] = []  # perf_counter() of each dataset's first answer (its pool is up)
        self._gates: dict[tuple, object] = {}

    def _gate(self, rpm: float | None, tpm: float | None, budget: Budget):
        """The limiter actor for these limits (one per command), synced with the driver's ledger; None when there
        is nothing to limit."""
        if not (rpm or tpm or budget.max_cost is not None):
            return None
        import ray

        if (rpm, tpm) not in self._gates:
            self._gates[(rpm, tpm)] = ray.remote(num_cpus=0)(Gate).remote(rpm, tpm)
        gate = self._gates[(rpm, tpm)]
        ray.get(gate.sync.remote(budget.max_cost, budget.spent))
        return gate

    def stream(self, module, rows: list[tuple[str, dict]], rc, budget: Budget) -> Iterator[tuple[str, dict]]:
        """`(key, answer)` for each `(key, request)` row, as workers finish them (any order)."""
        import ray
        from ray.data import ActorPoolStrategy

        if not rows:
            return
        quiet_data_context()
        gate = self._gate(rc.rpm, rc.tpm, budget)
        blocks = -(-len(rows) // self.concurrency)
        ds = ray.data.from_items([{"key": k, "req": pickle.dumps(r)} for k, r in rows], override_num_blocks=blocks)
        ds = ds.map_batches(LLMBatchWorker, fn_constructor_kwargs={
            "lm": self.lm, "key": self.key, "module": module, "gate": gate, "concurrency": self.concurrency,
            "max_retries": rc.max_retries, "backoff_max": rc.backoff_max},
            batch_size=self.concurrency, batch_format="numpy", num_cpus=1, zero_copy_batch=True,
            compute=ActorPoolStrategy(size=min(self.workers, blocks), max_concurrent_calls_per_actor=2))
        for i, batch in enumerate(ds.iter_batches(batch_size=None, batch_format="numpy")):
            if i == 0:
                self.first_answers.append(time.perf_counter())
            for key, res in zip(batch["key"], batch["res"]):
                yield str(key), pickle.loads(res)
