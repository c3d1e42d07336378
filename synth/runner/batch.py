"""LLM calls through a provider's batch API (#30): the same requests, checks, cache, journal and dataset versions as
online calls, at the batch price.

The runner's loop is the one it runs on Ray (synth/runner/rounds.py): round r holds every item still open at attempt
r; cached answers are judged there and never sent. This executor turns a round into batches:

- each item's request is rendered by the online path itself (the same adapter formats the same messages, the same
  engine adds the re-ask turns, params and the `--grounded` response_format), caught before it would be sent, and
  written as one batch line (OpenAI's `/v1/batches` protocol, or Anthropic's Message Batches);
- lines are cut into batches of at most `--batch-size` requests and the provider's file-size limit; with
  `--max-cost` a batch is cut to what the budget can still reserve (at the batch price), the rest waits for a re-run;
- each batch's id, its input file's sha256 and the hash of every line are written to the run folder's
  `batches.jsonl` the moment it is created, before any wait: a re-run after a kill attaches to it (only for lines
  that are byte-identical to what it would send now) instead of submitting again;
- answers come back through the online parse path (DSPy's adapter on the answer text) and then through the runner's
  own cache, checks, re-asks, journal and rejects. Requests that expired, were cancelled or failed transiently go
  into the next batch, at most `retries` times; then they are retryable rejects. Re-asks are the next round: a
  second, smaller batch, or online calls with `--reask-online`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import pickle
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import InputError, MiraError
from ..lm.config import LMConfig
from ..lm.engine import SCOPE, CallScope, MiraAsyncEngine, make_dspy_lm
from ..lm.transport import LMCallError
from .batch_anthropic import AnthropicBatchAPI
from .batch_log import BatchLog
from .batch_openai import FileBatchAPI, LineResult, OpenAIBatchAPI
from .cost import batch_dollars, batch_prices, dollars

BATCH_WITH_RAY = ("--batch and --ray do not go together: a batch is submitted and awaited by one driver, and the "
                  "provider runs the calls. Drop --ray (or --batch for online calls on Ray).")


class BatchFailed(MiraError):
    """The provider refused a batch as a whole, or could not be reached to submit one; re-running resumes."""


def make_batch_api(cfg: LMConfig, max_retries: int = 6, backoff_max: float = 30.0, folder: str | None = None):
    if folder is not None:
        return FileBatchAPI(cfg, folder)
    if cfg.transport == "http":
        return OpenAIBatchAPI(cfg, max_retries, backoff_max)
    if cfg.model.startswith("anthropic/"):
        return AnthropicBatchAPI(cfg, max_retries, backoff_max)
    if cfg.transport == "local":
        raise InputError("--batch needs a provider's batch API; the embedded model answers in this process. "
                         "Drop --batch, or point --lm / --api-base at a server.")
    raise InputError(f"--batch: no batch API for '{cfg.model}'. Mira batches through OpenAI-compatible servers "
                     "(openai/..., hosted_vllm/... with --api-base) and Anthropic (anthropic/...).")


class _Captured(LMCallError):
    def __init__(self, body: dict):
        super().__init__("captured")
        self.body = body


class _Capture:
    """A transport that records the request the online path would send, and sends nothing."""

    def __init__(self, cfg: LMConfig):
        self.cfg = cfg

    async def chat(self, messages: list[dict], params: dict):
        raise _Captured({"model": self.cfg.wire_model, "messages": messages, **params})

    async def aclose(self) -> None:
        pass


class _Replay:
    """A transport whose answer is the batch's answer for the item being parsed."""

    result = None

    async def chat(self, messages: list[dict], params: dict):
        return self.result

    async def aclose(self) -> None:
        pass


def _run(coro):
    """Runs a coroutine to its end from sync code called inside the runner's event loop (its own loop, in a
    thread)."""
    with ThreadPoolExecutor(1) as ex:
        return ex.submit(asyncio.run, coro).result()


def custom_id(key: str) -> str:
    return "m-" + hashlib.sha256(key.encode()).hexdigest()[:24]  # Anthropic: 1-64 of [A-Za-z0-9_-]


class BatchExecutor:
    """Sends a round of calls as provider batches and hands the answers back as they finish (rounds.py)."""

    streams = True

    def __init__(self, lm: LMConfig, poll: float = 60.0, batch_size: int | None = None, reask_online: bool = False,
                 retries: int = 2, console=None, api=None, max_retries: int = 6, backoff_max: float = 30.0,
                 folder: str | None = None):
        self.lm = lm
        self.api = api or make_batch_api(lm, max_retries, backoff_max, folder)
        self.size = max(1, min(batch_size or self.api.max_requests, self.api.max_requests))
        self.max_bytes = self.api.max_bytes
        self.poll, self.reask_online, self.retries = max(0.0, poll), reask_online, retries
        self.console = console
        self.log: BatchLog | None = None
        self.submitted: list[str] = []  # batch ids this process created
        p = batch_prices(lm.model)
        self.pricing = (None if p is None else "batch prices from litellm's cost map" if p[2]
                        else "batch rate stated as 50% of the online price (the cost map has no batch price)")
        online = dollars(lm.model, 1_000_000, 0), dollars(lm.model, 0, 1_000_000)
        batch = batch_dollars(lm.model, 1_000_000, 0), batch_dollars(lm.model, 0, 1_000_000)
        ratios = [b / o for b, o in zip(batch, online) if o and b is not None]
        self.ratio = max(ratios) if ratios else 1.0  # scales an online worst case to the batch price

    def bind(self, folder: Path) -> None:
        """The run folder (from the runner): where submitted batches are journaled."""
        self.log = BatchLog(Path(folder) / "batches.jsonl")

    @staticmethod
    def price(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        return batch_dollars(model, prompt_tokens, completion_tokens)

    # -- a round ----------------------------------------------------------------------------------------------
    def stream(self, module, rows: list[tuple[str, dict]], rc, budget):
        """`(key, answer)` for each `(key, request)` row, batch by batch as they finish."""
        if not rows:
            return
        if self.log is None:
            raise RuntimeError("BatchExecutor.bind(run folder) first")
        if self.reask_online and any(r["feedback"] for _, r in rows):
            yield from self._online(module, rows, rc, budget)
            return
        rowmap = dict(rows)
        bodies = _run(self._render(module, rows))
        ids = {k: custom_id(k) for k in rowmap}
        lines = {k: json.dumps(self.api.line(ids[k], bodies[k]), ensure_ascii=False,
                               separators=(",", ":")).encode() for k in rowmap}
        sha = {k: hashlib.sha256(v).hexdigest()[:16] for k, v in lines.items()}
        held: dict[str, float] = {}
        faults: dict[str, list] = {k: [] for k in rowmap}
        pending = list(rowmap)
        while pending:
            jobs = self._attach(pending, ids, sha)
            taken = {k for _, ks in jobs for k in ks}
            fresh, refused = self._fit([k for k in pending if k not in taken], rowmap, budget, held, self.ratio)
            for k in refused:
                yield k, {"budget": True, "calls": len(faults[k]), "faults": faults[k]}
            jobs += self._submit(fresh, ids, lines, sha, rc.rpm)
            pending = []
            for keys, results in self._wait(jobs):
                answered = []
                for k in keys:
                    budget.settle(held.pop(k, 0.0), None)  # the runner records what was paid
                    res = results.get(ids[k]) or LineResult(kind="missing", transient=True,
                                                            message="the batch returned no result for this request")
                    if res.answer is not None:
                        answered.append((k, res.answer))
                    elif res.transient and len(faults[k]) < self.retries:
                        faults[k].append(res.kind)
                        pending.append(k)
                    else:
                        kind = "ServerError" if res.transient else "ClientError"
                        yield k, {"lm_error": [kind, f"batch request {res.kind}: {res.message}", res.status, None,
                                               False], "calls": len(faults[k]) + 1, "faults": faults[k]}
                for k, got in _run(self._parse(module, [(k, rowmap[k], a) for k, a in answered])):
                    got.update(calls=len(faults[k]) + 1, faults=faults[k])
                    yield k, got

    def _attach(self, pending: list[str], ids: dict, sha: dict) -> list[tuple[str, list[str]]]:
        """Batches journaled by an earlier (killed) run that hold some of these exact lines: waited on, not sent
        again."""
        jobs, taken = [], set()
        for batch_id, e in self.log.open.items():
            if e.get("provider") != self.api.name:
                continue
            keys = [k for k in pending if k not in taken and e["lines"].get(ids[k]) == sha[k]]
            if keys:
                taken.update(keys)
                jobs.append((batch_id, keys))
                self._say(f"attaching to batch {batch_id} ({len(keys)} of its {e['requests']} requests still "
                          "open): submitted by an earlier run, not sent again")
        return jobs

    @staticmethod
    def _fit(keys: list[str], rowmap: dict, budget, held: dict, ratio: float) -> tuple[list[str], list[str]]:
        """What the budget can reserve (each request's worst case at the batch price), in order; the rest waits."""
        if budget.max_cost is None:
            return keys, []
        for i, k in enumerate(keys):
            est = (rowmap[k].get("est_dollars") or 0.0) * ratio
            if not budget.fits(est):
                return keys[:i], keys[i:]
            held[k] = budget.reserve(est)
        return keys, []

    def _submit(self, keys: list[str], ids: dict, lines: dict, sha: dict,
                rpm: float | None = None) -> list[tuple[str, list[str]]]:
        """Cuts `keys` into batches (request count and file size) and creates them, each journaled at once; with
        `--rpm`, at most that many batch creations a minute."""
        chunks, cur, size = [], [], 0
        for k in keys:
            n = len(lines[k]) + 1
            if cur and (len(cur) >= self.size or size + n > self.max_bytes):
                chunks.append(cur)
                cur, size = [], 0
            cur.append(k)
            size += n
        if cur:
            chunks.append(cur)
        jobs = []
        for i, chunk in enumerate(chunks):
            if i and rpm:
                time.sleep(60.0 / rpm)
            content = b"".join(lines[k] + b"\n" for k in chunk)
            digest = hashlib.sha256(content).hexdigest()
            name = f"mira-{digest[:16]}.jsonl"
            try:
                # killed between creating a batch and journaling it: find it by the name it was given
                found = self.api.find(name) if digest in self.log.unconfirmed and hasattr(self.api, "find") \
                    else None
                if found is None:
                    self.log.submitting(digest)
                batch_id = found or self.api.submit(content, name)
            except LMCallError as e:
                raise BatchFailed(f"Could not submit a batch of {len(chunk)} requests ({e}). Batches already "
                                  "submitted are journaled: re-run the same command to attach to them and submit "
                                  "the rest.") from None
            self.log.submitted(batch_id, self.api.name, digest, {ids[k]: sha[k] for k in chunk})
            self._say(f"{'found batch' if found else 'submitted batch'} {batch_id}: {len(chunk)} requests, "
                      f"{len(content):,} bytes, input sha256 {digest[:12]}"
                      + (" (created by a run killed before it journaled it; not sent again)" if found else ""))
            if not found:
                self.submitted.append(batch_id)
                if hasattr(self.api, "next_step"):
                    self._say(self.api.next_step(batch_id))
            jobs.append((batch_id, chunk))
        return jobs

    def _wait(self, jobs: list[tuple[str, list[str]]]):
        """`(keys, results)` of each batch as it finishes; polls every `poll` seconds with progress lines."""
        waiting = dict(jobs)
        t0, shown = time.monotonic(), {}
        while waiting:
            for batch_id in list(waiting):
                try:
                    st = self.api.retrieve(batch_id)
                except LMCallError as e:
                    if not e.transient:  # e.g. 404: the provider no longer knows it; a re-run submits again
                        self.log.close(batch_id, "unreadable")
                        raise BatchFailed(f"Batch {batch_id} cannot be read ({e}); re-running submits its "
                                          "requests again.") from None
                    self._say(f"batch {batch_id}: status not read ({e}); trying again")
                    continue
                self._progress(batch_id, st, t0, shown)
                if not st.done:
                    continue
                if st.failed:
                    self.log.close(batch_id, "failed")
                    raise BatchFailed(f"The provider failed batch {batch_id} as a whole: {st.errors or 'no reason'}."
                                      " Nothing in it was answered; re-running submits it again.")
                results = self.api.results(st)
                yield waiting.pop(batch_id), results
                self.log.close(batch_id, st.status)
            if waiting:
                time.sleep(self.poll)

    def _progress(self, batch_id: str, st, t0: float, shown: dict) -> None:
        c = st.counts
        line = (f"batch {batch_id}: {st.status}, {c.get('completed', 0)}/{c.get('total', 0)} done, "
                f"{c.get('failed', 0)} failed")
        last = shown.get(batch_id)
        now = time.monotonic()
        if last is None or last[0] != line or now - last[1] >= 60:
            shown[batch_id] = (line, now)
            self._say(f"{line} · {int(now - t0) // 60}m{int(now - t0) % 60:02d}s")

    def _say(self, text: str) -> None:
        """In a terminal: a rich line above the run's progress bar; otherwise a plain line (logs)."""
        if self.console is None:
            return
        if self.console.is_terminal:
            self.console.print(f"[cyan]{text}[/]", highlight=False)
        else:
            print(text, file=sys.stderr, flush=True)

    # -- rendering and parsing: the online path's own ------------------------------------------------------
    def _engine(self, transport):
        from .adapter import CachedChatAdapter

        engine = MiraAsyncEngine(self.lm, transport)
        return engine, make_dspy_lm(self.lm, transport, engine), CachedChatAdapter(use_json_adapter_fallback=False)

    async def _render(self, module, rows: list[tuple[str, dict]]) -> dict[str, dict]:
        import dspy

        from .calls import answer, direct_predictor

        engine, lm, adapter = self._engine(_Capture(self.lm))
        direct, bodies = direct_predictor(module), {}
        with dspy.context(lm=lm, adapter=adapter):
            for key, row in rows:
                token = SCOPE.set(CallScope(feedback=list(row["feedback"]), output_schema=row["schema"]))
                try:
                    await answer(module, row["inputs"], engine, adapter, direct)
                except _Captured as c:
                    bodies[key] = c.body
                finally:
                    SCOPE.reset(token)
                if key not in bodies:
                    raise RuntimeError(f"{type(module).__name__} made no LLM call for item {key}; it cannot run "
                                       "as a batch")
        return bodies

    async def _parse(self, module, items: list) -> list[tuple[str, dict]]:
        import dspy

        from .calls import answer, direct_predictor

        replay = _Replay()
        engine, lm, adapter = self._engine(replay)
        direct, out = direct_predictor(module), []
        with dspy.context(lm=lm, adapter=adapter):
            for key, row, result in items:
                scope = CallScope(feedback=list(row["feedback"]), output_schema=row["schema"])
                token = SCOPE.set(scope)
                replay.result = result
                try:
                    fields, error = await answer(module, row["inputs"], engine, adapter, direct)
                finally:
                    SCOPE.reset(token)
                usage = scope.usage or {}
                out.append((key, {"fields": fields, "error": error, "raw": scope.raw, "usage": usage,
                                  "finish_reason": scope.finish_reason,
                                  "cost": self.price(self.lm.model, usage.get("prompt_tokens") or 0,
                                                     usage.get("completion_tokens") or 0)}))
        return out

    def _online(self, module, rows, rc, budget):
        """`--reask-online`: this round's calls made online (the Ray worker's call path, in this process)."""
        import numpy as np

        from .ray_exec import LLMBatchWorker

        rowmap, held = dict(rows), {}
        keys, refused = self._fit(list(rowmap), rowmap, budget, held, 1.0)
        for k in refused:
            yield k, {"budget": True, "calls": 0, "faults": []}
        if not keys:
            return
        worker = LLMBatchWorker(self.lm, None, module, None, rc.concurrency, rc.max_retries, rc.backoff_max)
        batch = {"key": np.array(keys, dtype=object),
                 "req": np.array([pickle.dumps(rowmap[k]) for k in keys], dtype=object)}

        async def calls():
            try:
                return await worker(batch)
            finally:
                await worker.transport.aclose()

        got = _run(calls())
        for k, res in zip(got["key"], got["res"]):
            budget.settle(held.pop(str(k), 0.0), None)
            yield str(k), pickle.loads(res)
