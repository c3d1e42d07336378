"""The base requirement model (synth/requirements): hand-written JD / CV snippets with hand-counted answers, and real
RJDB records (CC BY-SA 4.0, Megagon Labs) spot-checked where $MIRA_DATA has them."""

import json
from datetime import date
from pathlib import Path

import pytest

from synth.requirements import (load_lexicon, locate, musts, read_cv, read_jd, read_statement, verify,
                                years_statements, language_of)

TODAY = date(2026, 11, 1)


@pytest.mark.parametrize("text,lo,hi", [("5+ years of Python", 5, None), ("3-5 years in sales", 3, 5),
                                        ("at least five (5) years as a nurse", 5, None),
                                        ("half a decade of Java", 5, None), ("up to 2 years of experience", 0, 2),
                                        ("a minimum of seven years", 7, None), ("2 yrs or more", 2, None)])
def test_years_read_as_numbers(text, lo, hi):
    (got_lo, got_hi, (s, e)), = years_statements(text)
    assert (got_lo, got_hi) == (lo, hi)
    assert "year" in text[s:e] or "decade" in text[s:e] or "yrs" in text[s:e]


def test_age_is_not_experience():
    assert years_statements("Must be 18 years of age; 21 years old for driving") == []


def test_statement_kinds_levels_negation():
    (y,) = read_statement("Has previous experience as an SOC Security Analyst for 5 years.")
    assert (y.kind, y.years_min, y.subject) == ("years", 5, "SOC Security Analyst")
    (d,) = read_statement("Bachelor's degree in Computer Science or equivalent practical experience")
    assert (d.kind, d.degree, d.degree_field, d.equivalent_ok) == ("degree", 3, "Computer Science", True)
    (c,) = read_statement("AWS certification is NOT required")
    assert c.kind == "certification" and c.negated and c.terms == ("aws",)
    assert read_statement("No degree required")[0].negated
    assert read_statement("Master's degree preferred")[0].level == "preferred"
    assert read_statement("Experience with Kafka is a plus", level="must")[0].level == "preferred"
    (s,) = read_statement("Experience with Java, C++ or Go")
    assert s.alternatives == (("java",), ("c++",), ("go",))
    assert read_statement("Fluent in Spanish")[0].kind == "language"


JD = """## Job title
Data Engineer

## Responsibilities
- Lead the migration of pipelines.

## Requirements
- 5+ years of experience with Python
- Bachelor's degree in Computer Science
- AWS certification is NOT required
- Proficiency in SQL

## Nice to have
- Experience with Kafka
"""


def test_read_jd_levels_spans_and_musts():
    reqs = read_jd(JD)
    assert [(r.kind, r.level) for r in reqs] == [("years", "must"), ("degree", "must"), ("certification", "must"),
                                                 ("skill", "must"), ("skill", "preferred")]
    assert JD[reqs[0].span[0]:reqs[0].span[1]] == "5+ years of experience with Python"
    assert [r.kind for r in musts(reqs)] == ["years", "degree", "skill"]  # the negated AWS one is not a must


CV = """Jane Doe
Education
B.Sc. in Computer Science, 2015
Experience
Data Engineer, Acme (Jan 2020 - Present)
Built Python and SQL pipelines.
Python Developer
2016 - 2019
Junior analyst (2018 - 2019)
"""


def test_read_cv_roles_merged_years_degree():
    p = read_cv(CV, TODAY)
    assert [r.title for r in p.roles] == ["Data Engineer, Acme", "Python Developer", "Junior analyst"]
    assert p.roles[0].present
    assert p.years == pytest.approx((2026 + 10 / 12 - 2020) + 3)  # 2018-19 lies inside 2016-19: counted once
    assert p.degree == 3


def test_verify_numbers_ladder_and_spans():
    yrs = read_statement("10+ years of Python")[0]
    v = verify(yrs, CV, TODAY)
    assert v.status == "unmet" and "3.0 years" in v.reason  # only the role titled Python Developer counts
    assert verify(read_statement("3+ years as a Data Engineer")[0], CV, TODAY).status == "met"
    master = verify(read_statement("Master's degree required")[0], CV, TODAY)
    assert master.status == "unmet" and "bachelor" in master.reason
    sql = verify(read_statement("Proficiency in SQL")[0], CV, TODAY)
    assert sql.status == "met" and CV[sql.span[0]:sql.span[1]] == "Built Python and SQL pipelines."
    assert verify(read_statement("Proficiency in Kubernetes")[0], CV, TODAY).status == "unmet"


def test_locate_exact_near_and_slipped_words():
    cv = "Development and monitoring of appropriate care plans.\nAccomplishments: Created a new filing system."
    s, e = locate("development and MONITORING of appropriate **care plans**", cv)
    assert cv[s:e] == "Development and monitoring of appropriate care plans"
    # a quote with the requirement's words slipped in is matched to the CV's own span, which lacks them
    span = locate("Development and monitoring of appropriate care plans, Accomplishments SSL Created", cv)
    assert span is not None and "ssl" not in cv[span[0]:span[1]].lower()
    assert locate("Kubernetes cluster administration at scale", cv) is None


def test_language_id():
    de = ("Wir suchen einen erfahrenen Softwareentwickler mit mindestens fünf Jahren Erfahrung in Python. "
          "Sie arbeiten eng mit unserem Team zusammen.")
    assert language_of(de) == "de"
    assert language_of(JD) == "en"


def test_lexicon_is_hashed_and_bad_file_is_named(tmp_path, monkeypatch):
    lex = load_lexicon()
    assert len(lex.hash) == 16
    bad = tmp_path / "requirements" / "lexicon.yaml"
    bad.parent.mkdir()
    bad.write_text("negation: [\"(unclosed\"]\n")
    from synth.errors import InputError
    with pytest.raises(InputError, match="lexicon.yaml"):
        load_lexicon(str(bad))


def _rjdb(n):
    import os
    f = Path(os.environ.get("MIRA_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / \
        "pairs/rjdb/rjdb_dev.jsonl"
    if not f.exists():
        pytest.skip("RJDB not found (set MIRA_DATA)")
    with f.open() as fh:
        return [json.loads(next(fh)) for _ in range(n)]


def test_real_rjdb_shortened_experience_detected():
    """RJDB's first record: the matched resume meets the JD's years musts; its twin (first role cut from
    2019 - 2023 to 2019 - 2021) falls short of "at least 4 years as a Junior Systems Admin/Engineer"."""
    r = _rjdb(1)[0]
    years = [q for q in musts(read_jd(r["Job-Description"])) if q.kind == "years"]
    assert [q.years_min for q in years] == [4, 5, 1, 1]
    assert all(verify(q, r["Resume-matched"], TODAY).met for q in years)
    short = [verify(q, r["Resume-unmatched"], TODAY) for q in years]
    assert [v.status for v in short] == ["unmet", "met", "met", "met"]
    assert "2.0 years" in short[0].reason


def test_same_meaning_phrases_are_read_in_the_cvs_own_words():
    """The lexicon's `same_meaning` groups: a CV passage stating "detail-oriented" or "client service" carries a
    JD's "attention to detail" / "customer service"; a passage with only one shared word ("detail") does not."""
    from synth.requirements import content_on

    detail = read_statement("Attention to detail", "must")[0]
    service = read_statement("Excellent Customer Service Skills", "must")[0]
    assert content_on(detail, "Highly detail-oriented and vigilant", strict=True)[0]
    assert content_on(detail, "A good eye for detail on every order")[0]
    assert not content_on(detail, "Prepared the detailed inventory report")[0]
    assert content_on(service, "Confirmed client service skills handling enquiries", strict=True)[0]
    assert not content_on(service, "Planned the bus service timetable")[0]


def test_an_abbreviation_spelled_out_in_brackets_after_it_is_met_by_either_form():
    from synth.requirements import content_on

    r = read_statement("Profound knowledge of ETL (Extract, Transform, Load).", "must")[0]
    assert r.terms == ("etl", "extract", "transform", "load")
    assert r.aliases == (("etl", ("extract", "transform", "load")),)
    assert content_on(r, "Proficient in ETL processes", strict=True)[0]
    assert content_on(r, "Built pipelines to extract, transform and load data", strict=True)[0]
    assert not content_on(r, "Loaded trucks and transformed the warehouse layout")[0]


def test_a_same_meaning_group_without_content_words_is_named(tmp_path):
    good = (Path(__file__).resolve().parents[1] / "prompts" / "requirements" / "lexicon.yaml").read_text()
    bad = tmp_path / "requirements" / "lexicon.yaml"
    bad.parent.mkdir()
    bad.write_text(good + '\nsame_meaning: [["strong skills", "teamwork"]]\n')
    from synth.errors import InputError
    with pytest.raises(InputError, match=r"lexicon.yaml: same_meaning\[0\]: 'strong skills' has no content word"):
        load_lexicon(str(bad))


def test_a_named_credential_is_met_whole_and_a_name_by_its_initials():
    from synth.requirements import content_on

    cpa = read_statement("CPA certification required", "must")[0]
    assert cpa.kind == "certification"
    assert verify(cpa, "Staff Accountant (2015 - 2020)\nPrepared ledgers.").status == "unmet"  # one word of it
    assert verify(cpa, "Certified Public Accountant (CPA), 2016").status == "met"
    nlp = read_statement("Natural Language Processing", "must")[0]
    assert content_on(nlp, "Built NLP pipelines for support tickets", strict=True)[0]
    assert not content_on(read_statement("Strong Analytical Skills", "must")[0], "SAS programming", strict=True)[0]
