"""The knowledge targets and losses against hand computations, and the Table 5 switches (forecast vs reconstruct,
dynamic-region mask vs full flow)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from dreamvla_fixtures import batch, build, four_types, node

from foresight.methods.dreamvla import losses
from foresight.methods.dreamvla.config import KnowledgeConfig
from foresight.methods.dreamvla.knowledge import Knowledge, patchify
from foresight.teachers.motion import dynamic_region_mask


def test_patchify_is_raster_ordered_channel_major_patches():
    x = torch.arange(2 * 4 * 4, dtype=torch.float32).view(1, 2, 4, 4)
    tokens, grid = patchify(x, 2)
    assert grid == (2, 2) and tokens.shape == (1, 4, 8)
    # patch (row 0, col 1): channel 0 pixels (0,2) (0,3) (1,2) (1,3), then channel 1's
    assert tokens[0, 1].tolist() == [2, 3, 6, 7, 18, 19, 22, 23]


def test_silog_matches_its_formula():
    g = torch.Generator().manual_seed(0)
    log_pred, target = torch.randn(3, 4, 5, generator=g), torch.rand(3, 4, 5, generator=g) + 0.5
    weight = torch.tensor([1.0, 0.0, 1.0])
    d = torch.log(target) - log_pred
    per = (d.pow(2).flatten(1).mean(1) - 0.5 * d.flatten(1).mean(1).pow(2)).sqrt()
    assert torch.allclose(losses.silog(log_pred, target, weight), per[[0, 2]].mean(), atol=1e-6)
    # lambda = 1 is fully scale-invariant: a global depth scale (a log offset) changes nothing
    full = losses.silog(log_pred, target, weight, lam=1.0)
    assert torch.allclose(losses.silog(log_pred + 1.0, target, weight, lam=1.0), full, atol=1e-5)
    assert not torch.allclose(losses.silog(log_pred + 1.0, target, weight), per[[0, 2]].mean())


def test_scale_normalized_mse_ignores_a_global_scale():
    target = torch.rand(2, 3, 4) + 0.5
    weight = torch.ones(2)
    assert losses.scale_normalized_mse(torch.log(target * 7.0), target, weight) < 1e-10
    assert losses.scale_normalized_mse(torch.log(target.flip(-1)), target, weight) > 1e-3


def test_cosine_and_infonce_match_torch():
    g = torch.Generator().manual_seed(1)
    pred, target = torch.randn(2, 6, 8, generator=g), torch.randn(2, 6, 8, generator=g)
    weight = torch.tensor([1.0, 1.0])
    expected = (1 - F.cosine_similarity(pred, target, dim=-1)).mean()
    assert torch.allclose(losses.cosine(pred, target, weight), expected, atol=1e-6)
    logits = F.normalize(pred, dim=-1) @ F.normalize(target, dim=-1).transpose(1, 2) / 0.1
    ce = torch.stack([F.cross_entropy(logits[i], torch.arange(6)) for i in range(2)]).mean()
    assert torch.allclose(losses.infonce(pred, target, weight, 0.1), ce, atol=1e-5)


def test_dynamic_region_loss_counts_only_moving_patches():
    know = Knowledge("dynamic", KnowledgeConfig(motion_grid=4, motion_dilate=0))
    motion = torch.zeros(1, 2, 2, 2)
    motion[0, 0, 1, 0] = 3.0  # one patch of the 2x2 grid moves 3 px
    frames = torch.randint(0, 256, (1, 3, 8, 8), dtype=torch.uint8)
    targets = know.targets(motion, frames, torch.tensor([True]))
    assert targets.grid == (2, 2)
    assert torch.equal(targets.weight, dynamic_region_mask(motion, 1.0).flatten(1).float())
    assert targets.weight.tolist() == [[0.0, 0.0, 1.0, 0.0]]
    patches, _ = patchify(frames.float() / 255, 4)
    assert torch.allclose(targets.tokens, losses.normalize_patches(patches))
    pred = torch.randn(1, 4, 48)
    pred_moving_right = pred.clone()
    pred_moving_right[0, 2] = targets.tokens[0, 2]
    assert know.loss(pred_moving_right, targets) == 0  # static patches are free
    assert torch.allclose(know.loss(pred, targets), (pred[0, 2] - targets.tokens[0, 2]).pow(2).mean())


def test_flow_switch_forecasts_the_displacement_everywhere():
    know = Knowledge("dynamic", KnowledgeConfig(dynamic="flow"))
    assert know.out_dim == 2
    motion = torch.randn(2, 2, 3, 3)
    targets = know.targets(motion, None, torch.tensor([True, False]))
    assert torch.equal(targets.tokens, motion.flatten(2).transpose(1, 2))
    assert targets.weight[0].eq(1).all() and targets.weight[1].eq(0).all()


def test_forecast_reads_targets_at_t_plus_n_and_reconstruct_at_t():
    forecast = build(node())
    reconstruct = build(node(knowledge={"target": "reconstruct"}))
    assert forecast.target_offsets == (2, 3) and reconstruct.target_offsets == (-1, 0)  # history 2, n = 3
    sam = {t.name: t for t in forecast.data_spec("finetune").targets}["sam"]
    assert sam.offsets == (2, 3) and forecast.data_spec("finetune").obs_offsets == (-1, 0, 2, 3)
    assert {t.name: t for t in reconstruct.data_spec("finetune").targets}["sam"].offsets == (-1, 0)
    assert reconstruct.data_spec("finetune").obs_offsets == (-1, 0)
    motion = {t.name: t for t in forecast.data_spec("finetune").targets}["motion"]
    assert motion.offsets == (-1, 0) and dict(motion.kwargs)["gap"] == 3  # the region moving from t to t+n
    assert forecast.data_spec(None).obs_offsets == (-1, 0)  # inference never reads the future


def test_the_total_is_the_code_weighted_sum():
    method = build({**four_types(), "pretrain": False})
    data = batch(method)
    torch.manual_seed(0)
    parts = method.losses(data, "finetune")
    torch.manual_seed(0)
    total, logs = method.compute_loss(data, "finetune")
    w = {"dynamic": 0.1, "depth": 0.001, "sam": 0.01, "dino": 0.01}
    expected = parts["action"] + sum(w[k] * parts[k] for k in w)
    assert torch.allclose(total, expected) and logs["loss_depth"] == parts["depth"].item()


def test_frames_are_resized_to_the_motion_teachers_grid():
    know = Knowledge("dynamic", KnowledgeConfig(motion_grid=4, motion_dilate=0))
    frames = torch.randint(0, 256, (1, 3, 4, 4), dtype=torch.uint8)  # a 4x4 frame, motion computed at 8x8
    targets = know.targets(torch.zeros(1, 2, 2, 2), frames, torch.tensor([True]))
    resized = F.interpolate(frames.float() / 255, size=(8, 8), mode="bilinear", antialias=True, align_corners=False)
    assert targets.grid == (2, 2) and torch.allclose(targets.tokens, losses.normalize_patches(patchify(resized, 4)[0]))
