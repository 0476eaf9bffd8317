"""Datasets and teachers for the teacher tests: in-memory episodes, a counting teacher, an exact-flow teacher."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from foresight.data.source import EpisodeDataset, info_from_episodes
from foresight.teachers import Teacher, make_teacher_id, register_teacher
from foresight.teachers.motion import FlowTeacher
from foresight.types import Episode

FIXTURES = Path(__file__).parent / "fixtures"  # one real LIBERO demo (8 frames) recorded with foresight.data.generate
LENGTHS = (5, 7, 4)


def make_dataset(size: int = 16, lengths: tuple[int, ...] = LENGTHS, fingerprint: str = "fp-A") -> EpisodeDataset:
    rng = np.random.default_rng(0)
    episodes = [
        Episode(
            episode_id=f"ep{i}",
            task="task",
            instruction="do it",
            actions=rng.normal(size=(n, 2)).astype(np.float32),
            proprio={"state": rng.normal(size=(n, 3)).astype(np.float32)},
            images={
                "front": rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8),
                "wrist": rng.integers(0, 256, size=(n, size // 2, size // 2, 3), dtype=np.uint8),
            },
        )
        for i, n in enumerate(lengths)
    ]
    return EpisodeDataset(episodes, info_from_episodes(episodes), fingerprint, "memory", cache_dir=None)


@register_teacher("test_mean_colour_teacher")
class MeanColourTeacher(Teacher):
    """Mean colour per frame as float16 (checkable by hand); counts calls and frames, and can fail on demand."""

    def __init__(self, scale: float = 1.0, fail_after: int | None = None) -> None:
        super().__init__()
        self.scale = scale
        self.fail_after = fail_after
        self.calls = 0
        self.frames = 0
        self.teacher_id = make_teacher_id(self.name, "none", scale=scale)

    def compute(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.calls += 1
        self.frames += inputs.shape[0]
        return (inputs.float().mean(dim=(-1, -2)) / 255.0 * self.scale).to(torch.float16)


def square_clip(length: int, size: int, side: int, start: tuple[int, int], step: tuple[int, int]) -> np.ndarray:
    """``(T, size, size, 3)`` uint8: a white square (top-left ``start`` = (x, y)) moving ``step`` px per frame."""
    frames = np.zeros((length, size, size, 3), dtype=np.uint8)
    for t in range(length):
        x, y = start[0] + t * step[0], start[1] + t * step[1]
        frames[t, y : y + side, x : x + side] = 255
    return frames


@register_teacher("test_square_flow")
class SquareFlowTeacher(FlowTeacher):
    """Exact optical flow of a single white square on black: its shift on its own pixels, zero elsewhere."""

    def __init__(self, gap: int = 1, grid: int = 8) -> None:
        super().__init__(gap, grid, batch_size=2)
        self.teacher_id = make_teacher_id(self.name, "exact", gap=gap, grid=grid)

    def flow(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        flow = torch.zeros(first.shape[0], 2, *first.shape[-2:])
        for i, (a, b) in enumerate(zip(first, second, strict=True)):
            ya, xa = torch.nonzero(a[0] > 127, as_tuple=True)
            yb, xb = torch.nonzero(b[0] > 127, as_tuple=True)
            shift = torch.tensor([xb.min() - xa.min(), yb.min() - ya.min()], dtype=torch.float32)
            flow[i, :, ya, xa] = shift[:, None]
        return flow


def write_calvin_split(folder: Path, lengths: tuple[int, ...] = (3, 4), first: int = 100) -> dict[int, np.ndarray]:
    """A CALVIN split in the official layout (one npz per frame) with known depth; returns depth_static by frame."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    spans, depth, frame_id = [], {}, first
    for length in lengths:
        spans.append([frame_id, frame_id + length - 1])
        for _ in range(length):
            depth[frame_id] = rng.uniform(0.5, 4.0, size=(20, 20)).astype(np.float32)
            np.savez(
                folder / f"episode_{frame_id:07d}.npz",
                actions=rng.normal(size=7),
                rel_actions=rng.normal(size=7),
                robot_obs=rng.normal(size=15),
                scene_obs=rng.normal(size=24),
                rgb_static=rng.integers(0, 256, size=(20, 20, 3), dtype=np.uint8),
                rgb_gripper=rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8),
                depth_static=depth[frame_id],
                depth_gripper=rng.uniform(0.0, 1.0, size=(8, 8)).astype(np.float32),
            )
            frame_id += 1
    np.save(folder / "ep_start_end_ids.npy", np.asarray(spans, dtype=np.int64))
    return depth


class PluginColourTeacher(MeanColourTeacher):
    """Not registered here: the plugin test declares it through an entry point only."""
