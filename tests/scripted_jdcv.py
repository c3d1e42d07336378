"""Scripted JD–CV generator answers for the test server (deterministic, built from each prompt's inputs)."""

import json
import re

from tests.llm_server import render_fields
from tests.scripted_llm import inputs, unfence


def _title(jd):
    if jd.startswith("Title: "):
        return jd.splitlines()[0][7:].strip()
    words = re.findall(r"[A-Za-z][A-Za-z&/-]*", jd.splitlines()[0] if jd.strip() else "")
    return " ".join(words[:4]) or "Specialist"


def _cv(headline, summary, roles, skills):
    exp = "\n".join(f"{t}, {e}, {a}-{b}\n{d}" for t, e, a, b, d in roles)
    return (f"{headline}\nSummary\n{summary}\nExperience\n{exp}\nEducation\nBachelor of Science, University B, 2012\n"
            f"Skills\n{', '.join(skills)}\n")


FILLER = ("Reliable colleague who documents work carefully, communicates with stakeholders, plans weekly priorities, "
          "mentors newcomers, reviews processes regularly and keeps records accurate across every project.")


def balanced(inp):
    jd = unfence(inp["jd"])
    t = _title(jd)
    pos = _cv(t, f"{t} with 8 years of experience. {FILLER}",
              [(t, "Company A", 2016, 2024, f"Owned the {t} function; delivered results every quarter.")],
              ["planning", "reporting", "communication"])
    neg = _cv("Retail Cashier", "Cashier who enjoys helping shoppers at the till and restocking shelves daily. "
              "Friendly, punctual, patient with customers, careful with cash and keen to keep learning new things. "
              + FILLER,
              [("Cashier", "Store C", 2021, 2024, "Handled the register and returns.")], ["cash handling"])
    return {"qualified_cv": pos, "unqualified_cv": neg, "job_family": "general"}


def _requirement_lines(jd):
    return [x.strip() for x in re.split(r"(?<=[.;])\s+|\n", jd)
            if re.search(r"\b(experience|degree|knowledge|skills?|required|must)\b", x, re.I) and len(x.strip()) > 15]


def hardneg(inp):
    jd, tag = unfence(inp["jd"]), inp["deception"]
    t = _title(jd)
    skills = ["planning", "reporting", "communication", "forecasting", "negotiation"]
    roles = [{"title": f"Assistant {t}", "employer": "Company A", "start_year": 2022, "end_year": 2024,
              "description": "planning support"}]
    text_extra = ""
    if tag == "title_inflation":
        roles = [{"title": f"Senior {t}", "employer": "Company A", "start_year": 2023, "end_year": 2024,
                  "description": "planning and reporting"}]
    elif tag == "contractor_intern_confusion":
        roles[0]["title"] = f"{t} Intern"
    elif tag == "career_pivot":
        roles = [{"title": "Pastry Chef", "employer": "Bakery D", "start_year": 2020, "end_year": 2024,
                  "description": "baked bread"}]
        skills = [t] + skills
    elif tag == "influencer_noise":
        text_extra = "Writes a weekly blog and newsletter, hosts a podcast and gives talks to the community."
    elif tag == "ambiguity":
        text_extra = "Involved in various projects, exposure to planning, familiar with reporting, helped with audits."
    exp = [(r["title"], r["employer"], r["start_year"], r["end_year"], r["description"]) for r in roles]
    claims = " ".join(_requirement_lines(jd)[:4])  # a deceptive CV claims what the JD asks for
    cv = _cv(f"{roles[0]['title']} ({tag})", f"{text_extra} {claims} {FILLER} {FILLER}", exp, skills)
    return {"cv": cv, "claimed_title": roles[0]["title"], "experience": roles, "skills": skills}


def answer(messages):
    system = messages[0]["content"]
    if "write two realistic CVs" in system:
        out = balanced(inputs(messages))
    elif "deceptive hard-negative CV" in system:
        out = hardneg(inputs(messages))
    else:
        raise ValueError("scripted jdcv: unknown prompt")
    return render_fields({k: v if isinstance(v, str) else json.loads(json.dumps(v)) for k, v in out.items()})
