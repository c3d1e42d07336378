"""Scripted answers for the JD stages, computed from each prompt's inputs (for the test server).

Deterministic and honest about what it is: a stand-in LLM that follows the instructions mechanically, so tests can
exercise the stages, checks, dedup and versioning end to end. It also invents one skill and one certification in
stage 1, which the grounding check must drop.
"""

import hashlib
import json
import re

from tests.llm_server import render_fields

VOCAB = ["sales", "customer service", "Microsoft Office", "Excel", "management", "communication", "marketing",
         "training", "scheduling", "nursing", "accounting", "Java", "SQL", "Python", "leadership", "budget"]
_FIELD = re.compile(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n\n\[\[ ## |\n\nRespond with|\Z)", re.S)


def inputs(messages):
    user = next(m["content"] for m in messages if m["role"] == "user")
    return {k: v.strip() for k, v in _FIELD.findall(user)}


def unfence(text):
    m = re.search(r"<<<([\w-]+)\n(.*)\n\1>>>", text, re.S)
    return m.group(2) if m else text


def musts(text):
    out = []
    m = re.search(r"\b(\d+)\+?\s*(?:years|yrs)\b", text, re.I)
    if m:
        out.append({"field": "years_experience", "value": m.group(0), "evidence": m.group(0)})
    m = re.search(r"\b(bachelor'?s?|master'?s?|high school diploma|degree)\b", text, re.I)
    if m:
        out.append({"field": "degree", "value": m.group(0), "evidence": m.group(0)})
    return out


def title_of(text):
    if text.startswith("Title: "):
        return text.splitlines()[0][7:].strip()
    words = re.findall(r"[A-Za-z][A-Za-z&/-]*", text.splitlines()[0] if text.strip() else "")
    return " ".join(words[:4])


def card_fields(card):
    fields = {}
    for line in card.splitlines():
        k, _, v = line.partition(": ")
        fields[k] = v
    must = []
    for item in filter(None, (fields.get("Must") or "").split("; ")):
        f, _, v = item.partition(": ")
        must.append({"field": f, "value": v})
    return fields.get("Title", ""), must


def extract(inp):
    text = unfence(inp["jd_text"])
    scope = ["assists", "contributes", "leads", "owns"][int(hashlib.md5(text.encode()).hexdigest(), 16) % 4]
    skills = [s for s in VOCAB if s.lower() in text.lower()][:6] + ["Quantum Basket Weaving"]
    must = musts(text) + [{"field": "certification", "value": "CPA license", "evidence": "CPA license required"}]
    return {"is_job_description": True, "language": "en", "title": title_of(text), "job_family": "general",
            "seniority": "mid", "scope_level": scope, "responsibilities": [text.split(".")[0][:80]],
            "skills": skills, "must": must, "preferred": [], "summary": "A role. It has duties."}


def paraphrase(inp):
    title, must = card_fields(unfence(inp["anchor"]))
    reqs = ", ".join(c["value"] for c in must) or "no formal requirements"
    return {"title": title, "text": f"We are hiring: {title}. Applicants should bring {reqs}. You will join a "
                                    f"friendly crew, grow quickly and work on varied assignments every week."}


def card(inp):
    text = unfence(inp["jd_summary"])
    return {"title": title_of(text), "must": [c["value"] for c in musts(text)],
            "skills": [s for s in VOCAB if s.lower() in text.lower()][:5], "summary": "Compact card."}


DUTIES = ("Each week this person prepares the routine status reports, double-checks the records against source "
          "files and flags any gaps to a senior colleague before they are sent.",
          "Day to day this person books appointments, files incoming documents, keeps the calendar current and "
          "passes anything unusual to the supervisor on duty.",
          "Most days this person answers routine questions from customers by phone, updates the shared spreadsheets "
          "and hands complex cases over to experienced staff.")


def boundary(inp):
    title, must = card_fields(unfence(inp["anchor"]))
    reqs = "; ".join(c["value"] for c in must)
    level = inp["target_scope"]
    v = int(re.search(r"Variant (\d+)", inp.get("brief", "Variant 1")).group(1)) - 1
    return {"title": title, "scope_level": level, "responsibilities": ["support senior staff"],
            "text": f"{title}, {level} level. Requirements: {reqs}. Helps the team with routine tasks under close "
                    f"supervision. {DUTIES[v % len(DUTIES)]} No ownership of budget, roadmap or people."}


def flipped_value(c):
    """A value that really conflicts with the original (the cooperative answer to stage 5)."""
    if c["field"] == "years_experience":
        n = int(re.search(r"\d+", c["value"]).group(0))
        return f"{1 if n > 1 else 10} years"
    if c["field"] == "degree":
        return "doctorate degree" if "doctor" not in c["value"].lower() else "high school diploma"
    return f"no {c['field'].replace('_', ' ')} requirement"


def constraint(inp):
    title, must = card_fields(unfence(inp["anchor"]))
    field, _, value = inp["flip"].partition(": ")
    value, _, given = value.partition(" -> ")  # a code-chosen replacement is followed as given
    after = [dict(c, value=given or flipped_value(c)) if c["field"] == field and c["value"] == value else c
             for c in must]
    reqs = "; ".join(c["value"] for c in after)
    return {"must": after, "text": f"{title}. Requirements: {reqs}. You will join our team and work with the "
                                    "other members of the group on the day-to-day duties of the role."}


STAGES = {"conservative structured anchor": extract, "rewrite a structured job anchor": paraphrase,
          "compress a raw job description": card, "role-boundary hard negative": boundary,
          "constraint-conflict hard negative": constraint}


def answer(messages):
    system = messages[0]["content"]
    for marker, fn in STAGES.items():
        if marker in system:
            return render_fields({k: (v if isinstance(v, str) else json.loads(json.dumps(v)))
                                  for k, v in fn(inputs(messages)).items()})
    raise ValueError("scripted LLM: unknown stage")
