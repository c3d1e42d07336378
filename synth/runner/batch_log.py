"""The run folder's record of its batches (`batches.jsonl`), so a killed run attaches instead of submitting again.

Lines, each flushed as written: `{"submitting": sha256}` before an input file is uploaded; `{"batch", "provider",
"input_sha256", "requests", "lines": {custom_id: line hash}}` the moment the provider has created the batch, before
any wait; `{"batch", "closed": status}` once its results have been taken (or it failed). A half-written last line
(a kill) is ignored.
"""

from __future__ import annotations

import json
import time
from pathlib import Path


class BatchLog:
    """`batches.jsonl` in the run folder: a line per submitted batch (id, input sha256, line hashes), flushed before
    the wait, and a line when its results have been taken (or it failed)."""

    def __init__(self, path: Path):
        self.path = path
        self.open: dict[str, dict] = {}
        self.unconfirmed: set[str] = set()  # input sha256s whose submit began and was never journaled as done
        if path.exists():
            for raw in path.read_text(encoding="utf-8").splitlines():
                try:
                    e = json.loads(raw)
                except ValueError:
                    continue  # a line cut by a kill
                if "submitting" in e:
                    self.unconfirmed.add(e["submitting"])
                elif "closed" in e:
                    self.open.pop(e["batch"], None)
                else:
                    self.open[e["batch"]] = e
                    self.unconfirmed.discard(e["input_sha256"])

    def _write(self, entry: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
            fh.flush()

    def submitting(self, input_sha: str) -> None:
        self._write({"submitting": input_sha})

    def submitted(self, batch_id: str, provider: str, input_sha: str, lines: dict[str, str]) -> None:
        entry = {"batch": batch_id, "provider": provider, "input_sha256": input_sha, "requests": len(lines),
                 "lines": lines, "at": time.time()}
        self._write(entry)
        self.open[batch_id] = entry

    def close(self, batch_id: str, status: str) -> None:
        self._write({"batch": batch_id, "closed": status})
        self.open.pop(batch_id, None)
