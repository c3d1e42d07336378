"""Where prompts come from: --prompts / $MIRA_PROMPTS, then <home>/prompts, then the bundled copy; file by file."""

import pytest

from judge.rubric import load_rubric
from synth.errors import InputError
from synth.paths import BUNDLED_PROMPTS
from synth.prompts import load_prompt


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv("MIRA_PROMPTS", raising=False)
    monkeypatch.setenv("MIRA_HOME", str(tmp_path / "home"))
    return tmp_path


def test_bundled_by_default(clean_env):
    p = load_prompt("jd/boundary")
    assert p.path == BUNDLED_PROMPTS / "jd" / "boundary.md"


def test_user_folder_overrides_only_its_files(clean_env, monkeypatch):
    mine = clean_env / "mine"
    (mine / "jd").mkdir(parents=True)
    (mine / "jd" / "boundary.md").write_text("My boundary instructions.")
    monkeypatch.setenv("MIRA_PROMPTS", str(mine))
    bundled_hash = load_prompt("jd/boundary", root=BUNDLED_PROMPTS).hash
    p = load_prompt("jd/boundary")
    assert p.path == mine / "jd" / "boundary.md" and p.text == "My boundary instructions." and p.hash != bundled_hash
    assert load_prompt("jd/extract").path == BUNDLED_PROMPTS / "jd" / "extract.md"  # not overridden: bundled
    assert load_rubric().threshold == 75  # the rubric too, file by file


def test_home_prompts_come_before_the_bundled_and_after_the_user_folder(clean_env, monkeypatch):
    home = clean_env / "home" / "prompts" / "jd"
    home.mkdir(parents=True)
    (home / "card.md").write_text("Home card.")
    assert load_prompt("jd/card").text == "Home card."
    mine = clean_env / "mine" / "jd"
    mine.mkdir(parents=True)
    (mine / "card.md").write_text("Mine.")
    monkeypatch.setenv("MIRA_PROMPTS", str(mine.parent))
    assert load_prompt("jd/card").text == "Mine."


def test_a_missing_user_folder_is_a_clear_error(clean_env, monkeypatch):
    monkeypatch.setenv("MIRA_PROMPTS", str(clean_env / "nope"))
    with pytest.raises(InputError, match="does not exist"):
        load_prompt("jd/card")


def test_the_cli_option_sets_the_folder(clean_env, monkeypatch):
    from typer.testing import CliRunner

    from mira.cli import app

    mine = clean_env / "mine" / "jd"
    mine.mkdir(parents=True)
    (mine / "extract.md").write_text("Mine.")
    (clean_env / "other").mkdir()
    monkeypatch.setenv("MIRA_PROMPTS", str(clean_env / "other"))  # restored (unset) after the test
    r = CliRunner().invoke(app, ["--prompts", str(mine.parent), "prompt", "try", "extract"])
    assert r.exit_code == 1 and "needs --jds" in r.output  # got past the option to the command's own check
    import os

    assert os.environ["MIRA_PROMPTS"] == str(mine.parent)
    assert load_prompt("jd/extract").text == "Mine."
