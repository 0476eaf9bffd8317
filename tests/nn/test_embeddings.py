import math

import pytest
import torch

from foresight.nn import SinusoidalPosEmb


def test_matches_diffusion_policy_formula():
    dim, t = 8, torch.tensor([0, 3, 17])
    half = dim // 2
    freqs = torch.exp(torch.arange(half) * -(math.log(10000) / (half - 1)))
    args = t[:, None].float() * freqs[None]
    expected = torch.cat([args.sin(), args.cos()], dim=-1)
    torch.testing.assert_close(SinusoidalPosEmb(dim)(t), expected)


def test_odd_dim_rejected():
    with pytest.raises(ValueError, match="even dim"):
        SinusoidalPosEmb(7)
