"""Shared CLI pieces: console, common options, error handling."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from ..store import DatasetStore

console = Console()
err_console = Console(stderr=True)

HomeOpt = Annotated[Optional[Path], typer.Option("--home", help="Mira home (default: $MIRA_HOME, else the current "
                                                 "directory); datasets live in HOME/datasets.", show_default=False)]


def store_for(home: Path | None) -> DatasetStore:
    return DatasetStore(home)


def short(text: str | None, n: int = 80) -> str:
    text = (text or "").replace("\n", " ⏎ ")
    return text if len(text) <= n else text[: n - 1] + "…"
