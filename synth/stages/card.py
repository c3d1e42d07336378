"""Stage 3, card (positive): the raw JD compressed into the anchor's compact card format."""

from __future__ import annotations

import dspy

from ..runner import Task
from .common import DATA_DESC, PromptedModule, fence, missing_constraints, pair_record, render_card, same_title

MAX_CHARS = 6000


class SummariseToCard(dspy.Signature):
    """Compress the raw job description into a compact job card."""

    jd_summary: str = dspy.InputField(desc=f"raw job description; {DATA_DESC}")
    title: str = dspy.OutputField()
    must: list[str] = dspy.OutputField(desc="hard requirements with their values")
    skills: list[str] = dspy.OutputField(desc="key skills as written in the JD")
    summary: str = dspy.OutputField(desc="one sentence")


class Card(PromptedModule):
    signature = SummariseToCard
    prompt_name = "jd/card"


def make_tasks(anchor: dict, jd: dict) -> list[Task]:
    from .extract import jd_input

    raw = jd_input(jd, MAX_CHARS)
    return [Task(f"card:{anchor['id']}", {"jd_summary": fence(raw)}, meta={"anchor": anchor, "raw": raw})]


def render(out: dict) -> str:
    return render_card(out["title"].strip(), must=[m for m in out.get("must") or [] if m.strip()],
                       skills=[s for s in out.get("skills") or [] if s.strip()], summary=out.get("summary"))


def check(task: Task, out: dict) -> str | None:
    anchor = task.meta["anchor"]
    if not same_title(out["title"], anchor["title"]):
        return f"title changed: '{out['title']}' is not the JD's title '{anchor['title']}'"
    missing = missing_constraints(anchor["must"], render(out))
    if missing:
        return f"card lacks must requirements: {'; '.join(missing)}"
    return None


def build(task: Task, out: dict, prompt_hash: str, model: str) -> dict:
    return pair_record("card", task.meta["anchor"], task.meta["raw"], render(out), "positive",
                       {"title": out["title"], "must": out.get("must") or []}, prompt_hash, model)
