"""Stage 5, constraint (hard negative): exactly one non-location requirement flipped."""

from __future__ import annotations

import re
from collections import Counter

import dspy

from ..runner import Task
from ..textcheck import present, title_in
from .common import DATA_DESC, Constraint, PromptedModule, fence, pair_record


class ConstraintConflict(dspy.Signature):
    """Flip exactly the requested requirement; keep everything else."""

    anchor: str = dspy.InputField(desc=f"structured job anchor; {DATA_DESC}")
    flip: str = dspy.InputField(desc="the requirement to change, as 'field: value'")
    must: list[Constraint] = dspy.OutputField(desc="all must requirements after the change")
    text: str = dspy.OutputField(desc="the full job description with the changed requirement")


class ConstraintFlip(PromptedModule):
    signature = ConstraintConflict
    prompt_name = "jd/constraint"


def _norm(v: str) -> str:
    return " ".join(re.findall(r"[a-z0-9+#.]+", v.lower()))


def flippable(anchor: dict) -> list[dict]:
    """Non-location must constraints whose content a check can find in text (a value with no content word or
    number could never be shown gone)."""
    return [c for c in anchor["must"] if c["field"] != "location" and present(c["value"], c["value"])]


def make_tasks(anchor: dict, n: int) -> list[Task]:
    cands = flippable(anchor)
    tasks = []
    for v, c in enumerate(cands[:n]):
        tasks.append(Task(f"constraint:{anchor['id']}:{v}",
                          {"anchor": fence(anchor["card"], "ANCHOR"), "flip": f"{c['field']}: {c['value']}"},
                          meta={"anchor": anchor, "variant": v, "flip": c}, rollout=v))
    return tasks


def diff(before: list[dict], after: list[dict]) -> tuple[Counter, Counter]:
    """(removed, added) multisets of (field, normalised value)."""
    b = Counter((c["field"], _norm(c["value"])) for c in before)
    a = Counter((c["field"], _norm(c["value"])) for c in after)
    return b - a, a - b


def check(task: Task, out: dict) -> str | None:
    """Reads the text: the flipped value is gone from it and its replacement is in it, every other must value
    (location included) is still in it, and so is the title. The answer's `must` list names the replacement; its
    other entries only word the re-ask."""
    anchor, flip = task.meta["anchor"], task.meta["flip"]
    text = (out.get("text") or "").strip()
    if not text:
        return "empty text: write the full job description with the changed requirement in `text`"
    if not title_in(anchor["title"], text):
        return f"the text does not contain the anchor's title '{anchor['title']}' (keep it exactly)"
    after = [c if isinstance(c, dict) else dict(c) for c in out.get("must") or []]
    _, added = diff(anchor["must"], after)
    new = [v for f, v in added if f == flip["field"]]
    if len(new) != 1:
        return (f"give exactly one new value for '{flip['field']}' in `must` (the one that replaces "
                f"'{flip['value']}')")
    if present(flip["value"], text):
        return f"the flipped requirement is still in the text: '{flip['value']}' must be replaced, not kept"
    if not present(new[0], text):
        return f"the new value '{new[0]}' is not in the text: state it where '{flip['value']}' was"
    kept = [c for c in anchor["must"] if c is not flip and c != flip]
    missing = [c["value"] for c in kept if not present(c["value"], text)]
    if missing:
        return f"other must requirements changed or missing from the text (keep them): {'; '.join(missing)}"
    return None


def build(task: Task, out: dict, prompt_hash: str, model: str) -> dict:
    a, flip = task.meta["anchor"], task.meta["flip"]
    after = [c if isinstance(c, dict) else dict(c) for c in out.get("must") or []]
    _, added = diff(a["must"], after)
    new_value = next((v for f, v in added if f == flip["field"]), None)
    return pair_record("constraint", a, a["card"], out["text"], "negative",
                       {"field": flip["field"], "from": flip["value"], "to": new_value, "must": after},
                       prompt_hash, model, task.meta["variant"])
