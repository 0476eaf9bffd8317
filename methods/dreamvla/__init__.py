"""``dreamvla``: DreamVLA, a VLA dreamed with comprehensive world knowledge (Zhang et al. 2025).

Building blocks are importable on their own::

    from foresight.methods.dreamvla import DreamVLA, DreamVLAConfig, DreamBackbone, structured_mask
"""

from foresight.methods.dreamvla.attention import TokenLayout, causal_mask, structured_mask
from foresight.methods.dreamvla.backbone import DreamBackbone
from foresight.methods.dreamvla.config import (
    BackboneConfig,
    DreamVLAConfig,
    EncoderConfig,
    HeadConfig,
    KnowledgeConfig,
)
from foresight.methods.dreamvla.decoders import KnowledgeDecoder
from foresight.methods.dreamvla.method import DreamVLA

__all__ = [
    "BackboneConfig",
    "DreamBackbone",
    "DreamVLA",
    "DreamVLAConfig",
    "EncoderConfig",
    "HeadConfig",
    "KnowledgeConfig",
    "KnowledgeDecoder",
    "TokenLayout",
    "causal_mask",
    "structured_mask",
]
