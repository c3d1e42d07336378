"""Requests-per-minute and tokens-per-minute limits as async token buckets that can go into debt.

A request larger than one second's budget is not shrunk to fit: it waits until the bucket is not in debt, takes its
whole size (the level goes negative) and every later request waits until that debt is repaid. Over any window the
tokens sent are therefore at most the rate times the window plus one burst, whatever the request sizes.
"""

from __future__ import annotations

import asyncio
import time


class Bucket:
    """Refills at per_minute / 60 per second; holds at most one second's worth (at least 1)."""

    def __init__(self, per_minute: float, clock=time.monotonic, sleep=asyncio.sleep):
        if per_minute <= 0:
            raise ValueError("a rate limit must be positive")
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self.clock, self.sleep = clock, sleep
        self.stamp = clock()
        self.lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    async def take(self, amount: float = 1.0) -> None:
        need = min(amount, self.capacity)  # what must be in the bucket before this request may go
        async with self.lock:
            while True:
                self._refill()
                if self.level >= need:
                    self.level -= amount  # the whole request: may go into debt
                    return
                await self.sleep((need - self.level) / self.rate)

    def settle(self, delta: float) -> None:
        """Correct a take by what the request really used (positive: more debt)."""
        self._refill()
        self.level = min(self.capacity, self.level - delta)


class RateLimits:
    def __init__(self, rpm: float | None = None, tpm: float | None = None):
        self.rpm = Bucket(rpm) if rpm else None
        self.tpm = Bucket(tpm) if tpm else None

    async def acquire(self, est_tokens: int) -> None:
        if self.rpm:
            await self.rpm.take(1)
        if self.tpm:
            await self.tpm.take(est_tokens)

    def settle(self, est_tokens: int, used_tokens: int | None) -> None:
        if self.tpm and used_tokens:
            self.tpm.settle(used_tokens - est_tokens)
