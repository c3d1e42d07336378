"""Exact and near-duplicate removal: seeded MinHash over word shingles, banded LSH, verified Jaccard.

Each of the `num_perm` hash functions is a seeded multiply-shift hash (`((a * x + b) mod 2^64) >> 32`, `a` odd; a
2-universal family, Dietzfelbinger et al. 1997) over 32-bit shingle hashes, computed for many documents at once with
numpy: 100k texts take seconds rather than the minutes of a per-shingle `MinHash.update` loop. Parameters (seed, num_perm, shingle size, threshold, bands x rows) are recorded in manifests;
signatures made with different seeds or sizes are refused, never compared.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import asdict, dataclass, field
from typing import Iterable

import numpy as np

from .records import normalize_text

_MAX_HASH = np.uint64((1 << 32) - 1)
_SHIFT = np.uint64(32)
_WORD = re.compile(r"\w+", re.UNICODE)


def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising weighted false-positive + false-negative probability (as datasketch does)."""
    xs = np.linspace(0, 1, 201)
    best, best_err = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        r = num_perm // b
        if r < 1:
            continue
        p = 1 - (1 - xs ** r) ** b
        fp = np.trapezoid(p[xs < threshold], xs[xs < threshold])
        fn = np.trapezoid(1 - p[xs >= threshold], xs[xs >= threshold])
        err = fp_weight * fp + (1 - fp_weight) * fn
        if err < best_err:
            best, best_err = (b, r), err
    return best


@dataclass(frozen=True)
class MinHashParams:
    num_perm: int = 128
    shingle: int = 3
    seed: int = 1
    threshold: float = 0.8

    @property
    def bands(self) -> tuple[int, int]:
        # false candidates are cheap (every candidate is verified on its signature), missed duplicates are not
        return optimal_bands(self.threshold, self.num_perm, fp_weight=0.1)

    def manifest(self) -> dict:
        b, r = self.bands
        return {**asdict(self), "bands": b, "rows": r, "shingles": "words"}


@dataclass(frozen=True)
class Signature:
    values: np.ndarray = field(repr=False)
    seed: int
    num_perm: int

    def jaccard(self, other: "Signature") -> float:
        if (self.seed, self.num_perm) != (other.seed, other.num_perm):
            raise ValueError(f"Cannot compare MinHash signatures made with different parameters "
                             f"(seed {self.seed} vs {other.seed}, num_perm {self.num_perm} vs {other.num_perm}).")
        return float(np.mean(self.values == other.values))


class MinHasher:
    def __init__(self, params: MinHashParams = MinHashParams()):
        self.params = params
        gen = np.random.RandomState(params.seed)
        self.a = gen.randint(0, np.iinfo(np.uint64).max, size=params.num_perm, dtype=np.uint64) | np.uint64(1)
        self.b = gen.randint(0, np.iinfo(np.uint64).max, size=params.num_perm, dtype=np.uint64)
        self._word_hash: dict[str, int] = {}

    def shingle_hashes(self, text: str) -> np.ndarray:
        words = _WORD.findall(text.lower())
        wh = self._word_hash
        ids = []
        for w in words:
            h = wh.get(w)
            if h is None:
                h = wh[w] = zlib.crc32(w.encode("utf-8"))
            ids.append(h)
        k = self.params.shingle
        if not ids:
            return np.array([zlib.crc32(text.encode("utf-8"))], dtype=np.uint64)
        arr = np.asarray(ids, dtype=np.uint64)
        if len(arr) < k:
            k = len(arr)
        h = np.zeros(len(arr) - k + 1, dtype=np.uint64)
        for j in range(k):  # polynomial combination of k consecutive word hashes, kept to 32 bits
            h = (h * np.uint64(1000003) + arr[j: len(arr) - k + 1 + j]) & _MAX_HASH
        return np.unique(h)

    def signatures(self, texts: Iterable[str], chunk: int = 512) -> np.ndarray:
        """(n_docs, num_perm) uint32 signatures, computed chunk by chunk (bounded memory)."""
        out = []
        batch: list[np.ndarray] = []
        for t in texts:
            batch.append(self.shingle_hashes(t))
            if len(batch) >= chunk:
                out.append(self._sign(batch))
                batch = []
        if batch:
            out.append(self._sign(batch))
        if not out:
            return np.zeros((0, self.params.num_perm), dtype=np.uint32)
        return np.concatenate(out)

    def _sign(self, batch: list[np.ndarray]) -> np.ndarray:
        lengths = np.array([len(x) for x in batch])
        flat = np.concatenate(batch)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        with np.errstate(over="ignore"):  # arithmetic mod 2^64 is the point
            perm = np.multiply(flat[:, None], self.a)
            perm += self.b
            perm >>= _SHIFT
        return np.minimum.reduceat(perm, starts, axis=0).astype(np.uint32)

    def signature(self, text: str) -> Signature:
        return Signature(self.signatures([text])[0], self.params.seed, self.params.num_perm)

    def jaccard(self, a: str, b: str) -> float:
        s = self.signatures([a, b])
        return float(np.mean(s[0] == s[1]))


class NearDupIndex:
    """Banded LSH over signatures; `add` returns the key of the first kept near-duplicate, else inserts."""

    def __init__(self, params: MinHashParams = MinHashParams()):
        self.params = params
        self.bands, self.rows = params.bands
        self.tables: list[dict[bytes, list[int]]] = [{} for _ in range(self.bands)]
        self.sigs: list[np.ndarray] = []
        self.keys: list[str] = []

    def query(self, sig: np.ndarray) -> int | None:
        seen = set()
        for bi in range(self.bands):
            band = sig[bi * self.rows:(bi + 1) * self.rows].tobytes()
            for idx in self.tables[bi].get(band, ()):
                if idx in seen:
                    continue
                seen.add(idx)
                if np.mean(self.sigs[idx] == sig) >= self.params.threshold:
                    return idx
        return None

    def add(self, key: str, sig: np.ndarray) -> str | None:
        hit = self.query(sig)
        if hit is not None:
            return self.keys[hit]
        idx = len(self.sigs)
        self.sigs.append(sig)
        self.keys.append(key)
        for bi in range(self.bands):
            self.tables[bi].setdefault(sig[bi * self.rows:(bi + 1) * self.rows].tobytes(), []).append(idx)
        return None


@dataclass
class DedupResult:
    keep: list[bool]
    duplicate_of: list[str | None]
    exact: int = 0
    near: int = 0


class Deduplicator:
    """Exact (normalised text hash) then near (MinHash LSH) duplicates; the first occurrence is kept.

    One instance can span several calls (e.g. every stage of a run) so duplicates across stages are caught too.
    """

    def __init__(self, params: MinHashParams = MinHashParams()):
        self.params = params
        self.hasher = MinHasher(params)
        self.index = NearDupIndex(params)
        self.exact: dict[str, str] = {}

    def run(self, keys: list[str], texts: list[str]) -> DedupResult:
        res = DedupResult([True] * len(texts), [None] * len(texts))
        fresh = []
        for i, (k, t) in enumerate(zip(keys, texts)):
            h = hashlib.sha1(normalize_text(t).lower().encode("utf-8")).hexdigest()
            if h in self.exact:
                res.keep[i], res.duplicate_of[i] = False, self.exact[h]
                res.exact += 1
            else:
                self.exact[h] = k
                fresh.append(i)
        sigs = self.hasher.signatures(texts[i] for i in fresh)
        for row, i in enumerate(fresh):
            dup = self.index.add(keys[i], sigs[row])
            if dup is not None:
                res.keep[i], res.duplicate_of[i] = False, dup
                res.near += 1
        return res
