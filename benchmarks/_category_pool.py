"""Real category pools (#15 item 4, #32): real postings whose titles name one of livecareer's resume categories, each
against all 2,484 livecareer CVs; relevant = the CVs of that category. Monster postings span trades (the map below);
the LinkedIn postings (panoslin) are nearly all software roles, matched to INFORMATION-TECHNOLOGY. Nothing here is
synthetic or labelled by hand beyond the title -> category keyword maps."""

from __future__ import annotations

import re
from pathlib import Path

from synth.importer import import_file
from synth.store import DatasetStore, Version

# title keyword -> livecareer category; the first match wins; titles matching none are not used
TITLE_TO_CATEGORY = [
    (r"\b(chef|cook|culinary)\b", "CHEF"), (r"\b(accountant|accounting)\b", "ACCOUNTANT"),
    (r"\b(teacher|teaching)\b", "TEACHER"), (r"\bsales\b", "SALES"), (r"\bdesigner\b", "DESIGNER"),
    (r"\b(human resources|hr)\b", "HR"), (r"\b(fitness|personal trainer)\b", "FITNESS"),
    (r"\b(nurse|rn|medical assistant|pharmac\w*)\b", "HEALTHCARE"),
    (r"\b(construction|carpenter|foreman)\b", "CONSTRUCTION"), (r"\b(pilot|aviation|aircraft|airframe)\b", "AVIATION"),
    (r"\b(banker|bank|teller)\b", "BANKING"), (r"\b(automotive|mechanic)\b", "AUTOMOBILE"),
]


# LinkedIn (panoslin) titles: software / data roles -> livecareer's INFORMATION-TECHNOLOGY
LINKEDIN_TO_CATEGORY = [
    ((r"\b(software|developer|devops|full[ -]?stack|back[ -]?end|front[ -]?end|data|machine learning|ml|ai|cloud|"
      r"site reliability|sre|infrastructure|platform|python|java|golang|rust|web)\b"), "INFORMATION-TECHNOLOGY"),
]

SOURCES = {"monster": ("jds/monster_jobs_sample/jobs_sample.csv", TITLE_TO_CATEGORY),
           "linkedin": ("jds/panoslin_linkedin_jds/job_descriptions.csv", LINKEDIN_TO_CATEGORY)}
PRESET = {"monster": "monster", "linkedin": "panoslin"}


def category_of(title: str | None, table: list = TITLE_TO_CATEGORY) -> str | None:
    return next((cat for rx, cat in table if re.search(rx, title or "", re.I)), None)


def build_category_pool(store: DatasetStore, data: Path, per_category: int = 15,
                        source: str = "monster") -> tuple[Version, Version]:
    """(pool, cv corpus): up to `per_category` postings of `source` (monster | linkedin) per category, in file
    order."""
    path, table = SOURCES[source]
    jd_v = next(v for v in import_file(store, "jd", data / path, source, preset=PRESET[source]).versions
                if v.kind == "jd")
    cv_v = next(v for v in import_file(store, "cv", data / "cvs/livecareer_resumes/livecareer_resumes_from_pdf.csv",
                                       "livecareer", preset="livecareer").versions if v.kind == "cv")
    by_cat: dict[str, list[str]] = {}
    for c in cv_v.iter_records():
        by_cat.setdefault(c["category"], []).append(c["id"])
    taken: dict[str, int] = {}
    entries = []
    for j in jd_v.iter_records():
        cat = category_of(j.get("title"), table)
        if not cat or taken.get(cat, 0) >= per_category or not by_cat.get(cat):
            continue
        taken[cat] = taken.get(cat, 0) + 1
        entries.append({"id": f"pool-{j['id'][3:]}", "kind": "pool", "jd_id": j["id"], "candidate_ids": by_cat[cat],
                        "positive_ids": by_cat[cat], "hard_negative_ids": [], "scope": "global"})
    pool = store.write(f"category-pool-{source}", "pool", entries, manifest={
        "parents": [jd_v.ref, cv_v.ref], "refs": {"jd": jd_v.ref, "cv": cv_v.ref},
        "params": {"per_category": per_category, "categories": taken, "map": table, "source": source}})
    return pool, cv_v
