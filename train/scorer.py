"""Model loading for evaluation: a `Scorer` is an encoder folder (or the offline MiniLM), optionally with a
BoundaryHead and its lambda, encoding through the embedding cache; and the max length a comparison shares."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synth.errors import InputError

from .backbones import resolve_base
from .embed_cache import EmbeddingCache, model_fingerprint
from .head import PairHead, load_head
from .spec import ZERO_SHOT, ModelSpec  # noqa: F401  (ZERO_SHOT: what `zero-shot` may be written as)


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
