"""What every iterative (diffusion / flow) head over action chunks shares: shape checks, conditions, guidance.

:class:`DenoisingHead` holds a network ``(noisy (B, H, A), timesteps (B,), cond[, cond_mask]) -> (B, H, A)``
and adds what is independent of the noise process: token or flat conditions, padded-action masks in the loss,
``noise_samples`` repeats, condition dropout with a learned null condition in training, and classifier-free
guidance at sampling. :class:`~foresight.heads.DDPMHead` and :class:`~foresight.heads.FlowMatchingHead` only
say how to noise, what to regress and how to step.
"""

from __future__ import annotations

import torch
from torch import nn

from foresight.heads.conditions import NullCondition, as_tokens
from foresight.interfaces import ActionHead


class DenoisingHead(ActionHead):
    """Base of the DDPM and flow-matching heads.

    ``cond_dropout`` is the probability that a training row's condition is replaced by the learned
    :class:`~foresight.heads.conditions.NullCondition` (DreamVLA's code: 0.1); it is what makes the unconditional
    model that classifier-free guidance needs. ``guidance_scale`` ``w`` combines the two predictions as
    ``u + w (c - u)`` (Ho & Salimans 2022; DreamVLA's code: 1.5). ``w = 1`` never runs the unconditional branch,
    so it is exactly the conditional model; ``w = 0`` is the unconditional one. The null condition exists only
    when ``cond_dropout > 0``, so heads without guidance keep the parameters (and checkpoints) they had.
    """

    def __init__(
        self,
        action_dim: int,
        horizon: int,
        cond_dim: int,
        noise_net: nn.Module,
        *,
        noise_samples: int = 1,
        cond_dropout: float = 0.0,
        guidance_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.action_dim, self.horizon, self.cond_dim = action_dim, horizon, cond_dim
        if noise_samples < 1:
            raise ValueError(f"noise_samples must be >= 1, got {noise_samples}")
        if not 0.0 <= cond_dropout < 1.0:
            raise ValueError(f"cond_dropout must be in [0, 1), got {cond_dropout}")
        self.noise_samples = noise_samples
        self.cond_dropout = cond_dropout
        self.null_cond = NullCondition(cond_dim) if cond_dropout > 0 else None
        self.guidance_scale = self._check_guidance(guidance_scale)
        self.noise_net = noise_net

    def _check_guidance(self, scale: float) -> float:
        if scale != 1.0 and self.null_cond is None:
            raise ValueError(
                f"guidance_scale={scale} needs an unconditional model: train the head with cond_dropout > 0"
            )
        return float(scale)

    def _check_chunk(self, name: str, x: torch.Tensor, batch: int) -> None:
        expected = (batch, self.horizon, self.action_dim)
        if tuple(x.shape) != expected:
            kind = type(self).__name__
            raise ValueError(f"{kind} {name} must be (B, horizon, action_dim) = {expected}, got {tuple(x.shape)}")

    def _check_inputs(
        self, cond: torch.Tensor, cond_mask: torch.Tensor | None, actions: torch.Tensor, mask: torch.Tensor | None
    ) -> None:
        batch = actions.shape[0]
        self._check_chunk("actions", actions, batch)
        if mask is not None and (mask.dtype != torch.bool or tuple(mask.shape) != (batch, self.horizon)):
            got = f"{mask.dtype} {tuple(mask.shape)}"
            raise ValueError(
                f"{type(self).__name__} mask must be bool (B, horizon) = {(batch, self.horizon)}, got {got}"
            )
        self._check_cond(cond, cond_mask, batch)

    def _check_cond(self, cond: torch.Tensor, cond_mask: torch.Tensor | None, batch: int) -> None:
        as_tokens(cond, cond_mask, cond_dim=self.cond_dim)
        if cond.shape[0] != batch:
            raise ValueError(f"cond has {cond.shape[0]} rows, the action chunks {batch}")

    def _repeat(
        self,
        cond: torch.Tensor,
        cond_mask: torch.Tensor | None,
        actions: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
        """Each row ``noise_samples`` times, in ``torch.Tensor.repeat`` order (the condition is computed once)."""
        k = self.noise_samples
        if k == 1:
            return cond, cond_mask, actions, mask
        return (
            cond.repeat(k, *([1] * (cond.dim() - 1))),
            cond_mask.repeat(k, 1) if cond_mask is not None else None,
            actions.repeat(k, 1, 1),
            mask.repeat(k, 1) if mask is not None else None,
        )

    def _drop_conditions(
        self, cond: torch.Tensor, cond_mask: torch.Tensor | None, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Replace each row's condition by the null one with probability ``cond_dropout`` (one draw per row)."""
        if self.null_cond is None or not self.training:
            return cond, cond_mask
        gen_device = generator.device if generator is not None else cond.device
        drop = torch.rand(cond.shape[0], generator=generator, device=gen_device).to(cond.device) < self.cond_dropout
        return self.null_cond.replace(cond, cond_mask, drop)

    def network(
        self, noisy: torch.Tensor, timesteps: torch.Tensor, cond: torch.Tensor, cond_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The network's output; ``cond_mask`` is passed only when given, so mask-free networks keep working."""
        if cond_mask is None:
            return self.noise_net(noisy, timesteps, cond)
        return self.noise_net(noisy, timesteps, cond, cond_mask=cond_mask)

    def guided(
        self,
        noisy: torch.Tensor,
        timesteps: torch.Tensor,
        cond: torch.Tensor,
        cond_mask: torch.Tensor | None,
        guidance_scale: float,
    ) -> torch.Tensor:
        """``u + w (c - u)``; the conditional and unconditional rows run as one batch of ``2B``."""
        if guidance_scale == 1.0:
            return self.network(noisy, timesteps, cond, cond_mask)
        assert self.null_cond is not None  # _check_guidance
        both = torch.cat([cond, self.null_cond.like(cond)])
        both_mask = torch.cat([cond_mask, torch.ones_like(cond_mask)]) if cond_mask is not None else None
        out = self.network(torch.cat([noisy, noisy]), torch.cat([timesteps, timesteps]), both, both_mask)
        conditional, unconditional = out.chunk(2)
        return unconditional + guidance_scale * (conditional - unconditional)

    def masked_mse(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Mean squared error over real actions only (``mask`` False rows carry no loss), in float32."""
        err = (pred.float() - target.float()).pow(2)
        if mask is None:
            return err.mean()
        weight = mask.unsqueeze(-1).to(err.dtype)
        return (err * weight).sum() / (weight.sum() * self.action_dim).clamp_min(1.0)
