import pytest
from typer.testing import CliRunner

from mira.cli import app
from mira.cli.demo import import_samples
from synth.errors import InputError
from synth.records import stable_id
from synth.split import split_version


def jd(i, company, category):
    text = f"Job {i} at {company}: {category} role"
    return {"id": stable_id("jd", text), "kind": "jd", "text": text, "company": company, "category": category,
            "source": {"file": "f", "line": i + 1}}


@pytest.mark.parametrize("by", ["jd", "jd_family", "employer"])
def test_no_group_in_two_splits(store, by):
    recs = [jd(i, f"Company {i % 7}", f"family {i % 5}") for i in range(70)]
    v = store.write("jobs", "jd", recs)
    parts = split_version(store, v.ref, by, (0.6, 0.2, 0.2), seed=3)
    # the groups read from the records' own fields, not with the key that built the split
    field = {"jd": "id", "jd_family": "category", "employer": "company"}[by]
    values = [{r[field] for r in p.iter_records()} for p in parts]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not values[i] & values[j], f"{by} {values[i] & values[j]} in two splits"
    assert [p.manifest["split"]["groups"] for p in parts] == [len(x) for x in values]
    n_groups = {"jd": 70, "jd_family": 5, "employer": 7}[by]
    assert sum(len(x) for x in values) == n_groups and all(values)  # every split gets whole groups, none empty
    assert {r["id"] for p in parts for r in p.iter_records()} == {r["id"] for r in recs}
    assert all(p.manifest["split"]["by"] == by and p.manifest["seed"] == 3 for p in parts)
    again = split_version(store, v.ref, by, (0.6, 0.2, 0.2), seed=3)
    assert [p.version for p in again] == [p.version for p in parts]  # seeded: same versions


def test_pool_split_by_jd_cli(store):
    import_samples(store)
    r = CliRunner().invoke(app, ["data", "split", "sample-rjdb", "--ratios", "0.8,0.2", "--seed", "1"])
    assert r.exit_code == 0, r.output
    tr, va = store.resolve("sample-rjdb-train"), store.resolve("sample-rjdb-val")
    assert tr.count == 40 and va.count == 10
    assert not ({x["jd_id"] for x in tr.iter_records()} & {x["jd_id"] for x in va.iter_records()})
    assert tr.manifest["refs"] == store.resolve("sample-rjdb").manifest["refs"]


def test_bad_ratios(store):
    v = store.write("jobs", "jd", [jd(1, "A", "x")])
    with pytest.raises(InputError):
        split_version(store, v.ref, "jd", (0.5, 0.2))
