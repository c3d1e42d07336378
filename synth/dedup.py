"""Exact and near-duplicate removal: seeded MinHash over word shingles and banded LSH from rensa (Rust), with
every LSH candidate verified on its signature before it counts.

Shingles are word k-grams of the lower-cased text (a text shorter than k words is one shingle). Signatures are
rensa's R-MinHash over the shingle strings (`RMinHash.from_token_sets`, seeded); the LSH index is rensa's
`RMinHashLSH` with the (bands, rows) split chosen here. Parameters (seed, num_perm, shingle size, threshold,
bands x rows, algorithm) are recorded in manifests; signatures made with different seeds or sizes are refused, never
compared.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Iterable

import numpy as np
from rensa import RMinHash, RMinHashLSH


_WORD = re.compile(r"\w+", re.UNICODE)
_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # NumPy 2 name; np.trapz before it


def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising weighted false-positive + false-negative probability (as datasketch does), over the
    splits that use every slot (rensa's LSH needs bands x rows == num_perm)."""
    xs = np.linspace(0, 1, 201)
    best, best_err = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        r = num_perm // b
        if b * r != num_perm:
            continue
        p = 1 - (1 - xs ** r) ** b
        fp = _trapezoid(p[xs < threshold], xs[xs < threshold])
        fn = _trapezoid(1 - p[xs >= threshold], xs[xs >= threshold])
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
        return {**asdict(self), "bands": b, "rows": r, "shingles": "words", "algorithm": "rensa R-MinHash"}


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

    def shingles(self, text: str) -> list[str]:
        w = _WORD.findall(text.lower())
        k = self.params.shingle
        if len(w) <= k:
            return [" ".join(w)] if w else [text]
        return [" ".join(x) for x in zip(*(w[j:] for j in range(k)))]

    def minhashes(self, texts: Iterable[str]) -> list[RMinHash]:
        return RMinHash.from_token_sets([self.shingles(t) for t in texts], self.params.num_perm, self.params.seed)

    def prepare(self, texts: list[str]) -> tuple[list[bytes], list[RMinHash]]:
        """(exact keys, MinHashes) of the texts. The exact key hashes the text's words in order (case, spacing and
        punctuation aside). Tokenising is the cost, so large inputs are split over the CPU cores (worker processes
        return pickled rensa objects); the result is the same as in one process."""
        workers = min(os.cpu_count() or 1, 8)
        if len(texts) < PARALLEL_MIN or workers < 2:
            return _prepare(self.params, texts)
        # not fork: rensa's thread pool, once used in this process, would deadlock a forked child
        ctx, step = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"), \
            -(-len(texts) // workers)
        procs = []
        for lo in range(step, len(texts), step):
            recv, send = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_child, args=(send, self.params, texts[lo:lo + step]), daemon=True)
            p.start()
            send.close()
            procs.append((p, recv))
        keys, hashes = _prepare(self.params, texts[:step])  # this process takes the first share
        for (p, recv), lo in zip(procs, range(step, len(texts), step)):
            try:
                k, h = recv.recv()
            except (EOFError, OSError):  # a worker that could not start: its share is done here instead
                k, h = _prepare(self.params, texts[lo:lo + step])
            keys += k
            hashes += h
            p.join()
        return keys, hashes

    def signatures(self, texts: Iterable[str]) -> np.ndarray:
        """(n_docs, num_perm) uint32 signatures."""
        sets = [self.shingles(t) for t in texts]
        if not sets:
            return np.zeros((0, self.params.num_perm), dtype=np.uint32)
        m = RMinHash.digest_matrix_from_token_sets(sets, self.params.num_perm, self.params.seed)
        return np.asarray(m.to_rows(), dtype=np.uint32)

    def signature(self, text: str) -> Signature:
        return Signature(self.signatures([text])[0], self.params.seed, self.params.num_perm)

    def jaccard(self, a: str, b: str) -> float:
        s = self.signatures([a, b])
        return float(np.mean(s[0] == s[1]))


PARALLEL_MIN = 20_000  # texts; below this one process is faster than forking


def _child(conn, params: MinHashParams, texts: list[str]) -> None:
    conn.send(_prepare(params, texts))
    conn.close()


def _prepare(params: MinHashParams, texts: list[str]) -> tuple[list[bytes], list[RMinHash]]:
    k, keys, sets = params.shingle, [], []
    for t in texts:
        w = _WORD.findall(t.lower())
        keys.append(hashlib.sha1((" ".join(w) if w else t).encode("utf-8")).digest())
        sets.append([" ".join(x) for x in zip(*(w[j:] for j in range(k)))] if len(w) > k else
                    [" ".join(w) if w else t])
    return keys, list(RMinHash.from_token_sets(sets, params.num_perm, params.seed))


class NearDupIndex:
    """rensa's banded LSH over the texts; a candidate counts only when it was kept, comes earlier and its
    signature agrees on at least `threshold` of the slots. So each duplicate points at the earliest kept text."""

    def __init__(self, params: MinHashParams = MinHashParams()):
        self.params = params
        self.bands, self.rows = params.bands
        self.lsh = RMinHashLSH(params.threshold, params.num_perm, self.bands)
        self.kept: dict[int, RMinHash] = {}
        self.keys: dict[int, str] = {}
        self.next = 0

    def add_many(self, keys: list[str], hashes: list[RMinHash]) -> list[str | None]:
        """For each text in order: the key of the first kept near-duplicate (earlier in this call or before), else
        None and it is kept."""
        start = self.next
        self.next += len(hashes)
        self.lsh.insert_many(hashes, start)
        kept, threshold = self.kept, self.params.threshold
        out: list[str | None] = []
        for off, (key, m, cands) in enumerate(zip(keys, hashes, self.lsh.query_all(hashes))):
            me = start + off
            hit = min((c for c in cands if c < me and c in kept and kept[c].jaccard(m) >= threshold), default=None)
            if hit is None:
                kept[me] = m
                self.keys[me] = key
                out.append(None)
            else:  # stays in the LSH tables, but only kept texts are ever answered
                out.append(self.keys[hit])
        return out


@dataclass
class DedupResult:
    keep: list[bool]
    duplicate_of: list[str | None]
    exact: int = 0
    near: int = 0


class Deduplicator:
    """Exact (normalised text hash) then near (MinHash LSH) duplicates; the first occurrence is kept.

    One instance can span several calls (e.g. every stage of a run) so duplicates across stages are caught too;
    `seed` puts texts in the index without producing results (the anchors a stage's variants must not copy).
    """

    def __init__(self, params: MinHashParams = MinHashParams()):
        self.params = params
        self.hasher = MinHasher(params)
        self.index = NearDupIndex(params)
        self.exact: dict[bytes, str] = {}

    def seed(self, keys: list[str], texts: list[str]) -> None:
        self.run(keys, texts)

    def run(self, keys: list[str], texts: list[str]) -> DedupResult:
        res = DedupResult([True] * len(texts), [None] * len(texts))
        exact, hashes = self.hasher.prepare(list(texts))
        fresh = []
        for i, (k, h) in enumerate(zip(keys, exact)):
            if h in self.exact:
                res.keep[i], res.duplicate_of[i] = False, self.exact[h]
                res.exact += 1
            else:
                self.exact[h] = k
                fresh.append(i)
        if not fresh:
            return res
        hits = self.index.add_many([keys[i] for i in fresh], [hashes[i] for i in fresh])
        for i, dup in zip(fresh, hits):
            if dup is not None:
                res.keep[i], res.duplicate_of[i] = False, dup
                res.near += 1
        return res
