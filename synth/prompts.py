"""Prompt files: every instruction Mira sends lives in prompts/ and is versioned by its content hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .paths import prompt_dirs


@dataclass(frozen=True)
class Prompt:
    name: str
    text: str
    path: Path

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]


def load_prompt(name_or_path: str | Path, root: Path | None = None) -> Prompt:
    """`jd/extract` (`.md` implied) looked up in the prompt folders (`--prompts` / `MIRA_PROMPTS`, `<home>/prompts`,
    then the bundled copy; or only `root` when given), or a path to any file."""
    p = Path(name_or_path)
    if p.is_absolute() or (p.suffix and p.is_file()):
        if p.is_file():
            return Prompt(str(name_or_path), p.read_text(encoding="utf-8").strip(), p)
        raise InputError(f"Prompt file {p} not found.")
    rels = [p] if p.suffix else [Path(f"{p}.md"), p]
    dirs = [root] if root else prompt_dirs()
    for d in dirs:
        for rel in rels:
            if (d / rel).is_file():
                c = d / rel
                return Prompt(str(name_or_path), c.read_text(encoding="utf-8").strip(), c)
    raise InputError(f"Prompt '{name_or_path}' not found (looked in {', '.join(str(d) for d in dirs)}).")
