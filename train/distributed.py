"""Data-parallel training over processes (torchrun, or `mira train r1|r2 --nproc N`), with in-batch negatives from the
global batch.

Every rank builds the same batches (same seed); each encodes a contiguous shard of every column. The shards'
embeddings are gathered in rank order, so the loss sees exactly the single-process batch (every positive and hard
negative of every rank is in each anchor's softmax denominator). Each rank computes that global loss, takes its
gradient with respect to the global embeddings, and back-propagates only its own rows (the gradient-cached step's
second pass); summing the parameter gradients over ranks (all-reduce) then gives the single-process gradient. So a
step equals one process over the global batch, and it is the same code path as the gradient-cached step.

CPU runs use the gloo backend, CUDA runs NCCL (one GPU per rank: `LOCAL_RANK`).
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init_from_env() -> bool:
    """Join the process group torchrun describes (WORLD_SIZE > 1); True when training is distributed."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return world()[1] > 1


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def shard(items: list, rank: int, size: int) -> list:
    """This rank's contiguous share (rank order concatenates back to `items`)."""
    n = len(items)
    return items[rank * n // size:(rank + 1) * n // size]


def gather_rows(local: torch.Tensor) -> tuple[torch.Tensor, slice]:
    """Every rank's rows, concatenated in rank order (no graph), and the slice that is this rank's."""
    rank, size = world()
    n = torch.tensor([local.shape[0]], dtype=torch.long)
    sizes = [torch.zeros(1, dtype=torch.long) for _ in range(size)]
    dist.all_gather(sizes, n)
    sizes = [int(s) for s in sizes]
    width = local.shape[1] if local.dim() == 2 else 0
    top = max(sizes)
    padded = torch.zeros((top, width), dtype=local.dtype, device=local.device)
    if local.shape[0]:
        padded[:local.shape[0]] = local.detach()
    parts = [torch.zeros_like(padded) for _ in range(size)]
    dist.all_gather(parts, padded)
    start = sum(sizes[:rank])
    return torch.cat([p[:s] for p, s in zip(parts, sizes)]), slice(start, start + sizes[rank])


def all_reduce_grads(params: list[torch.nn.Parameter]) -> None:
    """Sum the parameter gradients over ranks (each holds its own rows' share of the global loss's gradient)."""
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad)
