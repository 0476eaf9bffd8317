"""Reusable neural-network blocks shared by methods and heads.

``from foresight.nn import FiLM, PerceiverPool, CrossAttention, MLPResNet, EMA, ema_update_``
"""

from foresight.nn.attention import (
    CrossAttention,
    CrossAttentionStack,
    MultiHeadAttention,
    PerceiverPool,
    SelfAttention,
)
from foresight.nn.ema import EMA, ema_update_
from foresight.nn.embeddings import SinusoidalPosEmb
from foresight.nn.film import FiLM
from foresight.nn.mlp import MLP, MLPResNet, ResidualMLPBlock, VectorToTokens, make_activation
from foresight.nn.vision import (
    ResNetImageEncoder,
    ResNetTrunk,
    SpatialSoftmax,
    imagenet_normalize,
)

__all__ = [
    "EMA",
    "MLP",
    "CrossAttention",
    "CrossAttentionStack",
    "FiLM",
    "MLPResNet",
    "MultiHeadAttention",
    "PerceiverPool",
    "ResNetImageEncoder",
    "ResNetTrunk",
    "ResidualMLPBlock",
    "SelfAttention",
    "SinusoidalPosEmb",
    "SpatialSoftmax",
    "VectorToTokens",
    "ema_update_",
    "imagenet_normalize",
    "make_activation",
]
