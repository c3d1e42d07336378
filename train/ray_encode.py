"""Corpus encoding on Ray (#17 item 2): `mira eval global / compare / protocol --ray ADDRESS --workers N`.

Each worker is a Ray actor that loads the encoder once (CPU, or one GPU each when the cluster has them) and encodes
the shards it is sent; the driver keeps the embedding cache and writes every chunk to it as it comes back, so an
interrupted encoding resumes from what was stored. Texts already in the cache are never sent. The model folder must
be readable at the same path on every node (a shared filesystem, or the same install), as for training.
"""

from __future__ import annotations

import numpy as np

from synth.ray_connect import connect

RAY_MISSING = ('--ray needs Ray, an optional extra: pip install -e ".[ray]"; without --ray the corpus is encoded in '
               "this process.")


class EncodeWorker:
    def __init__(self, model_path: str, max_length: int | None, trust_remote_code: bool):
        import torch

        from .backbones import load_encoder

        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = load_encoder(model_path, device, max_length, trust_remote_code)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False).astype(np.float32)


class RayEncoder:
    """Encodes lists of texts in shards over `workers` actors; results in input order."""

    def __init__(self, address: str | None = "local", workers: int = 2, shard: int = 256):
        connect(address, workers, RAY_MISSING)
        self.workers, self.shard = workers, shard
        self._actors: dict[tuple, list] = {}

    def _pool(self, model_path: str, max_length: int | None, trust_remote_code: bool) -> list:
        import ray

        key = (model_path, max_length, trust_remote_code)
        if key not in self._actors:
            gpus = 1 if ray.cluster_resources().get("GPU", 0) >= self.workers else 0
            cls = ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=-1, max_task_retries=-1)(EncodeWorker)
            self._actors[key] = [cls.remote(model_path, max_length, trust_remote_code) for _ in range(self.workers)]
        return self._actors[key]

    def close(self) -> None:
        """Stop the workers (each holds a CPU or a GPU of the cluster)."""
        import ray

        for actors in self._actors.values():
            for a in actors:
                ray.kill(a)
        self._actors.clear()

    def encode(self, model_path: str, max_length: int | None, trust_remote_code: bool, texts: list[str]) -> np.ndarray:
        import ray

        actors = self._pool(model_path, max_length, trust_remote_code)
        refs = [actors[i % len(actors)].encode.remote(texts[s: s + self.shard])
                for i, s in enumerate(range(0, len(texts), self.shard))]
        parts = ray.get(refs)
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
