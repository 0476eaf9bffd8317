import pytest
import torch
from diffusers.models.attention import BasicTransformerBlock

from foresight.heads import DiTDenoiser

B, H, A, C, N = 3, 5, 4, 6, 4


def _net(**kwargs):
    torch.manual_seed(0)
    net = DiTDenoiser(A, H, C, num_layers=2, hidden_dim=16, num_heads=2, **kwargs)
    torch.nn.init.normal_(net.proj_out.weight, std=0.5)  # zero-initialised: make the output depend on the input
    return net.eval()


def _inputs(seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, H, A, generator=g), torch.tensor([3, 40, 99]), torch.randn(B, N, C, generator=g)


def test_untrained_network_predicts_zero():
    net = DiTDenoiser(A, H, C, num_layers=1, hidden_dim=16, num_heads=2)
    noisy, t, cond = _inputs()
    assert torch.equal(net(noisy, t, cond), torch.zeros(B, H, A))


def test_output_depends_on_every_input():
    net = _net()
    noisy, t, cond = _inputs()
    out = net(noisy, t, cond)
    assert out.shape == (B, H, A)
    assert not torch.allclose(out, net(noisy + 0.5, t, cond), atol=1e-4)
    assert not torch.allclose(out, net(noisy, t + 30, cond), atol=1e-4)
    assert not torch.allclose(out, net(noisy, t, cond + 0.5), atol=1e-4)
    # float timesteps (flow matching's sigma * 1000) embed on the same scale as DDPM's integers
    torch.testing.assert_close(net(noisy, t.float(), cond), out)


def test_flat_condition_equals_one_token():
    net = _net()
    noisy, t, cond = _inputs()
    assert torch.equal(net(noisy, t, cond[:, 0]), net(noisy, t, cond[:, :1]))


def test_padded_tokens_change_nothing():
    net = _net()
    noisy, t, cond = _inputs()
    mask = torch.tensor([[True, True, False, False], [True, False, True, False], [True, True, True, True]])
    out = net(noisy, t, cond, cond_mask=mask)
    perturbed = cond.clone()
    perturbed[~mask] = torch.randn(int((~mask).sum()), C) * 100
    torch.testing.assert_close(net(noisy, t, perturbed, cond_mask=mask), out, rtol=0, atol=1e-6)
    # the same as never having had the padded tokens
    torch.testing.assert_close(net(noisy[:1], t[:1], cond[:1, :2]), out[:1], rtol=0, atol=1e-6)
    # without the mask, the same perturbation does change the output: the mask is what protects it
    assert not torch.allclose(net(noisy, t, perturbed), net(noisy, t, cond), atol=1e-4)
    real = cond.clone()
    real[0, 0] += 1.0
    assert not torch.allclose(net(noisy, t, real, cond_mask=mask)[0], out[0], atol=1e-4)


def test_built_from_diffusers_blocks_with_dit_b_defaults():
    with torch.device("meta"):
        net = DiTDenoiser(7, 16, 768)
    assert len(net.blocks) == 12 and all(isinstance(b, BasicTransformerBlock) for b in net.blocks)
    block = net.blocks[0]
    assert block.norm_type == "ada_norm_single" and block.attn2 is not None
    assert block.attn1.heads == 12 and block.attn1.inner_dim == 768
    assert block.attn2.to_k.in_features == 768 and net.action_in.out_features == 768
    d = 768
    attention = 4 * (d * d + d)  # q, k, v, out with biases (self- and cross-attention alike, cond_dim = d)
    feed_forward = (d * 4 * d + 4 * d) + (4 * d * d + d)
    block = 2 * attention + feed_forward + 6 * d  # + adaLN-single's per-block scale-shift table
    time = (256 * d + d) + (d * d + d) + (d * 6 * d + 6 * d)  # Timesteps(256) -> TimestepEmbedding -> 6 modulations
    ends = (7 * d + d) + 16 * d + (d * 2 * d + 2 * d) + (d * 7 + 7)  # action_in, positions, final adaLN, proj_out
    assert sum(p.numel() for p in net.parameters()) == 12 * block + time + ends == 118_957_831


def test_gradients_reach_every_parameter():
    net = DiTDenoiser(A, H, C, num_layers=2, hidden_dim=16, num_heads=2)
    noisy, t, cond = _inputs()
    (net(noisy, t, cond) - 1.0).square().sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    assert net.proj_out.weight.grad.abs().sum() > 0


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match="hidden_dim=10 must be divisible by num_heads=4"):
        DiTDenoiser(A, H, C, hidden_dim=10, num_heads=4)
    net = _net()
    noisy, t, _ = _inputs()
    with pytest.raises(ValueError, match="7 features per token, the head was built for cond_dim=6"):
        net(noisy, t, torch.randn(B, N, 7))
