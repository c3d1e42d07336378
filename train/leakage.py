"""The leakage guard: which evaluation JDs a Mira-trained model saw in training or validation (its mira_train.json
lineage, through its base models)."""

from __future__ import annotations

from pathlib import Path

from .scorer import Scorer


def training_lineage(model_path: str) -> dict[str, set[str]]:
    """JD ids and JD text hashes a Mira-trained model saw in training or validation (its mira_train.json and its
    base's, recursively); empty for models Mira did not train."""
    import json

    seen = {"jd_ids": set(), "jd_text_hashes": set()}
    path, hops = Path(model_path), 0
    while path and (path / "mira_train.json").exists() and hops < 8:
        m = json.loads((path / "mira_train.json").read_text())
        lin = m.get("lineage") or {}
        for k in seen:
            seen[k].update(lin.get(k) or [])
        base = m.get("base_path")
        path, hops = (Path(base) if base and Path(base) != path else None), hops + 1
    return seen


def leaked_jds(scorer: Scorer, jds: list[dict]) -> int:
    """How many evaluation JDs (by id or normalised-text hash) the scorer's model trained or validated on."""
    from .data import text_hash

    seen = training_lineage(scorer.model_path)
    return sum(1 for j in jds if j["id"] in seen["jd_ids"] or text_hash(j["text"]) in seen["jd_text_hashes"])
