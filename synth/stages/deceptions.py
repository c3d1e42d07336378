"""Script checks that a hard-negative CV really carries its tagged deception (one function per tag)."""

from __future__ import annotations

import re

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


def _years(e: dict) -> float:
    try:
        return max(0.0, float(e.get("end_year") or 0) - float(e.get("start_year") or 0))
    except (TypeError, ValueError):
        return 0.0


def _words(text: str) -> set[str]:
    return set(_WORD.findall((text or "").lower())) - STOP


def check_deception(tag: str, cv: dict, jd_title: str) -> str | None:
    """None when `cv` (text, claimed_title, experience, skills) shows `tag`; else what is missing."""
    text, exp, skills = cv.get("cv") or "", cv.get("experience") or [], cv.get("skills") or []
    if not exp:
        return "no experience entries: give the CV's roles in `experience`"
    latest = max(exp, key=lambda e: (e.get("end_year") or 0, e.get("start_year") or 0))
    if tag == "skill_stuffing":
        described = " ".join(f"{e.get('title', '')} {e.get('description', '')}" for e in exp).lower()
        unsupported = [s for s in skills if s.lower() not in described]
        return None if len(unsupported) >= 3 else (
            f"skill_stuffing needs at least 3 listed skills that no experience entry mentions (found "
            f"{len(unsupported)})")
    if tag == "title_inflation":
        total = sum(_years(e) for e in exp)
        senior = [e for e in exp if SENIOR.search(e.get("title") or "")] or (
            [latest] if SENIOR.search(cv.get("claimed_title") or "") else [])
        if not senior:
            return "title_inflation needs a senior title (Senior, Lead, Head, Manager...)"
        return None if total <= 3 or min(_years(e) for e in senior) < 2 else (
            f"title_inflation needs junior duration: {total:g} years in total, senior role(s) of 2+ years")
    if tag == "contractor_intern_confusion":
        return None if any(TEMPORARY.search(f"{e.get('title', '')} {e.get('description', '')}") for e in exp) else \
            "contractor_intern_confusion needs an internship / contract / freelance role among the experience"
    if tag == "career_pivot":
        jd = _words(jd_title)
        latest_words = _words(f"{latest.get('title', '')}")
        keywords = sum(1 for s in skills if _words(s) & jd) + len(_words(" ".join(skills)) & jd)
        if latest_words & jd:
            return f"career_pivot needs the most recent role outside the field; '{latest.get('title')}' is in it"
        return None if keywords >= 1 and len(skills) >= 3 else "career_pivot needs the JD's keywords among the skills"
    if tag == "influencer_noise":
        talk = len(INFLUENCER.findall(text))
        hands = len(HANDS_ON.findall(" ".join(e.get("description", "") for e in exp)))
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
