"""Token and dollar accounting. Dollars come from litellm's offline cost map, where it knows the model."""

from __future__ import annotations

import os
from functools import lru_cache


@lru_cache(maxsize=64)
def _prices(model: str) -> tuple[float, float] | None:
    if model == "local":
        return (0.0, 0.0)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm

        p, c = litellm.cost_per_token(model=model, prompt_tokens=1_000_000, completion_tokens=1_000_000)
        return (p / 1e6, c / 1e6)
    except Exception:  # not in the cost map: tokens only
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
