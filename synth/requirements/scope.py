"""Reading a job text's ownership / scope level from its words: stage 1's scope level and stage 4's check read it
here, so both use one cue lexicon.

The cue lexicon is `prompts/jd/scope_cues.yaml` (levels assists < contributes < leads < owns, one list of regular
expressions each); a cue preceded in its clause, within five words, by a negation does not count. The level of a
text is the highest level with a counted cue; with no cue the text is ambiguous (`None`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import InputError
from ..prompts import load_prompt
from .lexicon import parse_yaml

SCOPES = ("assists", "contributes", "leads", "owns")  # lowest to highest

_NEGATION = re.compile(r"\b(no|not|without|never|nor|neither|non)\b[^.;:\n]*$", re.I)


@dataclass(frozen=True)
class ScopeCues:
    patterns: dict[str, tuple[re.Pattern, ...]]
    hash: str

    def found(self, text: str) -> dict[str, list[str]]:
        """The counted cues of each level, as the text words them."""
        out: dict[str, list[str]] = {}
        for level in SCOPES:
            for pat in self.patterns[level]:
                for m in pat.finditer(text):
                    before = text[max(0, m.start() - 80):m.start()]
                    clause = re.split(r"[.;:\n]", before)[-1]
                    if _NEGATION.search(" ".join(clause.split()[-5:])):
                        continue
                    out.setdefault(level, []).append(m.group(0))
        return out

    def level(self, text: str) -> str | None:
        found = self.found(text)
        return max(found, key=SCOPES.index) if found else None


@lru_cache(maxsize=8)
def _load(path: str, text: str) -> ScopeCues:
    raw = parse_yaml(path, text)
    if not isinstance(raw, dict) or set(raw) != set(SCOPES):
        raise InputError(f"{path}: needs exactly the levels {', '.join(SCOPES)}, each a list of regular expressions.")
    pats = {}
    for level in SCOPES:
        try:
            pats[level] = tuple(re.compile(rf"\b(?:{p})\b", re.I) for p in raw[level] or [])
        except re.error as e:
            raise InputError(f"{path}: level '{level}': a cue is not a valid regular expression ({e}).") from e
    return ScopeCues(pats, hashlib.sha256(text.encode("utf-8")).hexdigest()[:16])


def load_cues(name: str | Path = "jd/scope_cues.yaml") -> ScopeCues:
    p = load_prompt(name)
    return _load(str(p.path), p.text)
