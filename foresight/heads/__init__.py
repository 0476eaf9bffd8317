"""Action heads: conditional generative models over action chunks ``(B, horizon, action_dim)``.

Each head implements :class:`foresight.interfaces.ActionHead` (``loss(cond, actions, mask, cond_mask=...)`` and
``sample(cond, cond_mask=..., generator=...)``). The condition is a flat ``(B, C)`` vector or ``(B, N, C)``
tokens with an optional padding mask (:mod:`.conditions`), so a method can swap heads and networks without
touching its encoders or foresight module:

* :class:`DDPMHead`: DDPM / DDIM on diffusers' schedulers (Diffusion Policy, CLaD, LBP, DreamVLA).
* :class:`FlowMatchingHead`: rectified flow on diffusers' ``FlowMatchEulerDiscreteScheduler`` (pi0, CLAP-RF,
  MoLA), with pi0's Beta, logit-normal or uniform time sampling.
* noise / velocity networks, usable by either head: :class:`MLPResNetDenoiser` (LBP's MLP) and
  :class:`DiTDenoiser` (a DiT with adaLN time and cross-attention to the condition tokens).

Both heads share classifier-free guidance (condition dropout with a learned :class:`NullCondition`, a guidance
scale at sampling) through :class:`DenoisingHead`.
"""

from foresight.heads.base import DenoisingHead
from foresight.heads.conditions import NullCondition, as_tokens
from foresight.heads.ddpm import DDPMHead
from foresight.heads.dit import DiTDenoiser
from foresight.heads.flow import TIME_SAMPLINGS, FlowMatchingHead
from foresight.heads.networks import MLPResNetDenoiser

__all__ = [
    "TIME_SAMPLINGS",
    "DDPMHead",
    "DenoisingHead",
    "DiTDenoiser",
    "FlowMatchingHead",
    "MLPResNetDenoiser",
    "NullCondition",
    "as_tokens",
]
