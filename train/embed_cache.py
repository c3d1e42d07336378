"""Embeddings cached by model and text hash: repeated evaluations of the same model on the same texts encode nothing.

`EmbeddingCache` keeps them in SQLite (`<home>/.mira/embeddings.sqlite`); `ShardedEmbeddingCache` in parquet shards
(`<home>/.mira/embeddings/`), which `mira eval ... --ray` uses for corpora encoded on a cluster."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np


def model_fingerprint(path: str | Path) -> str:
    """Content-based: config files and the weights' size and first / last megabyte."""
    p = Path(path)
    h = hashlib.sha256()
    for name in sorted(["config.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json"]):
        f = p / name
        if f.exists():
            h.update(name.encode() + f.read_bytes())
    for w in sorted(p.glob("*.safetensors")) + sorted(p.glob("*.bin")):
        size = w.stat().st_size
        with open(w, "rb") as fh:
            h.update(str(size).encode() + fh.read(1 << 20))
            fh.seek(max(0, size - (1 << 20)))
            h.update(fh.read())
    return h.hexdigest()[:20]


class _Cache:
    """The encode-through logic both stores share: look the texts up by hash, encode only the missing ones, chunk by
    chunk, and store each chunk as soon as it is encoded (an interrupted encoding keeps its work). A store provides
    `_get(model_key, hashes) -> {hash: vector}` and `_put(model_key, hashes, vectors)`."""

    chunk = 4096

    def __init__(self):
        self.hits = self.misses = 0

    def encode(self, model_key: str, texts: list[str], encode_fn=None, stream=None) -> np.ndarray:
        """(n, d) float32 embeddings; only the texts this model has not embedded before are encoded: by
        `encode_fn(texts) -> vectors` here, chunk by chunk, or by `stream(texts)`, which yields `(positions, vectors)`
        in any order as workers finish them (train/ray_encode.py); either way each chunk is stored as it arrives."""
        hashes = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        uniq = list(dict.fromkeys(hashes))
        found = self._get(model_key, uniq)
        todo = [h for h in uniq if h not in found]
        self.hits += len(uniq) - len(todo)
        self.misses += len(todo)
        first = {h: t for h, t in zip(hashes, texts)}
        if stream is None:
            def stream(batch: list[str]):
                for s in range(0, len(batch), self.chunk):
                    yield range(s, min(s + self.chunk, len(batch))), encode_fn(batch[s: s + self.chunk])
        held_h: list[str] = []
        held_v: list[np.ndarray] = []
        for positions, vecs in stream([first[h] for h in todo]) if todo else ():
            vecs = np.asarray(vecs, dtype=np.float32)
            held_h += [todo[i] for i in positions]
            held_v.append(vecs)
            if len(held_h) >= self.chunk:
                self._store(model_key, held_h, held_v, found)
                held_h, held_v = [], []
        if held_h:
            self._store(model_key, held_h, held_v, found)
        return np.stack([found[h] for h in hashes]) if hashes else np.zeros((0, 0), dtype=np.float32)

    def _store(self, model_key: str, hashes: list[str], parts: list[np.ndarray], found: dict) -> None:
        vecs = np.concatenate(parts)
        self._put(model_key, hashes, vecs)
        found.update(zip(hashes, vecs))


class EmbeddingCache(_Cache):
    """SQLite under `<home>/.mira/embeddings.sqlite`."""

    def __init__(self, path: Path):
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS vecs (model TEXT, h TEXT, dim INTEGER, v BLOB, "
                        "PRIMARY KEY (model, h))")

    def _get(self, model_key: str, hashes: list[str]) -> dict[str, np.ndarray]:
        found = {}
        for s in range(0, len(hashes), 500):
            chunk = hashes[s: s + 500]
            q = f"SELECT h, v FROM vecs WHERE model = ? AND h IN ({','.join('?' * len(chunk))})"
            for h, v in self.db.execute(q, [model_key, *chunk]):
                found[h] = np.frombuffer(v, dtype=np.float32)
        return found

    def _put(self, model_key: str, hashes: list[str], vecs: np.ndarray) -> None:
        self.db.execute("BEGIN")
        for h, v in zip(hashes, vecs):
            self.db.execute("INSERT OR REPLACE INTO vecs VALUES (?, ?, ?, ?)", (model_key, h, len(v), v.tobytes()))
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()


class ShardedEmbeddingCache(_Cache):
    """The same cache as parquet shards, for corpora encoded on Ray (`--ray`): one folder per model key under
    `<home>/.mira/embeddings/`, one shard (`h`: the text's sha256, `v`: its float32 vector) per encoded chunk,
    written to a temporary name and renamed, so an interrupted encoding keeps every finished chunk and a reader
    never sees half a shard. Shards are columnar files any engine reads (Ray Data, pandas, DuckDB) without Mira.

    Only the hash column is read to know what is stored; vectors are read from the shards that hold wanted texts."""

    def __init__(self, folder: Path):
        super().__init__()
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._index: dict[str, dict[str, tuple[Path, int]]] = {}

    def _dir(self, model_key: str) -> Path:
        return self.folder / "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model_key)

    def _load_index(self, model_key: str) -> dict[str, tuple[Path, int]]:
        if model_key not in self._index:
            import pyarrow.parquet as pq

            index: dict[str, tuple[Path, int]] = {}
            d = self._dir(model_key)
            for shard in sorted(d.glob("part-*.parquet")) if d.exists() else []:
                for row, h in enumerate(pq.read_table(shard, columns=["h"]).column("h").to_pylist()):
                    index.setdefault(h, (shard, row))
            self._index[model_key] = index
        return self._index[model_key]

    def _get(self, model_key: str, hashes: list[str]) -> dict[str, np.ndarray]:
        import pyarrow.parquet as pq

        index = self._load_index(model_key)
        by_shard: dict[Path, list[tuple[str, int]]] = {}
        for h in hashes:
            if h in index:
                shard, row = index[h]
                by_shard.setdefault(shard, []).append((h, row))
        found = {}
        for shard, wanted in by_shard.items():
            col = pq.read_table(shard, columns=["v"]).column("v").combine_chunks()
            mat = col.flatten().to_numpy().reshape(len(col), -1)
            found.update((h, mat[row]) for h, row in wanted)
        return found

    def _put(self, model_key: str, hashes: list[str], vecs: np.ndarray) -> None:
        import os
        import uuid

        import pyarrow as pa
        import pyarrow.parquet as pq

        d = self._dir(model_key)
        d.mkdir(parents=True, exist_ok=True)
        flat = pa.array(np.ascontiguousarray(vecs, dtype=np.float32).reshape(-1))
        table = pa.table({"h": pa.array(hashes, pa.string()),
                          "v": pa.FixedSizeListArray.from_arrays(flat, vecs.shape[1])})
        final = d / f"part-{len(list(d.glob('part-*.parquet'))):06d}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = final.with_suffix(".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, final)
        index = self._load_index(model_key)
        for row, h in enumerate(hashes):
            index[h] = (final, row)

    def close(self) -> None:
        self._index.clear()


def open_cache(home: Path, sharded: bool = False):
    """The home's embedding cache: parquet shards when the corpus is encoded on Ray (`--ray`), else SQLite."""
    mira = Path(home) / ".mira"
    return ShardedEmbeddingCache(mira / "embeddings") if sharded else EmbeddingCache(mira / "embeddings.sqlite")
