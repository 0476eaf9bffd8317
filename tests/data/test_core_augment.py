"""Augmentation: one crop per sample, replayed across frames and views, reproducible from (seed, epoch, index)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from foresight.data.augment import Augment, sample_seed
from foresight.data.config import AugmentConfig
from foresight.data.normalize import Normalizer
from foresight.data.source import EpisodeDataset, info_from_episodes
from foresight.data.windows import WindowDataset
from foresight.types import DataSpec, Episode, image_key


def noise(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8))


def test_one_crop_is_replayed_on_every_frame_and_view():
    frame = noise((3, 32, 32), 0)
    images = {"agentview": frame.expand(3, 3, 32, 32).clone(), "wrist": frame.expand(3, 3, 32, 32).clone()}
    out = Augment(crop_scale=(0.3, 0.6))(images, seed=11)
    assert out["agentview"].shape == (3, 3, 32, 32) and out["agentview"].dtype == torch.uint8
    assert not torch.equal(out["agentview"][0], frame)  # a real crop happened
    for view in ("agentview", "wrist"):
        for o in range(3):
            assert torch.equal(out[view][o], out["agentview"][0]), (view, o)


def test_views_of_another_size_get_the_same_box_in_fractions(monkeypatch):
    import foresight.data.augment as augment_module

    calls = []
    real = augment_module.TF.resized_crop

    def spy(frames, top, left, height, width, size, antialias):
        calls.append((top, left, height, width, tuple(size)))
        return real(frames, top, left, height, width, size, antialias=antialias)

    monkeypatch.setattr(augment_module.TF, "resized_crop", spy)
    aug = Augment(crop_scale=(0.3, 0.6))
    top, left, h, w = aug.crop_box(32, 32, seed=5)
    assert 0.3 - 0.05 <= h * w <= 0.6 + 0.05 and 0 <= top <= 1 - h and 0 <= left <= 1 - w
    out = aug({"big": noise((2, 3, 32, 32), 1), "small": noise((2, 3, 16, 16), 2)}, seed=5)
    assert out["big"].shape == (2, 3, 32, 32) and out["small"].shape == (2, 3, 16, 16)
    (bt, bl, bh, bw, bsize), (st, sl, sh, sw, ssize) = calls
    assert (bt, bl, bh, bw) == (round(top * 32), round(left * 32), round(h * 32), round(w * 32))
    assert (st, sl, sh, sw) == (round(top * 16), round(left * 16), round(h * 16), round(w * 16))
    assert (bsize, ssize) == ((32, 32), (16, 16))


def test_crop_draw_is_a_function_of_its_seed_only():
    aug = Augment()
    torch.manual_seed(123)  # global RNG state must not matter, nor be consumed
    before = torch.random.get_rng_state()
    boxes = {s: aug.crop_box(64, 64, s) for s in range(6)}
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(999)
    assert all(aug.crop_box(64, 64, s) == box for s, box in boxes.items())
    assert len(set(boxes.values())) > 1
    assert sample_seed(0, 1, 2) == sample_seed(0, 1, 2) != sample_seed(0, 2, 1)


def make_windows(seed: int) -> WindowDataset:
    images = noise((5, 24, 24, 3), 2).numpy()
    episode = Episode("e", "t", "go", np.zeros((5, 2), np.float32), {}, {"cam": images}, source="hand")
    ds = EpisodeDataset([episode], info_from_episodes([episode]), "fp", "hand", "/tmp/unused")
    spec = DataSpec(obs_offsets=(-1, 0), views=("cam",), normalization={"action": "identity"})
    return WindowDataset(ds, spec, Normalizer({"action": "identity"}, {}), augment=Augment(), seed=seed)


def test_window_samples_are_deterministic_per_seed_epoch_and_index():
    key = image_key("cam")
    a, b = make_windows(seed=0), make_windows(seed=0)
    assert torch.equal(a[2][key], b[2][key])
    epoch0 = a[2][key]
    a.set_epoch(1)
    assert a.epoch == 1
    assert not torch.equal(a[2][key], epoch0)  # a new epoch draws new crops
    b.set_epoch(1)
    assert torch.equal(a[2][key], b[2][key])
    assert not torch.equal(make_windows(seed=1)[2][key], epoch0)
    a.set_epoch(0)
    assert torch.equal(a[2][key], epoch0)  # a resumed run sees the same images


def test_from_config_and_invalid_ranges():
    assert Augment.from_config(AugmentConfig()) is None  # disabled by default
    aug = Augment.from_config(AugmentConfig(enabled=True))
    assert aug is not None and aug.crop_scale == (0.75, 1.0) and aug.crop_ratio == (0.75, 1.33)
    with pytest.raises(ValueError, match="crop_scale"):
        Augment(crop_scale=(0.9, 0.5))
    with pytest.raises(ValueError, match="crop_ratio"):
        Augment(crop_ratio=(0.0, 1.0))
