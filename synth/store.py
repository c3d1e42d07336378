"""The dataset store: immutable, content-addressed dataset versions under ``<home>/datasets/<name>/<version>/``.

Each version holds ``records.jsonl``, ``manifest.json`` and ``rejects.jsonl``. The version id is a hash of the kind and
the canonical records, so the same records always give the same version, and writing them twice creates nothing new.
Writes stream into a temporary folder and appear with one atomic rename; an interrupted write leaves no version.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

from . import __version__
from .errors import DatasetNotFound, InputError, SchemaError, VersionExists
from .records import KINDS, SCHEMA_VERSION, canonical_json, validate, validation_error

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
VERSION_LEN = 12
SECRET_FLAGS = re.compile(r"(--?[\w-]*(key|token|secret|password)[\w-]*)(=|\s+)\S+", re.I)


def mira_home(home: str | Path | None = None) -> Path:
    """`--home`, else `$MIRA_HOME`, else the current directory."""
    return Path(home or os.environ.get("MIRA_HOME") or ".").expanduser().resolve()


def home_hint() -> str:
    return "Mira writes under its home: point --home (or $MIRA_HOME) at a writable folder."


@lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus the git commit of the checkout, when there is one."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


def current_command() -> str:
    """The command line that is running, with any secret-looking flag value masked."""
    argv = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    return SECRET_FLAGS.sub(lambda m: f"{m.group(1)}{m.group(3)}***", argv)


@dataclass
class Version:
    """One immutable dataset version."""

    name: str
    version: str
    path: Path
    manifest: dict = field(repr=False)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def count(self) -> int:
        return self.manifest["count"]

    @property
    def records_path(self) -> Path:
        return self.path / "records.jsonl"

    def iter_records(self, check: bool = True) -> Iterator[dict]:
        """Stream the records; with `check`, each is validated against its kind's schema (error names file:line)."""
        with open(self.records_path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                where = f"{self.records_path}:{lineno}"
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise SchemaError(where, "<line>", f"not valid JSON ({e.msg})") from None
                if check:
                    validate(self.kind, rec, where)
                yield rec

    def records(self, check: bool = True) -> list[dict]:
        return list(self.iter_records(check))

    def by_id(self, check: bool = True) -> dict[str, dict]:
        return {r["id"]: r for r in self.iter_records(check)}

    def iter_rejects(self) -> Iterator[dict]:
        p = self.path / "rejects.jsonl"
        if p.exists():
            with open(p, encoding="utf-8") as fh:
                for line in fh:
                    yield json.loads(line)


class VersionWriter:
    """Streams records of one kind into a temporary folder; `commit()` makes them a version atomically.

    Use as a context manager: an exception (or a killed process) before `commit()` leaves no version behind.
    """

    def __init__(self, store: "DatasetStore", name: str, kind: str, manifest: dict | None = None,
                 exist_ok: bool = True):
        if not NAME_RE.match(name):
            raise InputError(f"Invalid dataset name '{name}': use lower-case letters, digits, '.', '_' or '-' "
                             "(at most 64, starting with a letter or digit).")
        if kind not in KINDS:
            raise InputError(f"Unknown record kind '{kind}' (known: {', '.join(KINDS)}).")
        self.store, self.name, self.kind, self.exist_ok = store, name, kind, exist_ok
        self.manifest = dict(manifest or {})
        self.tmp = store.root / ".tmp" / f"{name}-{uuid.uuid4().hex[:8]}"
        self.tmp.mkdir(parents=True)
        self._records = open(self.tmp / "records.jsonl", "w", encoding="utf-8")
        self._rejects = open(self.tmp / "rejects.jsonl", "w", encoding="utf-8")
        self._hash = hashlib.sha256(f"{kind}\n".encode())
        self.count = 0
        self.reject_count = 0
        self.duplicate_count = 0
        self.ids: set[str] = set()
        self.version: Version | None = None

    def add(self, record: dict, where: str | None = None) -> None:
        """Validate and append one record; a schema violation raises SchemaError naming `where` and the field."""
        validate(self.kind, record, where or f"{self.name} record {self.count + 1}")
        if record["id"] in self.ids:
            raise SchemaError(where or f"{self.name} record {self.count + 1}", "id",
                              f"duplicate id '{record['id']}' in one version")
        self.ids.add(record["id"])
        line = canonical_json(record) + "\n"
        self._hash.update(line.encode("utf-8"))
        self._records.write(line)
        self.count += 1

    def check(self, record: dict) -> tuple[str, str] | None:
        """(field, message) when the record would be refused by `add`, else None."""
        return validation_error(self.kind, record)

    def reject(self, reason: str, *, stage: str | None = None, where: str | None = None, **details: Any) -> None:
        """Keep an input that did not make it, with its reason (and whatever raw data helps to fix it)."""
        rec = {"reason": reason, "stage": stage, "where": where, **details}
        self._rejects.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
        if stage == "dedup":
            self.duplicate_count += 1
        else:
            self.reject_count += 1

    def commit(self) -> Version:
        self._records.close()
        self._rejects.close()
        version = self._hash.hexdigest()[:VERSION_LEN]
        target = self.store.root / self.name / version
        m = {"name": self.name, "version": version, "kind": self.kind, "schema_version": SCHEMA_VERSION,
             "count": self.count, "rejected": self.reject_count, "duplicates": self.duplicate_count,
             "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "parents": [], "prompts": {}, "lm": None, "code_version": code_version(), "seed": None,
             "stages": {}, "command": current_command()}
        m.update(self.manifest)
        m.update({"name": self.name, "version": version, "kind": self.kind, "count": self.count})
        (self.tmp / "manifest.json").write_text(json.dumps(m, indent=2, ensure_ascii=False, default=str) + "\n")
        for f in self.tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            self._discard()
            if not self.exist_ok:
                raise VersionExists(f"Dataset version {self.name}@{version} already exists at {target}; "
                                    "versions are immutable.")
            self.version = self.store.get(self.name, version)
            self.created = False
            return self.version
        try:
            os.rename(self.tmp, target)
        except OSError:  # another writer won the race with the same content
            self._discard()
            if not self.exist_ok:
                raise VersionExists(f"Dataset version {self.name}@{version} already exists.") from None
        else:
            for f in target.iterdir():
                f.chmod(0o444)
        self.created = True
        self.version = self.store.get(self.name, version)
        return self.version

    def _discard(self) -> None:
        for fh in (self._records, self._rejects):
            if not fh.closed:
                fh.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "VersionWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or self.version is None:
            self._discard()


class DatasetStore:
    """All dataset versions under one Mira home."""

    def __init__(self, home: str | Path | None = None):
        self.home = mira_home(home)
        self.root = self.home / "datasets"
        if self.home.exists() and not self.home.is_dir():
            raise InputError(f"The Mira home {self.home} is not a directory (from --home or $MIRA_HOME): point it at "
                             "a folder.")
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"{self.root} is not a directory: the Mira home {self.home} keeps its datasets there.")

    # -- writing ---------------------------------------------------------------------------------------------
    def writer(self, name: str, kind: str, manifest: dict | None = None, exist_ok: bool = True) -> VersionWriter:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-test-{uuid.uuid4().hex[:8]}"
            probe.touch()
            probe.unlink()
        except OSError as e:
            raise InputError(f"The Mira home {self.home} is not writable ({e.strerror or e}). {home_hint()}") from None
        return VersionWriter(self, name, kind, manifest, exist_ok)

    def write(self, name: str, kind: str, records: Iterable[dict], rejects: Iterable[dict] = (),
              manifest: dict | None = None, exist_ok: bool = True) -> Version:
        """Write records (and rejects) as one version; identical records give the existing version back."""
        with self.writer(name, kind, manifest, exist_ok) as w:
            for rec in records:
                w.add(rec)
            for rej in rejects:
                rej = dict(rej)
                w.reject(rej.pop("reason", "rejected"), **rej)
            return w.commit()

    # -- reading ---------------------------------------------------------------------------------------------
    def names(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and NAME_RE.match(p.name)
                      and any((v / "manifest.json").exists() for v in p.iterdir()))

    def versions(self, name: str) -> list[Version]:
        """Every version of `name`, oldest first."""
        d = self.root / name
        out = []
        if d.is_dir():
            for v in d.iterdir():
                mf = v / "manifest.json"
                if mf.exists():
                    out.append(Version(name, v.name, v, json.loads(mf.read_text())))
        return sorted(out, key=lambda v: (v.manifest.get("created_at", ""), v.version))

    def all_versions(self) -> list[Version]:
        return [v for n in self.names() for v in self.versions(n)]

    def get(self, name: str, version: str) -> Version:
        mf = self.root / name / version / "manifest.json"
        if not mf.exists():
            raise DatasetNotFound(f"{name}@{version}", self._suggest(name))
        return Version(name, version, mf.parent, json.loads(mf.read_text()))

    def resolve(self, ref: str, kind: str | tuple[str, ...] | None = None) -> Version:
        """`name`, `name@latest` or `name@<version prefix>` -> Version; unknown refs name the closest names."""
        name, _, want = ref.partition("@")
        versions = self.versions(name)
        if not versions:
            raise DatasetNotFound(ref, self._suggest(name))
        if want in ("", "latest"):
            found = versions[-1]
        else:
            hits = [v for v in versions if v.version.startswith(want)]
            if len(hits) > 1:
                raise InputError(f"'{ref}' is ambiguous: {', '.join(v.ref for v in hits)}.")
            if not hits:
                raise DatasetNotFound(ref, [v.ref for v in versions][-3:])
            found = hits[0]
        kinds = (kind,) if isinstance(kind, str) else kind
        if kinds and found.kind not in kinds:
            raise InputError(f"{found.ref} holds '{found.kind}' records; this needs {' or '.join(kinds)}.")
        return found

    def _suggest(self, name: str) -> list[str]:
        names = self.names()
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        return close or [n for n in names if name in n or n in name][:3]


def pool_members(store: DatasetStore, pool: Version) -> tuple[Version, Version]:
    """The `jd` and `cv` versions a pool version references."""
    refs = pool.manifest.get("refs") or {}
    if "jd" not in refs or "cv" not in refs:
        raise InputError(f"{pool.ref} does not name its jd / cv versions (manifest 'refs').")
    return store.resolve(refs["jd"], "jd"), store.resolve(refs["cv"], "cv")
