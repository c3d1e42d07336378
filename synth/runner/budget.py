"""`--max-cost` as a reservation ledger: a call is sent only when what is spent, what in-flight calls have reserved
and this call's own worst case (its input tokens plus max_tokens at the model's prices) fit inside the budget.

The ledger lives on the Runner, so it is cumulative over every stage of one command; a run's journal records each
paid call as it returns, and what a resumed run finds there is added before the first new call. With estimates that
are upper bounds the budget is never overshot; an estimate that is short (the prompt tokenised into more tokens than
~4 characters each) can overshoot by at most that shortfall of the calls in flight.
"""

from __future__ import annotations


class BudgetReached(Exception):
    """Internal: the next call does not fit the budget; the run stops cleanly (resumable)."""


class Budget:
    def __init__(self, max_cost: float | None):
        self.max_cost = max_cost
        self.spent = 0.0
        self.reserved = 0.0
        self._journals: set[str] = set()

    def add_journaled(self, run_key: str, spend: float) -> None:
        """Spend a previous (interrupted) run recorded in its journal; counted once per run folder."""
        if run_key not in self._journals:
            self._journals.add(run_key)
            self.spent += spend

    def fits(self, estimate: float | None) -> bool:
        if self.max_cost is None:
            return True
        return self.spent + self.reserved + (estimate or 0.0) <= self.max_cost + 1e-12

    def reserve(self, estimate: float | None) -> float:
        """Reserve the call's worst case, or raise BudgetReached (nothing is sent)."""
        if not self.fits(estimate):
            raise BudgetReached()
        est = estimate or 0.0
        self.reserved += est
        return est

    def settle(self, reserved: float, actual: float | None) -> None:
        self.reserved = max(0.0, self.reserved - reserved)
        self.spent += actual or 0.0

    @property
    def exhausted(self) -> bool:
        return self.max_cost is not None and self.spent >= self.max_cost
