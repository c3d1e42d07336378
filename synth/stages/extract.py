"""Stage 1, extract: a conservative structured anchor of one real JD; nothing invented survives the script check."""

from __future__ import annotations

import re
from typing import get_args

import dspy

from ..requirements import CODE_DECIDED, block_level_at, language_of, load_lexicon, locate, read_jd, read_statement
from ..requirements.jd import PLAIN_POSTING, posting_cues
from ..requirements.scope import SCOPES, load_cues
from ..runner import FinalReject, Task
from ..sample import seniority_levels
from ..textcheck import looks_english, phrase_in, present, quote_in
from .common import (DATA_DESC, Constraint, ConstraintField, PromptedModule, ScopeLevel, Seniority, fence, grounded,
                     render_card)

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
    grounded = ("title", "seniority", "scope_level", "job_family", "language", "skills[]", "responsibilities[]",
                "must", "must[]", "must[].evidence", "must[].value", "preferred", "preferred[].evidence",
                "preferred[].value", "is_job_description")


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


_GENERIC = {"skills", "skill", "qualifications", "requirements", "experience", "knowledge", "ability", "duties",
            "responsibilities", "the following", "required", "preferred"}


# a chunk with these words is the posting talking ("Successful candidates must"), not a requirement's value
_FILLER = re.compile(r"\b(must|should|will|shall|can|candidates?|applicants?|we|you|our|your|us|i)\b", re.I)


def _chunks(sent: str) -> list[str]:
    """Short spans (1-4 words) of one sentence, split at list separators, a leading 'experience with' / 'knowledge
    of' removed, headings' generic words ('Skills', 'Qualifications') left out."""
    out = []
    for chunk in re.split(r"[,;:/()]|\band\b|\bor\b|\be\.g\.", sent):
        chunk = _SKILL_LEAD.sub("", chunk.strip(" .-•*\t")).strip(" .")
        if (chunk and 1 <= len(chunk.split()) <= 4 and re.search(r"[A-Za-z]", chunk)
                and chunk.lower() not in _GENERIC and not _FILLER.search(chunk)):
            out.append(chunk)
    return out


YEARS = re.compile(r"\b\d+\s*\+?\s*(?:-\s*\d+\s*)?(?:years?|yrs)\b", re.I)


def skill_spans(jd: dict, max_spans: int = 120) -> list[str]:
    """The short spans (`_chunks`) of the JD's requirement-like sentences: the only skills grounded decoding
    allows."""
    out = [c for sent in requirement_spans(jd, max_spans=80, max_chars=400) for c in _chunks(sent)]
    return list(dict.fromkeys(out))[:max_spans]


def value_spans(jd: dict, max_spans: int = 150) -> list[str]:
    """Constraint values grounded decoding allows: the short spans of `skill_spans` and the JD's own years
    phrases ('3+ years', '5 years')."""
    years = YEARS.findall(jd_input(jd))
    return list(dict.fromkeys(years + skill_spans(jd, max_spans)))[:max_spans]


_DEGREE = re.compile(r"\b(bachelor|master|degree|diploma|ph\.?d|mba|doctorate|associate'?s|ged|b\.?sc?|m\.?sc?)\b",
                     re.I)
_CERT = re.compile(r"\b(certifi\w*|licen[cs]\w*|cdl|cpa|rn|lpn|cna|pmp|cissp)\b", re.I)


def _field_kinds(values: list[str]) -> dict[tuple[str, ...], list[str]]:
    """Values grouped by the constraint fields they may be: a years phrase is years_experience, a degree a degree,
    a certificate or licence one of those; any other span any other field."""
    rest = tuple(f for f in get_args(ConstraintField) if f not in ("years_experience", "degree"))
    out: dict[tuple[str, ...], list[str]] = {}
    for v in values:
        kind = (("years_experience",) if YEARS.fullmatch(v.strip()) else ("degree",) if _DEGREE.search(v)
                else ("certification", "license") if _CERT.search(v) else rest)
        out.setdefault(kind, []).append(v)
    return out


def quoted_constraints(quotes: list[str], max_values: int = 12) -> dict | None:
    """Schema options per evidence quote, its value one of that quote's own spans (years first) and its field one
    the value can be (`_field_kinds`): a decoder picks the sentence, then a value inside it, so "value not supported
    by its evidence quote" cannot happen, nor "certification: 2 years" (both seen from SmolLM2 with free fields).
    None when no quote has a span."""
    options = []
    for q in quotes:
        values = list(dict.fromkeys(YEARS.findall(q) + _chunks(q)))[:max_values]
        for fields, vals in _field_kinds(values).items():
            options.append({"type": "object", "additionalProperties": False,
                            "required": ["field", "evidence", "value"],
                            "properties": {"field": {"type": "string", "enum": list(fields)},
                                           "evidence": {"type": "string", "enum": [q]},
                                           "value": {"type": "string", "enum": vals}}})
    if not options:
        return None
    return {"anyOf": options, **{k: None for k in ("type", "properties", "required", "additionalProperties",
                                                   "title", "description")}}


JOB_FAMILIES = ("software engineering", "data and analytics", "IT and support", "security", "engineering",
                "science and research", "nursing", "healthcare", "pharmacy", "social care", "education", "legal",
                "finance", "accounting", "insurance", "banking", "sales", "marketing", "customer service",
                "administration", "human resources", "management", "operations", "logistics and transport",
                "manufacturing", "construction and trades", "retail", "hospitality and food", "design and media",
                "government and public sector", "other")
# ISO 639-1 codes the language field may take (a free string let SmolLM2 write "[KAG West]")
LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs", "ro", "hu", "el", "tr",
             "ru", "uk", "ar", "he", "hi", "zh", "ja", "ko", "vi", "th", "id", "ms", "tl")
_PREFERRED = re.compile(r"\b(prefer\w*|desir\w*|a plus|is a plus|nice to have|bonus|ideal\w*|advantage\w*|"
                        r"would be great)\b", re.I)


NOT_A_POSTING = 0  # at most this many kinds of posting language: code reads the text as no posting, whatever the LLM says


def requirement_sentences(jd: dict) -> tuple[list[str], list[str]]:
    """(must, preferred): the JD's requirement-like sentences, split by whether they call themselves preferred / a
    plus."""
    quotes = requirement_spans(jd)
    return [q for q in quotes if not _PREFERRED.search(q)], [q for q in quotes if _PREFERRED.search(q)]


def stated_levels(jd: dict) -> list[str]:
    """Seniority levels the JD states: its title (the import's column, else its first title span), or the text's
    'mid-level'; 'unspecified' always."""
    titles = title_candidates(jd)
    return seniority_levels(titles[0] if titles else "", jd["text"])


def make_task(jd: dict) -> Task:
    """Grounded decoding: the title is one of the JD's own title spans, the seniority a level the JD states (or
    unspecified), the family one of `JOB_FAMILIES`, the language one of `LANGUAGES`, every responsibility one of
    its sentences, every skill and constraint value a short span of its requirement sentences, every evidence quote
    one of those sentences: the ones that call themselves preferred / a plus for `preferred`, the others for `must`
    (the evidence is decoded before the value; the check still wants the value inside its own quote). A JD with
    requirement sentences gets at least one must: the decoder may not skip them all. A text with `PLAIN_POSTING`
    kinds of posting language (`posting_cues`) may not be called "not a job description" (SmolLM2 said so of every
    demo JD). The scope level is the one the JD's own words read at (stage 4's cue lexicon) when they have a cue."""
    values = value_spans(jd)
    must_q, pref_q = requirement_sentences(jd)

    text_level = load_cues().level(jd_input(jd))
    grounding = {"title": title_candidates(jd), "seniority": stated_levels(jd),
                 "scope_level": [text_level] if text_level else [],
                 "job_family": list(JOB_FAMILIES), "language": list(LANGUAGES), "skills[]": skill_spans(jd),
                 "responsibilities[]": requirement_spans(jd, max_chars=120, requirement_like=False),
                 "must[].evidence": must_q, "must[].value": values, "preferred[].value": values}
    per_quote = quoted_constraints(must_q)
    if per_quote is not None:
        grounding["must"] = {"minItems": 1}
        grounding["must[]"] = per_quote
    if posting_cues(jd_input(jd)) >= PLAIN_POSTING:  # the decoder may not call it something else
        grounding["is_job_description"] = [True]
    if pref_q:
        grounding["preferred[].evidence"] = pref_q
    else:
        grounding["preferred"] = {"maxItems": 0}
    return Task(f"extract:{jd['id']}", {"jd_text": fence(jd_input(jd))}, meta={"jd_id": jd["id"]},
                grounding=grounding)


def check(task: Task, out: dict) -> str | None:
    """Whether the text is a posting and its language are read by code (posting language, langdetect); the LLM's
    claim only matters where code cannot tell. Code wins when they disagree."""
    text = task.inputs.get("jd_text", "")
    claimed = (out.get("language") or "").strip().lower()
    read = language_of(re.sub(r"<<<\S+|\S+>>>", " ", text))
    if read and read != "en" and not looks_english(text, share=0.15):
        return FinalReject(f"unsupported language ({read}, read from the text; the LLM said {claimed or 'nothing'})")
    if not read and claimed and not claimed.startswith("en") and not looks_english(text):
        return FinalReject(f"unsupported language ({claimed})")
    cues = posting_cues(text)  # English posting language: read after the language
    if cues <= NOT_A_POSTING:
        return FinalReject(f"not a job description (code reads {cues} kind(s) of posting language; the LLM said "
                           f"{'it is one' if out.get('is_job_description', True) else 'it is not'})")
    if not out.get("is_job_description", True) and cues < PLAIN_POSTING:
        return FinalReject("not a job description")
    title = (out.get("title") or "").strip()
    if not title:
        return "no title: give the job title exactly as the JD states it"
    if not grounded(title, task.inputs.get("jd_text", ""), 80):  # build_anchor's own test, re-asked here
        return "title not found in the JD: give the job title exactly as the JD states it"
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


def covers(have: list, q) -> bool:
    """Does one of the anchor's readings already state the reader's requirement `q`?"""
    for h in have:
        if h.kind != q.kind:
            continue
        if (q.kind == "years" and h.years_min == q.years_min) or (q.kind == "degree" and h.degree == q.degree) or \
                (q.kind not in ("years", "degree") and set(h.terms) & set(q.terms)):
            return True
    return False


def _value_of(q) -> str:
    """A constraint value for a reader requirement, as the JD words it (inside its statement)."""
    if q.kind == "years":
        return q.name
    if q.kind == "degree":
        m = next((rx.search(q.text) for lvl, _, rx in load_lexicon().degrees if lvl == q.degree), None)
        return m.group(0) if m else ""
    m = load_lexicon().rx["certifications"].search(q.text)  # the credential and the two words before it
    words = re.findall(r"[A-Za-z0-9][\w'+#.]*", q.text[:m.start()])[-2:] if m else []  # words, not ', ' / '&' 
    return " ".join(words + [m.group(0)]) if m else q.name


_KIND_FIELD = {"years": "years_experience", "degree": "degree", "certification": "certification"}


def is_duty(jd_text: str, quote: str) -> bool:
    """A must item the JD states as a duty: its quote sits under a Responsibilities / Duties / Summary heading and
    carries no requirement wording ("Promptly attending to and resolving helpdesk requests.")."""
    lex = load_lexicon()
    span = locate(quote, jd_text)
    return bool(span) and block_level_at(jd_text, span[0], lex) == "other" and not lex.has("requirement_words", quote)


def reader_musts(jd: dict, must: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """(kept, moved to preferred, dropped with why) of the answer's must list, by the reader's reading of each
    evidence quote: one the JD negates, or states as a duty rather than a requirement, is dropped; and the reader's
    years / degree / certification musts the list misses are added (`completed`, returned in kept with
    `completed: True`)."""
    kept, moved, dropped = [], [], []
    text = jd_input(jd)
    for c in must:
        quote = c.get("evidence") or c["value"]
        got = read_statement(quote)
        if got and all(r.negated for r in got):
            dropped.append({**c, "why": "the JD says it is not required"})
        elif not any(r.kind in CODE_DECIDED for r in got) and is_duty(text, quote):
            dropped.append({**c, "why": "a duty the JD lists under its responsibilities / summary, not a requirement"})
        elif got and all(r.level == "preferred" for r in got):
            moved.append(c)
        else:
            kept.append(c)
    have = [r for c in kept for r in read_statement(c.get("evidence") or c["value"])]
    for q in read_jd(text):
        value = _value_of(q)
        if q.kind in CODE_DECIDED and q.level == "must" and not q.negated and not covers(have, q) \
                and present(value, value):  # a value with content a later check can find ("a degree" has none)
            have.append(q)
            kept.append({"field": _KIND_FIELD[q.kind], "value": value, "evidence": q.text, "completed": True})
    return kept, moved, dropped


def read_scope(jd: dict, claimed: str | None) -> str:
    """The anchor's scope level: the JD's own cue level (prompts/jd/scope_cues.yaml); with no cue, the LLM's claim
    but never above 'contributes' (leading or owning is read from words, not taken on the LLM's word)."""
    level = load_cues().level(jd_input(jd))
    if level:
        return level
    if claimed in SCOPES and SCOPES.index(claimed) <= SCOPES.index("contributes"):
        return claimed
    return "contributes"


def build_anchor(jd: dict, out: dict, prompt_hash: str, model: str) -> tuple[dict | None, str | None, dict]:
    """(anchor record, reject reason, dropped items). Skills and constraints not found in the JD are dropped; the
    must list is read by the requirement model (a negated one or a duty dropped, a preferred one moved, a years / degree /
    certification must the JD states and the list misses completed from the text and recorded); scope level and
    language are read by code, the LLM's claims recorded beside them."""
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
        ok, seen = [], set()
        for c in items:
            why = constraint_problem(c, source)
            key = " ".join((c.get("value") or "").lower().split())
            if why is None and key in seen:
                why = "duplicate of an earlier constraint"  # flipping one copy would leave the other in the text
            if why is None:
                seen.add(key)
                ok.append(c)
            else:
                dropped.setdefault(level, []).append({**c, "why": why})
        cons[level] = [{"field": c["field"], "value": c["value"].strip(), "evidence": c.get("evidence") or None}
                       for c in ok if c["value"].strip()]
    must, moved, not_required = reader_musts(jd, cons["must"])
    completed = [c for c in must if c.pop("completed", False)]
    cons["must"], cons["preferred"] = must, cons["preferred"] + moved
    if not_required:
        dropped.setdefault("must", []).extend(not_required)
    responsibilities = [r.strip() for r in out.get("responsibilities") or [] if r.strip()][:8]
    seniority = out.get("seniority")
    if seniority and seniority not in stated_levels(jd):
        dropped["seniority"] = [seniority]  # a level the JD does not state is not conservative
        seniority = "unspecified"
    scope = read_scope(jd, out.get("scope_level"))
    fields = dict(title=title, job_family=(out.get("job_family") or "").strip() or None,
                  seniority=seniority, scope_level=scope,
                  responsibilities=responsibilities, skills=kept_skills, must=cons["must"],
                  preferred=cons["preferred"], summary=(out.get("summary") or "").strip())
    read = {"scope_level": scope, "language": language_of(jd_input(jd)), "posting_cues": posting_cues(jd_input(jd)),
            "completed_must": completed, "moved_to_preferred": moved, "lexicon_hash": load_lexicon().hash}
    claims = {"scope_level": out.get("scope_level"), "language": out.get("language"),
              "is_job_description": out.get("is_job_description"), "must": len(out.get("must") or [])}
    anchor = {"id": f"jd_anchor-{jd['id'].split('-', 1)[1]}", "kind": "jd_anchor", "jd_id": jd["id"], **fields,
              "card": render_card(**fields), "dropped": {k: v for k, v in dropped.items() if v},
              "read": read, "claims": claims,
              "lineage": {"stage": "extract", "prompt_hash": prompt_hash, "model": model, "source_ids": [jd["id"]]}}
    return anchor, None, dropped
