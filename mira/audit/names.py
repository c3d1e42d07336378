"""Names files and counterfactual CVs.

A variant of a CV changes exactly this and nothing else:
- the candidate's name, found by the redactor's detector (`judge.redact.find_name`): every spelling found (e.g.
  "Jane Q. Doe" and "Jane Doe") becomes the new full name; then the old first and last word, wherever they stand
  alone (case as written, Title or CAPITALS), become the new first and last name;
- the old first or last name inside an e-mail address or URL (any case) becomes the new one in lower case, so the
  address does not give the old name away;
- gendered third-person pronouns and honorifics, only when the target group has a gender and the CV has them:
  he/she, him/her, his/her, himself/herself, hers/his, Mr./Ms. (Mrs. and Miss become Mr.). "her" becomes "his"
  before a word and "him" otherwise. A CV in the first person, as most are, has none to change.
A CV where no name is found is excluded and reported, never given a guessed name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from judge.redact import EMAIL, URL, NameHit, find_name
from synth.errors import InputError

GENDERS = ("male", "female")


@dataclass(frozen=True)
class Group:
    name: str
    names: tuple[str, ...]
    gender: str | None = None  # "male" / "female": pronouns follow; None: pronouns are left alone


def default_names_path() -> Path:
    return Path(str(resources.files("mira.audit") / "data" / "names.json"))


def _gender_of(group: str) -> str | None:
    tail = group.rsplit("_", 1)[-1].upper() if "_" in group else ""
    return {"M": "male", "MALE": "male", "F": "female", "W": "female", "FEMALE": "female"}.get(tail)


def load_names(path: str | Path | None = None) -> dict[str, Group]:
    """A names file: `{GROUP: [full names]}` (a group whose key ends in _M / _F / _W is taken as men's / women's
    names) or `{"groups": {GROUP: {"names": [...], "gender": "male"|"female"|null}}}`. Errors name the file and the
    field."""
    path = Path(path) if path else default_names_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"Cannot read the names file {path}: {e.strerror}.") from None
    except ValueError as e:
        raise InputError(f"{path}: not valid JSON (line {getattr(e, 'lineno', '?')}: {e}).") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected an object of group -> list of full names.")
    spec = raw.get("groups", raw)
    groups = {}
    for g, v in spec.items():
        if g.startswith("_"):
            continue
        names, gender = (v.get("names"), v.get("gender")) if isinstance(v, dict) else (v, _gender_of(g))
        if not isinstance(names, list) or not names:
            raise InputError(f"{path}: group '{g}' needs a non-empty list of full names.")
        for i, n in enumerate(names):
            if not isinstance(n, str) or len(n.split()) < 2:
                raise InputError(f"{path}: group '{g}', name {i + 1} ({n!r}): give a full name (first and last).")
        if gender not in (None, *GENDERS):
            raise InputError(f"{path}: group '{g}': gender must be male, female or null, not {gender!r}.")
        groups[g] = Group(g, tuple(" ".join(n.split()) for n in names), gender)
    if len(groups) < 2:
        raise InputError(f"{path}: an audit compares groups; give at least two (found {len(groups)}).")
    return groups


_PRONOUNS = {"male": {"she": "he", "hers": "his", "herself": "himself", "ms.": "mr.", "mrs.": "mr.", "miss": "mr."},
             "female": {"he": "she", "him": "her", "his": "her", "himself": "herself", "mr.": "ms."}}
_PRONOUN_RX = re.compile(r"\b(she|he|him|his|hers|herself|himself|her|mr\.|ms\.|mrs\.|miss)(?=\W|$)(\s+\w)?", re.I)


def _swap_pronouns(text: str, gender: str) -> str:
    table = _PRONOUNS[gender]

    def one(m: re.Match) -> str:
        word, after = m.group(1), m.group(2) or ""
        low = word.lower()
        new = ("his" if after else "him") if (low == "her" and gender == "male") else table.get(low)
        if new is None:
            return m.group(0)
        new = new.capitalize() if word[0].isupper() else new
        return new + after
    return _PRONOUN_RX.sub(one, text)


def _whole(word: str) -> re.Pattern:
    return re.compile(rf"(?<![\w@.]){re.escape(word)}(?![\w@])")


def counterfactual(text: str, hit: NameHit, new_name: str, gender: str | None = None) -> str:
    """The CV with the name `hit` replaced by `new_name` (and pronouns set to `gender`): see the module docstring."""
    first, last = new_name.split()[0], new_name.split()[-1]
    for form in sorted(hit.forms, key=len, reverse=True):
        text = _whole(form).sub(new_name, text)
    words = {}
    for form in hit.forms:
        words[form.split()[0]], words[form.split()[-1]] = first, last
    for old in sorted(words, key=len, reverse=True):
        if len(old.strip(".")) < 2:
            continue  # an initial
        new = words[old]
        for o, n in ((old.title(), new), (old.upper(), new.upper()), (old, new)):
            text = _whole(o).sub(n, text)

    def in_address(m: re.Match) -> str:
        s = m.group(0)
        for old in sorted(words, key=len, reverse=True):
            if len(old) > 2:
                s = re.sub(re.escape(old), words[old].lower(), s, flags=re.I)
        return s
    text = EMAIL.sub(in_address, text)
    text = URL.sub(in_address, text)
    return _swap_pronouns(text, gender) if gender else text


@dataclass
class Variant:
    cv_id: str
    group: str
    name: str
    text: str


def variants_for(cvs: list[dict], groups: dict[str, Group], per_group: int | None = None
                 ) -> tuple[list[Variant], list[dict]]:
    """Every CV's variants (one per name of every group; `per_group` names of each when given: the first ones,
    so every CV gets the same names) and the excluded CVs with the reason."""
    out, excluded = [], []
    for cv in cvs:
        hit = find_name(cv["text"])
        if hit is None:
            excluded.append({"cv_id": cv["id"], "reason": "no name found (first line, Name: field or **emphasis**)"})
            continue
        for g in groups.values():
            for n in g.names[:per_group] if per_group else g.names:
                out.append(Variant(cv["id"], g.name, n, counterfactual(cv["text"], hit, n, g.gender)))
    return out, excluded
