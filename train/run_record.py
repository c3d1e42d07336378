"""What a training run records and where: the query prompt on the JD side, pools as validation queries,
`mira_train.json`, the sentence-transformers model card data, and the saved (merged) model folder."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from synth.store import DatasetStore, Version, code_version, pool_members

from .backbones import (
    load_encoder,
    lora_targets,
    merge_lora,
    pick_device,
    query_prompt,
    resolve_base,
)
from .config import as_dict
from .st_trainer import resolve_precision

MANIFEST = "mira_train.json"
MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"  # what the offline default backbone is


@dataclass
class TrainResult:
    out: Path
    manifest: dict
    saved: bool = True  # False on the ranks other than 0 of a distributed run (rank 0 saves)


def setup(base: str | None, cfg):
    """(model, device, precision): threads and seed set, the backbone loaded offline."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = pick_device()
    precision = resolve_precision(cfg.precision, device)
    return load_encoder(base, device, cfg.max_length, cfg.trust_remote_code), device, precision


def backbone_record(model, cfg) -> dict:
    """What the backbone was trained with, for mira_train.json (the query prompt is also saved in the model folder's
    sentence-transformers config, so `encode_query(jd)` encodes JDs the same way)."""
    return {"lora_targets": lora_targets(model, cfg.lora_targets), "max_seq_length": model.max_seq_length,
            "query_prompt_name": "query" if query_prompt(model) else None, "query_prompt": query_prompt(model),
            "trust_remote_code": cfg.trust_remote_code}


def queries_prompted(items: list, prompt: str) -> list:
    return [replace(t, query=prompt + t.query) for t in items] if prompt else items


def pool_queries(store: DatasetStore, pool: Version) -> list[dict]:
    jd_v, cv_v = pool_members(store, pool)
    jds, cvs = jd_v.by_id(), cv_v.by_id()
    return [{"qid": e["jd_id"], "text": jds[e["jd_id"]]["text"],
             "cands": [(c, cvs[c]["text"]) for c in e["candidate_ids"]], "pos": set(e["positive_ids"]),
             "hn": set(e.get("hard_negative_ids", []))} for e in pool.iter_records()]


def manifest(kind, data: Version, val_ref, base, cfg, device, precision, epochs: list[dict], t0, extra=None) -> dict:
    return {"round": kind, "data": data.ref, "val": val_ref, "base": base, "base_path": resolve_base(base),
            "config": as_dict(cfg), "device": device, "precision": precision, "torch": torch.__version__,
            "platform": platform.platform(), "code_version": code_version(), "wall_seconds": round(time.time() - t0, 1),
            "epochs": epochs, **(extra or {})}


def set_card(model, kind: str, base: str | None, refs: list[str]) -> None:
    """sentence-transformers' model card data: base model, Mira's dataset versions, a name; the Trainer adds the
    losses, hyperparameters and evaluation results."""
    card = model.model_card_data
    card.model_name = f"Mira {kind.upper()} (LoRA, merged) on {base or 'all-MiniLM-L6-v2'}"
    card.train_datasets = [{"name": f"Mira dataset {r}", "id": r} for r in refs]
    card.local_files_only = True
    card.generate_widget_examples = False
    card.tags = list(dict.fromkeys([*card.tags, "mira", f"mira-{kind}", "lora"]))
    card.base_model = MINILM_HUB_ID if not base or base == "minilm" else Path(resolve_base(base)).name


def ensure_named_prompts(model) -> None:
    """The folder gets "query" (the JD side) and "document" prompts, so plain sentence-transformers'
    `encode_query` / `encode_document` encode the way Mira trained (an empty prompt where the backbone has none)."""
    prompts = dict(model.prompts or {})
    prompts.setdefault("query", "")
    prompts.setdefault("document", "")
    model.prompts = prompts


def scrub_card(model) -> None:
    """No training text in the model card: the library samples widget / usage examples and dataset rows from the
    training data, and Mira's are CVs (names, e-mails) and client JDs."""
    card = model.model_card_data
    card.widget, card.usage_examples = [], None
    for d in [*card.train_datasets, *card.eval_datasets]:
        for key in ("examples_table", "examples", "_example_columns"):
            d.pop(key, None)


def save_merged(model, out: Path, record: dict, console) -> None:
    """Fold the adapter into the weights and write the folder: loads with `SentenceTransformer(out)`."""
    merge_lora(model)
    ensure_named_prompts(model)
    scrub_card(model)
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    (out / MANIFEST).write_text(json.dumps(record, indent=2, default=str) + "\n")
    if console:
        console.print(f"[bold]saved[/] {out} (loads with SentenceTransformer('{out}'); JDs: encode_query)")
