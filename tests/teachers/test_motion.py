"""Motion: per-patch displacement and the dynamic-region mask derived from it at training time; RAFT on real
LIBERO frames; CoTracker's plumbing with a stand-in predictor."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch
from teacher_fakes import FIXTURES, SquareFlowTeacher, square_clip

from foresight.data.config import DataConfig
from foresight.data.source import EpisodeDataset, info_from_episodes, open_dataset
from foresight.teachers import TeacherError, build_teacher, teacher_outputs
from foresight.teachers.cache import ensure_teacher_cache
from foresight.teachers.motion import dynamic_region_mask, patch_displacement
from foresight.types import Episode, TeacherSpec

# A 16x16 square whose top-left corner starts at (x=16, y=24) and moves 4 px right, 0 down per frame: on an 8 px
# grid it covers patch columns 2-3 and rows 3-4 in frame t.
CLIP = square_clip(length=5, size=64, side=16, start=(16, 24), step=(4, 0))


def square_patches(t: int) -> np.ndarray:
    expected = np.zeros((8, 8), dtype=bool)
    x = 16 + 4 * t
    expected[3:5, x // 8 : (x + 15) // 8 + 1] = True
    return expected


def test_exact_flow_gives_a_mask_covering_exactly_the_squares_patches():
    teacher = SquareFlowTeacher(gap=1, grid=8)
    displacement = torch.from_numpy(teacher_outputs(teacher, CLIP))  # (5, 2, 8, 8)
    assert displacement.shape == (5, 2, 8, 8) and displacement.dtype == torch.float16
    mask = dynamic_region_mask(displacement, threshold=1.0)
    assert mask[0].numpy().tolist() == square_patches(0).tolist()
    assert mask[0].sum() == 4
    # frame 1 sits at x = 20: the square straddles columns 2, 3 and 4 (partly covered patches move less on average)
    torch.testing.assert_close(displacement[0, 0][3:5, 2:4], torch.full((2, 2), 4.0, dtype=torch.float16))
    assert not mask[-1].any()  # the last frame pairs with itself (clamped): no motion
    assert not dynamic_region_mask(displacement, threshold=4.0).any()  # exactly 4 px is not more than 4


def test_threshold_is_applied_at_training_time_and_dilation_grows_the_mask():
    displacement = torch.from_numpy(teacher_outputs(SquareFlowTeacher(gap=2), CLIP))
    mask = dynamic_region_mask(displacement, threshold=1.0)
    assert mask[0].numpy().tolist() == square_patches(0).tolist()
    torch.testing.assert_close(displacement[0, 0][3:5, 2:4], torch.full((2, 2), 8.0, dtype=torch.float16))
    dilated = dynamic_region_mask(displacement, threshold=1.0, dilate=1)[0].numpy()
    expected = np.zeros((8, 8), dtype=bool)
    expected[2:6, 1:5] = True
    assert dilated.tolist() == expected.tolist()
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 2, h, w\) displacement"):
        dynamic_region_mask(torch.zeros(3, 8, 8))


def test_patch_displacement_is_the_patch_mean():
    flow = torch.arange(2 * 16 * 16, dtype=torch.float32).reshape(1, 2, 16, 16)
    expected = flow.reshape(1, 2, 2, 8, 2, 8).mean(dim=(3, 5))
    torch.testing.assert_close(patch_displacement(flow, 8), expected)
    with pytest.raises(TeacherError, match=r"frames of 16x16 do not split into 6x6 patches"):
        patch_displacement(flow, 6)


def test_mask_through_the_cache_equals_on_the_fly(tmp_path):
    episode = Episode("clip", "t", "move", np.zeros((5, 2), np.float32), {}, {"cam": CLIP})
    ds = EpisodeDataset([episode], info_from_episodes([episode]), "fp-square", "memory", cache_dir=None)
    spec = TeacherSpec(name="motion", teacher="test_square_flow", sources=("cam",), offsets=(0,))
    cache = ensure_teacher_cache(ds, spec, root=tmp_path, progress=False, log=lambda _: None)
    cached = torch.from_numpy(cache.lookup(0, np.arange(5), "cam"))
    assert dynamic_region_mask(cached)[0].numpy().tolist() == square_patches(0).tolist()


@pytest.fixture(scope="module")
def libero():
    cfg = DataConfig(name="fixture", format="libero_hdf5", path=str(FIXTURES), cache_dir="/tmp/unused-teacher-stats")
    return open_dataset(cfg)


def test_raft_on_real_libero_frames_shapes_finiteness_and_cache(libero, tmp_path):
    spec = TeacherSpec(name="flow", teacher="raft_tiny", sources=("agentview",), offsets=(0,), kwargs=(("gap", 2),))
    cache = ensure_teacher_cache(libero, spec, root=tmp_path, progress=False, log=lambda _: None)
    cached = cache.lookup(0, np.arange(8), "agentview")
    assert cached.shape == (8, 2, 16, 16) and cached.dtype == np.float16 and np.isfinite(cached).all()
    teacher = build_teacher("raft_tiny", gap=2)
    frames = teacher.read(libero.episodes[0], "agentview")
    assert frames.shape == (8, 128, 128, 3)
    np.testing.assert_array_equal(cached, teacher_outputs(teacher, frames))
    assert np.abs(cached).max() > 0
    # near the end the far frame is clamped to the last one: row 6 is the flow from frame 6 to frame 7
    with torch.inference_mode():
        row6 = teacher.displacement(
            teacher.to_tensor(frames, torch.device("cpu")), torch.tensor([6]), torch.tensor([7])
        )
    np.testing.assert_allclose(cached[6], row6[0].numpy(), atol=2e-3)  # batch of 1 vs 8: float rounding only
    assert cache.key["teacher_id"] == teacher.teacher_id != build_teacher("raft_tiny", gap=1).teacher_id


def test_cotracker_missing_is_a_clear_error_with_install_and_licence(monkeypatch):
    monkeypatch.setitem(sys.modules, "cotracker", None)
    monkeypatch.setitem(sys.modules, "cotracker.predictor", None)
    with pytest.raises(TeacherError, match=r"needs the cotracker package.*co-tracker\.git.*CC-BY-NC 4\.0"):
        build_teacher("cotracker", path="/nowhere/scaled_offline.pth")


def test_cotracker_tracks_of_patch_centres_become_per_patch_displacement(monkeypatch, tmp_path):
    """A stand-in predictor that moves every query by (2, -1) px per frame: displacement = gap * (2, -1)."""
    calls = []

    class Predictor(torch.nn.Module):
        def __init__(self, checkpoint: str) -> None:
            super().__init__()
            self.checkpoint = checkpoint

        def forward(self, video, queries):
            calls.append((tuple(video.shape), queries.clone()))
            steps = torch.arange(video.shape[1], dtype=torch.float32).view(1, -1, 1, 1)
            tracks = queries[:, None, :, 1:] + steps * torch.tensor([2.0, -1.0])
            return tracks, torch.ones(tracks.shape[:3], dtype=torch.bool)

    module = types.ModuleType("cotracker.predictor")
    module.CoTrackerPredictor = Predictor
    monkeypatch.setitem(sys.modules, "cotracker", types.ModuleType("cotracker"))
    monkeypatch.setitem(sys.modules, "cotracker.predictor", module)
    checkpoint = tmp_path / "scaled_offline.pth"
    checkpoint.write_bytes(b"weights")
    teacher = build_teacher("cotracker", path=str(checkpoint), gap=3, grid=16, batch_size=2)
    out = teacher_outputs(teacher, CLIP)
    assert out.shape == (5, 2, 4, 4) and out.dtype == np.float16
    np.testing.assert_array_equal(out[0, 0], np.full((4, 4), 6.0, np.float16))
    np.testing.assert_array_equal(out[0, 1], np.full((4, 4), -3.0, np.float16))
    # the clip of frame 3 is frames 3, 4, 4, 4 (clamped): the stand-in still steps 3 times, as tracks would not
    first_video, first_queries = calls[0]
    assert first_video == (2, 4, 3, 64, 64)
    assert first_queries[0, :4].tolist() == [[0.0, 8.0, 8.0], [0.0, 24.0, 8.0], [0.0, 40.0, 8.0], [0.0, 56.0, 8.0]]
