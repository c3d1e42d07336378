"""What `--model` / `--models` name, parsed once: an encoder (a model folder, or `zero-shot` for the offline MiniLM)
and optionally a BoundaryHead folder, written `MODEL+HEAD` or given apart (`--head`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from synth.errors import InputError

from .backbones import DEFAULT_BACKBONE

ZERO_SHOT = ("zero-shot", "zeroshot", DEFAULT_BACKBONE)


@dataclass(frozen=True)
class ModelSpec:
    model: str
    head: str | None = None

    @classmethod
    def parse(cls, spec: str, head: str | None = None) -> "ModelSpec":
        """`MODEL`, `MODEL+HEAD`, or `MODEL` with `head` given apart (both at once must agree)."""
        model, plus, inline = (s.strip() for s in spec.partition("+"))
        if not model or (plus and not inline):
            raise InputError(f"Model '{spec}': write a model folder or 'zero-shot', optionally +HEAD_FOLDER.")
        if head and inline and Path(head) != Path(inline):
            raise InputError(f"Model '{spec}' names the head {inline} and --head names {head}: give one.")
        return cls(model, inline or head or None)

    @property
    def zero_shot(self) -> bool:
        return self.model in ZERO_SHOT

    def __str__(self) -> str:
        return self.model + (f"+{self.head}" if self.head else "")

    @property
    def label(self) -> str:
        """Short, for plot legends: the model folder's name, '+ head' when there is one."""
        return Path(self.model).name + (" + head" if self.head else "")

    @property
    def slug(self) -> str:
        """For dataset and file names."""
        return re.sub(r"[^a-z0-9]+", "-", Path(self.model).name.lower() + ("-head" if self.head else "")
                      ).strip("-")[:40] or "model"
