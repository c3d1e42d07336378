"""Training data from dataset versions: R2 triplets (from `jdcv_triplet` or `pool` versions), R1 pairs and groups
(from `jd_pair` versions), group-aware validation splits, and the batch sampler."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

from synth.errors import InputError
from synth.store import pool_members
from synth.store import DatasetStore, Version


@dataclass(frozen=True)
class Triplet:
    group: str  # the JD id: never twice in a batch
    query: str
    positive: str
    negative: str | None


def r2_triplets(store: DatasetStore, v: Version, seed: int = 0) -> list[Triplet]:
    if v.kind == "jdcv_triplet":
        return [Triplet(r["jd_id"], r["jd"], r["positive"], r["negative"]) for r in v.iter_records()]
    if v.kind != "pool":
        raise InputError(f"{v.ref} holds '{v.kind}' records; R2 trains on jdcv_triplet or pool versions.")
    jd_v, cv_v = pool_members(store, v)
    jds, cvs = jd_v.by_id(), cv_v.by_id()
    rng = random.Random(seed)
    out = []
    for e in v.iter_records():
        negs = e.get("hard_negative_ids") or [c for c in e["candidate_ids"] if c not in e["positive_ids"]]
        for i, p in enumerate(e["positive_ids"]):
            n = negs[i % len(negs)] if negs else None
            out.append(Triplet(e["jd_id"], jds[e["jd_id"]]["text"], cvs[p]["text"], cvs[n]["text"] if n else None))
    rng.shuffle(out)
    if not out:
        raise InputError(f"{v.ref} has no positives to train on.")
    return out


def text_hash(text: str) -> str:
    """The JD text's identity for the leakage guard: hash of the normalised text (as import computes ids)."""
    from synth.records import normalize_text, text_hash as _h

    return _h(normalize_text(text))[:16]


def jd_lineage(store: DatasetStore, versions: list[Version]) -> dict[str, list[str]]:
    """JD ids and JD text hashes in these training / validation versions, for `mira_train.json` (the evaluation
    leakage guard reads them back)."""
    ids, hashes = set(), set()
    for v in versions:
        jd_texts = pool_members(store, v)[0].by_id() if v.kind == "pool" else {}
        for r in v.iter_records():
            ids.add(r["jd_id"])
            text = r.get("jd") if v.kind == "jdcv_triplet" else (jd_texts.get(r["jd_id"]) or {}).get("text")
            if text:
                hashes.add(text_hash(text))
    return {"jd_ids": sorted(ids), "jd_text_hashes": sorted(hashes)}


def r1_data(v: Version) -> dict[str, list]:
    """card pairs, paraphrase pairs, and ranking groups (query, positive, boundary negative, constraint negative)."""
    if v.kind != "jd_pair":
        raise InputError(f"{v.ref} holds '{v.kind}' records; R1 trains on jd_pair versions (`mira synth jd`).")
    by_anchor: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    card, para = [], []
    for r in v.iter_records():
        by_anchor[r["anchor_id"]][r["type"]].append(r)
        if r["type"] == "card":
            card.append(Triplet(r["anchor_id"], r["anchor_text"], r["text"], None))
        elif r["type"] == "paraphrase":
            para.append(Triplet(r["anchor_id"], r["anchor_text"], r["text"], None))
    groups = []
    for aid, kinds in by_anchor.items():
        pos = (kinds["paraphrase"] or kinds["card"])
        if not pos or not kinds["boundary"] or not kinds["constraint"]:
            continue
        b, c = kinds["boundary"], kinds["constraint"]
        for i in range(max(len(b), len(c))):
            groups.append((aid, b[0]["anchor_text"], pos[0]["text"], b[i % len(b)]["text"], c[i % len(c)]["text"]))
    return {"card": card, "align": para, "rank": groups}


def split_by_group(items: list, group_of, fraction: float, seed: int) -> tuple[list, list]:
    """(train, val) with no group in both; at least one group held out when there are two or more."""
    groups = sorted({group_of(x) for x in items})
    if fraction <= 0 or len(groups) < 2:
        return items, []
    rng = random.Random(seed)
    rng.shuffle(groups)
    held = set(groups[: max(1, int(len(groups) * fraction))])
    return [x for x in items if group_of(x) not in held], [x for x in items if group_of(x) in held]


def make_batches(n: int, batch_size: int, group_of, texts_of, length_of, seed: int) -> list[list[int]]:
    """Length-bucketed batches of item indices: no group twice and no text twice in a batch; order shuffled.

    Items are shuffled, cut into windows of 50 batches, sorted by length inside each window (so a batch's members
    have similar lengths and little padding), then packed greedily; an item that would repeat a group or a text in
    the open batch waits for the next one.
    """
    rng = random.Random(seed)
    order = list(range(n))
    rng.shuffle(order)
    window = batch_size * 50
    batches: list[list[int]] = []
    carry: list[int] = []
    for s in range(0, n, window):
        pending = carry + sorted(order[s: s + window], key=length_of)
        carry = []
        while pending:
            batch, groups, texts, rest = [], set(), set(), []
            for i in pending:
                g, ts = group_of(i), texts_of(i)
                if len(batch) < batch_size and g not in groups and not (ts & texts):
                    batch.append(i)
                    groups.add(g)
                    texts |= ts
                else:
                    rest.append(i)
            if len(batch) < batch_size and rest and s + window < n:
                carry = batch + rest  # finish with the next window rather than leave a small batch
                break
            batches.append(batch)
            pending = rest
    rng.shuffle(batches)
    return batches


def head_pairs(store: DatasetStore, ref: str) -> tuple[list[str], list[str], list[int], list[str]]:
    """(queries, candidates, labels, groups) for BoundaryHead: a `boundary_pair` version (label 1 = boundary
    mismatch), or a pool whose hard negatives are near misses of its positives (RJDB: matched -> 0, unmatched -> 1)."""
    q, c, y, g, _ = head_pairs_with_jds(store, ref)
    return q, c, y, g


def head_pairs_with_jds(store: DatasetStore, ref: str) -> tuple[list[str], list[str], list[int], list[str], list]:
    """head_pairs plus, per pair, where its requirements are read from: the JD record (pools) or the query text
    (boundary pairs)."""
    v = store.resolve(ref, ("boundary_pair", "pool"))
    q, c, y, g, src = [], [], [], [], []
    if v.kind == "boundary_pair":
        for r in v.iter_records():
            q.append(r["query"]), c.append(r["candidate"]), y.append(int(r["label"])), g.append(r["query"])
            src.append(r["query"])
        return q, c, y, g, src
    jd_v, cv_v = pool_members(store, v)
    jds, cvs = jd_v.by_id(), cv_v.by_id()
    for e in v.iter_records():
        for ids, label in ((e["positive_ids"], 0), (e.get("hard_negative_ids", []), 1)):
            for cid in ids:
                q.append(jds[e["jd_id"]]["text"]), c.append(cvs[cid]["text"]), y.append(label), g.append(e["jd_id"])
                src.append(jds[e["jd_id"]])
    if len(set(y)) < 2:
        raise InputError(f"{v.ref} needs positives and labelled hard negatives to train a BoundaryHead.")
    return q, c, y, g, src


def judged_pairs(store: DatasetStore, v: Version) -> tuple[list[str], list[str], list[int]]:
    """(JD texts, CV texts, labels) from a judgment version: label 1 where the judge reported the risk
    `role_boundary_mismatch`, else 0 (the transfer diagnostic on JD–CV pairs)."""
    parent = next((p for p in v.manifest.get("parents", []) if store.resolve(p).kind == "pool"), None)
    if parent is None:
        raise InputError(f"{v.ref} does not name the pool it judged.")
    jd_v, cv_v = pool_members(store, store.resolve(parent))
    jds, cvs = jd_v.by_id(), cv_v.by_id()
    q, c, y = [], [], []
    for j in v.iter_records():
        q.append(jds[j["jd_id"]]["text"])
        c.append(cvs[j["cv_id"]]["text"])
        y.append(int(any(r["category"] == "role_boundary_mismatch" for r in j.get("risks", []))))
    return q, c, y
