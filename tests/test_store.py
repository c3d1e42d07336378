import json
import os
import signal
import subprocess
import sys
import time

import pytest

from synth.errors import DatasetNotFound, InputError, SchemaError, VersionExists
from synth.records import stable_id


def jd(text, line=1):
    return {"id": stable_id("jd", text), "kind": "jd", "text": text, "source": {"file": "x.csv", "line": line}}


def test_round_trip_and_manifest(store):
    recs = [jd("Data scientist, Python", 2), jd("Nurse, night shifts", 3)]
    v = store.write("jobs", "jd", recs, rejects=[{"reason": "empty text", "where": "x.csv:4"}],
                    manifest={"seed": 3, "parents": ["raw@abc"]})
    assert v.records() == recs
    assert list(v.iter_rejects())[0]["reason"] == "empty text"
    m = v.manifest
    assert (m["name"], m["kind"], m["count"], m["seed"], m["parents"]) == ("jobs", "jd", 2, 3, ["raw@abc"])
    assert m["version"] == v.version and len(v.version) == 12
    for key in ("created_at", "code_version", "command", "schema_version", "prompts", "lm", "stages"):
        assert key in m


def test_same_records_same_version_no_second_directory(store):
    a = store.write("jobs", "jd", [jd("A role")])
    b = store.write("jobs", "jd", [jd("A role")])
    assert a.version == b.version
    assert [p.name for p in (store.root / "jobs").iterdir()] == [a.version]
    c = store.write("jobs", "jd", [jd("A role"), jd("B role")])
    assert c.version != a.version


def test_writing_over_an_existing_version_is_refused(store):
    v = store.write("jobs", "jd", [jd("A role")])
    with pytest.raises(VersionExists):
        store.write("jobs", "jd", [jd("A role")], exist_ok=False)
    assert oct(os.stat(v.records_path).st_mode)[-3:] == "444"


def test_failed_write_leaves_no_version(store):
    with pytest.raises(RuntimeError):
        with store.writer("jobs", "jd") as w:
            w.add(jd("A role"))
            raise RuntimeError("boom")
    assert store.names() == []
    assert not any((store.root / ".tmp").iterdir())


def test_killed_write_leaves_no_version(store, tmp_path):
    script = tmp_path / "slow_writer.py"
    script.write_text(
        "import sys, time\n"
        "from synth.store import DatasetStore\nfrom synth.records import stable_id\n"
        "s = DatasetStore(sys.argv[1])\n"
        "with s.writer('jobs', 'jd') as w:\n"
        "    for i in range(1000):\n"
        "        t = f'role {i}'\n"
        "        w.add({'id': stable_id('jd', t), 'kind': 'jd', 'text': t, 'source': {'file': 'f', 'line': i + 1}})\n"
        "        if i == 5: print('started', flush=True)\n"
        "        time.sleep(0.01)\n"
        "    w.commit()\n")
    proc = subprocess.Popen([sys.executable, str(script), str(store.home)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert store.names() == []
    with pytest.raises(DatasetNotFound):
        store.resolve("jobs")


def test_schema_checked_on_write(store):
    bad = jd("A role")
    bad["source"] = {"file": "x.csv"}
    with pytest.raises(SchemaError) as e:
        store.write("jobs", "jd", [bad])
    assert "source" in str(e.value)
    assert store.names() == []


def test_schema_checked_on_read_names_file_line_field(store):
    v = store.write("jobs", "jd", [jd("A role"), jd("B role")])
    lines = v.records_path.read_text().splitlines()
    broken = json.loads(lines[1])
    broken["text"] = 42
    os.chmod(v.records_path, 0o644)
    v.records_path.write_text(lines[0] + "\n" + json.dumps(broken) + "\n")
    with pytest.raises(SchemaError) as e:
        v.records()
    assert e.value.where.endswith("records.jsonl:2") and e.value.field == "text"


def test_refs_name_latest_prefix(store):
    a = store.write("jobs", "jd", [jd("A role")])
    time.sleep(1.1)  # created_at has one-second resolution
    b = store.write("jobs", "jd", [jd("B role")])
    assert store.resolve("jobs").version == b.version
    assert store.resolve("jobs@latest").version == b.version
    assert store.resolve(f"jobs@{a.version[:5]}").version == a.version
    with pytest.raises(DatasetNotFound):
        store.resolve("jobs@ffffffff")
    with pytest.raises(InputError):
        store.resolve("jobs", kind="cv")


def test_unknown_ref_names_closest(store):
    store.write("google-jds", "jd", [jd("A role")])
    with pytest.raises(DatasetNotFound) as e:
        store.resolve("gogle-jds")
    assert "google-jds" in str(e.value)


def test_invalid_name_refused(store):
    with pytest.raises(InputError):
        store.write("Bad Name", "jd", [jd("A role")])


def test_duplicate_id_in_one_version_refused(store):
    with pytest.raises(SchemaError):
        store.write("jobs", "jd", [jd("A role"), jd("A role")])
