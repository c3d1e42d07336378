"""Group-aware splits of any record kind: no JD / job family / employer in two splits."""

from __future__ import annotations

import random
from collections import defaultdict

from .errors import InputError, MiraError
from .store import DatasetStore, Version

SPLIT_NAMES = ("train", "val", "test")
GROUPINGS = ("jd", "jd_family", "employer")


def _jd_lookup(store: DatasetStore, v: Version, by: str) -> dict[str, dict]:
    """JD records reachable from the version's lineage (pool refs, or parents of kind jd / jd_anchor). A lineage
    entry that cannot be read is an error: without it every record would fall into a group of its own JD, a split
    that leaks job families or employers."""
    out: dict[str, dict] = {}
    refs = list((v.manifest.get("refs") or {}).values()) + list(v.manifest.get("parents") or [])
    for ref in refs:
        try:
            pv = store.resolve(ref)
        except MiraError as e:
            raise InputError(f"Cannot split {v.ref} --by {by}: its lineage names {ref}, which cannot be read ({e}). "
                             "Restore that dataset, or split --by jd.") from e
        if pv.kind == "jd":
            for r in pv.iter_records():
                out[r["id"]] = r
        elif pv.kind == "jd_anchor":
            for r in pv.iter_records():
                out.setdefault(r["jd_id"], {}).update(job_family=r.get("job_family"))
    return out


def group_key(rec: dict, by: str, jds: dict[str, dict]) -> str:
    jd_id = rec["id"] if rec["kind"] == "jd" else rec.get("jd_id") or rec.get("anchor_id") or rec["id"]
    if by == "jd":
        return jd_id
    jd = jds.get(jd_id, rec if rec["kind"] == "jd" else {})
    if by == "jd_family":
        fam = rec.get("job_family") or jd.get("job_family") or jd.get("category")
        return f"family:{(fam or 'unknown').strip().lower()}"
    company = jd.get("company") or rec.get("company")
    return f"employer:{(company or 'unknown:' + jd_id).strip().lower()}"


def split_version(store: DatasetStore, ref: str, by: str = "jd", ratios: tuple[float, ...] = (0.8, 0.1, 0.1),
                  seed: int = 0, name: str | None = None) -> list[Version]:
    if by not in GROUPINGS:
        raise InputError(f"--by '{by}': use one of {', '.join(GROUPINGS)}.")
    if not 2 <= len(ratios) <= 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        raise InputError("--ratios: two or three non-negative numbers adding up to 1, e.g. 0.8,0.1,0.1.")
    v = store.resolve(ref)
    jds = _jd_lookup(store, v, by) if by != "jd" and v.kind != "jd" else {}
    groups: dict[str, list[dict]] = defaultdict(list)
    for rec in v.iter_records():
        groups[group_key(rec, by, jds)].append(rec)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    total = sum(len(g) for g in groups.values())
    bounds, acc = [], 0.0
    for r in ratios[:-1]:
        acc += r
        bounds.append(acc * total)
    parts: list[list[dict]] = [[] for _ in ratios]
    filled = 0
    for k in keys:  # whole groups, in shuffled order, until each split reaches its share of records
        idx = next((i for i, b in enumerate(bounds) if filled < b), len(ratios) - 1)
        parts[idx].extend(groups[k])
        filled += len(groups[k])
    name = name or v.name
    out = []
    for split, recs in zip(SPLIT_NAMES, parts):
        recs.sort(key=lambda r: r["id"])
        out.append(store.write(f"{name}-{split}", v.kind, recs, manifest={
            "parents": [v.ref], "refs": v.manifest.get("refs"), "seed": seed,
            "split": {"name": split, "by": by, "ratios": list(ratios), "groups": len({group_key(r, by, jds)
                                                                                    for r in recs})}}))
    return out
