"""Stage 2, paraphrase (positive): a synonym / abbreviation rewrite of the anchor that means the same job."""

from __future__ import annotations

import dspy

from ..runner import Task
from ..textcheck import containment
from .common import (DATA_DESC, PromptedModule, fence, own_words_problem, pair_record, text_grounding,
                     text_problem)

NEAR_COPY = 0.5  # shingle containment at or above this: the rewrite is a near-copy of the anchor


class ParaphraseAnchor(dspy.Signature):
    """Rewrite the job anchor with synonyms and abbreviations, same meaning."""

    anchor: str = dspy.InputField(desc=f"structured job anchor; {DATA_DESC}")
    title: str = dspy.OutputField(desc="the job title used in the rewrite")
    text: str = dspy.OutputField(desc="the full rewritten job description")


class Paraphrase(PromptedModule):
    signature = ParaphraseAnchor
    prompt_name = "jd/paraphrase"
    grounded = ("title", "text")


def make_tasks(anchor: dict) -> list[Task]:
    return [Task(f"paraphrase:{anchor['id']}", {"anchor": fence(anchor["card"], "ANCHOR")}, meta={"anchor": anchor},
                 grounding={"title": [anchor["title"]], **text_grounding(anchor["title"], anchor["must"])})]


def check(task: Task, out: dict, near_copy: float = NEAR_COPY) -> str | None:
    """Reads the text: the anchor's title and every must value in it, and not a near-copy of the anchor card
    (shared word 3-shingles / shingles of the shorter text below `near_copy`)."""
    anchor = task.meta["anchor"]
    problem = text_problem(out.get("text"), anchor["title"], anchor["must"])
    if problem:
        return problem
    c = containment(out["text"], anchor["card"])
    if c >= near_copy:
        return f"near-copy of the anchor (shingle containment {c:.2f} >= {near_copy}): rewrite in your own words"
    return own_words_problem(out["text"], anchor["title"], anchor["must"])


def build(task: Task, out: dict, prompt_hash: str, model: str) -> dict:
    a = task.meta["anchor"]
    return pair_record("paraphrase", a, a["card"], out["text"], "positive", {"title": out["title"]}, prompt_hash,
                       model)
