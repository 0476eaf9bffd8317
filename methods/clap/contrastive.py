"""The SigLIP-style contrastive loss of the VD-VAE (eq. 3; Zhai et al. 2023), with learnable temperature and bias.

Eq. 3 writes each logit as ``(s - b) / tau_c`` with ``s`` a cosine similarity; SigLIP writes ``t s + b'``. They are
the same family (``t = 1 / tau_c``, ``b' = -b / tau_c``); the parameters here are SigLIP's (``log t`` and ``b'``,
initialised to ``log 10`` and ``-10``), which keeps the temperature positive and the start well conditioned.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def siglip_loss(
    queries: torch.Tensor, keys: torch.Tensor, logit_scale: torch.Tensor, logit_bias: torch.Tensor
) -> torch.Tensor:
    """Mean over rows of ``-log s(z_ii) - sum_{j != i} log(1 - s(z_ij))``, ``z_ij = e^scale cos(q_i, k_j) + bias``.

    Row ``i``'s positive is ``keys[i]``; every other row of the batch is one of its ``M = B - 1`` negatives.
    """
    sim = F.normalize(queries.flatten(1).float(), dim=-1) @ F.normalize(keys.flatten(1).float(), dim=-1).t()
    logits = logit_scale.exp() * sim + logit_bias
    labels = 2 * torch.eye(len(sim), device=sim.device) - 1  # +1 on the diagonal, -1 elsewhere
    return -F.logsigmoid(labels * logits).sum(1).mean()


class SigLIPLoss(nn.Module):
    """Holds the learnable ``log t`` and ``b'`` of eq. 3."""

    def __init__(self, scale_init: float, bias_init: float) -> None:
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(math.log(scale_init)))
        self.logit_bias = nn.Parameter(torch.tensor(float(bias_init)))

    def forward(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return siglip_loss(queries, keys, self.logit_scale, self.logit_bias)
