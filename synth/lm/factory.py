"""The transport for a configuration: several endpoints, plain HTTP, litellm, or the embedded model.

Kept apart from `transport.py` (the remote transports) and `local.py` (the embedded model, which returns the same
`ChatResult`), so that neither imports the other.
"""

from __future__ import annotations

from .config import LMConfig
from .local import LocalTransport
from .transport import HttpTransport, LiteLLMTransport, MultiTransport


def make_transport(cfg: LMConfig):
    if len(cfg.endpoints) > 1 and cfg.transport != "local":
        return MultiTransport([make_transport(cfg.with_(api_base=b, more_bases=())) for b in cfg.endpoints],
                              list(cfg.endpoints))
    if cfg.transport == "http":
        return HttpTransport(cfg)
    if cfg.transport == "litellm":
        return LiteLLMTransport(cfg)
    return LocalTransport(cfg)
