"""Human labels as dataset versions of kind `label`: one record per reviewed item, the latest decision wins.

A review session (one reviewer, one labelled version) is journaled line by line under
``<home>/.mira/labels/<session>.jsonl`` and, after every decision, written again as a new immutable version
``labels-<dataset>-<reviewer>``: closing the browser mid-queue loses nothing, and every version holds all the
session's decisions so far. Decisions map to labels in code: accept keeps the item's own label, reject inverts it
(a pair a reviewer rejects is dropped by `mira data filter`), positive / negative set it, unsure gives none.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from typing import Iterable

from .errors import InputError
from .records import stable_id
from .store import DatasetStore, Version

DECISIONS = ("accept", "reject", "positive", "negative", "unsure")


def reviewer_name(given: str | None = None) -> str:
    """`--reviewer`, else the OS user."""
    if given and given.strip():
        return given.strip()
    try:
        import getpass

        return getpass.getuser()
    except (OSError, KeyError):
        return os.environ.get("USER") or "reviewer"


def _slug(text: str, n: int) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-._")[:n] or "x"


def label_dataset_name(target: Version, reviewer: str) -> str:
    return f"labels-{_slug(target.name, 36)}-{_slug(reviewer, 20)}"


def human_label(decision: str, item_label: int | None) -> int | None:
    if decision not in DECISIONS:
        raise InputError(f"Unknown decision '{decision}' (use one of {', '.join(DECISIONS)}).")
    if decision == "positive":
        return 1
    if decision == "negative":
        return 0
    if decision == "unsure" or item_label is None:
        return None
    return item_label if decision == "accept" else 1 - item_label


def make_label(target: Version, item: dict, decision: str, reviewer: str, note: str = "") -> dict:
    """`item`: {item_id, jd_id, cv_id, item_label} as the review queue shows it."""
    item_label = item.get("item_label")
    return {"id": stable_id("label", f"{target.ref}|{item['item_id']}|{reviewer}"), "kind": "label",
            "target": target.ref, "item_id": item["item_id"], "jd_id": item.get("jd_id"),
            "cv_id": item.get("cv_id"), "decision": decision, "label": human_label(decision, item_label),
            "item_label": item_label, "note": note or "", "reviewer": reviewer,
            "labelled_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


class LabelSession:
    """One reviewer labelling one version: journal each decision, then write the session as a new version."""

    def __init__(self, store: DatasetStore, target: Version, reviewer: str):
        self.store, self.target, self.reviewer = store, target, reviewer
        self.name = label_dataset_name(target, reviewer)
        self.journal = store.home / ".mira" / "labels" / f"{self.name}-{target.version}.jsonl"

    def decisions(self) -> dict[str, dict]:
        """item id -> its latest label record (the journal, else the latest label version of this session)."""
        out: dict[str, dict] = {}
        if self.journal.exists():
            for line in self.journal.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    rec = json.loads(line)
                    out[rec["item_id"]] = rec
            return out
        for v in reversed(self.store.versions(self.name)):
            if self.target.ref in v.manifest.get("parents", []):
                return latest_labels(v)
        return out

    def add(self, item: dict, decision: str, note: str = "") -> Version:
        rec = make_label(self.target, item, decision, self.reviewer, note)
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        with open(self.journal, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        recs = sorted(self.decisions().values(), key=lambda r: r["item_id"])
        return self.store.write(self.name, "label", recs, manifest={
            "parents": [self.target.ref], "reviewer": self.reviewer, "labelled": self.target.ref})


def latest_labels(v: Version) -> dict[str, dict]:
    if v.kind != "label":
        raise InputError(f"{v.ref} holds '{v.kind}' records, not labels.")
    return {r["item_id"]: r for r in v.iter_records()}


def pair_labels(v: Version) -> dict[tuple[str, str], int]:
    """(jd_id, cv_id) -> human label, for the label records that name a pair and are not 'unsure'."""
    return {(r["jd_id"], r["cv_id"]): r["label"] for r in latest_labels(v).values()
            if r.get("jd_id") and r.get("cv_id") and r["label"] is not None}


def filter_rejected(store: DatasetStore, ref: str, labels_refs: Iterable[str], name: str | None = None
                    ) -> tuple[Version, int]:
    """A new version of `ref` without the records (for a pool: the candidates) any of the label versions rejected;
    (version, items dropped)."""
    src = store.resolve(ref)
    rejected: set[str] = set()
    parents = [src.ref]
    for lr in labels_refs:
        lv = store.resolve(lr, "label")
        parents.append(lv.ref)
        if src.ref not in lv.manifest.get("parents", []):
            raise InputError(f"{lv.ref} labels {', '.join(lv.manifest.get('parents', [])) or 'nothing'}, "
                             f"not {src.ref}.")
        rejected |= {i for i, r in latest_labels(lv).items() if r["decision"] == "reject"}
    if src.kind == "pool":  # pool items are "entry id:candidate id": drop the rejected candidates
        kept = (_drop_candidates(e, rejected) for e in src.iter_records())
        kept = (e for e in kept if e["candidate_ids"])
    else:
        kept = (r for r in src.iter_records() if r["id"] not in rejected)
    out = store.write(name or f"{src.name}-reviewed", src.kind, kept, manifest={
        **{k: src.manifest[k] for k in ("refs", "lm", "prompts") if k in src.manifest},
        "parents": parents, "filtered": {"rejected_items": len(rejected)}})
    dropped = len(rejected) if src.kind == "pool" else src.count - out.count
    return out, dropped


def _drop_candidates(entry: dict, rejected: set[str]) -> dict:
    gone = {c for c in entry["candidate_ids"] if f"{entry['id']}:{c}" in rejected}
    return {**entry, **{k: [c for c in entry.get(k) or [] if c not in gone]
                        for k in ("candidate_ids", "positive_ids", "hard_negative_ids")}}

