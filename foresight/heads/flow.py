"""A conditional flow-matching (rectified flow) head over action chunks, on diffusers'
:class:`FlowMatchEulerDiscreteScheduler` (pi0, CLAP-RF, MoLA).

Convention (diffusers', also openpi's code): at time ``sigma`` in [0, 1] the chunk is
``x_sigma = sigma * eps + (1 - sigma) * x_0`` (``sigma = 1`` is pure noise) and the network predicts the
velocity ``v = eps - x_0``; sampling integrates ``dx/dsigma = v`` with Euler steps from ``sigma = 1`` to 0.
The papers write the same path in the opposite time: pi0 (Black et al. 2024, §IV) and CLAP (§III-E) use
``x_rho = rho * x_0 + (1 - rho) * eps`` with ``rho = 1`` clean and velocity ``x_0 - eps``. So
``rho = 1 - sigma`` and ``v_paper = -v_here``; pi0's / CLAP's ``rho = 0.999 (1 - B)``, ``B ~ Beta(1.5, 1)``
is ``sigma = 0.001 + 0.999 B`` here (weight on the noisy end), exactly what openpi's code draws.
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from diffusers.utils.torch_utils import randn_tensor
from torch import nn

from foresight.heads.base import DenoisingHead
from foresight.heads.networks import MLPResNetDenoiser

TIME_SAMPLINGS = ("beta", "logit_normal", "uniform")


class FlowMatchingHead(DenoisingHead):
    """Learns ``p(a_{t:t+H} | cond)`` by regressing the rectified-flow velocity; samples with N Euler steps.

    Training draws ``sigma`` by ``time_sampling`` and ``eps ~ N(0, I)``, forms ``x_sigma`` and regresses the
    network output at timestep ``sigma * num_train_timesteps`` (diffusers' scale, so the noise networks of
    :class:`~foresight.heads.DDPMHead` embed it unchanged) on ``eps - x_0``, masked like the DDPM head:

    * ``"beta"`` (pi0 §IV, CLAP §III-E; default): ``sigma = 1 - time_max (1 - B)``, ``B ~ Beta(beta_alpha, 1)``,
      drawn by inverse CDF (``B = U^(1 / beta_alpha)``) so a ``torch.Generator`` makes it reproducible.
    * ``"logit_normal"`` (SD3, Esser et al. 2024): ``sigma = sigmoid(N(logit_mean, logit_std))``, as diffusers'
      ``compute_density_for_timestep_sampling``.
    * ``"uniform"`` (Liu et al. 2022's rectified flow): ``sigma ~ U(0, 1)``.

    Sampling sets the scheduler to ``num_inference_steps`` equal steps ``sigma = 1, 1 - 1/N, ..., 1/N -> 0``
    (pi0: 10, CLAP's code: 4) and lets :meth:`FlowMatchEulerDiscreteScheduler.step` take each Euler step.
    (The scheduler's own grid ends at ``1 / num_train_timesteps`` and spends a whole last step on the remainder;
    equal steps are the papers'.) Conditions, ``noise_samples``, masks and classifier-free guidance are those of
    :class:`~foresight.heads.base.DenoisingHead`; ``noise_net`` defaults to :class:`MLPResNetDenoiser` and takes
    :class:`~foresight.heads.DiTDenoiser` as well.
    """

    def __init__(
        self,
        action_dim: int,
        horizon: int,
        cond_dim: int,
        *,
        num_train_timesteps: int = 1000,
        num_inference_steps: int = 10,
        time_sampling: str = "beta",
        beta_alpha: float = 1.5,
        time_max: float = 0.999,
        logit_mean: float = 0.0,
        logit_std: float = 1.0,
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
        if time_sampling not in TIME_SAMPLINGS:
            raise ValueError(f"time_sampling {time_sampling!r}: expected one of {TIME_SAMPLINGS}")
        if not 0.0 < time_max <= 1.0 or beta_alpha <= 0 or logit_std <= 0:
            raise ValueError(
                f"need 0 < time_max <= 1, beta_alpha > 0, logit_std > 0; got {time_max}, {beta_alpha}, {logit_std}"
            )
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
        self.time_sampling = time_sampling
        self.beta_alpha, self.time_max = beta_alpha, time_max
        self.logit_mean, self.logit_std = logit_mean, logit_std
        self.scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=num_train_timesteps)
        self.num_inference_steps = self._check_steps(num_inference_steps)

    @property
    def num_train_timesteps(self) -> int:
        return self.scheduler.config.num_train_timesteps

    @staticmethod
    def _check_steps(steps: int) -> int:
        if steps < 1:
            raise ValueError(f"num_inference_steps must be >= 1, got {steps}")
        return steps

    def sample_sigmas(
        self, batch: int, *, generator: torch.Generator | None = None, device: torch.device | None = None
    ) -> torch.Tensor:
        """``(batch,)`` training times ``sigma`` in [0, 1] (1 = noise), drawn per ``time_sampling``."""
        gen_device = generator.device if generator is not None else device
        if self.time_sampling == "beta":
            u = torch.rand(batch, generator=generator, device=gen_device)
            sigma = 1.0 - self.time_max * (1.0 - u.pow(1.0 / self.beta_alpha))
        elif self.time_sampling == "logit_normal":
            # diffusers' compute_density_for_timestep_sampling("logit_normal"), which lives in the slow-to-import
            # diffusers.training_utils; tests/heads/test_flow.py checks the two agree
            z = torch.randn(batch, generator=generator, device=gen_device)
            sigma = torch.sigmoid(self.logit_mean + self.logit_std * z)
        else:
            sigma = torch.rand(batch, generator=generator, device=gen_device)
        return sigma.to(device)

    @staticmethod
    def add_noise(actions: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """``sigma * noise + (1 - sigma) * actions``: :meth:`FlowMatchEulerDiscreteScheduler.scale_noise`, which
        only accepts the sigmas of its discrete grid, written for any ``sigma`` in [0, 1]."""
        s = sigma.view(-1, *([1] * (actions.dim() - 1))).to(actions.dtype)
        return s * noise + (1.0 - s) * actions

    def loss(
        self,
        cond: torch.Tensor,
        actions: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        cond_mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Masked MSE between the predicted and the true velocity ``eps - x_0``.

        Random draws, in order: ``sigma`` ``(B * noise_samples,)``, noise ``(B * noise_samples, H, A)``, then (only
        with ``cond_dropout`` and in train mode) one uniform per row for condition dropout.
        """
        self._check_inputs(cond, cond_mask, actions, mask)
        cond, cond_mask, actions, mask = self._repeat(cond, cond_mask, actions, mask)
        sigma = self.sample_sigmas(actions.shape[0], generator=generator, device=actions.device)
        noise = randn_tensor(actions.shape, generator=generator, device=actions.device, dtype=actions.dtype)
        cond, cond_mask = self._drop_conditions(cond, cond_mask, generator)
        noisy = self.add_noise(actions, noise, sigma)
        pred = self.network(noisy, sigma * self.num_train_timesteps, cond, cond_mask)
        return self.masked_mse(pred, noise - actions, mask)

    @torch.no_grad()
    def sample(
        self,
        cond: torch.Tensor,
        *,
        cond_mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
    ) -> torch.Tensor:
        """One chunk per row of ``cond``: ``x = eps`` at ``sigma = 1``, then N Euler steps of the velocity."""
        steps = self._check_steps(num_inference_steps if num_inference_steps is not None else self.num_inference_steps)
        scale = self._check_guidance(guidance_scale if guidance_scale is not None else self.guidance_scale)
        batch = cond.shape[0]
        self._check_cond(cond, cond_mask, batch)
        self.scheduler.set_timesteps(sigmas=np.linspace(1.0, 1.0 / steps, steps).tolist(), device=cond.device)
        x = randn_tensor(
            (batch, self.horizon, self.action_dim), generator=generator, device=cond.device, dtype=cond.dtype
        )
        for t in self.scheduler.timesteps:
            velocity = self.guided(x, t.expand(batch), cond, cond_mask, scale)
            # the chunk stays in cond's dtype across steps (under autocast the network answers in bf16)
            x = self.scheduler.step(velocity.to(x.dtype), t, x).prev_sample
        return x
