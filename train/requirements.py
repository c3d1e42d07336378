"""Requirement features for the requirement-aware head (#15): code reads a JD's requirements and checks them against
the CV's text, so a near-miss (a must skill missing, experience short of what is asked, a degree below the one
required) is visible to the head even where the embeddings barely move.

Everything is read and checked by the requirement model in the base layer (synth/requirements), the one the judge
and the stages use: the JD's statements become typed requirements (`read_statement`), the CV a profile (`read_cv`:
dated roles with overlaps merged, "present" is `today`, degree, terms), and the checks are the verifier's (`verify`
for degrees and certifications, `roles_for` for the roles a years requirement counts, `carried_share` for how much of
a skill the CV carries). Requirements come, in order, from the JD record's `must` field (e.g. Google's minimum
qualifications), or the JD text itself: the statements under requirement-like headings ("Required Skills",
"Requirements", "Qualifications", "What you need", ...), else every sentence with a years / degree / certification
statement (too thin to rerank by: a requirement-aware head abstains on such JDs).

Features (all in [0, 1] or small, in this order: FEATURES):
    has_requirements      1 when the JD yields any requirement, else 0 (then the rest are neutral)
    must_skill_share      mean over the skill-like requirements of the share of its content terms the CV carries
                          (the verifier's reading: word forms, compounds, abbreviations and initials, same-meaning
                          phrases)
    years_required        the largest "N years" the JD asks for, / 10
    years_cv              years the CV's dated roles add up to (overlaps merged), / 10
    years_shortfall       max(0, required - cv) / required
    role_years_shortfall  mean over "N years as ROLE" requirements of the shortfall against the roles the verifier
                          counts for that role
    degree_required       0 none, 1 associate, 2 bachelor, 3 master, 4 doctorate; / 4
    degree_gap            1 when the verifier finds the CV's highest degree below a required one
    cert_share            share of required certifications / licences the verifier finds (1 when none is required)
    key_term_coverage     share of the requirement text's key terms (first 40) the CV carries
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from synth.requirements import (CODE_DECIDED, Req, carried_share, load_lexicon, merged_years, read_cv, read_statement,
                                roles_for, statements, verify, years_statements)
from synth.requirements import dated_roles as read_dated_roles
from synth.textcheck import terms

FEATURES = ("has_requirements", "must_skill_share", "years_required", "years_cv", "years_shortfall",
            "role_years_shortfall", "degree_required", "degree_gap", "cert_share", "key_term_coverage")


def _asked(r: Req) -> float:
    """The years a years requirement asks for ("up to 3 years": 3)."""
    return r.years_max if not r.years_min and r.years_max else (r.years_min or 0.0)


@dataclass(frozen=True)
class JDRequirements:
    reqs: tuple[Req, ...] = ()  # the requirement model's reading of each statement
    key_terms: tuple[str, ...] = ()
    source: str = "none"  # fields | sections | sentences | none

    def of_kind(self, kind: str) -> tuple[Req, ...]:
        """The requirements of one kind the JD asks for (not those it says are not needed)."""
        return tuple(r for r in self.reqs if r.kind == kind and not r.negated)

    @property
    def skills(self) -> tuple[Req, ...]:
        return tuple(r for r in self.reqs if r.kind not in CODE_DECIDED and not r.negated and r.terms)

    @property
    def years(self) -> float:
        return max((_asked(r) for r in self.of_kind("years")), default=0.0)

    @property
    def role_reqs(self) -> tuple[Req, ...]:
        """The "N years as ROLE" requirements."""
        return tuple(r for r in self.of_kind("years") if r.subject and r.terms and _asked(r))

    @property
    def role_years(self) -> tuple[tuple[str, float], ...]:
        return tuple((r.subject, _asked(r)) for r in self.role_reqs)

    @property
    def degree(self) -> int:
        """The highest degree asked for: 4 doctorate, 3 master, 2 bachelor, 1 associate, 0 none."""
        return max((max(0, r.degree - 1) for r in self.of_kind("degree")), default=0)

    @property
    def certs(self) -> tuple[Req, ...]:
        return self.of_kind("certification")

    @property
    def empty(self) -> bool:
        return not (self.skills or self.years or self.degree or self.certs)

    @property
    def structured(self) -> bool:
        """Read from the record's must field or requirement sections: what the head learns from. Free text
        scanned for year / degree sentences ("sentences") is too thin to rerank by, so the head abstains."""
        return self.source in ("fields", "sections") and not self.empty


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
    lex = load_lexicon()
    return [stmt for stmt, _, _ in found if years_statements(stmt) or degree_level(stmt)
            or lex.has("certifications", stmt)], "sentences"


def from_statements(lines: list[str], source: str = "sections") -> JDRequirements:
    """Requirements from requirement statements (one per item), each read by the requirement model."""
    reqs = tuple(r for s in lines for r in read_statement(s, "must"))
    return JDRequirements(reqs, tuple(terms(" ".join(lines)))[:40], source)


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


def features(req: JDRequirements, cv: str, today: date | None = None) -> np.ndarray:
    """The FEATURES vector of one (JD requirements, CV text) pair."""
    if req.empty:
        return np.array([0, 1, 0, 0, 0, 0, 0, 0, 1, 1], dtype=np.float32)
    lex = load_lexicon()
    p = read_cv(cv, today or date.today(), lex)
    skills = req.skills
    skill = sum(carried_share(r, cv, lex) for r in skills) / len(skills) if skills else 1.0
    short = max(0.0, req.years - p.years) / req.years if req.years else 0.0
    role_short = [max(0.0, _asked(r) - merged_years([(x.start, x.end) for x in roles_for(r, p)[0]])) / _asked(r)
                  for r in req.role_reqs]
    gap = any(verify(r, p, lex=lex).status == "unmet" for r in req.of_kind("degree"))
    certs = req.certs
    cert = sum(verify(r, p, lex=lex).status == "met" for r in certs) / len(certs) if certs else 1.0
    cover = sum(t in p.terms for t in req.key_terms) / len(req.key_terms) if req.key_terms else 1.0
    return np.array([1.0, skill, min(req.years, 20) / 10, min(p.years, 40) / 10, short,
                     float(np.mean(role_short)) if role_short else 0.0, req.degree / 4, float(gap), cert, cover],
                    dtype=np.float32)


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
