"""``clap``: a CLAP-style method (contrastive latent action pretraining, token policy, rectified flow, Knowledge
Matching). Building blocks are importable on their own::

    from foresight.methods.clap import CLAP, CLAPConfig, ActVAE, VDVAE, TokenPolicy, siglip_loss
"""

from foresight.methods.clap.act_vae import ActVAE
from foresight.methods.clap.config import (
    ActVAEConfig,
    BackboneConfig,
    CLAPConfig,
    PolicyConfig,
    RFConfig,
    VDVAEConfig,
)
from foresight.methods.clap.contrastive import SigLIPLoss, siglip_loss
from foresight.methods.clap.knowledge import knowledge_matching_kl
from foresight.methods.clap.method import CLAP
from foresight.methods.clap.policy import TokenPolicy
from foresight.methods.clap.rf import LayerwiseDiTDenoiser
from foresight.methods.clap.vd_vae import VDVAE

__all__ = [
    "CLAP",
    "VDVAE",
    "ActVAE",
    "ActVAEConfig",
    "BackboneConfig",
    "CLAPConfig",
    "LayerwiseDiTDenoiser",
    "PolicyConfig",
    "RFConfig",
    "SigLIPLoss",
    "TokenPolicy",
    "VDVAEConfig",
    "knowledge_matching_kl",
    "siglip_loss",
]
