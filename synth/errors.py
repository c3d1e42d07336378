"""Typed, user-facing errors. The CLI prints their message on one line and exits 1."""

from __future__ import annotations


class MiraError(Exception):
    """Base class: a problem the user can fix; the message says what and how."""


class DatasetNotFound(MiraError):
    def __init__(self, ref: str, suggestions: list[str] | None = None):
        self.ref = ref
        self.suggestions = suggestions or []
        hint = f" Did you mean: {', '.join(self.suggestions)}?" if self.suggestions else " See `mira data list`."
        super().__init__(f"No dataset matches '{ref}'.{hint}")


class VersionExists(MiraError):
    """Refused: a dataset version directory already exists (versions are immutable)."""


class SchemaError(MiraError):
    def __init__(self, where: str, field: str, message: str):
        self.where, self.field, self.message = where, field, message
        super().__init__(f"{where}: field '{field}': {message}")


class InputError(MiraError):
    """A file or argument that cannot be used at all (unreadable file, unknown preset, unknown column...)."""


class BudgetStop(MiraError):
    """The run reached --max-cost; the journal holds what is done."""
