"""Stage 4, boundary (hard negative): same title, strictly shallower ownership / scope."""

from __future__ import annotations

import dspy

from ..runner import Task
from .common import SCOPES, DATA_DESC, PromptedModule, ScopeLevel, fence, missing_constraints, pair_record, same_title


class RoleBoundary(dspy.Signature):
    """Rewrite the job at a strictly shallower scope, same title and requirements."""

    anchor: str = dspy.InputField(desc=f"structured job anchor; {DATA_DESC}")
    anchor_scope: str = dspy.InputField()
    target_scope: str = dspy.InputField(desc="write the role at this scope level")
    title: str = dspy.OutputField(desc="exactly the anchor's title")
    scope_level: ScopeLevel = dspy.OutputField()
    responsibilities: list[str] = dspy.OutputField()
    text: str = dspy.OutputField(desc="the full job description of the shallower role")


class Boundary(PromptedModule):
    signature = RoleBoundary
    prompt_name = "jd/boundary"


def make_tasks(anchor: dict, n: int) -> list[Task]:
    """n rewrites, nearest lower scope first; none when the anchor is already at the lowest level."""
    below = SCOPES[:SCOPES.index(anchor["scope_level"])]
    tasks = []
    for v in range(n if below else 0):
        target = below[-1 - (v % len(below))]
        tasks.append(Task(f"boundary:{anchor['id']}:{v}",
                          {"anchor": fence(anchor["card"], "ANCHOR"), "anchor_scope": anchor["scope_level"],
                           "target_scope": target}, meta={"anchor": anchor, "variant": v}, rollout=v))
    return tasks


def check(task: Task, out: dict) -> str | None:
    anchor = task.meta["anchor"]
    if not same_title(out["title"], anchor["title"]):
        return f"title changed: '{out['title']}' must be exactly '{anchor['title']}'"
    if SCOPES.index(out["scope_level"]) >= SCOPES.index(anchor["scope_level"]):
        return (f"scope not shallower: '{out['scope_level']}' is not below the anchor's "
                f"'{anchor['scope_level']}' (write it at '{task.inputs['target_scope']}')")
    missing = missing_constraints(anchor["must"], out["text"])
    if missing:
        return f"must requirements changed or missing: {'; '.join(missing)}"
    return None


def build(task: Task, out: dict, prompt_hash: str, model: str) -> dict:
    a = task.meta["anchor"]
    return pair_record("boundary", a, a["card"], out["text"], "negative",
                       {"title": out["title"], "scope_level": out["scope_level"], "anchor_scope": a["scope_level"],
                        "responsibilities": out.get("responsibilities") or []}, prompt_hash, model,
                       task.meta["variant"])
