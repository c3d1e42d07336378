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
    """h = [f(q); f(c); |f(q) - f(c)|; f(q) * f(c); r] -> Linear(4d + k, 256) -> ReLU -> Dropout(0.1) ->
    Linear(256, 1), where r are k requirement features computed by code from the JD's requirements and the CV text
    (train/requirements.py; k = 0 is the paper's head)."""

    def __init__(self, dim: int, hidden: int = 256, dropout: float = 0.1, extra: int = 0):
        super().__init__()
        self.dim, self.hidden, self.dropout, self.extra = dim, hidden, dropout, extra
        self.net = nn.Sequential(nn.Linear(4 * dim + extra, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, 1))
        # a linear path from the requirement features straight to the logit: a few hundred pairs are enough to
        # weigh a handful of features, and it keeps their direction readable (head.json lists the weights)
        self.req = nn.Linear(extra, 1) if extra else None

    @staticmethod
    def features(q: torch.Tensor, c: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        parts = [q, c, (q - c).abs(), q * c] + ([x] if x is not None else [])
        return torch.cat(parts, dim=-1)

    def _check(self, x) -> None:
        if self.extra and (x is None or x.shape[-1] != self.extra):
            raise InputError(f"This head takes {self.extra} requirement features per pair; give the JD and CV texts "
                             "(train/requirements.py computes them).")

    def forward(self, q: torch.Tensor, c: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """Logits s_boundary (before the sigmoid), shape (n,)."""
        self._check(x)
        out = self.net(self.features(q, c, x if self.extra else None)).squeeze(-1)
        return out + self.req(x).squeeze(-1) if self.extra else out

    def boundary(self, q: np.ndarray, c: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
        """sigmoid(s_boundary) in [0, 1] for numpy embeddings (eval mode, no gradients)."""
        self.eval()
        with torch.no_grad():
            xt = torch.as_tensor(x, dtype=torch.float32) if x is not None else None
            return torch.sigmoid(self(torch.as_tensor(q, dtype=torch.float32),
                                      torch.as_tensor(c, dtype=torch.float32), xt)).numpy()


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
    req_lr: float = 0.05  # the requirement features' linear path
    # + w * mean softplus(s(match) - s(mismatch)) over pairs of one query; None: 5 for a requirement-aware head (it
    # lifted held-out RJDB pos-above-hard-negative from 0.89 to 0.91 at lambda 0.3), 0 for the paper's head
    rank_weight: float | None = None


@dataclass
class HeadResult:
    head: PairHead
    lam: float = 0.1
    log: list = field(default_factory=list)
    stopped_epoch: int = 0
    best_val_loss: float = float("inf")


def train_head(q: np.ndarray, c: np.ndarray, y: np.ndarray, groups: list[str] | None = None,
               cfg: HeadConfig | None = None, x: np.ndarray | None = None) -> HeadResult:
    """BCE with AdamW; early stopping (patience) on a validation split held out by query group; best weights kept.
    `x`: (n, k) requirement features per pair (train/requirements.py), or None for the paper's head.
    With cfg.rank_weight > 0, a pairwise term asks each query's mismatch (label 1) to score above its match (label
    0): the reranker compares candidates of one JD, and absolute feature levels vary from JD to JD."""
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
    x = x if x is not None else np.zeros((len(y), 0), dtype=np.float32)
    tq, tc, ty, tx = (torch.as_tensor(a[~val], dtype=torch.float32) for a in (q, c, y, x))
    vq, vc, vy, vx = (torch.as_tensor(a[val], dtype=torch.float32) for a in (q, c, y, x))
    k = x.shape[1]
    head = PairHead(q.shape[1], cfg.hidden, cfg.dropout, extra=k)
    groups_ = [{"params": head.net.parameters()}]
    if head.req is not None:  # a handful of weights that need to grow to O(10) in the few steps a small set gives
        groups_.append({"params": head.req.parameters(), "lr": cfg.req_lr, "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups_, lr=cfg.lr, weight_decay=cfg.weight_decay)
    bce = nn.BCEWithLogitsLoss()
    rank_w = cfg.rank_weight if cfg.rank_weight is not None else (5.0 if k else 0.0)
    tpairs = _rank_pairs([g for g, v in zip(groups, val) if not v], y[~val]) if rank_w else None
    vpairs = _rank_pairs([g for g, v in zip(groups, val) if v], y[val]) if rank_w else None

    def loss_of(logits, labels, pairs):
        out = bce(logits, labels)
        if pairs is not None and len(pairs):
            out = out + rank_w * nn.functional.softplus(logits[pairs[:, 0]] - logits[pairs[:, 1]]).mean()
        return out

    res = HeadResult(head)
    best_state, bad = None, 0
    for epoch in range(cfg.max_epochs):
        head.train()
        perm = torch.randperm(len(ty))
        total = 0.0
        for s in range(0, len(perm), cfg.batch_size):
            idx = perm[s: s + cfg.batch_size]
            pairs = None
            if tpairs is not None and len(tpairs):  # the pairs whose both rows are in this batch
                pos_in = torch.full((len(ty),), -1, dtype=torch.long)
                pos_in[idx] = torch.arange(len(idx))
                both = (pos_in[tpairs[:, 0]] >= 0) & (pos_in[tpairs[:, 1]] >= 0)
                pairs = pos_in[tpairs[both]]
            loss = loss_of(head(tq[idx], tc[idx], tx[idx] if k else None), ty[idx], pairs)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        head.eval()
        with torch.no_grad():
            vloss = float(loss_of(head(vq, vc, vx if k else None), vy, vpairs)) if len(vy) else total / len(ty)
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


def _rank_pairs(groups: list[str], y: np.ndarray) -> torch.Tensor:
    """(match index, mismatch index) for every label-0 / label-1 pair that shares a query group."""
    by: dict[str, list[list[int]]] = {}
    for i, (g, label) in enumerate(zip(groups, y.tolist())):
        by.setdefault(g, [[], []])[int(label)].append(i)
    pairs = [(a, b) for zero, one in by.values() for a in zero for b in one]
    return torch.as_tensor(pairs, dtype=torch.long).reshape(-1, 2)


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
                  grid: list[float] | None = None, select: str = "recall@1", ties: str = "smallest") -> tuple[float, dict]:
    """Pick lambda maximising `select` (then MRR) of s = cos - lambda * boundary on validation queries; among
    equally good values, the smallest (the paper's conservative choice) or, with ties="middle", the middle one (the
    edge of a plateau is where a small shift of scores on new JDs flips rankings back).

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
    top = max(table[lam] for lam in grid)
    best = sorted(lam for lam in grid if table[lam] == top)
    pick = best[(len(best) - 1) // 2] if ties == "middle" else best[0]
    return pick, {"select": select, "ties": ties, **{str(k_): v for k_, v in table.items()}}


def save_head(res: HeadResult, out: Path, meta: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    torch.save(res.head.state_dict(), out / "head.pt")
    info = {"dim": res.head.dim, "hidden": res.head.hidden, "dropout": res.head.dropout, "extra": res.head.extra,
            "lambda": res.lam,
            "stopped_epoch": res.stopped_epoch, "best_val_loss": res.best_val_loss, "log": res.log, **meta}
    (out / "head.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
    return out


def load_head(path: str | Path) -> tuple[PairHead, dict]:
    p = Path(path)
    if not (p / "head.pt").exists() or not (p / "head.json").exists():
        raise InputError(f"No BoundaryHead at {p} (expected head.pt and head.json from `mira train head`).")
    info = json.loads((p / "head.json").read_text())
    head = PairHead(info["dim"], info["hidden"], info["dropout"], info.get("extra", 0))
    head.load_state_dict(torch.load(p / "head.pt", map_location="cpu", weights_only=True))
    head.eval()
    return head, info


def head_config_dict(cfg: HeadConfig) -> dict:
    return asdict(cfg)
