import numpy as np
import pytest

from synth.dedup import Deduplicator, MinHasher, MinHashParams, optimal_bands

TEXT = ("We are looking for a senior accountant to manage month end close, reconcile ledgers, prepare financial "
        "statements and support the annual audit with the external auditors in our Chicago office")


def test_signatures_are_seeded_and_reproducible():
    a = MinHasher(MinHashParams(seed=3)).signatures([TEXT])
    b = MinHasher(MinHashParams(seed=3)).signatures([TEXT])
    c = MinHasher(MinHashParams(seed=4)).signatures([TEXT])
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_incompatible_signatures_refused():
    s1 = MinHasher(MinHashParams(seed=1)).signature(TEXT)
    s2 = MinHasher(MinHashParams(seed=2)).signature(TEXT)
    with pytest.raises(ValueError, match="different parameters"):
        s1.jaccard(s2)
    assert s1.jaccard(MinHasher(MinHashParams(seed=1)).signature(TEXT)) == 1.0


def test_jaccard_estimate_is_close_to_true_jaccard():
    h = MinHasher(MinHashParams(num_perm=256, shingle=1))
    a = " ".join(f"w{i}" for i in range(100))
    b = " ".join(f"w{i}" for i in range(50, 150))  # true Jaccard 50 / 150
    assert abs(h.jaccard(a, b) - 1 / 3) < 0.08


def test_exact_and_near_duplicates_first_kept():
    d = Deduplicator(MinHashParams(threshold=0.7))
    texts = [TEXT, TEXT.upper() + "  ", TEXT.replace("Chicago", "Denver"), "Registered nurse for night shifts"]
    res = d.run(["a", "b", "c", "d"], texts)
    assert res.keep == [True, False, False, True] and res.duplicate_of == [None, "a", "a", None]
    assert (res.exact, res.near) == (1, 1)
    again = d.run(["e"], [TEXT + " today"])  # across calls (stages of one run)
    assert again.duplicate_of == ["a"]


def test_production_bands_favour_recall():
    """The bands the Deduplicator really uses (MinHashParams.bands, not optimal_bands' default weight): every slot
    used (rensa needs bands x rows == num_perm); at the default threshold 0.8, (16, 8): a pair exactly at the
    threshold is an LSH candidate with probability 1 - (1 - t^r)^b = 0.947 (the even weighting's (8, 16): 0.20).
    False candidates are verified away on their signatures; a missed one is never seen."""
    def p_candidate(bands, t):
        b, r = bands
        return 1 - (1 - t ** r) ** b

    p = MinHashParams()
    assert p.threshold == 0.8 and p.bands == (16, 8) and optimal_bands(0.8, 128) == (8, 16)
    assert p_candidate(p.bands, 0.8) == pytest.approx(0.947, abs=1e-3)
    for t in (0.6, 0.7, 0.8, 0.85, 0.9):
        q = MinHashParams(threshold=t)
        assert q.bands[0] * q.bands[1] == q.num_perm
        assert p_candidate(q.bands, t) >= p_candidate(optimal_bands(t, q.num_perm), t)


TRICKY = ["C++/C# dev_ops: 5+ yrs (AWS), e-mail me@x.io!", "Café crème — Zürich; naïve ÉCOLE 2019-2021",
          "tab\tand\nnew-line  runs", "under_score and 3.5 GPA", "“quoted” ‘words’ • bullet", "", "!!!", "one two",
          "ＦＵＬＬ width ＡＢＣ and ascii", "İstanbul ß straße"]


def _regex_reference(text: str, k: int = 3) -> tuple[bytes, list[str]]:
    """Today's definition, spelled out: words are \\w+ runs of the lower-cased text."""
    import hashlib
    import re

    w = re.findall(r"\w+", text.lower())
    key = hashlib.sha1((" ".join(w) if w else text).encode("utf-8")).digest()
    return key, ([" ".join(x) for x in zip(*(w[j:] for j in range(k)))] if len(w) > k else
                 [" ".join(w) if w else text])


def test_ascii_fast_path_gives_the_regex_words_and_the_same_signatures():
    import synth.dedup as dd
    from rensa import RMinHash

    texts = TRICKY + [TEXT, TEXT.upper()]
    keys, sets = dd._tokenise(3, texts)
    for text, key, got in zip(texts, keys, sets):
        ref_key, ref = _regex_reference(text)
        assert key == ref_key and [x.decode() if isinstance(x, bytes) else x for x in got] == ref, text
    ref_m = RMinHash.from_token_sets([_regex_reference(t)[1] for t in texts], 128, 1)
    assert [m.digest() for m in dd._prepare(MinHashParams(), texts)[1]] == [m.digest() for m in ref_m]


@pytest.mark.timeout(120)
def test_parallel_preparation_equals_one_process_and_never_hangs(monkeypatch, caplog):
    """Workers split the tokenising; rensa's thread pool, in use here, must not matter to them: run it several times
    after rensa has worked in this process."""
    import synth.dedup as dd

    texts = [f"{TEXT} variant {i} " + " ".join(f"w{j}" for j in range(i % 7)) for i in range(3000)] + TRICKY
    params = MinHasher(MinHashParams()).params
    keys1, mh1 = dd._prepare(params, texts)  # rensa's pool is now in use in this process
    monkeypatch.setattr(dd, "PARALLEL_MIN", 10)
    monkeypatch.setattr(dd.os, "cpu_count", lambda: 3)  # two workers, whatever this machine has
    for _ in range(2):
        keys2, mh2 = MinHasher(params).prepare(texts)
        assert keys1 == keys2 and [m.digest() for m in mh1] == [m.digest() for m in mh2]
    assert not [r.message for r in caplog.records if "dedup worker" in r.message]  # the workers did the work


@pytest.mark.timeout(120)
def test_parallel_dedup_from_a_script_without_a_main_guard(tmp_path):
    """A user's plain script (no `if __name__ == "__main__"`) must not be re-run by the workers, and the result
    must equal the one-process result."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "plain.py"
    script.write_text(
        "import synth.dedup as dd\n"
        "dd.PARALLEL_MIN = 10\n"
        "dd.os.cpu_count = lambda: 2\n"
        f"texts = [{TEXT!r} + f' v{{i % 500}}' for i in range(2000)]\n"
        "res = dd.Deduplicator().run([str(i) for i in range(len(texts))], texts)\n"
        "print('RESULT', sum(res.keep), res.exact, res.near)\n")
    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=110,
                         env={**__import__("os").environ, "PYTHONPATH": root}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT")]
    texts = [TEXT + f" v{i % 500}" for i in range(2000)]
    one = Deduplicator().run([str(i) for i in range(len(texts))], texts)
    assert lines == [f"RESULT {sum(one.keep)} {one.exact} {one.near}"] and one.exact == 1500


def test_a_variant_equal_to_a_seeded_anchor_is_a_duplicate():
    d = Deduplicator(MinHashParams())
    d.seed(["anchor-1"], [TEXT])
    res = d.run(["v1", "v2"], [TEXT + " Apply today.", "Registered nurse for night shifts on a busy ward"])
    assert res.duplicate_of == ["anchor-1", None]
