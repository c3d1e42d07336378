"""The grounded CV shape the embedded model decodes under (#27 item 6): any CV the shape accepts, even its shortest,
passes the CV checks (headings, 60 words); the qualified CV states the JD's title and dated years."""

from __future__ import annotations

import json
import re

import pytest

from synth.lm.schema import ground_schema, output_schema
from synth.stages import jdcv
from synth.stages.deceptions import looks_like_cv

pytest.importorskip("llguidance")
from synth.lm.grammar import accepts  # noqa: E402

ANCHOR = {"title": "Payroll Specialist", "card": "Title: Payroll Specialist\nRequires 5+ years; ADP.",
          "must": [{"field": "years_experience", "value": "5+ years"}, {"field": "skill", "value": "ADP"}]}
JD = {"id": "jd-1", "text": "Payroll Specialist. 5+ years of payroll, ADP required."}


def fill(n, word="a"):
    return " ".join([word] * n) + " "


def shortest(qualified: bool) -> str:
    lo = [lo for _, lo, _ in jdcv.SECTIONS]
    w = "ledger" if qualified else "retail"  # two different people
    head = ("Payroll Specialist with 5+ years in the role. Meets: 5+ years; ADP. " if qualified
            else "Early-career candidate. ")
    role = "Payroll Specialist, Company A, 2018 - 2024" if qualified else "Payroll clerk, Company B, 2023 - 2024"
    return (f"SUMMARY\n{head}{fill(lo[0], w)}\n\nEXPERIENCE\n{role}\n{fill(lo[1], w)}\n\nEDUCATION\n"
            f"{fill(lo[2], w)}\n\nSKILLS\n{fill(lo[3], w)}")


def test_the_shortest_cv_the_shape_allows_passes_the_cv_checks():
    task = jdcv.balanced_tasks(JD, ANCHOR, 1)[0]
    schema = ground_schema(output_schema(jdcv.BalancedPair), task.grounding)
    for field, qualified in (("qualified_cv", True), ("unqualified_cv", False)):
        text = shortest(qualified)
        assert accepts(schema["properties"][field], json.dumps(text)), field
        assert looks_like_cv(text) is None, field
        assert not accepts(schema["properties"][field], json.dumps(text.replace("\n\nSKILLS\n", " ")))  # a heading
        w = "ledger" if qualified else "retail"
        fewer = text.replace(fill(jdcv.SECTIONS[1][1], w), fill(jdcv.SECTIONS[1][1] - 1, w))
        assert not accepts(schema["properties"][field], json.dumps(fewer))  # too few words
    out = {"qualified_cv": shortest(True), "unqualified_cv": shortest(False), "job_family": "finance"}
    assert jdcv.check_balanced()(task, out) is None
    years = re.search(r"(\d{4}) - (\d{4})", out["qualified_cv"])
    assert int(years[2]) - int(years[1]) >= 5  # the dated role covers the anchor's years


def test_a_title_a_json_string_must_escape_gets_no_shape():
    assert jdcv.cv_grounding('The "Best" Clerk', None) == {}
