"""Anthropic's Message Batches API, through its documented HTTP shapes (litellm's batch calls cover retrieving an
Anthropic batch but not creating one, so Mira speaks the API itself):

    POST /v1/messages/batches {"requests": [{"custom_id", "params": <a Messages API request>}]}
    GET  /v1/messages/batches/{id} -> processing_status in_progress | canceling | ended, request_counts
         {processing, succeeded, errored, canceled, expired}, results_url
    GET  results_url -> JSONL {"custom_id", "result": {"type": succeeded | errored | canceled | expired, ...}}

The request is the one the runner would send online, in the Messages API's shape: system messages become `system`,
the rest `messages`, with the same temperature and max_tokens. Keys follow Mira's rules: `--api-key-env NAME` for a
custom `--api-base`; the provider's own endpoint gets MIRA_API_KEY or ANTHROPIC_API_KEY.
"""

from __future__ import annotations

import json
import os

from ..errors import InputError
from ..lm.config import LMConfig
from ..lm.transport import ChatResult, LMCallError
from .batch_openai import BatchStatus, HttpClient, LineResult

DEFAULT_BASE = "https://api.anthropic.com"
VERSION = "2023-06-01"


def anthropic_key(cfg: LMConfig) -> str | None:
    if cfg.api_key_env:
        return os.environ.get(cfg.api_key_env) or None
    if cfg.api_base:
        return None
    return os.environ.get("MIRA_API_KEY") or os.environ.get("ANTHROPIC_API_KEY") or None


class AnthropicBatchAPI:
    name = "anthropic"
    max_requests = 100_000  # per batch, as documented
    max_bytes = 256 * 1024 * 1024

    def __init__(self, cfg: LMConfig, max_retries: int = 6, backoff_max: float = 30.0):
        if cfg.grounded:
            raise InputError("--grounded sends a JSON schema as response_format, which Anthropic's Message Batches "
                             "do not take; drop --grounded with an anthropic/ model.")
        cfg.check_key_transport()
        key = anthropic_key(cfg)
        base = (cfg.api_base or DEFAULT_BASE).rstrip("/")
        base = base[: -len("/v1")] if base.endswith("/v1") else base
        headers = {"anthropic-version": VERSION, **({"x-api-key": key} if key else {})}
        self.model = cfg.model.split("/", 1)[1]
        self.http = HttpClient(base, headers, cfg.timeout, max_retries, backoff_max)

    def line(self, custom_id: str, body: dict) -> dict:
        system = "\n\n".join(m["content"] for m in body["messages"] if m["role"] == "system")
        params = {"model": self.model, "max_tokens": body.get("max_tokens", 1024),
                  "messages": [{"role": m["role"], "content": m["content"]} for m in body["messages"]
                               if m["role"] != "system"]}
        if system:
            params["system"] = system
        for k in ("temperature", "top_p", "stop_sequences"):
            if k in body:
                params[k] = body[k]
        return {"custom_id": custom_id, "params": params}

    def submit(self, content: bytes, name: str) -> str:
        requests = [json.loads(x) for x in content.decode().splitlines() if x.strip()]
        return self.http.request("POST", "/v1/messages/batches", json={"requests": requests}).json()["id"]

    def retrieve(self, batch_id: str) -> BatchStatus:
        b = self.http.request("GET", f"/v1/messages/batches/{batch_id}").json()
        rc = b.get("request_counts") or {}
        failed = sum(rc.get(k, 0) for k in ("errored", "canceled", "expired"))
        counts = {"total": sum(rc.values()), "completed": rc.get("succeeded", 0), "failed": failed}
        status = b.get("processing_status", "?")
        return BatchStatus(status, status == "ended", False, counts, "", b)

    def results(self, st: BatchStatus) -> dict[str, LineResult]:
        url = st.raw.get("results_url")
        out: dict[str, LineResult] = {}
        if not url:
            return out
        for n, raw in enumerate(self.http.request("GET", url).text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                d = json.loads(raw)
                cid, res = d["custom_id"], d["result"]
            except (ValueError, KeyError, TypeError):
                raise LMCallError(f"batch results line {n} is not a result line: {raw[:200]}") from None
            kind = res.get("type")
            if kind == "succeeded":
                msg = res.get("message") or {}
                text = "".join(b.get("text", "") for b in msg.get("content") or [] if b.get("type") == "text")
                u = msg.get("usage") or {}
                out[cid] = LineResult(answer=ChatResult(
                    text=text, finish_reason="length" if msg.get("stop_reason") == "max_tokens" else "stop",
                    usage={"prompt_tokens": u.get("input_tokens"), "completion_tokens": u.get("output_tokens")}))
            else:
                err = (res.get("error") or {}).get("error") or res.get("error") or {}
                etype = str(err.get("type") or kind)
                transient = kind in ("expired", "canceled") or etype in ("overloaded_error", "api_error",
                                                                         "rate_limit_error")
                out[cid] = LineResult(kind=f"batch_{kind}", message=str(err.get("message") or kind)[:300],
                                      transient=transient)
        return out

    def close(self) -> None:
        self.http.close()
