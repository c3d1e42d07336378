"""The judge's requirements come from code, never from the judging call.

In order: the stage-1 anchor given with `--anchors`; the JD record's own `must` / `preferred` fields (e.g. Google's
minimum / preferred qualifications); else the stage-1 extract stage run on the JD itself (the same module, prompt,
check and grounding as `mira synth jd`, through the same runner and cache). To these, code adds the
years / degree / certification musts the base reader (synth/requirements) finds in the JD text and the list lacks. A
JD that yields no requirement at all leaves its pairs unscored: rejected with that reason, never a label.

Each requirement carries the base model's reading of it (kind, numbers, degree level, content terms): years,
degrees and certifications are decided by code against the CV; for the rest, the CV span an LLM's quote is located
at must carry its content terms. And the rubric dimension it bears on (education / career / skills).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from synth.requirements import CODE_DECIDED, Req, read_jd, read_statement
from synth.textcheck import stem, terms  # noqa: F401  (one home for key terms, shared with the stages)
from synth.stages import extract

_EDU = re.compile(r"\b(degree|bachelor|master|doctorate|ph\.?d|mba|diploma|certif\w*|licen[cs]\w*|ba/bs|bs/ms|"
                  r"b\.?s\.?c?|m\.?s\.?c?|graduate)\b", re.I)
_CAREER = re.compile(r"\b(\d+\+?\s*(years?|yrs?)|experience (as|in|leading|managing)|lead\w*|manag\w*|senior|"
                     r"track record|career)\b", re.I)
_FIELD = re.compile(r"^(years_experience|degree|certification|license|language|location|work_mode|clearance|travel|"
                    r"skill|other):\s*", re.I)


@dataclass(frozen=True)
class Requirement:
    num: int
    level: str  # must | preferred
    text: str
    key_terms: tuple[str, ...]
    dimension: str  # the rubric dimension it bears on
    req: Req | None = None  # the base model's reading (synth/requirements): what code verifies
    source: str = "jd"  # anchor | fields | reader (added by code from the JD text)

    def line(self) -> str:
        return f"{self.num}. [{self.level}] {self.text}"

    @property
    def code_decided(self) -> bool:
        """Years, degrees and certifications (and a requirement the JD negates) are decided by code."""
        return self.req is not None and (self.req.kind in CODE_DECIDED or self.req.negated)


def dimension_of(text: str, kind: str | None = None) -> str:
    if kind in ("degree", "certification"):
        return "education"
    if kind == "years":
        return "career"
    if _EDU.search(text):
        return "education"
    if _CAREER.search(text):
        return "career"
    return "skills"


def _reading(level: str, text: str, evidence: str | None = None) -> Req:
    """The base model's reading of one requirement: the evidence sentence when it states the value ("2-years
    experience as a Preschool Teacher" says what "years_experience: 2 years" is of), else the statement without its
    'field:' prefix."""
    body = _FIELD.sub("", text)
    want = {"years_experience": "years", "degree": "degree", "certification": "certification",
            "license": "certification"}.get(_FIELD.match(text).group(1).lower() if _FIELD.match(text) else "")
    got = read_statement(body, level)
    if evidence and evidence.strip() != body:
        ev = read_statement(evidence, level)
        if body.lower() in evidence.lower() or (got and ev and _states_same(got[0], ev[0])):
            got = ev or got
    if not got:
        return Req("other", level, text)
    return next((r for r in got if r.kind == want), got[0])


def _states_same(a: Req, b: Req) -> bool:
    """The value and its evidence read alike: the same kind, and for years the same number, for a degree the same
    level (the evidence then also says what the years are of)."""
    if a.kind != b.kind:
        return False
    return a.years_min == b.years_min if a.kind == "years" else a.degree == b.degree if a.kind == "degree" else True


def make_requirements(items: list[tuple], source: str = "jd") -> list[Requirement]:
    """Numbered requirements from (level, text) or (level, text, evidence); every non-empty one is kept: one
    without a content term (years-only, degree-only) is checked by code."""
    out = []
    for item in items:
        level, text = item[0], item[1]
        t = " ".join(str(text).split())
        if not t:
            continue
        r = _reading(level, t, item[2] if len(item) > 2 else None)
        kt = r.terms or tuple(terms(t.split(": ", 1)[-1]) or terms(t))
        out.append(Requirement(len(out) + 1, level, t, kt, dimension_of(t, r.kind), r, source))
    return out


def from_anchor(anchor: dict) -> list[Requirement]:
    return make_requirements([("must", f"{c['field']}: {c['value']}", c.get("evidence"))
                              for c in anchor.get("must", [])] +
                             [("preferred", f"{c['field']}: {c['value']}", c.get("evidence"))
                              for c in anchor.get("preferred", [])], "anchor")


def from_jd_fields(jd: dict) -> list[Requirement]:
    return make_requirements([("must", r) for r in jd.get("must") or []] +
                             [("preferred", r) for r in jd.get("preferred") or []], "fields")


def _same(a: Req, b: Req) -> bool:
    if a.kind != b.kind:
        return False
    if a.kind == "years":
        return a.years_min == b.years_min and set(a.terms) == set(b.terms)
    if a.kind == "degree":
        return a.degree == b.degree
    return set(a.terms) == set(b.terms)


def with_reader(reqs: list[Requirement], jd_text: str) -> list[Requirement]:
    """The requirements plus the years / degree / certification musts the base reader finds in the JD text and the
    list lacks (an anchor or an LLM that left out "a minimum of 4 years" does not drop its cap)."""
    have = [r.req for r in reqs if r.req is not None]
    extra = [q for q in read_jd(jd_text) if q.kind in CODE_DECIDED and q.level == "must" and not q.negated
             and not any(_same(q, h) for h in have)]
    out = list(reqs)
    for q in extra:
        have.append(q)
        out.append(Requirement(len(out) + 1, "must", q.text, q.terms, dimension_of(q.text, q.kind), q, "reader"))
    return out


def requirements_for(runner, jds: list[dict], anchors: dict[str, dict] | None = None,
                     extract_missing: bool = True) -> tuple[dict[str, list[Requirement]], dict[str, str]]:
    """Requirements per JD id from anchors, JD fields, or the stage-1 extract stage (one runner call for all the JDs
    that need it); and the reason for each JD that has none (its pairs are unscored)."""
    anchors = anchors or {}
    reqs: dict[str, list[Requirement]] = {}
    why: dict[str, str] = {}
    need = []
    for jd in {j["id"]: j for j in jds}.values():
        if jd["id"] in anchors:
            reqs[jd["id"]] = with_reader(from_anchor(anchors[jd["id"]]), jd["text"])
        elif jd.get("must") or jd.get("preferred"):
            reqs[jd["id"]] = with_reader(from_jd_fields(jd), jd["text"])
        elif extract_missing and not extract.precheck(jd):
            need.append(jd)
        else:
            why[jd["id"]] = extract.precheck(jd) or "the JD lists no requirements"
    if need:
        module = extract.Extract()
        res = runner.run(module, [extract.make_task(j) for j in need], check=extract.check,
                         label="judge-requirements")
        by_id = {j["id"]: j for j in need}
        for o in res.outcomes:
            jd = by_id[o.meta["jd_id"]]
            if not o.ok:
                why[jd["id"]] = f"requirement extraction failed: {o.reason}"
                continue
            anchor, reason, _ = extract.build_anchor(jd, o.output, module.prompt_hash, runner.lm_config.model)
            if anchor is None:
                why[jd["id"]] = f"requirement extraction rejected: {reason}"
            else:
                reqs[jd["id"]] = with_reader(from_anchor(anchor), jd["text"])
        for jd in need:
            if jd["id"] not in reqs and jd["id"] not in why:
                why[jd["id"]] = "requirement extraction did not finish (budget)"
    for jid, r in list(reqs.items()):
        if not r:
            del reqs[jid]
            why[jid] = "the JD states no requirement (none in its anchor, its fields or its text)"
    return reqs, why
