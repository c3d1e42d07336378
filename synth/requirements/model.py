"""The requirement model's records: a typed requirement read from a JD, a CV profile, a verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("skill", "years", "degree", "certification", "language", "location", "work_mode", "clearance", "travel",
         "other")
# kinds code decides against the CV whatever an LLM says (numbers, ladder, named credentials)
CODE_DECIDED = ("years", "degree", "certification")


@dataclass(frozen=True)
class Req:
    """One requirement as the JD states it. `span` is (start, end) in the text it was read from (None when read
    from a bare statement); `subject` the role or skill a years requirement is attached to; `terms` the content
    terms that must show in a CV for a skill-like requirement; `alternatives` the list items any one of which
    satisfies it ("Java, C++ or Go"); `lead` the content terms of a long statement's leading phrase, what it asks for
    before its clause ("Exceptional Communication Skills, able to pitch topics ..." -> communication); `aliases` an
    abbreviation the JD defines and the terms of its long form ("Windows Presentation Foundation (WPF)": one
    concept, counted once, met by either; "ETL (Extract, Transform, Load)": both forms stay terms, and a CV naming
    the abbreviation carries its long form's words; a name of three to five words is also met by its initials,
    "Natural Language Processing" by "NLP")."""

    kind: str
    level: str  # must | preferred
    text: str
    span: tuple[int, int] | None = None
    negated: bool = False
    years_min: float | None = None
    years_max: float | None = None
    subject: str | None = None
    degree: int = 0
    degree_field: str | None = None
    equivalent_ok: bool = False
    name: str = ""
    terms: tuple[str, ...] = ()
    alternatives: tuple[tuple[str, ...], ...] = ()
    lead: tuple[str, ...] = ()
    aliases: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def describe(self) -> str:
        if self.kind == "years":
            lo = f"{self.years_min:g}+" if self.years_max is None else f"{self.years_min:g}-{self.years_max:g}"
            return f"{lo} years" + (f" ({self.subject})" if self.subject else "")
        if self.kind == "degree":
            return f"degree level {self.degree}" + (f" in {self.degree_field}" if self.degree_field else "")
        return self.name or self.text


@dataclass(frozen=True)
class Role:
    """A dated role of a CV: fractional years, `context` the text around the dates (title, employer), `span` the
    dates' position in the CV."""

    start: float
    end: float
    present: bool
    title: str
    context: str
    span: tuple[int, int]

    @property
    def years(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Profile:
    """What a CV states: dated roles, years (overlaps merged), highest degree and its line, certification lines,
    languages, listed skills (a Skills section) and the full text's key terms."""

    text: str
    roles: tuple[Role, ...]
    years: float
    degree: int
    degree_line: str
    certifications: tuple[str, ...]
    languages: tuple[str, ...]
    skills_listed: tuple[str, ...]
    terms: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Verdict:
    """met / unmet / unclear, the CV span (start, end) that decides it (None when nothing does) and why."""

    status: str
    span: tuple[int, int] | None
    reason: str
    text: str = ""  # the deciding span's text

    @property
    def met(self) -> bool:
        return self.status == "met"
