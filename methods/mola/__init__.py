"""``mola``: MoLA-style imagined futures -> mixture of latent inverse-dynamics experts -> flow-matching DiT
(arXiv 2605.12167; no code released).

Building blocks are importable on their own::

    from foresight.methods.mola import MoLA, MoLAConfig, LatentIDM, MoIDM, SVDImaginer
"""

from foresight.methods.mola.config import ExpertConfig, ImaginationConfig, MoLAConfig, PolicyConfig, TeacherConfig
from foresight.methods.mola.experts import LatentIDM, codebook_usage
from foresight.methods.mola.imagination import Imagination, ImaginationError
from foresight.methods.mola.method import MoLA
from foresight.methods.mola.moidm import Decoders, MoIDM
from foresight.methods.mola.policy import MoLAPolicy
from foresight.methods.mola.svd import SVDImaginer

__all__ = [
    "Decoders",
    "ExpertConfig",
    "Imagination",
    "ImaginationConfig",
    "ImaginationError",
    "LatentIDM",
    "MoIDM",
    "MoLA",
    "MoLAConfig",
    "MoLAPolicy",
    "PolicyConfig",
    "SVDImaginer",
    "TeacherConfig",
    "codebook_usage",
]
