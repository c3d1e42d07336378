"""Mira's DSPy engine: DSPy formats prompts and parses answers; Mira's transports make the call.

Why our own engine rather than DSPy's default client or `engine="litellm"`: measured here, DSPy's built-in clients
cost 6-15 ms of CPU per call (PERF_NOTES.md), which caps one process near 100 req/s; with this engine a
`Predict.acall` costs ~1 ms of DSPy CPU plus ~0.5 ms for aiohttp. litellm is still used, lazily, for providers that
are not OpenAI-compatible and for its offline cost map. DSPy's own cache and retries are switched off: the runner
owns caching (content-addressed, per re-ask), retries (backoff with jitter, Retry-After) and the resume journal.

The runner talks to the engine through a context variable (`CallScope`): the re-ask feedback to append, and the raw
answer, finish reason and token usage of the call.
"""

from __future__ import annotations

import asyncio

from .config import LMConfig
from .schema import response_format, to_chat_adapter
from .factory import make_transport
from .scope import SCOPE, CallScope  # noqa: F401  (the runner reads them here too)




def _text(parts) -> str:
    if parts is None:
        return ""
    if isinstance(parts, str):
        return parts
    return "".join(getattr(p, "text", "") or "" for p in parts)


def request_to_messages(request) -> list[dict]:
    msgs = []
    if request.system is not None:
        msgs.append({"role": "system", "content": _text(request.system)})
    for m in request.messages:
        role = "user" if m.role == "developer" else m.role
        msgs.append({"role": role, "content": m.text or ""})
    return msgs


def json_to_adapter(text: str, fields: list[str]) -> str:
    """A guided-decoding answer (a JSON object) in ChatAdapter form; anything else is left for DSPy's parser (which
    fails it, and the runner re-asks)."""
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return text
    return to_chat_adapter(data, fields) if isinstance(data, dict) else text


class MiraAsyncEngine:
    """`async complete(Request) -> Response` over a Mira transport."""

    def __init__(self, cfg: LMConfig, transport=None):
        self.cfg = cfg
        self.transport = transport or make_transport(cfg)

    async def complete(self, request):
        from dspy.clients.engines.base import validate_request
        from dspy.lm15 import Message, Response, TextPart, Usage

        validate_request(request)
        overrides = {}
        if request.config.max_tokens:
            overrides["max_tokens"] = request.config.max_tokens
        if request.config.temperature is not None:
            overrides["temperature"] = request.config.temperature
        result = await self.chat(request_to_messages(request), overrides)
        finish = result.finish_reason if result.finish_reason in ("stop", "length", "content_filter") else "stop"
        u = result.usage
        return Response(id=None, model=self.cfg.model, message=Message.assistant([TextPart(result.text)]),
                        finish_reason=finish, usage=Usage(input_tokens=u.get("prompt_tokens"),
                                                          output_tokens=u.get("completion_tokens")))

    async def chat(self, messages: list[dict], overrides: dict | None = None):
        """One call under the current CallScope: its re-ask turns appended, the item's schema sent as
        `response_format` (servers with --grounded; the local model reads it from the scope), the answer (a JSON
        one re-rendered as ChatAdapter fields), finish reason and usage recorded in the scope."""
        scope = SCOPE.get()
        if scope is not None and scope.feedback:
            messages = [*messages, *scope.feedback]
        params = {**self.cfg.params(), **(overrides or {})}
        schema = scope.output_schema if scope is not None and self.cfg.transport != "local" else None
        if schema is not None:
            params["response_format"] = response_format(schema)
        result = await self.transport.chat(messages, params)
        if schema is not None:
            result.text = json_to_adapter(result.text, list(schema["properties"]))
        if scope is not None:
            scope.raw, scope.finish_reason, scope.latency = result.text, result.finish_reason, result.latency
            scope.usage = {k: (scope.usage.get(k) or 0) + (result.usage.get(k) or 0)
                           for k in ("prompt_tokens", "completion_tokens")}
            scope.calls += 1
        return result

    def stream(self, request):
        raise NotImplementedError("Mira's engine does not stream")

    async def aclose(self) -> None:
        await self.transport.aclose()


class MiraSyncEngine:
    """Sync counterpart for plain `module(...)` calls (prompt iteration); each call runs its own event loop."""

    def __init__(self, async_engine: MiraAsyncEngine):
        self.async_engine = async_engine

    def complete(self, request):
        async def once():
            try:
                return await self.async_engine.complete(request)
            finally:
                await self.async_engine.transport.aclose()

        return asyncio.run(once())

    def stream(self, request):
        raise NotImplementedError("Mira's engine does not stream")

    def close(self) -> None:
        pass


def make_dspy_lm(cfg: LMConfig, transport=None, engine: MiraAsyncEngine | None = None):
    """A `dspy.LM` whose calls go through Mira's transport, with DSPy's own cache and retries off."""
    import dspy

    eng = engine or MiraAsyncEngine(cfg, transport)
    return dspy.LM(cfg.model if cfg.model != "local" else "local/smollm2", engine=MiraSyncEngine(eng),
                   async_engine=eng, cache=False, num_retries=0, temperature=cfg.temperature,
                   max_tokens=cfg.max_tokens)
