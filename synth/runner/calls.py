"""Helpers of the runner's call path: endpoint diagnosis, DSPy error unwrapping, answer values, reason keys."""

from __future__ import annotations

import asyncio
import re

from ..errors import MiraError
from ..lm.transport import ClientError, ConnectionFailed, LMCallError


class EndpointUnavailable(MiraError):
    """The endpoint cannot serve at all (nothing listens, unknown host, 401 / 403 / 404 before any answer)."""


def endpoint_problem(err: LMCallError, base: str | None, model: str) -> str | None:
    """A user-facing explanation when `err` means the endpoint cannot serve this command at all, else None."""
    where = base or model
    if isinstance(err, ConnectionFailed) and err.unreachable:
        return (f"Cannot reach the LLM endpoint {where} ({err}). Check that the server is running and that "
                "--api-base / MIRA_API_BASE points at it (e.g. http://localhost:8000/v1).")
    if isinstance(err, ClientError) and err.status in (401, 403):
        return (f"The LLM endpoint {where} refused the credentials (HTTP {err.status}). Name the environment "
                "variable that holds its key with --api-key-env NAME (or [lm] api_key_env in mira.toml) and check "
                "that the key is valid for this server.")
    if isinstance(err, ClientError) and err.status == 404:
        return (f"The LLM endpoint {where} answered HTTP 404 for model '{model}'. Check that --api-base ends "
                "where the server serves /chat/completions (usually .../v1) and that --lm names a model the "
                "server has (GET <api-base>/models lists them).")
    return None


def _lm_error(exc: BaseException) -> LMCallError | None:
    while exc is not None:
        if isinstance(exc, LMCallError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def reason_key(reason: str) -> str:
    """The reason without its details (`LLM call failed: HTTP 500 ...` -> `LLM call failed`), for counting."""
    return re.split(r"[:(]", reason, maxsplit=1)[0].strip() or reason


def _parse_error(e: Exception) -> str:
    """DSPy's parse error, compacted: the first line (shortened) and the validation details (which fields, why)."""
    lines = [x.strip() for x in str(e).splitlines() if x.strip() and "errors.pydantic.dev" not in x]
    head = lines[0][:200] + ("…" if len(lines[0]) > 200 else "") if lines else type(e).__name__
    detail = "; ".join(x.split(" [type=")[0] for x in lines[1:8])
    return f"{head}{' — ' + detail if detail else ''}"[:700]


async def _acall(module, inputs: dict):
    """`module.acall` when the module has `aforward`; otherwise its sync forward in a worker thread."""
    if hasattr(module, "aforward"):
        return await module.acall(**inputs)
    return await asyncio.to_thread(module, **inputs)


async def answer(module, inputs: dict) -> tuple[dict | None, str | None]:
    """One call of the module under the current CallScope: (plain output fields, None), or (None, the parse
    error); a failed call raises its LMCallError."""
    from dspy.utils.exceptions import AdapterParseError

    try:
        pred = await _acall(module, inputs)
    except AdapterParseError as e:
        return None, f"the answer could not be parsed: {_parse_error(e)}"
    except Exception as e:  # noqa: BLE001 - DSPy wraps engine errors; unwrap ours
        lm_err = _lm_error(e)
        if lm_err is None:
            raise
        raise lm_err from None
    return {k: _plain(v) for k, v in pred.items()}, None


def _plain(v):
    if hasattr(v, "model_dump"):
        return v.model_dump(mode="json")
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v
