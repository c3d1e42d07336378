"""Stage 3, card (positive): the raw JD compressed into the anchor's compact card format."""

from __future__ import annotations

import dspy

from ..requirements import CODE_DECIDED, read_statement
from ..runner import Task
from ..textcheck import phrase_in
from .common import DATA_DESC, PromptedModule, fence, pair_record, render_card, same_title, text_problem
from .extract import covers, jd_input

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
    raw = jd_input(jd, MAX_CHARS)
    values = [c["value"] for c in anchor["must"]]
    must = {"must": {"minItems": len(values), "maxItems": len(values)}, "must[]": values} if values else {}
    return [Task(f"card:{anchor['id']}", {"jd_summary": fence(raw)}, meta={"anchor": anchor, "raw": raw},
                 grounding={"title": [anchor["title"]], **must})]


def _norm(v: str) -> str:
    return " ".join(v.lower().split())


def verified(task: Task, out: dict) -> tuple[dict, list[str]]:
    """(the card's fields from verified anchor fields only, the answer's must items that are no anchor must): the
    title is the anchor's, each must an anchor must value the answer listed, each skill one the raw JD states."""
    anchor = task.meta["anchor"]
    values = {_norm(c["value"]): c["value"] for c in anchor["must"]}
    listed = [m.strip() for m in out.get("must") or [] if m.strip()]
    invented = [m for m in listed if _norm(m) not in values]
    must = [values[_norm(m)] for m in listed if _norm(m) in values]
    skills = [s for s in out.get("skills") or [] if s.strip() and phrase_in(s, task.meta["raw"])]
    return {"title": anchor["title"], "must": must, "skills": skills, "summary": out.get("summary")}, invented


def render(task: Task, out: dict) -> str:
    f, _ = verified(task, out)
    return render_card(f["title"], must=f["must"], skills=f["skills"], summary=f["summary"])


def check(task: Task, out: dict) -> str | None:
    """The card is rendered only from verified anchor fields; an answer must that is no anchor must (an invented
    "PhD in physics") rejects it, and so does a summary stating a years / degree / certification requirement the
    anchor lacks. Then the rendered card holds the anchor's title and every must value."""
    if not (out.get("title") or "").strip():
        return "empty title: give the JD's job title"
    if not same_title(out["title"], task.meta["anchor"]["title"]):
        return f"the card's title must be the anchor's title '{task.meta['anchor']['title']}' (got '{out['title']}')"
    _, invented = verified(task, out)
    if invented:
        return f"must requirements that are not the anchor's: {'; '.join(invented)} (list only the JD's own)"
    have = [r for c in task.meta["anchor"]["must"] for r in read_statement(c.get("evidence") or c["value"])]
    extra = [q.text for q in read_statement(out.get("summary") or "")
             if q.kind in CODE_DECIDED and not q.negated and not covers(have, q)]
    if extra:
        return f"the summary states a requirement the JD's anchor does not have: {extra[0]}"
    return text_problem(render(task, out), task.meta["anchor"]["title"], task.meta["anchor"]["must"])


def build(task: Task, out: dict, prompt_hash: str, model: str) -> dict:
    f, _ = verified(task, out)
    return pair_record("card", task.meta["anchor"], task.meta["raw"], render(task, out), "positive",
                       {"title": f["title"], "must": f["must"], "claimed_title": out["title"]}, prompt_hash, model)
