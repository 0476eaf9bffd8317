"""Classifier-free guidance: condition dropout with a learned null condition, and the guidance scale."""

import pytest
import torch
from torch import nn

from foresight.heads import DDPMHead, DiTDenoiser, FlowMatchingHead

B, H, A, C, N = 4, 3, 2, 5, 2


class Spy(nn.Module):
    def forward(self, noisy, timesteps, cond, cond_mask=None):
        self.cond, self.cond_mask = cond, cond_mask
        return 0.5 * noisy


class CondVelocity(nn.Module):
    """A velocity that ignores x and t: ``W · mean(cond)``, so an Euler path moves by exactly minus it."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(C, H * A)

    def forward(self, noisy, timesteps, cond, cond_mask=None):
        return self.proj(cond.mean(dim=1)).view(-1, H, A)


def _make(kind, **kwargs):
    cls = DDPMHead if kind == "ddpm" else FlowMatchingHead
    extra = {"num_train_timesteps": 20} if kind == "ddpm" else {"num_inference_steps": 4}
    return cls(A, H, C, **extra, **kwargs)


def _dit():
    torch.manual_seed(0)
    net = DiTDenoiser(A, H, C, num_layers=1, hidden_dim=16, num_heads=2)
    torch.nn.init.normal_(net.proj_out.weight, std=0.5)
    return net


@pytest.mark.parametrize("kind", ["ddpm", "flow"])
def test_scale_one_is_exactly_the_conditional_model(kind):
    net = _dit().eval()
    guided = _make(kind, noise_net=net, cond_dropout=0.1, guidance_scale=1.0).eval()
    plain = _make(kind, noise_net=net).eval()
    cond, mask = torch.randn(B, N, C), torch.tensor([[True, False]] * B)
    a = guided.sample(cond, cond_mask=mask, generator=torch.Generator().manual_seed(0))
    b = plain.sample(cond, cond_mask=mask, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    c = guided.sample(cond, cond_mask=mask, generator=torch.Generator().manual_seed(0), guidance_scale=1.5)
    assert not torch.allclose(a, c, atol=1e-4)


@pytest.mark.parametrize("scale", [0.0, 0.1, 1.5])
def test_guided_prediction_is_u_plus_w_c_minus_u(scale):
    head = _make("ddpm", noise_net=_dit(), cond_dropout=0.1)
    x, t, cond = torch.randn(B, H, A), torch.tensor([1, 5, 9, 19]), torch.randn(B, N, C)
    mask = torch.tensor([[True, False], [True, True], [True, False], [True, True]])
    conditional = head.noise_net(x, t, cond, cond_mask=mask)
    unconditional = head.noise_net(x, t, head.null_cond.like(cond))
    expected = unconditional + scale * (conditional - unconditional)
    torch.testing.assert_close(head.guided(x, t, cond, mask, scale), expected)


@pytest.mark.parametrize("scale", [0.0, 1.5])
def test_flow_sample_with_guidance_in_closed_form(scale):
    """With a velocity independent of x, N Euler steps over sigma 1 -> 0 give x = eps - v_guided exactly."""
    torch.manual_seed(0)
    head = _make("flow", noise_net=CondVelocity(), cond_dropout=0.1, guidance_scale=scale)
    cond = torch.randn(B, N, C)
    out = head.sample(cond, generator=torch.Generator().manual_seed(1))
    eps = torch.randn(B, H, A, generator=torch.Generator().manual_seed(1))
    v_c, v_u = head.noise_net(None, None, cond), head.noise_net(None, None, head.null_cond.like(cond))
    torch.testing.assert_close(out, eps - (v_u + scale * (v_c - v_u)), rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", ["ddpm", "flow"])
def test_scale_zero_ignores_the_condition(kind):
    head = _make(kind, noise_net=_dit(), cond_dropout=0.1, guidance_scale=0.0).eval()
    a = head.sample(torch.randn(B, N, C), generator=torch.Generator().manual_seed(0))
    b = head.sample(torch.randn(B, 1, C), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", ["ddpm", "flow"])
def test_training_drops_rows_to_the_null_condition(kind):
    head = _make(kind, noise_net=Spy(), cond_dropout=0.5)
    cond, actions = torch.randn(64, N, C), torch.rand(64, H, A)
    mask = torch.ones(64, N, dtype=torch.bool)
    mask[:, 1] = False
    head.loss(cond, actions, cond_mask=mask, generator=torch.Generator().manual_seed(5))

    # the documented draw order: times, noise, then one uniform per row
    g = torch.Generator().manual_seed(5)
    if kind == "ddpm":
        torch.randint(0, 20, (64,), generator=g)
    else:
        head.sample_sigmas(64, generator=g)
    torch.randn(64, H, A, generator=g)
    drop = torch.rand(64, generator=g) < 0.5
    assert 16 < int(drop.sum()) < 48
    spy = head.noise_net
    null = head.null_cond.embedding.detach().expand(N, C)
    assert torch.equal(spy.cond[~drop], cond[~drop])
    assert torch.equal(spy.cond[drop], null.expand(int(drop.sum()), N, C))
    assert bool(spy.cond_mask[drop].all()) and torch.equal(spy.cond_mask[~drop], mask[~drop])
    # in eval mode (validation losses), nothing is dropped
    head.eval().loss(cond, actions, cond_mask=mask, generator=torch.Generator().manual_seed(5))
    assert torch.equal(spy.cond, cond)


def test_null_condition_learns_and_is_saved_only_when_used():
    head = _make("flow", noise_net=_dit(), cond_dropout=0.5)
    head.loss(torch.randn(B, N, C), torch.rand(B, H, A), generator=torch.Generator().manual_seed(0)).backward()
    assert head.null_cond.embedding.grad.abs().sum() > 0
    assert "null_cond.embedding" in head.state_dict()
    assert not any(k.startswith("null_cond") for k in _make("ddpm").state_dict())


def test_guidance_without_an_unconditional_model_is_refused():
    with pytest.raises(ValueError, match=r"guidance_scale=1.5 needs .* cond_dropout > 0"):
        _make("ddpm", guidance_scale=1.5)
    head = _make("flow", hidden_dim=8, num_blocks=1)
    with pytest.raises(ValueError, match=r"guidance_scale=0.0 needs .* cond_dropout > 0"):
        head.sample(torch.randn(B, C), guidance_scale=0.0)
    with pytest.raises(ValueError, match=r"cond_dropout must be in \[0, 1\), got 1.0"):
        _make("ddpm", cond_dropout=1.0)
