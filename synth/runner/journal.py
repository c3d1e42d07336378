"""Append-only run journal: one line per finished item and one per paid call, flushed as written.

After kill -9 at any point, the lines already written are on disk (the OS holds them even if the process dies), a
half-written last line is ignored. An item line carries the hash of the exact request it answered (`req`): a re-run
reuses it only for the identical request, and re-checks it with today's check. `{"spend": dollars}` lines record
every paid call the moment it returns, so a resumed run knows what the budget already paid.
"""

from __future__ import annotations

import json
from pathlib import Path


class Journal:
    def __init__(self, folder: Path, meta: dict):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.path = folder / "journal.jsonl"
        meta_path = folder / "run.json"
        if not meta_path.exists():
            meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str) + "\n")
        self.done: dict[str, dict] = {}
        self.spent = 0.0
        if self.path.exists():
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue  # a line cut by a kill; that item simply runs again (from the cache)
                    if "spend" in entry:
                        self.spent += float(entry["spend"] or 0.0)
                    elif "key" in entry:
                        self.done[entry["key"]] = entry
        self._fh = open(self.path, "a", encoding="utf-8")

    def append(self, entry: dict) -> None:
        self._write(entry)
        self.done[entry["key"]] = entry

    def spend(self, dollars: float) -> None:
        if dollars:
            self._write({"spend": dollars})
            self.spent += dollars

    def _write(self, entry: dict) -> None:
        self._fh.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()
