"""Eq. 14 (EMA), eq. 17 (L_latent), eq. 18 (L_recon) and eq. 19 against hand computations."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from clad_fixtures import build, stage1_batch

from foresight.methods.clad.dynamics import latent_loss, recon_loss
from foresight.methods.clad.features import language_features, visual_features
from foresight.types import STATE


def test_latent_loss_by_hand():
    pred = torch.tensor([[3.0, 4.0], [0.0, 1.0]])
    target = torch.tensor([[0.0, 2.0], [5.0, 0.0]])  # normalised: [0, 1], [1, 0]
    # paper (eq. 17): |pred - t/|t||^2 -> (9 + 9) and (1 + 1): mean over the batch
    assert latent_loss(pred, target, False, "sum").item() == pytest.approx((18 + 2) / 2)
    # digest: both normalised -> [.6, .8] vs [0, 1]: .36 + .04; [0, 1] vs [1, 0]: 2
    assert latent_loss(pred, target, True, "sum").item() == pytest.approx((0.4 + 2) / 2)
    assert latent_loss(pred, target, False, "mean").item() == pytest.approx((18 + 2) / 4)


def test_recon_loss_by_hand():
    recon = torch.tensor([[1.0, -2.0, 0.5]])
    target = torch.tensor([[0.0, 1.0, 0.5]])
    assert recon_loss(recon, target, "sum").item() == pytest.approx(4.0)
    assert recon_loss(recon, target, "mean").item() == pytest.approx(4.0 / 3)
    with pytest.raises(ValueError, match="loss_reduction 'max'"):
        recon_loss(recon, target, "max")


def _move_targets_away_from_the_online_encoders(dyn) -> None:
    """What training does to the EMA targets (eq. 14): afterwards they differ from the online encoders.

    A fresh model's targets equal the online weights, so a loss that read the online encoders instead would pass
    any test on a fresh model; every target test below runs after this."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for buffer in dyn.targets.buffers():
            if buffer.is_floating_point():
                buffer.add_(0.5 * torch.randn(buffer.shape, generator=g))


@pytest.mark.parametrize("use_recon", [True, False])
def test_stage1_loss_is_eq19_recomputed_from_the_modules(use_recon):
    model = build(dynamics={"use_recon": use_recon, "lambda_recon": 0.1})
    dyn = model.dynamics.eval()  # no masking, no dropout: deterministic
    _move_targets_away_from_the_online_encoders(dyn)
    batch = stage1_batch(size=6)
    losses = dyn.loss(batch)

    out = dyn.encode(batch)
    vlm = model.config.vlm
    p_next = batch[STATE][:, 2]
    v_next = visual_features(batch, vlm)[:, 2]
    lang = language_features(batch, vlm)
    t_p = dyn.targets["proprio_encoder"](p_next)
    t_s = dyn.targets["semantic_encoder"](dyn.targets["semantic_film"](v_next, lang))
    latent = ((out["proprio"] - F.normalize(t_p, dim=-1)) ** 2).sum(-1).mean() + (
        (out["semantic"] - F.normalize(t_s, dim=-1)) ** 2
    ).sum(-1).mean()
    torch.testing.assert_close(losses["latent"], latent)
    # The same sum with the *online* encoders as targets (the collapse bug of this family) is a different number.
    o_p = dyn.proprio_encoder(p_next)
    o_s = dyn.semantic_encoder(dyn.semantic_film(v_next, lang))
    online = ((out["proprio"] - F.normalize(o_p, dim=-1)) ** 2).sum(-1).mean() + (
        (out["semantic"] - F.normalize(o_s, dim=-1)) ** 2
    ).sum(-1).mean()
    assert abs(online.item() - latent.item()) > 1e-3
    if use_recon:
        recon = (dyn.proprio_decoder(out["proprio"]) - p_next).abs().sum(-1).mean() + (
            dyn.semantic_decoder(out["semantic"]) - v_next
        ).abs().sum(-1).mean()
        torch.testing.assert_close(losses["recon"], recon)
        torch.testing.assert_close(losses["loss"], latent + 0.1 * recon)
    else:
        assert "recon" not in losses
        torch.testing.assert_close(losses["loss"], latent)


def test_targets_start_equal_to_the_online_encoders_and_rms_features_have_unit_rms():
    model = build()
    dyn = model.dynamics
    for target, online in dyn.target_pairs():
        online_state = online.state_dict()
        for name, value in target.state_dict().items():
            assert torch.equal(value, online_state[name])
    v = visual_features(stage1_batch(), model.config.vlm)
    torch.testing.assert_close(v.pow(2).mean(-1), torch.ones(v.shape[:2]))


def test_ema_update_is_eq14_with_m_0995():
    model = build(dynamics={"ema_momentum": 0.995})
    dyn = model.dynamics
    with torch.no_grad():
        for target, online in dyn.target_pairs():
            for t in target.buffers():
                t.fill_(2.0)
            for p in online.parameters():
                p.fill_(-4.0)
    model.on_optimizer_step("dynamics", 1)
    expected = 0.995 * 2.0 + 0.005 * -4.0
    for target, _ in dyn.target_pairs():
        for t in target.buffers():
            torch.testing.assert_close(t, torch.full_like(t, expected))
    model.on_optimizer_step("dynamics", 2)
    expected2 = 0.995 * expected + 0.005 * -4.0
    buffer = next(dyn.targets.buffers())
    torch.testing.assert_close(buffer, torch.full_like(buffer, expected2))
    assert int(dyn.optimizer_steps) == 2

    before = {k: v.clone() for k, v in dyn.targets.state_dict().items()}
    model.on_optimizer_step("policy", 3)  # stage 2 never moves the targets
    for name, value in dyn.targets.state_dict().items():
        assert torch.equal(value, before[name])


def test_targets_are_buffers_saved_with_the_model_but_invisible_to_optimizers():
    model = build()
    target_ids = {id(t) for t in model.dynamics.targets.buffers()}
    assert target_ids and not target_ids & {id(p) for p in model.parameters()}
    assert list(model.dynamics.targets.parameters()) == []
    assert any(k.startswith("dynamics.targets.semantic_film.") for k in model.state_dict())


def test_latent_loss_targets_carry_no_gradient_and_only_the_target_buffers_set_them():
    """Stop-gradient of eq. 15-16: the latent loss reaches the online encoders through the prediction only.

    Perturbing the online encoders' weights at frame t+τ must not move the targets, and perturbing the target
    buffers must; a loss whose targets were computed by the online encoders fails both."""
    model = build()
    dyn = model.dynamics.eval()
    _move_targets_away_from_the_online_encoders(dyn)
    batch = stage1_batch(size=4)
    vlm = model.config.vlm
    p_next, v_next = batch[STATE][:, 2].float(), visual_features(batch, vlm)[:, 2]
    lang = language_features(batch, vlm)
    target_p, target_s = dyn.target_embeddings(p_next, v_next, lang)
    assert not target_p.requires_grad and not target_s.requires_grad
    with torch.no_grad():
        for param in [*dyn.proprio_encoder.parameters(), *dyn.semantic_encoder.parameters()]:
            param.add_(1.0)
    again_p, again_s = dyn.target_embeddings(p_next, v_next, lang)
    torch.testing.assert_close(again_p, target_p)
    torch.testing.assert_close(again_s, target_s)
    with torch.no_grad():
        next(iter(dyn.targets["proprio_encoder"].buffers())).mul_(2.0)
    moved_p, _ = dyn.target_embeddings(p_next, v_next, lang)
    assert not torch.allclose(moved_p, target_p)
