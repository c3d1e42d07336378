"""Recall-first evaluation: local pools (rerank each JD's shortlist) and global pools (retrieve from the corpus, then
rerank the top K1 with the BoundaryHead); model comparison tables and plots; the boundary diagnostic."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from synth.errors import InputError
from synth.store import pool_members
from synth.store import DatasetStore

from .backbones import resolve_base
from .embed_cache import EmbeddingCache, model_fingerprint
from .head import PairHead, load_head, search_lambda
from .local_eval import entry_query, scored_summary
from .metrics import Query, rank_metrics, write_trec_run
from .spec import ZERO_SHOT, ModelSpec  # noqa: F401  (ZERO_SHOT: read by callers here too)



@dataclass
class Scorer:
    """An encoder folder, optionally with a BoundaryHead and its lambda: s = cos - lambda * sigmoid(head)."""

    name: str
    model_path: str
    head: PairHead | None = None
    lam: float = 0.0
    fingerprint: str = ""
    max_length: int | None = None  # tokens per text; None: the model's own max_seq_length
    trust_remote_code: bool = False
    _model: object = field(default=None, repr=False)
    _reqs: dict = field(default_factory=dict, repr=False)
    remote: object = field(default=None, repr=False)  # a RayEncoder: texts are encoded on Ray Data workers
    abstained: int = 0  # JDs a requirement-aware head left to the cosine (no structured requirements)

    def encoder(self):
        if self._model is None:
            from .backbones import load_encoder

            self._model = load_encoder(self.model_path, "cpu", self.max_length, self.trust_remote_code)
        return self._model

    def query_prompt(self) -> str:
        """The model's `query` prompt (e.g. Qwen3-Embedding's instruction), read from its folder; JDs get it."""
        f = Path(self.model_path) / "config_sentence_transformers.json"
        if not f.is_file():
            return ""  # a model without a sentence-transformers config has no prompts
        try:
            prompts = json.loads(f.read_text()).get("prompts") or {}
            return prompts.get("query", "") or ""
        except (OSError, ValueError, AttributeError) as e:
            raise InputError(f"{f}: cannot read its 'prompts' ({e}); fix the JSON or re-save the model.") from e

    def embed_queries(self, texts: list[str], cache: EmbeddingCache) -> np.ndarray:
        p = self.query_prompt()
        return self.embed([p + t for t in texts] if p else texts, cache)

    @property
    def cache_key(self) -> str:
        """The embedding-cache key: the model's content and the length texts are cut at."""
        return f"{self.fingerprint}:len{self.max_length}" if self.max_length else self.fingerprint

    def embed(self, texts: list[str], cache: EmbeddingCache) -> np.ndarray:
        if self.remote is not None:  # Ray Data: shards on a pool of workers (train/ray_encode.py)
            return cache.encode(self.cache_key, texts, stream=lambda todo: self.remote.stream(
                self.model_path, self.max_length, self.trust_remote_code, todo))

        def encode(batch):
            return self.encoder().encode(batch, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                                         show_progress_bar=False)
        return cache.encode(self.cache_key, texts, encode)

    def pair_features(self, jd: dict | str | None, texts: list[str] | None) -> np.ndarray | None:
        """The head's requirement features for one JD (record or text) against candidate texts; None when the
        head takes none."""
        if self.head is None or not self.head.extra:
            return None
        if jd is None or texts is None:
            raise InputError(f"{self.name}: its head reads requirements, so reranking needs the JD and CV texts.")
        from .requirements import pair_features

        return pair_features([self._requirements(jd)] * len(texts), texts)

    def _requirements(self, jd: dict | str):
        from .requirements import jd_requirements

        key = jd["id"] if isinstance(jd, dict) and jd.get("id") else str(jd)
        if key not in self._reqs:
            self._reqs[key] = jd_requirements(jd)
        return self._reqs[key]

    def boundary(self, q: np.ndarray, cands: np.ndarray, jd: dict | str | None = None,
                 texts: list[str] | None = None) -> np.ndarray:
        """sigmoid(head) per candidate; 0 for every candidate of a JD whose requirements are not structured (no
        record fields, no requirements section) when the head reads requirements: it abstains there."""
        if self.head.extra and jd is not None and not self._requirements(jd).structured:
            self.abstained += 1
            return np.zeros(len(cands))
        return self.head.boundary(np.repeat(q[None], len(cands), 0), cands, self.pair_features(jd, texts))

    def rerank(self, q: np.ndarray, cands: np.ndarray, jd: dict | str | None = None,
               texts: list[str] | None = None) -> np.ndarray:
        """cos, minus lambda * sigmoid(head) with a head; a requirement-aware head also reads the JD (record or
        text) and the candidates' texts."""
        cos = cands @ q
        if self.head is None or self.lam == 0:
            return cos
        return cos - self.lam * self.boundary(q, cands, jd, texts)


def make_scorer(spec: str, lam: float | None = None, max_length: int | None = None,
                trust_remote_code: bool = False) -> Scorer:
    """`MODEL` or `MODEL+HEAD` (a `ModelSpec`); MODEL is a folder, or `zero-shot` / `minilm` for the offline base
    model."""
    parsed = ModelSpec.parse(spec)
    model, head_dir = parsed.model, parsed.head
    path = resolve_base(None if parsed.zero_shot else model)
    s = Scorer(str(parsed), path, fingerprint=model_fingerprint(path), max_length=max_length,
               trust_remote_code=trust_remote_code)
    if head_dir:
        s.head, info = load_head(head_dir)
        if lam is None and "lambda" not in info:
            raise InputError(f"{Path(head_dir) / 'head.json'} has no 'lambda': pass --lambda, or retrain the head "
                             "with `mira train head`.")
        s.lam = info["lambda"] if lam is None else lam
        if info.get("dim") and info["dim"] != _dim(path):
            raise InputError(f"Head {head_dir} expects {info['dim']}-d embeddings; {model} gives {_dim(path)}.")
    return s


def _dim(path: str) -> int:
    import json

    cfg = json.loads((Path(path) / "config.json").read_text())
    return cfg.get("hidden_size") or cfg.get("d_model")


def _pool(store: DatasetStore, pool_ref: str):
    pool = store.resolve(pool_ref, "pool")
    jd_v, cv_v = pool_members(store, pool)
    return pool, jd_v.by_id(), cv_v.by_id()


def model_max_length(path: str) -> int:
    """The max_seq_length a sentence-transformers folder declares (without loading the weights)."""
    import json

    f = Path(path) / "sentence_bert_config.json"
    if f.exists():
        n = json.loads(f.read_text()).get("max_seq_length")
        if n:
            return int(n)
    cfg = json.loads((Path(path) / "config.json").read_text())
    return int(cfg.get("max_position_embeddings", 512))


def common_max_length(scorers: list[Scorer], requested: int | None = None) -> int:
    """One length for every model of a comparison: the requested one, else the smallest the models declare."""
    n = requested or min(model_max_length(s.model_path) for s in scorers)
    for s in scorers:
        s.max_length = n
    return n


def training_lineage(model_path: str) -> dict[str, set[str]]:
    """JD ids and JD text hashes a Mira-trained model saw in training or validation (its mira_train.json and its
    base's, recursively); empty for models Mira did not train."""
    import json

    seen = {"jd_ids": set(), "jd_text_hashes": set()}
    path, hops = Path(model_path), 0
    while path and (path / "mira_train.json").exists() and hops < 8:
        m = json.loads((path / "mira_train.json").read_text())
        lin = m.get("lineage") or {}
        for k in seen:
            seen[k].update(lin.get(k) or [])
        base = m.get("base_path")
        path, hops = (Path(base) if base and Path(base) != path else None), hops + 1
    return seen


def leaked_jds(scorer: Scorer, jds: list[dict]) -> int:
    """How many evaluation JDs (by id or normalised-text hash) the scorer's model trained or validated on."""
    from .data import text_hash

    seen = training_lineage(scorer.model_path)
    return sum(1 for j in jds if j["id"] in seen["jd_ids"] or text_hash(j["text"]) in seen["jd_text_hashes"])


def eval_jds(store: DatasetStore, pool_ref: str) -> list[dict]:
    pool, jds, _ = _pool(store, pool_ref)
    return [jds[e["jd_id"]] for e in pool.iter_records()]


def local_eval(store: DatasetStore, pool_ref: str, scorer: Scorer, ks: list[int], cache: EmbeddingCache,
               run_file: Path | None = None, min_grade: int = 1) -> dict:
    """Rerank each JD's shortlist; a graded pool counts grade >= min_grade as relevant (train/local_eval.py)."""
    pool, jds, cvs = _pool(store, pool_ref)
    scorer.abstained = 0
    entries = pool.records()
    jd_ids = [e["jd_id"] for e in entries]
    cv_ids = sorted({c for e in entries for c in e["candidate_ids"]})
    jv = dict(zip(jd_ids, scorer.embed_queries([jds[j]["text"] for j in jd_ids], cache)))
    cvv = dict(zip(cv_ids, scorer.embed([cvs[c]["text"] for c in cv_ids], cache)))
    queries = []
    for e in entries:
        cands = e["candidate_ids"]
        scores = scorer.rerank(jv[e["jd_id"]], np.stack([cvv[c] for c in cands]), jds[e["jd_id"]],
                               [cvs[c]["text"] for c in cands])
        queries.append(entry_query(e, scores, min_grade))
    if run_file:
        write_trec_run(queries, run_file, scorer.name)
    return {**rank_metrics(queries, ks), **scored_summary(pool, queries, min_grade), "model": scorer.name,
            "pool": pool.ref, "mode": "local",
            "lambda": scorer.lam if scorer.head else None, "max_length": scorer.max_length,
            "head_abstained": scorer.abstained}


def search_lambda_on_pool(store: DatasetStore, pool_ref: str, scorer: Scorer, head: PairHead,
                          cache: EmbeddingCache, select: str = "recall@1") -> tuple[float, dict]:
    """Grid-search the head's lambda on a validation pool (each JD's candidates) for `select`, then MRR."""
    pool, jds, cvs = _pool(store, pool_ref)
    probe = replace(scorer, head=head, _reqs={})  # scores exactly as the saved MODEL+HEAD will, abstentions included
    cos, bnd, pos = [], [], []
    for e in pool.iter_records():
        qv = scorer.embed_queries([jds[e["jd_id"]]["text"]], cache)[0]
        cv = scorer.embed([cvs[x]["text"] for x in e["candidate_ids"]], cache)
        cos.append(cv @ qv)
        bnd.append(probe.boundary(qv, cv, jds[e["jd_id"]], [cvs[i]["text"] for i in e["candidate_ids"]]))
        pos.append(np.array([i in e["positive_ids"] for i in e["candidate_ids"]]))
    # the paper searches 0..0.5; a requirement-aware head separates near misses the cosine cannot, and may need more
    if head.extra:
        return search_lambda(cos, bnd, pos, [round(v, 3) for v in np.arange(0.0, 2.001, 0.05)], select, "middle")
    return search_lambda(cos, bnd, pos, select=select)


def _ann_index(corpus: np.ndarray, k1: int):
    """A usearch HNSW index that reproduces: vectors stored as float32 (usearch otherwise picks bf16 or f16 where the
    CPU accelerates them, so rankings would differ between machines), built on one thread (a multi-threaded build
    gives a different graph each run) and searched with a beam of at least 2*K1. None without usearch."""
    try:
        from usearch.index import Index
    except ImportError:
        return None  # exact search: slower, never wrong
    index = Index(ndim=corpus.shape[1], metric="cos", dtype="f32", connectivity=16, expansion_add=128,
                  expansion_search=max(128, 2 * k1))
    index.add(np.arange(len(corpus)), np.ascontiguousarray(corpus, dtype=np.float32), threads=1)
    return index


def _top_k(corpus: np.ndarray, q: np.ndarray, k: int, index=None) -> np.ndarray:
    """The top k rows of `corpus` by cosine with `q`, best first, ties by row. With an ANN index the candidates come
    from the index and are ordered by their exact float32 score, so both paths rank the same way."""
    if index is not None:
        idx = np.asarray(index.search(q, min(k, len(corpus))).keys, dtype=np.int64)
        scores = corpus[idx] @ q
        return idx[np.lexsort((idx, -scores))]
    scores = corpus @ q
    k = min(k, len(scores))
    idx = np.argpartition(-scores, k - 1)[:k]
    return idx[np.lexsort((idx, -scores[idx]))]


def global_eval(store: DatasetStore, pool_ref: str, scorer: Scorer, ks: list[int], cache: EmbeddingCache,
                k1: int = 1000, corpus_ref: str | None = None, ann_threshold: int = 200_000,
                run_file: Path | None = None) -> dict:
    """Every JD retrieves from the whole corpus (the pool's candidates, plus --corpus CVs as distractors): exact
    search, or a usearch ANN index above `ann_threshold` CVs; the top K1 are reranked with the head. Recall counts
    every positive of the JD, so positives the first stage missed are misses (see train/metrics.py)."""
    pool, jds, cvs = _pool(store, pool_ref)
    scorer.abstained = 0
    entries = pool.records()
    texts = {c: cvs[c]["text"] for e in entries for c in e["candidate_ids"]}
    if corpus_ref:
        for r in store.resolve(corpus_ref, "cv").iter_records():
            texts.setdefault(r["id"], r["text"])
    ids = sorted(texts)
    if not ids:
        raise InputError(f"{pool.ref} has no candidate texts to search.")
    corpus = scorer.embed([texts[i] for i in ids], cache)
    jv = scorer.embed_queries([jds[e["jd_id"]]["text"] for e in entries], cache)
    index = _ann_index(corpus, k1) if len(ids) > ann_threshold else None
    queries = []
    for e, q in zip(entries, jv):
        top = _top_k(corpus, q, k1, index)
        scores = scorer.rerank(q, corpus[top], jds[e["jd_id"]], [texts[ids[i]] for i in top] if scorer.head else None)
        queries.append(Query(e["jd_id"], [ids[i] for i in top], scores, set(e["positive_ids"]),
                             set(e.get("hard_negative_ids", [])), e.get("hard_negative_lost") or {}))
    if run_file:
        write_trec_run(queries, run_file, scorer.name)
    return {**rank_metrics(queries, ks), **scored_summary(pool, queries, 1), "model": scorer.name, "pool": pool.ref,
            "mode": "global", "k1": k1,
            "corpus_size": len(ids), "corpus": corpus_ref, "ann": index is not None,
            "ann_params": ({"dtype": "f32", "connectivity": index.connectivity,
                            "expansion_search": index.expansion_search} if index is not None else None),
            "lambda": scorer.lam if scorer.head else None, "max_length": scorer.max_length,
            "head_abstained": scorer.abstained}


def write_comparison(rows: list[dict], ks: list[int], out: Path, title: str) -> dict[str, Path]:
    """CSV, markdown (the paper's Table 4/5 shape, percentages) and a PNG of Recall@K and Precision@K curves."""
    out.mkdir(parents=True, exist_ok=True)
    cols = [f"recall@{k}" for k in ks] + [f"precision@{k}" for k in ks] + ["mrr", "pos_above_hardneg"]
    cols = [c for c in cols if any(c in r for r in rows)]
    with open(out / "comparison.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["model"] + cols)
        for r in rows:
            w.writerow([r["model"]] + [r.get(c, "") for c in cols])
    md = ["| model | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for r in rows:
        md.append(f"| {r['model']} | " + " | ".join(f"{100 * r[c]:.2f}" if isinstance(r.get(c), float) else ""
                                                    for c in cols) + " |")
    (out / "comparison.md").write_text(f"{title}\n\n" + "\n".join(md) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for r in rows:
        for ax, m in zip(axes, ("recall", "precision")):
            ax.plot(ks, [r.get(f"{m}@{k}", math.nan) for k in ks], marker="o", label=r["model"])
    for ax, m in zip(axes, ("Recall@K", "Precision@K")):
        ax.set_xlabel("K")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # K is a count: no 1.2, 1.4
        ax.set_title(m)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out / "comparison.png", dpi=110)
    plt.close(fig)
    return {"csv": out / "comparison.csv", "md": out / "comparison.md", "png": out / "comparison.png"}


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """P(score of a label-1 item > score of a label-0 item), ties counting half (Mann-Whitney U / n1 n0)."""
    from scipy.stats import rankdata

    r = rankdata(scores)
    n1, n0 = int(labels.sum()), int((1 - labels).sum())
    if not n1 or not n0:
        raise InputError("The diagnostic needs both labels among the pairs.")
    return float((r[labels == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def cohens_d(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = len(a), len(b)
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    return float((a.mean() - b.mean()) / pooled) if pooled else 0.0


def diagnose(scorer: Scorer, queries: list[str], cands: list[str], labels: np.ndarray,
             cache: EmbeddingCache) -> dict:
    """Does s_boundary separate labelled boundary mismatches (1) from matches (0)? AUC, Cohen's d, Welch p-value."""
    from scipy.stats import ttest_ind

    if scorer.head is None:
        raise InputError("diagnose needs a head: --head DIR (or MODEL+HEAD).")
    x = None
    if scorer.head.extra:
        from .requirements import jd_requirements, pair_features

        reqs = {t: jd_requirements(t) for t in set(queries)}
        x = pair_features([reqs[t] for t in queries], cands)
    s = scorer.head.boundary(scorer.embed_queries(queries, cache), scorer.embed(cands, cache), x)
    pos, neg = s[labels == 1], s[labels == 0]
    p = float(ttest_ind(pos, neg, equal_var=False).pvalue) if len(pos) > 1 and len(neg) > 1 else float("nan")
    return {"auc": auc(s, labels), "cohens_d": cohens_d(pos, neg), "p_value": p, "n_mismatch": int(len(pos)),
            "n_match": int(len(neg)), "mean_mismatch": float(pos.mean()), "mean_match": float(neg.mean())}
