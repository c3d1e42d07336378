"""#26, stages side: one test per attack of a careless or hostile LLM, each answer scripted the way such an LLM writes
it and put through the stage's own check / build (plain functions of (task, output)); each fails on the code before
#26. The cooperative answers in the same tests are still kept."""

from synth.runner import FinalReject, Task
from synth.stages import card, constraint, extract, paraphrase
from synth.stages.common import fence
from synth.stages.deceptions import check_deception
from synth.stages.jdcv import check_balanced

JD = {"id": "jd-00000000000000bb", "title": "Staff Accountant",
      "text": "Staff Accountant\nWe are hiring a Staff Accountant for our finance team. You will prepare monthly "
              "reconciliations and journal entries and work with auditors.\nRequirements:\n"
              "- A minimum of 4 years of accounting experience\n- Bachelor's degree in Accounting\n"
              "- CPA license required\n- AWS certification is not required\nApply today."}
OUT = {"is_job_description": True, "language": "en", "title": "Staff Accountant", "job_family": "accounting",
       "seniority": "unspecified", "scope_level": "contributes", "responsibilities": ["prepare reconciliations"],
       "skills": ["journal entries"], "summary": "An accountant.", "preferred": [],
       "must": [{"field": "years_experience", "value": "4 years",
                 "evidence": "A minimum of 4 years of accounting experience"},
                {"field": "degree", "value": "Bachelor's degree", "evidence": "Bachelor's degree in Accounting"},
                {"field": "certification", "value": "CPA license", "evidence": "CPA license required"}]}


def anchor_of(out=OUT):
    a, why, _ = extract.build_anchor(JD, out, "p", "m")
    assert why is None, why
    return a


def test_claimed_scope_is_overruled_by_the_jds_words():
    a = anchor_of({**OUT, "scope_level": "leads"})  # the JD has no leading or owning word
    assert a["scope_level"] == "contributes" and a["claims"]["scope_level"] == "leads"


def test_empty_must_list_is_completed_from_the_text():
    a = anchor_of({**OUT, "must": []})
    assert [(c["field"], c["value"]) for c in a["must"]] == [("years_experience", "4 years"),
                                                             ("degree", "Bachelor's"),
                                                             ("certification", "CPA")]
    assert len(a["read"]["completed_must"]) == 3 and a["claims"]["must"] == 0


def test_negated_must_is_dropped():
    neg = {"field": "certification", "value": "AWS certification", "evidence": "AWS certification is not required"}
    a, _, dropped = extract.build_anchor(JD, {**OUT, "must": OUT["must"] + [neg]}, "p", "m")
    assert all(c["value"] != "AWS certification" for c in a["must"])
    assert dropped["must"][-1]["why"] == "the JD says it is not required"


def test_german_jd_claimed_english_is_rejected():
    de = ("Wir suchen einen Buchhalter (m/w/d) für unser Team. Sie erstellen Monatsabschlüsse und arbeiten mit "
          "Wirtschaftsprüfern zusammen. Voraussetzungen: mindestens vier Jahre Berufserfahrung, abgeschlossenes "
          "Studium. Bewerben Sie sich jetzt!")
    task = Task("extract:x", {"jd_text": fence(de)})
    why = extract.check(task, {**OUT, "language": "en"})
    assert isinstance(why, FinalReject) and "unsupported language (de" in why
    assert extract.check(Task("extract:y", {"jd_text": fence(JD["text"])}), OUT) is None  # English: kept


def _flip_task(a, idx, to=None):
    flip = a["must"][idx]
    return Task("constraint:x", {}, meta={"anchor": a, "flip": flip, "to": to, "variant": 0, "slot": None})


def test_flip_to_another_must_is_not_a_conflict():
    a = anchor_of()
    task = _flip_task(a, 1)  # the degree, with no code-chosen value: the LLM names the new one
    text = ("Staff Accountant. We are hiring for our finance team: a minimum of 4 years of accounting experience and "
            "a CPA license are required. You will prepare monthly reconciliations, post journal entries and work "
            "closely with the external auditors every quarter.")
    out = {"must": [a["must"][0], {"field": "degree", "value": "CPA license"}, a["must"][2]], "text": text}
    assert "another must requirement of the anchor" in constraint.check(task, out)
    good = {**out, "must": [a["must"][0], {"field": "degree", "value": "high school diploma"}, a["must"][2]],
            "text": text.replace("and a CPA license are", ", a high school diploma and a CPA license are")}
    assert constraint.check(task, good) is None


def test_flipped_years_reworded_as_half_a_decade_is_still_there():
    jd5 = {**JD, "text": JD["text"].replace("4 years", "5 years")}
    out5 = {**OUT, "must": [{"field": "years_experience", "value": "5 years",
                             "evidence": "A minimum of 5 years of accounting experience"}] + OUT["must"][1:]}
    a, _, _ = extract.build_anchor(jd5, out5, "p", "m")
    task = _flip_task(a, 0, to="1 year")
    text = ("Staff Accountant. Requires 1 year; Bachelor's degree; CPA license. Ideally you bring half a decade of "
            "accounting work. You will prepare monthly reconciliations, post journal entries and work closely with "
            "the external auditors every quarter.")
    assert "reworded" in constraint.check(task, {"must": [], "text": text})
    ok = text.replace(" Ideally you bring half a decade of accounting work.", "")
    assert constraint.check(task, {"must": [], "text": ok}) is None


def test_negated_must_in_a_positive_is_rejected():
    a = anchor_of()
    task = Task("paraphrase:x", {"anchor": fence(a["card"], "ANCHOR")}, meta={"anchor": a})
    text = ("Staff Accountant wanted for a finance team: prepare reconciliations, post journal entries, support "
            "audits. You bring 4 years of accounting work and a Bachelor's degree. A CPA license is not required.")
    assert "stated as not required" in paraphrase.check(task, {"title": "Staff Accountant", "text": text})
    kept = text.replace("A CPA license is not required.", "A CPA license is required.")
    assert paraphrase.check(task, {"title": "Staff Accountant", "text": kept}) is None


def test_invented_card_must_is_rejected_and_never_rendered():
    a = anchor_of()
    task = Task("card:x", {}, meta={"anchor": a, "raw": JD["text"]})
    good = {"title": "Staff Accountant", "must": [c["value"] for c in a["must"]], "skills": ["journal entries"],
            "summary": "Prepares reconciliations."}
    assert card.check(task, good) is None
    bad = {**good, "must": good["must"] + ["PhD in physics"]}
    assert "not the anchor's" in card.check(task, bad)
    assert "PhD" not in card.render(task, bad)
    assert "summary states a requirement" in card.check(task, {**good, "summary": "Needs a PhD in physics."})


def test_omitted_long_role_does_not_make_title_inflation():
    """The fields list only a one-year Senior role; the text also holds a 14-year role the fields left out."""
    text = ("Summary\nAccountant.\nExperience\nSenior Accountant, Company A, 2023-2024\nclosing\n"
            "Accountant, Company B, 2009-2023\nledgers and audits\nEducation\nBSc, 2008\nSkills\nExcel\n")
    out = {"cv": text, "skills": ["Excel"], "claimed_title": "",
           "experience": [{"title": "Senior Accountant", "employer": "Company A", "start_year": 2023,
                           "end_year": 2024, "description": "closing"}]}
    why = check_deception("title_inflation", out, "Accountant")
    assert why is not None and "15.0 years" in why
    honest = {**out, "cv": text.replace("Accountant, Company B, 2009-2023\nledgers and audits\n", "")}
    assert check_deception("title_inflation", honest, "Accountant") is None


def test_balanced_unqualified_cv_must_fail_a_must():
    a = anchor_of()
    task = Task("balanced:x", {}, meta={"anchor": a, "title": a["title"], "jd": JD, "variant": 0})

    def qualified(years, degree="Bachelor's degree in Accounting"):
        return (f"Summary\nStaff Accountant with reconciliations and journal entries experience.\nExperience\n"
                f"Staff Accountant, Company A, {2024 - years}-2024\nMonthly reconciliations, journal entries, audits "
                f"and accounting for a regional firm with many clients and a busy finance team. Prepared the quarterly "
                f"close, fixed assets schedules, accruals and bank reconciliations, and helped the controller with "
                f"budgets, variance analysis and the yearly external audit.\nEducation\n{degree}\n"
                f"Skills\nExcel, reconciliations, CPA license\n")

    def other(years, degree, cpa):
        return (f"Profile\nBookkeeper for small shops and a local bakery, paying invoices and keeping the books.\n"
                f"Experience\nBookkeeper, Company C, {2024 - years}-2024\nAccounts payable and receivable, payroll "
                f"runs, filing and vendor calls for three small businesses in town; kept spreadsheets of sales and "
                f"expenses and sent them to the owner each week, reconciled the cash drawer, ordered supplies and "
                f"answered customer questions about bills and refunds at the front desk.\nEducation\n{degree}\n"
                f"Skills\nQuickBooks, invoicing{', CPA license' if cpa else ''}\n")

    check = check_balanced()
    everything = check(task, {"qualified_cv": qualified(6), "unqualified_cv": other(5, "Bachelor's degree in Accounting", True)})
    assert "unqualified_cv meets every must requirement" in everything
    assert check(task, {"qualified_cv": qualified(6), "unqualified_cv": other(2, "High school diploma", False)}) is None
    short = check(task, {"qualified_cv": qualified(2), "unqualified_cv": other(1, "High school diploma", False)})
    assert "does not show the must requirements: 4 years" in short
