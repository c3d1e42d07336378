"""Verifying a requirement against a text: met / unmet / unclear, the span that decides it, and one line saying why.

Years are compared as numbers against the CV's dated roles (overlaps merged; for a role or skill, only the roles
whose title / context carry its terms); degrees on the ladder; certifications, languages and skills by their
content terms found in one passage of the text (a line, or the CV span a quote was located at). `locate` finds an
LLM's quote in a text: exact after normalising case, spacing and markup, else the text's own span a near match
aligns with (rapidfuzz), which is then what gets read — never the quote's words.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from datetime import date
from functools import lru_cache

import snowballstemmer
from rapidfuzz import fuzz

from ..textcheck import terms
from .cv import merged_years, read_cv
from .lexicon import Lexicon, load_lexicon
from .model import Profile, Req, Role, Verdict

_WORD = re.compile(r"[a-z0-9+#]+")


def _normalised(text: str) -> tuple[str, list[int]]:
    """Lower-cased words of `text` joined by single spaces, and each character's offset in `text`."""
    out, pos = [], []
    for m in _WORD.finditer(text.lower()):
        if out:
            out.append(" ")
            pos.append(m.start())
        out.extend(m.group(0))
        pos.extend(range(m.start(), m.end()))
    return "".join(out), pos


def locate(quote: str, text: str, min_ratio: float = 85) -> tuple[int, int] | None:
    """(start, end) of the passage of `text` the quote stands for: where its normalised words occur (case, spacing,
    markup and punctuation ignored), else the span a fuzzy alignment of at least `min_ratio` matches, widened to
    whole words; None when neither. A one-word quote (a skills-list item, "SQL") must be a content term and is only
    matched exactly."""
    q, _ = _normalised(quote)
    one_word = len(q.split()) < 2
    if one_word and (len(q) < 2 or not terms(q)):  # one word must be a content term ("SQL", not "and")
        return None
    t, pos = _normalised(text)
    if not t:
        return None
    i = f" {t} ".find(f" {q} ")
    if i >= 0:
        return pos[i], pos[i + len(q) - 1] + 1
    if one_word:  # a skills-list item ("- SQL") is quoted exactly or not at all
        return None
    al = fuzz.partial_ratio_alignment(q, t)
    if al is None or al.score < min_ratio or al.dest_end <= al.dest_start:
        return None
    s, e = al.dest_start, al.dest_end
    while s > 0 and t[s - 1] != " ":
        s -= 1
    while e < len(t) and t[e] != " ":
        e += 1
    return pos[s], pos[e - 1] + 1


def _line_spans(text: str) -> list[tuple[int, int]]:
    out, p = [], 0
    for ln in text.split("\n"):
        if ln.strip():
            out.append((p, p + len(ln)))
        p += len(ln) + 1
    return out


# terms too common in every trade's CV to show a requirement alone ("develop", "manage", "system")
_WEAK = frozenset(terms("develop manage process design support system application service work team environment "
                        "technology principle method detail capable utilize practice variety platform project "
                        "customer client quality communication"))


@lru_cache(maxsize=262144)
def _snow(word: str) -> str:
    """Snowball's English stem (a kept stemmer, over textcheck's light one): 'persuasive' / 'persuasion',
    'creative' / 'creativity', 'neurology' / 'neurological', 'route' / 'routes' meet. A stemmer per word: its
    objects keep state, and the verifier runs in threads."""
    return snowballstemmer.stemmer("english").stemWord(word)


@lru_cache(maxsize=32768)
def _index(have: frozenset[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The Snowball stems of a set of terms and the terms in order, so `_has` looks words up instead of scanning
    them (the requirement head checks every requirement of a JD against a whole CV, for every candidate)."""
    return frozenset(_snow(w) for w in have), tuple(sorted(have))


def _has(term: str, have: set[str] | frozenset[str]) -> bool:
    """The term, or a word of the same Snowball stem ('hub' / 'hubs'), or a word it shares a stem of at least 5 letters with
    ('architect' / 'architecture'; 'java' / 'javascript' stay apart)."""
    if term in have:
        return True
    fs = have if isinstance(have, frozenset) else frozenset(have)
    stems, ordered = _index(fs)
    base = _snow(term)
    if len(base) >= 3 and base in stems:
        return True
    if len(term) < 5:
        return False
    if any(term[:k] in fs for k in range(5, len(term))):  # a word of 5+ letters the term starts with
        return True
    i = bisect_left(ordered, term)  # a word that starts with the term
    return i < len(ordered) and ordered[i].startswith(term)


def terms_with_compounds(text: str) -> frozenset[str]:
    """The text's terms, plus each pair of adjacent words written as one ('help desk' -> 'helpdesk', 'data base')."""
    words = terms(text)
    return frozenset(words) | {a + b for a, b in zip(words, words[1:])}


def same_meaning(have: set[str], lex: Lexicon) -> set[str]:
    """The terms of every phrase the lexicon's `same_meaning` groups with one the passage states ("detail-oriented"
    states "attention to detail"; "client" states "customer"): what a reader hears in the CV's own words. A phrase is
    stated when each of its terms is in the passage as that word or a word of the same Snowball stem. Only the CV
    passage's terms are widened, never a quote's."""
    fs = have if isinstance(have, frozenset) else frozenset(have)
    stems = _index(fs)[0]
    out: set[str] = set()
    for group in lex.same_meaning:
        if any(all(t in fs or _snow(t) in stems for t in phrase) for phrase in group):
            out.update(t for phrase in group for t in phrase)
    return out


_SENTENCE_END = re.compile(r"[.!?;](?=\s)|\n")


def sentence_around(text: str, span: tuple[int, int], limit: int = 300) -> tuple[int, int]:
    """The span widened to the sentence(s) of `text` it sits in (bounded by . ! ? ; or a line break, at most `limit`
    characters either side): an LLM quotes part of a CV sentence, and the whole sentence is the CV's own words."""
    s, e = span
    lo = max(0, s - limit)
    ends = [m.end() for m in _SENTENCE_END.finditer(text, lo, s)]
    start = ends[-1] if ends else lo
    m = _SENTENCE_END.search(text, e, min(len(text), e + limit))
    end = m.start() + (m.group(0) != "\n") if m else min(len(text), e + limit)
    while start < s and text[start].isspace():
        start += 1
    return start, max(end, e)


_CLAUSE_BREAK = re.compile(r"[,;:.!?\n]|\s(?:but|while|although|though|yet)\s", re.I)


def affirmed(passage: str, lex: Lexicon | None = None) -> str:
    """The passage without the clauses that say the candidate lacks something (the lexicon's `cv_lacks`: "Despite
    the absence of core analytical skills, focused on detail" keeps "focused on detail")."""
    lex = lex or load_lexicon()
    if not lex.has("cv_lacks", passage):
        return passage
    return " ".join(c for c in _CLAUSE_BREAK.split(passage) if c and not lex.has("cv_lacks", c))


@lru_cache(maxsize=32768)
def _passage_terms(passage: str, lex: Lexicon) -> frozenset[str]:
    """A passage's terms with compounds and the same-meaning phrases it states, clauses stating a lack dropped
    (cached: the head reads every requirement of a JD against the same CV)."""
    have = terms_with_compounds(affirmed(passage, lex))
    return frozenset(have | same_meaning(have, lex))


def _carried(req: Req, passage: str, lex: Lexicon) -> tuple[frozenset[str], list[str]]:
    """The passage's terms as the requirement reads them (word forms, compounds, its abbreviations both ways,
    same-meaning phrases; clauses stating a lack dropped), and the requirement's content terms among them."""
    have = _passage_terms(passage, lex)
    extra = {abbr for abbr, long in req.aliases if all(_has(t, have) for t in long)}  # the long form names it
    extra |= {t for abbr, long in req.aliases if abbr in have or abbr in extra for t in long}  # abbreviation: long form
    if extra - have:
        have = frozenset(have | extra)
        have = frozenset(have | same_meaning(have, lex))
    found = [t for t in req.terms if _has(t, have)]
    for abbr, long in req.aliases:  # a spelled-out abbreviation is one unit: part of its long form is not it
        if abbr in req.terms and not all(_has(t, have) for t in long):  # ("loaded trucks, transformed" is no ETL)
            found = [t for t in found if t not in long]
    return have, found


def carried_share(req: Req, text: str, lex: Lexicon | None = None) -> float:
    """The share of the requirement's content terms the text carries, read as `content_on` reads them: the graded
    form the requirement head learns from (1.0 for a requirement without content terms)."""
    if not req.terms:
        return 1.0
    return len(_carried(req, text, lex or load_lexicon())[1]) / len(req.terms)


def content_on(req: Req, passage: str, strict: bool = False, lex: Lexicon | None = None) -> tuple[bool, str]:
    """Does the passage carry the requirement's content? A choice ("Java, C++ or Go") needs one option whole; a long
    statement's leading phrase ("Exceptional Communication Skills, able to pitch ...") carried whole does; otherwise,
    with up to three terms, one that is not a common word (`_WEAK`) or all of them; with more, a quarter of them and
    at least two (a long statement is paraphrased, but two of its own terms must be there).

    strict (code picks the passage itself, no quote points at it): up to three terms all of them, more half of them
    and at least two ("medication administration" carries one term of "Kubernetes administration": a passage an LLM
    pointed at may, a passage found by searching the whole CV may not); the choice and leading-phrase readings do not
    apply (one option or a leading word is too little to pick a line by: "one or more of the following" is no
    skill). A clause that says the candidate lacks something carries nothing (`affirmed`)."""
    lex = lex or load_lexicon()
    have, found = _carried(req, passage, lex)
    if req.alternatives and not strict:
        hit = next((a for a in req.alternatives if all(_has(t, have) for t in a)), None)
        if hit:
            return True, f"names {' '.join(hit)}"
    if req.lead and not strict and all(_has(t, have) for t in req.lead):
        return True, f"carries its leading phrase ({', '.join(req.lead)})"
    kt = list(req.terms)
    if not kt:
        return False, "the requirement has no content term to look for"
    strong = [t for t in found if t not in _WEAK]
    if len(kt) <= 3 and (len(found) == len(kt) or (strong and not strict)):
        return True, f"carries {', '.join(found)}"
    need = len(kt) if len(kt) <= 3 else max(2, -(-len(kt) // (2 if strict else 4)))
    if len(found) >= need:
        return True, f"carries {', '.join(found[:6])}"
    return False, f"carries {len(found)} of its terms {', '.join(kt[:6])} (needs {need})"


def _best_line(req: Req, text: str, strict: bool = False, lex: Lexicon | None = None
               ) -> tuple[tuple[int, int] | None, bool, str]:
    """The first line of the text that carries the requirement's content, else (None, False, how close the text
    came). No line carries what the whole text lacks, so a text that lacks it is not read line by line (the
    requirement head checks every candidate of a JD)."""
    lex = lex or load_lexicon()
    whole, why = content_on(req, text, strict, lex)
    if not whole:
        return None, False, f"the whole CV {why}"
    best, most = "", -1
    for s, e in _line_spans(text):
        ok, why = content_on(req, text[s:e], strict, lex)
        if ok:
            return (s, e), True, why
        n = len(_carried(req, text[s:e], lex)[1])
        if n > most:
            best, most = f"the closest line {why}", n
    return None, False, best


def roles_for(req: Req, p: Profile) -> tuple[list[Role], str]:
    """The dated roles a years requirement counts, and what they are: all of them, or for a role or skill
    (`req.subject`) those whose title carries it (both terms of a two-term subject, else half: "File clerks" is no
    "Correspondence clerks" role), else those whose surrounding lines do."""
    if not req.terms:
        return list(p.roles), "dated roles"
    rt = set(req.terms)

    def holds(r: Role, where: str) -> bool:
        have = terms_with_compounds(where)
        return sum(_has(t, have) for t in rt) >= (len(rt) if len(rt) <= 2 else -(-len(rt) // 2))
    roles = [r for r in p.roles if holds(r, r.title)] or [r for r in p.roles if holds(r, r.context)]
    return roles, f"dated roles as / with {req.subject}"


def _years(req: Req, p: Profile) -> Verdict:
    need = req.years_min or 0.0
    if not p.roles:
        return Verdict("unclear", None, f"{req.describe()} required; the CV has no dated role")
    roles, what = roles_for(req, p)
    have = merged_years([(r.start, r.end) for r in roles])
    span = (roles[0].span[0], roles[-1].span[1]) if roles else None
    line = f"{req.describe()} required; {what} add up to {have:.1f} years"
    if req.years_max is not None and have > req.years_max + 1 and req.years_min:
        return Verdict("unclear", span, line + f" (more than the {req.years_max:g} asked)", "")
    shown = "; ".join(f"{r.title} ({p.text[r.span[0]:r.span[1]]})" for r in roles[:4])  # the roles counted
    return Verdict("met" if have + 1 / 12 >= need else "unmet", span, line, shown)


def _degree(req: Req, p: Profile, lex: Lexicon) -> Verdict:
    line = (f"{lex.degree_name(req.degree)} required; CV's highest degree: "
            f"{lex.degree_name(p.degree) if p.degree else 'none stated'}")
    span = None
    if p.degree_line:
        i = p.text.find(p.degree_line)
        span = (i, i + len(p.degree_line)) if i >= 0 else None
    if p.degree >= req.degree:
        if req.terms and not any(t in set(terms(p.degree_line)) for t in req.terms):
            return Verdict("unclear", span, line + f", not in {req.degree_field}", p.degree_line)
        return Verdict("met", span, line, p.degree_line)
    if req.equivalent_ok:
        return Verdict("unclear", span, line + " (the JD accepts equivalent experience)", p.degree_line)
    return Verdict("unmet", span, line, p.degree_line)


def verify(req: Req, cv: str | Profile, today: date | None = None, lex: Lexicon | None = None) -> Verdict:
    """The requirement checked against the whole CV: the deciding span and why."""
    lex = lex or load_lexicon()
    p = cv if isinstance(cv, Profile) else read_cv(cv, today, lex)
    if req.negated:
        return Verdict("met", None, "the JD says it is not required")
    if req.kind == "years":
        return _years(req, p)
    if req.kind == "degree":
        return _degree(req, p, lex)
    if req.kind in ("location", "work_mode", "travel", "clearance"):
        span, ok, why = _best_line(req, p.text, lex=lex)
        return Verdict("met" if ok else "unclear", span, f"{req.kind}: {why}" if ok else
                       f"{req.kind} is rarely stated in a CV; {why}", p.text[span[0]:span[1]] if span else "")
    # a named credential (up to three terms) is met whole on one line: "Staff Accountant" carries one word of "CPA"
    # (certified public accountant), not the licence; a long statement that mentions one keeps the paraphrase reading
    named = req.kind == "certification" and len(req.terms) <= 3
    span, ok, why = _best_line(req, p.text, strict=named, lex=lex)
    if ok:
        return Verdict("met", span, f"{req.describe()}: {why}", p.text[span[0]:span[1]])
    return Verdict("unmet", None, f"{req.describe()}: no line of the CV carries it ({why})")


def find_in_cv(req: Req, cv_text: str) -> Verdict:
    """A skill-like requirement looked for in the whole CV by code, with the strict reading of `content_on` (no
    quote points at the line): met with the first line that carries it, else unclear."""
    span, ok, why = _best_line(req, cv_text, strict=True)
    if ok:
        return Verdict("met", span, f"{req.describe()}: {why}", cv_text[span[0]:span[1]])
    return Verdict("unclear", None, f"{req.describe()}: no line of the CV carries it whole ({why})")


def verify_passage(req: Req, cv_text: str, span: tuple[int, int]) -> Verdict:
    """A skill-like requirement checked on one CV passage (where an LLM's quote was located)."""
    passage = cv_text[span[0]:span[1]]
    ok, why = content_on(req, passage)
    return Verdict("met" if ok else "unclear", span, f"the CV passage {why}", passage)


def negated_in(value: str, text: str, lex: Lexicon | None = None) -> bool:
    """The text states the value only in clauses that say it is not needed ("AWS certification is NOT
    required"): True when every sentence carrying the value is negated (False when none carries it)."""
    from ..textcheck import present

    lex = lex or load_lexicon()
    hits = [s for s in re.split(r"(?<=[.;!?])\s+|\n+", text) if present(value, s)]
    return bool(hits) and all(lex.has("negation", s) for s in hits)
