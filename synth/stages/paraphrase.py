"""Stage 2, paraphrase (positive): a synonym / abbreviation rewrite of the anchor that means the same job."""

from __future__ import annotations

import dspy

from ..dedup import MinHasher
from ..runner import Task
from .common import DATA_DESC, PromptedModule, fence, missing_constraints, pair_record, same_title

NEAR_COPY = 0.6  # MinHash Jaccard at or above this: the rewrite is a near-copy of the anchor


class ParaphraseAnchor(dspy.Signature):
    """Rewrite the job anchor with synonyms and abbreviations, same meaning."""

    anchor: str = dspy.InputField(desc=f"structured job anchor; {DATA_DESC}")
    title: str = dspy.OutputField(desc="the job title used in the rewrite")
    text: str = dspy.OutputField(desc="the full rewritten job description")


class Paraphrase(PromptedModule):
    signature = ParaphraseAnchor
    prompt_name = "jd/paraphrase"


def make_tasks(anchor: dict) -> list[Task]:
    return [Task(f"paraphrase:{anchor['id']}", {"anchor": fence(anchor["card"], "ANCHOR")}, meta={"anchor": anchor})]


def check(task: Task, out: dict, hasher: MinHasher, near_copy: float = NEAR_COPY) -> str | None:
    anchor = task.meta["anchor"]
    if not same_title(out["title"], anchor["title"]):
        return f"title changed: '{out['title']}' is not the anchor's title '{anchor['title']}'"
    missing = missing_constraints(anchor["must"], out["text"])
    if missing:
        return f"must requirements missing from the text: {'; '.join(missing)}"
    j = hasher.jaccard(out["text"], anchor["card"])
    if j >= near_copy:
        return f"near-copy of the anchor (MinHash Jaccard {j:.2f} >= {near_copy}): rewrite in your own words"
    return None


def build(task: Task, out: dict, prompt_hash: str, model: str) -> dict:
    a = task.meta["anchor"]
    return pair_record("paraphrase", a, a["card"], out["text"], "positive", {"title": out["title"]}, prompt_hash,
                       model)
