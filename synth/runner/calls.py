"""Helpers of the runner's call path: endpoint diagnosis, DSPy error unwrapping, answer values, reason keys."""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass

from ..errors import MiraError
from ..lm.transport import ClientError, ConnectionFailed, LMCallError


class EndpointUnavailable(MiraError):
    """The endpoint cannot serve at all (nothing listens, unknown host, 401 / 403 / 404 before any answer)."""


def backoff(tries: int, cap: float, multiplier: float = 0.5) -> float:
    """Seconds to wait after the `tries`-th failed try: exponential backoff with full jitter, uniform in
    [0, min(cap, multiplier * 2 ** (tries - 1))] (tenacity's `wait_random_exponential`, which the runner used)."""
    return random.uniform(0, min(cap, multiplier * 2 ** (tries - 1)))


async def with_retries(send, max_retries: int, backoff_max: float, retryable, on_retry):
    """`await send()`, tried again on an LMCallError that is `retryable` (after `on_retry(error)` and a wait:
    the server's Retry-After, else `backoff`) at most `max_retries` times; the last error is raised. The runner and
    the Ray workers both retry this way; the first try costs nothing but this frame (#17: client CPU per call)."""
    tries = 0
    while True:
        tries += 1
        try:
            return await send()
        except LMCallError as e:
            if tries > max_retries or not retryable(e):
                raise
            on_retry(e)
            await asyncio.sleep(e.retry_after if e.retry_after is not None else backoff(tries, backoff_max))


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


_PLAIN = (str, int, float, bool, type(None))


def _plain_type(ann) -> bool:
    """str / numbers / bool, Literals, lists / dicts / unions of those, and pydantic models (not DSPy's special
    types: images, tools, history, reasoning, which DSPy's adapter handles around the call)."""
    import types
    import typing

    from pydantic import BaseModel

    origin = typing.get_origin(ann)
    if origin is typing.Literal:
        return True
    if origin is typing.Annotated:
        return _plain_type(typing.get_args(ann)[0])
    if origin is not None:
        return origin in (list, dict, tuple, typing.Union, types.UnionType) and all(
            _plain_type(a) for a in typing.get_args(ann) if a is not Ellipsis)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        from dspy.adapters.types.base_type import Type

        return not issubclass(ann, Type)
    return ann in _PLAIN


@dataclass(frozen=True)
class Direct:
    """A module the runner may call itself: its one Predict, and the names of its input and output fields."""

    predict: object
    inputs: frozenset
    outputs: tuple


def says_direct(cls: type) -> bool:
    """`direct = True` holds only for the class that says it and subclasses that keep its forward: a subclass with
    its own `forward` / `aforward` (and no `direct = True` of its own) runs through DSPy, so its forward is never
    skipped."""
    for c in cls.__mro__:
        if "direct" in vars(c):
            return bool(vars(c)["direct"])
        if "forward" in vars(c) or "aforward" in vars(c):
            return False
    return False


def direct_predictor(module) -> Direct | None:
    """When the runner may make the module's call itself: the module says its forward is exactly its one
    `dspy.Predict`'s call (`direct = True`, as Mira's stages and judge do), the Predict has no config or LM of its
    own and every output field is a plain type. Else None (the module runs through DSPy). Depends only on the
    module: callers keep it per module."""
    import dspy

    if not says_direct(type(module)):
        return None
    preds = module.predictors()
    if len(preds) != 1 or type(preds[0]) is not dspy.Predict or preds[0].config or preds[0].lm is not None:
        return None
    sig = preds[0].signature
    if not all(_plain_type(f.annotation) for f in sig.output_fields.values()):
        return None
    return Direct(preds[0], frozenset(sig.input_fields), tuple(sig.output_fields))


async def answer(module, inputs: dict, engine=None, adapter=None,
                 direct: Direct | None = None) -> tuple[dict | None, str | None]:
    """One call of the module under the current CallScope: (plain output fields, None), or (None, the parse
    error); a failed call raises its LMCallError.

    Given Mira's engine and adapter and the module's `direct_predictor`, and when the inputs are exactly its string
    input fields, the call is made without DSPy's module / LM machinery around it (callbacks, history, two
    worker-thread hops per call: ~60% of the runner's client CPU): the same adapter formats the same messages, the
    same engine sends them, and the same adapter parses the answer, so requests, fields and parse errors are DSPy's
    own (tests/test_runner_direct.py)."""
    from dspy.utils.exceptions import AdapterParseError

    if (direct is not None and engine is not None and inputs.keys() == direct.inputs
            and all(isinstance(v, str) for v in inputs.values())):
        from dspy.adapters.utils import apply_output_field_defaults

        sig = direct.predict.signature
        result = await engine.chat(adapter.format(sig, direct.predict.demos, inputs))
        try:
            if not result.text:  # as DSPy's adapter says it
                raise AdapterParseError(adapter_name=type(adapter).__name__, signature=sig, lm_response=result.text,
                                        message="The LM returned an empty or null response.")
            fields = apply_output_field_defaults(sig, adapter.parse(sig, result.text))
        except AdapterParseError as e:
            return None, f"the answer could not be parsed: {_parse_error(e)}"
        return {k: _plain(fields.get(k)) for k in direct.outputs}, None
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
