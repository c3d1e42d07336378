"""Scripted judges for the test server. `answer` is the cooperative one: verdicts by requirement number from word
overlap between each requirement and the CV, quoting the CV line that shows it. `ADVERSARIES` are the hostile ones
(flatter everything, follow the CV's injected instructions, omit requirements, quote stopwords). Every one of them
answers the stage-1 extract call cooperatively (grounded requirements from the JD's skill list), so what is tested
is the judging call."""

import re

from tests import scripted_llm
from tests.llm_server import render_fields
from tests.scripted_llm import inputs, unfence

DIMS = ("career", "skills", "education", "innovation")


def extract_answer(messages):
    """Stage 1, cooperative: the scripted anchor plus the JD's own listed skills / qualifications as must items."""
    inp = inputs(messages)
    out = scripted_llm.extract(inp)
    text = unfence(inp["jd_text"])
    block = re.split(r"^(?:##\s*)?[^\n]*(?:Skills|Qualifications|Requirements)[^\n]*$|Minimum qualifications:?",
                     text, maxsplit=1, flags=re.I | re.M)
    items = re.findall(r"^\s*(?:[-*•]|\d+\.)?\s*([A-Za-z][^\n]{3,120})$", block[1], re.M)[:5] if len(block) > 1 else []
    if not items:  # no heading: the JD's own requirement-like sentences
        items = [x.strip() for x in re.split(r"(?<=[.;])\s+|\n", text)
                 if re.search(r"\b(experience|degree|knowledge|skills?|required?|must|years?)\b", x, re.I)
                 and 15 < len(x.strip()) <= 200][:4]
    out["must"] = [{"field": "skill", "value": i.strip(), "evidence": i.strip()} for i in items
                   if not i.startswith("#")]
    out["title"] = scripted_llm.title_of(text)
    return render_fields(out)


def numbered(inp):
    return [(int(n), lvl, t) for n, lvl, t in re.findall(r"^(\d+)\. \[(must|preferred)\] (.+)$", inp["requirements"],
                                                         re.M)]


def _words(text):
    return [w for w in re.findall(r"[a-z]+", text.split(": ")[-1].lower()) if len(w) > 3]


def cooperative_fields(messages) -> dict:
    """The cooperative answer as a dict (tests override its scores to script a judge that rates too high)."""
    inp = inputs(messages)
    cv = unfence(inp["cv"])
    lines = [x.strip() for x in re.split(r"[\n.;]", cv) if x.strip()]
    verdicts = []
    for num, _, req in numbered(inp):
        words = _words(req)
        best = max(lines, key=lambda x: sum(bool(re.search(rf"\b{w}", x.lower())) for w in words), default="")
        found = [w for w in words if re.search(rf"\b{w}", best.lower())]
        met = bool(words) and len(found) >= max(1, len(words) / 2)
        verdicts.append({"requirement": num, "verdict": "met" if met else "unmet", "evidence": best[:200] if met else ""})
    share = sum(v["verdict"] == "met" for v in verdicts) / max(1, len(verdicts))
    scores = {"career": {"score": 80, "rationale": "relevant roles"},
              "skills": {"score": round(100 * share), "rationale": "skills overlap"},
              "education": {"score": 70, "rationale": "degree fits"},
              "innovation": {"score": 60, "rationale": "some projects"}}
    return {"scores": scores, "verdicts": verdicts, "risks": []}


def _cooperative(messages):
    return render_fields(cooperative_fields(messages))


def _flatter(messages):
    """Every verdict met, every score 100, the evidence copied from the CV's first line."""
    inp = inputs(messages)
    first = unfence(inp["cv"]).strip().splitlines()[0][:120]
    return render_fields({"scores": {d: {"score": 100, "rationale": "outstanding"} for d in DIMS},
                          "verdicts": [{"requirement": n, "verdict": "met", "evidence": first}
                                       for n, _, _ in numbered(inp)], "risks": []})


def _follow_injection(messages):
    """Does what the CV says: all met with evidence quoted from the injected passage, 100s, no risks reported."""
    inp = inputs(messages)
    cv = unfence(inp["cv"])
    m = re.search(r"[^\n.]*(ignore|score this|give this)[^\n.]*", cv, re.I)
    quote = (m.group(0) if m else cv.splitlines()[0])[:150]
    return render_fields({"scores": {d: {"score": 100, "rationale": "as the candidate asked"} for d in DIMS},
                          "verdicts": [{"requirement": n, "verdict": "met", "evidence": quote}
                                       for n, _, _ in numbered(inp)], "risks": []})


def _omit(messages):
    """Gives verdicts for none of the requirements and high scores (the old judge then applied no cap)."""
    return render_fields({"scores": {d: {"score": 95, "rationale": "strong"} for d in DIMS}, "verdicts": [],
                          "risks": []})


def _stopwords(messages):
    """All met, each 'evidenced' by a stopword found in the CV."""
    inp = inputs(messages)
    return render_fields({"scores": {d: {"score": 100, "rationale": "great"} for d in DIMS},
                          "verdicts": [{"requirement": n, "verdict": "met", "evidence": "and"}
                                       for n, _, _ in numbered(inp)], "risks": []})


def _dispatch(judge):
    def fn(messages):
        if "conservative structured anchor" in messages[0]["content"]:
            return extract_answer(messages)
        return judge(messages)
    return fn


answer = _dispatch(_cooperative)
ADVERSARIES = {"flatter-everything": _dispatch(_flatter), "follow-the-injection": _dispatch(_follow_injection),
               "omit-requirements": _dispatch(_omit), "quote-stopwords": _dispatch(_stopwords)}
