"""The requirement lexicon: `prompts/requirements/lexicon.yaml` (found like a prompt: `--prompts` / MIRA_PROMPTS,
<home>/prompts, then the bundled copy), compiled once per content and versioned by its content hash."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

import yaml

from ..errors import InputError
from ..prompts import load_prompt
from ..textcheck import terms

NAME = "requirements/lexicon.yaml"
_LISTS = ("degree_generic", "degree_alternative", "certifications", "negation", "preferred", "must",
          "headings_preferred", "headings_must", "headings_other", "requirement_words", "role_subject_end",
          "language_cues", "work_mode", "clearance", "travel", "cv_lacks")


@dataclass(frozen=True, eq=False)  # hashed by identity: one compiled lexicon per content (lru_cache)
class Lexicon:
    rx: dict[str, re.Pattern]          # one alternation per list
    degrees: tuple[tuple[int, str, re.Pattern], ...]  # (level, name, pattern), highest first
    cert_filler: frozenset[str]
    languages: tuple[str, ...]
    hash: str
    same_meaning: tuple[tuple[tuple[str, ...], ...], ...] = ()  # groups of phrases, each as its key terms

    def degree_level(self, text: str) -> int:
        """The highest degree level a text names (0 none)."""
        return next((lvl for lvl, _, rx in self.degrees if rx.search(text)), 0)

    def degree_name(self, level: int) -> str:
        return next((n for lvl, n, _ in self.degrees if lvl == level), "none")

    def has(self, key: str, text: str) -> re.Match | None:
        return self.rx[key].search(text)


def _alt(path: str, key: str, pats: list) -> re.Pattern:
    if not isinstance(pats, list) or not pats:
        raise InputError(f"{path}: '{key}' needs a non-empty list of regular expressions.")
    try:
        return re.compile(r"(?<![\w])(?:" + "|".join(f"(?:{p})" for p in pats) + r")(?![\w])", re.I)
    except re.error as e:
        raise InputError(f"{path}: '{key}': an entry is not a valid regular expression ({e}).") from e


def parse_yaml(path: str, text: str):
    """A lexicon file's YAML, or an error naming the file."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not valid YAML ({e}).") from e


@lru_cache(maxsize=8)
def _compile(path: str, text: str) -> Lexicon:
    raw = parse_yaml(path, text)
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a mapping of lists.")
    missing = [k for k in (*_LISTS, "degrees", "languages", "certification_filler") if k not in raw]
    if missing:
        raise InputError(f"{path}: missing key(s) {', '.join(missing)}.")
    rx = {k: _alt(path, k, raw[k]) for k in _LISTS}
    rx["languages"] = _alt(path, "languages", raw["languages"])
    degrees = []
    for i, d in enumerate(raw["degrees"]):
        if not isinstance(d, dict) or not {"level", "name", "patterns"} <= set(d):
            raise InputError(f"{path}: degrees[{i}] needs level, name and patterns.")
        degrees.append((int(d["level"]), str(d["name"]), _alt(path, f"degrees[{i}]", d["patterns"])))
    return Lexicon(rx, tuple(sorted(degrees, key=lambda x: -x[0])), frozenset(map(str, raw["certification_filler"])),
                   tuple(raw["languages"]), hashlib.sha256(text.encode("utf-8")).hexdigest()[:16],
                   _same_meaning(path, raw.get("same_meaning") or []))


def _same_meaning(path: str, groups) -> tuple[tuple[tuple[str, ...], ...], ...]:
    """`same_meaning`: a list of groups, each a list of at least two plain phrases that say the same thing; each
    phrase kept as its key terms (a phrase with none is an error: it could never be found)."""
    if not isinstance(groups, list):
        raise InputError(f"{path}: 'same_meaning' needs a list of groups (each a list of phrases).")
    out = []
    for i, g in enumerate(groups):
        if not isinstance(g, list) or len(g) < 2:
            raise InputError(f"{path}: same_meaning[{i}] needs a list of at least two phrases.")
        phrases = tuple(tuple(terms(str(x))) for x in g)
        empty = [str(x) for x, t in zip(g, phrases) if not t]
        if empty:
            raise InputError(f"{path}: same_meaning[{i}]: {', '.join(map(repr, empty))} has no content word to "
                             f"look for (words like 'skills' or 'strong' are ignored).")
        out.append(phrases)
    return tuple(out)


def load_lexicon(name: str = NAME) -> Lexicon:
    p = load_prompt(name)
    return _compile(str(p.path), p.text)
