"""CLAP's equations against hand computations: SigLIP (eq. 3), the EMA teacher (Algorithm 2), quantisation onto the
frozen Act-VAE codebook, and Knowledge Matching's KL (eq. 7) in both directions."""

from __future__ import annotations

import math

import pytest
import torch

from foresight.methods.clap import VDVAE, ActVAE, knowledge_matching_kl, siglip_loss
from foresight.methods.clap.act_vae import nearest_code
from foresight.methods.clap.contrastive import SigLIPLoss
from foresight.methods.clap.tiny import tiny_config
from foresight.methods.clap.vd_vae import quantize_onto


def test_siglip_loss_matches_eq3_written_out_with_temperature_and_bias():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(3, 2, 4, generator=g), torch.randn(3, 2, 4, generator=g)
    log_t, bias = torch.tensor(math.log(7.0)), torch.tensor(-2.5)
    # eq. 3 in the paper's form: tau_c = 1 / t and b = -bias * tau_c, so (s - b) / tau_c = t s + bias
    tau, b = 1 / 7.0, 2.5 / 7.0
    total = 0.0
    for i in range(3):
        for j in range(3):
            qi, kj = q[i].flatten().tolist(), k[j].flatten().tolist()
            dot = sum(x * y for x, y in zip(qi, kj, strict=True))
            s = dot / (math.sqrt(sum(x * x for x in qi)) * math.sqrt(sum(y * y for y in kj)))
            sig = 1 / (1 + math.exp(-(s - b) / tau))
            total += -math.log(sig) if i == j else -math.log(1 - sig)
    assert siglip_loss(q, k, log_t, bias).item() == pytest.approx(total / 3, rel=1e-5)


def test_siglip_temperature_and_bias_are_learned():
    loss_fn = SigLIPLoss(10.0, -10.0)
    assert loss_fn.logit_scale.item() == pytest.approx(math.log(10.0)) and loss_fn.logit_bias.item() == -10.0
    q = torch.randn(4, 8)
    loss_fn(q, q + 0.1 * torch.randn(4, 8)).backward()
    assert loss_fn.logit_scale.grad.abs() > 0 and loss_fn.logit_bias.grad.abs() > 0
    # aligned pairs: a lower loss than shuffled ones
    assert siglip_loss(q, q, loss_fn.logit_scale, loss_fn.logit_bias) < siglip_loss(
        q, q.roll(1, 0), loss_fn.logit_scale, loss_fn.logit_bias
    )


def test_ema_teacher_update_is_mu_teacher_plus_one_minus_mu_online():
    cfg = tiny_config()
    torch.manual_seed(0)
    vd = VDVAE(cfg.vd_vae, cfg.act_vae)
    assert not any(p.requires_grad for p in vd.teacher.parameters())
    with torch.no_grad():
        for p in vd.online.parameters():
            p.add_(torch.randn_like(p))
    teacher = [p.clone() for p in vd.teacher.parameters()]
    online = [p.clone() for p in vd.online.parameters()]
    vd.update_teacher()
    mu = cfg.vd_vae.ema_momentum
    for new, t, o in zip(vd.teacher.parameters(), teacher, online, strict=True):
        torch.testing.assert_close(new, mu * t + (1 - mu) * o, rtol=0, atol=1e-6)
    vd.reset_teacher()
    for t, o in zip(vd.teacher.parameters(), vd.online.parameters(), strict=True):
        assert torch.equal(t, o)


def test_vd_vae_action_codes_land_bit_exactly_on_the_frozen_act_vae_codebook():
    cfg = tiny_config()
    torch.manual_seed(0)
    act, vd = ActVAE(cfg.act_vae, 7), VDVAE(cfg.vd_vae, cfg.act_vae)
    act.train()
    act.loss(torch.randn(64, 8, 7))  # an EMA step moves the codebook away from its initialisation
    act.eval().requires_grad_(False)
    codebook = act.codebook.clone()
    tokens = cfg.vd_vae.feature_tokens
    now, future = torch.randn(5, tokens, 32), torch.randn(5, tokens, 32)
    z_action, _ = vd.online(now, future)
    z_q, codes, commit = quantize_onto(z_action, act.codebook)
    brute = torch.cdist(z_action.reshape(-1, 16).double(), codebook.double()).argmin(-1).reshape(5, 4)
    assert torch.equal(codes, brute) and torch.equal(vd.action_codes(now, future, act.codebook), brute)
    torch.testing.assert_close(z_q, codebook[codes], rtol=0, atol=1e-6)  # straight-through value = the code
    assert commit.item() == pytest.approx((z_action - codebook[codes]).pow(2).mean().item(), rel=1e-5)
    # the Act-VAE itself assigns a latent to the same index, and training the VD-VAE never touches the codebook
    assert torch.equal(nearest_code(codebook[codes], act.codebook), codes)
    actions = torch.randn(5, 8, 7)
    with torch.no_grad():
        positives = act.latents(actions)
    losses = vd.loss(now, future, positives, torch.tensor([False, True, False, True, False]), act.codebook)
    losses["loss"].backward()
    assert torch.equal(act.codebook, codebook) and act.vq._codebook.embed.grad is None
    assert set(losses) == {"loss", "recon", "vq", "contrastive", "env_l1"}


def test_action_free_rows_take_the_ema_teacher_latents_as_positives(monkeypatch):
    cfg = tiny_config()
    torch.manual_seed(0)
    act, vd = ActVAE(cfg.act_vae, 7).eval(), VDVAE(cfg.vd_vae, cfg.act_vae)
    tokens = cfg.vd_vae.feature_tokens
    now, future = torch.randn(4, tokens, 32), torch.randn(4, tokens, 32)
    positives = torch.randn(4, 4, 16)
    seen = {}
    monkeypatch.setattr(vd.contrastive, "forward", lambda q, k: seen.setdefault("keys", k).sum() * 0)
    free = torch.tensor([True, False, True, False])
    vd.loss(now, future, positives, free, act.codebook)
    with torch.no_grad():
        teacher, _ = vd.teacher(now, future)
    assert torch.equal(seen["keys"][free], teacher[free]) and torch.equal(seen["keys"][~free], positives[~free])


TOY_P, TOY_Q = [0.7, 0.2, 0.1], [0.5, 0.3, 0.2]


@pytest.mark.parametrize("direction", ["policy_ref", "ref_policy"])
def test_knowledge_matching_kl_on_a_toy_distribution_both_directions(direction):
    policy = torch.tensor(TOY_P).log().view(1, 1, 3) + 0.3  # logits: any shift gives the same softmax
    ref = torch.tensor(TOY_Q).log().view(1, 1, 3) - 1.0
    p, q = (TOY_P, TOY_Q) if direction == "policy_ref" else (TOY_Q, TOY_P)
    expected = sum(a * math.log(a / b) for a, b in zip(p, q, strict=True))
    assert knowledge_matching_kl(policy, ref, direction).item() == pytest.approx(expected, rel=1e-5)
    # two positions average, as the code's mean over ground-truth token positions
    two = knowledge_matching_kl(torch.cat([policy, ref], 1), torch.cat([ref, ref], 1), direction)
    assert two.item() == pytest.approx(expected / 2, rel=1e-5)


def test_the_two_kl_directions_differ_and_unknown_ones_are_refused():
    policy, ref = torch.tensor(TOY_P).log(), torch.tensor(TOY_Q).log()
    assert knowledge_matching_kl(policy, ref, "policy_ref") != knowledge_matching_kl(policy, ref, "ref_policy")
    with pytest.raises(ValueError, match="policy_ref"):
        knowledge_matching_kl(policy, ref, "forward")
