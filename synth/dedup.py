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
import logging
import os
import pickle
import re
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from rensa import RMinHash, RMinHashLSH


_WORD = re.compile(r"\w+", re.UNICODE)
log = logging.getLogger(__name__)
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
        return [x.decode() if isinstance(x, bytes) else x for x in _tokenise(self.params.shingle, [text])[1][0]]

    def minhashes(self, texts: Iterable[str]) -> list[RMinHash]:
        return _prepare(self.params, list(texts))[1]

    def prepare(self, texts: list[str]) -> tuple[list[bytes], list[RMinHash]]:
        """(exact keys, MinHashes) of the texts; see `prepare_chunks`."""
        keys, hashes = [], []
        for k, h in self.prepare_chunks(texts):
            keys += k
            hashes += h
        return keys, hashes

    def prepare_chunks(self, texts: list[str]) -> Iterator[tuple[list[bytes], list[RMinHash]]]:
        """(exact keys, MinHashes) of consecutive slices of the texts, in order. The exact key hashes the text's words
        in order (case, spacing and punctuation aside). Tokenising is the cost, so above PARALLEL_MIN texts the later
        slices go to worker processes (`python -m synth.dedup`: a fresh interpreter, so no fork of this process's
        threads and no re-import of the caller's main module) while this process does the first slice; the caller
        can index that slice while the workers finish. The result is the same as in one process; a worker that fails
        has its slice done here instead."""
        n_proc = min(os.cpu_count() or 1, 8)
        if len(texts) < PARALLEL_MIN or n_proc < 2:
            yield _prepare(self.params, texts)
            return
        step = -(-len(texts) // n_proc)
        workers = [(lo, _Worker(self.params, texts[lo:lo + step])) for lo in range(step, len(texts), step)]
        try:
            yield _prepare(self.params, texts[:step])
            for lo, w in workers:
                got = w.result()
                yield got if got is not None else _prepare(self.params, texts[lo:lo + step])
        finally:
            for _, w in workers:
                w.close()

    def signatures(self, texts: Iterable[str]) -> np.ndarray:
        """(n_docs, num_perm) uint32 signatures."""
        sets = _tokenise(self.params.shingle, list(texts))[1]
        if not sets:
            return np.zeros((0, self.params.num_perm), dtype=np.uint32)
        m = RMinHash.digest_matrix_from_token_sets(sets, self.params.num_perm, self.params.seed)
        return np.asarray(m.to_rows(), dtype=np.uint32)

    def signature(self, text: str) -> Signature:
        return Signature(self.signatures([text])[0], self.params.seed, self.params.num_perm)

    def jaccard(self, a: str, b: str) -> float:
        s = self.signatures([a, b])
        return float(np.mean(s[0] == s[1]))


PARALLEL_MIN = 20_000  # texts; below this one process is faster than starting workers
_ASCII_NON_WORD = bytes(i for i in range(128) if not (chr(i).isalnum() or chr(i) == "_"))
_ASCII_SPLIT = bytes.maketrans(_ASCII_NON_WORD, b" " * len(_ASCII_NON_WORD))


def _tokenise(k: int, texts: list[str]) -> tuple[list[bytes], list[list]]:
    """(exact keys, shingle lists). Words are `\\w+` runs of the lower-cased text; an ASCII text takes a bytes fast
    path (translate + split) with the same words, and rensa hashes a bytes token as it hashes the equal str."""
    keys, sets, sj, bj = [], [], " ".join, b" ".join
    for t in texts:
        if t.isascii():
            w, join = t.encode("ascii").lower().translate(_ASCII_SPLIT).split(), bj
            key = bj(w) if w else t.encode("ascii")
        else:
            w, join = _WORD.findall(t.lower()), sj
            key = (sj(w) if w else t).encode("utf-8")
        keys.append(hashlib.sha1(key).digest())
        sets.append(list(map(join, zip(*(w[j:] for j in range(k))))) if len(w) > k else [join(w) if w else t])
    return keys, sets


def _prepare(params: MinHashParams, texts: list[str]) -> tuple[list[bytes], list[RMinHash]]:
    keys, sets = _tokenise(params.shingle, texts)
    return keys, list(RMinHash.from_token_sets(sets, params.num_perm, params.seed))


class _Worker:
    """One `python -m synth.dedup` process preparing a slice: texts go in on stdin (written from a thread, so this
    process works meanwhile), (keys, MinHashes) come back pickled on stdout."""

    def __init__(self, params: MinHashParams, texts: list[str]):
        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        self.proc, self.writer = None, None
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "synth.dedup"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        except OSError as e:
            log.warning("dedup worker did not start (%s); its share is done in this process", e)
            return
        payload = pickle.dumps((asdict(params), texts), protocol=pickle.HIGHEST_PROTOCOL)
        self.writer = threading.Thread(target=self._send, args=(payload,), daemon=True)
        self.writer.start()

    def _send(self, payload: bytes) -> None:
        try:
            self.proc.stdin.write(payload)
            self.proc.stdin.close()
        except OSError:
            pass

    def result(self) -> tuple[list[bytes], list[RMinHash]] | None:
        if self.proc is None:
            return None
        try:
            got = pickle.load(self.proc.stdout)
        except Exception as e:  # a worker that died: the caller does its share
            log.warning("dedup worker failed (%s, exit %s); its share is done in this process", e, self.proc.poll())
            return None
        self.writer.join()
        return got

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass


def _worker_main() -> None:
    params, texts = pickle.load(sys.stdin.buffer)
    out = _prepare(MinHashParams(**params), texts)
    sys.stdout.buffer.write(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()


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
        lo = 0
        for exact, hashes in self.hasher.prepare_chunks(list(texts)):  # each slice is indexed as soon as it is ready
            fresh = []
            for i, h in enumerate(exact, lo):
                if h in self.exact:
                    res.keep[i], res.duplicate_of[i] = False, self.exact[h]
                    res.exact += 1
                else:
                    self.exact[h] = keys[i]
                    fresh.append(i)
            if fresh:
                hits = self.index.add_many([keys[i] for i in fresh], [hashes[i - lo] for i in fresh])
                for i, dup in zip(fresh, hits):
                    if dup is not None:
                        res.keep[i], res.duplicate_of[i] = False, dup
                        res.near += 1
            lo += len(exact)
        return res


if __name__ == "__main__":
    _worker_main()
