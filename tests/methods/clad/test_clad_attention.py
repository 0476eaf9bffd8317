"""Eq. 7-10: transition embeddings, the asymmetric cross-modal attention and its Table 5 alternatives."""

from __future__ import annotations

import pytest
import torch
from clad_fixtures import build, stage1_batch

from foresight.types import feature_key

H = 64


def cross_modal(attention: str):
    model = build(dynamics={"attention": attention, "num_proprio_tokens": 3, "num_semantic_tokens": 5}).dynamics
    return model.eval()


def test_p_to_s_gives_one_token_per_proprio_token_and_ignores_the_order_of_semantic_tokens():
    dyn = cross_modal("p_to_s")
    g = torch.Generator().manual_seed(0)
    z_p, z_s = torch.randn(4, 3, H, generator=g), torch.randn(4, 5, H, generator=g)
    out = dyn.cross_modal_attention(z_p, z_s)
    assert out.shape == (4, 3, H)  # N_p output tokens, not N_s

    permuted = dyn.cross_modal_attention(z_p, z_s[:, torch.tensor([4, 2, 0, 3, 1])])
    torch.testing.assert_close(permuted, out, rtol=1e-5, atol=1e-6)

    # ...but it does read the semantic tokens, and each output token belongs to its proprio query
    changed = dyn.cross_modal_attention(z_p, z_s + torch.randn(z_s.shape, generator=g))
    assert (changed - out).abs().max() > 1e-3
    order = torch.tensor([2, 0, 1])
    torch.testing.assert_close(dyn.cross_modal_attention(z_p[:, order], z_s), out[:, order], rtol=1e-5, atol=1e-6)


def test_s_to_p_and_symmetric_token_counts_and_invariances():
    g = torch.Generator().manual_seed(1)
    z_p, z_s = torch.randn(2, 3, H, generator=g), torch.randn(2, 5, H, generator=g)
    s_to_p = cross_modal("s_to_p")
    out = s_to_p.cross_modal_attention(z_p, z_s)
    assert out.shape == (2, 5, H)
    torch.testing.assert_close(s_to_p.cross_modal_attention(z_p.flip(1), z_s), out, rtol=1e-5, atol=1e-6)

    symmetric = cross_modal("symmetric")
    assert symmetric.cross_modal_attention(z_p, z_s).shape == (2, 8, H)
    assert isinstance(symmetric.cross_modal, torch.nn.ModuleList)


@pytest.mark.parametrize(("query", "reads_current"), [("current", True), ("past", False)])
def test_eq8_semantic_query_is_s_t_in_the_paper_and_s_t_minus_tau_in_the_digest(query, reads_current):
    """z_s (hence z_dyn, since z_p is proprio-only) depends on s^t only through the query of eq. 8."""
    dyn = build(dynamics={"semantic_query": query}).dynamics.eval()
    batch = stage1_batch()
    key = feature_key("decisionnce", "agentview")
    other = dict(batch)
    other[key] = batch[key].clone()
    other[key][:, 1] += torch.randn_like(other[key][:, 1])  # change s^t only
    with torch.no_grad():
        a, b = dyn(batch).extras["z_dyn"], dyn(other).extras["z_dyn"]
    assert (not torch.allclose(a, b, atol=1e-6)) == reads_current


def test_pooling_yields_one_h_vector_and_foresights_have_width_h():
    dyn = build().dynamics.eval()
    out = dyn(stage1_batch(size=5))
    assert out.extras["z_dyn"].shape == (5, H)
    assert out.embeddings["proprio"].shape == out.embeddings["semantic"].shape == (5, H)
