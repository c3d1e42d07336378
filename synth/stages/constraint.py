"""Stage 5, constraint (hard negative): exactly one non-location requirement flipped."""

from __future__ import annotations

import re
from collections import Counter

import dspy

from ..runner import Task
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
    return [c for c in anchor["must"] if c["field"] != "location"]


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
    anchor, flip = task.meta["anchor"], task.meta["flip"]
    after = [c if isinstance(c, dict) else dict(c) for c in out.get("must") or []]
    removed, added = diff(anchor["must"], after)
    fields = {f for f, _ in removed} | {f for f, _ in added}
    if not removed and not added:
        return f"nothing changed: flip '{flip['field']}: {flip['value']}' to a conflicting value"
    if "location" in fields:
        return "location changed: location must stay as it is"
    if sum(removed.values()) != 1 or sum(added.values()) != 1 or fields != {flip["field"]}:
        changed = ", ".join(sorted(fields))
        return f"expected exactly one changed field ({flip['field']}), got changes in: {changed}"
    return None


def build(task: Task, out: dict, prompt_hash: str, model: str) -> dict:
    a, flip = task.meta["anchor"], task.meta["flip"]
    after = [c if isinstance(c, dict) else dict(c) for c in out.get("must") or []]
    _, added = diff(a["must"], after)
    new_value = next(iter(added))[1] if added else None
    return pair_record("constraint", a, a["card"], out["text"], "negative",
                       {"field": flip["field"], "from": flip["value"], "to": new_value, "must": after},
                       prompt_hash, model, task.meta["variant"])
