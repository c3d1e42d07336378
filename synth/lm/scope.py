"""The call scope: how the runner and the engine (or the embedded model) talk about one call without passing it through
DSPy: the re-ask feedback to append, the item's grounded schema, and the raw answer, finish reason and usage."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field


@dataclass
class CallScope:
    feedback: list[dict] = field(default_factory=list)
    output_schema: dict | None = None  # the item's grounded schema: the local model decodes under it, a server
    # gets it as response_format (`--grounded`)
    raw: str | None = None
    finish_reason: str | None = None
    usage: dict = field(default_factory=dict)
    latency: float = 0.0
    calls: int = 0


SCOPE: contextvars.ContextVar[CallScope | None] = contextvars.ContextVar("mira_call_scope", default=None)
