"""Where Mira's own files are: the prompts (stage instructions, the judge rubric, the scope cues), the committed
samples, and the real data beside the checkout.

Prompts are looked up file by file, first match wins:
1. `--prompts DIR` (the CLI sets `MIRA_PROMPTS`), else `$MIRA_PROMPTS`;
2. `<home>/prompts` (home: `$MIRA_HOME`, else the current directory), when it exists;
3. the bundled copy: `prompts/` of a checkout, or the `mira_prompts` folder an installed wheel carries.
A user's folder only needs the files they change (e.g. `jd/boundary.md`); lineage records each file's content hash,
so which copy was used is always on record. Samples come from `datasets/_raw/` of a checkout, or `mira_samples`.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError

_ROOT = Path(__file__).resolve().parent.parent
REPO_ROOT = _ROOT


def _first_dir(*candidates: Path) -> Path:
    return next((c for c in candidates if c.is_dir()), candidates[0])


BUNDLED_PROMPTS = _first_dir(_ROOT / "prompts", _ROOT / "mira_prompts")
SAMPLES_DIR = _first_dir(_ROOT / "datasets" / "_raw", _ROOT / "mira_samples")
PROMPTS_DIR = BUNDLED_PROMPTS  # the bundled copy (kept for callers that show where the defaults live)


def prompt_dirs() -> list[Path]:
    """The folders searched for a prompt file, in order (see the module docstring)."""
    dirs = []
    if os.environ.get("MIRA_PROMPTS"):
        user = Path(os.environ["MIRA_PROMPTS"]).expanduser()
        if not user.is_dir():
            raise InputError(f"Prompt folder {user} (--prompts / MIRA_PROMPTS) does not exist.")
        dirs.append(user)
    home = Path(os.environ.get("MIRA_HOME") or ".").expanduser() / "prompts"
    if home.is_dir() and home.resolve() != BUNDLED_PROMPTS.resolve():
        dirs.append(home)
    return dirs + [BUNDLED_PROMPTS]


def find_prompt_file(rel: str | Path) -> Path | None:
    """The first `rel` (e.g. `jd/extract.md`) found in `prompt_dirs()`, else None."""
    for d in prompt_dirs():
        if (d / rel).is_file():
            return d / rel
    return None


def sample_file(name: str) -> Path:
    p = SAMPLES_DIR / name
    if not p.exists():
        raise InputError(f"Sample {p} is missing: reinstall Mira (the wheel carries the samples in mira_samples/, a "
                         "checkout in datasets/_raw/).")
    return p


def data_dir() -> Path:
    """Real public data: $MIRA_DATA, default ../shared/data beside the checkout."""
    return Path(os.environ.get("MIRA_DATA") or REPO_ROOT.parent / "shared" / "data")
