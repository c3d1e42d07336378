"""#33, the first hour with Mira: the CLI and import rows (2, 4-6, 11, 12, 14-20), each run as a user runs it: `mira`
in a subprocess with its exit code and stderr."""

from __future__ import annotations

import hashlib
import re

import pytest

from synth import __version__
from synth.importer import import_file
from synth.store import DatasetStore, code_version
from tests.first_hour import SAMPLES, mira, mira_patched, one_error_line, table_value

ROWS = "title,description\nIngénieur logiciel,Développeur café à Montréal: Python, SQL and five years of work\n" \
       "Chef pâtissier,Crème brûlée and mille-feuille for a small hotel kitchen\n"


def _texts(store: DatasetStore, name: str) -> list[str]:
    return [r["text"] for r in store.resolve(name).records()]


# -- row 2: a read-only home ------------------------------------------------------------------------------------
READ_ONLY = """
import errno, os
HOME = os.environ["MIRA_HOME"]
def _refuse(real):
    def f(path, *a, **k):
        if os.fspath(path).startswith(HOME) and (real is not os.open or a and a[0] & (os.O_WRONLY | os.O_RDWR)):
            raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))
        return real(path, *a, **k)
    return f
os.mkdir, os.open = _refuse(os.mkdir), _refuse(os.open)
"""


def test_row2_read_only_home_is_one_line_naming_home(home):
    r = mira_patched(home, READ_ONLY, "data", "import", "jd", SAMPLES / "monster_jds_sample.csv", "--preset",
                     "monster", "--name", "jobs")
    assert r.returncode == 1
    line = one_error_line(r)
    assert "not writable" in line and "--home" in line and str(home) in line


# -- rows 4, 5, 6: encodings and empty files -------------------------------------------------------------------
def test_row4_latin1_csv_names_the_encoding_and_the_flag_works(home, tmp_path, store):
    f = tmp_path / "latin.csv"
    f.write_bytes(ROWS.encode("latin-1"))
    r = mira(home, "data", "import", "jd", f, "--name", "lat")
    assert r.returncode == 1
    line = one_error_line(r)
    assert f"{f} is not UTF-8 text: 2 of 2 rows have bytes that are not" in line and "--encoding cp1252" in line
    assert store.names() == []  # no 0-record version
    ok = mira(home, "data", "import", "jd", f, "--name", "lat", "--encoding", "latin-1")
    assert ok.returncode == 0, ok.stderr
    assert any("Montréal" in t for t in _texts(store, "lat")) and store.resolve("lat").count == 2


@pytest.mark.parametrize("codec", ["utf-16", "utf-8-sig", "utf-32"])
def test_row5_byte_order_mark_picks_the_encoding(home, tmp_path, store, codec):
    f = tmp_path / f"{codec}.csv"
    f.write_bytes(ROWS.encode(codec))
    r = mira(home, "data", "import", "jd", f, "--name", "bom")
    assert r.returncode == 0, r.stderr
    recs = store.resolve("bom").records()
    assert sorted(x["text"][:9] for x in recs) == ["Crème brû", "Développe"]
    assert store.resolve("bom").manifest["params"]["encoding"] == codec.replace("-sig", "")


def test_row4_a_few_bad_rows_are_rejects_and_the_cli_names_the_flag(home, tmp_path, store):
    f = tmp_path / "mixed.csv"
    f.write_bytes("title,description\nA,plain text for a filing clerk\nB,Café manager\n".encode("latin-1"))
    r = mira(home, "data", "import", "jd", f, "--name", "mixed")
    assert r.returncode == 0, r.stderr
    assert store.resolve("mixed").count == 1
    assert re.search(r"1 rows have bytes that are not valid in the file's encoding: .* import it again with "
                     r"--encoding \S+\.", r.stdout.replace("\n", " "))


def test_row4_bad_bytes_far_into_the_file_are_rejects_that_name_the_flag(store, tmp_path):
    f = tmp_path / "late.csv"
    f.write_bytes(("title,description\n" + "Clerk,plain ascii text for a filing clerk role\n" * 3000).encode()
                  + "Chef,Crème brûlée\n".encode("latin-1"))
    rep = import_file(store, "jd", f, "late")
    assert rep.imported == 1 and sum(rep.rejected.values()) == 1  # 3000 duplicates + one undecodable row
    (rej,) = [r for r in rep.versions[0].iter_rejects() if r["stage"] == "import"]
    assert "--encoding" in rej["reason"] and rej["where"] == "late.csv:3002"


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_row6_empty_json_and_jsonl_say_the_file_is_empty(home, tmp_path, content, suffix):
    f = tmp_path / f"empty{suffix}"
    f.write_text(content)
    r = mira(home, "data", "import", "jd", f, "--name", "e")
    assert r.returncode == 1
    assert one_error_line(r) == f"Error: Cannot read {f}: the file is empty."


# -- row 11: advice that fits eval ------------------------------------------------------------------------------
def test_row11_eval_missing_model_advice_names_evals_own_flags(home, store):
    import_file(store, "pool", SAMPLES / "rjdb_pairs_sample.jsonl", "rjdb", preset="rjdb")
    r = mira(home, "eval", "local", "--pool", "rjdb", "--model", "/nonexistent")
    assert r.returncode == 1
    line = one_error_line(r)
    assert "--base" not in line and "--model" in line and "'zero-shot'" in line and "/nonexistent" in line


# -- row 12: K over the candidates ------------------------------------------------------------------------------
@pytest.mark.slow
def test_row12_eval_local_warns_when_k_exceeds_the_shortlist(home, store):
    import_file(store, "pool", SAMPLES / "rjdb_pairs_sample.jsonl", "rjdb", preset="rjdb")
    r = mira(home, "eval", "local", "--pool", "rjdb", "--model", "zero-shot", "--k", "1,2,5", timeout=600)
    assert r.returncode == 0, r.stderr
    assert "Warning: K = 5 exceed the largest shortlist (2 candidates per JD)" in r.stderr
    assert "K = 1" not in r.stderr and "2, 5" not in r.stderr


def test_row12_warning_counts_candidates_and_corpus(store, capsys):
    from mira.cli.eval_cmd import warn_large_k

    import_file(store, "pool", SAMPLES / "rjdb_pairs_sample.jsonl", "rjdb", preset="rjdb")
    assert warn_large_k(store, "rjdb", [1, 2, 3, 10]) == [3, 10]
    assert warn_large_k(store, "rjdb", [50, 100, 200], corpus_size=90) == [100, 200]
    assert "the corpus (90 CVs)" in capsys.readouterr().err


# -- row 14: the import examples from a clone -------------------------------------------------------------------
def test_row14_sample_imports_work_from_a_clone(home, store):
    for args, name, count in ((("jd", "monster_jds_sample.csv", "monster"), "jobs", 40),
                              (("cv", "livecareer_cvs_sample.csv", "livecareer"), "cvs", 50),
                              (("pool", "rjdb_pairs_sample.jsonl", "rjdb"), "rjdb", 50)):
        kind, file, preset = args
        r = mira(home, "data", "import", kind, f"datasets/_raw/{file}", "--preset", preset, "--name", name)
        assert r.returncode == 0, r.stderr
        assert store.resolve(name).count == count


def test_row14_missing_real_data_explains_mira_data(home, tmp_path):
    r = mira(home, "data", "import", "pool", "../shared/data/pairs/rjdb/rjdb_dev.jsonl", "--preset", "rjdb",
             "--name", "rjdb", cwd=tmp_path, MIRA_DATA=str(tmp_path / "nowhere"))  # a clone without ../shared
    assert r.returncode == 1
    line = one_error_line(r)
    assert "$MIRA_DATA" in line and str(tmp_path / "nowhere") in line and "datasets/_raw" in line


# -- row 15: --version ------------------------------------------------------------------------------------------
def test_row15_version_prints_package_and_code_version(home):
    r = mira(home, "--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"mira {__version__} (code version {code_version()}, as dataset manifests record it)"


# -- row 16: help shows flags bare and lists choices ------------------------------------------------------------
@pytest.mark.parametrize("cmd", [("data", "import"), ("synth", "jd"), ("judge", "pool"), ()])
def test_row16_help_shows_flags_without_a_type(home, cmd):
    r = mira(home, *cmd, "--help", COLUMNS="160")
    assert r.returncode == 0, r.stderr
    assert "<bool>" not in r.stdout
    assert re.search(r"--help\s+Show this message", r.stdout)


def test_row16_help_lists_choices(home):
    r = mira(home, "data", "import", "--help", COLUMNS="160")
    assert "<jd|cv|pool>" in r.stdout
    assert "<jsonl|parquet|hf>" in mira(home, "data", "export", "--help", COLUMNS="160").stdout
    bad = mira(home, "data", "import", "job", SAMPLES / "monster_jds_sample.csv", "--name", "x", COLUMNS="160")
    assert bad.returncode == 2 and "'job' is not one of 'jd', 'cv', 'pool'" in bad.stderr


# -- row 17: a huge single-field text (the 50 MB case is measured in the report, not in a test) ---------------------
def test_row17_long_field_reject_keeps_start_size_and_hash(home, tmp_path, store):
    text = ("engineer python data " * 14_000).strip()  # 294k characters: over --max-chars, under the field limit
    f = tmp_path / "long.csv"
    f.write_text(f'text\n"{text}"\n')
    r = mira(home, "data", "import", "jd", f, "--name", "long", "--max-chars", "100000")
    assert r.returncode == 0, r.stderr
    v = store.resolve("long")
    (rej,) = list(v.iter_rejects())
    assert rej["reason"].startswith("text over 100000 characters") and rej["where"] == "long.csv:2"
    raw = rej["raw"]["text"]
    assert raw["chars"] == len(text) and raw["bytes"] == len(text.encode())
    assert raw["sha256"] == hashlib.sha256(text.encode()).hexdigest() and text.startswith(raw["start"])
    assert (v.path / "rejects.jsonl").stat().st_size < 10_000


def test_row17_huge_field_is_read_past_and_the_rows_after_it_import(home, tmp_path, store):
    body = "\n".join(["engineer python data, with \"\"quotes\"\" " * 100] * 300)  # 1.2 MB over 300 lines
    row = f'Huge,"{body}"\n'
    ok = "Accountant,Runs the month-end close and reconciles ledgers for a mid-sized firm\n"
    f = tmp_path / "big.csv"
    f.write_text("title,description\n" + ok + row + ok.replace("Accountant", "Clerk").replace("Runs", "Files"))
    r = mira(home, "data", "import", "jd", f, "--name", "big", "--max-chars", "100000")
    assert r.returncode == 0, r.stderr
    v = store.resolve("big")
    assert sorted(x["source"]["line"] for x in v.records()) == [2, 303]
    (rej,) = list(v.iter_rejects())
    assert rej["where"] == "big.csv:3"
    assert rej["reason"] == (f"a field over 400000 characters (the row has {len(row)} characters, sha256 "
                             f"{hashlib.sha256(row.encode()).hexdigest()}); raise --max-chars to keep it")
    assert row.startswith(rej["raw"]["(row as in the file, shortened)"])
    assert (v.path / "rejects.jsonl").stat().st_size < 10_000


# -- row 18: a home that is a file ------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [("data", "show", "google"), ("data", "list"),
                                  ("data", "import", "jd", SAMPLES / "monster_jds_sample.csv", "--name", "x")])
def test_row18_home_that_is_a_file(tmp_path, args):
    f = tmp_path / "afile"
    f.write_text("x")
    r = mira(f, *args)
    assert r.returncode == 1
    assert one_error_line(r) == (f"Error: The Mira home {f} is not a directory (from --home or $MIRA_HOME): point "
                                 "it at a folder.")


# -- row 19: dry run says why items are left out ----------------------------------------------------------------
def test_row19_dry_run_names_the_left_out_jds(home, tmp_path, store):
    long = "We need an experienced accountant to run month-end close, reconcile ledgers, prepare statements " \
           "and budgets, and work with auditors; three years of experience and a degree are required here."
    f = tmp_path / "jds.csv"
    f.write_text(f"title,description\nAccountant,\"{long}\"\nClerk,Short text.\nHelper,Tiny.\n")
    import_file(store, "jd", f, "jds")
    r = mira(home, "synth", "jd", "--jds", "jds", "--name", "x", "--dry-run", "--lm", "openai/m", "--api-base",
             "http://127.0.0.1:9/v1")
    assert r.returncode == 0, r.stderr
    # only the one JD that passes is priced, through every stage: extract, paraphrase, card, 3 boundary, 2 constraint
    assert table_value(r.stdout, "items") == 1 + 1 + 1 + 3 + 2
    assert "2 of 3 JDs are left out before any call (a real run keeps them in the rejects): 2 JD too short " \
           "(under 25 words)" in r.stdout


# -- row 20: data show previews title and text first ------------------------------------------------------------
def test_row20_show_preview_starts_with_title_and_text(home, store):
    import_file(store, "jd", SAMPLES / "monster_jds_sample.csv", "jobs", preset="monster")
    first = next(store.resolve("jobs").iter_records())
    r = mira(home, "data", "show", "jobs", "-n", "1")
    assert r.returncode == 0, r.stderr
    out = r.stdout[r.stdout.index("first 1 records"):]
    title_at, text_at = out.index(first["title"]), out.index(first["text"][:30])
    assert title_at < text_at < out.index('"company"')
    assert '"meta"' not in out and '"source"' not in out


def test_row16_bool_flags_still_parse(home, store):
    """The help change touches no parsing: --no-redact / --dry-run style flags still work."""
    import_file(store, "jd", SAMPLES / "monster_jds_sample.csv", "jobs", preset="monster")
    r = mira(home, "synth", "jd", "--jds", "jobs", "--name", "x", "--dry-run", "--limit", "2", "--lm",
             "openai/m", "--api-base", "http://127.0.0.1:9/v1", "--no-cache")
    assert r.returncode == 0, r.stderr
    assert table_value(r.stdout, "items") == 2 * (1 + 1 + 1 + 3 + 2)  # --limit 2 read: 2 JDs through five stages
