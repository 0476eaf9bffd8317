"""A conditional DDPM over action chunks (Ho et al. 2020; Diffusion Policy, Chi et al. 2023), on diffusers'
schedulers so the noise schedule, ``add_noise`` and the reverse steps are the library's, not re-derived."""

from __future__ import annotations

from typing import Any

import torch
from diffusers import DDIMScheduler, DDPMScheduler
from diffusers.utils.torch_utils import randn_tensor
from torch import nn

from foresight.heads.base import DenoisingHead
from foresight.heads.networks import MLPResNetDenoiser

SAMPLERS = ("ddpm", "ddim")
PREDICTION_TYPES = ("epsilon", "sample", "v_prediction")


class DDPMHead(DenoisingHead):
    """Learns ``p(a_{t:t+H} | cond)`` by noise prediction; samples with full ancestral DDPM or fast DDIM.

    Training draws ``k ~ U{0..T-1}``, ``eps ~ N(0, I)``, forms ``a_k = sqrt(abar_k) a_0 + sqrt(1 - abar_k) eps``
    with :meth:`DDPMScheduler.add_noise` and regresses the network output on the scheduler's target (``eps``
    for ``prediction_type="epsilon"``; CLaD Eq. 22). DDPM and DDIM samplers are built from the same beta
    config, so a model trained once can be sampled either way.

    ``cond`` is a flat ``(B, C)`` vector or ``(B, N, C)`` tokens with an optional ``(B, N)`` ``cond_mask``
    (see :mod:`foresight.heads.conditions`). ``noise_samples`` draws that many (timestep, noise) pairs per
    training row (DreamVLA repeats each sample 8x): the condition is computed once, so the extra supervision
    costs only the noise network. ``cond_dropout`` / ``guidance_scale``: classifier-free guidance, see
    :class:`~foresight.heads.base.DenoisingHead`; guidance mixes the network outputs, which for a fixed
    ``(x_k, k)`` are affine in each other for every ``prediction_type``, so it is the same guidance in each.

    ``noise_net`` is any module ``(noisy (B, H, A), timesteps (B,), cond) -> (B, H, A)`` that also takes
    ``cond_mask=`` if callers pass one; the default is :class:`MLPResNetDenoiser`, and
    :class:`~foresight.heads.DiTDenoiser` is the transformer for token conditions. Sampling runs without
    gradients and with the module in whatever train/eval mode the caller set (put it in eval mode so dropout,
    and condition dropout, are off).
    """

    def __init__(
        self,
        action_dim: int,
        horizon: int,
        cond_dim: int,
        *,
        num_train_timesteps: int = 100,
        beta_schedule: str = "squaredcos_cap_v2",
        clip_sample: bool = True,
        clip_sample_range: float = 1.0,
        prediction_type: str = "epsilon",
        sampler: str = "ddpm",
        num_inference_steps: int | None = None,
        noise_samples: int = 1,
        cond_dropout: float = 0.0,
        guidance_scale: float = 1.0,
        noise_net: nn.Module | None = None,
        hidden_dim: int = 256,
        num_blocks: int = 3,
        dropout: float = 0.1,
        time_embed_dim: int = 32,
        time_hidden_dim: int = 256,
    ) -> None:
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type {prediction_type!r}: expected one of {PREDICTION_TYPES}")
        if noise_net is None:
            noise_net = MLPResNetDenoiser(
                action_dim, horizon, cond_dim, hidden_dim, num_blocks, dropout, time_embed_dim, time_hidden_dim
            )
        super().__init__(
            action_dim,
            horizon,
            cond_dim,
            noise_net,
            noise_samples=noise_samples,
            cond_dropout=cond_dropout,
            guidance_scale=guidance_scale,
        )
        self.prediction_type = prediction_type
        betas: dict[str, Any] = {
            "num_train_timesteps": num_train_timesteps,
            "beta_schedule": beta_schedule,
            "clip_sample": clip_sample,
            "clip_sample_range": clip_sample_range,
            "prediction_type": prediction_type,
        }
        # DDPMScheduler serves training (add_noise reads only the fixed alphas) and ancestral sampling.
        self.noise_scheduler = DDPMScheduler(**betas)
        self.samplers = {"ddpm": self.noise_scheduler, "ddim": DDIMScheduler(**betas)}
        self.sampler = self._check_sampler(sampler)
        self.num_inference_steps = self._check_steps(num_inference_steps)

    @property
    def num_train_timesteps(self) -> int:
        return self.noise_scheduler.config.num_train_timesteps

    def _check_sampler(self, sampler: str) -> str:
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler {sampler!r}: expected one of {SAMPLERS}")
        return sampler

    def _check_steps(self, steps: int | None) -> int:
        steps = steps if steps is not None else self.num_train_timesteps
        if not 1 <= steps <= self.num_train_timesteps:
            limit = self.num_train_timesteps
            raise ValueError(f"num_inference_steps={steps} must be in [1, num_train_timesteps={limit}]")
        return steps

    def predict_noise(
        self, noisy: torch.Tensor, timesteps: torch.Tensor, cond: torch.Tensor, cond_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The network's prediction (``eps``, ``x_0`` or ``v`` per ``prediction_type``) at diffusion steps."""
        return self.network(noisy, timesteps, cond, cond_mask)

    def training_target(self, actions: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """What the network regresses on, in the scheduler's convention."""
        if self.prediction_type == "epsilon":
            return noise
        if self.prediction_type == "sample":
            return actions
        return self.noise_scheduler.get_velocity(actions, noise, timesteps)

    def loss(
        self,
        cond: torch.Tensor,
        actions: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        cond_mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Masked MSE between prediction and target; padded steps (``mask`` False) carry no loss.

        Rows are repeated ``noise_samples`` times (``torch.Tensor.repeat`` order); random draws, in order:
        timesteps ``(B * noise_samples,)``, noise ``(B * noise_samples, H, A)``, then (only with ``cond_dropout``
        and in train mode) one uniform per row for condition dropout, all from ``generator`` if given.
        """
        self._check_inputs(cond, cond_mask, actions, mask)
        cond, cond_mask, actions, mask = self._repeat(cond, cond_mask, actions, mask)
        batch = actions.shape[0]
        gen_device = generator.device if generator is not None else actions.device
        timesteps = torch.randint(0, self.num_train_timesteps, (batch,), generator=generator, device=gen_device).to(
            actions.device
        )
        noise = randn_tensor(actions.shape, generator=generator, device=actions.device, dtype=actions.dtype)
        cond, cond_mask = self._drop_conditions(cond, cond_mask, generator)
        noisy = self.noise_scheduler.add_noise(actions, noise, timesteps)
        pred = self.predict_noise(noisy, timesteps, cond, cond_mask)
        return self.masked_mse(pred, self.training_target(actions, noise, timesteps), mask)

    @torch.no_grad()
    def sample(
        self,
        cond: torch.Tensor,
        *,
        cond_mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        num_inference_steps: int | None = None,
        sampler: str | None = None,
        guidance_scale: float | None = None,
    ) -> torch.Tensor:
        """One chunk per row of ``cond`` by the reverse process; DDIM runs deterministically (eta = 0)."""
        scheduler = self.samplers[self._check_sampler(sampler if sampler is not None else self.sampler)]
        steps = self._check_steps(num_inference_steps if num_inference_steps is not None else self.num_inference_steps)
        scale = self._check_guidance(guidance_scale if guidance_scale is not None else self.guidance_scale)
        batch = cond.shape[0]
        self._check_cond(cond, cond_mask, batch)
        scheduler.set_timesteps(steps, device=cond.device)
        shape = (batch, self.horizon, self.action_dim)
        x = randn_tensor(shape, generator=generator, device=cond.device, dtype=cond.dtype)
        for t in scheduler.timesteps:
            pred = self.guided(x, t.expand(batch), cond, cond_mask, scale)
            x = scheduler.step(pred, t, x, generator=generator).prev_sample
        return x
