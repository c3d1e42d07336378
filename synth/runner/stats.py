"""A run's statistics as one typed record: what was called, reused, retried, re-asked, rejected and paid.

One `RunStats` per `Runner.run` (the run's `RunResult.stats`), and one per Runner over every run of its command
(`Runner.totals`, the closing summary table, synth/runner/progress.py). Dollars are kept as integer micro-dollars
(`cost_micro`): integer sums are exact and order-free, so merging the totals of concurrent runs, rounds or Ray
workers never drifts by float rounding; `cost` gives dollars. Wall time is kept as integer milliseconds for the same
reason (`wall_ms`; `seconds` gives seconds).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields

from .calls import reason_key


@dataclass
class RunStats:
    items: int = 0  # tasks handed to the run(s)
    kept: int = 0
    rejected: int = 0
    rejected_by: Counter = field(default_factory=Counter)  # reject reason key -> count
    kept_then_rejected: int = 0  # answers the runner kept that a stage then refused (`Runner.count_outside`)
    duplicates: int = 0  # kept answers that deduplication dropped
    resumed: int = 0  # outcomes replayed from the run journal
    recheck_failed: int = 0  # journaled answers that today's stricter check refused (decided again)
    cache_hits: int = 0
    calls: int = 0
    retries: int = 0
    faults: Counter = field(default_factory=Counter)  # transport fault kind -> retried count
    failed: Counter = field(default_factory=Counter)  # fault kind -> calls that failed for good
    reasks: int = 0
    invalid_answers: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_micro: int = 0
    wall_ms: int = 0
    stopped_by_budget: bool = False

    # -- counting -------------------------------------------------------------------------------------------
    def keep(self) -> None:
        self.kept += 1

    def reject(self, reason: str) -> None:
        """A reject, counted in total and under its reason's key (the summary's `rejected: ...` rows)."""
        self.rejected += 1
        self.rejected_by[reason_key(reason or "")] += 1

    def fault(self, kind: str) -> None:
        """A transport fault that was retried."""
        self.retries += 1
        self.faults[kind] += 1

    def fail(self, kind: str) -> None:
        """A call that failed for good (retries spent, or an error no retry fixes)."""
        self.failed[kind] += 1

    def add_usage(self, usage: dict, paid: float | None) -> None:
        """A returned call's tokens and dollars."""
        if paid:
            self.cost_micro += round(paid * 1e6)
        self.tokens_in += usage.get("prompt_tokens") or 0
        self.tokens_out += usage.get("completion_tokens") or 0

    def merge(self, other: RunStats) -> None:
        """Adds `other` into this record (counts and counters add; a budget stop in either stays a stop)."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, Counter):
                mine.update(theirs)
            elif isinstance(mine, bool):
                setattr(self, f.name, mine or theirs)
            else:
                setattr(self, f.name, mine + theirs)

    # -- reading --------------------------------------------------------------------------------------------
    @property
    def cost(self) -> float:
        return self.cost_micro / 1e6

    @property
    def seconds(self) -> float:
        return self.wall_ms / 1000

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out

    @property
    def reused(self) -> int:
        """Answers that cost no call: cache hits and journal replays."""
        return self.cache_hits + self.resumed

    def any(self) -> bool:
        """Whether anything was counted (items handed over and a budget stop alone do not count)."""
        return any(getattr(self, f.name) for f in fields(self) if f.name not in ("items", "stopped_by_budget"))

    def breakdown(self) -> list[tuple[str, int]]:
        """The per-kind rows of the summary table, in its order: failed, faults, reject reasons, each sorted."""
        return ([(f"failed:{k}", v) for k, v in sorted(self.failed.items())]
                + [(f"fault:{k}", v) for k, v in sorted(self.faults.items())]
                + [(f"rejected: {k}", v) for k, v in sorted(self.rejected_by.items())])
