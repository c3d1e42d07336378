"""Import presets: how each public file in ../shared/data maps onto Mira's `jd`, `cv` and `pool` records.

A preset maps source columns to record fields and may derive fields from the whole row (`derive`). Users can do the
same for their own files with `--map column=field`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

# Fields a source column may be mapped to, per kind. `meta.<anything>` is always allowed.
FIELDS = {
    "jd": ("text", "title", "company", "location", "category", "responsibilities", "must", "preferred", "source_id"),
    "cv": ("text", "title", "category", "source_id"),
    "pool": ("jd", "jd_title", "positive", "hard_negative", "negative", "source_id"),
}
# Columns tried, in order, for `text` when a file is imported without preset or --map.
TEXT_GUESSES = ("text", "description", "job_description", "jobdescription", "job description", "resume",
                "resume_text", "resume_str", "cv", "cv_text", "body", "content")

_BULLET = re.compile(r"^\s*(?:[-*\u2022\u25cf\u25aa]|\d+[.)])\s*")


def split_items(value: str | None) -> list[str]:
    """Qualification text -> one requirement per line (bullets and numbering removed, empties dropped)."""
    if not value:
        return []
    return [s for s in (_BULLET.sub("", line).strip() for line in value.splitlines()) if s]


def first_line(text: str | None) -> str | None:
    for line in (text or "").splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:200]
    return None


def _google(row: dict) -> dict:
    parts = [row.get("Title") or ""]
    for label, col in (("Responsibilities", "Responsibilities"), ("Minimum qualifications", "Minimum Qualifications"),
                       ("Preferred qualifications", "Preferred Qualifications")):
        if (row.get(col) or "").strip():
            parts.append(f"{label}:\n{row[col].strip()}")
    return {"text": "\n\n".join(p for p in parts if p.strip()),
            "must": split_items(row.get("Minimum Qualifications")),
            "preferred": split_items(row.get("Preferred Qualifications"))}


def _monster(row: dict) -> dict:
    title = re.sub(r"\s+Job in\s+.*$", "", (row.get("job_title") or "").strip()) or None
    return {"title": title}


def _glassdoor(row: dict) -> dict:
    company = re.sub(r"\n\s*\d+(\.\d+)?\s*$", "", (row.get("Company Name") or "").strip()) or None
    return {"company": company}


def _first_line_title(col: str) -> Callable[[dict], dict]:
    return lambda row: {"title": first_line(row.get(col))}


_RJDB_TITLE = re.compile(r"##\s*Job title\s*\n+\s*([^\n]+)", re.I)


def _livecareer(row: dict) -> dict:
    if (row.get("extract_error") or "").strip():
        return {"_reject": f"PDF text extraction failed ({row['extract_error'].strip()[:200]})"}
    return {"title": first_line(row.get("Resume_text"))}


def _rjdb(row: dict) -> dict:
    """The JD's title, and what its hard negative lost against the matched resume (RJDB's Filtered-information:
    skills removed, an experience entry shortened), for the per-cause diagnostics of `mira eval`."""
    m = _RJDB_TITLE.search(row.get("Job-Description") or "")
    lost = row.get("Filtered-information")
    tags = []
    if isinstance(lost, dict):
        tags = [t for t, key in (("skill removed", "Skills"), ("experience shortened", "Experience")) if lost.get(key)]
    return {"jd_title": m.group(1).strip() if m else None, "hard_negative_lost": tags or None}


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str
    description: str
    mapping: dict[str, str]
    derive: Callable[[dict], dict] | None = None
    meta: tuple[str, ...] = field(default_factory=tuple)


PRESETS = {p.name: p for p in [
    Preset("monster", "jd", "Monster.com postings (jobs_sample.csv)",
           {"job_description": "text", "organization": "company", "location": "location"}, _monster),
    Preset("google", "jd", "Google/YouTube postings; minimum / preferred qualifications become must / preferred",
           {"Title": "title", "Company": "company", "Category": "category", "Location": "location",
            "Responsibilities": "responsibilities"}, _google),
    Preset("dice", "jd", "Dice.com tech postings", {"jobdescription": "text", "jobtitle": "title"}),
    Preset("glassdoor", "jd", "Glassdoor data-science postings",
           {"Job Description": "text", "Job Title": "title", "Location": "location", "Industry": "category"},
           _glassdoor, meta=("Salary Estimate", "Sector", "Size", "Type of ownership", "Rating")),
    Preset("panoslin", "jd", "LinkedIn postings labelled for one CV (ResumeJDRelevancy)",
           {"job_description": "text", "job_description_id": "source_id"}, _first_line_title("job_description"),
           meta=("label",)),
    Preset("livecareer", "cv", "livecareer resumes extracted from PDF",
           {"Resume_text": "text", "Category": "category", "ID": "source_id"}, _livecareer,
           meta=("n_pages",)),
    Preset("rjdb", "pool", "RJDB (Megagon Labs): per JD a matched resume and an unmatched hard negative",
           {"Job-Description": "jd", "Resume-matched": "positive", "Resume-unmatched": "hard_negative"}, _rjdb,
           meta=("Skills",)),
]}
