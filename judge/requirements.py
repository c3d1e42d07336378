"""The judge's requirements come from code, never from the judging call.

In order: the stage-1 anchor given with `--anchors`; the JD record's own `must` / `preferred` fields (e.g. Google's
minimum / preferred qualifications); else the stage-1 extract stage run on the JD itself (the same module, prompt,
check and grounding as `mira synth jd`, through the same runner and cache). A JD that yields no checkable
requirement (one with at least one content term) leaves its pairs unscored: rejected with that reason, never a label.

Each requirement carries its key terms (content words, abbreviations expanded, light stemming), which is what
evidence must carry to support it, and the rubric dimension it bears on (education / career / skills).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from synth.textcheck import stem, terms  # noqa: F401  (one home for key terms, shared with the stages)

_EDU = re.compile(r"\b(degree|bachelor|master|doctorate|ph\.?d|mba|diploma|certif\w*|licen[cs]\w*|ba/bs|bs/ms|"
                  r"b\.?s\.?c?|m\.?s\.?c?|graduate)\b", re.I)
_CAREER = re.compile(r"\b(\d+\+?\s*(years?|yrs?)|experience (as|in|leading|managing)|lead\w*|manag\w*|senior|"
                     r"track record|career)\b", re.I)


@dataclass(frozen=True)
class Requirement:
    num: int
    level: str  # must | preferred
    text: str
    key_terms: tuple[str, ...]
    dimension: str  # the rubric dimension it bears on

    def line(self) -> str:
        return f"{self.num}. [{self.level}] {self.text}"


def dimension_of(text: str) -> str:
    if _EDU.search(text):
        return "education"
    if _CAREER.search(text):
        return "career"
    return "skills"


def make_requirements(items: list[tuple[str, str]]) -> list[Requirement]:
    """Numbered requirements from (level, text); items without a content term are not checkable and dropped."""
    out = []
    for level, text in items:
        t = " ".join(str(text).split())
        kt = tuple(terms(t.split(": ", 1)[-1]) or terms(t))
        if t and kt:
            out.append(Requirement(len(out) + 1, level, t, kt, dimension_of(t)))
    return out


def from_anchor(anchor: dict) -> list[Requirement]:
    return make_requirements([("must", f"{c['field']}: {c['value']}") for c in anchor.get("must", [])] +
                             [("preferred", f"{c['field']}: {c['value']}") for c in anchor.get("preferred", [])])


def from_jd_fields(jd: dict) -> list[Requirement]:
    return make_requirements([("must", r) for r in jd.get("must") or []] +
                             [("preferred", r) for r in jd.get("preferred") or []])


def requirements_for(runner, jds: list[dict], anchors: dict[str, dict] | None = None,
                     extract_missing: bool = True) -> tuple[dict[str, list[Requirement]], dict[str, str]]:
    """Requirements per JD id from anchors, JD fields, or the stage-1 extract stage (one runner call for all the JDs
    that need it); and the reason for each JD that has none (its pairs are unscored)."""
    from synth.stages import extract

    anchors = anchors or {}
    reqs: dict[str, list[Requirement]] = {}
    why: dict[str, str] = {}
    need = []
    for jd in {j["id"]: j for j in jds}.values():
        if jd["id"] in anchors:
            reqs[jd["id"]] = from_anchor(anchors[jd["id"]])
        elif jd.get("must") or jd.get("preferred"):
            reqs[jd["id"]] = from_jd_fields(jd)
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
                reqs[jd["id"]] = from_anchor(anchor)
        for jd in need:
            if jd["id"] not in reqs and jd["id"] not in why:
                why[jd["id"]] = "requirement extraction did not finish (budget)"
    for jid, r in list(reqs.items()):
        if not r:
            del reqs[jid]
            why[jid] = "no checkable requirement in the JD (none with a content term)"
    return reqs, why
