"""BoundaryHead training pairs (PAPER.md, "BoundaryHead"): label 1 = stage-4 role-boundary pairs; label 0 = stage-2/3
positives whose titles match the anchor's (exact, containment, or token overlap >= 0.7) and whose text shares the
anchor's responsibilities (bag-of-words cosine >= 0.5, backed off to 0.2 when that leaves fewer positives than
negatives); sampled 1:1 with a seed."""

from __future__ import annotations

import math
import random
import re
from collections import Counter

from ..errors import InputError
from ..records import stable_id
from ..store import DatasetStore, Version
from .common import norm_title

TITLE_OVERLAP = 0.7
THRESHOLDS = (0.5, 0.2)


def titles_match(a: str, b: str, overlap: float = TITLE_OVERLAP) -> bool:
    na, nb = norm_title(a), norm_title(b)
    if not na or not nb:
        return False
    if na == nb or na in nb or nb in na:
        return True
    ta, tb = set(na.split()), set(nb.split())
    return len(ta & tb) / max(1, min(len(ta), len(tb))) >= overlap


def bow_cosine(a: str, b: str) -> float:
    ca, cb = Counter(re.findall(r"[a-z0-9]+", a.lower())), Counter(re.findall(r"[a-z0-9]+", b.lower()))
    dot = sum(v * cb[k] for k, v in ca.items())
    na, nb = math.sqrt(sum(v * v for v in ca.values())), math.sqrt(sum(v * v for v in cb.values()))
    return dot / (na * nb) if na and nb else 0.0


def select(pairs: list[dict], anchors: dict[str, dict], seed: int = 0,
           thresholds: tuple[float, ...] = THRESHOLDS) -> tuple[list[dict], dict]:
    """(boundary_pair records, parameters used)."""
    negatives = [p for p in pairs if p["type"] == "boundary"]
    candidates = []
    for p in pairs:
        if p["type"] not in ("paraphrase", "card"):
            continue
        a = anchors.get(p["anchor_id"])
        if a is None:
            continue
        title = (p.get("structured") or {}).get("title") or ""
        if titles_match(a["title"], title):
            candidates.append((p, bow_cosine(" ".join(a.get("responsibilities") or []), p["text"])))
    used, positives = thresholds[-1], []
    for th in thresholds:
        positives = [p for p, sim in candidates if sim >= th]
        used = th
        if len(positives) >= len(negatives):
            break
    rng = random.Random(seed)
    n = min(len(negatives), len(positives))
    chosen = [(p, 1, "boundary") for p in rng.sample(negatives, n)] + \
             [(p, 0, p["type"]) for p in rng.sample(positives, n)]
    records = [{"id": stable_id("boundary_pair", f"{label}|{p['anchor_text']}|{p['text']}"), "kind": "boundary_pair",
                "query": p["anchor_text"], "candidate": p["text"], "label": label, "origin": origin,
                "lineage": {"stage": "boundary-pairs", "prompt_hash": None, "model": None, "source_ids": [p["id"]]}}
               for p, label, origin in chosen]
    params = {"seed": seed, "title_overlap": TITLE_OVERLAP, "thresholds": list(thresholds), "threshold_used": used,
              "negatives": n, "positives": n, "negatives_available": len(negatives),
              "positives_eligible": len(positives), "title_matched": len(candidates)}
    return records, params


def make_boundary_pairs(store: DatasetStore, pairs_ref: str, name: str, seed: int = 0) -> Version:
    pv = store.resolve(pairs_ref, "jd_pair")
    anchor_refs = [p for p in pv.manifest.get("parents", []) if p.split("@")[0].endswith("-anchors")]
    if not anchor_refs:
        raise InputError(f"{pv.ref} does not name its jd_anchor version among its parents.")
    av = store.resolve(anchor_refs[0], "jd_anchor")
    records, params = select(pv.records(), av.by_id(), seed)
    if not records:
        raise InputError(f"{pv.ref} yields no boundary pairs: it needs stage-4 pairs and title-matched stage-2/3 "
                         "positives.")
    return store.write(name, "boundary_pair", records, manifest={"parents": [pv.ref, av.ref], "seed": seed,
                                                                 "params": params})
