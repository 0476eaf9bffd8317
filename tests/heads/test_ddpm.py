import pytest
import torch
from torch import nn

from foresight.heads import DDPMHead, MLPResNetDenoiser

B, H, A, C = 4, 6, 7, 5


class Spy(nn.Module):
    """Records its inputs and returns a fixed function of them, so the loss can be recomputed by hand."""

    def forward(self, noisy, timesteps, cond):
        self.noisy, self.timesteps, self.cond = noisy, timesteps, cond
        return 0.5 * noisy


class PerfectEps(nn.Module):
    """eps(x_t, t) = (x_t - sqrt(abar_t) x0) / sqrt(1 - abar_t), with the scheduler's own alphas."""

    def __init__(self, x0, alphas_cumprod):
        super().__init__()
        self.x0, self.abar = x0, alphas_cumprod

    def forward(self, noisy, timesteps, cond):
        abar = self.abar[timesteps].view(-1, 1, 1)
        return (noisy - abar.sqrt() * self.x0) / (1 - abar).sqrt()


def _head(**kwargs):
    return DDPMHead(A, H, C, num_train_timesteps=50, **kwargs)


def test_training_target_is_the_noise_given_to_add_noise():
    torch.manual_seed(0)
    head = _head(noise_net=Spy())
    actions, cond = torch.rand(B, H, A) * 2 - 1, torch.randn(B, C)
    loss = head.loss(cond, actions, generator=torch.Generator().manual_seed(7))

    # the same draws, in the documented order: timesteps then noise
    g = torch.Generator().manual_seed(7)
    t = torch.randint(0, 50, (B,), generator=g)
    noise = torch.randn(B, H, A, generator=g)
    spy = head.noise_net
    assert torch.equal(spy.timesteps, t) and torch.equal(spy.cond, cond)
    torch.testing.assert_close(spy.noisy, head.noise_scheduler.add_noise(actions, noise, t))
    abar = head.noise_scheduler.alphas_cumprod[t].view(-1, 1, 1)
    torch.testing.assert_close(spy.noisy, abar.sqrt() * actions + (1 - abar).sqrt() * noise)
    torch.testing.assert_close(loss, ((0.5 * spy.noisy - noise) ** 2).mean())


def test_loss_target_follows_prediction_type():
    actions, cond = torch.rand(B, H, A), torch.randn(B, C)
    for prediction_type in ("sample", "v_prediction"):
        head = _head(noise_net=Spy(), prediction_type=prediction_type)
        loss = head.loss(cond, actions, generator=torch.Generator().manual_seed(1))
        g = torch.Generator().manual_seed(1)
        t = torch.randint(0, 50, (B,), generator=g)
        noise = torch.randn(B, H, A, generator=g)
        abar = head.noise_scheduler.alphas_cumprod[t].view(-1, 1, 1)
        target = actions if prediction_type == "sample" else abar.sqrt() * noise - (1 - abar).sqrt() * actions
        torch.testing.assert_close(loss, ((0.5 * head.noise_net.noisy - target) ** 2).mean())


def test_mask_excludes_padded_steps():
    head = _head(noise_net=Spy())
    actions, cond = torch.rand(B, H, A), torch.randn(B, C)
    mask = torch.ones(B, H, dtype=torch.bool)
    mask[0, 3:] = False
    mask[2, 1:] = False
    loss = head.loss(cond, actions, mask, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    torch.randint(0, 50, (B,), generator=g)
    noise = torch.randn(B, H, A, generator=g)
    err = (0.5 * head.noise_net.noisy - noise) ** 2
    torch.testing.assert_close(loss, err[mask].mean())
    # padded actions can hold anything without changing the loss
    garbage = actions.clone()
    garbage[~mask] = 1e3
    head.loss(cond, garbage, mask, generator=torch.Generator().manual_seed(3))
    err_garbage = (0.5 * head.noise_net.noisy - noise) ** 2
    torch.testing.assert_close(err_garbage[mask].mean(), loss)


def test_noise_samples_repeat_rows_with_fresh_draws():
    head = _head(noise_net=Spy(), noise_samples=3)
    actions, cond = torch.rand(B, H, A), torch.randn(B, C)
    mask = torch.ones(B, H, dtype=torch.bool)
    mask[1, 4:] = False
    loss = head.loss(cond, actions, mask, generator=torch.Generator().manual_seed(2))
    spy = head.noise_net
    assert spy.noisy.shape == (3 * B, H, A)
    torch.testing.assert_close(spy.cond, cond.repeat(3, 1))
    g = torch.Generator().manual_seed(2)
    t = torch.randint(0, 50, (3 * B,), generator=g)
    noise = torch.randn(3 * B, H, A, generator=g)
    torch.testing.assert_close(spy.noisy, head.noise_scheduler.add_noise(actions.repeat(3, 1, 1), noise, t))
    err = (0.5 * spy.noisy - noise) ** 2
    torch.testing.assert_close(loss, err[mask.repeat(3, 1)].mean())
    with pytest.raises(ValueError, match="noise_samples must be >= 1"):
        _head(noise_samples=0)


@pytest.mark.parametrize(("sampler", "steps"), [("ddpm", None), ("ddpm", 10), ("ddim", 10), ("ddim", 50)])
def test_perfect_noise_predictor_recovers_clean_chunk(sampler, steps):
    torch.manual_seed(0)
    x0 = torch.rand(B, H, A) * 1.8 - 0.9
    head = _head()
    head.noise_net = PerfectEps(x0, head.noise_scheduler.alphas_cumprod)
    out = head.sample(
        torch.zeros(B, C), generator=torch.Generator().manual_seed(0), sampler=sampler, num_inference_steps=steps
    )
    torch.testing.assert_close(out, x0, atol=1e-4, rtol=0)


def test_wrong_predictor_does_not_recover_clean_chunk():
    x0 = torch.rand(B, H, A) * 1.8 - 0.9
    head = _head()
    head.noise_net = PerfectEps(x0 * 0.5, head.noise_scheduler.alphas_cumprod)
    out = head.sample(torch.zeros(B, C), generator=torch.Generator().manual_seed(0))
    assert (out - x0).abs().max() > 0.1


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_sampling_is_deterministic_given_a_generator(sampler):
    torch.manual_seed(0)
    head = _head(hidden_dim=32, num_blocks=1, sampler=sampler, num_inference_steps=10).eval()
    cond = torch.randn(B, C)
    a = head.sample(cond, generator=torch.Generator().manual_seed(5))
    b = head.sample(cond, generator=torch.Generator().manual_seed(5))
    c = head.sample(cond, generator=torch.Generator().manual_seed(6))
    assert a.shape == (B, H, A)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_default_network_shapes_and_gradients():
    head = _head(hidden_dim=32, num_blocks=2)
    assert isinstance(head.noise_net, MLPResNetDenoiser)
    loss = head.loss(torch.randn(B, C), torch.rand(B, H, A))
    loss.backward()
    assert all(p.grad is not None for p in head.parameters())


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="sampler 'euler'"):
        _head(sampler="euler")
    with pytest.raises(ValueError, match="prediction_type 'x0'"):
        _head(prediction_type="x0")
    with pytest.raises(ValueError, match="num_inference_steps=60"):
        _head(num_inference_steps=60)
    head = _head(hidden_dim=8, num_blocks=1)
    with pytest.raises(ValueError, match=r"\(4, 6, 7\), got \(4, 5, 7\)"):
        head.loss(torch.randn(B, C), torch.rand(B, 5, A))
    with pytest.raises(ValueError, match="mask must be bool"):
        head.loss(torch.randn(B, C), torch.rand(B, H, A), torch.ones(B, H))
    with pytest.raises(ValueError, match="sampler 'dpm'"):
        head.sample(torch.randn(B, C), sampler="dpm")
