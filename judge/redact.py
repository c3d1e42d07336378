"""PII redaction before text leaves the machine: e-mails, phone numbers, URLs and the name line. Nothing of the
mapping is kept."""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
URL = re.compile(r"\b(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|org|net|io|dev|me)/\S*", re.I)
PHONE = re.compile(r"(?<!\w)(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d{3,4}[\s.-]\d{3,4}(?:[\s.-]\d{2,4})?(?!\w)")
NAME_FIELD = re.compile(r"^(\s*(?:name|full name|candidate)\s*:\s*)(.+)$", re.I | re.M)
_NAME_LINE = re.compile(r"^[A-Z][a-zA-Z'.-]+(?:\s+[A-Z][a-zA-Z'.-]+){1,3}$")


def redact(text: str) -> str:
    text = EMAIL.sub("[EMAIL]", text)
    text = URL.sub("[URL]", text)
    text = PHONE.sub("[PHONE]", text)
    text = NAME_FIELD.sub(lambda m: m.group(1) + "[NAME]", text)
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.strip():
            stripped = line.strip().lstrip("#").strip()
            if _NAME_LINE.match(stripped) and stripped.upper() != stripped:  # "Jane Q. Doe", not a heading "ACCOUNTANT"
                lines[i] = line.replace(stripped, "[NAME]")
            break
    return "\n".join(lines)
