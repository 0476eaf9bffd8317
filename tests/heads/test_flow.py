import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from diffusers.training_utils import compute_density_for_timestep_sampling
from torch import nn

from foresight.heads import DiTDenoiser, FlowMatchingHead, MLPResNetDenoiser

B, H, A, C = 4, 6, 7, 5


class Spy(nn.Module):
    def forward(self, noisy, timesteps, cond):
        self.noisy, self.timesteps, self.cond = noisy, timesteps, cond
        return 0.5 * noisy


class OracleVelocity(nn.Module):
    """v(x_sigma, sigma) = (x_sigma - x0) / sigma: the true velocity eps - x0, recovered from the sample itself."""

    def __init__(self, x0, num_train_timesteps=1000):
        super().__init__()
        self.x0, self.T, self.seen = x0, num_train_timesteps, []

    def forward(self, noisy, timesteps, cond):
        self.seen.append(timesteps.clone())
        sigma = (timesteps / self.T).view(-1, 1, 1)
        return (noisy - self.x0) / sigma


def _head(**kwargs):
    return FlowMatchingHead(A, H, C, **kwargs)


def test_add_noise_is_the_schedulers_scale_noise():
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000)
    idx = torch.tensor([0, 100, 500, 999])
    timesteps = scheduler.timesteps[idx]
    actions, noise = torch.rand(4, H, A), torch.randn(4, H, A)
    expected = scheduler.scale_noise(actions, timesteps, noise)
    torch.testing.assert_close(FlowMatchingHead.add_noise(actions, noise, scheduler.sigmas[idx]), expected)
    assert not torch.allclose(expected, actions)


@pytest.mark.parametrize("time_sampling", ["beta", "logit_normal", "uniform"])
def test_loss_regresses_the_velocity_at_the_drawn_time(time_sampling):
    head = _head(noise_net=Spy(), time_sampling=time_sampling)
    actions, cond = torch.rand(B, H, A) * 2 - 1, torch.randn(B, C)
    loss = head.loss(cond, actions, generator=torch.Generator().manual_seed(7))

    g = torch.Generator().manual_seed(7)
    sigma = head.sample_sigmas(B, generator=g)
    noise = torch.randn(B, H, A, generator=g)
    spy = head.noise_net
    torch.testing.assert_close(spy.timesteps, sigma * 1000)
    s = sigma.view(-1, 1, 1)
    torch.testing.assert_close(spy.noisy, s * noise + (1 - s) * actions)
    torch.testing.assert_close(loss, ((0.5 * spy.noisy - (noise - actions)) ** 2).mean())


def test_beta_time_is_pi0s_distribution():
    head = _head(time_sampling="beta")
    sigma = head.sample_sigmas(40_000, generator=torch.Generator().manual_seed(0))
    assert sigma.min() >= 0.001 - 1e-7 and sigma.max() <= 1.0
    # pi0 / CLAP: rho = 0.999 (1 - B), B ~ Beta(1.5, 1), and sigma = 1 - rho; CDF of B is x^1.5
    b = ((sigma - 0.001) / 0.999).sort().values
    empirical = torch.arange(1, b.numel() + 1) / b.numel()
    assert (empirical - b.pow(1.5)).abs().max() < 0.01  # Kolmogorov-Smirnov distance
    reference = torch.distributions.Beta(1.5, 1.0).sample((40_000,))
    assert abs(b.mean() - reference.mean()) < 0.01 and abs(b.mean() - 0.6) < 0.01  # E[B] = 1.5 / 2.5


def test_logit_normal_and_uniform_times_are_diffusers():
    g = torch.Generator().manual_seed(3)
    ln = _head(time_sampling="logit_normal", logit_mean=0.5, logit_std=0.7).sample_sigmas(1000, generator=g)
    expected = compute_density_for_timestep_sampling(
        "logit_normal", 1000, 0.5, 0.7, generator=torch.Generator().manual_seed(3)
    )
    torch.testing.assert_close(ln, expected)
    by_hand = torch.normal(0.5, 0.7, (1000,), generator=torch.Generator().manual_seed(3)).sigmoid()
    torch.testing.assert_close(ln, by_hand)
    u = _head(time_sampling="uniform").sample_sigmas(1000, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(u, torch.rand(1000, generator=torch.Generator().manual_seed(4)))


@pytest.mark.parametrize("steps", [1, 4, 10])
def test_oracle_velocity_recovers_clean_chunk_in_equal_euler_steps(steps):
    x0 = torch.rand(B, H, A) * 1.8 - 0.9
    head = _head(num_inference_steps=steps)
    head.noise_net = oracle = OracleVelocity(x0)
    out = head.sample(torch.zeros(B, C), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, x0, atol=1e-5, rtol=0)
    # the network saw sigma = 1, 1 - 1/N, ..., 1/N (times 1000), one Euler step each
    seen = torch.stack([t[0] for t in oracle.seen])
    torch.testing.assert_close(seen, torch.tensor(np.linspace(1.0, 1.0 / steps, steps) * 1000, dtype=torch.float32))


def test_wrong_velocity_does_not_recover_clean_chunk():
    x0 = torch.rand(B, H, A) * 1.8 - 0.9
    head = _head(num_inference_steps=4)
    head.noise_net = OracleVelocity(0.5 * x0)
    out = head.sample(torch.zeros(B, C), generator=torch.Generator().manual_seed(0))
    assert (out - x0).abs().max() > 0.1


def test_sampling_starts_from_the_generators_noise():
    """A zero velocity leaves x at sigma = 1 untouched: the sample is exactly the first noise draw."""

    class Zero(nn.Module):
        def forward(self, noisy, timesteps, cond):
            return torch.zeros_like(noisy)

    head = _head(noise_net=Zero())
    out = head.sample(torch.zeros(B, C), generator=torch.Generator().manual_seed(9))
    assert torch.equal(out, torch.randn(B, H, A, generator=torch.Generator().manual_seed(9)))


def test_sampling_is_deterministic_given_a_generator():
    torch.manual_seed(0)
    head = _head(hidden_dim=32, num_blocks=1, num_inference_steps=4).eval()
    cond = torch.randn(B, C)
    a = head.sample(cond, generator=torch.Generator().manual_seed(5))
    b = head.sample(cond, generator=torch.Generator().manual_seed(5))
    c = head.sample(cond, generator=torch.Generator().manual_seed(6))
    assert a.shape == (B, H, A) and torch.equal(a, b) and not torch.allclose(a, c)


def test_mask_and_noise_samples():
    head = _head(noise_net=Spy(), noise_samples=3)
    actions, cond = torch.rand(B, H, A), torch.randn(B, C)
    mask = torch.ones(B, H, dtype=torch.bool)
    mask[1, 4:] = False
    loss = head.loss(cond, actions, mask, generator=torch.Generator().manual_seed(2))
    spy = head.noise_net
    assert spy.noisy.shape == (3 * B, H, A)
    torch.testing.assert_close(spy.cond, cond.repeat(3, 1))
    g = torch.Generator().manual_seed(2)
    head.sample_sigmas(3 * B, generator=g)
    noise = torch.randn(3 * B, H, A, generator=g)
    err = (0.5 * spy.noisy - (noise - actions.repeat(3, 1, 1))) ** 2
    torch.testing.assert_close(loss, err[mask.repeat(3, 1)].mean())
    garbage = actions.clone()
    garbage[~mask] = 1e3
    torch.testing.assert_close(head.loss(cond, garbage, mask, generator=torch.Generator().manual_seed(2)), loss)


def test_default_network_trains():
    head = _head(hidden_dim=32, num_blocks=2)
    assert isinstance(head.noise_net, MLPResNetDenoiser)
    head.loss(torch.randn(B, C), torch.rand(B, H, A)).backward()
    assert all(p.grad is not None for p in head.parameters())


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="time_sampling 'lognormal'"):
        _head(time_sampling="lognormal")
    with pytest.raises(ValueError, match="num_inference_steps must be >= 1, got 0"):
        _head(num_inference_steps=0)
    with pytest.raises(ValueError, match="0 < time_max <= 1"):
        _head(time_max=1.5)
    head = _head(hidden_dim=8, num_blocks=1)
    with pytest.raises(ValueError, match=r"FlowMatchingHead actions must be .* = \(4, 6, 7\), got \(4, 5, 7\)"):
        head.loss(torch.randn(B, C), torch.rand(B, 5, A))
    with pytest.raises(ValueError, match="cond has 3 rows, the action chunks 4"):
        head.loss(torch.randn(3, C), torch.rand(B, H, A))
    with pytest.raises(ValueError, match="num_inference_steps must be >= 1"):
        head.sample(torch.randn(B, C), num_inference_steps=0)


def test_sampled_chunk_keeps_the_conditions_dtype_under_autocast():
    """The network answers in bf16 under autocast; the Euler state must not drop to bf16 with it."""

    head = _head(noise_net=DiTDenoiser(A, H, C, num_layers=1, hidden_dim=16, num_heads=2), num_inference_steps=3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert head.noise_net(torch.randn(B, H, A), torch.ones(B), torch.randn(B, C)).dtype == torch.bfloat16
        out = head.eval().sample(torch.randn(B, 2, C), generator=torch.Generator().manual_seed(0))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
