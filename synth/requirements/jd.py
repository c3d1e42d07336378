"""Reading a JD: typed requirements with their spans and levels, and what the posting says of itself (scope level,
seniority, language, whether it is a posting at all), all from the text's own words.

A requirement statement is an item under a requirement heading ("Required Skills", "Minimum qualifications",
"Preferred", ...) or, elsewhere, a sentence with a requirement word (years, degree, certification, "required", ...).
Its level is "preferred" when the statement says so ("a plus", "preferred", "nice to have"), "must" when it says
so ("required", "minimum", "must"), else its heading's. Numbers are read as numbers ("5+", "3-5", "five (5)",
"half a decade"); a statement that says it is not needed ("no degree required", "AWS certification is NOT
required") is read as negated.
"""

from __future__ import annotations

import re

from langdetect import DetectorFactory, LangDetectException, detect_langs
from word2number import w2n

from ..textcheck import GENERIC, terms
from .lexicon import Lexicon, load_lexicon
from .model import Req

_NUM = r"\d+(?:\.\d+)?"
_WORD_NUM = r"[a-z]+(?:[- ][a-z]+)?"
_YEARS_UNIT = r"(?:years?|yrs?)\b(?!\s+(?:old|of\s+age|degree|college|university|program|institution|bachelor))"
_RANGE = re.compile(rf"(?P<lo>{_NUM})\s*\+?\s*(?:-|–|—|to)\s*(?P<hi>{_NUM})\s*\+?\s*{_YEARS_UNIT}", re.I)
_DIGITS = re.compile(rf"(?P<n>{_NUM})\s*(?P<plus>\+|or more|plus)?\s*(?:\(\s*\d+\s*\)\s*)?-?\s*{_YEARS_UNIT}"
                     r"(?P<more>\s+or\s+more)?", re.I)
_WORDS = re.compile(rf"\b(?P<w>{_WORD_NUM})\s*(?:\(\s*(?P<d>\d+)\s*\)\s*)?(?P<plus>\+|or more|plus)?\s*{_YEARS_UNIT}",
                    re.I)
_DECADE = re.compile(r"\b(?P<half>half\s+a\s+)?decades?\b", re.I)
_MAX = re.compile(r"\b(up to|no more than|not more than|less than|under|maximum of|max\.?|at most)\s*$", re.I)
_ROLE_AS = re.compile(r"\b(?:as|in the (?:job\s+)?role of)\s+(?:an?\s+|the\s+)?(.+?)"
                      r"(?=\s+for\s+\d|\s+role\b|[,;(]|\.(?!\w)|$)", re.I)
_IN_ROLE = re.compile(r"\bin\s+(?:an?\s+|the\s+)?(.+?)\s+role\b", re.I)
_AFTER = re.compile(r"^\s*(?:of\s+)?(?:[\w-]+\s+){0,2}?(?:experience|work|working)?\s*(?:in|with|as|using|of|on|"
                    r"doing)\s+(?:an?\s+|the\s+)?(.+?)(?=\s+(?:is|are|required|preferred|for)\b|[;(]|\.(?!\w)|$)", re.I)
_SKILL_LEAD = re.compile(r"^(?:(?:strong|solid|good|excellent|proven|working|hands-on|demonstrated|advanced|basic|"
                         r"deep|effective|substantial|thorough)\s+)*(?:experience|knowledge|proficiency|proficient|expertise|"
                         r"familiarity|familiar|skills?|skilled|understanding|background|ability|capacity|competent|"
                         r"versed)\s+(?:with|of|in|using|to)\s+",
                         re.I)
_ITEM = re.compile(r"^\s*(?:[-*•●▪·–]|\d+[.)])\s*")
_DEGREE_WORD = re.compile(r"degree|bachelor'?s?|master'?s?|ph\.?d|diploma|\bb\.?s\b|\bb\.?a\b|\bm\.?s\b|mba", re.I)
_FIELD = re.compile(r"\b(?:in|of)\s+(.+?)(?=,|\bor\b|\band\b|\.|;|$)", re.I)
_MARKUP = re.compile(r"[*_`>]+|(?<![A-Za-z+])#+")  # markup, but not the "#" of "C#" / "F#"
_LIST = re.compile(r"\b(?:or|one or more|such as|e\.g\.|including|like)\b|,|/", re.I)
_FILLER = set(terms("proficiency proficient knowledge experience experienced ability able skills skill strong "
                    "excellent understanding familiarity familiar working solid good thorough advanced basic "
                    "demonstrated proven expertise expert use using capacity effective substantial sound exemplary "
                    "exceptional outstanding superior great extensive broad comprehensive keen deep prior previous "
                    "like capable capability utilize constructively chiefly mainly especially particularly ideally "
                    "competent competency adept skilled aptitude comfortable versed hands master mastery level "
                    "knowledgeable commendable impressive remarkable essential into key extraordinary superb "
                    "sharp dexterous sufficient copious prolific efficient under since regularly "
                    # a JD's own boilerplate around the requirement ("... skills needed", "we require candidates")
                    "necessary needed need required require requires candidate candidates potential demonstrate "
                    "along different current exactly"
                    # words of manner that qualify the ask without naming it ("sturdy communication skills",
                    # "dedicated application of User Experience", "patience whilst ...")
                    " sturdy robust profound successful dedicated whilst"))
# nouns of manner before what is asked ("dedicated application of User Experience", "a firm grasp of SQL", "a
# strong foundation in network design", "a track record as a successful manager")
_MANNER = re.compile(r"\b(?:(?:application|usage|use|command|grasp|mastery)\s+(?:of|over|on)|foundation\s+in|"
                     r"track\s+records?(?:\s+(?:of|as|in))?)\b", re.I)
# words that qualify a role without naming it: "professional dancer", "Jr. IT Helpdesk or similar role"
_ROLE_MODIFIERS = set(terms("professional junior senior similar comparable paid full time"))  # beside _FILLER
_ANY = set(terms("including but not limited such as like one or more following"))
_NEG_WORDS = {"not", "no", "non", "nor"}


def _number(word: str) -> float | None:
    if not all(w in w2n.american_number_system for w in re.split(r"[- ]+", word.lower())):
        return None
    try:
        return float(w2n.word_to_num(word))
    except (ValueError, IndexError):
        return None


def years_statements(text: str) -> list[tuple[float, float | None, tuple[int, int]]]:
    """(minimum, maximum or None, span) for each years phrase: "5+ years", "3-5 years", "five (5) years", "half a
    decade", "up to 2 years" (a maximum)."""
    out, taken = [], []

    def add(lo: float, hi: float | None, s: int, e: int) -> None:
        if any(a < e and s < b for a, b in taken) or not 0 < lo <= 50:
            return
        taken.append((s, e))
        if hi is None and _MAX.search(text[max(0, s - 20):s]):
            lo, hi = 0.0, lo
        out.append((lo, hi, (s, e)))

    for m in _RANGE.finditer(text):
        add(float(m.group("lo")), float(m.group("hi")), *m.span())
    for m in _DIGITS.finditer(text):
        add(float(m.group("n")), None, *m.span())
    for m in _WORDS.finditer(text):
        words = m.group("w").split()
        for k in range(len(words)):  # "at least five years": the longest tail that is a number
            n = float(m.group("d")) if m.group("d") else _number(" ".join(words[k:]))
            if n is not None and not re.fullmatch(r"[\d.]+", words[k]):
                off = m.start() + m.group(0).lower().find(words[k].lower())
                add(n, None, off, m.end())
                break
    for m in _DECADE.finditer(text):
        add(5.0 if m.group("half") else 10.0, None, *m.span())
    return sorted(out, key=lambda x: x[2])


def _subject(stmt: str, after: str, lex: Lexicon) -> str | None:
    """The role or skill a years statement is attached to ("as a Survey Researcher", "of Python"), cut where the
    lexicon's `role_subject_end` words start a clause ("as a Cloud Architect | overseeing ...")."""
    for m in (_ROLE_AS.search(stmt), _IN_ROLE.search(stmt), _AFTER.search(after)):
        if m:
            s = re.sub(r"\s+(?:in|as|with)\s+(?:an?|the)$", "", m.group(1).strip(" -–:"), flags=re.I)
            end = lex.rx["role_subject_end"].search(s, 1)
            s = s[:end.start()].strip(" -–:,") if end else s
            if [t for t in terms(s) if t not in _FILLER and t not in _ANY]:
                return s
    return None


# a head that introduces a list ("Experience with any of the following: ...") names nothing itself
_LIST_INTRO = re.compile(r"\b(?:following|these|below|one or more|any of|such as|includ\w*)(?:\s+[\w/-]+){0,2}\W*$",
                         re.I)


def _name(stmt: str) -> str:
    """'Networking: TCP/IP skills ...' -> 'Networking'; 'Proficiency in SSL' -> 'SSL'; a head that introduces a list
    ('... any of the following: embedded systems, ...') is not the name: the whole statement is."""
    head, sep, _ = stmt.partition(":")
    name = head.strip() if sep and 0 < len(head.split()) <= 6 and not _LIST_INTRO.search(head) else stmt.strip()
    return _SKILL_LEAD.sub("", name).strip(" .")


_CLAUSE = re.compile(r",|\s[–—-]\s|\(|:|\b(?:to|for|that|which|aids?|including|such as|in order|evidenced|able)\b",
                     re.I)


def _lead(name: str, kt: list[str]) -> tuple[str, ...]:
    """The content terms of the statement's leading phrase (up to its first clause break) when that phrase is a
    proper part of it and names one to three terms."""
    head = _CLAUSE.split(name, 1)[0]
    lt = tuple(t for t in terms(head) if t not in _FILLER and t not in _ANY)
    return lt if 0 < len(lt) <= 3 and len(lt) < len(kt) else ()


def _alternatives(stmt: str) -> tuple[tuple[str, ...], ...]:
    """The list items of a statement that offers a choice ("Java, C++ or Go"), each as its content terms."""
    head, sep, rest = stmt.partition(":")
    intro = bool(sep and _LIST_INTRO.search(head))
    body = rest if sep and (len(head.split()) <= 6 or intro) else stmt
    if not intro and not re.search(r"\b(or|one or more|such as|e\.g\.|including|any of)\b", body, re.I):
        return ()
    items = [tuple(t for t in terms(c) if t not in _FILLER and t not in _ANY) for c in _LIST.split(body)]
    items = [i for i in items if i]
    return tuple(items) if len(items) >= 2 else ()


_ABBR = re.compile(r"\(\s*([A-Z][A-Za-z0-9]{1,7})\s*\)")
_ABBR_FIRST = re.compile(r"\b([A-Z]{2,6})\s*\(\s*([A-Za-z][^()]{2,80}?)\s*\)")


def _expansions(stmt: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Abbreviations spelled out in brackets after them ("ETL (Extract, Transform, Load)", "Oracle RAC (Real
    Application Clusters)"): both forms stay terms of the requirement, and a CV that names the abbreviation carries
    its long form's words (the verifier's reading)."""
    out = []
    for m in _ABBR_FIRST.finditer(stmt):
        words, abbr = re.findall(r"[A-Za-z][\w-]*", m.group(2)), m.group(1)
        if len(words) == len(abbr) and all(w[0].lower() == c.lower() for w, c in zip(words, abbr)):
            long, short = tuple(t for t in terms(" ".join(words)) if t not in _FILLER), terms(abbr)
            if long and short and short[0] not in long:
                out.append((short[0], long))
    return tuple(out)


def _initials(name: str, kt: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A name of three to five content words and nothing else is also written by its initials ("Natural Language
    Processing" -> NLP): the CV's "NLP" carries the words. Three letters at least (two-letter initials name too
    many things); a name with a filler word ("Strong Analytical Skills") or any other mark has none."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z-]*(?:\s+[A-Za-z][A-Za-z-]*){2,6}", name.strip()):
        return ()
    words = [w for w in name.split() if w.lower() not in ("and", "of", "the", "for", "in", "&")]
    long = tuple(t for t in terms(" ".join(words)) if t not in _FILLER)
    short = "".join(w[0] for w in words).lower()
    if not 3 <= len(words) <= 5 or len(long) != len(words) or short in long or short in kt:
        return ()
    return ((short, long),)


def _aliases(stmt: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The abbreviations the statement defines, each with the terms of its long form: the words before "(ABBR)"
    whose initials spell it ("Windows Presentation Foundation (WPF)", "Quality Assurance (QA)")."""
    out = []
    for m in _ABBR.finditer(stmt):
        abbr, before = m.group(1), stmt[:m.start()]
        for letters, word in ((list(abbr), r"[A-Za-z]\w*"), ([c for c in abbr if c.isupper()], r"[A-Za-z][\w-]*")):
            words = re.findall(word, before)[-len(letters):]  # 'Software as a Service (SaaS)', 'command-line (CLI)'
            if len(letters) >= 2 and len(words) == len(letters) and all(
                    w[0].lower() == c.lower() for w, c in zip(words, letters)):
                long = tuple(t for t in terms(" ".join(words)) if t not in _FILLER)
                short = terms(abbr)
                if long and short and short[0] not in long:  # textcheck may already expand it ('QA' -> quality)
                    out.append((short[0], long))
                break
    return tuple(out)


def _level(stmt: str, heading: str | None, lex: Lexicon) -> str:
    if lex.has("preferred", stmt):
        return "preferred"
    if lex.has("must", stmt):
        return "must"
    return heading or "must"


def read_statement(stmt: str, level: str | None = None, span: tuple[int, int] | None = None,
                   lex: Lexicon | None = None) -> list[Req]:
    """The typed requirements one statement makes (years and a degree in one sentence are two)."""
    lex = lex or load_lexicon()
    stmt = " ".join(_MARKUP.sub(" ", stmt).split())
    if not stmt:
        return []
    lvl = _level(stmt, level, lex)
    neg = bool(lex.has("negation", stmt))
    base = dict(level=lvl, text=stmt, span=span, negated=neg)
    out = []
    for lo, hi, (s, e) in years_statements(stmt)[:1]:
        subj = _subject(stmt, stmt[e:], lex)
        out.append(Req("years", years_min=lo, years_max=hi, subject=subj,
                       terms=tuple(t for t in terms(subj or "") if t not in _FILLER and t not in _ROLE_MODIFIERS),
                       name=stmt[s:e], **base))
    generic = lex.has("degree_generic", stmt) and re.search(r"\bdegree\b(?!\s+of\b)", stmt, re.I)  # not "a degree
    deg = lex.degree_level(stmt) or (3 if generic else 0)  # of uncertainty"
    if deg:
        at = _DEGREE_WORD.search(stmt)
        m = _FIELD.search(stmt[at.end() if at else 0:])
        field = m.group(1).strip() if m and terms(m.group(1)) else None
        out.append(Req("degree", degree=deg, degree_field=field, equivalent_ok=bool(lex.has("degree_alternative", stmt)),
                       name=lex.degree_name(deg), terms=tuple(terms(field or "")), **base))
    if out:
        return out
    kind = ("certification" if lex.has("certifications", stmt) else
            "clearance" if lex.has("clearance", stmt) else
            "language" if lex.has("languages", stmt) and lex.has("language_cues", stmt) else
            "travel" if lex.has("travel", stmt) else
            "work_mode" if lex.has("work_mode", stmt) else "skill")
    name = _name(stmt)
    kt = [t for t in terms(_MANNER.sub(" ", name)) if t not in _FILLER and t not in _ANY]
    if kind == "certification":
        kt = [t for t in terms(stmt) if t not in lex.cert_filler and t not in _FILLER and t not in _NEG_WORDS]
    if kind == "language":
        kt = [t for t in terms(" ".join(m.group(0) for m in lex.rx["languages"].finditer(stmt)))]
    kt = kt or [t for t in terms(stmt) if t not in _FILLER]
    aliases = _aliases(stmt) if kind == "skill" else ()
    long = {t for _, lt in aliases for t in lt}
    kt = [t for t in kt if t not in long] or kt  # a defined abbreviation counts once
    aliases += (_expansions(stmt) + _initials(name, kt)) if kind == "skill" else ()
    return [Req(kind, name=name, terms=tuple(kt), alternatives=_alternatives(stmt) if kind == "skill" else (),
                lead=_lead(name, kt) if kind == "skill" else (), aliases=aliases, **base)]


def _heading(line: str, lex: Lexicon) -> str | None:
    """'must' / 'preferred' / 'other' when the line is a heading (a short line, possibly '#'-marked or ending in a
    colon, that is one of the lexicon's headings), else None."""
    s = _MARKUP.sub(" ", line).strip().rstrip(":").strip()
    if not s or len(s.split()) > 6 or _ITEM.match(line):
        return None
    for key, lvl in (("headings_preferred", "preferred"), ("headings_must", "must"), ("headings_other", "other")):
        m = lex.rx[key].match(s)
        if m and m.end() == len(s):
            return lvl
    return None


def block_level_at(text: str, pos: int, lex: Lexicon | None = None) -> str | None:
    """The level of the heading block `pos` sits in: 'must' / 'preferred' / 'other' (a Responsibilities, Summary,
    About ... heading), or None before any heading."""
    lex = lex or load_lexicon()
    level, at = None, 0
    for line in text.splitlines(keepends=True):
        if at > pos:
            break
        h = _heading(line, lex)
        inline = re.match(r"^\s*[#*_\s]*([A-Za-z ,&'-]{3,40}?)[*_\s]*:\s*(\S.*)$", line)
        level = h or (_heading(inline.group(1), lex) if inline else None) or level
        at += len(line)
    return level


def statements(text: str, lex: Lexicon | None = None) -> list[tuple[str, str | None, tuple[int, int]]]:
    """(statement, heading level or None, span) for each requirement statement of a JD."""
    lex = lex or load_lexicon()
    out, block, pos = [], None, 0
    for line in text.splitlines(keepends=True):
        start, pos = pos, pos + len(line)
        h = _heading(line, lex)
        inline = re.match(r"^\s*[#*_\s]*([A-Za-z ,&'-]{3,40}?)[*_\s]*:\s*(\S.*)$", line)
        if h is None and inline and _heading(inline.group(1), lex):  # "Requirements: 5+ years of Python"
            h = _heading(inline.group(1), lex)
            block = h
            off = start + inline.start(2)
            body = inline.group(2)
        elif h is not None:
            block = h
            continue
        else:
            off, body = start, line
        for m in re.finditer(r"(?:[^.!?;\n]|\.(?=\w))+(?:[.!?;]+(?=\s|$)|$)", body):  # sentences ("ASP.NET" stays)
            piece = m.group(0).strip()
            lead = _ITEM.match(piece)
            piece = piece[lead.end():] if lead else piece
            if len(piece.split()) < 1 or not re.search(r"[A-Za-z]", piece):
                continue
            if block in ("must", "preferred") or lex.has("requirement_words", piece):
                s = off + m.start() + m.group(0).find(piece[:20])
                out.append((piece.strip(), block if block in ("must", "preferred") else None, (s, s + len(piece))))
    return out


def read_jd(text: str, lex: Lexicon | None = None) -> list[Req]:
    """Every requirement the JD states, in order, each with its span in `text` and its level."""
    lex = lex or load_lexicon()
    return [r for stmt, lvl, span in statements(text, lex) for r in read_statement(stmt, lvl, span, lex)]


def musts(reqs: list[Req]) -> list[Req]:
    """The requirements a candidate must meet: must level, not negated."""
    return [r for r in reqs if r.level == "must" and not r.negated]


DetectorFactory.seed = 0  # langdetect is randomised; a fixed seed makes a text's language one answer


def language_of(text: str) -> str | None:
    """ISO 639-1 code of the text's language (langdetect; None when it cannot tell, e.g. no letters)."""
    body = " ".join(_MARKUP.sub(" ", text).split())[:4000]
    try:
        langs = detect_langs(body)
    except LangDetectException:
        return None
    return langs[0].lang.split("-")[0] if langs and langs[0].prob >= 0.7 else None


_POSTING = [re.compile(p, re.I) for p in (
    r"\b(we are|we're|we offer|our (team|company|client|clients|firm|practice|organization|office)|join (us|our))\b",
    r"\b(you will|you'll|you have|you are|your)\b",
    r"\b(applicants?|candidates?|apply|the ideal|to be considered)\b",
    r"\b(seeks?|seeking|looking for|hiring)\b",
    r"\b(benefits|salary|compensation|pay rate|per hour|equal opportunity|eoe)\b",
    r"\b(requirements|qualifications|must have|required)\b",
    r"\bjob (description|summary|title|type)\b|\bvacancy\b|\bopening\b")]
PLAIN_POSTING = 3  # kinds of posting language that make a text plainly a posting


def posting_cues(text: str) -> int:
    """How many kinds of job-posting language the text has (who is sought, the job, its requirements, its duties,
    applicants, terms): a posting has several, a CV or an article rarely more than one or two."""
    return sum(bool(p.search(text)) for p in _POSTING)


def is_posting(text: str) -> bool:
    return posting_cues(text) >= PLAIN_POSTING


GENERIC_SUBJECTS = GENERIC  # re-exported for clients that filter subjects
