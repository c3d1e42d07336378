"""Content-addressed answer cache (SQLite under `<home>/.mira/`).

The key is a hash of the prompt file's content hash, the Signature (instructions, fields, demos), the inputs, the
model and its parameters, and the re-ask index; editing one prompt file invalidates exactly the entries that used it.
Entries hold the parsed fields (or the parse error) and the raw answer, never request headers or keys.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from ..records import canonical_json


def _jsonable(v: Any) -> Any:
    if hasattr(v, "toDict"):
        v = v.toDict()
    if hasattr(v, "model_dump"):
        v = v.model_dump()
    return v


def signature_fingerprint(module) -> str:
    """Hash of every predictor's instructions, fields (names, types, descriptions) and demos."""
    parts = []
    for name, pred in module.named_predictors():
        sig = pred.signature
        fields = [(fname, str(f.annotation), {k: str(v) for k, v in (f.json_schema_extra or {}).items()})
                  for fname, f in sig.fields.items()]
        parts.append({"predictor": name, "signature": sig.__name__, "instructions": sig.instructions,
                      "fields": fields, "demos": [_jsonable(d) for d in (pred.demos or [])]})
    return hashlib.sha256(canonical_json(parts).encode()).hexdigest()


def call_key(*, prompt_hash: str | None, signature_hash: str, inputs: dict, lm: dict, attempt: int,
             rollout: int | str | None = None, grounding: dict | None = None) -> str:
    payload = {"prompt": prompt_hash, "signature": signature_hash, "inputs": inputs, "lm": lm,
               "attempt": attempt, "rollout": rollout}
    if grounding:  # the decoder's constraints are part of the request (keys without them are unchanged)
        payload["grounding"] = grounding
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


class AnswerCache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                        "created REAL NOT NULL)")

    def get(self, key: str) -> dict | None:
        row = self.db.execute("SELECT value FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict) -> None:
        self.db.execute("INSERT OR REPLACE INTO answers (key, value, created) VALUES (?, ?, ?)",
                        (key, json.dumps(value, ensure_ascii=False, default=str), time.time()))

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        self.db.close()
