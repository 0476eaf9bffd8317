"""The knowledge losses of code and paper (docs/methods/dreamvla.md explains the choice between them).

Every loss takes predictions and targets as patch tokens ``(N, P, D)`` and a ``(N,)`` or ``(N, P)`` weight that is
zero where nothing may be learned (padded steps, static patches), and returns a scalar mean over what is weighted.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _weighted_mean(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    weight = weight.to(values.dtype).expand_as(values)
    return (values * weight).sum() / weight.sum().clamp_min(1.0)


def masked_patch_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean over weighted patches of the per-patch MSE (App. A.2: the dynamic-region mask multiplies both sides)."""
    return _weighted_mean((pred.float() - target.float()).pow(2).mean(-1), weight)


def normalize_patches(patches: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """MAE's ``norm_pix_loss`` target: each patch standardised by its own mean and variance (code)."""
    mean, var = patches.mean(-1, keepdim=True), patches.var(-1, keepdim=True)
    return (patches - mean) / (var + eps).sqrt()


def silog(log_pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, lam: float = 0.5) -> torch.Tensor:
    """Scale-invariant log loss (Eigen et al. 2014; the code's depth loss), per sample, on positive targets.

    ``sqrt(mean(d^2) - lam * mean(d)^2)`` with ``d = log(target) - log_pred``; ``log_pred`` is the decoder's output,
    read as log-depth.
    """
    valid = (target > 1e-3).float() * weight.reshape(-1, *[1] * (target.ndim - 1)).float()
    d = (torch.log(target.float().clamp_min(1e-3)) - log_pred.float()) * valid
    count = valid.flatten(1).sum(1).clamp_min(1.0)
    mean_sq = d.pow(2).flatten(1).sum(1) / count
    mean = d.flatten(1).sum(1) / count
    per_sample = (mean_sq - lam * mean.pow(2)).clamp_min(1e-8).sqrt()
    return _weighted_mean(per_sample, (valid.flatten(1).sum(1) > 0).float())


def scale_normalized_mse(log_pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Paper eq. 4: MSE between depth maps each divided by its own mean, so a global scale is not penalised."""
    pred = log_pred.float().exp()
    dims = tuple(range(1, pred.ndim))
    pred = pred / pred.mean(dims, keepdim=True).clamp_min(1e-6)
    target = target.float() / target.float().mean(dims, keepdim=True).clamp_min(1e-6)
    return _weighted_mean((pred - target).pow(2).mean(dims), weight)


def cosine(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``1 - cos`` per patch token (code: SAM and DINO features)."""
    return _weighted_mean(1 - F.cosine_similarity(pred.float(), target.float(), dim=-1), weight[:, None])


def infonce(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, temperature: float) -> torch.Tensor:
    """Paper eq. 5: each predicted patch must pick its own target among the sample's other (shifted) patches."""
    p, t = F.normalize(pred.float(), dim=-1), F.normalize(target.float(), dim=-1)
    logits = p @ t.transpose(1, 2) / temperature  # (N, P, P)
    labels = torch.arange(logits.shape[-1], device=logits.device).expand(logits.shape[0], -1)
    ce = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none").view(labels.shape)
    return _weighted_mean(ce, weight[:, None])
