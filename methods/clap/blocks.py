"""The one transformer stack the Act-VAE and VD-VAE are built of (pre-norm, GELU, batch first: torch's own)."""

from __future__ import annotations

from torch import nn


def transformer(width: int, depth: int, heads: int, dropout: float) -> nn.TransformerEncoder:
    """``depth`` pre-norm self-attention layers with a 4x MLP and a final layer norm."""
    layer = nn.TransformerEncoderLayer(
        width, heads, 4 * width, dropout, activation="gelu", batch_first=True, norm_first=True
    )
    return nn.TransformerEncoder(layer, depth, norm=nn.LayerNorm(width), enable_nested_tensor=False)
