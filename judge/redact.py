"""PII redaction of CVs before text leaves the machine: e-mails, phone numbers, URLs and the name line. Nothing of the
mapping is kept. JDs are the employer's text and are never redacted.

Phone numbers are found with the `phonenumbers` library (Google's libphonenumber) at "possible number" leniency (so
invented 555 numbers count), keeping only matches of at least 10 digits without a slash: a year range such as
2015-2019 or a month/year range is never a phone. The first line is taken as the candidate's
name only when it looks like one (2-4 capitalised words, no job-title word, no digits), so a first line that is a
job title ("Senior Accountant") stays.
"""

from __future__ import annotations

import re
from collections import Counter

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
URL = re.compile(r"\b(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|org|net|io|dev|me)/\S*", re.I)
NAME_FIELD = re.compile(r"^(\s*(?:name|full name|candidate)\s*:\s*)(.+)$", re.I | re.M)
_NAME_LINE = re.compile(r"^[A-Z][a-zA-Z'.-]+(?:\s+[A-Z][a-zA-Z'.-]+){1,3}$")
_TITLE_WORDS = set("""accountant administrator advisor agent aide analyst architect artist assistant associate attorney
auditor baker banker barista bartender buyer carpenter cashier chef clerk coach consultant coordinator cook counselor
designer developer director dispatcher driver editor electrician engineer executive facilitator farmer manager mechanic
nurse officer operator paralegal pharmacist photographer planner president principal producer programmer representative
researcher scientist secretary server specialist supervisor teacher technician therapist trainer tutor writer senior
junior lead head chief intern apprentice summary profile resume curriculum vitae objective experience professional
certified registered staff sales marketing finance human resources customer service operations support construction
aviation agriculture fitness apparel healthcare information technology public relations business development""".split())


_YEARS = re.compile(r"(?<!\d)(?:19|20)\d\d\s*[-–]\s*(?:19|20)\d\d(?!\d)")


def _phone_spans(text: str) -> list[tuple[int, int]]:
    import phonenumbers

    spans = []
    for region in ("US", "GB"):
        for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE):
            if "/" in m.raw_string or sum(ch.isdigit() for ch in m.raw_string) < 10 or _YEARS.search(m.raw_string):
                continue  # dates and year ranges (also a range run together with a GPA or a union number)
            if not any(s <= m.start < e for s, e in spans):
                spans.append((m.start, m.end))
    return sorted(spans)


def looks_like_name(line: str) -> bool:
    words = line.split()
    return (bool(_NAME_LINE.match(line)) and line.upper() != line
            and not any(w.lower().strip(".,'") in _TITLE_WORDS for w in words))


def redact(text: str, counts: Counter | None = None) -> str:
    """The text with contact data replaced by [EMAIL], [URL], [PHONE], [NAME]; `counts` tallies what was replaced."""
    counts = counts if counts is not None else Counter()

    def sub(rx, tag, s):
        s, n = rx.subn(tag, s)
        counts[tag] += n
        return s

    text = sub(EMAIL, "[EMAIL]", text)
    text = sub(URL, "[URL]", text)
    spans = _phone_spans(text)
    for s, e in reversed(spans):
        text = text[:s] + "[PHONE]" + text[e:]
    counts["[PHONE]"] += len(spans)
    text = sub(NAME_FIELD, lambda m: m.group(1) + "[NAME]", text) if NAME_FIELD.search(text) else text
    if "[NAME]" in text and counts["[NAME]"] == 0:
        counts["[NAME]"] += text.count("[NAME]")
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.strip():
            stripped = line.strip().lstrip("#").strip()
            if looks_like_name(stripped):
                lines[i] = line.replace(stripped, "[NAME]")
                counts["[NAME]"] += 1
            break
    return "\n".join(lines)
