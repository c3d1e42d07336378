"""Embeddings cached by model and text hash (SQLite under `<home>/.mira/embeddings.sqlite`): repeated evaluations
of the same model on the same texts encode nothing."""

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


class EmbeddingCache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS vecs (model TEXT, h TEXT, dim INTEGER, v BLOB, "
                        "PRIMARY KEY (model, h))")
        self.hits = self.misses = 0
        self.chunk = 4096

    def encode(self, model_key: str, texts: list[str], encode_fn) -> np.ndarray:
        """(n, d) float32 embeddings; only the texts this model has not embedded before are encoded."""
        hashes = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        found: dict[str, np.ndarray] = {}
        uniq = list(dict.fromkeys(hashes))
        for s in range(0, len(uniq), 500):
            chunk = uniq[s: s + 500]
            q = f"SELECT h, v FROM vecs WHERE model = ? AND h IN ({','.join('?' * len(chunk))})"
            for h, v in self.db.execute(q, [model_key, *chunk]):
                found[h] = np.frombuffer(v, dtype=np.float32)
        todo = [h for h in uniq if h not in found]
        self.hits += len(uniq) - len(todo)
        self.misses += len(todo)
        first = {h: t for h, t in zip(hashes, texts)}
        for s in range(0, len(todo), self.chunk):  # stored chunk by chunk: an interrupted encoding keeps its work
            part = todo[s: s + self.chunk]
            vecs = np.asarray(encode_fn([first[h] for h in part]), dtype=np.float32)
            self.db.execute("BEGIN")
            for h, v in zip(part, vecs):
                self.db.execute("INSERT OR REPLACE INTO vecs VALUES (?, ?, ?, ?)", (model_key, h, len(v), v.tobytes()))
                found[h] = v
            self.db.execute("COMMIT")
        return np.stack([found[h] for h in hashes]) if hashes else np.zeros((0, 0), dtype=np.float32)

    def close(self) -> None:
        self.db.close()
