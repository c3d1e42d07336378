"""What the runner takes and gives: its settings, tasks, outcomes, an item's attempts and a run's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .stats import RunStats

Check = Callable[["Task", dict], "str | None"]


class FinalReject(str):
    """A check result that rejects at once, without a re-ask (e.g. "not a job description")."""


@dataclass
class RunnerConfig:
    concurrency: int = 16
    rpm: float | None = None
    tpm: float | None = None
    max_retries: int = 6
    max_reasks: int = 1
    max_cost: float | None = None
    use_cache: bool = True
    progress: bool = True
    backoff_max: float = 30.0


@dataclass
class Task:
    key: str
    inputs: dict
    meta: dict = field(default_factory=dict)
    rollout: int | str | None = None
    grounding: dict | None = None  # field path -> the values it may take (from the inputs) or schema keywords
    # (synth/lm/schema.py); the embedded model, and a server with --grounded, decode under it; checks still verify


@dataclass
class Outcome:
    key: str
    ok: bool
    output: dict | None = None
    reason: str | None = None
    raw: str | None = None
    attempts: int = 0
    usage: dict = field(default_factory=dict)
    cost: float | None = None
    cached: bool = False
    retryable: bool = False
    meta: dict = field(default_factory=dict)
    req: str | None = None

    def journal_entry(self) -> dict:
        return {"key": self.key, "req": self.req, "ok": self.ok, "output": self.output, "reason": self.reason,
                "raw": self.raw, "attempts": self.attempts, "usage": self.usage, "cost": self.cost,
                "retryable": self.retryable}


@dataclass
class Attempts:
    """One item's attempts so far: the re-ask turns to send next, tokens and dollars spent, whether all came from
    the cache."""
    feedback: list = field(default_factory=list)
    usage: dict = field(default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0})
    cost: float | None = None
    all_cached: bool = True

    def add(self, entry: dict) -> None:
        for k in self.usage:
            self.usage[k] += (entry.get("usage") or {}).get(k) or 0
        if entry.get("cost") is not None:
            self.cost = (self.cost or 0.0) + entry["cost"]


@dataclass
class RunResult:
    outcomes: list[Outcome]
    stats: RunStats
    total: int
    stopped_by_budget: bool = False
    run_dir: Path | None = None

    @property
    def kept(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def rejected(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def complete(self) -> bool:
        return len(self.outcomes) == self.total and not self.stopped_by_budget
