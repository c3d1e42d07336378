"""Prompt files: every instruction Mira sends lives in prompts/ and is versioned by its content hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .paths import PROMPTS_DIR


@dataclass(frozen=True)
class Prompt:
    name: str
    text: str
    path: Path

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]


def load_prompt(name_or_path: str | Path, root: Path = PROMPTS_DIR) -> Prompt:
    """`jd/extract` (under prompts/, `.md` implied) or a path to any file."""
    p = Path(name_or_path)
    candidates = [p] if p.suffix else [p, root / f"{p}.md", root / p]
    if not p.is_absolute() and p.suffix:
        candidates.append(root / p)
    for c in candidates:
        if c.is_file():
            return Prompt(str(name_or_path), c.read_text(encoding="utf-8").strip(), c)
    raise InputError(f"Prompt '{name_or_path}' not found (looked in {root}).")
