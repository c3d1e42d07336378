"""Requirement features (#15 item 2) on real snippets: livecareer resumes (CC0) and RJDB (CC BY-SA 4.0, Megagon Labs),
in the date formats they use; each feature checked against a hand count."""

from datetime import date

import numpy as np
import pytest

from train.requirements import (FEATURES, choose_features, dated_roles, degree_level, features, jd_requirements,
                                merged_years, requirement_features)

TODAY = date(2026, 11, 1)
F = {name: i for i, name in enumerate(FEATURES)}

# RJDB dev (first record): the JD, its matched resume, and the "unmatched" one with two skills removed and the first
# role shortened from 2019 - 2023 to 2019 - 2021
RJDB_JD = """## Job title
Junior Systems Admin/Engineer

## Required Skills
1. Analysis: Ability to analyze system errors and other issues.
2. Audio Visual: Knowledge of AV setups and equipment maintenance.
3. Customer Service: Experience in helping clients and employees with technical issues.
4. Networking: Workflow proficiency includes TCP/IP networking skills and direct LAN/WAN network operation.
5. VMware: Experience in managing and troubleshooting VMware environments.

## Required Experience
1. Has spent at least 4 years working as a Junior Systems Admin/Engineer.
2. Has previous experience as an SOC Security Analyst - SecureWorks Providence for 5 years.

## Responsibilities
1. Applying project management practices.
"""
RJDB_MATCHED = """## Education
Bachelor's degree in Computer Engineering

## Skills
1. Analysis
2. Audio Visual
3. Customer Service
4. Networking
5. VMware

## Experience
1. Junior Systems Admin/Engineer (2019 - 2023)
2. SOC Security Analyst - SecureWorks Providence - RI - Atlanta - GA and Lisle - IL (2014 - 2019)
"""
RJDB_UNMATCHED = RJDB_MATCHED.replace("3. Customer Service\n4. Networking\n5. VMware", "3. VMware").replace(
    "(2019 - 2023)", "(2019 - 2021)")

# livecareer: the date range spans lines, the title is the line after ("08/2012\nto\nCurrent\nStaff Accountant") or
# before ("Substitute Teacher\nAug 2014\nto\nCurrent")
LIVECAREER = """Experience
08/2012
to
Current
Staff Accountant
Company Name
City
,
State
Process Receivables
11/2009
to
10/2010
Accountant III
Company Name
Substitute Teacher
Aug 2014
to
Current
Company Name
Education
Bachelor of Science : Accounting , 2008"""


def test_rjdb_requirements_are_read_from_their_sections():
    req = jd_requirements(RJDB_JD)
    assert [r.name for r in req.skills] == ["Analysis", "Audio Visual", "Customer Service", "Networking", "VMware"]
    assert req.years == 5
    assert req.role_years == (("Junior Systems Admin/Engineer", 4.0),
                              ("SOC Security Analyst - SecureWorks Providence", 5.0))
    assert "project" not in " ".join(r.text for r in req.skills).lower()  # the Responsibilities section is not a requirement


def test_rjdb_near_miss_loses_skills_and_role_years():
    req = jd_requirements(RJDB_JD)
    pos, neg = features(req, RJDB_MATCHED, TODAY), features(req, RJDB_UNMATCHED, TODAY)
    assert pos[F["must_skill_share"]] == 1.0 and neg[F["must_skill_share"]] == pytest.approx(3 / 5)
    assert pos[F["years_cv"]] == pytest.approx(0.9)  # 2014 - 2023, the two roles touch at 2019
    assert neg[F["years_cv"]] == pytest.approx(0.7)
    assert pos[F["role_years_shortfall"]] == 0.0
    assert neg[F["role_years_shortfall"]] == pytest.approx((2 / 4 + 0) / 2)  # 2 of the 4 years as Junior Sys Admin
    assert neg[F["key_term_coverage"]] < pos[F["key_term_coverage"]]


def test_livecareer_ranges_across_lines_with_current_and_month_names():
    roles = dated_roles(LIVECAREER, TODAY)
    spans = [bound for s, e, _ in roles for bound in (s, e)]  # flat: pytest.approx (9+) takes no nested tuples
    assert spans == pytest.approx([
        2012 + 7 / 12, 2026 + 10 / 12, 2009 + 10 / 12, 2010 + 9 / 12, 2014 + 7 / 12, 2026 + 10 / 12])
    assert "Staff Accountant" in roles[0][2] and "Accountant III" in roles[1][2] and "Substitute Teacher" in roles[2][2]
    # the two current roles overlap from 2014: counted once
    assert merged_years([(s, e) for s, e, _ in roles]) == pytest.approx((2026 + 10 / 12 - 2012 - 7 / 12) + 11 / 12)


def test_present_is_today():
    roles = dated_roles("Data Analyst, Jan 2020 - Present", date(2024, 1, 15))
    assert roles[0][:2] == (2020.0, 2024.0)
    assert dated_roles("Data Analyst, Jan 2020 - Present", date(2025, 1, 15))[0][1] == 2025.0


def test_overlapping_and_nested_roles_count_once():
    assert merged_years([(2010, 2015), (2012, 2014), (2014, 2016), (2018, 2019)]) == 7
    assert merged_years([]) == 0


def test_role_years_count_only_matching_roles():
    jd = "Requirements:\n- 3 years of experience as a Staff Accountant\n- Bachelor's degree in Accounting"
    req = jd_requirements(jd)
    assert req.role_years == (("Staff Accountant", 3.0),) and req.degree == 2
    teacher = "Substitute Teacher\nAug 2014\nto\nCurrent\nCompany Name\nMaster of Arts in Education"
    f = features(req, teacher, TODAY)
    assert f[F["role_years_shortfall"]] == 1.0  # 12 years, none of them as a Staff Accountant
    assert f[F["years_shortfall"]] == 0.0 and f[F["degree_gap"]] == 0.0
    f = features(req, LIVECAREER, TODAY)
    assert f[F["role_years_shortfall"]] == 0.0


def test_degrees_and_certifications():
    assert [degree_level(t) for t in ("PhD in Physics", "Master's degree", "MBA", "B.S. in Biology",
                                      "Associate's degree", "High school diploma")] == [4, 3, 3, 2, 1, 0]
    jd = ("Qualifications:\n- Master's degree in Finance required\n- CPA certification\n"
          "- Proficiency in Excel")
    req = jd_requirements(jd)
    assert req.degree == 3 and len(req.certs) == 1 and [r.name for r in req.skills] == ["Excel"]
    f = features(req, LIVECAREER, TODAY)  # a bachelor's, no CPA, no Excel named
    assert f[F["degree_gap"]] == 1.0 and f[F["cert_share"]] == 0.0 and f[F["must_skill_share"]] == 0.0
    f = features(req, "MBA, Finance. Certified Public Accountant (CPA). Advanced Excel.", TODAY)
    assert f[F["degree_gap"]] == 0.0 and f[F["cert_share"]] == 1.0 and f[F["must_skill_share"]] == 1.0


def test_abbreviations_count_as_the_skill():
    req = jd_requirements("Required Skills:\n- Machine Learning\n- Natural Language Processing")
    f = features(req, "Built ML models and NLP pipelines (2019 - 2022)", TODAY)
    assert f[F["must_skill_share"]] == 1.0
    assert features(req, "Built dashboards (2019 - 2022)", TODAY)[F["must_skill_share"]] == 0.0


def test_record_fields_come_before_the_text_and_auto_mode():
    rec = {"id": "jd-1", "text": "We need 10 years as a pilot.", "must": ["Python", "5+ years of SQL"]}
    req = jd_requirements(rec)
    assert [r.name for r in req.skills] == ["Python"] and req.years == 5
    x = requirement_features([rec, rec], ["Python and SQL since 2020 - 2026", "Java"], TODAY)
    assert x.shape == (2, len(FEATURES)) and x[0, F["must_skill_share"]] == 1.0 and x[1, F["must_skill_share"]] == 0
    assert choose_features([rec], "auto")[0] is True
    assert choose_features(["We are a friendly team."], "auto")[0] is False
    assert choose_features([rec], "none")[0] is False
    empty = features(jd_requirements("We are a friendly team."), "anything", TODAY)
    assert empty[F["has_requirements"]] == 0 and np.isfinite(empty).all()
