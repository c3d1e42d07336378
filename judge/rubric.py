"""The judge rubric as files: prompts/judge/rubric.md (instructions) and rubric.yaml (weights, threshold, caps, risks)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from synth.errors import InputError
from synth.paths import find_prompt_file



@dataclass(frozen=True)
class Rubric:
    instructions: str
    weights: dict[str, float]
    descriptions: dict[str, str]
    threshold: float
    must_cap: float
    preferred_cap: float
    risks: tuple[str, ...]
    evidence_min_ratio: float
    unsupported_dimension_cap: float
    unverified_max_weight: float
    scale_by_met_share: bool
    cap_mode: str
    model: str
    hash: str

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(self.weights)

    def rendered_instructions(self) -> str:
        dims = "\n".join(f"- {d}: {self.descriptions[d]}" for d in self.dimensions)
        return self.instructions.replace("{dimensions}", dims).replace("{risks}", ", ".join(self.risks))


def load_rubric(folder: str | Path | None = None) -> Rubric:
    if folder:
        md, yml = Path(folder) / "rubric.md", Path(folder) / "rubric.yaml"
    else:  # each file from the prompt folders (--prompts / MIRA_PROMPTS, <home>/prompts, bundled)
        md = find_prompt_file("judge/rubric.md") or Path("judge/rubric.md")
        yml = find_prompt_file("judge/rubric.yaml") or Path("judge/rubric.yaml")
    for f in (md, yml):
        if not f.exists():
            raise InputError(f"Rubric file {f} is missing.")
    text, raw = md.read_text(encoding="utf-8"), yml.read_text(encoding="utf-8")
    try:
        cfg = yaml.safe_load(raw) or {}
    except yaml.YAMLError as e:
        raise InputError(f"{yml}: not valid YAML ({e}).") from None
    dims = cfg.get("dimensions") or {}
    if not dims:
        raise InputError(f"{yml}: 'dimensions' is empty.")
    weights, desc = {}, {}
    for name, spec in dims.items():
        spec = spec if isinstance(spec, dict) else {"weight": spec}
        try:
            weights[name] = float(spec["weight"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{yml}: dimension '{name}' needs a numeric weight.") from None
        desc[name] = spec.get("description", name)
    if sum(weights.values()) <= 0:
        raise InputError(f"{yml}: dimension weights must add up to more than 0.")
    caps = cfg.get("caps") or {}
    cons = cfg.get("consistency") or {}
    cap_mode = str(caps.get("mode", "min"))
    if cap_mode not in ("min", "scale"):
        raise InputError(f"{yml}: caps.mode '{cap_mode}': use min (the total is at most the cap) or scale (cap x raw "
                         f"total / 100: under the cap and still ordered).")
    return Rubric(instructions=text, weights=weights, descriptions=desc, threshold=float(cfg.get("threshold", 75)),
                  must_cap=float(caps.get("must_unmet", 60)), preferred_cap=float(caps.get("preferred_missing", 85)),
                  risks=tuple(cfg.get("risks") or ()), evidence_min_ratio=float(cfg.get("evidence_min_ratio", 85)),
                  unsupported_dimension_cap=float((cfg.get("consistency") or {}).get("unsupported_dimension_cap",
                                                                                      40)),
                  unverified_max_weight=float(cons.get("unverified_max_weight", 1.0)),
                  scale_by_met_share=bool(cons.get("scale_by_met_share", False)), cap_mode=cap_mode,
                  model=cfg.get("model", "openai/Qwen/Qwen3-32B"),
                  hash=hashlib.sha256((text + "\0" + raw).encode()).hexdigest()[:16])
