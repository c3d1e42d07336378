"""PII redaction of CVs before text leaves the machine: e-mails, phone numbers, URLs and the name line. Nothing of the
mapping is kept. JDs are the employer's text and are never redacted.

Phone numbers are found with the `phonenumbers` library (Google's libphonenumber) at "possible number" leniency (so
invented 555 numbers count), keeping only matches of at least 10 digits without a slash: a year range such as
2015-2019 or a month/year range is never a phone. The first line is taken as the candidate's
name only when it looks like one (2-4 capitalised words, no job-title word, no digits), so a first line that is a
job title ("Senior Accountant") stays.

`find_name` is the one name detector, shared by `redact` and the fairness audit (mira/audit/names.py). It looks, in
this order, at a "Name:" / "Full name:" / "Candidate:" field, the first non-empty line (markdown heading marks and
emphasis stripped) and markdown emphasis (`**Jane Doe**`, `__Jane Doe__`, `*Jane Doe*`) in the first five non-empty
lines; a candidate counts only when it looks like a name as above (in a name field, any capitalisation and job
words are accepted: "Name: Teva Carpenter"). All-capital text is taken only from a name field (livecareer's first
line is an all-capital job title), and nothing is guessed: a CV without such a name has none. `redact` replaces
every spelling found and its first and last word wherever they stand alone.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
URL = re.compile(r"\b(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|org|net|io|dev|me)/\S*", re.I)
NAME_FIELD = re.compile(r"^(\s*(?:[-*]\s*)?(?:\*\*|__)?(?:name|full name|candidate)\s*:\s*(?:\*\*|__)?\s*)(.+)$",
                        re.I | re.M)
_EMPHASIS = re.compile(r"(\*\*|__|\*|_)([^*_\n]{3,60}?)\1")
_NAME_LINE = re.compile(r"^[A-Z][a-zA-Z'.-]+(?:\s+[A-Z][a-zA-Z'.-]+){1,3}$")
_TITLE_WORDS = set("""accountant administrator advisor agent aide analyst architect artist assistant associate attorney
auditor baker banker barista bartender buyer carpenter cashier chef clerk coach consultant coordinator cook counselor
designer developer director dispatcher driver editor electrician engineer executive facilitator farmer manager mechanic
nurse officer operator paralegal pharmacist photographer planner president principal producer programmer representative
researcher scientist secretary server specialist supervisor teacher technician therapist trainer tutor writer senior
junior lead head chief intern apprentice summary profile resume curriculum vitae objective experience professional
certified registered staff sales marketing finance human resources customer service operations support construction
aviation agriculture fitness apparel healthcare information technology public relations business development
work history education skills contact personal details references languages""".split())


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


@dataclass(frozen=True)
class NameHit:
    """The candidate's name as found: `forms` are the distinct spellings found (e.g. "Jane Q. Doe" on the first line
    and "Jane Doe" in a Name: field), `where` says where each came from; `first` / `last` are the first and last word
    of the primary (first found) form."""

    forms: tuple[str, ...]
    where: tuple[str, ...]

    @property
    def primary(self) -> str:
        return self.forms[0]

    @property
    def first(self) -> str:
        return self.primary.split()[0]

    @property
    def last(self) -> str:
        return self.primary.split()[-1]


def _clean(candidate: str) -> str:
    c = candidate.strip().lstrip("#").strip()
    for mark in ("**", "__", "*", "_"):
        if len(c) > 2 * len(mark) and c.startswith(mark) and c.endswith(mark):
            c = c[len(mark):-len(mark)].strip()
    return re.sub(r"\s+", " ", c).rstrip(" ,;|")


def find_name(text: str) -> NameHit | None:
    """The candidate's name (see the module docstring), or None when none is found; never a guess."""
    forms: list[str] = []
    where: list[str] = []

    def take(candidate: str, source: str) -> None:
        c = _clean(candidate)
        # a labelled field is a name even in capitals ("Name: JANE DOE") or when a word is also a job
        # ("Teva Carpenter", "Greg Baker"); anywhere else such lines read as headings or titles
        ok = bool(_NAME_LINE.match(c.title())) if source == "name field" else looks_like_name(c)
        if ok and c not in forms:
            forms.append(c)
            where.append(source)

    for m in NAME_FIELD.finditer(text):
        take(m.group(2), "name field")
    lines = [x for x in text.split("\n") if x.strip()][:5]
    if lines:
        take(lines[0], "first line")
    for line in lines:
        for m in _EMPHASIS.finditer(line):
            take(m.group(2), "emphasis")
    return NameHit(tuple(forms), tuple(where)) if forms else None


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
    hit = find_name(text)
    if hit is not None:  # every spelling found, then its first and last word wherever they stand alone
        words = {w for f in hit.forms for w in (f.split()[0], f.split()[-1]) if len(w.strip(".")) > 1}
        for pattern in [re.escape(f) for f in sorted(hit.forms, key=len, reverse=True)] + [
                re.escape(w) for w in sorted(words, key=len, reverse=True)]:
            text = sub(re.compile(rf"(?<![\w@.]){pattern}(?![\w@])"), "[NAME]", text)
    return text
