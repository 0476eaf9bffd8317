"""Token conditions through both heads and both networks: flat == one token, padding is invisible."""

import pytest
import torch

from foresight.heads import DDPMHead, DiTDenoiser, FlowMatchingHead, MLPResNetDenoiser

B, H, A, C, N = 3, 4, 2, 6, 3
MASK = torch.tensor([[True, False, True], [True, True, False], [True, True, True]])


def _head(kind, net, tokens=1, **kwargs):
    torch.manual_seed(0)
    if net == "dit":
        noise_net = DiTDenoiser(A, H, C, num_layers=1, hidden_dim=16, num_heads=2)
        torch.nn.init.normal_(noise_net.proj_out.weight, std=0.5)
    else:
        noise_net = MLPResNetDenoiser(A, H, C, 16, 1, 0.0, cond_tokens=tokens)
    if kind == "ddpm":
        return DDPMHead(A, H, C, num_train_timesteps=20, noise_net=noise_net, **kwargs).eval()
    return FlowMatchingHead(A, H, C, num_inference_steps=4, noise_net=noise_net, **kwargs).eval()


HEADS = [(kind, net) for kind in ("ddpm", "flow") for net in ("mlp", "dit")]


@pytest.mark.parametrize(("kind", "net"), HEADS)
def test_flat_and_single_token_conditions_are_identical(kind, net):
    head = _head(kind, net)
    cond, actions = torch.randn(B, C), torch.rand(B, H, A)
    flat = head.loss(cond, actions, generator=torch.Generator().manual_seed(1))
    token = head.loss(cond.unsqueeze(1), actions, generator=torch.Generator().manual_seed(1))
    assert torch.equal(flat, token)
    a = head.sample(cond, generator=torch.Generator().manual_seed(2))
    b = head.sample(cond.unsqueeze(1), generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert not torch.allclose(a, head.sample(cond + 1, generator=torch.Generator().manual_seed(2)))


@pytest.mark.parametrize(("kind", "net"), HEADS)
def test_padded_condition_tokens_change_nothing(kind, net):
    head = _head(kind, net, tokens=N)
    cond, actions = torch.randn(B, N, C), torch.rand(B, H, A)
    perturbed = cond.clone()
    perturbed[~MASK] = torch.randn(int((~MASK).sum()), C) * 50

    def run(c, mask):
        loss = head.loss(c, actions, cond_mask=mask, generator=torch.Generator().manual_seed(3))
        return loss, head.sample(c, cond_mask=mask, generator=torch.Generator().manual_seed(4))

    loss, sample = run(cond, MASK)
    loss_p, sample_p = run(perturbed, MASK)
    torch.testing.assert_close(loss_p, loss, rtol=0, atol=1e-6)
    torch.testing.assert_close(sample_p, sample, rtol=0, atol=1e-5)
    # the mask is what hides them: unmasked, the perturbation shows
    assert not torch.allclose(run(perturbed, None)[1], run(cond, None)[1], atol=1e-3)


def test_mlp_network_reads_a_fixed_number_of_tokens():
    head = _head("ddpm", "mlp", tokens=2)
    with pytest.raises(ValueError, match="built for cond_tokens=2, got 3"):
        head.loss(torch.randn(B, 3, C), torch.rand(B, H, A))


@pytest.mark.parametrize("kind", ["ddpm", "flow"])
def test_heads_check_conditions_before_running(kind):
    head = _head(kind, "dit")
    with pytest.raises(ValueError, match=r"cond_mask must be bool \(B, N\) = \(3, 3\)"):
        head.sample(torch.randn(B, N, C), cond_mask=torch.ones(B, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="cond_dim=6"):
        head.loss(torch.randn(B, N, 5), torch.rand(B, H, A))
