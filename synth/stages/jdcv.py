"""JD–CV generators: balanced (qualified + screening negative) and deceptive hard negatives; real-CV negatives."""

from __future__ import annotations

import re

import dspy
from pydantic import BaseModel

from ..records import stable_id
from ..requirements import CODE_DECIDED, read_statement, verify
from ..runner import Task
from ..textcheck import containment, present
from ..lm.schema import json_pattern_literal
from .common import DATA_DESC, PromptedModule, fence, grounded, same_title
from .deceptions import DECEPTIONS, check_deception, looks_like_cv

MAX_JD = 6000


class ExperienceEntry(BaseModel):
    title: str
    employer: str = "Company A"
    start_year: int | None = None
    end_year: int | None = None
    description: str = ""


class BalancedPair(dspy.Signature):
    """Write a qualified CV and a screening-style unqualified CV for the job description."""

    jd: str = dspy.InputField(desc=f"the job description; {DATA_DESC}")
    example_cv: str = dspy.InputField(desc=f"a real CV to imitate in style only (may be empty); {DATA_DESC}")
    brief: str = dspy.InputField(desc="this variant's own profile (variants for one JD differ)")
    qualified_cv: str = dspy.OutputField()
    unqualified_cv: str = dspy.OutputField()
    job_family: str = dspy.OutputField()


class DeceptiveCV(dspy.Signature):
    """Write one deceptive hard-negative CV carrying exactly the named deception."""

    jd: str = dspy.InputField(desc=f"the job description; {DATA_DESC}")
    deception: str = dspy.InputField()
    brief: str = dspy.InputField(desc="this variant's own angle (variants for one JD differ)")
    cv: str = dspy.OutputField(desc="the full CV text")
    claimed_title: str = dspy.OutputField()
    experience: list[ExperienceEntry] = dspy.OutputField()
    skills: list[str] = dspy.OutputField()


class Balanced(PromptedModule):
    signature = BalancedPair
    prompt_name = "jdcv/balanced"
    grounded = ("qualified_cv", "unqualified_cv")


class HardNegative(PromptedModule):
    signature = DeceptiveCV
    prompt_name = "jdcv/hardneg"


def jd_view(jd: dict, anchor: dict | None) -> tuple[str, str]:
    """(text shown to the generator, title): the stage-1 card when there is an anchor, else the raw JD."""
    if anchor:
        return anchor["card"], anchor["title"]
    title = jd.get("title") or jd["text"].split("\n", 1)[0][:80]
    return f"Title: {title}\n\n{jd['text'][:MAX_JD]}", title


PROFILES = ("a candidate who has held this exact role for years", "a candidate who grew into this role from an "
            "adjacent one", "a candidate who meets the requirements with little to spare", "a candidate from a "
            "larger organisation in the same field", "a candidate from a smaller organisation in the same field")


CV_YEAR = 2024  # the last year of the grounded CVs' dated roles
# words per section: the check wants 60 words in all; the maxima stay close to the minima because the embedded
# model writes to the maximum (measured: 12-30 / 36-70 / 4-15 / 6-20 took 384 CPU-s for one balanced call, both CVs
# near their longest, 176 words each)
SECTIONS = (("SUMMARY", 12, 18), ("EXPERIENCE", 36, 46), ("EDUCATION", 4, 8), ("SKILLS", 6, 10))
WORD = r'[^ "\\\x00-\x1f]{1,24}'  # a word: no space, nothing a JSON string must escape


def _free(lo: int, hi: int) -> str:
    """lo to hi words of free text, each followed by a space (so the word count is bounded, not only the length)."""
    return f"({WORD} ){{{lo},{hi}}}"


def cv_grounding(title: str, anchor: dict | None) -> dict:
    """The CV shape a decoder follows (the embedded model always, a server with --grounded): SUMMARY, EXPERIENCE,
    EDUCATION and SKILLS as headings on their own lines, each with a bounded free paragraph (at least 58 words in
    all, each word at most 24 characters). The qualified CV opens its summary with the JD's title, the years the anchor asks for and its must values,
    verbatim, and its role is dated to cover those years; the unqualified CV has one year in a role of its own
    naming. The checks still read the text. Empty when the title or a value holds a character a JSON string must
    escape (decoded without a shape)."""
    must = [c for c in (anchor or {}).get("must") or [] if c.get("value")]
    years = max([int(m) for c in must if c.get("field") == "years_experience"
                 for m in re.findall(r"\d+", c["value"])[:1]] or [3])
    lit_title = json_pattern_literal(title.strip())
    values = [json_pattern_literal(c["value"].strip()) for c in must]
    if not lit_title or any(v is None for v in values):
        return {}
    meets = f" Meets: {'; '.join(values)}\\." if values else ""

    def shape(summary: str, role: str, start: int) -> str:
        (s, s_lo, s_hi), (e, e_lo, e_hi), (d, d_lo, d_hi), (k, k_lo, k_hi) = SECTIONS
        return (f"^{s}\n{summary} {_free(s_lo, s_hi)}\n\n{e}\n{role}, {start} \\- {CV_YEAR}\n{_free(e_lo, e_hi)}"
                f"\n\n{d}\n{_free(d_lo, d_hi)}\n\n{k}\n{_free(k_lo, k_hi)}$")

    qualified = shape(f"{lit_title} with {years}\\+ years in the role\\.{meets}", f"{lit_title}, Company A",
                      CV_YEAR - years - 1)
    unqualified = shape("Early-career candidate\\.", f"({WORD} ){{1,4}}{WORD}, Company B", CV_YEAR - 1)
    return {"qualified_cv": {"pattern": qualified, "maxLength": None},
            "unqualified_cv": {"pattern": unqualified, "maxLength": None}}


def balanced_tasks(jd: dict, anchor: dict | None, per_jd: int, examples: list[str] | str = "") -> list[Task]:
    """per_jd variants, each with its own candidate profile and (when given) its own example CV; decoders follow the
    grounded CV shape (`cv_grounding`)."""
    text, title = jd_view(jd, anchor)
    examples = [examples] if isinstance(examples, str) else examples or [""]
    shape = cv_grounding(title, anchor)
    return [Task(f"balanced:{jd['id']}:{v}",
                 {"jd": fence(text), "example_cv": fence(examples[v % len(examples)][:1500], "EXAMPLE_CV"),
                  "brief": f"Variant {v + 1} of {per_jd}: the qualified CV is {PROFILES[v % len(PROFILES)]}"
                           + (f" (take {v // len(PROFILES) + 1})" if v >= len(PROFILES) else "")},
                 meta={"jd": jd, "anchor": anchor, "title": title, "variant": v}, rollout=v, grounding=shape)
            for v in range(per_jd)]


def hardneg_tasks(jd: dict, anchor: dict | None, per_jd: int, offset: int = 0) -> list[Task]:
    """per_jd variants with distinct deception types (cycling through all six before any repeats)."""
    text, title = jd_view(jd, anchor)
    tasks = []
    for v in range(per_jd):
        tag = DECEPTIONS[(offset + v) % len(DECEPTIONS)]
        rnd = v // len(DECEPTIONS)
        tasks.append(Task(f"hardneg:{jd['id']}:{v}",
                          {"jd": fence(text), "deception": tag,
                           "brief": f"Variant {v + 1} of {per_jd}: {tag.replace('_', ' ')}"
                                    + (f", a different person from the earlier {tag} variants (number {rnd + 1})"
                                       if rnd else "")},
                          meta={"jd": jd, "anchor": anchor, "title": title, "tag": tag, "variant": v}, rollout=v))
    return tasks


def meets(c: dict, cv: str) -> bool:
    """Does the CV meet an anchor must? Years, degrees and certifications by the requirement model (dated roles
    counted, the degree ladder), the rest by its content in the CV text."""
    reqs = [r for r in read_statement(c.get("evidence") or c["value"]) if r.kind in CODE_DECIDED]
    want = {"years_experience": "years", "degree": "degree", "certification": "certification",
            "license": "certification"}.get(c["field"])
    r = next((r for r in reqs if r.kind == want), None)
    if r is not None and not r.negated:
        return verify(r, cv).status == "met"
    return present(c["value"], cv)


def check_balanced():
    def _check(task: Task, out: dict) -> str | None:
        for field in ("qualified_cv", "unqualified_cv"):
            problem = looks_like_cv(out.get(field) or "")
            if problem:
                return f"{problem} ({field})"
        title = task.meta["title"]
        if not (grounded(title, out["qualified_cv"], 80) or same_title(title, out["qualified_cv"].split("\n")[0])):
            return f"qualified_cv should hold the role '{title}' (or a close title) in its experience"
        anchor = task.meta["anchor"]
        if anchor:
            missing = [c["value"] for c in anchor["must"] if not meets(c, out["qualified_cv"])]
            if missing:
                return f"qualified_cv does not show the must requirements: {'; '.join(missing)}"
            if anchor["must"] and all(meets(c, out["unqualified_cv"]) for c in anchor["must"]):
                return ("unqualified_cv meets every must requirement: leave at least one out (fewer years, a lower "
                        "degree, a missing skill or licence)")
        if containment(out["qualified_cv"], out["unqualified_cv"]) >= 0.5:
            return "unqualified_cv is a near-copy of qualified_cv: write a different person"
        return None
    return _check


def check_hardneg(task: Task, out: dict) -> str | None:
    return looks_like_cv(out.get("cv") or "") or check_deception(task.meta["tag"], out, task.meta["title"])


def triplet(jd: dict, positive: str, negative: str, generator: str, negative_type: str, family: str | None,
            prompt_hash: str | None, model: str | None, source_ids: list[str]) -> dict:
    return {"id": stable_id("jdcv_triplet", f"{jd['id']}|{positive}|{negative}"), "kind": "jdcv_triplet",
            "jd_id": jd["id"], "jd": jd["text"], "positive": positive.strip(), "negative": negative.strip(),
            "generator": generator, "negative_type": negative_type, "job_family": family,
            "lineage": {"stage": f"jdcv-{generator}", "prompt_hash": prompt_hash, "model": model,
                        "source_ids": source_ids}}
