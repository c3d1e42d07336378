"""Requirement features for the requirement-aware head (#15): code reads a JD's requirements and checks them against
the CV's text, so a near-miss (a must skill missing, experience short of what is asked, a degree below the one
required) is visible to the head even where the embeddings barely move.

Years, degrees and dated roles are read by the requirement model in the base layer (synth/requirements), the one
the judge and the stages use. Requirements come, in order, from the JD record's `must` field (e.g. Google's minimum qualifications), or the JD text
itself: the lines under requirement-like headings ("Required Skills", "Requirements", "Qualifications", "What you
need", ...), else every sentence with a years / degree / certification statement (too thin to rerank by: a
requirement-aware head abstains on such JDs). The CV side reads its dated
roles ("2019 - 2023", "08/2012 to Current", "Aug 2014 - Present", "March 2012 to May 2014"), merges overlapping
ones, and counts years; "present" / "current" / "now" is `today`.

Features (all in [0, 1] or small, in this order: FEATURES):
    has_requirements      1 when the JD yields any requirement, else 0 (then the rest are neutral)
    must_skill_share      mean credit over the must skills: 1 when the CV names the skill (key terms, abbreviations
                          expanded, stemmed; or its acronym as a word), else the share of its key terms present
    years_required        the largest "N years" the JD asks for, / 10
    years_cv              years the CV's dated roles add up to (overlaps merged), / 10
    years_shortfall       max(0, required - cv) / required
    role_years_shortfall  mean over "N years as ROLE" requirements of the shortfall against the CV's roles whose
                          line carries the role's key terms
    degree_required       0 none, 1 associate, 2 bachelor, 3 master, 4 doctorate; / 4
    degree_gap            1 when the CV's highest degree is below the required one
    cert_share            share of required certifications / licences the CV names (1 when none is required)
    key_term_coverage     share of the requirement text's key terms (first 40) the CV carries
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

from synth.requirements import dated_roles as read_dated_roles
from synth.requirements import load_lexicon, merged_years, read_statement, statements, years_statements
from synth.textcheck import terms

FEATURES = ("has_requirements", "must_skill_share", "years_required", "years_cv", "years_shortfall",
            "role_years_shortfall", "degree_required", "degree_gap", "cert_share", "key_term_coverage")

def _cert(text: str):
    """A certification / licence named in the text, by the reader's own lexicon (prompts/requirements/lexicon.yaml)."""
    return load_lexicon().has("certifications", text)

_CERT_WORDS = {"certif", "certifi", "certific", "certify", "certified", "certification", "licens", "licen", "license",
               "licence", "accredit", "requir", "current", "valid", "active", "hold", "must", "prefer", "state"}
@dataclass(frozen=True)
class JDRequirements:
    skills: tuple[str, ...] = ()
    years: float = 0.0
    role_years: tuple[tuple[str, float], ...] = ()
    degree: int = 0
    certs: tuple[str, ...] = ()
    key_terms: tuple[str, ...] = ()
    source: str = "none"  # fields | sections | sentences | none

    @property
    def empty(self) -> bool:
        return not (self.skills or self.years or self.degree or self.certs)

    @property
    def structured(self) -> bool:
        """Read from the record's must field or requirement sections: what the head learns from. Free text
        scanned for year / degree sentences ("sentences") is too thin to rerank by, so the head abstains."""
        return self.source in ("fields", "sections") and not self.empty


def _years_in(text: str) -> float:
    """The largest years figure the text asks for (synth/requirements: "5+", "3-5", "five (5)", "half a decade")."""
    return max((hi if lo == 0 and hi else lo for lo, hi, _ in years_statements(text)), default=0.0)


def degree_level(text: str) -> int:
    """The highest degree a text names: 4 doctorate, 3 master, 2 bachelor, 1 associate, 0 none (the requirement
    model's ladder, whose high school level counts 0 here)."""
    return max(0, load_lexicon().degree_level(text) - 1)


def _requirement_lines(text: str) -> tuple[list[str], str]:
    """The statements under requirement-like headings ("sections"), as the requirement model finds them; else the
    sentences with a years / degree / certification statement ("sentences")."""
    found = statements(text)
    under = [stmt for stmt, heading, _ in found if heading]
    if under:
        return under, "sections"
    return [stmt for stmt, _, _ in found if years_statements(stmt) or degree_level(stmt) or _cert(stmt)], \
        "sentences"


def _skill_name(item: str) -> str:
    """'Networking: TCP/IP skills ...' -> 'Networking'; a short item is its own name."""
    head, sep, _ = item.partition(":")
    return head.strip() if sep and len(head.split()) <= 6 else item.strip()


def _role_of(stmt: str) -> str | None:
    """The role or skill a years statement is attached to, as the requirement model reads it ("as a Survey
    Researcher", "of Python")."""
    ys = [r for r in read_statement(stmt) if r.kind == "years"]
    return ys[0].subject if ys else None


def from_statements(lines: list[str], source: str = "sections") -> JDRequirements:
    """Requirements from requirement statements (one per item)."""
    skills, role_years, certs, years, degree = [], [], [], 0.0, 0
    for s in lines:
        y = _years_in(s)
        lvl = degree_level(s)
        if y:
            years = max(years, y)
            role = _role_of(s)
            if role and terms(role):
                role_years.append((role, y))
        elif lvl or re.search(r"\bdegree\b", s, re.I):
            degree = max(degree, lvl or 2)
        elif _cert(s):
            certs.append(s)
        else:
            skills.append(_skill_name(s))
    kt = tuple(terms(" ".join(lines)))[:40]
    return JDRequirements(tuple(skills), years, tuple(role_years), degree, tuple(certs), kt, source)


def jd_requirements(jd: dict | str) -> JDRequirements:
    """A JD's requirements: the record's `must` field, else its text's requirement sections, else its sentences."""
    if isinstance(jd, dict) and jd.get("must"):
        return from_statements([str(x) for x in jd["must"]], "fields")
    text = jd if isinstance(jd, str) else jd.get("text", "")
    return from_statements(*_requirement_lines(text))


def dated_roles(cv: str, today: date | None = None) -> list[tuple[float, float, str]]:
    """(start, end, context) for each dated role of the CV in fractional years (synth/requirements' roles: the
    context is the role's title as the model reads it, else the text around the dates)."""
    return [(r.start, r.end, r.title or r.context) for r in read_dated_roles(cv, today)]


_FILLER = set(terms("proficiency proficient knowledge experience experienced ability able skills skill strong "
                    "excellent understanding familiarity familiar working solid good thorough advanced basic "
                    "demonstrated proven expertise expert use using"))


def _skill_credit(skill: str, cv_terms: set[str], cv_words: set[str]) -> float:
    """1 when the CV names the skill (its key terms, or its acronym as a word); else the share of its key terms the
    CV carries (a long requirement statement paraphrased in the CV gets partial credit)."""
    kt = [t for t in terms(skill) if t not in _FILLER]
    if not kt:
        return 1.0
    have = sum(t in cv_terms for t in kt)
    acronym = "".join(w[0] for w in re.findall(r"[A-Za-z]+", skill) if w.lower() not in ("and", "of", "the"))
    if have == len(kt) or (len(kt) > 1 and len(acronym) >= 2 and acronym.lower() in cv_words):
        return 1.0
    return have / len(kt)


@lru_cache(maxsize=8192)
def _profile(cv: str, today: date) -> tuple[frozenset, frozenset, tuple, int]:
    """What the features read from a CV, parsed once per text: key terms, words, dated roles (each with its
    context's key terms), highest degree."""
    roles = tuple((s, e, frozenset(terms(ctx))) for s, e, ctx in dated_roles(cv, today))
    return frozenset(terms(cv)), frozenset(re.findall(r"[a-z0-9+#]+", cv.lower())), roles, degree_level(cv)


def features(req: JDRequirements, cv: str, today: date | None = None) -> np.ndarray:
    """The FEATURES vector of one (JD requirements, CV text) pair."""
    if req.empty:
        return np.array([0, 1, 0, 0, 0, 0, 0, 0, 1, 1], dtype=np.float32)
    cv_terms, cv_words, roles, cv_degree = _profile(cv, today or date.today())
    skill = (sum(_skill_credit(s, cv_terms, cv_words) for s in req.skills) / len(req.skills)) if req.skills else 1.0
    have = merged_years([(s, e) for s, e, _ in roles])
    short = max(0.0, req.years - have) / req.years if req.years else 0.0
    role_short = []
    for role, need in req.role_years:
        rt = terms(role)
        spans = [(s, e) for s, e, ctx in roles if rt and sum(t in ctx for t in rt) >= max(1, len(rt) / 2)]
        role_short.append(max(0.0, need - merged_years(spans)) / need)
    certs = [c for c in req.certs if [t for t in terms(c) if t not in _CERT_WORDS]]
    cert = (sum(all(t in cv_terms for t in terms(c) if t not in _CERT_WORDS) for c in certs) / len(certs)
            if certs else 1.0)
    cover = sum(t in cv_terms for t in req.key_terms) / len(req.key_terms) if req.key_terms else 1.0
    return np.array([1.0, skill, min(req.years, 20) / 10, min(have, 40) / 10, short,
                     float(np.mean(role_short)) if role_short else 0.0, req.degree / 4,
                     float(req.degree > cv_degree), cert, cover], dtype=np.float32)


def pair_features(jd_reqs: list[JDRequirements], cvs: list[str], today: date | None = None) -> np.ndarray:
    """(n, len(FEATURES)) for aligned lists of requirements and CV texts."""
    today = today or date.today()
    return np.stack([features(r, c, today) for r, c in zip(jd_reqs, cvs)]) if cvs else \
        np.zeros((0, len(FEATURES)), dtype=np.float32)


def requirement_features(sources: list, cands: list[str], today: date | None = None) -> np.ndarray:
    """FEATURES for aligned (JD record or JD / query text, candidate text) pairs; each JD parsed once."""
    cache: dict[str, JDRequirements] = {}
    reqs = []
    for s in sources:
        key = s["id"] if isinstance(s, dict) and s.get("id") else str(s)
        if key not in cache:
            cache[key] = jd_requirements(s)
        reqs.append(cache[key])
    return pair_features(reqs, cands, today)


def choose_features(sources: list, mode: str = "auto") -> tuple[bool, str]:
    """Whether the head reads requirement features, and why: `requirements` / `none` as asked; `auto` turns them on
    when at least half the training JDs yield a requirement (the plain paper head otherwise)."""
    if mode not in ("auto", "requirements", "none"):
        from synth.errors import InputError

        raise InputError(f"--features '{mode}': use auto, requirements or none.")
    if mode != "auto":
        return mode == "requirements", f"--features {mode}"
    uniq = {(s["id"] if isinstance(s, dict) else str(s)): s for s in sources}
    share = sum(jd_requirements(s).structured for s in uniq.values()) / max(1, len(uniq))
    on = share >= 0.5
    return on, (f"{share:.0%} of the {len(uniq)} training JDs yield requirements: "
                f"{'requirement-aware head' if on else 'the paper head (too few requirements)'}")
