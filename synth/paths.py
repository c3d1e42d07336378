"""Where the repository's own files are: prompts/, the committed samples, and the real data beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError

REPO_ROOT = Path(__file__).resolve().parent.parent
PROMPTS_DIR = REPO_ROOT / "prompts"
SAMPLES_DIR = REPO_ROOT / "datasets" / "_raw"


def sample_file(name: str) -> Path:
    p = SAMPLES_DIR / name
    if not p.exists():
        raise InputError(f"Sample {p} is missing: install Mira from a checkout (`pip install -e .`), "
                         "where datasets/_raw/ holds the committed samples.")
    return p


def data_dir() -> Path:
    """Real public data: $MIRA_DATA, default ../shared/data beside the checkout."""
    return Path(os.environ.get("MIRA_DATA") or REPO_ROOT.parent / "shared" / "data")
