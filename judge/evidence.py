"""What an LLM's verdict may count for: a "met" needs a CV quote that code locates in the CV, and the CV span it is
located at (never the quote's own words) must carry the content of *its* requirement; and the signs of text addressed
to the screener rather than describing a career."""

from __future__ import annotations

import hashlib
import re

from synth.requirements import Verdict, content_on, locate, sentence_around, verify

from .requirements import Requirement


def support(quote: str | None, cv_text: str, req: Requirement, min_ratio: float) -> tuple[str | None, str | None]:
    """(None, the CV span's text) when the quote supports the requirement, else (why not, the CV span's text or
    None). The quote is located in the CV (exact after normalising case / spacing / markup, else the CV span a near
    match aligns with), widened to the CV sentence it sits in (an LLM quotes part of a sentence), and the
    requirement's content terms are counted on that CV span."""
    q = (quote or "").strip().strip('"').strip()
    if not q:
        return "no CV quote", None
    span = locate(q, cv_text, min_ratio) if len(re.findall(r"\w", q)) >= 3 else None
    if span is None:
        return "quote not found in the CV", None
    s, e = sentence_around(cv_text, span)
    passage = cv_text[s:e]
    if req.req is None:
        return None, passage
    ok, why = content_on(req.req, passage)
    if not ok:
        return f"the CV passage the quote stands for does not carry the requirement's content ({why})", passage
    return None, passage


def code_verdict(req: Requirement, cv_text: str) -> Verdict:
    """Years, degrees, certifications and negated requirements: code's verdict on the whole CV."""
    return verify(req.req, cv_text)


# Instructions addressed to whoever (or whatever) screens the CV. A CV that merely mentions "system prompt" or
# "instructions" in a job duty is not flagged: these patterns need an imperative aimed at the reader.
_READER = r"(?:ai|a\.i\.|assistant|model|llm|chatbot|gpt|screener|recruiter|reviewer|grader|evaluator|system|bot)"
_INJECTION = [
    re.compile(r"\b(ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}\b(previous|prior|above|earlier|all|any|"
               r"your|the)\b[^.\n]{0,30}\b(instructions?|rules|rubric|prompts?|guidelines|criteria)\b", re.I),
    re.compile(r"\b(score|rate|rank|grade|mark|label|classify|evaluate)\s+(this|the|my)\s+(cv|resume|résumé|candidate|"
               r"applicant|profile)\b[^.\n]{0,30}\b(100|10/10|perfect|maximum|max|highest|highly|top|as\s+"
               r"(qualified|positive|a\s+match|excellent))", re.I),
    re.compile(r"\b(give|assign|award)\s+(me|this\s+(cv|resume|candidate|applicant))\s+(a\s+)?(score\s+of\s+)?"
               r"(100|perfect|full|maximum|the\s+highest)", re.I),
    re.compile(rf"\b{_READER}\s*[,:]\s*(please\s+)?(ignore|score|rate|rank|select|recommend|approve|shortlist|"
               r"mark|output|respond|answer|say|return)\b", re.I),
    re.compile(r"\b(note|message|instruction)s?\s+to\s+(the\s+)?" + _READER + r"\b", re.I),
    re.compile(r"\byou\s+are\s+now\b|\bnew\s+instructions?\s*:|\bact\s+as\s+(an?\s+)?" + _READER + r"\b", re.I),
    re.compile(r"^\s*(system|assistant)\s*:|</?\s*(system|instructions?)\s*>|\[\[\s*##", re.I | re.M),
    re.compile(r"\b(this|the)\s+candidate\s+(is|must\s+be)\s+(a\s+)?(perfect|ideal|the\s+best)\s+(match|fit)\b"
               r"[^.\n]{0,40}\b(score|rate|select|shortlist)", re.I),
]


def injection_signals(text: str) -> list[str]:
    """The passages that address the screener (empty when none)."""
    found = []
    for rx in _INJECTION:
        m = rx.search(text)
        if m:
            found.append(m.group(0).strip()[:120])
    return found


def nonce_fence(text: str, label: str) -> str:
    """Delimit untrusted text with a marker derived from its hash (so the answer cache still works) that the text
    does not contain: the text cannot close its own fence."""
    body = text.strip()
    h = hashlib.sha256(body.encode()).hexdigest()
    n = 8
    while f"{label}-{h[:n]}" in body and n < len(h):
        n += 8
    tag = f"{label}-{h[:n]}"
    return f"<<<{tag}\n{body}\n{tag}>>>"
