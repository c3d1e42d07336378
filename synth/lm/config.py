"""LM configuration: flags > environment (`MIRA_LM`, `MIRA_API_BASE`) > `mira.toml` > the embedded local model.

Keys come from the environment only and never enter this object's public form (manifests, journals, logs).
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import InputError

LOCAL = "local"
# Prefixes Mira serves with its own OpenAI-compatible HTTP client (fast: ~0.5 ms CPU per call);
# everything else goes through litellm (any provider, more CPU per call).
HTTP_PREFIXES = ("openai/", "hosted_vllm/", "vllm/", "openai_compatible/", "lm_studio/", "llamacpp/")
DEFAULT_BASES = {"openai/": "https://api.openai.com/v1"}
KEY_ENVS = ("MIRA_API_KEY",)
PROVIDER_KEY_ENVS = {"openai/": "OPENAI_API_KEY", "hosted_vllm/": "HOSTED_VLLM_API_KEY"}


@dataclass(frozen=True)
class LMConfig:
    """What to call and how. `model` is a litellm model string, or "local" for the embedded SmolLM2."""

    model: str = LOCAL
    api_base: str | None = None
    temperature: float = 0.0
    max_tokens: int = 1024
    timeout: float = 120.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def transport(self) -> str:
        if self.model == LOCAL:
            return "local"
        if self.model.startswith(HTTP_PREFIXES):
            return "http"
        return "litellm"

    @property
    def is_local(self) -> bool:
        """True when text never leaves the machine (embedded model, or a server on loopback)."""
        if self.model == LOCAL:
            return True
        base = self.api_base or ""
        return bool(re.match(r"https?://(127\.|localhost|\[::1\])", base))

    @property
    def wire_model(self) -> str:
        """The model name as the HTTP server expects it (provider prefix removed)."""
        for p in HTTP_PREFIXES:
            if self.model.startswith(p):
                return self.model[len(p):]
        return self.model

    @property
    def base_url(self) -> str | None:
        if self.api_base:
            return self.api_base.rstrip("/")
        return next((b for p, b in DEFAULT_BASES.items() if self.model.startswith(p)), None)

    def api_key(self) -> str | None:
        """Read at call time from the environment; never stored."""
        for name in KEY_ENVS + tuple(v for p, v in PROVIDER_KEY_ENVS.items() if self.model.startswith(p)):
            if os.environ.get(name):
                return os.environ[name]
        return None

    def params(self) -> dict:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, **self.extra}

    def public(self) -> dict:
        """For manifests, journals and cache keys: no keys, no credentials inside URLs."""
        d = asdict(self)
        d["api_base"] = strip_credentials(self.api_base)
        d.pop("timeout")
        return d

    def with_(self, **kw) -> "LMConfig":
        return replace(self, **kw)


def strip_credentials(url: str | None) -> str | None:
    if not url:
        return url
    url = re.sub(r"//[^/@]*@", "//", url)
    return re.sub(r"([?&](api[_-]?key|key|token)=)[^&]*", r"\1***", url, flags=re.I)


def _read_toml(home: Path | None) -> dict:
    for folder in [p for p in (home, Path.cwd()) if p]:
        f = Path(folder) / "mira.toml"
        if f.exists():
            import tomllib

            try:
                data = tomllib.loads(f.read_text())
            except tomllib.TOMLDecodeError as e:
                raise InputError(f"{f}: not valid TOML ({e}).") from None
            lm = data.get("lm", {})
            bad = [k for k in lm if re.search(r"key|secret|password|auth|(^|_)token$", k.lower())]
            if bad:
                raise InputError(f"{f}: [lm] {bad[0]} looks like a secret; keys come from the environment only "
                                 "(e.g. export OPENAI_API_KEY=...).")
            return lm
    return {}


def resolve_lm_config(model: str | None = None, api_base: str | None = None, home: Path | None = None,
                      **overrides: Any) -> LMConfig:
    """flags > env (MIRA_LM, MIRA_API_BASE) > mira.toml [lm] > the embedded local model."""
    toml = _read_toml(home)
    cfg = LMConfig(
        model=model or os.environ.get("MIRA_LM") or toml.get("model") or LOCAL,
        api_base=api_base or os.environ.get("MIRA_API_BASE") or toml.get("api_base"),
        temperature=float(toml.get("temperature", 0.0)),
        max_tokens=int(toml.get("max_tokens", 1024)),
        timeout=float(toml.get("timeout", 120.0)),
    )
    set_over = {k: v for k, v in overrides.items() if v is not None}
    cfg = replace(cfg, **set_over) if set_over else cfg
    if cfg.transport == "http" and not cfg.base_url:
        raise InputError(f"Model '{cfg.model}' needs --api-base (or MIRA_API_BASE), e.g. "
                         "--api-base http://localhost:8000/v1 for a vLLM server.")
    return cfg
