"""Endpoint health: a dead endpoint (wrong URL, refused connection, unknown model) stops the command at once with one
clear error instead of retrying and rejecting every item. It is judged only until the endpoint has answered once:
after that a failure is the call's own (retried, then a retryable reject)."""

from __future__ import annotations

from ..lm.config import strip_credentials
from ..lm.transport import LMCallError
from .calls import endpoint_problem


class EndpointHealth:
    def __init__(self, base_url: str | None, model: str):
        self.base_url, self.model = strip_credentials(base_url), model
        self.served = False  # an answer came back from the endpoint at least once

    def answered(self) -> None:
        self.served = True

    def dead(self, err: BaseException) -> str | None:
        """Why the endpoint is unusable (the message to stop with), or None when `err` is an ordinary failure."""
        if self.served or not isinstance(err, LMCallError):
            return None
        return endpoint_problem(err, self.base_url, self.model)
