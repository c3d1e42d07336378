"""Shared by the first-hour tests (#33): `mira` in a subprocess, as a new user runs it (output to a pipe, not a
terminal), from this checkout, with an isolated home."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "datasets" / "_raw"


def env_for(home: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "MIRA_LM", "MIRA_API_BASE")}
    env.update(PYTHONPATH=str(ROOT), MIRA_HOME=str(home), HF_HUB_OFFLINE="1", LITELLM_LOCAL_MODEL_COST_MAP="True",
               **extra)
    return env


def mira(home: Path, *args, timeout: float = 180, cwd: Path = ROOT, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mira.cli", *map(str, args)], capture_output=True, text=True,
                          env=env_for(home, **env), timeout=timeout, cwd=cwd)


def mira_patched(home: Path, prelude: str, *args, timeout: float = 120) -> subprocess.CompletedProcess:
    """`mira ARGS` after `prelude` ran in the same process (e.g. to make the file system refuse writes)."""
    code = f"import sys\n{prelude}\nfrom mira.cli import main\nsys.argv = ['mira', *{list(map(str, args))!r}]\nmain()\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env_for(home),
                          timeout=timeout, cwd=ROOT)


def one_error_line(r: subprocess.CompletedProcess) -> str:
    """The run's stderr, asserted to be a single 'Error: ...' line with no traceback."""
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
    return lines[0]


def table_value(text: str, row: str) -> int:
    """The integer in a rich table row `│ row │ N │` (first match)."""
    m = re.search(r"│ " + re.escape(row) + r"\s+│\s+(\d+) │", text)
    assert m, f"no row {row!r} in:\n{text}"
    return int(m.group(1))
