"""R2's MNRL anchored to the frozen original model: the forgetting guard (issue #32)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from sentence_transformers.sentence_transformer.losses import (
    CachedMultipleNegativesRankingLoss,
    MultipleNegativesRankingLoss,
)
from torch import Tensor


def anchor_distance(students: list[Tensor], teachers: list[Tensor]) -> Tensor:
    """Mean over columns c and rows i of ||e_ci / |e_ci| - e^t_ci / |e^t_ci|||^2  (= 2 - 2 cos(e_ci, e^t_ci)).

    PAPER.md's Eq. 11 is an MSE averaged over the embedding dimensions; here the squared distance is summed over them,
    so a weight means the same for a 384- and a 1,024-dimensional backbone, and the unit vectors make it a pure
    change of direction (which is all that cosine retrieval sees)."""
    per_col = [(F.normalize(s, dim=-1) - F.normalize(t.to(s.dtype), dim=-1)).pow(2).sum(-1).mean()
               for s, t in zip(students, teachers)]
    return torch.stack(per_col).mean()


def split_teachers(labels: Tensor, dim: int) -> list[Tensor]:
    """The label column carries the teacher embeddings of a row's first k columns, concatenated in column order:
    (B, k * dim) -> k tensors (B, dim)."""
    return list(labels.view(labels.shape[0], -1, dim).unbind(1))


def anchor_term(weight: float, embeddings: list[Tensor], labels: Tensor | None) -> Tensor | None:
    """w * anchor_distance over the columns the label carries teachers for (the JD alone, or every column), or None
    when there is nothing to add (weight 0, or no teacher column)."""
    if not weight or labels is None or labels.dim() != 2:
        return None
    teachers = split_teachers(labels, embeddings[0].shape[-1])
    return weight * anchor_distance(embeddings[:len(teachers)], teachers)


class AnchoredCachedMNRL(CachedMultipleNegativesRankingLoss):
    """sentence-transformers' gradient-cached MNRL (hard negatives in the denominator) plus a pull towards the frozen
    original model's embeddings of the same texts.

    Formula:
        L = L_MNRL(q, c+, c-) + w * mean_{c in A} mean_i ||ê_ci - ê^t_ci||^2
    with ê the unit-normalised embeddings, e^t the original model's (computed once before the adapter exists and
    carried as the dataset's `label` column, columns concatenated), and A the anchored columns: the first k, k the
    number of teacher embeddings a label carries (Mira's default: the JD alone; or q, c+, c-).

    Why: R2 on a few hundred in-domain JDs learns their style and forgets general matching (benchmarks/real_eval.py's
    category pools: real LinkedIn postings against livecareer CVs lose most of their recall); PAPER.md guards R1 the
    same way (Eq. 11). Anchoring the JD side alone kept that pool at zero-shot for less of the in-domain gain than
    anchoring every column.

    Args:
        model: the SentenceTransformer being trained.
        weight: w (`--distill`); 0 is the library's loss unchanged.
        **kwargs: CachedMultipleNegativesRankingLoss's own (scale, mini_batch_size, gather_across_devices, ...).

    The term is added inside the cached loss stage, so it backpropagates to the cached embeddings like MNRL itself:
    memory stays bounded by the mini-batch.
    """

    def __init__(self, model, weight: float = 0.0, **kwargs):
        super().__init__(model, **kwargs)
        self.weight = weight

    def calculate_loss(self, reps: list[list[Tensor]], labels: Tensor | None = None, *,
                       with_backward: bool = False) -> Tensor:
        loss = super().calculate_loss(reps, labels, with_backward=with_backward)
        term = anchor_term(self.weight, [torch.cat(r) for r in reps], labels)
        if term is None:
            return loss
        if with_backward:
            term.backward()
            term = term.detach()
        return loss + term

    def get_config_dict(self) -> dict[str, Any]:
        return {**super().get_config_dict(), "distill": self.weight}


class AnchoredMNRL(MultipleNegativesRankingLoss):
    """The same loss without gradient caching (`mini_batch: null`): the library's MNRL plus the anchor term.

    Formula:
        L = L_MNRL(q, c+, c-) + w * mean_{c in A} mean_i ||ê_ci - ê^t_ci||^2
    """

    def __init__(self, model, weight: float = 0.0, **kwargs):
        super().__init__(model, **kwargs)
        self.weight = weight

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        loss = super().compute_loss_from_embeddings(embeddings, labels)
        term = anchor_term(self.weight, embeddings, labels)
        return loss if term is None else loss + term

    def get_config_dict(self) -> dict[str, Any]:
        return {**super().get_config_dict(), "distill": self.weight}
