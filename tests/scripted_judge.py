"""A scripted judge for the test server: verdicts from word overlap between each requirement and the CV."""

import re

from tests.llm_server import render_fields
from tests.scripted_llm import inputs, unfence


def requirements(inp):
    listed = re.findall(r"^\d+\. \[(must|preferred)\] (.+)$", inp["requirements"], re.M)
    if listed:
        return listed
    jd = unfence(inp["jd"])
    block = jd.split("## Required Skills", 1)[-1].split("##", 1)[0] if "## Required Skills" in jd else ""
    return [("must", m.strip()) for m in re.findall(r"^(?:\d+\.|-) ([^:\n]+)", block, re.M)][:6]


def answer(messages):
    inp = inputs(messages)
    cv = unfence(inp["cv"]).lower()
    verdicts = []
    for level, req in requirements(inp):
        words = [w for w in re.findall(r"[a-z]+", req.split(": ")[-1].lower()) if len(w) > 3]
        found = [w for w in words if re.search(rf"\b{w}", cv)]
        met = bool(words) and len(found) >= len(words) / 2
        verdicts.append({"requirement": req, "level": level, "verdict": "met" if met else "unmet",
                         "evidence": found[0] if met else ""})
    share = sum(v["verdict"] == "met" for v in verdicts) / max(1, len(verdicts))
    scores = {"career": {"score": 80, "rationale": "relevant roles"},
              "skills": {"score": round(100 * share), "rationale": "skills overlap"},
              "education": {"score": 70, "rationale": "degree fits"},
              "innovation": {"score": 60, "rationale": "some projects"}}
    return render_fields({"scores": scores, "verdicts": verdicts, "risks": []})
