"""Stage 4, boundary (hard negative): same title, strictly shallower ownership / scope."""

from __future__ import annotations

import dspy

from ..runner import Task
from ..textcheck import containment
from .common import (CUE, SCOPES, DATA_DESC, PromptedModule, ScopeLevel, fence, own_words_problem, pair_record,
                     same_title, text_grounding, text_problem)
from .scope import load_cues

RESP_COPY = 0.5  # containment of the anchor's responsibilities in the text at or above this: not a different role
ANGLES = ("day-to-day execution of assigned tasks", "quality checks, documentation and reporting",
          "coordination and preparation work for others' decisions")


class RoleBoundary(dspy.Signature):
    """Rewrite the job at a strictly shallower scope, same title and requirements."""

    anchor: str = dspy.InputField(desc=f"structured job anchor; {DATA_DESC}")
    anchor_scope: str = dspy.InputField()
    target_scope: str = dspy.InputField(desc="write the role at this scope level")
    brief: str = dspy.InputField(desc="this variant's own focus (variants of one anchor differ)")
    title: str = dspy.OutputField(desc="exactly the anchor's title")
    scope_level: ScopeLevel = dspy.OutputField()
    responsibilities: list[str] = dspy.OutputField()
    text: str = dspy.OutputField(desc="the full job description of the shallower role")


class Boundary(PromptedModule):
    signature = RoleBoundary
    prompt_name = "jd/boundary"
    grounded = ("title", "scope_level", "text")


def brief(anchor: dict, v: int, n: int, target: str) -> str:
    """Variant v's own instruction: its target level and a distinct slice of the anchor's work to centre on."""
    resp = anchor.get("responsibilities") or []
    focus = resp[v] if v < len(resp) else ANGLES[(v - len(resp)) % len(ANGLES)]
    return (f"Variant {v + 1} of {n}: write the role at '{target}' level, centred on supporting this part of the "
            f"anchor's work: {focus}")


def make_tasks(anchor: dict, n: int) -> list[Task]:
    """n rewrites, each with its own instruction (nearest lower scope first, then a distinct focus); none when the
    anchor is already at the lowest level."""
    below = SCOPES[:SCOPES.index(anchor["scope_level"])]
    tasks = []
    for v in range(n if below else 0):
        target = below[-1 - (v % len(below))]
        tasks.append(Task(f"boundary:{anchor['id']}:{v}",
                          {"anchor": fence(anchor["card"], "ANCHOR"), "anchor_scope": anchor["scope_level"],
                           "target_scope": target, "brief": brief(anchor, v, n, target)},
                          meta={"anchor": anchor, "variant": v}, rollout=v,
                          grounding={"title": [anchor["title"]], "scope_level": list(below),
                                     **text_grounding(anchor["title"], anchor["must"],
                                                      f"This role {CUE[target]} ")}))
    return tasks


def check(task: Task, out: dict) -> str | None:
    """Reads the text: the anchor's title and must values in it; its ownership cues (prompts/jd/scope_cues.yaml)
    place it strictly below the anchor's level (no cue: ambiguous, rejected), the anchor's level being the one stage 1
    read from the JD's own words with the same cue lexicon; the answer's title is the anchor's; its
    responsibilities are not the anchor's. The answer's own `scope_level` only words the re-ask."""
    anchor = task.meta["anchor"]
    problem = text_problem(out.get("text"), anchor["title"], anchor["must"])
    if problem:
        return problem
    if not same_title(out.get("title") or anchor["title"], anchor["title"]):
        return f"the title must be the anchor's, '{anchor['title']}' (got '{out.get('title')}')"
    target = task.inputs["target_scope"]
    level = load_cues().level(out["text"])
    if level is None:
        return (f"scope ambiguous: the text has no ownership cue (e.g. 'assists', 'under supervision', "
                f"'contributes to'); write it plainly at '{target}' level")
    if SCOPES.index(level) >= SCOPES.index(anchor["scope_level"]):
        return (f"scope not shallower: the text reads at '{level}' (the anchor is '{anchor['scope_level']}'); "
                f"remove ownership / leadership wording above '{target}'")
    resp = "; ".join(anchor.get("responsibilities") or []) or anchor["card"]
    required = "\n".join([anchor["title"]] + [c["value"] for c in anchor["must"]])  # must be shared: not counted
    c = containment(resp, out["text"], ignore=required)
    if c >= RESP_COPY:
        return (f"responsibilities copied from the anchor (containment {c:.2f} >= {RESP_COPY}): give the "
                f"shallower role its own duties")
    return own_words_problem(out["text"], anchor["title"], anchor["must"], (f"This role {CUE.get(target, '')}",))


def build(task: Task, out: dict, prompt_hash: str, model: str) -> dict:
    a = task.meta["anchor"]
    return pair_record("boundary", a, a["card"], out["text"], "negative",
                       {"title": a["title"], "scope_level": load_cues().level(out["text"]),
                        "claimed_scope_level": out.get("scope_level"), "anchor_scope": a["scope_level"],
                        "responsibilities": out.get("responsibilities") or []}, prompt_hash, model,
                       task.meta["variant"])
