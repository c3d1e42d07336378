"""Against hostile scripted LLMs, unrelated real CVs are never positive; the cooperative judge still finds positives."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from judge_adversarial import measure, qualified_pairs, unrelated_pairs  # noqa: E402
from tests.scripted_judge import ADVERSARIES, answer  # noqa: E402


@pytest.fixture(scope="module")
def pairs(tmp_path_factory, real_data):
    from synth.store import DatasetStore

    store = DatasetStore(tmp_path_factory.mktemp("adv") / "home")
    return unrelated_pairs(store, 12), qualified_pairs(store)


@pytest.mark.parametrize("behaviour", sorted(ADVERSARIES))
def test_adversary_never_makes_an_unrelated_cv_positive(pairs, behaviour, tmp_path):
    unrelated, _ = pairs
    share, scored, unscored, _, unsupported, _ = measure(ADVERSARIES[behaviour], unrelated, tmp_path / "h")
    assert share == 0.0 and scored + unscored == len(unrelated)
    assert unsupported == 0  # no accepted "met" rests on words or years the CV never states (#26)


def test_cooperative_judge_keeps_qualified_positives(pairs, tmp_path):
    unrelated, qualified = pairs
    assert measure(answer, unrelated, tmp_path / "u")[0] == 0.0
    share, scored, _, (downgraded, met), _, _ = measure(answer, qualified, tmp_path / "q")
    assert scored >= 45 and share > 0.3
    # (#26) the cooperative judge claims "met" on a fifth of a requirement's words, as a lenient real LLM does; the
    # CV-span check keeps most of those claims
    assert met > 0 and downgraded < 0.2 * met
