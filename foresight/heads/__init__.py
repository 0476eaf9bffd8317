"""Action heads: conditional generative models over action chunks ``(B, horizon, action_dim)``.

Each head implements :class:`foresight.interfaces.ActionHead` (``loss(cond, actions, mask)`` and
``sample(cond, generator=...)``) and takes a flat conditioning vector, so a method can swap heads without
touching its encoders or foresight module. :mod:`.ddpm` is the DDPM/DDIM head (Diffusion Policy, CLaD, LBP);
flow-matching (MoLA, CLAP's rectified flow) and token-autoregressive heads (CLAP) belong beside it as sibling
modules with the same interface, and their noise / velocity networks beside :mod:`.networks`.
"""

from foresight.heads.ddpm import DDPMHead
from foresight.heads.networks import MLPResNetDenoiser

__all__ = ["DDPMHead", "MLPResNetDenoiser"]
