"""Tokenise once, pad per chunk, embed with or without gradients, in the chosen precision."""

from __future__ import annotations

import contextlib

import torch

# Pad widths to a multiple of this: a few distinct shapes instead of hundreds keeps the allocator's and oneDNN's
# caches small (peak memory), at the cost of a little padding.
PAD_MULTIPLE = 32


def bf16_supported(device: str) -> bool:
    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision: str, device: str) -> str:
    if precision == "auto":
        return "bf16" if bf16_supported(device) else "fp32"
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be auto, fp32 or bf16, not {precision}")
    return precision


def autocast(precision: str, device: str):
    if precision == "bf16":
        return torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class Tokens:
    """Every distinct text tokenised once (no padding); batches are padded to their own longest member."""

    def __init__(self, model, texts: list[str]):
        self.model = model
        self.index: dict[str, int] = {}
        uniq = []
        for t in texts:
            if t not in self.index:
                self.index[t] = len(uniq)
                uniq.append(t)
        self.texts = uniq
        tok = model.tokenizer
        out = tok(uniq, truncation=True, max_length=model.max_seq_length, padding=False)
        self.ids: list[list[int]] = out["input_ids"]
        self.pad_id = tok.pad_token_id or 0
        probe = model.preprocess(["x"])
        self.use_token_types = "token_type_ids" in probe
        self.extra = {k: v for k, v in probe.items() if not isinstance(v, torch.Tensor)}  # e.g. modality

    def length(self, text: str) -> int:
        return len(self.ids[self.index[text]])

    def batch(self, texts: list[str], device: str) -> dict:
        rows = [self.ids[self.index[t]] for t in texts]
        width = max(len(r) for r in rows)
        width = min(-(-width // PAD_MULTIPLE) * PAD_MULTIPLE, max(width, self.model.max_seq_length))
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        feats = {"input_ids": ids.to(device), "attention_mask": mask.to(device), **self.extra}
        if self.use_token_types:
            feats["token_type_ids"] = torch.zeros_like(ids).to(device)
        return feats


def embed(model, tokens: Tokens, texts: list[str], device: str, precision: str, chunk: int | None = None,
          grad: bool = False) -> torch.Tensor:
    """L2-normalised embeddings (float32) of `texts`, `chunk` at a time (sorted by length to limit padding)."""
    if not texts:
        return torch.zeros((0, model.get_sentence_embedding_dimension()))
    chunk = chunk or len(texts)
    order = sorted(range(len(texts)), key=lambda i: tokens.length(texts[i]))
    parts = [None] * len(texts)
    ctx = contextlib.nullcontext() if grad else torch.no_grad()
    with ctx:
        for s in range(0, len(order), chunk):
            idx = order[s: s + chunk]
            with autocast(precision, device):
                out = model(tokens.batch([texts[i] for i in idx], device))["sentence_embedding"]
            out = torch.nn.functional.normalize(out.float(), dim=-1)
            for j, i in enumerate(idx):
                parts[i] = out[j]
    return torch.stack(parts)
