"""Record kinds, their JSON Schemas, stable ids and text normalisation."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from .errors import SchemaError

SCHEMA_DIR = Path(__file__).parent / "schemas"
SCHEMA_VERSION = 1
KINDS = ("jd", "cv", "pool", "jd_anchor", "jd_pair", "jdcv_triplet", "boundary_pair", "judgment", "label")

_CTRL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b-\u200d\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANKS = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """NFKC, no control / zero-width characters, single spaces inside lines, at most one blank line in a row."""
    text = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CTRL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stable_id(kind: str, text: str) -> str:
    """`<kind>-<16 hex>` from the normalised text: the same text always gets the same id."""
    return f"{kind}-{text_hash(normalize_text(text))[:16]}"


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@lru_cache(maxsize=None)
def schema(kind: str) -> dict:
    if kind not in KINDS:
        raise SchemaError("record", "kind", f"unknown kind '{kind}' (known: {', '.join(KINDS)})")
    return json.loads((SCHEMA_DIR / f"{kind}.json").read_text())


@lru_cache(maxsize=None)
def validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(schema(kind))


def validation_error(kind: str, record: dict) -> tuple[str, str] | None:
    """(field path, message) of the first schema violation, or None when the record is valid."""
    err = next(iter(validator(kind).iter_errors(record)), None)
    if err is None:
        return None
    path = ".".join(str(p) for p in err.absolute_path) or (
        err.message.split("'")[1] if err.validator == "required" else "<record>")
    return path, err.message


def validate(kind: str, record: dict, where: str = "record") -> None:
    """Raise SchemaError naming `where` (e.g. file:line) and the field when the record breaks its kind's schema."""
    problem = validation_error(kind, record)
    if problem:
        raise SchemaError(where, *problem)
