"""TREC-style pool sets: queries (JDs), a collection (CVs), qrels (graded judgments) and optionally the upstream
retriever's run, into `<name>-jd`, `<name>-cv` and the `pool` version `<name>`.

Formats (whitespace- or tab-separated; a header line naming the columns is skipped):
- queries, collection: `id<TAB>text` per line, or JSONL objects with `_id` (or `id`) and `text` (BEIR; a `title` is
  put before the text);
- qrels: `qid 0 docid grade` (TREC) or `qid docid grade` (BEIR TSV); grades are integers >= 0;
- run: `qid Q0 docid rank score tag` (TREC).
A JD's candidates are its run's documents in score order (the run's scores become `upstream_scores`) or, without a
run, its judged documents in qrels order. Judged relevant documents the run did not retrieve stay positives (Recall
counts them as misses); unjudged candidates are negatives. Lines naming unknown ids, bad grades and unreadable lines go
to the pool's rejects with file:line.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError
from .rows import (
    DEFAULT_MAX_CHARS,
    ImportReport,
    clean,
    doc_record,
    text_problem,
)
from .pool_import import commit_pool, pool_writers
from .records import stable_id


def _lines(path: Path, encoding: str):
    if not path.is_file():
        raise InputError(f"Cannot read {path}: no such file.")
    with open(path, encoding=encoding, errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                yield n, line.rstrip("\r\n")


def _texts(path: Path, encoding: str):
    """(line, id, text or None, error) per entry of a queries or collection file."""
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    for n, line in _lines(path, encoding):
        if jsonl:
            try:
                obj = json.loads(line)
            except ValueError as e:
                yield n, None, None, f"unparseable JSON line ({e})"
                continue
            if not isinstance(obj, dict) or obj.get("_id", obj.get("id")) is None:
                yield n, None, None, "JSON line without an _id"
                continue
            text = "\n".join(str(obj[k]) for k in ("title", "text") if obj.get(k))
            yield n, str(obj.get("_id", obj.get("id"))).strip(), text, None
        else:
            key, sep, text = line.partition("\t")
            if not sep:
                key, _, text = line.strip().partition(" ")
            if n == 1 and key.strip().lower() in ("id", "_id", "qid", "docid", "query-id", "corpus-id"):
                continue
            yield n, key.strip(), text, None


def _grade(value: str) -> int | None:
    try:
        g = float(value)
    except ValueError:
        return None
    return int(g) if g >= 0 and g == int(g) else None


def import_trec(store, name: str, queries: Path, collection: Path, qrels: Path, run: Path | None = None,
                max_chars: int = DEFAULT_MAX_CHARS, encoding: str = "utf-8") -> ImportReport:
    report = ImportReport("pool", str(qrels))
    files = {"queries": queries, "collection": collection, "qrels": qrels, **({"run": run} if run else {})}
    manifest = {"sources": [{"file": str(p), "role": r, "bytes": p.stat().st_size if p.is_file() else None}
                            for r, p in files.items()], "format": "trec", "preset": None,
                "params": {"max_chars": max_chars, "encoding": encoding}}
    jd_w, cv_w, pool_w = pool_writers(store, name, manifest)
    with jd_w, cv_w, pool_w:
        def reject(err, path, line, **extra):
            report.rejected[err.split(" (")[0].split(" '")[0]] += 1
            pool_w.reject(err, stage="import", where=f"{path.name}:{line}", **extra)

        q_text: dict[str, tuple[str, int]] = {}
        for n, qid, text, err in _texts(queries, encoding):
            text = None if err else clean(text)
            err = err or text_problem(text, max_chars, "JD text") or ("repeated query id" if qid in q_text else None)
            if err:
                reject(err, queries, n)
                continue
            q_text[qid] = (text, n)
        judged: dict[str, dict[str, int]] = {}
        where: dict[tuple[str, str], tuple[Path, int]] = {}
        for n, line in _lines(qrels, encoding):
            parts = line.split()
            if len(parts) not in (3, 4):
                reject("unreadable qrels line (want 'qid 0 docid grade' or 'qid docid grade')", qrels, n, raw=line)
                continue
            qid, did, g = parts[0], parts[-2], _grade(parts[-1])
            if n == 1 and g is None and not parts[-1].lstrip("-").replace(".", "").isdigit():
                continue  # a header
            if qid not in q_text:
                reject(f"unknown query id '{qid}' (not in {queries.name})", qrels, n, raw=line)
            elif g is None:
                reject(f"bad grade '{parts[-1]}' (use an integer >= 0)", qrels, n, raw=line)
            else:
                judged.setdefault(qid, {})[did] = g
                where[(qid, did)] = (qrels, n)
        ranked: dict[str, list[tuple[float, int, str]]] = {}
        for n, line in _lines(run, encoding) if run else ():
            parts = line.split()
            try:
                qid, did, rank, score = parts[0], parts[2], int(parts[3]), float(parts[4])
            except (IndexError, ValueError):
                reject("unreadable run line (want 'qid Q0 docid rank score tag')", run, n, raw=line)
                continue
            if qid not in q_text:
                reject(f"unknown query id '{qid}' (not in {queries.name})", run, n, raw=line)
                continue
            ranked.setdefault(qid, []).append((-score, rank, did))
            where.setdefault((qid, did), (run, n))
        needed = {d for j in judged.values() for d in j} | {d for r in ranked.values() for _, _, d in r}
        docs: dict[str, str] = {}
        written: set[str] = set()
        for n, did, text, err in _texts(collection, encoding):
            if did not in needed and not err:
                continue
            text = None if err else clean(text)
            err = err or text_problem(text, max_chars, "CV text")
            if err:
                reject(err, collection, n)
                continue
            cid = stable_id("cv", text)
            if cid not in written:
                written.add(cid)
                cv_w.add(doc_record("cv", text, {}, {"file": collection.name, "line": n, "source_id": did,
                                                      "preset": None}), f"{collection.name}:{n}")
            docs[did] = cid
        for (qid, did), (path, n) in where.items():
            if did not in docs:
                reject(f"unknown document id '{did}' (not in {collection.name}, or its text was rejected)", path, n)
        jd_seen: dict[str, str] = {}
        for qid, (text, n) in q_text.items():
            report.rows += 1
            grades = {docs[d]: g for d, g in (judged.get(qid) or {}).items() if d in docs}
            if qid in ranked:
                run_docs = [(s, r, d) for s, r, d in sorted(ranked[qid]) if d in docs]
                cands = list(dict.fromkeys(docs[d] for _, _, d in run_docs))
                first = {}
                for s, _, d in run_docs:
                    first.setdefault(docs[d], -s)
                scores = [first[c] for c in cands]
            else:
                cands, scores = list(dict.fromkeys(grades)), None
            if not cands:
                reject("query without candidates (nothing in the run or qrels for it)", queries, n)
                continue
            jd_id = stable_id("jd", text)
            if jd_id in jd_seen:
                report.duplicates += 1
                pool_w.reject("duplicate JD (same text as query " + jd_seen[jd_id] + ")", stage="dedup",
                              where=f"{queries.name}:{n}")
                continue
            jd_seen[jd_id] = qid
            src = {"file": queries.name, "line": n, "source_id": qid, "preset": None}
            jd_w.add(doc_record("jd", text, {}, src), f"{queries.name}:{n}")
            entry = {"id": f"pool-{jd_id[3:]}", "kind": "pool", "jd_id": jd_id, "candidate_ids": cands,
                     "positive_ids": [c for c, g in grades.items() if g >= 1], "hard_negative_ids": [],
                     "relevance": grades, "scope": "local", "source": src}
            if scores is not None:
                entry["upstream_scores"] = scores
            pool_w.add(entry, f"{queries.name}:{n}")
            report.imported += 1
        commit_pool(report, jd_w, cv_w, pool_w)
    return report
