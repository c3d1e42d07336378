import csv
import json
import sys

import pytest

from synth.errors import InputError
from synth.importer import import_file
from synth.presets import PRESETS

csv.field_size_limit(sys.maxsize)

REAL = [
    ("jd", "jds/monster_jobs_sample/jobs_sample.csv", "monster"),
    ("jd", "jds/google_job_skills/job_skills.csv", "google"),
    ("jd", "jds/dice_jobs_sample/dice_com-job_us_sample.csv", "dice"),
    ("jd", "jds/glassdoor_ds_jobs/glassdoor_jobs.csv", "glassdoor"),
    ("jd", "jds/panoslin_linkedin_jds/job_descriptions.csv", "panoslin"),
    ("cv", "cvs/livecareer_resumes/livecareer_resumes_from_pdf.csv", "livecareer"),
    ("pool", "pairs/rjdb/rjdb_dev.jsonl", "rjdb"),
]


def rows_in(path):
    if path.suffix == ".jsonl":
        return sum(1 for line in open(path) if line.strip())
    with open(path, newline="", encoding="utf-8") as fh:
        return sum(1 for row in csv.reader(fh) if any(c.strip() for c in row)) - 1


def test_every_preset_has_a_real_file():
    assert {p for _, _, p in REAL} == set(PRESETS)


@pytest.mark.parametrize("kind,rel,preset", REAL, ids=[p for _, _, p in REAL])
def test_preset_imports_real_file_and_counts_add_up(store, real_data, kind, rel, preset):
    path = real_data / rel
    r = import_file(store, kind, path, preset, preset=preset)
    assert r.imported > 0.5 * r.rows
    assert r.imported + r.rejected_total + r.duplicates == r.rows == rows_in(path)
    main = r.versions[-1]
    assert main.count == r.imported
    rejects = list(main.iter_rejects())
    assert len(rejects) == r.rejected_total + r.duplicates
    for rec in main.iter_records():  # validates every record against the schema
        assert rec["source"]["file"] == path.name and rec["source"]["line"] >= 2 - (kind == "pool")


def test_google_qualifications_become_must_and_preferred(store, real_data):
    r = import_file(store, "jd", real_data / "jds/google_job_skills/job_skills.csv", "g", preset="google")
    recs = r.versions[0].records()
    with_must = [x for x in recs if x["must"]]
    assert len(with_must) > 0.9 * len(recs)
    first = recs[0]
    assert first["must"][0].startswith("BA/BS degree") and first["preferred"]
    assert "Minimum qualifications:" in first["text"] and first["title"]


def test_rjdb_pool_positive_and_hard_negative(store, real_data):
    r = import_file(store, "pool", real_data / "pairs/rjdb/rjdb_dev.jsonl", "rjdb", preset="rjdb")
    jd_v, cv_v, pool_v = r.versions
    assert (jd_v.name, cv_v.name, pool_v.name) == ("rjdb-jd", "rjdb-cv", "rjdb")
    assert pool_v.manifest["refs"] == {"jd": jd_v.ref, "cv": cv_v.ref}
    jds, cvs = jd_v.by_id(), cv_v.by_id()
    for p in pool_v.iter_records():
        assert p["jd_id"] in jds and len(p["positive_ids"]) == 1 and len(p["hard_negative_ids"]) == 1
        assert set(p["candidate_ids"]) == set(p["positive_ids"]) | set(p["hard_negative_ids"])
        assert all(c in cvs for c in p["candidate_ids"])
        assert set(p["hard_negative_lost"]) == set(p["hard_negative_ids"])
    lost = [tuple(p["hard_negative_lost"][p["hard_negative_ids"][0]]) for p in pool_v.iter_records()]
    # RJDB's Filtered-information: 499 hard negatives lost skills and an experience entry, 1 only experience
    assert sorted(set(lost)) == [("experience shortened",), ("skill removed", "experience shortened")]
    assert lost.count(("experience shortened",)) == 1
    assert jd_v.records()[0]["title"]


def test_livecareer_drops_exact_duplicates_and_empty(store, real_data):
    r = import_file(store, "cv", real_data / "cvs/livecareer_resumes/livecareer_resumes_from_pdf.csv", "lc",
                    preset="livecareer")
    assert r.duplicates >= 1 and r.rejected["empty text"] == 1


def test_import_twice_same_version(store, real_data):
    path = real_data / "jds/dice_jobs_sample/dice_com-job_us_sample.csv"
    a = import_file(store, "jd", path, "dice", preset="dice").versions[0]
    b = import_file(store, "jd", path, "dice", preset="dice").versions[0]
    assert a.version == b.version and len(list((store.root / "dice").iterdir())) == 1


def test_bad_rows_go_to_rejects_with_line_and_reason(store, tmp_path):
    f = tmp_path / "jobs.csv"
    f.write_bytes(
        b"title;description\n"
        b"Data Scientist;Build models in Python\n"
        b"Empty;   \n"
        b"Short row\n"
        b"Bad bytes;Caf\xe9 manager\n"
        b"Too long;" + b"x" * 500 + b"\n"
        b"\"Multi\nline title\";\"Runs the kitchen;\nhires cooks\"\n"
        b"Data Scientist;Build   models in Python\n")
    r = import_file(store, "jd", f, "jobs", mapping={"description": "text", "title": "title"}, max_chars=300)
    assert (r.rows, r.imported, r.duplicates) == (7, 2, 1)
    assert r.rejected == {"empty text": 1, "missing column 'description'": 1,
                          "undecodable bytes in column 'description'": 1, "text over 300 characters": 1}
    v = r.versions[0]
    where = {x["reason"].split(" (")[0]: x["where"] for x in v.iter_rejects()}
    assert where["empty text"] == "jobs.csv:3"
    assert where["missing column 'description'"] == "jobs.csv:4"
    assert where["undecodable bytes in column 'description'"] == "jobs.csv:5"
    assert where["duplicate"] == "jobs.csv:10"  # the quoted row above spans lines 7-9
    multi = [x for x in v.records() if x["title"].startswith("Multi")][0]
    assert multi["source"]["line"] == 7 and multi["text"] == "Runs the kitchen;\nhires cooks"


def test_jsonl_bad_lines(store, tmp_path):
    f = tmp_path / "cvs.jsonl"
    f.write_text(json.dumps({"resume": "Nurse, 5 years ICU"}) + "\n{not json\n\n" + json.dumps([1]) + "\n"
                 + json.dumps({"other": "x"}) + "\n")
    r = import_file(store, "cv", f, "cvs")
    assert r.imported == 1 and r.rows == 4
    reasons = {x["reason"].split(" (")[0]: x["where"] for x in r.versions[0].iter_rejects()}
    assert reasons == {"unparseable JSON line": "cvs.jsonl:2", "JSON line is not an object": "cvs.jsonl:4",
                       "missing column 'resume'": "cvs.jsonl:5"}


def test_json_file(store, tmp_path):
    f = tmp_path / "jds.json"
    f.write_text(json.dumps({"jobs": [{"Role": "Chef", "Body": "Cook French food"}, {"Role": "x", "Body": ""}]}))
    r = import_file(store, "jd", f, "jds", mapping={"Body": "text", "Role": "title"})
    assert r.imported == 1 and r.versions[0].records()[0]["title"] == "Chef"


@pytest.mark.parametrize("kwargs,needle", [
    ({"preset": "nope"}, "Unknown preset 'nope'"),
    ({"preset": "livecareer"}, "imports cv records"),
    ({"mapping": {"Nope": "text"}}, "unknown column 'Nope'"),
    ({"mapping": {"description": "salary"}}, "unknown field 'salary'"),
])
def test_file_level_errors(store, tmp_path, kwargs, needle):
    f = tmp_path / "jobs.csv"
    f.write_text("title,description\nA,B\n")
    with pytest.raises(InputError) as e:
        import_file(store, "jd", f, "jobs", **kwargs)
    assert needle in str(e.value)


def test_unreadable_files(store, tmp_path):
    with pytest.raises(InputError, match="no such file"):
        import_file(store, "jd", tmp_path / "missing.csv", "x")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        import_file(store, "jd", empty, "x")
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="--map COLUMN=text"):
        import_file(store, "jd", nocol, "x")
