import math

import pytest
import torch
import torch.nn.functional as F

from foresight.nn import CrossAttention, CrossAttentionStack, MultiHeadAttention, PerceiverPool, SelfAttention


def _manual_attention(attn: MultiHeadAttention, q, kv, mask=None):
    """softmax(Q K^T / sqrt(d)) V per head, written out."""
    Q, K, V = attn.q_proj(q), attn.k_proj(kv), attn.v_proj(kv)
    h = attn.num_heads
    d = Q.shape[-1] // h
    outs = []
    for i in range(h):
        sl = slice(i * d, (i + 1) * d)
        scores = Q[..., sl] @ K[..., sl].transpose(-1, -2) / math.sqrt(d)
        if mask is not None:
            scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        outs.append(torch.softmax(scores, dim=-1) @ V[..., sl])
    return attn.out_proj(torch.cat(outs, dim=-1))


@pytest.mark.parametrize("num_heads", [1, 4])
def test_attention_matches_manual_softmax(num_heads):
    torch.manual_seed(0)
    attn = MultiHeadAttention(8, num_heads, kv_dim=5)
    q, kv = torch.randn(2, 3, 8), torch.randn(2, 6, 5)
    torch.testing.assert_close(attn(q, kv), _manual_attention(attn, q, kv))


def test_cross_attention_block_accounts_for_norms_and_mlp():
    torch.manual_seed(0)
    block = CrossAttention(8, 2, kv_dim=5).eval()
    q, kv = torch.randn(2, 3, 8), torch.randn(2, 6, 5)
    q_normed = F.layer_norm(q, (8,), block.norm_q.weight, block.norm_q.bias)
    x = q + _manual_attention(block.attn, q_normed, block.norm_kv(kv))
    expected = x + block.mlp(block.norm_mlp(x))
    torch.testing.assert_close(block(q, kv), expected)


def test_cross_attention_invariant_to_kv_order_and_masks_drop_tokens():
    torch.manual_seed(0)
    block = CrossAttentionStack(8, 2, depth=2, kv_dim=5).eval()
    q, kv = torch.randn(2, 3, 8), torch.randn(2, 6, 5)
    perm = torch.randperm(6)
    out = block(q, kv)
    torch.testing.assert_close(block(q, kv[:, perm]), out)
    # masking the last two tokens == not passing them; their values do not matter
    mask = torch.tensor([[True] * 4 + [False] * 2] * 2)
    garbage = kv.clone()
    garbage[:, 4:] = 1e4
    torch.testing.assert_close(block(q, garbage, mask), block(q, kv[:, :4]))


def test_mask_errors_are_explicit():
    block = CrossAttention(8, 2)
    q, kv = torch.randn(2, 1, 8), torch.randn(2, 3, 8)
    with pytest.raises(ValueError, match="no valid key"):
        block(q, kv, torch.tensor([[True, False, False], [False, False, False]]))
    with pytest.raises(ValueError, match=r"bool of shape \(2, 3\)"):
        block(q, kv, torch.ones(2, 3))
    with pytest.raises(ValueError, match="not divisible"):
        MultiHeadAttention(10, 3)


def test_self_attention_formula_and_mask():
    torch.manual_seed(0)
    block = SelfAttention(8, 2).eval()
    x = torch.randn(2, 4, 8)
    h = block.norm_attn(x)
    y = x + _manual_attention(block.attn, h, h)
    torch.testing.assert_close(block(x), y + block.mlp(block.norm_mlp(y)))
    mask = torch.tensor([[True, True, True, False]] * 2)
    torch.testing.assert_close(block(x, mask)[:, :3], block(x[:, :3]))


def test_perceiver_pool_is_order_independent_and_handles_masks():
    torch.manual_seed(0)
    pool = PerceiverPool(8, 2, num_queries=1, depth=2, kv_dim=6).eval()
    tokens = torch.randn(3, 5, 6)
    pooled = pool.pooled(tokens)
    assert pooled.shape == (3, 8)
    torch.testing.assert_close(pool.pooled(tokens[:, torch.randperm(5)]), pooled)
    # the latent query, not the input, decides the output width and count; rows are independent
    torch.testing.assert_close(pool.pooled(tokens[:1]), pooled[:1])
    mask = torch.tensor([[True, True, False, True, False]] * 3)
    torch.testing.assert_close(pool.pooled(tokens, mask), pool.pooled(tokens[:, [0, 1, 3]]))

    multi = PerceiverPool(8, 2, num_queries=3)
    assert multi(torch.randn(2, 5, 8)).shape == (2, 3, 8)
    with pytest.raises(ValueError, match="num_queries=1"):
        multi.pooled(torch.randn(2, 5, 8))
