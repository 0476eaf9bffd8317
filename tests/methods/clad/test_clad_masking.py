"""§4.1 action masking and the Table 7 variants (heavy mask, action-free, curriculum)."""

from __future__ import annotations

import math

import pytest
import torch
from clad_fixtures import build, stage1_batch

from foresight.methods.clad.dynamics import mask_action_tokens
from foresight.types import ACTION, ACTION_IS_PAD


@pytest.mark.parametrize("ratio", [0.3, 0.9])
def test_token_masking_rate_matches_r_and_replaces_with_the_learnable_token(ratio):
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(4096, 6, 8, generator=g)
    mask_token = torch.randn(8, generator=g)
    valid = torch.ones(4096, 6, dtype=torch.bool)
    out, masked = mask_action_tokens(tokens, valid, mask_token, ratio, "token", generator=g)
    n = masked.numel()
    assert abs(masked.float().mean().item() - ratio) < 4 * math.sqrt(ratio * (1 - ratio) / n)  # 4 sigma
    assert torch.equal(out[masked], mask_token.expand(int(masked.sum()), 8))
    assert torch.equal(out[~masked], tokens[~masked])
    # tokens of one sample are drawn independently: some rows are partly masked
    per_row = masked.sum(dim=1)
    assert ((per_row > 0) & (per_row < 6)).any()


def test_sample_masking_masks_all_tokens_of_a_sample_together_at_rate_r():
    g = torch.Generator().manual_seed(1)
    tokens = torch.randn(4000, 6, 4, generator=g)
    _, masked = mask_action_tokens(tokens, torch.ones(4000, 6, dtype=torch.bool), torch.zeros(4), 0.3, "sample", g)
    assert torch.equal(masked, masked[:, :1].expand_as(masked))
    assert abs(masked[:, 0].float().mean().item() - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 4000)


def test_padded_actions_are_always_masked_and_nothing_else_at_r_zero():
    tokens = torch.randn(3, 6, 4)
    valid = torch.ones(3, 6, dtype=torch.bool)
    valid[0, :2] = False  # offsets before the episode start
    _, masked = mask_action_tokens(tokens, valid, torch.zeros(4), 0.0, "token")
    assert torch.equal(masked, ~valid)


def test_bad_mask_unit_is_a_clear_error():
    with pytest.raises(ValueError, match=r"mask_unit 'frame'.*'token' or 'sample'"):
        mask_action_tokens(torch.randn(1, 6, 4), torch.ones(1, 6, dtype=torch.bool), torch.zeros(4), 0.3, "frame")


def mask_rate(model, batch) -> float:
    return model.dynamics.encode(batch)["action_mask"].float().mean().item()


def test_dynamics_masks_at_rate_r_in_training_only():
    model = build(dynamics={"mask_ratio": 0.3})
    batch = stage1_batch(size=512)
    torch.manual_seed(0)
    model.dynamics.train()
    assert abs(mask_rate(model, batch) - 0.3) < 4 * math.sqrt(0.21 / (512 * 6))
    model.dynamics.eval()
    assert mask_rate(model, batch) == 0.0
    padded = dict(batch, **{ACTION_IS_PAD: torch.ones_like(batch[ACTION_IS_PAD])})
    assert mask_rate(model, padded) == 1.0  # padding is masked in evaluation too
    assert mask_rate(model, {k: v for k, v in batch.items() if k != ACTION}) == 1.0  # no past actions known


def test_masked_tokens_make_the_foresight_independent_of_the_actions():
    model = build(dynamics={"action_free": True})
    model.dynamics.eval()
    batch = stage1_batch()
    other = dict(batch, **{ACTION: -batch[ACTION]})
    with torch.no_grad():
        torch.testing.assert_close(model.plan(batch).extras["z_dyn"], model.plan(other).extras["z_dyn"])
    assert mask_rate(model, batch) == 1.0  # action-free holds at evaluation as well

    with_actions = build(dynamics={"action_free": False})
    with torch.no_grad():
        a, b = with_actions.plan(batch).extras["z_dyn"], with_actions.plan(other).extras["z_dyn"]
    assert (a - b).abs().max() > 1e-4


def test_curriculum_is_action_free_for_its_first_steps_then_masks_at_r():
    model = build(dynamics={"mask_curriculum_steps": 3, "mask_ratio": 0.3})
    model.dynamics.train()
    batch = stage1_batch(size=256)
    for step in range(1, 4):
        assert mask_rate(model, batch) == 1.0
        model.on_optimizer_step("dynamics", step)
    torch.manual_seed(0)
    assert abs(mask_rate(model, batch) - 0.3) < 0.05
    model.dynamics.eval()
    assert mask_rate(model, batch) == 0.0
