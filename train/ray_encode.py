"""Corpus encoding on Ray Data (#17 item 2): `mira eval global / compare / protocol --ray ADDRESS --workers N`.

The driver keeps the embedding cache. Texts already in it are never sent; the rest become a Ray dataset (one block per
shard) mapped by a pool of N encoder actors (`map_batches` with an actor pool: each loads the encoder once, on a GPU
of its own when the cluster has one per worker). Embeddings stream back to the driver as shards finish, in whatever
order they finish, and the cache stores them chunk by chunk as they arrive, so an interrupted encoding resumes from
what was stored. Ray Data retries a shard whose worker died on a replacement worker.

The texts travel in windows of `window` texts (one dataset each), so the driver never holds more than one window in
Ray's object store. The model folder must be readable at the same path on every node (a shared filesystem, or the same
install), as for training.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from synth.ray_connect import connect, quiet_data_context

RAY_MISSING = ('--ray needs Ray, an optional extra: pip install -e ".[ray]"; without --ray the corpus is encoded in '
               "this process.")


class EncodeWorker:
    """A Ray Data UDF: one encoder per actor; a batch of `{"i", "text"}` rows -> `{"i", "v"}`."""

    def __init__(self, model_path: str, max_length: int | None, trust_remote_code: bool):
        import torch

        from .backbones import load_encoder

        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = load_encoder(model_path, device, max_length, trust_remote_code)

    def __call__(self, batch: dict) -> dict:
        vecs = self.model.encode(list(batch["text"]), batch_size=32, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
        return {"i": batch["i"], "v": vecs}


class RayEncoder:
    """Encodes texts over a pool of `workers` encoder actors, `shard` texts per Ray Data block."""

    def __init__(self, address: str | None = "local", workers: int = 2, shard: int = 256, window: int = 200_000):
        connect(address, workers, RAY_MISSING)
        self.workers, self.shard, self.window = workers, shard, window

    def stream(self, model_path: str, max_length: int | None, trust_remote_code: bool,
               texts: list[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """`(positions, vectors)` per finished shard, positions into `texts`."""
        import ray
        from ray.data import ActorPoolStrategy

        quiet_data_context()
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= self.workers else 0
        for w in range(0, len(texts), self.window):
            part = texts[w: w + self.window]
            ds = ray.data.from_items([{"i": w + i, "text": t} for i, t in enumerate(part)],
                                     override_num_blocks=max(1, -(-len(part) // self.shard)))
            ds = ds.map_batches(EncodeWorker, fn_constructor_kwargs={
                "model_path": str(model_path), "max_length": max_length, "trust_remote_code": trust_remote_code},
                batch_size=self.shard, batch_format="numpy", num_cpus=1, num_gpus=gpus,
                compute=ActorPoolStrategy(size=min(self.workers, -(-len(part) // self.shard))))
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                yield np.asarray(batch["i"]), np.asarray(batch["v"], dtype=np.float32)

    def encode(self, model_path: str, max_length: int | None, trust_remote_code: bool, texts: list[str]) -> np.ndarray:
        """All of `texts`, in input order."""
        out: np.ndarray | None = None
        for positions, vecs in self.stream(model_path, max_length, trust_remote_code, texts):
            if out is None:
                out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
            out[positions] = vecs
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)
