"""Stage 5, constraint (hard negative): exactly one non-location requirement flipped."""

from __future__ import annotations

import re
from collections import Counter

import dspy

from ..requirements import load_lexicon, read_statement, years_statements
from ..runner import Task
from ..textcheck import present, prose_problem, title_in
from .common import DATA_DESC, Constraint, PromptedModule, fence, opening, pair_record, text_grounding


class ConstraintConflict(dspy.Signature):
    """Flip exactly the requested requirement; keep everything else."""

    anchor: str = dspy.InputField(desc=f"structured job anchor; {DATA_DESC}")
    flip: str = dspy.InputField(desc="the requirement to change, as 'field: value'")
    must: list[Constraint] = dspy.OutputField(desc="all must requirements after the change")
    text: str = dspy.OutputField(desc="the full job description with the changed requirement")


class ConstraintFlip(PromptedModule):
    signature = ConstraintConflict
    prompt_name = "jd/constraint"
    grounded = ("must", "must[].field", "text")


def _norm(v: str) -> str:
    return " ".join(re.findall(r"[a-z0-9+#.]+", v.lower()))


def flippable(anchor: dict) -> list[dict]:
    """Non-location must constraints whose content a check can find in text (a value with no content word or
    number could never be shown gone)."""
    return [c for c in anchor["must"] if c["field"] != "location" and present(c["value"], c["value"])]


def replacement(c: dict) -> str | None:
    """A code-chosen conflicting value for the fields where one is unambiguous: years of experience (a short
    requirement becomes a long one and vice versa) and degree level (a degree becomes a doctorate, a graduate
    degree a high-school diploma). Other fields: None (the LLM chooses, and names it in `must`)."""
    if c["field"] == "years_experience":
        m = re.search(r"\d+", c["value"])
        if m:
            n = int(m.group(0))
            return f"{n + 5}+ years" if n < 4 else ("1 year" if n > 1 else "10+ years")
    if c["field"] == "degree":
        graduate = re.search(r"\b(master|m\.?s\.?c?|mba|ph\.?d|doctor)", c["value"], re.I)
        return "high school diploma" if graduate else "PhD"
    return None


def make_tasks(anchor: dict, n: int) -> list[Task]:
    """One task per flippable constraint (up to n; those with a code-chosen replacement first). Grounded decoding:
    the `must` list has the anchor's fields, one entry each; the text opens with the title and the must values after
    the flip. When code did not choose the replacement, the opening lists the other values and then the writer's
    own new one (`Title. Requires v1; <new>. `): the check reads it there (SmolLM2 named values in `must` such as
    '#1' or '## must ##' that its text never stated)."""
    cands = sorted(flippable(anchor), key=lambda c: replacement(c) is None)  # code-chosen flips first
    tasks = []
    for v, c in enumerate(cands[:n]):
        to = replacement(c)
        after = [{**x, "value": to} if x is c else x for x in anchor["must"]]
        flip = f"{c['field']}: {c['value']}" + (f" -> {to}" if to else "")
        # the list after the flip has the anchor's fields, one entry each (the LLM may not invent a constraint)
        fields = [x["field"] for x in anchor["must"]]
        # the text opens with the title and the must values after the flip (the new one in a slot when code did not
        # choose it)
        listed = after if to else [x for x in anchor["must"] if x is not c]
        grounding = {"must": {"minItems": len(fields), "maxItems": len(fields)}, "must[].field": fields}
        meta = {"anchor": anchor, "variant": v, "flip": c, "to": to,
                "slot": None if to else opening(anchor["title"], listed, slot=True)}
        tasks.append(Task(f"constraint:{anchor['id']}:{v}", {"anchor": fence(anchor["card"], "ANCHOR"), "flip": flip},
                          meta=meta, rollout=v,
                          grounding={**grounding, **text_grounding(anchor["title"], listed, slot=to is None)}))
    return tasks


def diff(before: list[dict], after: list[dict]) -> tuple[Counter, Counter]:
    """(removed, added) multisets of (field, normalised value)."""
    b = Counter((c["field"], _norm(c["value"])) for c in before)
    a = Counter((c["field"], _norm(c["value"])) for c in after)
    return b - a, a - b


def slot_value(task: Task, text: str) -> str | None:
    """The replacement the text states in its grounded opening (`Title. Requires v1; <new>. `), else None."""
    head = task.meta.get("slot")
    if not head or not text.startswith(head):
        return None
    value, sep, _ = text[len(head):].partition(". ")
    return value.strip() if sep and value.strip() and ";" not in value else None


def new_values(task: Task, out: dict) -> list[str]:
    """The replacement: code-chosen (`-> value` in the task's flip), else the one the text states in its grounded
    opening, else the flipped field's new entries in the answer's `must` list."""
    if task.meta.get("to"):
        return [task.meta["to"]]
    stated = slot_value(task, (out.get("text") or "").strip())
    if stated:
        return [stated]
    after = [c if isinstance(c, dict) else dict(c) for c in out.get("must") or []]
    _, added = diff(task.meta["anchor"]["must"], after)
    return [v for f, v in added if f == task.meta["flip"]["field"]]


def old_still_read(flip: dict, text: str, others: list[dict] = ()) -> str | None:
    """The flipped requirement read back from the text by the requirement model: a years value whose number the
    text still states in other words ("half a decade" for "5+ years"), a degree whose level it still asks."""
    old = [r for r in read_statement(flip.get("evidence") or flip["value"]) if r.kind in ("years", "degree")]
    shared = {r.years_min for c in others if c["field"] == "years_experience"
              for r in read_statement(c.get("evidence") or c["value"]) if r.kind == "years"}
    for r in old:
        if r.kind == "years" and flip["field"] == "years_experience":
            for lo, hi, (s, e) in years_statements(text):
                if lo == r.years_min and hi == r.years_max and lo not in shared:  # another must's number is no trace
                    return f"'{text[s:e]}' is {lo:g} years"
        if r.kind == "degree" and flip["field"] == "degree":
            lex = load_lexicon()
            for sent in re.split(r"(?<=[.;!?])\s+|\n+", text):
                if lex.degree_level(sent) == r.degree and not lex.has("negation", sent):
                    return f"'{sent.strip()[:80]}' still asks for a {lex.degree_name(r.degree)} degree"
    return None


def check(task: Task, out: dict) -> str | None:
    """Reads the text: the flipped value is gone from it and its replacement is in it, every other must value
    (location included) is still in it, and so is the title. The new value may not be another must of the anchor
    (that is a deletion, not a conflict), and the old value may not survive reworded (the requirement model reads
    "half a decade" as 5 years). The replacement is the code-chosen one, else the one
    the text states in its grounded opening, else the one the answer's `must` list names; the list's other entries
    only word the re-ask."""
    anchor, flip = task.meta["anchor"], task.meta["flip"]
    text = (out.get("text") or "").strip()
    if not text:
        return "empty text: write the full job description with the changed requirement in `text`"
    if not title_in(anchor["title"], text):
        return f"the text does not contain the anchor's title '{anchor['title']}' (keep it exactly)"
    new = new_values(task, out)
    if len(new) != 1:
        return (f"give exactly one new value for '{flip['field']}' in `must` (the one that replaces "
                f"'{flip['value']}')")
    if present(flip["value"], text):
        return f"the flipped requirement is still in the text: '{flip['value']}' must be replaced, not kept"
    others = [c for c in anchor["must"] if c is not flip and c != flip]
    twin = next((c["value"] for c in others if _norm(c["value"]) == _norm(new[0]) or
                 (present(c["value"], new[0]) and present(new[0], c["value"]))), None)
    if twin:
        return (f"the new value '{new[0]}' is another must requirement of the anchor ('{twin}'): that deletes "
                f"'{flip['value']}' instead of changing it; give a conflicting value of the same kind")
    still = old_still_read(flip, text, others)
    if still:
        return f"the flipped requirement is still in the text, reworded: {still} (replace it, do not reword it)"
    if not present(new[0], text):
        return f"the new value '{new[0]}' is not in the text: state it where '{flip['value']}' was"
    kept = [c for c in anchor["must"] if c is not flip and c != flip]
    missing = [c["value"] for c in kept if not present(c["value"], text)]
    if missing:
        return f"other must requirements changed or missing from the text (keep them): {'; '.join(missing)}"
    return prose_problem(text, [anchor["title"], new[0]] + [c["value"] for c in kept])


def build(task: Task, out: dict, prompt_hash: str, model: str) -> dict:
    a, flip = task.meta["anchor"], task.meta["flip"]
    new_value = new_values(task, out)[0]
    read = task.meta.get("to") or slot_value(task, (out.get("text") or "").strip())
    after = ([{**c, "value": new_value} if c is flip or c == flip else c for c in a["must"]] if read
             else [c if isinstance(c, dict) else dict(c) for c in out.get("must") or []])
    return pair_record("constraint", a, a["card"], out["text"], "negative",
                       {"field": flip["field"], "from": flip["value"], "to": new_value, "must": after},
                       prompt_hash, model, task.meta["variant"])
