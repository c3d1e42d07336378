"""LLM calls on Ray (#17): the same commands and dataset versions as on a laptop, the calls spread over workers.

The driver (the `mira` process) keeps everything that makes a run trustworthy: the dataset store, the answer cache,
the run journal, the checks and re-asks, RPM / TPM limits and the `--max-cost` budget. It drops items already
answered (cache or journal) before dispatch, and writes each answer to the cache and the journal the moment it comes
back, so a kill -9 of the driver or of a worker loses no answered call and a re-run repeats none. Only the call
itself runs on a worker: formatting the Signature's prompt, the HTTP call to the endpoint(s), parsing the answer:
the client CPU that limits one process (see benchmarks/runner_bench.py).

Workers are Ray actors, each with its own async concurrency; they need only the installed package: the module (its
prompt text included) travels with the job through Ray's object store, and the key of `--api-key-env` is handed to
the actor in memory (never written to the cluster's environment, logs or the runtime env). A worker that dies is
restarted by Ray; the calls it had in flight fail here as `worker lost` and are sent again (those calls were never
answered to us, so nothing answered is repeated). Limits hold cluster-wide because every call passes through the
driver's limiter. Ray is optional: `pip install -e ".[ray]"`.
"""

from __future__ import annotations

import os

from ..ray_connect import connect
from ..lm import transport as tr
from ..lm.config import LMConfig
from ..lm.engine import SCOPE, CallScope

RAY_MISSING = ('--ray needs Ray, an optional extra: pip install -e ".[ray]" (or pip install "ray>=2.9"); '
               "without --ray everything runs in this process.")


class WorkerLost(tr.LMCallError):
    """The Ray worker died with the call in flight; the runner sends it again (to another worker)."""

    transient, kind = True, "worker_lost"


class LLMWorker:
    """One Ray actor: Mira's transport and DSPy LM, making calls for the driver."""

    def __init__(self, lm: LMConfig, key: str | None):
        from ..lm.engine import MiraAsyncEngine, make_dspy_lm
        from .adapter import CachedChatAdapter

        if key:  # this actor's own process only: the variable the driver's config reads its key from
            os.environ[lm.api_key_env or "MIRA_API_KEY"] = key
        self.transport = tr.make_transport(lm)
        self.engine = MiraAsyncEngine(lm, self.transport)
        self.lm = make_dspy_lm(lm, self.transport, self.engine)
        self.adapter = CachedChatAdapter(use_json_adapter_fallback=False)
        self.modules: dict[str, object] = {}

    def pid(self) -> int:
        return os.getpid()

    async def call(self, module_id: str, module_ref: list, inputs: dict, feedback: list, schema: dict | None) -> dict:
        import dspy
        import ray

        from .calls import answer, direct_predictor

        if module_id not in self.modules:
            module = ray.get(module_ref[0])
            self.modules[module_id] = (module, direct_predictor(module))
        scope = CallScope(feedback=feedback, output_schema=schema)
        token = SCOPE.set(scope)
        try:
            with dspy.context(lm=self.lm, adapter=self.adapter):
                module, direct = self.modules[module_id]
                fields, error = await answer(module, inputs, self.engine, self.adapter, direct)
        except tr.LMCallError as e:
            return {"lm_error": [type(e).__name__, str(e), e.status, e.retry_after, getattr(e, "unreachable", False)]}
        finally:
            SCOPE.reset(token)
        return {"fields": fields, "error": error, "raw": scope.raw, "usage": scope.usage,
                "finish_reason": scope.finish_reason}


def _rebuild(kind: str, message: str, status, retry_after, unreachable) -> tr.LMCallError:
    cls = getattr(tr, kind, None)
    if not (isinstance(cls, type) and issubclass(cls, tr.LMCallError)):
        cls = tr.LMCallError
    if cls is tr.ConnectionFailed:
        return cls(message, status, retry_after, unreachable=unreachable)
    return cls(message, status, retry_after)


class RayExecutor:
    """Makes the runner's calls on `workers` Ray actors (round robin), each with `concurrency` calls in flight."""

    def __init__(self, lm: LMConfig, address: str | None = "local", workers: int = 2, concurrency: int = 16):
        ray = connect(address, workers, RAY_MISSING)
        actor = ray.remote(max_restarts=-1, max_task_retries=0, max_concurrency=max(1, concurrency))(LLMWorker)
        self.actors = [actor.remote(lm, lm.api_key()) for _ in range(workers)]
        self.workers, self.concurrency = workers, concurrency
        self._refs: dict[str, list] = {}
        self._next = 0

    def pids(self) -> list[int]:
        import ray

        return ray.get([a.pid.remote() for a in self.actors])

    def _module_ref(self, module) -> tuple[str, list]:
        import ray

        mid = f"{id(module)}:{getattr(module, 'prompt_hash', '')}"
        if mid not in self._refs:
            self._refs[mid] = [ray.put(module)]
        return mid, self._refs[mid]

    async def call(self, module, inputs: dict, scope: CallScope) -> tuple[dict | None, str | None]:
        import ray

        mid, ref = self._module_ref(module)
        actor = self.actors[self._next % len(self.actors)]
        self._next += 1
        try:
            got = await actor.call.remote(mid, ref, inputs, list(scope.feedback), scope.output_schema)
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as e:
            raise WorkerLost(f"Ray worker lost mid-call ({type(e).__name__})") from None
        if "lm_error" in got:
            raise _rebuild(*got["lm_error"])
        scope.raw, scope.usage, scope.finish_reason = got["raw"], got["usage"] or {}, got["finish_reason"]
        return got["fields"], got["error"]
