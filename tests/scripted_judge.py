"""Scripted judges for the test server. `answer` is the cooperative one: verdicts by requirement number from word
overlap between each requirement and the CV, quoting the CV line that shows it in its own words (as a real LLM does). `ADVERSARIES` are the hostile ones
(flatter everything, follow the CV's injected instructions, omit requirements, quote stopwords, slip the
requirement's words into a real CV line, claim the years asked). Every one of them
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
    items = re.findall(r"^\s*(?:[-*•]|\d+\.)?\s*([A-Za-z][^\n]{3,120}[^:\n])$", block[1], re.M)[:5] if len(block) > 1 else []
    if not items:  # no heading: the JD's own requirement-like sentences
        items = [x.strip() for x in re.split(r"(?<=[.;])\s+|\n", text)
                 if re.search(r"\b(experience|degree|knowledge|skills?|required?|must|years?)\b", x, re.I)
                 and 15 < len(x.strip()) <= 200][:4]
    out["must"] = [{"field": "skill", "value": i.strip(), "evidence": i.strip()} for i in items
                   if not i.startswith("#")]
    out["title"] = scripted_llm.title_of(text)
    return render_fields(out)


_CODE = re.compile(r"\s*\[decided by code on the CV: (met|unmet|unclear)\b[^\n]*\]$")


def _listed(inp):
    return re.findall(r"^(\d+)\. \[(must|preferred)\] (.+)$", inp["requirements"], re.M)


def numbered(inp):
    """(number, level, requirement) as listed, without the judge's note of what code decided."""
    return [(int(n), lvl, _CODE.sub("", t)) for n, lvl, t in _listed(inp)]


def code_decided(inp) -> dict[int, str]:
    """Requirement number -> the verdict the judge says code reached on the CV (years, degrees, certifications)."""
    return {int(n): m.group(1) for n, _, t in _listed(inp) if (m := _CODE.search(t))}


_FILLER = set("""proficiency proficient understanding knowledge experience experienced strong solid excellent great good
working profound expert expertise skills skill skillset comprehensive valuable ability able familiarity familiar
demonstrated proven effective exceptional exemplary sound deep thorough advanced basic various different following
must have with and that this their these using into from such""".split())


def _words(text):
    """Content words: longer than three letters, or a short technical token a reader knows ('IIS', 'C#', 'ASP.NET',
    'SQL')."""
    out = []
    for m in re.finditer(r"[A-Za-z][A-Za-z0-9+#.]*[A-Za-z0-9+#]|[A-Za-z]", text):
        w = m.group(0).lower().rstrip(".")
        tech = re.search(r"[+#.]", w) or (m.group(0).isupper() and len(w) >= 2)
        if (len(w) > 3 or tech) and w not in _FILLER:
            out.append(re.escape(w[:6] if len(w) > 7 and not tech else w))  # 'communicat' ~ 'communicating'
    return out


def _name(req):
    """What a reader takes a requirement to be about: 'skill: Analysis: Ability to ...' -> 'Analysis'."""
    body = re.sub(r"^\w+: ", "", req)
    head, sep, _ = body.partition(":")
    return head if sep and len(head.split()) <= 6 else body


def _core(req):
    """What a careful reader takes a long requirement to ask for first: its leading phrase ('Effective networking
    skills aid in discovering new clients ...' -> 'Effective networking skills')."""
    body = re.sub(r"^\w+: ", "", req)
    body = re.sub(r"^(?:(?:an?|the)\s+)?(?:ability|capacity|capable|able|knowledge|understanding)\s+(?:to|for|of|about|"
                  r"in)\s+", "", body, flags=re.I)
    return re.split(r",|\s[–-]\s|\(|\b(?:to|for|that|which|aid|aids|including|such as|in order)\b", body, 1)[0]


def _paraphrase(line):
    """How a careful real LLM quotes a CV line: list marker and markup dropped, case and spacing its own."""
    line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line)
    return " ".join(re.sub(r"[*_#`]+", " ", line).split()).rstrip(".").lower()


def cooperative_fields(messages) -> dict:
    """The cooperative answer as a dict (tests override its scores to script a judge that rates too high): "met"
    when the CV line that best matches a requirement (its words weighted by their rarity in the CV) carries a fifth
    of its name's content words (or of the statement's), or half those of its leading phrase (`_core`), quoted in its
    own words (`_paraphrase`); a requirement the judge says code decided takes code's verdict (as a real LLM reads
    the note); the skills score is the share of the skill requirements (no years, no degree) it calls met, the
    career score rises with the share of musts met."""
    inp = inputs(messages)
    cv = unfence(inp["cv"])
    lines = [x.strip() for x in re.split(r"[\n;]|\.(?=\s)", cv) if x.strip()]
    decided = code_decided(inp)
    verdicts = []
    for num, _, req in numbered(inp):
        if num in decided:
            verdicts.append({"requirement": num, "verdict": decided[num], "evidence": ""})
            continue
        met, best = False, ""
        for words, share in ((_words(_name(req)), 5), (_words(req.split(": ")[-1]), 5), (_words(_core(req)), 2)):
            # the line a reader would point to: the requirement's words weighted by how rare they are in this CV
            # ('Python' in one line outweighs 'application' in five)
            rare = {w: 1 / max(1, sum(bool(re.search(rf"\b{w}", x.lower())) for x in lines)) for w in words}
            best = max(lines, key=lambda x: sum(rare[w] for w in words if re.search(rf"\b{w}", x.lower())),
                       default="")
            found = [w for w in words if re.search(rf"\b{w}", best.lower())]
            met = bool(words) and len(found) >= max(1, len(words) / share)
            if met:
                break
        verdicts.append({"requirement": num, "verdict": "met" if met else "unmet",
                         "evidence": _paraphrase(best)[:200] if met else ""})
    skill_nums = {n for n, _, req in numbered(inp) if not re.search(r"\d+\+?\s*(?:years?|yrs)|degree", req, re.I)}
    skill_v = [v for v in verdicts if v["requirement"] in skill_nums] or verdicts  # a skills score is about skills
    share = sum(v["verdict"] == "met" for v in skill_v) / max(1, len(skill_v))
    must_nums = {n for n, lvl, _ in numbered(inp) if lvl == "must"}
    must_v = [v for v in verdicts if v["requirement"] in must_nums] or verdicts
    fit = sum(v["verdict"] == "met" for v in must_v) / max(1, len(must_v))  # how much of what the JD needs it saw
    scores = {"career": {"score": round(60 + 35 * fit), "rationale": "relevant roles"},
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


def _slip_in(messages):
    """All met, 100s; each quote a long real CV line with the requirement's own words slipped into it (what passed
    fuzzy matching before #26: "... care plans, Accomplishments SSL Created, ...")."""
    inp = inputs(messages)
    lines = sorted((x.strip() for x in unfence(inp["cv"]).splitlines() if x.strip()), key=len, reverse=True)
    base = (lines[0] if lines else "")[:160]
    verdicts = []
    for n, _, req in numbered(inp):
        words = " ".join([w for w in re.findall(r"[A-Za-z]{2,}", _name(req)) if w.lower() not in _FILLER][:2])
        cut = base.rfind(" ", 0, max(1, len(base) * 2 // 3))
        verdicts.append({"requirement": n, "verdict": "met",
                         "evidence": f"{base[:cut]}, Accomplishments {words} {base[cut + 1:]}"[:EVIDENCE]})
    return render_fields({"scores": {d: {"score": 100, "rationale": "strong"} for d in DIMS}, "verdicts": verdicts,
                          "risks": []})


def _years_lie(messages):
    """All met, 100s; a years requirement 'evidenced' by a quote claiming the years asked ("8 years of Python"), the
    rest by the cooperative quotes."""
    inp = inputs(messages)
    coop = {v["requirement"]: v for v in cooperative_fields(messages)["verdicts"]}
    verdicts = []
    for n, _, req in numbered(inp):
        m = re.search(r"(\d+)\s*\+?\s*years?", req, re.I)
        ev = f"{int(m.group(1)) + 3} years of {_name(req).split(' of ')[-1]}" if m else (coop[n]["evidence"] or "")
        verdicts.append({"requirement": n, "verdict": "met", "evidence": ev[:EVIDENCE]})
    return render_fields({"scores": {d: {"score": 100, "rationale": "strong"} for d in DIMS}, "verdicts": verdicts,
                          "risks": []})


EVIDENCE = 240


def _dispatch(judge):
    def fn(messages):
        if "conservative structured anchor" in messages[0]["content"]:
            return extract_answer(messages)
        return judge(messages)
    return fn


answer = _dispatch(_cooperative)
ADVERSARIES = {"flatter-everything": _dispatch(_flatter), "follow-the-injection": _dispatch(_follow_injection),
               "omit-requirements": _dispatch(_omit), "quote-stopwords": _dispatch(_stopwords),
               "slip-in-words": _dispatch(_slip_in), "years-lie": _dispatch(_years_lie)}
