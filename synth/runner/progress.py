"""Rich progress for runs (done / total, rate, ETA, tokens, cost, failures) and the end-of-run summary table."""

from __future__ import annotations

import os
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table


def plain_every() -> float:
    """Seconds between plain progress lines when the console is not a terminal ($MIRA_PROGRESS_SECONDS, else 30)."""
    try:
        return float(os.environ.get("MIRA_PROGRESS_SECONDS") or 30)
    except ValueError:
        return 30.0


class RunProgress:
    """A live bar in a terminal; in a log (not a terminal) one plain line every `plain_every()` seconds and at the
    end: done / total, rate, ETA, tokens, cost, rejected, cached."""

    def __init__(self, label: str, total: int, console: Console | None, enabled: bool = True):
        self.enabled = enabled and console is not None
        self.total = total
        self.done = 0
        self.label, self.console = label, console
        self.plain = self.enabled and not console.is_terminal
        self.t0 = self.last = time.monotonic()
        self.fields = {"tokens": "0", "cost": "$0", "failed": 0, "cached": 0}
        if self.plain:
            self.enabled = False
        if self.enabled:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("[cyan]{task.fields[rate]}"), TimeElapsedColumn(),
                TextColumn("ETA"), TimeRemainingColumn(),
                TextColumn("tok {task.fields[tokens]} · {task.fields[cost]} · [red]{task.fields[failed]} rejected"
                           "[/] · {task.fields[cached]} cached"),
                console=console, transient=False, refresh_per_second=4)
            self.task = self.progress.add_task(label, total=total, rate="", tokens="0", cost="$0", failed=0,
                                               cached=0)

    def __enter__(self):
        if self.enabled:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.progress.__exit__(*exc)
        if self.plain and self.total:
            self.line(final=True)

    def line(self, final: bool = False) -> None:
        """One plain progress line (logs)."""
        now = time.monotonic()
        self.last = now
        secs = now - self.t0
        rate = self.done / secs if secs > 0 else 0.0
        eta = f"ETA {(self.total - self.done) / rate:.0f}s" if rate and not final else f"{secs:.0f}s"
        f = self.fields
        self.console.print(f"{self.label}: {self.done}/{self.total} items, {rate:.2f} items/s, {eta}, tokens "
                           f"{f['tokens']}, {f['cost']}, {f['failed']} rejected, {f['cached']} cached"
                           + (" (done)" if final else ""), highlight=False, soft_wrap=True)

    def advance_resumed(self, n: int, outcomes) -> None:
        self.done += n
        if self.plain and n:
            self.fields.update(failed=sum(1 for o in outcomes if not o.ok), cached=n)
        if self.enabled and n:
            self.progress.update(self.task, completed=self.done,
                                 failed=sum(1 for o in outcomes if not o.ok), cached=n)

    def update(self, outcome, stats) -> None:
        self.done += 1
        if self.plain:
            cost = stats.cost
            self.fields.update(tokens=f"{stats.tokens:,}", cost=f"${cost:.4f}" if cost else "$0",
                               failed=stats.rejected, cached=stats.reused)
            if time.monotonic() - self.last >= plain_every():
                self.line()
        if not self.enabled:
            return
        t = self.progress.tasks[self.task]
        rate = f"{t.speed:.1f} items/s" if t.speed else ""
        cost = stats.cost
        self.progress.update(self.task, completed=self.done, rate=rate, tokens=f"{stats.tokens:,}",
                             cost=f"${cost:.4f}" if cost else "$0", failed=stats.rejected, cached=stats.reused)


def runner_summary(runner, title: str = "LLM summary (this command)") -> Table:
    """Cumulative over every run of one command: what was called, reused, retried, re-asked, rejected and paid."""
    s = runner.totals
    t = Table(title=title)
    t.add_column("")
    t.add_column("value", justify="right")
    done = s.kept + s.rejected + s.resumed - s.kept_then_rejected
    rows = [("items finished", done), ("kept", s.kept + s.resumed - s.kept_then_rejected - s.duplicates),
            ("rejected", s.rejected)] + ([("duplicates dropped", s.duplicates)] if s.duplicates else []) + [
            ("resumed from journal", s.resumed), ("answers from cache", s.cache_hits),
            ("LLM calls", s.calls), ("retried", s.retries), ("re-asked", s.reasks),
            ("tokens in / out", f"{s.tokens_in:,} / {s.tokens_out:,}"),
            ("cost", f"${runner.budget.spent:.4f}" + (f" of ${runner.budget.max_cost:g}"
                                                      if runner.budget.max_cost is not None else "")),
            ("wall seconds", f"{s.seconds:.1f}")]
    rows += s.breakdown()
    for k, v in rows:
        t.add_row(k, str(v))
    return t
