"""``clad``: CLaD, planning with grounded foresight via cross-modal latent dynamics (Jeong et al., CVPR 2026).

Building blocks are importable on their own::

    from foresight.methods.clad import CLaD, CLaDConfig, CrossModalDynamics, ForesightPolicy
"""

from foresight.methods.clad.config import CLaDConfig, DynamicsConfig, PolicyConfig, VLMConfig
from foresight.methods.clad.dynamics import CrossModalDynamics
from foresight.methods.clad.method import CLaD
from foresight.methods.clad.policy import ForesightPolicy

__all__ = ["CLaD", "CLaDConfig", "CrossModalDynamics", "DynamicsConfig", "ForesightPolicy", "PolicyConfig", "VLMConfig"]
