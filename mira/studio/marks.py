"""Highlighting and word diffs as HTML: every piece of text is escaped here, and only the <mark>, <ins> and <del>
tags this module writes are markup. Spans are found by code in the text shown (case and spacing aside), never
taken from an LLM's offsets."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    cls: str
    title: str = ""


def find_spans(text: str, needle: str | None, cls: str, title: str = "") -> list[Span]:
    """Every occurrence of `needle` in `text`, ignoring case and runs of white space."""
    words = (needle or "").split()
    if not words or not text:
        return []
    pat = re.compile(r"\s+".join(re.escape(w) for w in words), re.I)
    return [Span(m.start(), m.end(), cls, title) for m in pat.finditer(text)]


def render(text: str, spans: list[Span]) -> Markup:
    """`text` escaped, with the spans wrapped in <mark>; a span overlapping an earlier-starting one is skipped."""
    out, pos = [], 0
    for s in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        if s.start < pos:
            continue
        out.append(escape(text[pos:s.start]))
        title = Markup(f' title="{escape(s.title)}"') if s.title else ""
        out.append(Markup(f'<mark class="{escape(s.cls)}"{title}>') + escape(text[s.start:s.end]) + Markup("</mark>"))
        pos = s.end
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def value_text(v) -> str:
    """A must / preferred entry as text: a dict's 'value' (or 'text'), else the item itself."""
    if isinstance(v, dict):
        return str(v.get("value") or v.get("text") or "")
    return "" if v is None else str(v)


def stated(text: str, title: str | None, musts: list) -> tuple[list[Span], list[dict]]:
    """Spans of the title and each must value in `text`, and per value whether the text states it."""
    spans = find_spans(text, title, "title", "anchor title")
    found = [{"what": "title", "value": title or "", "found": bool(spans)}] if title else []
    for m in musts:
        val = value_text(m)
        hit = find_spans(text, val, "must", "must value")
        spans += hit
        found.append({"what": (m.get("field") if isinstance(m, dict) else None) or "must", "value": val,
                      "found": bool(hit)})
    return spans, found


def word_diff(a: str, b: str, flipped: str | None = None) -> Markup:
    """Word-level diff of a -> b: removed words in <del>, added in <ins>; an insertion that states the flipped
    value is marked as the flip."""
    ta, tb = a.split(), b.split()
    flip = " ".join((flipped or "").split()).lower()
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(escape(" ".join(ta[i1:i2])))
            continue
        if i2 > i1:
            out.append(Markup("<del>") + escape(" ".join(ta[i1:i2])) + Markup("</del>"))
        if j2 > j1:
            added = " ".join(tb[j1:j2])
            is_flip = bool(flip) and (flip in added.lower() or added.lower().strip(".,;:") in flip)
            cls = Markup(' class="flip" title="the flipped value"') if is_flip else ""
            out.append(Markup(f"<ins{cls}>") + escape(added) + Markup("</ins>"))
    return Markup(" ").join(out)
