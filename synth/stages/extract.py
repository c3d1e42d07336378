"""Stage 1, extract: a conservative structured anchor of one real JD; nothing invented survives the script check."""

from __future__ import annotations

import re

import dspy

from ..runner import FinalReject, Task
from ..textcheck import looks_english, phrase_in, present, quote_in
from .common import DATA_DESC, Constraint, PromptedModule, ScopeLevel, Seniority, fence, grounded, render_card

MIN_WORDS = 25
MAX_CHARS = 12_000


class ExtractAnchor(dspy.Signature):
    """Extract a conservative structured anchor from a job description."""

    jd_text: str = dspy.InputField(desc=f"the job description; {DATA_DESC}")
    is_job_description: bool = dspy.OutputField(desc="false when the text is not a job posting")
    language: str = dspy.OutputField(desc="ISO 639-1 code, e.g. en")
    title: str = dspy.OutputField(desc="job title as stated in the JD; empty if none")
    job_family: str = dspy.OutputField()
    seniority: Seniority = dspy.OutputField()
    scope_level: ScopeLevel = dspy.OutputField(desc="assists < contributes < leads < owns")
    responsibilities: list[str] = dspy.OutputField(desc="up to 8 short phrases from the JD")
    skills: list[str] = dspy.OutputField(desc="up to 15 skills, each exactly as written in the JD")
    must: list[Constraint] = dspy.OutputField(desc="hard requirements with evidence quotes")
    preferred: list[Constraint] = dspy.OutputField(desc="preferred / nice-to-have requirements")
    summary: str = dspy.OutputField(desc="two sentences")


class Extract(PromptedModule):
    signature = ExtractAnchor
    prompt_name = "jd/extract"


def precheck(jd: dict) -> str | None:
    """Reasons to reject a JD before spending a call on it."""
    text = jd["text"]
    if len(re.findall(r"\w+", text)) < MIN_WORDS:
        return f"JD too short (under {MIN_WORDS} words)"
    letters = re.findall(r"[^\W\d_]", text)
    if letters and sum(c.isascii() for c in letters) / len(letters) < 0.6:
        return "unsupported language (non-Latin script)"
    return None


def jd_input(jd: dict, max_chars: int = MAX_CHARS) -> str:
    """The JD text, headed by its title when the import found one in a separate column."""
    text = jd["text"][:max_chars]
    if jd.get("title") and jd["title"].lower() not in text[:300].lower():
        text = f"Title: {jd['title']}\n\n{text}"
    return text


def title_candidates(jd: dict, n_lines: int = 3) -> list[str]:
    """Spans of the JD that can be its title: the import's title column, a line under a 'Job title' heading or after
    'Title:', and the first non-empty lines (markdown marks stripped, at most 80 characters)."""
    out = [jd["title"].strip()] if (jd.get("title") or "").strip() else []
    lines = [ln.strip().lstrip("#").strip() for ln in jd["text"].splitlines()]
    lines = [ln for ln in lines if ln]
    for i, ln in enumerate(lines):
        m = re.match(r"(?:job\s+)?title\s*:\s*(.+)$", ln, re.I)
        if m:
            out.append(m.group(1).strip())
        elif re.fullmatch(r"(?:job\s+)?title", ln, re.I) and i + 1 < len(lines):
            out.append(lines[i + 1])
    out += [ln for ln in lines[:n_lines] if not re.fullmatch(r"(?:job\s+)?title|job summary", ln, re.I)]
    return [c[:80].strip() for c in dict.fromkeys(out) if 2 <= len(c) <= 120]


_REQ_WORD = re.compile(r"\b(?:\d+\+?\s*(?:years?|yrs)|years?|degree|bachelor|master|mba|phd|diploma|certifi|licen[cs]|"
                       r"required|requires?|must|experience|knowledge|proficien|ability|able\s+to|skills?|familiar|"
                       r"fluen|preferred|plus|clearance|travel|understanding|expert)", re.I)
_SKILL_LEAD = re.compile(r"^(?:(?:strong|solid|good|excellent|proven|working|hands-on|demonstrated|advanced|basic|"
                         r"deep)\s+)*(?:experience|knowledge|proficiency|expertise|familiarity|skills?|understanding|"
                         r"background)\s+(?:with|of|in|using)\s+", re.I)


def requirement_spans(jd: dict, max_spans: int = 40, max_chars: int = 160,
                      requirement_like: bool = True) -> list[str]:
    """Requirement-like sentences of the JD, as written (cut at a word boundary to `max_chars`): the only evidence
    quotes grounded decoding allows (every sentence with `requirement_like` off: the responsibilities' spans)."""
    out = []
    for piece in re.split(r"(?<=[.!?;])\s+|\n+", jd_input(jd)):
        piece = piece.strip().lstrip("-•*·–#>").strip()
        if len(piece.split()) < 3 or (requirement_like and not _REQ_WORD.search(piece)):  # headings are no quote
            continue
        if len(piece) > max_chars:
            piece = piece[:max_chars].rsplit(" ", 1)[0]
        out.append(piece)
    return list(dict.fromkeys(out))[:max_spans]


def skill_spans(jd: dict, max_spans: int = 120) -> list[str]:
    """Short spans (1-4 words) of the JD's requirement-like sentences, split at list separators, with a leading
    'experience with' / 'knowledge of' removed: the only skills grounded decoding allows."""
    out = []
    for sent in requirement_spans(jd, max_spans=80, max_chars=400):
        for chunk in re.split(r"[,;:/()]|\band\b|\bor\b|\be\.g\.", sent):
            chunk = _SKILL_LEAD.sub("", chunk.strip(" .-•*\t")).strip(" .")
            if chunk and 1 <= len(chunk.split()) <= 4 and re.search(r"[A-Za-z]", chunk):
                out.append(chunk)
    return list(dict.fromkeys(out))[:max_spans]


def value_spans(jd: dict, max_spans: int = 150) -> list[str]:
    """Constraint values grounded decoding allows: the short spans of `skill_spans` and the JD's own years
    phrases ('3+ years', '5 years')."""
    years = re.findall(r"\b\d+\s*\+?\s*(?:-\s*\d+\s*)?(?:years?|yrs)\b", jd_input(jd), re.I)
    return list(dict.fromkeys(years + skill_spans(jd, max_spans)))[:max_spans]


def make_task(jd: dict) -> Task:
    """Grounded decoding: the title is one of the JD's own title spans, every responsibility one of its sentences,
    every skill and constraint value a short span of its requirement sentences, every evidence quote one of those
    sentences (the evidence is decoded before the value; the check still wants the value inside its own quote)."""
    quotes, values = requirement_spans(jd), value_spans(jd)
    return Task(f"extract:{jd['id']}", {"jd_text": fence(jd_input(jd))}, meta={"jd_id": jd["id"]},
                grounding={"title": title_candidates(jd), "skills[]": skill_spans(jd),
                           "responsibilities[]": requirement_spans(jd, max_chars=120, requirement_like=False),
                           "must[].evidence": quotes, "preferred[].evidence": quotes,
                           "must[].value": values, "preferred[].value": values})


def check(task: Task, out: dict) -> str | None:
    if not out.get("is_job_description", True):
        return FinalReject("not a job description")
    lang = (out.get("language") or "").strip().lower()
    if lang and not lang.startswith("en") and not looks_english(task.inputs.get("jd_text", "")):
        return FinalReject(f"unsupported language ({lang})")
    if not (out.get("title") or "").strip():
        return "no title: give the job title exactly as the JD states it"
    return None


def constraint_problem(c: dict, source: str) -> str | None:
    """A constraint is kept only when its evidence quote is in the JD and its value is supported by that quote."""
    ev, value = (c.get("evidence") or "").strip(), (c.get("value") or "").strip()
    if not value:
        return "empty value"
    if not ev:
        return "no evidence quote"
    if not quote_in(ev, source):
        return "evidence quote not in the JD"
    if not present(value, ev):
        return "value not supported by its evidence quote"
    return None


def build_anchor(jd: dict, out: dict, prompt_hash: str, model: str) -> tuple[dict | None, str | None, dict]:
    """(anchor record, reject reason, dropped items). Skills and constraints not found in the JD are dropped."""
    source = "\n".join(x for x in (jd.get("title"), jd["text"]) if x)
    title = out["title"].strip()
    if not grounded(title, source, 80):
        return None, "title not found in the JD", {}
    skills = list(dict.fromkeys(s.strip() for s in out.get("skills") or [] if s.strip()))
    kept_skills = [s for s in skills if phrase_in(s, source)]
    dropped = {"skills": [s for s in skills if s not in kept_skills]}
    cons = {}
    for level in ("must", "preferred"):
        items = [c if isinstance(c, dict) else dict(c) for c in out.get(level) or []]
        ok = [c for c in items if constraint_problem(c, source) is None]
        dropped[level] = [{**c, "why": constraint_problem(c, source)} for c in items if c not in ok]
        cons[level] = [{"field": c["field"], "value": c["value"].strip(), "evidence": c.get("evidence") or None}
                       for c in ok if c["value"].strip()]
    responsibilities = [r.strip() for r in out.get("responsibilities") or [] if r.strip()][:8]
    fields = dict(title=title, job_family=(out.get("job_family") or "").strip() or None,
                  seniority=out.get("seniority"), scope_level=out["scope_level"],
                  responsibilities=responsibilities, skills=kept_skills, must=cons["must"],
                  preferred=cons["preferred"], summary=(out.get("summary") or "").strip())
    anchor = {"id": f"jd_anchor-{jd['id'].split('-', 1)[1]}", "kind": "jd_anchor", "jd_id": jd["id"], **fields,
              "card": render_card(**fields), "dropped": {k: v for k, v in dropped.items() if v},
              "lineage": {"stage": "extract", "prompt_hash": prompt_hash, "model": model, "source_ids": [jd["id"]]}}
    return anchor, None, dropped
