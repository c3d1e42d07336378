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


def test_optimal_bands_cover_num_perm():
    b, r = optimal_bands(0.8, 128)
    assert b * r <= 128 and b > 1 and r > 1


@pytest.mark.timeout(120)
def test_parallel_preparation_equals_one_process_and_never_hangs(monkeypatch):
    """Workers split the tokenising; rensa's thread pool, once used here, must not deadlock them (a forked child
    inherits a pool without threads): run it several times after rensa has worked in this process."""
    import synth.dedup as dd

    texts = [f"{TEXT} variant {i} " + " ".join(f"w{j}" for j in range(i % 7)) for i in range(3000)] + ["", "!!!"]
    params = MinHasher(MinHashParams()).params
    keys1, mh1 = dd._prepare(params, texts)  # rensa's pool is now in use in this process
    monkeypatch.setattr(dd, "PARALLEL_MIN", 10)
    for _ in range(2):
        keys2, mh2 = MinHasher(params).prepare(texts)
        assert keys1 == keys2 and [m.digest() for m in mh1] == [m.digest() for m in mh2]


def test_a_variant_equal_to_a_seeded_anchor_is_a_duplicate():
    d = Deduplicator(MinHashParams())
    d.seed(["anchor-1"], [TEXT])
    res = d.run(["v1", "v2"], [TEXT + " Apply today.", "Registered nurse for night shifts on a busy ward"])
    assert res.duplicate_of == ["anchor-1", None]
