"""Reading a text file for import: its encoding (a byte-order mark, else UTF-8 or --encoding; charset-normalizer's
guess when no row decodes), a text stream whose bytes are counted for progress, and a CSV's lines with each row's
size and sha256, so a row with a field over the limit is read past without being held."""

from __future__ import annotations

import codecs
import hashlib
import io
from pathlib import Path
from typing import Callable

from .errors import InputError

RAW_KEEP = 2_000  # characters of an over-long value kept in its reject (with its size and sha256)

# byte-order marks, longest first (UTF-32 LE starts with UTF-16 LE's)
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class _CountingRaw(io.RawIOBase):
    """Binary reader that counts bytes, so progress can follow a text stream through its buffers."""

    def __init__(self, fh, on_bytes: Callable[[int], None] | None):
        self.fh, self.on_bytes, self.done = fh, on_bytes, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self.fh.readinto(b)
        self.done += n or 0
        if self.on_bytes and n:
            self.on_bytes(n)
        return n

    def close(self) -> None:
        self.fh.close()
        super().close()


def _is_utf8(name: str) -> bool:
    return name.lower().replace("_", "-") in ("utf-8", "utf8")


def file_encoding(path: Path, encoding: str | None = None) -> str:
    """The encoding to read `path` with: a byte-order mark wins (UTF-8, UTF-16, UTF-32); else `encoding`; else UTF-8.
    Rows with bytes that are not valid in it become rejects that name --encoding; when no row decodes the import
    stops (`not_decodable`) with the encoding charset-normalizer guesses (a guess is never applied silently:
    latin-1 and cp1252 decode any bytes, rightly or not)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError as e:
        raise InputError(f"Cannot read {path}: {e.strerror or e}.") from None
    bom = next((enc for mark, enc in _BOMS if head.startswith(mark)), None)
    if bom and (encoding is None or _is_utf8(encoding) or encoding.lower().startswith(bom[:6])):
        return bom
    if encoding is None:
        return "utf-8-sig"
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"--encoding {encoding}: unknown encoding (e.g. utf-8, latin-1, cp1252, utf-16).") from None
    return "utf-8-sig" if _is_utf8(encoding) else encoding


def guess_encoding(path: Path) -> str:
    """charset-normalizer's guess from the start of the file (latin-1 when it has none)."""
    from charset_normalizer import from_path

    best = from_path(path, steps=4, chunk_size=1 << 16).best()
    return best.encoding.replace("_", "-") if best is not None else "latin-1"


def not_decodable(path: Path, encoding: str, bad: int, rows: int) -> str:
    enc, guess = "UTF-8" if _is_utf8(encoding) or encoding == "utf-8-sig" else encoding, guess_encoding(path)
    return (f"{path} is not {enc} text: {bad} of {rows} rows have bytes that are not; it looks like {guess} "
            f"(charset-normalizer's guess): pass its encoding, e.g. --encoding {guess}.")


def open_text(path: Path, encoding: str, on_bytes) -> io.TextIOWrapper:
    try:
        raw = open(path, "rb")
    except OSError as e:
        raise InputError(f"Cannot read {path}: {e.strerror or e}.") from None
    enc = "utf-8-sig" if _is_utf8(encoding) else encoding
    return io.TextIOWrapper(io.BufferedReader(_CountingRaw(raw, on_bytes), 1 << 20), encoding=enc,
                            errors="surrogateescape", newline="")


class CsvLines:
    """A CSV file's lines for csv.reader, with the line number and the quote parity, and each row's size and sha256
    as it goes by: a row with a field over the limit is then read on to its end without holding it (the csv module
    would grow its field buffer to 4 bytes a character of the whole field)."""

    def __init__(self, fh, quotechar: str | None):
        self.fh, self.q, self.n, self.in_quotes = fh, quotechar or "", 0, False
        self.new_row()

    def new_row(self) -> None:
        self.hash, self.chars, self.head = hashlib.sha256(), 0, ""

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self.fh)
        self.n += line.count("\n") or 1
        if self.q and line.count(self.q) % 2:
            self.in_quotes = not self.in_quotes
        self.chars += len(line)
        if len(self.head) < RAW_KEEP:
            self.head += line[: RAW_KEEP - len(self.head)]
        self.hash.update(line.encode("utf-8", "surrogateescape"))
        return line

    def skip_row(self) -> tuple[int, str]:
        """Read on to the end of the row whose field broke the limit (where its quotes close); its characters and
        the sha256 of its text as in the file."""
        try:
            while self.in_quotes:
                next(self)
        except StopIteration:
            pass
        self.in_quotes = False
        return self.chars, self.hash.hexdigest()
