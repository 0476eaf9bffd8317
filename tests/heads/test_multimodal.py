"""A generative head must represent several modes, not their average: the reason to use one over regression.

The toy distribution: every action chunk is all +0.6 or all -0.6 (probability 1/2 each, plus 0.05 noise),
whatever the two condition tokens say. A head that averages would put its samples near 0.
"""

import pytest
import torch

from foresight.heads import DDPMHead, DiTDenoiser, FlowMatchingHead

H, A, C, N = 4, 2, 8, 2
MODE = 0.6


def _batch(n, g):
    sign = torch.randint(0, 2, (n,), generator=g) * 2.0 - 1.0
    actions = MODE * sign.view(n, 1, 1).expand(n, H, A) + 0.05 * torch.randn(n, H, A, generator=g)
    return torch.randn(n, N, C, generator=g), actions


def _train(head, steps=200, batch=32):
    opt = torch.optim.AdamW(head.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        cond, actions = _batch(batch, g)
        loss = head.loss(cond, actions, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head.eval()


def _modes(head, **kwargs):
    """Fractions of 400 samples at the + mode, the - mode, and in between; mean distance to the nearest mode."""
    cond, _ = _batch(400, torch.Generator().manual_seed(2))
    level = head.sample(cond, generator=torch.Generator().manual_seed(3), **kwargs).mean(dim=(1, 2))
    return {
        "plus": (level > MODE / 2).float().mean().item(),
        "minus": (level < -MODE / 2).float().mean().item(),
        "between": (level.abs() <= MODE / 2).float().mean().item(),
        "error": (level.abs() - MODE).abs().mean().item(),
    }


def _dit():
    return DiTDenoiser(A, H, C, num_layers=2, hidden_dim=32, num_heads=4)


def _assert_two_modes(m):
    assert m["plus"] > 0.3 and m["minus"] > 0.3, m  # both modes sampled, in roughly equal shares
    assert m["between"] < 0.1 and m["error"] < 0.15, m  # and not their average


def test_dit_diffusion_head_samples_both_modes():
    torch.manual_seed(0)
    head = _train(DDPMHead(A, H, C, num_train_timesteps=50, sampler="ddim", num_inference_steps=10, noise_net=_dit()))
    _assert_two_modes(_modes(head))


@pytest.fixture(scope="module")
def flow_head():
    torch.manual_seed(0)
    return _train(FlowMatchingHead(A, H, C, num_inference_steps=10, noise_net=_dit()))


def test_flow_head_samples_both_modes(flow_head):
    _assert_two_modes(_modes(flow_head))


def test_one_euler_step_averages_the_modes(flow_head):
    """The measurement can fail: from sigma = 1 the best velocity points at the mean chunk, so a single Euler
    step lands between the modes. Only integrating the flow separates them."""
    m = _modes(flow_head, num_inference_steps=1)
    assert m["between"] > 0.6, m
