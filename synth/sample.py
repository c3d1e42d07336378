"""`mira data sample`: stratified JD sampling (proportional across strata, largest remainder), drawn before any
model is evaluated; strata, their sizes and the seed go into the manifest."""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict

import numpy as np

from .errors import InputError
from .store import pool_members
from .store import DatasetStore, Version

FIELDS = ("jd_family", "seniority", "length")
# one table of seniority cues: the stratifier (`seniority_of`) and stage 1's stated levels (`seniority_levels`)
_SENIORITY = {"intern": r"\bintern(ship)?\b", "junior": r"\b(junior|jr\.?|entry[- ]level|associate|graduate|trainee)\b",
              "mid": r"\b(mid[- ]level|intermediate)\b", "senior": r"\b(senior|sr\.?)\b",
              "lead": r"\b(lead|manager|supervisor)\b",
              "principal": r"\b(principal|distinguished|staff\s+(engineer|scientist|developer|architect))\b",
              "executive": r"\b(director|vp|vice president|head of|chief|c[eft]o)\b"}
_PRIORITY = ("intern", "junior", "principal", "executive", "lead", "senior")  # a title naming two: the first wins


def seniority_levels(title: str, text: str = "") -> list[str]:
    """The seniority levels a JD states: those its title names, 'mid' where the text says mid-level or
    intermediate, and always 'unspecified' (a conservative anchor claims no level the JD does not state)."""
    t = title.lower()
    levels = [name for name, pat in _SENIORITY.items() if re.search(pat, t)]
    if re.search(_SENIORITY["mid"], text.lower()):
        levels.append("mid")
    return [*dict.fromkeys(levels), "unspecified"]


def seniority_of(title: str | None) -> str:
    stated = seniority_levels(title or "")
    return next((name for name in _PRIORITY if name in stated), "mid/unspecified")


def strata_keys(jds: list[dict], fields: list[str], anchors: dict[str, dict], bins: int = 3) -> list[tuple]:
    bad = [f for f in fields if f not in FIELDS]
    if bad:
        raise InputError(f"--stratify: unknown field(s) {', '.join(bad)} (use {', '.join(FIELDS)}).")
    lengths = np.array([len(j["text"]) for j in jds])
    edges = np.quantile(lengths, [i / bins for i in range(1, bins)]) if len(jds) else []
    keys = []
    for j, n in zip(jds, lengths):
        a = anchors.get(j["id"], {})
        key = []
        for f in fields:
            if f == "jd_family":
                key.append((a.get("job_family") or j.get("category") or "unknown").strip().lower())
            elif f == "seniority":
                key.append(a.get("seniority") or seniority_of(j.get("title") or j["text"].split("\n", 1)[0]))
            else:
                key.append(f"length-q{int(np.searchsorted(edges, n, side='right')) + 1}of{bins}")
        keys.append(tuple(key))
    return keys


def allocate(sizes: dict[tuple, int], n: int) -> dict[tuple, int]:
    """Proportional allocation with the largest-remainder method (ties broken by stratum key)."""
    total = sum(sizes.values())
    quotas = {k: n * s / total for k, s in sizes.items()}
    out = {k: min(sizes[k], math.floor(q)) for k, q in quotas.items()}
    left = n - sum(out.values())
    for k in sorted(sizes, key=lambda k: (-(quotas[k] - math.floor(quotas[k])), k)):
        if left <= 0:
            break
        if out[k] < sizes[k]:
            out[k] += 1
            left -= 1
    return out


def stratified_sample(store: DatasetStore, ref: str, n: int, fields: list[str], seed: int, name: str,
                      anchors_ref: str | None = None, bins: int = 3) -> list[Version]:
    v = store.resolve(ref, ("jd", "pool"))
    pool = v if v.kind == "pool" else None
    if pool is not None:
        jd_v, cv_v = pool_members(store, pool)
        entries = {e["jd_id"]: e for e in pool.iter_records()}
        jds = [r for r in jd_v.iter_records() if r["id"] in entries]
    else:
        jds = v.records()
    if n > len(jds):
        raise InputError(f"--n {n} is larger than the {len(jds)} JDs in {v.ref}.")
    anchors = {a["jd_id"]: a for a in store.resolve(anchors_ref, "jd_anchor").iter_records()} if anchors_ref else {}
    keys = strata_keys(jds, fields, anchors, bins)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for j, k in zip(jds, keys):
        groups[k].append(j)
    alloc = allocate({k: len(g) for k, g in groups.items()}, n)
    rng = random.Random(seed)
    chosen = []
    for k in sorted(groups):
        members = sorted(groups[k], key=lambda r: r["id"])
        chosen += rng.sample(members, alloc[k])
    chosen.sort(key=lambda r: r["id"])
    strata = [{"stratum": list(k), "size": len(groups[k]), "sampled": alloc[k]} for k in sorted(groups)]
    manifest = {"parents": [v.ref] + ([anchors_ref] if anchors_ref else []), "seed": seed,
                "params": {"n": n, "stratify": fields, "length_bins": bins}, "strata": strata}
    if pool is None:
        return [store.write(name, "jd", chosen, manifest=manifest)]
    ids = {j["id"] for j in chosen}
    jd_out = store.write(f"{name}-jd", "jd", chosen, manifest=manifest)
    cvs = cv_v.by_id()
    cand = sorted({c for e in entries.values() if e["jd_id"] in ids for c in e["candidate_ids"]})
    corpus = store.write(f"{name}-corpus", "cv", [cvs[c] for c in cand], manifest={
        "parents": [pool.ref], "role": "shared corpus: the union of the sampled JDs' candidates"})
    sub = store.write(name, "pool", [dict(entries[i], scope="global") for i in sorted(ids)], manifest={
        **manifest, "refs": {"jd": jd_out.ref, "cv": corpus.ref}})
    return [sub, jd_out, corpus]
