"""Transports: one chat call, one attempt. Retries, caching and validation belong to the runner.

`HttpTransport` speaks the OpenAI chat-completions protocol over aiohttp (vLLM, Ollama's /v1, LM Studio, hosted
OpenAI): ~0.5 ms of client CPU per call, where httpx-based clients degrade at high concurrency
(../shared/docs/PERF_NOTES.md). `LiteLLMTransport` covers every other provider litellm knows.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from dataclasses import dataclass, field

from ..errors import InputError
from .config import LMConfig


class LMCallError(Exception):
    """One failed attempt. `transient` errors are retried by the runner."""

    transient = False
    kind = "error"

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


class RateLimited(LMCallError):
    transient, kind = True, "rate_limited"


class ServerError(LMCallError):
    transient, kind = True, "server_error"


class CallTimeout(LMCallError):
    transient, kind = True, "timeout"


class ConnectionFailed(LMCallError):
    transient, kind = True, "connection"

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None,
                 unreachable: bool = False):
        super().__init__(message, status, retry_after)
        self.unreachable = unreachable  # refused / unknown host: nothing listens there (vs. a dropped connection)


class ProtocolError(LMCallError):
    """The server answered something that is not a chat completion (malformed or wrong-shaped JSON)."""

    transient, kind = True, "protocol"


class ClientError(LMCallError):
    """4xx other than 429: the request itself is wrong (bad model name, bad key...). Not retried."""

    kind = "client_error"


@dataclass
class ChatResult:
    text: str
    finish_reason: str | None
    usage: dict = field(default_factory=dict)
    latency: float = 0.0


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def parse_completion(body: bytes | str) -> ChatResult:
    try:
        data = json.loads(body)
    except ValueError as e:
        raise ProtocolError(f"malformed JSON body from the server ({e.msg} at {e.pos})") from None
    try:
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
    except (KeyError, IndexError, TypeError, AttributeError):
        keys = ", ".join(data) if isinstance(data, dict) else type(data).__name__
        raise ProtocolError(f"answer is not a chat completion (top-level keys: {keys})") from None
    return ChatResult(text=text, finish_reason=choice.get("finish_reason"), usage=dict(data.get("usage") or {}))


class HttpTransport:
    """OpenAI-compatible chat completions over aiohttp; one session per event loop."""

    def __init__(self, cfg: LMConfig):
        cfg.check_key_transport()
        self.cfg = cfg
        self.url = f"{cfg.base_url}/chat/completions"
        self._sessions: dict[int, object] = {}

    def _session(self):
        import aiohttp

        loop = asyncio.get_running_loop()
        s = self._sessions.get(id(loop))
        if s is None or s.closed:
            headers = {"Content-Type": "application/json"}
            key = self.cfg.api_key()
            if key:
                headers["Authorization"] = f"Bearer {key}"
            s = aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                                      json_serialize=json.dumps)
            self._sessions[id(loop)] = s
        return s

    async def chat(self, messages: list[dict], params: dict) -> ChatResult:
        import aiohttp

        body = {"model": self.cfg.wire_model, "messages": messages, **params}
        t0 = time.perf_counter()
        try:
            async with self._session().post(self.url, json=body,
                                            timeout=aiohttp.ClientTimeout(total=self.cfg.timeout)) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        except asyncio.TimeoutError:
            raise CallTimeout(f"no answer within {self.cfg.timeout:g} s") from None
        except aiohttp.ClientConnectorError as e:  # refused, unknown host, TLS handshake: nothing to talk to
            raise ConnectionFailed(f"cannot connect: {type(e).__name__}: {e}", unreachable=True) from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, ConnectionError) as e:
            raise ConnectionFailed(f"connection failed: {type(e).__name__}: {e}") from None
        if status == 429:
            raise RateLimited("429 rate limited", status, retry_after)
        if status >= 500:
            raise ServerError(f"server error {status}", status, retry_after)
        if status >= 400:
            raise ClientError(f"HTTP {status}: {raw[:300].decode('utf-8', 'replace')}", status)
        result = parse_completion(raw)
        result.latency = time.perf_counter() - t0
        return result

    async def aclose(self) -> None:
        for s in self._sessions.values():
            if not s.closed:
                await s.close()
        self._sessions.clear()


class LiteLLMTransport:
    """Any provider litellm supports (Anthropic, Ollama's native API, Bedrock...)."""

    def __init__(self, cfg: LMConfig):
        import litellm  # loaded only for the providers that need it (it costs ~1 s to import)

        # litellm prints a "Provider List" banner (with raw ANSI codes) for every failed call; our errors say more
        litellm.suppress_debug_info = True
        try:
            litellm.get_llm_provider(cfg.model, api_base=cfg.api_base)
        except litellm.BadRequestError:
            raise InputError(f"litellm cannot tell which provider serves the model '{cfg.model}': prefix it with one, "
                             "e.g. --lm openai/NAME for an OpenAI-compatible --api-base, ollama_chat/NAME, "
                             "anthropic/NAME (https://docs.litellm.ai/docs/providers), or --lm local.") from None
        self.cfg = cfg

    async def chat(self, messages: list[dict], params: dict) -> ChatResult:
        import litellm

        t0 = time.perf_counter()
        try:
            key = self.cfg.api_key()
            if key is None and self.cfg.api_base:
                key = "no-key"  # a placeholder, so litellm does not attach a provider key from the environment
            resp = await litellm.acompletion(model=self.cfg.model, messages=messages, api_base=self.cfg.api_base,
                                             api_key=key, timeout=self.cfg.timeout, num_retries=0, **params)
        except litellm.RateLimitError as e:
            raise RateLimited(str(e)[:300], 429) from None
        except litellm.Timeout as e:
            raise CallTimeout(str(e)[:300]) from None
        except litellm.APIConnectionError as e:
            msg = str(e)
            unreachable = any(w in msg.lower() for w in ("refused", "name or service", "nodename", "cannot connect"))
            raise ConnectionFailed(msg[:300], unreachable=unreachable) from None
        except (litellm.InternalServerError, litellm.ServiceUnavailableError) as e:
            raise ServerError(str(e)[:300], 500) from None
        except (litellm.BadRequestError, litellm.AuthenticationError, litellm.NotFoundError) as e:
            raise ClientError(str(e)[:300], getattr(e, "status_code", 400)) from None
        choice = resp.choices[0]
        usage = dict(getattr(resp, "usage", None) or {})
        return ChatResult(text=choice.message.content or "", finish_reason=choice.finish_reason,
                          usage={k: usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")},
                          latency=time.perf_counter() - t0)

    async def aclose(self) -> None:
        pass


class MultiTransport:
    """Several endpoints serving one model (`--api-base` given more than once). Each call goes to the healthy
    endpoint with the fewest calls in flight; an endpoint that fails transiently (refused, timeout, 429, 5xx) is
    backed off (1 s, doubling up to 60 s) and the call is sent at once to the next one, so the others carry on. Only
    when every endpoint has failed the call does the error reach the runner (which retries it with its own backoff).
    A client error (400 / 401 / 404) is the request's own fault and is raised as is."""

    def __init__(self, parts: list, names: list[str]):
        self.parts, self.names = parts, names
        self.inflight = [0] * len(parts)
        self.fails = [0] * len(parts)
        self.until = [0.0] * len(parts)
        self.served = [0] * len(parts)

    def _pick(self, tried: set[int]) -> int | None:
        now = time.monotonic()
        left = [i for i in range(len(self.parts)) if i not in tried]
        if not left:
            return None
        healthy = [i for i in left if self.until[i] <= now]
        return min(healthy or left, key=lambda i: (self.until[i] > now, self.inflight[i], self.served[i], i))

    async def chat(self, messages: list[dict], params: dict) -> ChatResult:
        tried: set[int] = set()
        while True:
            i = self._pick(tried)
            self.inflight[i] += 1
            try:
                result = await self.parts[i].chat(messages, params)
            except LMCallError as e:
                if not e.transient:
                    raise
                self.fails[i] += 1
                self.until[i] = time.monotonic() + min(60.0, 2.0 ** (self.fails[i] - 1))
                tried.add(i)
                if len(tried) == len(self.parts):
                    raise
                continue
            finally:
                self.inflight[i] -= 1
            self.fails[i], self.until[i] = 0, 0.0
            self.served[i] += 1
            return result

    async def aclose(self) -> None:
        for p in self.parts:
            await p.aclose()
