"""What each page shows, gathered from the store: a pair beside its anchor, a judgment beside its JD and CV, the
review queue of a version. Fields are read defensively (other tools change records over time): what is missing is
said on the page, never filled in."""

from __future__ import annotations

from collections import Counter

from synth.errors import MiraError
from synth.runner.calls import reason_key
from synth.store import DatasetStore, Version, pool_members

from . import marks
from .pager import Pager

TEXT_KEYS = ("text", "jd", "anchor_text", "card", "requirement", "title", "decision")


def snippet(rec: dict, n: int = 160) -> str:
    for k in TEXT_KEYS:
        if isinstance(rec.get(k), str) and rec[k]:
            t = " ".join(rec[k].split())
            return t[:n] + ("…" if len(t) > n else "")
    if rec.get("jd_id") and rec.get("cv_id"):
        return f"{rec['jd_id']} × {rec['cv_id']}"
    return ""


def reject_groups(v: Version) -> list[tuple[str, int]]:
    return Counter(reason_key(str(r.get("reason", ""))) for r in v.iter_rejects()).most_common()


def parent_of_kind(store: DatasetStore, v: Version, kinds: tuple[str, ...]) -> Version | None:
    for ref in v.manifest.get("parents") or []:
        try:
            p = store.resolve(ref)
        except MiraError:
            continue
        if p.kind in kinds:
            return p
    return None


def texts_for(store: DatasetStore, pager: Pager, v: Version) -> tuple[Version | None, Version | None]:
    """The jd and cv versions behind a judgment or pool version (through its pool parent's refs)."""
    pool = v if v.kind == "pool" else parent_of_kind(store, v, ("pool",))
    if pool is None:
        return None, None
    try:
        return pool_members(store, pool)
    except MiraError:
        return None, None


def lookup(pager: Pager, v: Version | None, rec_id: str | None) -> dict | None:
    return pager.find(v.records_path, rec_id) if v is not None and rec_id else None


def pair_context(store: DatasetStore, pager: Pager, v: Version, rec: dict) -> dict:
    anchors = parent_of_kind(store, v, ("jd_anchor",))
    anchor = lookup(pager, anchors, rec.get("anchor_id"))
    st = rec.get("structured") if isinstance(rec.get("structured"), dict) else {}
    if anchor is not None:
        title, musts, src = anchor.get("title"), anchor.get("must") or [], f"anchor {anchor.get('id')}"
    else:
        title, musts, src = st.get("title"), st.get("must") or [], "the pair's own structured fields (anchor not found)"
    source, text = rec.get("anchor_text") or "", rec.get("text") or ""
    flip_from, flip_to = st.get("from"), st.get("to")
    s_spans, _ = marks.stated(source, title, musts)
    t_spans, found = marks.stated(text, title, musts)
    if flip_from:
        s_spans += marks.find_spans(source, marks.value_text(flip_from), "flip", "the value that was flipped")
    if flip_to:
        t_spans += marks.find_spans(text, marks.value_text(flip_to), "flip", "the flipped value")
    diff = marks.word_diff(source, text, marks.value_text(flip_to)) if rec.get("type") in (
        "paraphrase", "constraint") else None
    shown = {"title", "must", "from", "to", "field"}
    known = {"id", "kind", "anchor_id", "jd_id", "anchor_text", "text", "type", "label", "structured", "lineage"}
    return {"anchor": anchor, "anchor_src": src, "title": title, "source": marks.render(source, s_spans),
            "text": marks.render(text, t_spans), "found": found, "diff": diff,
            "flip": {"field": st.get("field"), "from": flip_from, "to": flip_to} if (flip_from or flip_to) else None,
            "other": {k: val for k, val in st.items() if k not in shown},
            "extra": {k: val for k, val in rec.items() if k not in known}}


def judgment_context(store: DatasetStore, pager: Pager, v: Version, rec: dict) -> dict:
    jd_v, cv_v = texts_for(store, pager, v)
    jd, cv = lookup(pager, jd_v, rec.get("jd_id")), lookup(pager, cv_v, rec.get("cv_id"))
    cv_text = (cv or {}).get("text") or ""
    spans, reqs = [], []
    for r in rec.get("requirements") or []:
        ev = r.get("evidence")
        hit = marks.find_spans(cv_text, ev, "evidence", f"evidence for requirement {r.get('num', '')}") if ev else []
        spans += hit
        llm = r.get("llm_verdict")
        reqs.append({**r, "overruled": llm is not None and llm != r.get("verdict"), "llm": llm,
                     "located": bool(hit) if ev else None})
    risks = []
    for k in rec.get("risks") or []:
        ev = k.get("evidence") if isinstance(k, dict) else None
        cls = "injection" if isinstance(k, dict) and k.get("category") == "prompt_injection" else "risk"
        hit = marks.find_spans(cv_text, ev, cls, str(k.get("category")) if isinstance(k, dict) else "") if ev else []
        spans += hit
        risks.append({"risk": k, "cls": cls, "located": bool(hit) if ev else None})
    return {"jd": jd, "cv": cv, "jd_ref": jd_v.ref if jd_v else None, "cv_ref": cv_v.ref if cv_v else None,
            "cv_html": marks.render(cv_text, spans), "reqs": reqs, "risks": risks}


def queue_items(store: DatasetStore, v: Version) -> list[dict]:
    """What a reviewer labels in `v`: judgments (flagged first), pool candidates, pairs or triplets."""
    items = []
    if v.kind == "judgment":
        for r in v.iter_records(check=False):
            if r.get("rollout") is None:
                items.append({"item_id": r["id"], "jd_id": r.get("jd_id"), "cv_id": r.get("cv_id"),
                              "item_label": r.get("label"), "flag": bool(r.get("needs_review")),
                              "summary": f"total {r.get('total')} · label {r.get('label')}"})
        items.sort(key=lambda i: not i["flag"])
    elif v.kind == "pool":
        for e in v.iter_records(check=False):
            pos = set(e.get("positive_ids") or [])
            for c in e.get("candidate_ids") or []:
                items.append({"item_id": f"{e['id']}:{c}", "jd_id": e.get("jd_id"), "cv_id": c,
                              "item_label": (1 if c in pos else 0) if pos else None, "flag": False,
                              "summary": "pool positive" if c in pos else "pool candidate"})
    elif v.kind in ("jd_pair", "jdcv_triplet", "boundary_pair"):
        for r in v.iter_records(check=False):
            lab = r.get("label")
            items.append({"item_id": r["id"], "jd_id": None, "cv_id": None, "flag": False,
                          "item_label": {"positive": 1, "negative": 0}.get(lab, 1 if v.kind == "jdcv_triplet" else None),
                          "summary": " · ".join(str(r[k]) for k in ("type", "label", "generator", "negative_type")
                                                if r.get(k))})
    return items


def item_texts(store: DatasetStore, pager: Pager, v: Version, item: dict) -> list[tuple[str, str]]:
    """(heading, text) panels for one queue item."""
    if v.kind in ("judgment", "pool"):
        jd_v, cv_v = texts_for(store, pager, v)
        jd, cv = lookup(pager, jd_v, item["jd_id"]), lookup(pager, cv_v, item["cv_id"])
        return [(f"JD {item['jd_id']}", (jd or {}).get("text", "(JD not found)")),
                (f"CV {item['cv_id']}", (cv or {}).get("text", "(CV not found)"))]
    rec = pager.find(v.records_path, item["item_id"]) or {}
    if v.kind == "jdcv_triplet":
        return [("JD", rec.get("jd", "")), ("positive CV", rec.get("positive", "")),
                ("negative CV", rec.get("negative", ""))]
    return [("source (anchor)", rec.get("anchor_text", "")), ("generated", rec.get("text", ""))]


def triplet_context(rec: dict) -> dict:
    """JD, qualified and unqualified CV; for a deceptive hard negative, what it changed from the positive."""
    pos, neg = rec.get("positive") or "", rec.get("negative") or ""
    return {"diff": marks.word_diff(pos, neg) if rec.get("generator") == "hardneg" else None}
