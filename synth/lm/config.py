"""LM configuration: flags > environment (`MIRA_LM`, `MIRA_API_BASE`) > `mira.toml` > the embedded local model.

Keys come from the environment only and never enter this object's public form (manifests, journals, logs). A key
goes only where the user sends it: to a provider's own default endpoint (e.g. OPENAI_API_KEY to api.openai.com), or
to a custom `--api-base` only when its variable is named for it (`--api-key-env NAME`, or `[lm] api_key_env`).
A key over plain http to a host other than this machine is refused.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from .decoding import DECODING

LOCAL = "local"
# Prefixes Mira serves with its own OpenAI-compatible HTTP client (fast: ~0.5 ms CPU per call);
# everything else goes through litellm (any provider, more CPU per call).
HTTP_PREFIXES = ("openai/", "hosted_vllm/", "vllm/", "openai_compatible/", "lm_studio/", "llamacpp/")
DEFAULT_BASES = {"openai/": "https://api.openai.com/v1"}
KEY_ENVS = ("MIRA_API_KEY",)
_LOOPBACK = re.compile(r"https?://(127\.|localhost(:|/|$)|\[::1\])", re.I)
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
    api_key_env: str | None = None  # the environment variable whose key is sent to a custom api_base
    grounded: bool = False  # send each item's grounded JSON schema as response_format (vLLM guided decoding)
    more_bases: tuple[str, ...] = ()  # further endpoints serving the same model (`--api-base` given again)

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Every endpoint calls are spread over (the first is `api_base`)."""
        return (self.api_base, *self.more_bases) if self.api_base else ()

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
        return bool(_LOOPBACK.match(self.api_base or ""))

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
        """Read at call time from the environment; never stored. A custom api_base gets a key only when its
        variable is named (`api_key_env`); a provider's default endpoint gets MIRA_API_KEY or its provider key."""
        if self.api_key_env:
            return os.environ.get(self.api_key_env) or None
        if self.api_base:
            return None
        for name in KEY_ENVS + tuple(v for p, v in PROVIDER_KEY_ENVS.items() if self.model.startswith(p)):
            if os.environ.get(name):
                return os.environ[name]
        return None

    def check_key_transport(self) -> None:
        """Refuse to send a key in clear text to another machine."""
        base = self.base_url or ""
        if self.api_key() and base.startswith("http://") and not _LOOPBACK.match(base):
            raise InputError(f"Refusing to send the key in ${self.api_key_env or 'MIRA_API_KEY'} over plain http to "
                             f"{strip_credentials(base)}: anyone on the network could read it. Use https, or a "
                             "server on this machine, or drop --api-key-env if the server needs no key.")

    def params(self) -> dict:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, **self.extra}

    def public(self) -> dict:
        """For manifests, journals and cache keys: no keys, no credentials inside URLs."""
        d = asdict(self)
        d["api_base"] = strip_credentials(self.api_base)
        d.pop("timeout")
        d.pop("api_key_env")  # which variable holds the key changes nothing about the answers
        d.pop("more_bases")  # endpoints given together serve one model: which one answered changes nothing
        if self.model == LOCAL:  # how the embedded model decodes changes its answers: a new setting, new answers
            d["decoding"] = dict(DECODING)
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
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib

            try:
                data = tomllib.loads(f.read_text())
            except tomllib.TOMLDecodeError as e:
                raise InputError(f"{f}: not valid TOML ({e}).") from None
            lm = data.get("lm", {})
            bad = [k for k in lm if k != "api_key_env" and re.search(r"key|secret|password|auth|(^|_)token$",
                                                                     k.lower())]
            if bad:
                raise InputError(f"{f}: [lm] {bad[0]} looks like a secret; keys come from the environment only "
                                 "(e.g. export OPENAI_API_KEY=...).")
            return lm
    return {}


def resolve_lm_config(model: str | None = None, api_base: str | list[str] | None = None, home: Path | None = None,
                      **overrides: Any) -> LMConfig:
    """flags > env (MIRA_LM, MIRA_API_BASE) > mira.toml [lm] > the embedded local model. Several endpoints (a list,
    or MIRA_API_BASE / [lm] api_base with commas) serve one model and share the calls."""
    toml = _read_toml(home)
    bases = api_base or os.environ.get("MIRA_API_BASE") or toml.get("api_base")
    if isinstance(bases, str):
        bases = [b.strip() for b in bases.split(",") if b.strip()]
    bases = list(dict.fromkeys(bases or []))
    if len(bases) > 1:
        overrides = {**overrides, "more_bases": tuple(bases[1:])}
    api_base = bases[0] if bases else None
    cfg = LMConfig(
        model=model or os.environ.get("MIRA_LM") or toml.get("model") or LOCAL,
        api_base=api_base,
        temperature=float(toml.get("temperature", 0.0)),
        max_tokens=int(toml.get("max_tokens", 1024)),
        timeout=float(toml.get("timeout", 120.0)),
        api_key_env=toml.get("api_key_env"),
        grounded=bool(toml.get("grounded", False)),
    )
    set_over = {k: v for k, v in overrides.items() if v is not None}
    cfg = replace(cfg, **set_over) if set_over else cfg
    if cfg.transport == "http" and not cfg.base_url:
        raise InputError(f"Model '{cfg.model}' needs --api-base (or MIRA_API_BASE), e.g. "
                         "--api-base http://localhost:8000/v1 for a vLLM server.")
    if cfg.api_key_env and not os.environ.get(cfg.api_key_env):
        raise InputError(f"--api-key-env {cfg.api_key_env}: that environment variable is not set "
                         f"(export {cfg.api_key_env}=...).")
    for base in cfg.more_bases:
        cfg.with_(api_base=base, more_bases=()).check_key_transport()
    cfg.check_key_transport()
    return cfg
