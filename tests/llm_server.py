"""A local OpenAI-compatible chat-completions server for tests and benchmarks: real HTTP on 127.0.0.1.

Answers are scripted by rules keyed on prompt content; with no matching rule the server answers any DSPy
ChatAdapter prompt by itself (it reads the output fields and their types from the system message). Latency,
a concurrency cap and fault injection (429 with and without Retry-After, 500, 503, hangs, connection resets,
400 / 401 / 403 / 404 (by rule only),
malformed JSON bodies, truncated output, valid JSON of the wrong shape) are configurable.

In tests: the `llm_server` fixture (tests/conftest.py). As a script, for benchmarks:

    python tests/llm_server.py --port 0 --latency 0.2 --concurrency 64 [--fault-rate 0.2]

prints `PORT <n>` once it listens, then serves until killed (or for --max-seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)  # injected resets are expected
FAULTS = ("429", "429_retry_after", "500", "503", "hang", "reset", "malformed", "truncated", "wrong_shape")
_FIELD_RE = re.compile(r"^\d+\. `(\w+)` \(([^)]*)\)", re.M)


def render_fields(fields: dict[str, Any]) -> str:
    """A DSPy ChatAdapter answer: `[[ ## name ## ]]` blocks and the completed marker."""
    parts = []
    for k, v in fields.items():
        parts.append(f"[[ ## {k} ## ]]\n{v if isinstance(v, str) else json.dumps(v)}")
    return "\n\n".join(parts + ["[[ ## completed ## ]]"])


def _default_value(type_name: str) -> Any:
    t = type_name.lower()
    if t.startswith(("list", "tuple")):
        return ["item"]
    if t.startswith("dict"):
        return {}
    if t in ("int",):
        return 1
    if t in ("float",):
        return 0.5
    if t in ("bool",):
        return True
    if t.startswith("literal["):
        return re.findall(r"'([^']*)'", type_name)[0]
    return "text"


def auto_answer(messages: list[dict]) -> str:
    """Answer a DSPy ChatAdapter prompt with a type-correct value for every output field."""
    system = next((m["content"] for m in messages if m.get("role") == "system"), "")
    outputs = system.split("Your output fields are:", 1)[-1].split("All interactions", 1)[0]
    return render_fields({name: _default_value(t) for name, t in _FIELD_RE.findall(outputs)})


def parse_fields(text: str) -> dict[str, Any]:
    """The fields of a ChatAdapter answer (JSON values decoded where they parse)."""
    out = {}
    for name, value in re.findall(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n*\[\[ ## |\Z)", text, re.S):
        if name == "completed":
            continue
        try:
            out[name] = json.loads(value)
        except ValueError:
            out[name] = value.strip()
    return out


def _resolve(node: dict, root: dict) -> dict:
    ref = node.get("$ref")
    return root["$defs"][ref.rsplit("/", 1)[1]] if isinstance(ref, str) else node


def guide(value: Any, node: dict, root: dict) -> Any:
    """What a guided decoder (vLLM's response_format) lets through: an enum value outside the enum becomes the first
    allowed one, lists are cut / padded to their item bounds, objects keep only their declared properties."""
    node = _resolve(node, root)
    if "enum" in node:
        return value if value in node["enum"] else node["enum"][0]
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        items = [guide(v, node["items"], root) for v in (value if isinstance(value, list) else [])]
        items = items[: node.get("maxItems", len(items))]
        while len(items) < node.get("minItems", 0):
            items.append(guide(None, node["items"], root))
        return items
    if node.get("type") == "object" and isinstance(node.get("properties"), dict):
        value = value if isinstance(value, dict) else {}
        return {k: guide(value.get(k), sub, root) for k, sub in node["properties"].items()}
    return value if value is not None else ("" if node.get("type") == "string" else 0)


def guided_answer(text: str, schema: dict) -> str:
    return json.dumps(guide(parse_fields(text), schema, schema))


@dataclass
class Rule:
    """When `match` occurs in the prompt text: answer `text` / `fields` / `fn(messages)`, or inject `fault`.

    `times` limits how often the rule fires (None: always); later requests fall through to the next rule.
    """

    match: str = ""
    text: str | None = None
    fields: dict | None = None
    fn: Callable[[list[dict]], str] | None = None
    fault: str | None = None
    times: int | None = None
    retry_after: float = 1.0
    fired: int = 0


@dataclass
class ServerState:
    latency: float = 0.0
    concurrency: int = 64
    fault_rate: float = 0.0
    hang_seconds: float = 30.0
    seed: int = 0
    rules: list[Rule] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each request
    counts: Counter = field(default_factory=Counter)
    keep_bodies: bool = True

    def __post_init__(self):
        self.rng = random.Random(self.seed)


class LLMServer:
    """The server; `start()` runs it in a background thread (tests), `serve()` in the current loop (script)."""

    def __init__(self, **kwargs):
        self.state = ServerState(**kwargs)
        self.port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._sem: asyncio.Semaphore | None = None

    # -- configuration --------------------------------------------------------------------------------------
    def add(self, match: str = "", **kwargs) -> Rule:
        rule = Rule(match=match, **kwargs)
        self.state.rules.append(rule)
        return rule

    def reset(self) -> None:
        self.state.rules.clear()
        self.state.requests.clear()
        self.state.headers.clear()
        self.state.arrivals.clear()
        self.state.counts.clear()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def calls(self) -> int:
        return self.state.counts["requests"]

    # -- HTTP -----------------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        st = self.state
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return web.json_response({"error": {"message": "invalid JSON request"}}, status=400)
        messages = body.get("messages") or []
        prompt = "\n".join(str(m.get("content", "")) for m in messages)
        st.counts["requests"] += 1
        st.arrivals.append(time.monotonic())
        if st.keep_bodies:
            st.requests.append(body)
            st.headers.append(dict(request.headers))
        async with self._sem:
            if st.latency:
                await asyncio.sleep(st.latency)
            rule = self._rule_for(prompt)
            fault = rule.fault if rule else None
            if fault is None and st.fault_rate and st.rng.random() < st.fault_rate:
                fault = st.rng.choice(FAULTS)
            if fault:
                st.counts[f"fault:{fault}"] += 1
                st.counts["faults"] += 1
                resp = await self._fault(fault, request, rule)
                if resp is not None:
                    return resp
            text = self._answer(rule, messages)
            rf = body.get("response_format") or {}
            if rf.get("type") == "json_schema":  # guided decoding: the answer follows the schema
                text = guided_answer(text, rf["json_schema"]["schema"])
            finish = "stop"
            if fault == "truncated":
                text, finish = text[: max(1, len(text) // 2)], "length"
            st.counts["answered"] += 1
        usage = {"prompt_tokens": max(1, len(prompt) // 4), "completion_tokens": max(1, len(text) // 4)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return web.json_response({
            "id": f"cmpl-{st.counts['requests']}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "test"), "usage": usage,
            "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": text}}]})

    def _rule_for(self, prompt: str) -> Rule | None:
        for rule in self.state.rules:
            if rule.match in prompt and (rule.times is None or rule.fired < rule.times):
                rule.fired += 1
                return rule
        return None

    def _answer(self, rule: Rule | None, messages: list[dict]) -> str:
        if rule and rule.fn:
            return rule.fn(messages)
        if rule and rule.text is not None:
            return rule.text
        if rule and rule.fields is not None:
            return render_fields(rule.fields)
        return auto_answer(messages)

    async def _fault(self, fault: str, request: web.Request, rule: Rule | None) -> web.StreamResponse | None:
        err = {"error": {"message": f"injected {fault}", "type": "test"}}
        if fault == "429":
            return web.json_response(err, status=429)
        if fault == "429_retry_after":
            return web.json_response(err, status=429, headers={"Retry-After": str(rule.retry_after if rule else 1)})
        if fault in ("400", "401", "403", "404", "500", "503"):  # 4xx only when a rule asks for them
            return web.json_response(err, status=int(fault))
        if fault == "hang":
            await asyncio.sleep(self.state.hang_seconds)
            return web.json_response(err, status=504)
        if fault == "reset":
            request.transport.abort() if request.transport else None
            raise ConnectionResetError("injected reset")
        if fault == "malformed":
            return web.Response(text='{"id": "x", "choices": [{"message": {"content": "unterminated',
                                content_type="application/json")
        if fault == "wrong_shape":
            return web.json_response({"result": "ok", "data": [1, 2, 3]})
        return None  # truncated: answered below with finish_reason=length

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for path in ("/v1/chat/completions", "/chat/completions"):
            app.router.add_post(path, self._handle)
        return app

    async def _start_site(self, port: int = 0) -> None:
        self._sem = asyncio.Semaphore(self.state.concurrency)
        self._runner = web.AppRunner(self._app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, backlog=4096)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> "LLMServer":
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._start_site())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="llm-test-server")
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("test LLM server did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._runner:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


async def _serve(args) -> None:
    server = LLMServer(latency=args.latency, concurrency=args.concurrency, fault_rate=args.fault_rate,
                       hang_seconds=args.hang_seconds, seed=args.seed, keep_bodies=False)
    if args.scripted:  # the tests' cooperative scripts answer every stage, generator and the judge
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.scripted import answer

        server.add("", fn=answer)
    await server._start_site(args.port)
    print(f"PORT {server.port}", flush=True)
    stats_every = time.time()
    deadline = time.time() + args.max_seconds
    while time.time() < deadline:
        await asyncio.sleep(0.5)
        if args.stats_file and time.time() - stats_every > 0.5:
            stats_every = time.time()
            with open(args.stats_file, "w") as fh:
                json.dump(dict(server.state.counts), fh)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--fault-rate", type=float, default=0.0)
    ap.add_argument("--hang-seconds", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=3600, help="stop by itself after this long")
    ap.add_argument("--stats-file", default=None, help="write request / fault counts here twice a second")
    ap.add_argument("--scripted", action="store_true", help="answer with the tests' cooperative scripts (stages, "
                    "JD–CV generators, judge) instead of schema defaults")
    asyncio.run(_serve(ap.parse_args()))


if __name__ == "__main__":
    main()
