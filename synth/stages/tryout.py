"""Prompt iteration: run one stage on a small sample (no dataset written), or two prompt versions side by side."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..paths import PROMPTS_DIR, REPO_ROOT
from ..runner import Runner
from ..store import DatasetStore
from . import boundary, card, constraint, extract, paraphrase

STAGES = ("extract", "paraphrase", "card", "boundary", "constraint")


@dataclass
class TryResult:
    stage: str
    rows: list[dict]  # {"key", "input", "output", "check", "ok"}


def _module_cls(stage: str):
    return {"extract": extract.Extract, "paraphrase": paraphrase.Paraphrase, "card": card.Card,
            "boundary": boundary.Boundary, "constraint": constraint.ConstraintFlip}[stage]


def _check(stage: str):
    return {"extract": extract.check, "paraphrase": paraphrase.check,
            "card": card.check, "boundary": boundary.check, "constraint": constraint.check}[stage]


def sample_tasks(stage: str, store: DatasetStore, runner: Runner, jds_ref: str | None, anchors_ref: str | None,
                 n: int):
    if stage not in STAGES:
        raise InputError(f"Unknown stage '{stage}' (stages: {', '.join(STAGES)}).")
    jds = {r["id"]: r for r in store.resolve(jds_ref, "jd").records()[: max(n, 1) * 3]} if jds_ref else {}
    if stage == "extract":
        if not jds:
            raise InputError("`prompt try extract` needs --jds REF.")
        return [extract.make_task(j) for j in jds.values() if not extract.precheck(j)][:n]
    if anchors_ref:
        anchors = store.resolve(anchors_ref, "jd_anchor").records()
    elif jds:  # make anchors for the sample first (cached like every call)
        module = extract.Extract()
        tasks = [extract.make_task(j) for j in jds.values() if not extract.precheck(j)][: n * 2]
        res = runner.run(module, tasks, check=extract.check, label="try-extract")
        anchors = [a for o in res.kept
                   if (a := extract.build_anchor(jds[o.meta["jd_id"]], o.output, module.prompt_hash,
                                                 runner.lm_config.model)[0])]
    else:
        raise InputError(f"`prompt try {stage}` needs --anchors REF or --jds REF.")
    make = {"paraphrase": paraphrase.make_tasks, "card": lambda a: card.make_tasks(a, jds[a["jd_id"]])
            if a["jd_id"] in jds else [], "boundary": lambda a: boundary.make_tasks(a, 1),
            "constraint": lambda a: constraint.make_tasks(a, 1)}[stage]
    if stage == "card" and not jds:
        raise InputError("`prompt try card` reads raw JDs: pass --jds REF.")
    return [t for a in anchors for t in make(a)][:n]


def run_try(stage: str, store: DatasetStore, runner: Runner, jds_ref: str | None, anchors_ref: str | None, n: int,
            prompt: str | Path | None = None) -> TryResult:
    tasks = sample_tasks(stage, store, runner, jds_ref, anchors_ref, n)
    module = _module_cls(stage)(prompt)
    res = runner.run(module, tasks, label=f"try-{stage}")
    check = _check(stage)
    by_key = {t.key: t for t in tasks}
    rows = []
    for o in res.outcomes:
        problem = check(by_key[o.key], o.output) if o.ok else o.reason
        rows.append({"key": o.key, "input": by_key[o.key].inputs, "output": o.output, "raw": o.raw,
                     "check": problem or "ok", "ok": problem is None})
    return TryResult(stage, rows)


def resolve_prompt_version(stage: str, against: str, home: Path) -> Path:
    """A file path, or a git revision of prompts/jd/<stage>.md (written under <home>/.mira/prompts/)."""
    p = Path(against)
    if p.is_file():
        return p
    rel = (PROMPTS_DIR / "jd" / f"{stage}.md").relative_to(REPO_ROOT)
    try:
        text = subprocess.run(["git", "show", f"{against}:{rel}"], cwd=REPO_ROOT, capture_output=True, text=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        raise InputError(f"--against '{against}' is neither a file nor a git revision that has {rel}.") from None
    out = home / ".mira" / "prompts" / f"{stage}-{against.replace('/', '_')}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out


def field_diff(a: dict | None, b: dict | None) -> list[tuple[str, object, object]]:
    a, b = a or {}, b or {}
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
