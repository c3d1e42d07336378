"""Each stage's script check on hand-made good and bad outputs (no LLM involved)."""

import pytest

from synth.dedup import MinHasher, MinHashParams
from synth.runner import FinalReject, Task
from synth.stages import boundary, card, constraint, extract, paraphrase
from synth.stages.common import grounded, render_card, same_title

JD = {"id": "jd-00000000000000aa", "title": "Senior Data Engineer",
      "text": "Senior Data Engineer\nWe need 5+ years of Python and SQL. Bachelor's degree required. "
              "Own the data platform roadmap and lead two engineers. Spark a plus. Remote in the US."}
MUST = [{"field": "years_experience", "value": "5+ years", "evidence": "5+ years of Python"},
        {"field": "degree", "value": "Bachelor's degree", "evidence": "Bachelor's degree required"},
        {"field": "location", "value": "Remote in the US", "evidence": "Remote in the US"}]
ANCHOR_FIELDS = dict(title="Senior Data Engineer", job_family="data", seniority="senior", scope_level="owns",
                     responsibilities=["own the data platform roadmap", "lead two engineers"],
                     skills=["Python", "SQL"], must=MUST, preferred=[], summary="Owns the platform.")
ANCHOR = {"id": "jd_anchor-00000000000000aa", "kind": "jd_anchor", "jd_id": JD["id"], **ANCHOR_FIELDS,
          "card": render_card(**ANCHOR_FIELDS)}


def t(meta, inputs=None):
    return Task("k", inputs or {}, meta=meta)


def test_grounding_and_titles():
    assert grounded("Python", JD["text"]) and grounded("SQL", JD["text"]) and not grounded("Kubernetes", JD["text"])
    assert not grounded("R", JD["text"])  # short items need a whole-word match
    assert same_title("Sr. Data Eng", "Senior Data Engineer") and not same_title("Data Analyst", "Data Engineer")


def test_extract_check_and_grounding():
    good = {"is_job_description": True, "language": "en", "title": "Senior Data Engineer"}
    assert extract.check(t({}), good) is None
    assert isinstance(extract.check(t({}), {**good, "is_job_description": False}), FinalReject)
    assert "unsupported language" in extract.check(t({}), {**good, "language": "de"})
    assert extract.check(t({}), {**good, "title": " "}).startswith("no title")
    out = {**good, "job_family": "data", "seniority": "senior", "scope_level": "owns", "summary": "s",
           "responsibilities": ["own the roadmap"], "skills": ["Python", "SQL", "Kubernetes"],
           "must": MUST + [{"field": "certification", "value": "AWS Certified", "evidence": "AWS cert required"}],
           "preferred": [{"field": "skill", "value": "Spark", "evidence": "Spark a plus"}]}
    anchor, why, dropped = extract.build_anchor(JD, out, "p1", "m")
    assert why is None and anchor["skills"] == ["Python", "SQL"]
    assert [c["value"] for c in anchor["must"]] == [c["value"] for c in MUST]
    assert dropped["skills"] == ["Kubernetes"] and dropped["must"][0]["value"] == "AWS Certified"
    assert "Title: Senior Data Engineer" in anchor["card"] and "Must: years_experience: 5+ years" in anchor["card"]
    assert extract.build_anchor(JD, {**out, "title": "Chief Astronaut"}, "p", "m")[1] == "title not found in the JD"


def test_extract_precheck():
    assert extract.precheck({"text": "Cook wanted."}).startswith("JD too short")
    assert "non-Latin" in extract.precheck({"text": "データエンジニア募集 " * 40})
    assert extract.precheck(JD) is None


def test_paraphrase_check():
    h = MinHasher(MinHashParams())
    task = t({"anchor": ANCHOR})
    good = {"title": "Sr. Data Engineer", "text": "Sr. Data Eng wanted: 5+ years with Python/SQL, a Bachelor's "
                                                   "degree, remote in the US, and the drive to run our data stack's roadmap."}
    assert paraphrase.check(task, good, h) is None
    assert paraphrase.check(task, {**good, "title": "Data Analyst"}, h).startswith("title changed")
    assert "missing" in paraphrase.check(task, {**good, "text": "Sr. Data Eng wanted, Python/SQL."}, h)
    copy = {"title": "Senior Data Engineer", "text": ANCHOR["card"]}
    assert paraphrase.check(task, copy, h).startswith("near-copy")


def test_card_check():
    task = t({"anchor": ANCHOR, "raw": JD["text"]})
    good = {"title": "Senior Data Engineer", "must": ["5+ years", "Bachelor's degree", "Remote in the US"],
            "skills": ["Python"], "summary": "Data platform owner."}
    assert card.check(task, good) is None
    assert card.check(task, {**good, "must": ["5+ years"]}).startswith("card lacks must requirements")
    assert card.check(task, {**good, "title": "Engineer"}).startswith("title changed")


def test_boundary_tasks_and_check():
    tasks = boundary.make_tasks(ANCHOR, 3)
    assert [x.inputs["target_scope"] for x in tasks] == ["leads", "contributes", "assists"]
    assert boundary.make_tasks({**ANCHOR, "scope_level": "assists"}, 3) == []
    task = tasks[0]
    good = {"title": "Senior Data Engineer", "scope_level": "contributes", "responsibilities": ["support"],
            "text": "Senior Data Engineer supporting the platform team: 5+ years, Bachelor's degree, Remote in the US."}
    assert boundary.check(task, good) is None
    assert boundary.check(task, {**good, "scope_level": "owns"}).startswith("scope not shallower")
    assert boundary.check(task, {**good, "title": "Junior Data Engineer"}).startswith("title changed")
    assert "must requirements" in boundary.check(task, {**good, "text": "Senior Data Engineer, helps out."})


def test_constraint_tasks_and_check():
    tasks = constraint.make_tasks(ANCHOR, 5)
    assert [x.meta["flip"]["field"] for x in tasks] == ["years_experience", "degree"]  # never location
    task = tasks[0]
    flipped = [dict(MUST[0], value="1 year"), MUST[1], MUST[2]]
    assert constraint.check(task, {"must": flipped, "text": "..."}) is None
    assert constraint.check(task, {"must": MUST, "text": "..."}).startswith("nothing changed")
    two = [dict(MUST[0], value="1 year"), dict(MUST[1], value="PhD"), MUST[2]]
    assert constraint.check(task, {"must": two, "text": "..."}).startswith("expected exactly one changed field")
    loc = [dict(MUST[0], value="1 year"), MUST[1], dict(MUST[2], value="On-site in Paris")]
    assert constraint.check(task, {"must": loc, "text": "..."}).startswith("location changed")
    wrong_field = [MUST[0], dict(MUST[1], value="PhD"), MUST[2]]
    assert "expected exactly one changed field (years_experience)" in constraint.check(
        task, {"must": wrong_field, "text": "..."})


@pytest.mark.parametrize("spec,expected", [("1-5", (1, 2, 3, 4, 5)), ("1", (1,)), ("2-3,5", (2, 3, 5))])
def test_parse_stages(spec, expected):
    from synth.stages.pipeline import parse_stages

    assert parse_stages(spec) == expected


def test_language_claim_is_checked_against_the_text():
    en = t({}, {"jd_text": "We are looking for a nurse to join our team and care for the patients in the ward."})
    de = t({}, {"jd_text": "Wir suchen eine Pflegekraft für unser Team auf der Station, ab sofort in Vollzeit."})
    claim = {"is_job_description": True, "language": "es", "title": "Nurse"}
    assert extract.check(en, claim) is None  # a weak model's wrong claim does not reject an English JD
    assert "unsupported language" in extract.check(de, claim)
