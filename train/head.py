"""BoundaryHead (PAPER.md "BoundaryHead"): a PairHead MLP on frozen embeddings whose sigmoid, times lambda, is
subtracted from the cosine: s_final = cos(f(q), f(c)) - lambda * sigmoid(head(q, c))."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from synth.errors import InputError


class PairHead(nn.Module):
    """h = [f(q); f(c); |f(q) - f(c)|; f(q) * f(c)] -> Linear(4d, 256) -> ReLU -> Dropout(0.1) -> Linear(256, 1)."""

    def __init__(self, dim: int, hidden: int = 256, dropout: float = 0.1):
        super().__init__()
        self.dim, self.hidden, self.dropout = dim, hidden, dropout
        self.net = nn.Sequential(nn.Linear(4 * dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))

    @staticmethod
    def features(q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return torch.cat([q, c, (q - c).abs(), q * c], dim=-1)

    def forward(self, q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Logits s_boundary (before the sigmoid), shape (n,)."""
        return self.net(self.features(q, c)).squeeze(-1)

    def boundary(self, q: np.ndarray, c: np.ndarray) -> np.ndarray:
        """sigmoid(s_boundary) in [0, 1] for numpy embeddings (eval mode, no gradients)."""
        self.eval()
        with torch.no_grad():
            return torch.sigmoid(self(torch.as_tensor(q, dtype=torch.float32),
                                      torch.as_tensor(c, dtype=torch.float32))).numpy()


@dataclass
class HeadConfig:
    hidden: int = 256
    dropout: float = 0.1
    lr: float = 1e-3
    weight_decay: float = 0.01
    batch_size: int = 128
    max_epochs: int = 40
    patience: int = 5
    val_fraction: float = 0.2
    seed: int = 0


@dataclass
class HeadResult:
    head: PairHead
    lam: float = 0.1
    log: list = field(default_factory=list)
    stopped_epoch: int = 0
    best_val_loss: float = float("inf")


def train_head(q: np.ndarray, c: np.ndarray, y: np.ndarray, groups: list[str] | None = None,
               cfg: HeadConfig | None = None) -> HeadResult:
    """BCE with AdamW; early stopping (patience) on a validation split held out by query group; best weights kept."""
    cfg = cfg or HeadConfig()
    if len(set(y.tolist())) < 2:
        raise InputError("BoundaryHead needs both labels (1 = boundary mismatch, 0 = match) in its training pairs.")
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    groups = groups or [str(i) for i in range(len(y))]
    uniq = sorted(set(groups))
    rng.shuffle(uniq)
    held = set(uniq[: max(1, int(len(uniq) * cfg.val_fraction))])
    val = np.array([g in held for g in groups])
    tq, tc, ty = (torch.as_tensor(a[~val], dtype=torch.float32) for a in (q, c, y))
    vq, vc, vy = (torch.as_tensor(a[val], dtype=torch.float32) for a in (q, c, y))
    head = PairHead(q.shape[1], cfg.hidden, cfg.dropout)
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    bce = nn.BCEWithLogitsLoss()
    res = HeadResult(head)
    best_state, bad = None, 0
    for epoch in range(cfg.max_epochs):
        head.train()
        perm = torch.randperm(len(ty))
        total = 0.0
        for s in range(0, len(perm), cfg.batch_size):
            idx = perm[s: s + cfg.batch_size]
            loss = bce(head(tq[idx], tc[idx]), ty[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        head.eval()
        with torch.no_grad():
            vloss = float(bce(head(vq, vc), vy)) if len(vy) else total / len(ty)
        res.log.append({"epoch": epoch + 1, "train_loss": total / len(ty), "val_loss": vloss})
        if vloss < res.best_val_loss - 1e-6:
            res.best_val_loss, best_state, bad = vloss, {k: v.clone() for k, v in head.state_dict().items()}, 0
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    res.stopped_epoch = len(res.log)
    if best_state is not None:
        head.load_state_dict(best_state)
    head.eval()
    return res


def default_select(ks: list[int]) -> str:
    """The metric lambda is chosen for: Recall at the largest reported K <= 50 (the review budget), else the
    smallest K."""
    inside = [k for k in ks if k <= 50]
    return f"recall@{max(inside) if inside else min(ks)}"


def parse_select(select: str) -> tuple[str, int | None]:
    name, _, k = select.strip().lower().partition("@")
    if name not in ("recall", "precision", "ndcg", "mrr") or (name != "mrr" and not k.isdigit()):
        from synth.errors import InputError

        raise InputError(f"--select '{select}': use recall@K, precision@K, ndcg@K or mrr (e.g. recall@50).")
    return name, int(k) if k else None


def _metric(hits: np.ndarray, n_pos: int, name: str, k: int | None) -> float:
    if name == "mrr":
        return 1.0 / (np.argmax(hits) + 1) if hits.any() else 0.0
    if name == "recall":
        return hits[:k].sum() / n_pos
    if name == "precision":
        return hits[:k].sum() / k
    dcg = float(np.sum(hits[:k] / np.log2(np.arange(2, min(k, len(hits)) + 2))))
    return dcg / float(np.sum(1.0 / np.log2(np.arange(2, min(k, n_pos) + 2))))


def search_lambda(cos_scores: list[np.ndarray], boundary: list[np.ndarray], positives: list[np.ndarray],
                  grid: list[float] | None = None, select: str = "recall@1") -> tuple[float, dict]:
    """Pick lambda maximising `select` (then MRR, then the smaller lambda) of s = cos - lambda * boundary on
    validation queries.

    Each list entry is one query: candidate cosines, candidate boundary probabilities, a 0/1 positive mask.
    Queries without a positive are skipped; ties in s are broken by candidate index, as in evaluation.
    """
    name, k = parse_select(select)
    grid = grid if grid is not None else [round(x, 3) for x in np.arange(0.0, 0.501, 0.025)]
    table = {}
    for lam in grid:
        val, rr = [], []
        for cs, bs, pos in zip(cos_scores, boundary, positives):
            if not pos.any():
                continue
            hits = pos[np.lexsort((np.arange(len(cs)), -(cs - lam * bs)))].astype(float)
            val.append(_metric(hits, int(pos.sum()), name, k))
            rr.append(_metric(hits, int(pos.sum()), "mrr", None))
        table[lam] = (float(np.mean(val)), float(np.mean(rr)))
    best = max(grid, key=lambda lam: (table[lam][0], table[lam][1], -lam))
    return best, {"select": select, **{str(k_): v for k_, v in table.items()}}


def save_head(res: HeadResult, out: Path, meta: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    torch.save(res.head.state_dict(), out / "head.pt")
    info = {"dim": res.head.dim, "hidden": res.head.hidden, "dropout": res.head.dropout, "lambda": res.lam,
            "stopped_epoch": res.stopped_epoch, "best_val_loss": res.best_val_loss, "log": res.log, **meta}
    (out / "head.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
    return out


def load_head(path: str | Path) -> tuple[PairHead, dict]:
    p = Path(path)
    if not (p / "head.pt").exists() or not (p / "head.json").exists():
        raise InputError(f"No BoundaryHead at {p} (expected head.pt and head.json from `mira train head`).")
    info = json.loads((p / "head.json").read_text())
    head = PairHead(info["dim"], info["hidden"], info["dropout"])
    head.load_state_dict(torch.load(p / "head.pt", map_location="cpu", weights_only=True))
    head.eval()
    return head, info


def head_config_dict(cfg: HeadConfig) -> dict:
    return asdict(cfg)
