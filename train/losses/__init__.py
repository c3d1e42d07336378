"""Mira's training losses, one per file; each has its math in a function over plain tensors."""

from .distillation import DistillationMSELoss, distillation_mse
from .grouped_ranking import GroupedRankingLoss, grouped_ranking_loss
from .mnrl import MultipleNegativesLoss, mnrl_loss
from .pair_alignment import PairAlignmentLoss, pair_alignment_loss

__all__ = ["DistillationMSELoss", "GroupedRankingLoss", "MultipleNegativesLoss", "PairAlignmentLoss",
           "distillation_mse", "grouped_ranking_loss", "mnrl_loss", "pair_alignment_loss"]
