import pytest
import torch

from foresight.heads import NullCondition, as_tokens
from foresight.heads.conditions import attention_bias


def test_flat_condition_is_one_token():
    cond = torch.randn(3, 5)
    tokens, mask = as_tokens(cond)
    assert tokens.shape == (3, 1, 5) and mask is None
    assert torch.equal(tokens[:, 0], cond)
    seq = torch.randn(3, 4, 5)
    same, _ = as_tokens(seq)
    assert same is seq


def test_bad_conditions_are_named():
    with pytest.raises(ValueError, match=r"cond must be \(B, C\) or \(B, N, C\), got \(3,\)"):
        as_tokens(torch.randn(3))
    with pytest.raises(ValueError, match="cond_mask needs token conditions"):
        as_tokens(torch.randn(3, 5), torch.ones(3, 1, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"cond_mask must be bool \(B, N\) = \(3, 4\), got torch.float32 \(3, 4\)"):
        as_tokens(torch.randn(3, 4, 5), torch.ones(3, 4))
    with pytest.raises(ValueError, match=r"cond_mask must be bool \(B, N\) = \(3, 4\), got torch.bool \(3, 2\)"):
        as_tokens(torch.randn(3, 4, 5), torch.ones(3, 2, dtype=torch.bool))
    mask = torch.ones(3, 4, dtype=torch.bool)
    mask[1] = False
    with pytest.raises(ValueError, match=r"rows \[1\] without a single real token"):
        as_tokens(torch.randn(3, 4, 5), mask)
    with pytest.raises(ValueError, match="6 features per token, the head was built for cond_dim=5"):
        as_tokens(torch.randn(3, 4, 6), cond_dim=5)


def test_attention_bias_blocks_padding_only():
    mask = torch.tensor([[True, False, True], [True, True, True]])
    bias = attention_bias(mask, torch.float32)
    assert bias.shape == (2, 1, 3)
    assert bias[0, 0, 1] == torch.finfo(torch.float32).min
    assert torch.equal(bias[0, 0, [0, 2]], torch.zeros(2)) and torch.equal(bias[1], torch.zeros(1, 3))
    # through softmax, a padded key gets exactly zero weight
    weights = torch.softmax(torch.randn(2, 1, 3) + bias, dim=-1)
    assert weights[0, 0, 1] == 0 and torch.allclose(weights.sum(-1), torch.ones(2, 1))
    assert attention_bias(None, torch.float32) is None


def test_null_condition_replaces_whole_rows_and_unmasks_them():
    null = NullCondition(5)
    cond = torch.randn(3, 4, 5)
    mask = torch.tensor([[True, True, False, False], [True, False, False, False], [True, True, True, True]])
    drop = torch.tensor([False, True, False])
    out, out_mask = null.replace(cond, mask, drop)
    assert torch.equal(out[0], cond[0]) and torch.equal(out[2], cond[2])
    assert torch.equal(out[1], null.embedding.detach().expand(4, 5))
    assert torch.equal(out_mask, torch.tensor([[True, True, False, False], [True] * 4, [True] * 4]))
    flat, none = null.replace(cond[:, 0], None, drop)
    assert none is None and torch.equal(flat[1], null.embedding.detach()) and torch.equal(flat[0], cond[0, 0])
    # gradients reach the learned embedding only through dropped rows
    out.sum().backward()
    torch.testing.assert_close(null.embedding.grad, torch.full((5,), 4.0))
