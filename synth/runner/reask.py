"""The re-ask policy: how often an invalid answer is re-asked, with what message, and when a failure is final."""

from __future__ import annotations

from dataclasses import dataclass

from .outcome import FinalReject

REASK = ("Your previous answer was rejected: {problem}\n"
         "Answer again with every output field, in the same format, fixing exactly that problem.")


@dataclass(frozen=True)
class ReaskPolicy:
    max_reasks: int = 1
    message: str = REASK

    @property
    def attempts(self) -> int:
        """Attempts per item: the first answer plus every re-ask."""
        return self.max_reasks + 1

    def is_final(self, problem: str | FinalReject, attempt: int) -> bool:
        """A problem no re-ask may fix (`FinalReject`), or the last attempt (0-based) spent: the item is rejected."""
        return isinstance(problem, FinalReject) or attempt >= self.max_reasks

    @staticmethod
    def reason(problem: str | FinalReject) -> str:
        """The reject reason a final problem leaves."""
        return str(problem) if isinstance(problem, FinalReject) else problem

    def turns(self, raw: str | None, problem: str) -> list[dict]:
        """The re-ask turns appended to the next request: the rejected answer, then what to fix."""
        return [{"role": "assistant", "content": raw or ""},
                {"role": "user", "content": self.message.format(problem=problem)}]
