"""Import a JD–CV file (e.g. RJDB) as three versions: `<name>-jd`, `<name>-cv`, and the `pool` version `<name>`."""

from __future__ import annotations

from .records import stable_id
from .rows import clean, doc_record, raw_row, report_counts, row_fields, source_of, text_problem


def import_pool(store, kind, path, name, rows, mapping, preset, max_chars, report, manifest):
    """A JD–CV file -> `<name>-jd`, `<name>-cv` and the `pool` version `<name>` that references them."""
    jd_w, cv_w, pool_w = pool_writers(store, name, manifest)
    with jd_w, cv_w, pool_w:
        seen: dict[str, int] = {}
        cv_ids: set[str] = set()
        for line, row, err in rows:
            report.rows += 1
            where = f"{path.name}:{line}"
            f, err = (None, err) if err else row_fields(row, mapping, preset)
            jd_text = None if err else clean(f.get("jd"))
            err = err or text_problem(jd_text, max_chars, "JD text")
            cvs = {}
            for role in ("positive", "hard_negative", "negative"):
                if err:
                    break
                vals = f.get(role) or []
                for v in (vals if isinstance(vals, list) else [vals]):
                    t = clean(v)
                    err = err or text_problem(t, max_chars, f"{role} CV text")
                    cvs.setdefault(role, []).append(t)
            if not err and not cvs.get("positive"):
                err = "no positive CV"
            if err:
                report.rejected[err.split(" (")[0]] += 1
                pool_w.reject(err, stage="import", where=where, raw=raw_row(row))
                continue
            jd_id = stable_id("jd", jd_text)
            if jd_id in seen:
                report.duplicates += 1
                pool_w.reject("duplicate", stage="dedup", where=where, duplicate_of=jd_id, first_line=seen[jd_id])
                continue
            seen[jd_id] = line
            src = source_of(path, line, f, preset)
            jd_w.add(doc_record("jd", jd_text, {"title": f.get("jd_title"), "meta": f.get("meta", {})}, src), where)
            ids = {}
            for role, texts in cvs.items():
                ids[role] = []
                for t in texts:
                    cid = stable_id("cv", t)
                    if cid not in cv_ids:
                        cv_ids.add(cid)
                        cv_w.add(doc_record("cv", t, {"meta": {"role": role}}, src), where)
                    if cid not in ids[role]:
                        ids[role].append(cid)
            cands = list(dict.fromkeys(ids.get("positive", []) + ids.get("hard_negative", []) + ids.get("negative", [])))
            entry = {"id": f"pool-{jd_id[3:]}", "kind": "pool", "jd_id": jd_id, "candidate_ids": cands,
                     "positive_ids": ids["positive"], "hard_negative_ids": ids.get("hard_negative", []),
                     "scope": "local", "source": src}
            if f.get("hard_negative_lost") and ids.get("hard_negative"):
                entry["hard_negative_lost"] = {c: list(f["hard_negative_lost"]) for c in ids["hard_negative"]}
            pool_w.add(entry, where)
            report.imported += 1
        commit_pool(report, jd_w, cv_w, pool_w)


def pool_writers(store, name: str, manifest: dict):
    """Writers of `<name>-jd`, `<name>-cv` and the pool `<name>` (every pool import format writes these three)."""
    return (store.writer(f"{name}-jd", "jd", {**manifest, "role": f"JDs of pool {name}"}),
            store.writer(f"{name}-cv", "cv", {**manifest, "role": f"CVs of pool {name}"}),
            store.writer(name, "pool", manifest))


def commit_pool(report, jd_w, cv_w, pool_w, **counts) -> None:
    """Commit the JD and CV versions, then the pool naming them, with the import counts in every manifest."""
    stages = {"import": {**report_counts(report), **counts}}
    jd_w.manifest["stages"] = cv_w.manifest["stages"] = stages
    jd_v, cv_v = jd_w.commit(), cv_w.commit()
    pool_w.manifest.update(stages=stages, parents=[jd_v.ref, cv_v.ref], refs={"jd": jd_v.ref, "cv": cv_v.ref})
    report.versions += [jd_v, cv_v, pool_w.commit()]

