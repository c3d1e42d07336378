import csv
import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mira.cli import app
from synth.paths import SAMPLES_DIR

runner = CliRunner()


def mira(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def imported(home):
    r = mira("data", "import", "jd", SAMPLES_DIR / "monster_jds_sample.csv", "--preset", "monster",
             "--name", "jobs", "--home", home)
    assert r.exit_code == 0, r.output
    return r


def test_import_prints_summary_and_writes_version(imported, store):
    assert "imported" in imported.output and "rows read" in imported.output
    v = store.resolve("jobs")
    assert v.count == 40 and v.kind == "jd"


def test_list_show_diff(imported, home, tmp_path, store):
    r = mira("data", "list")
    assert r.exit_code == 0 and "jobs" in r.output
    r = mira("data", "show", "jobs", "-n", "1")
    assert r.exit_code == 0 and "per-stage counts" in r.output and "import" in r.output
    # a second version with 5 fewer rows
    small = tmp_path / "small.jsonl"
    rows = list(csv.DictReader(open(SAMPLES_DIR / "monster_jds_sample.csv", newline="")))[:35]
    small.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = mira("data", "import", "jd", small, "--preset", "monster", "--name", "jobs")
    assert r.exit_code == 0, r.output
    old = sorted(store.versions("jobs"), key=lambda v: v.count)
    r = mira("data", "diff", old[1].ref, old[0].ref)
    assert r.exit_code == 0, r.output
    assert "removed" in r.output and "(-5)" in r.output


def test_unknown_ref_exits_1_with_suggestion(imported):
    r = mira("data", "show", "jbos")
    assert r.exit_code == 1
    assert "jobs" in r.output and "No dataset matches" in r.output


def test_unknown_preset_and_bad_map_exit_1(home):
    f = SAMPLES_DIR / "monster_jds_sample.csv"
    r = mira("data", "import", "jd", f, "--preset", "nope", "--name", "x")
    assert r.exit_code == 1 and "Unknown preset" in r.output
    r = mira("data", "import", "jd", f, "--map", "Nope=text", "--name", "x")
    assert r.exit_code == 1 and "unknown column 'Nope'" in r.output
    r = mira("data", "import", "jd", "/does/not/exist.csv", "--name", "x")
    assert r.exit_code == 1 and "no such file" in r.output


def test_usage_error_exits_2(home):
    assert mira("data", "import", "jd").exit_code == 2


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "hf"])
def test_export(imported, tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    r = mira("data", "export", "jobs", "--format", fmt, "--out", out)
    assert r.exit_code == 0, r.output
    if fmt == "jsonl":
        rows = [json.loads(x) for x in out.read_text().splitlines()]
    elif fmt == "parquet":
        rows = pq.read_table(out).to_pylist()
    else:
        from datasets import load_from_disk
        rows = list(load_from_disk(str(out)))
    assert len(rows) == 40 and all(r["text"] for r in rows)


def test_demo_end_to_end_with_a_scripted_endpoint(home, store, llm_server):
    from tests.scripted import answer

    llm_server.add("", fn=answer)
    args = ["demo", "--lm", "openai/gpt-4o-mini", "--api-base", llm_server.url, "--no-train", "--jds", 2]
    r = mira(*args)
    assert r.exit_code == 0, r.output
    assert {"sample-jd", "sample-cv", "sample-rjdb", "demo-jd-anchors", "demo-jd-pairs", "demo-jdcv",
            "demo-judgments"} <= set(store.names())
    assert store.resolve("demo-judgments").count == 2 and "done" in r.stdout
    made = r.stdout[r.stdout.index("what you made"):]
    kept_boundary = [p for p in store.resolve("demo-jd-pairs").records() if p["type"] == "boundary"]
    import re

    row = re.search(r"│ boundary\s+│ (\d+)\s+│", made)
    assert kept_boundary and row and int(row.group(1)) == len(kept_boundary)
    calls = llm_server.calls
    assert mira(*args).exit_code == 0 and llm_server.calls == calls  # a re-run is answered from the cache
