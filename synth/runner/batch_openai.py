"""OpenAI's Batch API, as OpenAI documents it and as servers that implement it serve it (`/v1/files` +
`/v1/batches`): upload a JSONL file of request lines (`purpose=batch`), create a batch over it (24 h window), poll it
(validating -> in_progress -> finalizing -> completed; or failed / expired / cancelling / cancelled), then read its
output file (answered lines) and error file (failed or expired lines). One line:
`{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": <the online request body>}`.

The HTTP calls are few (one upload, one create, a poll every `--poll` seconds, two downloads), so a plain sync httpx
client is enough; transient failures (429 with Retry-After, 5xx, timeouts, connection errors) are retried with the
runner's backoff.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from ..lm.config import LMConfig, strip_credentials
from ..lm.transport import (CallTimeout, ChatResult, ClientError, ConnectionFailed, LMCallError, RateLimited,
                            ServerError, parse_completion, parse_retry_after)
from .calls import backoff

ENDPOINT = "/v1/chat/completions"


@dataclass
class BatchStatus:
    """A provider's batch, normalised: `done` once no request will change any more; `failed` when the batch as a
    whole was refused (nothing in it was answered)."""

    status: str
    done: bool
    failed: bool = False
    counts: dict = field(default_factory=dict)  # total / completed / failed (OpenAI's names)
    errors: str = ""
    raw: dict = field(default_factory=dict)


@dataclass
class LineResult:
    """One request's result: an answer, or an error (`transient`: worth sending again in the next batch)."""

    answer: ChatResult | None = None
    kind: str = ""
    message: str = ""
    status: int | None = None
    transient: bool = False


class HttpClient:
    """Sync JSON / file HTTP with the runner's retry rule for the batch endpoints."""

    def __init__(self, base: str, headers: dict, timeout: float, max_retries: int = 6, backoff_max: float = 30.0):
        import httpx

        self.base = base.rstrip("/")
        self.client = httpx.Client(headers=headers, timeout=timeout)
        self.max_retries, self.backoff_max = max_retries, backoff_max

    def request(self, method: str, path: str, **kw):
        import httpx

        url = path if path.startswith("http") else f"{self.base}{path}"
        tries = 0
        while True:
            tries += 1
            try:
                resp = self.client.request(method, url, **kw)
                err = _error(resp)
            except httpx.TimeoutException:
                err = CallTimeout(f"{method} {strip_credentials(url)}: no answer in time")
            except httpx.ConnectError as e:
                err = ConnectionFailed(f"cannot connect to {strip_credentials(url)}: {e}", unreachable=True)
            except httpx.TransportError as e:
                err = ConnectionFailed(f"{method} {strip_credentials(url)}: {type(e).__name__}: {e}")
            if err is None:
                return resp
            if not err.transient or tries > self.max_retries or getattr(err, "unreachable", False):
                raise err
            time.sleep(err.retry_after if err.retry_after is not None else backoff(tries, self.backoff_max))

    def close(self) -> None:
        self.client.close()


def _error(resp) -> LMCallError | None:
    s = resp.status_code
    if s < 400:
        return None
    text = resp.text[:300]
    if s == 429:
        return RateLimited(f"429 rate limited: {text}", s, parse_retry_after(resp.headers.get("Retry-After")))
    if s >= 500:
        return ServerError(f"server error {s}: {text}", s, parse_retry_after(resp.headers.get("Retry-After")))
    return ClientError(f"HTTP {s}: {text}", s)


class OpenAIBatchAPI:
    """The `/v1/files` + `/v1/batches` protocol at the LM's `--api-base` (OpenAI by default for openai/ models)."""

    name = "openai"
    max_requests = 50_000  # per batch, as documented
    max_bytes = 200 * 1024 * 1024  # per input file, as documented

    def __init__(self, cfg: LMConfig, max_retries: int = 6, backoff_max: float = 30.0):
        cfg.check_key_transport()
        headers = {"Authorization": f"Bearer {key}"} if (key := cfg.api_key()) else {}
        self.base = cfg.base_url
        root = self.base[: -len("/v1")] if self.base.endswith("/v1") else self.base
        self.http = HttpClient(root, headers, cfg.timeout, max_retries, backoff_max)
        self.prefix = "/v1" if self.base.endswith("/v1") else ""

    def line(self, custom_id: str, body: dict) -> dict:
        return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}

    def submit(self, content: bytes, name: str) -> str:
        """Uploads the JSONL file and creates the batch over it; its id."""
        up = self.http.request("POST", f"{self.prefix}/files", data={"purpose": "batch"},
                               files={"file": (name, content, "application/jsonl")})
        file_id = up.json()["id"]
        made = self.http.request("POST", f"{self.prefix}/batches", json={
            "input_file_id": file_id, "endpoint": ENDPOINT, "completion_window": "24h",
            "metadata": {"mira_input": name}})
        return made.json()["id"]

    def find(self, name: str) -> str | None:
        """A batch this client created for the input file `name` (its metadata) that did not fail, if the
        provider still lists it among the last 100."""
        listed = self.http.request("GET", f"{self.prefix}/batches", params={"limit": 100}).json()
        for b in listed.get("data") or []:
            if (b.get("metadata") or {}).get("mira_input") == name and b.get("status") != "failed":
                return b["id"]
        return None

    def retrieve(self, batch_id: str) -> BatchStatus:
        b = self.http.request("GET", f"{self.prefix}/batches/{batch_id}").json()
        status = b.get("status", "?")
        rc = b.get("request_counts") or {}
        errors = "; ".join(str(e.get("message", e)) for e in ((b.get("errors") or {}).get("data") or []))
        return BatchStatus(status, status in ("completed", "expired", "cancelled", "failed"), status == "failed",
                           {k: rc.get(k, 0) for k in ("total", "completed", "failed")}, errors, b)

    def results(self, st: BatchStatus) -> dict[str, LineResult]:
        out: dict[str, LineResult] = {}
        for key in ("output_file_id", "error_file_id"):
            file_id = st.raw.get(key)
            if not file_id:
                continue
            text = self.http.request("GET", f"{self.prefix}/files/{file_id}/content").text
            for n, raw in enumerate(text.splitlines(), 1):
                if raw.strip():
                    cid, res = parse_line(raw, n)
                    out[cid] = res
        return out

    def close(self) -> None:
        self.http.close()


def parse_line(raw: str, n: int) -> tuple[str, LineResult]:
    """One output / error file line -> (custom_id, result)."""
    try:
        d = json.loads(raw)
        cid = d["custom_id"]
    except (ValueError, KeyError, TypeError):
        raise LMCallError(f"batch output line {n} is not a batch result line: {raw[:200]}") from None
    err, resp = d.get("error"), d.get("response") or {}
    if err:
        code = str(err.get("code") or "error")
        transient = code in ("batch_expired", "batch_cancelled", "rate_limit_exceeded", "server_error", "timeout")
        return cid, LineResult(kind=code, message=str(err.get("message") or code)[:300], transient=transient)
    status = resp.get("status_code")
    if status != 200:
        text = json.dumps(resp.get("body"))[:300]
        return cid, LineResult(kind=f"http_{status}", message=f"HTTP {status}: {text}", status=status,
                               transient=status is None or status == 429 or status >= 500)
    try:
        return cid, LineResult(answer=parse_completion(json.dumps(resp.get("body"))))
    except LMCallError as e:
        return cid, LineResult(kind="protocol", message=str(e), transient=True)


class FileBatchAPI:
    """Batches as files for an offline runner (`vllm run-batch -i IN -o OUT`, which reads and writes OpenAI's batch
    line shapes): `submit` writes the input file into `--batch-dir` and says the command to run; the batch is done
    when its output file holds a result line for every request."""

    name = "files"
    max_requests = 50_000
    max_bytes = 200 * 1024 * 1024

    def __init__(self, cfg: LMConfig, folder):
        from pathlib import Path

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.model = cfg.wire_model

    def line(self, custom_id: str, body: dict) -> dict:
        return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}

    def _paths(self, batch_id: str):
        return self.folder / f"{batch_id}.jsonl", self.folder / f"{batch_id}.output.jsonl"

    def submit(self, content: bytes, name: str) -> str:
        batch_id = name.removesuffix(".jsonl")
        inp, _ = self._paths(batch_id)
        tmp = inp.with_suffix(".part")
        tmp.write_bytes(content)
        tmp.replace(inp)  # whole or absent: a runner never reads half a file
        return batch_id

    def next_step(self, batch_id: str) -> str:
        inp, out = self._paths(batch_id)
        return f"run it with: vllm run-batch -i {inp} -o {out} --model {self.model}"

    def retrieve(self, batch_id: str) -> BatchStatus:
        inp, out = self._paths(batch_id)
        total = sum(1 for x in inp.read_bytes().splitlines() if x.strip()) if inp.exists() else 0
        done = 0
        if out.exists():
            text = out.read_text(encoding="utf-8")
            done = sum(1 for x in text.split("\n")[:-1] if x.strip())  # complete lines only
        finished = inp.exists() and done >= total
        return BatchStatus("completed" if finished else "waiting for its output file", finished, not inp.exists(),
                           {"total": total, "completed": done, "failed": 0},
                           "" if inp.exists() else f"{inp} is gone", {"out": str(out)})

    def results(self, st: BatchStatus) -> dict[str, LineResult]:
        from pathlib import Path

        out: dict[str, LineResult] = {}
        for n, raw in enumerate(Path(st.raw["out"]).read_text(encoding="utf-8").splitlines(), 1):
            if raw.strip():
                cid, res = parse_line(raw, n)
                out[cid] = res
        return out

    def close(self) -> None:
        pass
