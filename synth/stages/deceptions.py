"""Script checks that a hard-negative CV really carries its tagged deception (one function per tag)."""

from __future__ import annotations

import re

from ..requirements import merged_years, read_cv
from ..textcheck import phrase_in

DECEPTIONS = ("ambiguity", "title_inflation", "contractor_intern_confusion", "career_pivot", "influencer_noise",
              "skill_stuffing")
SENIOR = re.compile(r"\b(senior|sr\.?|lead|principal|head|director|manager|chief|vp|vice president|staff)\b", re.I)
TEMPORARY = re.compile(r"\b(intern|internship|contract|contractor|freelance|freelancer|temporary|temp|co-op|"
                       r"part-time|gig)\b", re.I)
VAGUE = re.compile(r"\b(involved in|exposure to|familiar with|helped with|participated in|assisted with|"
                   r"worked on various|various|some experience|supported)\b", re.I)
INFLUENCER = re.compile(r"\b(blog|blogger|podcast|speaker|talks?|keynote|newsletter|posts|followers|community|"
                        r"thought leader|influencer|youtube|webinar|articles?)\b", re.I)
HANDS_ON = re.compile(r"\b(built|implemented|developed|shipped|delivered|designed|deployed|managed|led|"
                      r"reduced|increased|launched|owned)\b", re.I)
_WORD = re.compile(r"[a-z][a-z0-9+#.]{2,}")
STOP = {"and", "the", "for", "with", "job", "role", "senior", "junior", "lead", "manager", "specialist"}


_HEADING = re.compile(r"^\W*(experience|work experience|professional experience|employment|work history|education|"
                      r"skills|technical skills|core skills|summary|profile|projects|certifications?|training)\W*$",
                      re.I | re.M)
_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")


def sections(text: str) -> dict[str, str]:
    """The CV's text under each heading line (lower-cased heading's first word: experience, skills, ...)."""
    out: dict[str, str] = {}
    marks = list(_HEADING.finditer(text))
    for m, nxt in zip(marks, marks[1:] + [None]):
        name = m.group(1).lower().split()[-1]
        name = {"history": "experience", "employment": "experience"}.get(name, name)
        out[name] = out.get(name, "") + text[m.end():nxt.start() if nxt else len(text)]
    return out


def _role_block(e: dict, text: str) -> str | None:
    """The stretch of the CV text that states this role: its title line and what follows up to the next year-bearing
    line; None when the title or its years are not in the text."""
    title = (e.get("title") or "").strip()
    if not title:
        return None
    low = text.lower()
    for m in re.finditer(re.escape(title.lower()), low):
        end = low.find("\n", m.end())
        line_end = len(text) if end < 0 else end
        line = text[m.start():line_end]
        years = {int(y) for y in _YEAR.findall(line)}
        want = {y for y in (e.get("start_year"), e.get("end_year")) if y}
        if want <= years and (years or not want):
            stop = len(text)
            nxt = _YEAR.search(text, line_end)
            if nxt:  # up to the line of the next dated entry
                stop = max(line_end, text.rfind("\n", line_end, nxt.start()))
            head = _HEADING.search(text, line_end)
            if head:  # never into the next section
                stop = min(stop, head.start())
            return text[m.start():stop]
    return None


def verify_fields(cv: dict) -> tuple[list[tuple[dict, str]], str | None]:
    """([(role, its text block)], problem): every role the fields name must be in the CV text with its years, and
    every listed skill and the claimed title must be in the text, before any deception check reads them."""
    text = cv.get("cv") or ""
    roles = []
    for e in cv.get("experience") or []:
        block = _role_block(e, text)
        if block is None:
            return [], (f"the experience entry '{e.get('title')}' ({e.get('start_year')}-{e.get('end_year')}) is not "
                        "in the CV text with its years: write each role in the CV as 'Title, Employer, YYYY-YYYY'")
        roles.append((e, block))
    missing = [s for s in cv.get("skills") or [] if not phrase_in(s, text)]
    if missing:
        return [], f"listed skills not in the CV text: {', '.join(missing[:5])}"
    claimed = (cv.get("claimed_title") or "").strip()
    if claimed and not phrase_in(claimed, text):
        return [], f"the claimed title '{claimed}' is not in the CV text"
    return roles, None


def _years(e: dict) -> float:
    try:
        return max(0.0, float(e.get("end_year") or 0) - float(e.get("start_year") or 0))
    except (TypeError, ValueError):
        return 0.0


def _words(text: str) -> set[str]:
    return set(_WORD.findall((text or "").lower())) - STOP


def check_deception(tag: str, cv: dict, jd_title: str) -> str | None:
    """None when the CV *text* shows `tag`; else what is missing. The generator's fields (roles with dates, skills,
    claimed title) are first found in the text; the checks then read the text they point at."""
    text = cv.get("cv") or ""
    roles, problem = verify_fields(cv)
    if problem:
        return problem
    if not roles:
        return "no experience entries: give the CV's roles in `experience`"
    sec = sections(text)
    latest = max(roles, key=lambda r: (r[0].get("end_year") or 0, r[0].get("start_year") or 0))
    code_latest = max(read_cv(text).roles, key=lambda r: (r.end, r.start), default=None)
    described = " ".join(block for _, block in roles)
    if tag == "skill_stuffing":
        listed = [s for s in cv.get("skills") or [] if phrase_in(s, sec.get("skills", ""))]
        unsupported = [s for s in listed if not phrase_in(s, described)]
        return None if len(unsupported) >= 3 else (
            f"skill_stuffing needs at least 3 skills in the Skills section that no role in the text mentions "
            f"(found {len(unsupported)})")
    dated = read_cv(text).roles  # every dated role of the text, read by code (not only those the fields list)
    if tag == "title_inflation":
        total = merged_years([(r.start, r.end) for r in dated]) if dated else sum(_years(e) for e, _ in roles)
        senior = [r.years for r in dated if SENIOR.search(r.title)] or \
            [_years(e) for e, block in roles if SENIOR.search(block.split("\n", 1)[0])]
        if not senior:
            return "title_inflation needs a senior title (Senior, Lead, Head, Manager...) on a dated role line"
        return None if total <= 3 or (min(senior) < 2 and total <= 5) else (
            f"title_inflation needs junior duration: the CV's dated roles add up to {total:.1f} years (senior "
            f"role(s) of {min(senior):.1f}+ years)")
    if tag == "contractor_intern_confusion":
        return None if any(TEMPORARY.search(block) for _, block in roles) else \
            "contractor_intern_confusion needs an internship / contract / freelance role in the CV's experience"
    if tag == "career_pivot":
        jd = _words(jd_title)
        if _words(latest[1].split("\n", 1)[0]) & jd:
            return f"career_pivot needs the most recent role outside the field; '{latest[0].get('title')}' is in it"
        if code_latest is not None and _words(code_latest.title) & jd:
            return f"career_pivot needs the most recent role outside the field; '{code_latest.title}' is in it"
        skills_text = sec.get("skills", "")
        return None if _words(skills_text) & jd else "career_pivot needs the JD's keywords in the Skills section"
    if tag == "influencer_noise":
        talk = len(INFLUENCER.findall(text))
        hands = len(HANDS_ON.findall(described))
        return None if talk >= 2 and talk > hands else (
            f"influencer_noise needs talk about the field (blog, talks, podcast...) outweighing hands-on work "
            f"({talk} vs {hands})")
    if tag == "ambiguity":
        vague = len(VAGUE.findall(text))
        numbers = len(re.findall(r"\d+\s*%|\$\s*\d|\b\d+[kKmM]\b", text))
        return None if vague >= 3 and numbers == 0 else (
            f"ambiguity needs vague claims (3+ of 'involved in', 'exposure to'...; found {vague}) and no metrics "
            f"(found {numbers})")
    return f"unknown deception '{tag}'"


def looks_like_cv(text: str) -> str | None:
    heads = sum(bool(re.search(rf"(?im)^\W*{h}\b", text)) for h in ("experience", "education", "skills", "summary",
                                                                    "employment", "work history", "profile"))
    if len(text.split()) < 60:
        return "the CV is too short (under 60 words)"
    if heads < 2:
        return "the CV needs sections (e.g. Experience, Education, Skills) as headings on their own lines"
    if re.search(r"[\w.+-]+@[\w-]+\.\w+|\(\d{3}\)\s*\d{3}-\d{4}", text):
        return "the CV contains contact details; use placeholders only"
    return None
