"""Reading a CV: dated roles (title, start, end, "present"), years with overlapping roles merged, the highest degree
and its line, certification lines, languages, the skills a Skills section lists, and the text's key terms.

Date ranges in the forms real CVs use: "2019 - 2023", "08/2012 to Current" (also across line breaks, as livecareer's
PDF text has them), "Aug 2014 - Present", "March 2012 to May 2014", "between 2013 and 2016", "from 2008 to 2013",
"from the year of 2015 up to 2019", "2021 - Till date", "(2018- 19)".
A role's title is the text on the dates' own line (RJDB: "Junior Systems Admin (2019 - 2023)"), else the next line
(livecareer: "08/2012 to Current" then "Staff Accountant"), else the line before.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from ..textcheck import terms
from .lexicon import Lexicon, load_lexicon
from .model import Profile, Role

_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                           "dec"))}
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]{{0,6}}"
_DATE = r"(?:(?:(?P<{p}m>" + _MONTH + r")\.?,?\s+|(?P<{p}n>\d{{1,2}})/(?:\d{{1,2}}/)?)?(?P<{p}y>(?:19|20)\d\d))"
_RANGE = re.compile(r"(?:\bbetween\s+|\bfrom\s+(?:the\s+year\s+(?:of\s+)?)?)?" + _DATE.format(p="a") +
                    r"\s*(?:-|–|—|(?:up\s+)?(?:to|until|till)|and|through)\s*(?:" + _DATE.format(p="b") +
                    r"|(?P<short>\d\d)(?=\s*[)\]:,]|\s*$)"  # "(2018- 19)"
                    r"|(?:(?:till|to|until)\s+)?(?P<now>present|current|now|today|date|ongoing))", re.I | re.M)
_PLACEHOLDER = re.compile(r"company name|city|state|,|company|employer", re.I)
_SKILLS_HEAD = re.compile(r"^\s*[#*\s]*(?:technical\s+|core\s+|key\s+)?(?:skills|skill highlights|competencies|"
                          r"qualifications)\b[^\n]{0,20}$", re.I)
_HEAD = re.compile(r"^\s*(?:#+\s*\S|[A-Z][A-Za-z &/]{2,30}:?\s*$)")
_ITEM = re.compile(r"^\s*(?:[-*•●▪·]|\d+[.)])\s*")


def _month(name: str | None, num: str | None) -> int | None:
    if num:
        return min(max(int(num), 1), 12)
    if name:
        return _MONTHS.get(name[:3].lower())
    return 1


def _line_at(text: str, pos: int) -> tuple[int, int]:
    s = text.rfind("\n", 0, pos) + 1
    e = text.find("\n", pos)
    return s, len(text) if e < 0 else e


def _clean(s: str) -> str:
    s = _ITEM.sub("", s)
    s = re.sub(r"[()\[\]*|]+|(?<![A-Za-z])#+", " ", s)  # markup, not the '#' of "C#" / "F#"
    s = re.sub(r"\b(?:worked|working|serving|served|employed|previously|gained experience)\s+(?:as\s+)?(?:an?\s+)?",
               "", s, flags=re.I)
    return " ".join(s.split()).strip(" ,;:-–")


def dated_roles(cv: str, today: date | None = None) -> list[Role]:
    """Every dated role of the CV, in text order."""
    today = today or date.today()
    out = []
    for m in _RANGE.finditer(cv):
        ma = _month(m.group("am"), m.group("an"))
        if ma is None:
            continue
        start = int(m.group("ay")) + (ma - 1) / 12
        if m.group("now"):
            end = today.year + (today.month - 1) / 12
        elif m.group("short"):
            end = int(m.group("ay")) // 100 * 100 + int(m.group("short"))
        else:
            mb = _month(m.group("bm"), m.group("bn"))
            if mb is None:
                continue
            end = int(m.group("by")) + (mb - 1) / 12
            if not m.group("bm") and not m.group("bn") and not m.group("am") and not m.group("an"):
                end = max(end, start)  # "2019 - 2023": whole years
        if end < start or end - start > 50:
            continue
        ls, le = _line_at(cv, m.start())
        same = _clean(cv[ls:m.start()] + " " + cv[m.end():_line_at(cv, m.end())[1]])
        nxt = cv[m.end():].lstrip().split("\n", 1)[0] if not same else ""
        prev = cv[:ls].rstrip().rsplit("\n", 1)[-1] if ls else ""
        if nxt and (_RANGE.search(nxt) or _PLACEHOLDER.fullmatch(nxt.strip())):  # another role's dates, or
            nxt = ""  # livecareer's masked "Company Name": this role's title is the line above
        title = same or _clean(nxt) or _clean(prev)
        ctx = " ".join([_clean(prev), same, *[_clean(x) for x in cv[m.end():m.end() + 200].lstrip().split("\n")[:2]]])
        out.append(Role(start, end, bool(m.group("now")), title[:120], ctx, m.span()))
    return out


def merged_years(spans: list[tuple[float, float]]) -> float:
    """Years covered by the union of [start, end) spans: overlapping roles count once."""
    total, cur = 0.0, None
    for s, e in sorted(spans):
        if cur is None or s > cur[1]:
            if cur:
                total += cur[1] - cur[0]
            cur = [s, e]
        else:
            cur[1] = max(cur[1], e)
    return total + (cur[1] - cur[0] if cur else 0.0)


def _skills_listed(cv: str) -> tuple[str, ...]:
    out, inside = [], False
    for line in cv.splitlines():
        if _SKILLS_HEAD.match(line):
            inside = True
            continue
        if inside and _HEAD.match(line) and not _ITEM.match(line):
            inside = False
        if inside and line.strip():
            out += [x.strip(" .") for x in re.split(r"[,;]", _ITEM.sub("", line)) if x.strip(" .")]
    return tuple(out)


def read_cv(cv: str, today: date | None = None, lex: Lexicon | None = None) -> Profile:
    return _read(cv, today or date.today(), lex or load_lexicon())


@lru_cache(maxsize=4096)
def _read(cv: str, today: date, lex: Lexicon) -> Profile:
    roles = tuple(dated_roles(cv, today))
    lines = cv.splitlines()
    best, line = 0, ""
    for ln in lines:
        lvl = lex.degree_level(ln)
        if lvl > best:
            best, line = lvl, ln.strip()
    certs = tuple(ln.strip() for ln in lines if lex.has("certifications", ln))
    langs = tuple(dict.fromkeys(m.group(0).lower() for m in lex.rx["languages"].finditer(cv)))
    return Profile(cv, roles, merged_years([(r.start, r.end) for r in roles]), best, line, certs, langs,
                   _skills_listed(cv), frozenset(terms(cv)))
