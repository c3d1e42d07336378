"""Checks that read generated text: is a requirement's content there, is a quote really in its source, how much of
one text another contains. Pure Python (no LLM, no dspy): the synthesis stages and the judge share it.

- `terms(text)`: key terms (content words, abbreviations expanded, light stemming, in order, deduplicated).
- `present(value, text)`: every content unit of `value` is in `text`: each key term, and each number together with
  the word it counts ("5+ years" needs a 5 followed within three words by "year"; "five" counts as 5).
- `quote_in(quote, source)`: the quote occurs in the source after case / whitespace / punctuation normalisation.
- `containment(a, b)`: shared word 3-shingles / shingles of the shorter text (a near-copy plus one added sentence
  scores ~1.0, where Jaccard would score ~0.5).
- `title_in(title, text)`: the normalised title (abbreviations expanded) occurs as a phrase of the normalised text.
"""

from __future__ import annotations

import re
from functools import lru_cache

ABBREV = {"sr": "senior", "jr": "junior", "mgr": "manager", "eng": "engineer", "engr": "engineer",
          "dev": "developer", "sw": "software", "swe": "software engineer", "admin": "administrator",
          "asst": "assistant", "assoc": "associate", "dir": "director", "vp": "vice president",
          "exec": "executive", "rep": "representative", "spec": "specialist", "coord": "coordinator",
          "tech": "technician", "ops": "operations", "mktg": "marketing", "acct": "accountant", "hr": "human resources",
          "rn": "registered nurse", "ml": "machine learning", "ai": "artificial intelligence", "qa": "quality assurance"}

# the title abbreviations, plus those of qualifications and skills
TERM_ABBREV = {**ABBREV, "ba": "bachelor", "bs": "bachelor", "bsc": "bachelor", "bachelors": "bachelor",
               "ma": "master", "ms": "master", "msc": "master", "masters": "master", "mba": "master business",
               "phd": "doctorate", "cs": "computer science", "js": "javascript", "ts": "typescript",
               "k8s": "kubernetes", "pm": "project management", "cpa": "certified public accountant",
               "ux": "user experience", "ui": "user interface", "db": "database", "mgmt": "management"}

# words that say nothing about *which* requirement a text states
GENERIC = set("""a an and or the of in on at to for with without from by as is are be been will would should must can
could may might this that these those their its our your you we they he she it who which what when where how than
then also such other any all each every more most less least plus etc eg ie including include includes included
experience experienced years year yrs yr ability able strong good excellent solid proven demonstrated knowledge
understanding familiarity familiar skills skill work working worked related relevant field fields equivalent
practical preferred required requirement requirements minimum qualification qualifications one two three four five
six seven eight nine ten several various using use used within across both either least level high new well based
degree""".split())

NUMBER_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
                "eight": "8", "nine": "9", "ten": "10", "twelve": "12", "fifteen": "15", "twenty": "20"}
_RAW = re.compile(r"[a-z0-9][a-z0-9+#.]*[a-z0-9+#]|[a-z0-9]")
# "MS" is a master's degree except before a Microsoft product ("MS Office", "MS Excel")
_MS = re.compile(r"\bms(?=[\s-]+(?:office|word|excel|powerpoint|outlook|access|project|sql|teams|azure|dynamics|visio|"
                 r"sharepoint|exchange|windows|dos)\b)")


def _words(text: str) -> list[str]:
    return _RAW.findall(_MS.sub("microsoft", text.lower()))


def stem(word: str) -> str:
    """Light, deterministic stemming so 'developing' / 'developed' / 'develops' / 'development' meet."""
    w = word.lower()
    for suf in ("ational", "ization", "ations", "ation", "ments", "ment", "ings", "ing", "ies", "ied", "ers", "er",
                "ed", "es", "s"):
        if suf == "s" and w[-2:] in ("ss", "us", "is"):  # 'business', 'virus', 'analysis' are not plurals
            break
        if len(w) - len(suf) >= 4 and w.endswith(suf):
            return w[: -len(suf)] + ("y" if suf in ("ies", "ied") else "")
    return w


@lru_cache(maxsize=4096)
def _stream(text: str) -> tuple[str, ...]:
    """Every word of the text in order: abbreviations expanded, number words as digits, stemmed (stopwords kept)."""
    out = []
    for raw in _words(text):
        raw = re.sub(r"^(\d+)\+$", r"\1", raw.rstrip("."))
        for w in TERM_ABBREV.get(raw, raw).split():
            out.append(NUMBER_WORDS.get(w) or (w if w.isdigit() else stem(w)))
    return tuple(out)


def terms(text: str) -> list[str]:
    """Key terms of a text: content words, abbreviations expanded, stemmed, in order, deduplicated."""
    out: list[str] = []
    for raw in _words(text):
        for w in TERM_ABBREV.get(raw, raw).split():
            if w in GENERIC or re.fullmatch(r"[\d.]+\+?", w) or len(w) < 2:
                continue
            s = stem(w)
            if s not in out:
                out.append(s)
    return out


def _units(value: str) -> list[tuple[str, str | None]]:
    """Content units: (term, None) for each key term; (number, counted word or None) for each number."""
    words = _stream(value)
    units: list[tuple[str, str | None]] = [(t, None) for t in terms(value)]
    for i, w in enumerate(words):
        if w.isdigit():
            nxt = next((x for x in words[i + 1:i + 3] if not x.isdigit() and x not in ("or", "to", "of", "and")),
                       None)
            units.append((w, nxt))
    return units


def missing_units(value: str, text: str) -> list[str]:
    """The content units of `value` that `text` lacks (empty when the value is present)."""
    stream = _stream(text)
    have = set(stream)
    missing = []
    for unit, counted in _units(value):
        if counted is None:
            if unit not in have:
                missing.append(unit)
        elif not any(w == unit and counted in stream[i + 1:i + 5] for i, w in enumerate(stream)):
            missing.append(f"{unit} {counted}")
    return missing


def present(value: str, text: str) -> bool:
    """Is the content of `value` in `text`? False for a value with no content unit (nothing to check)."""
    return bool(_units(value)) and not missing_units(value, text)


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9+#]+", text.lower()))


def phrase_in(phrase: str, source: str) -> bool:
    """The phrase, normalised, occurs as whole words in the normalised source."""
    q = _norm(phrase)
    return bool(q) and f" {q} " in f" {_norm(source)} "


def quote_in(quote: str, source: str) -> bool:
    """The quote, normalised, occurs in the normalised source (at least two words: 'and' is not a quote)."""
    return len(_norm(quote).split()) >= 2 and phrase_in(quote, source)


def shingles(text: str, k: int = 3) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    if len(words) < k:
        return {tuple(words)} if words else set()
    return {tuple(words[i:i + k]) for i in range(len(words) - k + 1)}


def containment(a: str, b: str, k: int = 3, ignore: str = "") -> float:
    """Shared word k-shingles / the shingles of the shorter text: 1.0 when one text holds the other. Shingles of
    `ignore` (text both must share, e.g. the title and requirement values) are left out of both."""
    skip = shingles(ignore, k) if ignore else set()
    sa, sb = shingles(a, k) - skip, shingles(b, k) - skip
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / min(len(sa), len(sb))


def norm_title(title: str | None) -> str:
    """Lower case, punctuation removed, common abbreviations expanded ("Sr. Data Eng" == "Senior Data Engineer")."""
    words = re.findall(r"[a-z0-9+#]+", (title or "").lower())
    return " ".join(ABBREV.get(w, w) for w in words)


def title_in(title: str, text: str) -> bool:
    """The anchor's normalised title occurs, as a whole phrase, in the normalised text."""
    t = norm_title(title)
    return bool(t) and f" {t} " in f" {norm_title(text)} "


_EN_STOP = {"the", "and", "to", "of", "a", "in", "for", "with", "you", "our", "is", "are", "will", "be", "on", "or",
            "as", "an", "we", "your", "this", "that", "by", "at", "from", "all", "who", "their", "have", "has"}


def looks_english(text: str, share: float = 0.08, at_least: int = 1) -> bool:
    """At least `share` of the words, and `at_least` of them, are common English function words: English prose, not
    a word list, another language or gibberish (a job description in English runs at 20-35%)."""
    words = re.findall(r"[a-z]+", text.lower())
    hits = sum(w in _EN_STOP for w in words)
    return bool(words) and hits >= at_least and hits / len(words) >= share


def prose_problem(text: str, given: list[str]) -> str | None:
    """A generated text's own words (the `given` strings it had to contain left out) must read as English prose."""
    rest = text
    for g in sorted((x for x in given if x), key=len, reverse=True):
        rest = re.sub(re.escape(g), " ", rest, flags=re.I)
    if len(re.findall(r"[A-Za-z]+", rest)) < 8:
        return "the text has almost nothing besides the title and requirements: write the job description in full"
    if not looks_english(rest, at_least=3):
        return "the text does not read as English prose: write the job description in plain English sentences"
    if _META.search(rest):
        return ("the text talks about the writing task instead of the job: write the job description itself, "
                "not a note about rewriting it")
    return None


# a model describing its own task ("This is a job description that I will rewrite ...", "Here is the rewritten
# ...") instead of writing the posting: English prose that is no job description
_META = re.compile(r"\b(I will (re)?write|I'll (re)?write|I (have )?(re)?written|here is (the|a|my) (re)?writ\w*|"
                   r"rewritten (job description|version|text)|the original (job description|text|anchor)|"
                   r"this is a job description (that|which)|as an AI)\b", re.I)
