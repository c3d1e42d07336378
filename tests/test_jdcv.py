import pytest
from typer.testing import CliRunner

from mira.cli import app
from mira.cli.demo import import_samples
from synth.store import DatasetStore
from synth.stages.deceptions import check_deception, looks_like_cv
from tests.llm_server import render_fields
from tests.scripted_jdcv import answer

cli = CliRunner()


def mira(*args):
    return cli.invoke(app, [str(a) for a in args], catch_exceptions=False)


def cv(text="", exp=(), skills=(), claimed="", written=None):
    """A generator's answer: the fields, and a CV text written from them (or `written`, a text that says something
    else than the fields)."""
    roles = "\n".join(f"{t}, Company A, {a}-{b}\n{d}" for t, a, b, d in exp)
    body = written if written is not None else (f"Summary\n{text}\nExperience\n{roles}\nEducation\nBSc, 2010\n"
                                                f"Skills\n{', '.join(skills)}\n")
    return {"cv": body, "experience": [dict(title=t, employer="Company A", start_year=a, end_year=b, description=d)
                                       for t, a, b, d in exp], "skills": list(skills), "claimed_title": claimed}


CASES = {
    "skill_stuffing": (cv(exp=[("Analyst", 2018, 2024, "Built SQL reports")], skills=["SQL", "Spark", "Kafka", "Go"]),
                       cv(exp=[("Analyst", 2018, 2024, "Built SQL reports with Spark")], skills=["SQL", "Spark"])),
    "title_inflation": (cv(exp=[("Senior Engineer", 2023, 2024, "coding")]),
                        cv(exp=[("Senior Engineer", 2012, 2024, "coding")])),
    "contractor_intern_confusion": (cv(exp=[("Data Scientist (contract)", 2023, 2024, "models")]),
                                    cv(exp=[("Data Scientist", 2019, 2024, "models")])),
    "career_pivot": (cv(exp=[("Data Engineer", 2015, 2020, "pipelines"), ("Pastry Chef", 2020, 2024, "bread")],
                        skills=["Spark", "Airflow", "data pipelines"]),
                     cv(exp=[("Data Engineer", 2015, 2024, "pipelines")], skills=["Spark", "Airflow", "data"])),
    "influencer_noise": (cv("I write a blog and a newsletter, host a podcast and give talks.",
                            exp=[("Evangelist", 2019, 2024, "community")]),
                         cv("Built and shipped pipelines.", exp=[("Engineer", 2019, 2024, "built and deployed ETL")])),
    "ambiguity": (cv("Involved in projects, exposure to Python, familiar with SQL.", exp=[("Analyst", 2019, 2024, "")]),
                  cv("Cut costs 30% and built 4 dashboards; familiar with SQL.", exp=[("Analyst", 2019, 2024, "")])),
}


@pytest.mark.parametrize("tag", sorted(CASES))
def test_deception_checks_on_hand_made_cvs(tag):
    good, bad = CASES[tag]
    assert check_deception(tag, good, "Data Engineer") is None
    assert check_deception(tag, bad, "Data Engineer") is not None


STUFFED = cv(exp=[("Analyst", 2018, 2024, "Built SQL reports")], skills=["SQL", "Spark", "Kafka", "Go"])


def test_deception_claimed_in_the_fields_but_absent_from_the_text_is_rejected():
    # the fields claim four listed skills and a short senior role; the text the generator wrote says otherwise
    honest_text = ("Summary\nAnalyst.\nExperience\nAnalyst, Company A, 2018-2024\nBuilt SQL reports with Spark, "
                   "Kafka and Go\nSkills\nSQL, Spark, Kafka, Go\n")
    assert "at least 3 skills" in check_deception("skill_stuffing", {**STUFFED, "cv": honest_text}, "Data Engineer")
    no_skills = cv(exp=[("Analyst", 2018, 2024, "Built SQL reports")], skills=["SQL", "Spark", "Kafka", "Go"],
                   written="Summary\nAnalyst\nExperience\nAnalyst, Company A, 2018-2024\nBuilt SQL reports\n")
    assert check_deception("skill_stuffing", no_skills, "Data Engineer").startswith("listed skills not in the CV")
    inflated = cv(exp=[("Senior Engineer", 2023, 2024, "coding")],
                  written="Summary\nEngineer\nExperience\nEngineer, Company A, 2012-2024\ncoding\nSkills\nGo\n")
    assert "is not in the CV text with its years" in check_deception("title_inflation", inflated, "Engineer")
    wrong_years = cv(exp=[("Senior Engineer", 2023, 2024, "coding")],
                     written="Summary\nx\nExperience\nSenior Engineer, Company A, 2012-2024\ncoding\n")
    assert "is not in the CV text with its years" in check_deception("title_inflation", wrong_years, "Engineer")
    claimed = {**CASES["title_inflation"][0], "claimed_title": "Head of Engineering"}
    assert "claimed title" in check_deception("title_inflation", claimed, "Engineer")


def test_looks_like_cv():
    body = "Summary\n" + "word " * 70 + "\nExperience\nAnalyst, Company A, 2019-2024\nSkills\nSQL"
    assert looks_like_cv(body) is None
    assert "sections" in looks_like_cv("word " * 80)
    assert "contact" in looks_like_cv(body + "\njane@example.com")


@pytest.fixture
def sample(home):
    import_samples(DatasetStore())


def test_synth_jdcv_end_to_end(sample, llm_server, store):
    llm_server.add("", fn=answer)
    r = mira("synth", "jdcv", "--jds", "sample-jd", "--cvs", "sample-cv", "--name", "t", "--generator", "both",
             "--per-jd", 2, "--limit", 6, "--lm", "openai/gpt-4o-mini", "--api-base", llm_server.url)
    assert r.exit_code == 0, r.output
    v = store.resolve("t")
    recs = v.records()  # schema-validated on read
    types = {x["negative_type"] for x in recs}
    assert {"screening", "real_unrelated"} <= types and types & {"title_inflation", "skill_stuffing", "ambiguity"}
    for name, c in v.manifest["stages"].items():
        assert c["in"] == c["kept"] + sum(c["rejected"].values()) + c["duplicates"], name
    assert sum(v.manifest["balance"]["negative_type"].values()) == v.count
    real = [x for x in recs if x["generator"] == "real"]
    assert real and all(x["lineage"]["source_ids"][1].startswith("cv-") for x in real)
    # one example CV was shown to each balanced call, fenced as data
    assert all("<<<EXAMPLE_CV" in r["messages"][-1]["content"] for r in llm_server.state.requests[:3])


def test_verify_with_judge_drops_a_negative_rated_positive(sample, llm_server, store):
    """The judge's requirements come from the stage-1 extract of each JD; its verdicts are the cooperative ones
    (checked against the CV text), and its scores rate the title-inflation CV high: that negative is dropped."""
    from tests import scripted_judge

    def judge(messages):
        fields = scripted_judge.cooperative_fields(messages)
        high = "(title_inflation)" in messages[-1]["content"]
        fields["scores"] = {d: {"score": 95 if high else 30, "rationale": "x"} for d in fields["scores"]}
        return render_fields(fields)

    llm_server.add("conservative structured anchor", fn=scripted_judge.extract_answer)
    llm_server.add("careful technical recruiter", fn=judge)
    llm_server.add("", fn=answer)
    r = mira("synth", "jdcv", "--jds", "sample-jd", "--name", "v", "--generator", "hardneg", "--per-jd", 2,
             "--limit", 2, "--verify-with-judge", "--lm", "openai/gpt-4o-mini", "--api-base", llm_server.url)
    assert r.exit_code == 0, r.output
    v = store.resolve("v")
    assert all(x["negative_type"] != "title_inflation" for x in v.iter_records())
    dropped = [x for x in v.iter_rejects() if x["stage"] == "judge-verify"]
    rated = [x for x in dropped if "rated positive" in x["reason"]]
    assert rated  # the title-inflation negatives of the JD with checkable requirements
    # the other JD's requirement sentences are too long for the scripted extract: its negatives are unscored, not kept
    assert all("unscored" in x["reason"] for x in dropped if x not in rated)
    assert v.manifest["stages"]["hardneg:title_inflation"]["rejected"]
