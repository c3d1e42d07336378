"""Stage 4's scope cues (prompts/jd/scope_cues.yaml) on real sentences from the shared Monster JDs."""

import pytest

from synth.stages.scope import load_cues

REAL = [
    ("Utilizing continuous improvement mindset, assist in identifying opportunities to improve processes.", "assists"),
    ("This is an entry level position with an opportunity for growth.", "assists"),
    ("FSEs provide training to our customers and verify the operational performance and data quality of systems in "
     "order to contribute to our overall team success.", "contributes"),
    ("Mentor Account Managers and direct their day to day activities.", "leads"),
    ("Direct, oversee, and evaluate training provided by a trainer to department employees in order to reduce "
     "turnover, promote efficiency, and control labor costs.", "leads"),
    ("On-going management of facility fiscal performance (Profit and Loss), yearly budget preparation.", "owns"),
    ("Accountable for defining the core activities of the program area and developing a strategic plan to "
     "develop/expand capabilities.", "owns"),
    # SmolLM2's "boundary" text at a level below 'leads' that still leads (kept before "lead others" was a cue)
    ("This role contributes to the team and leads a great many tasks, but must also be able to lead others.",
     "leads"),
    # not cues: a noun, a personal habit, personal accountability
    ("As a Junior Sales Manager, you will learn valuable business skills from capable mentors who were once in your "
     "shoes.", None),
    ("Need strong ability to set priorities, solve problems, and be resourceful under pressure.", None),
    ("Accept responsibilities and be held accountable for their actions.", None),
]


@pytest.mark.parametrize("sentence,level", REAL)
def test_real_sentences(sentence, level):
    assert load_cues().level(sentence) == level


def test_negated_cues_do_not_count():
    cues = load_cues()
    assert cues.level("Supports the analysts; no ownership of budget, roadmap or people.") == "assists"
    assert cues.level("Works with the analysts, without direct reports, and does not lead a team.") == "contributes"
    assert cues.level("Owns the product roadmap and leads a team of five.") == "owns"


def test_a_cards_scope_line_counts():
    assert load_cues().level("Title: Data Engineer\nScope: leads\nMust: skill: SQL") == "leads"


def test_a_broken_lexicon_is_refused(tmp_path):
    from synth.errors import InputError

    bad = tmp_path / "cues.yaml"
    bad.write_text("owns: ['(unclosed']\nleads: []\ncontributes: []\nassists: []\n")
    with pytest.raises(InputError, match="owns"):
        load_cues(bad)
    bad.write_text("owns: []\n")
    with pytest.raises(InputError, match="needs exactly the levels"):
        load_cues(bad)
