"""Token and dollar accounting from litellm's bundled (offline) cost map.

The map is read as the JSON file litellm ships (`model_prices_and_context_window_backup.json`), without importing
litellm: the import costs ~3 s of CPU, and nothing here needs more than the prices. Nothing is fetched.
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def _cost_map() -> dict:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.origin:
        return {}
    f = Path(spec.origin).parent / "model_prices_and_context_window_backup.json"
    return json.loads(f.read_text()) if f.exists() else {}


@lru_cache(maxsize=64)
def _prices(model: str) -> tuple[float, float] | None:
    if model == "local":
        return (0.0, 0.0)
    table = _cost_map()
    names = [model]
    if "/" in model:
        names.append(model.split("/", 1)[1])
    for name in names:
        entry = table.get(name)
        if entry and "input_cost_per_token" in entry:
            return (float(entry["input_cost_per_token"]), float(entry.get("output_cost_per_token", 0.0)))
    return None


def known_prices(model: str) -> bool:
    return _prices(model) is not None


def dollars(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    prices = _prices(model)
    if prices is None:
        return None
    return prompt_tokens * prices[0] + completion_tokens * prices[1]


def estimate_tokens(text: str) -> int:
    """~4 characters per token: the usual estimate for English with BPE tokenizers (a dry-run figure)."""
    return max(1, len(text) // 4)


BATCH_DISCOUNT = 0.5  # the stated rate when the cost map has no batch price: OpenAI's and Anthropic's batch APIs
# both bill half the online price


@lru_cache(maxsize=64)
def batch_prices(model: str) -> tuple[float, float, bool] | None:
    """Per-token (input, output) prices of a batch call, and whether they are litellm's own batch prices
    (`input_cost_per_token_batches`); else the online prices at BATCH_DISCOUNT."""
    table = _cost_map()
    for name in [model] + ([model.split("/", 1)[1]] if "/" in model else []):
        entry = table.get(name) or {}
        if "input_cost_per_token_batches" in entry:
            return (float(entry["input_cost_per_token_batches"]),
                    float(entry.get("output_cost_per_token_batches", 0.0)), True)
    prices = _prices(model)
    return None if prices is None else (prices[0] * BATCH_DISCOUNT, prices[1] * BATCH_DISCOUNT, False)


def batch_dollars(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    prices = batch_prices(model)
    return None if prices is None else prompt_tokens * prices[0] + completion_tokens * prices[1]
