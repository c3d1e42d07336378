"""Stage 3, card (positive): the raw JD compressed into the anchor's compact card format."""

from __future__ import annotations

import dspy

from ..runner import Task
from .common import DATA_DESC, PromptedModule, fence, pair_record, render_card, text_problem

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
    grounded = ("title", "must", "must[]")


def make_tasks(anchor: dict, jd: dict) -> list[Task]:
    from .extract import jd_input

    raw = jd_input(jd, MAX_CHARS)
    values = [c["value"] for c in anchor["must"]]
    must = {"must": {"minItems": len(values), "maxItems": len(values)}, "must[]": values} if values else {}
    return [Task(f"card:{anchor['id']}", {"jd_summary": fence(raw)}, meta={"anchor": anchor, "raw": raw},
                 grounding={"title": [anchor["title"]], **must})]


def render(out: dict) -> str:
    return render_card(out["title"].strip(), must=[m for m in out.get("must") or [] if m.strip()],
                       skills=[s for s in out.get("skills") or [] if s.strip()], summary=out.get("summary"))


def check(task: Task, out: dict) -> str | None:
    """Reads the card as rendered from the answer: the anchor's title and every must value in it."""
    if not (out.get("title") or "").strip():
        return "empty title: give the JD's job title"
    return text_problem(render(out), task.meta["anchor"]["title"], task.meta["anchor"]["must"])


def build(task: Task, out: dict, prompt_hash: str, model: str) -> dict:
    return pair_record("card", task.meta["anchor"], task.meta["raw"], render(out), "positive",
                       {"title": out["title"], "must": out.get("must") or []}, prompt_hash, model)
