"""Motion targets: per-patch displacement from frame ``t`` to ``t + gap``, and the dynamic-region mask made from it.

Two backends yield the same target, ``(2, H / grid, W / grid)`` float16 pixels (x then y) per frame:
torchvision's RAFT (dense optical flow, averaged over each ``grid x grid`` patch; installs with torchvision) and
CoTracker3 (the patch centres tracked through the clip; a git install, non-commercial weights). Near the end of an
episode the far frame is clamped to the last one, as the data layer clamps offsets, so the last row is zero.

The dynamic-region mask is *not* stored: :func:`dynamic_region_mask` thresholds the cached displacement at
training time (DreamVLA: displacement above 1 px), so a new threshold never rebuilds the cache.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path

import torch
import torch.nn.functional as F

from foresight.encoders.digest import file_digest
from foresight.teachers.base import Teacher, TeacherError, make_teacher_id
from foresight.teachers.hf import check_size
from foresight.teachers.registry import register_teacher


def dynamic_region_mask(displacement: torch.Tensor, threshold: float = 1.0, dilate: int = 0) -> torch.Tensor:
    """``(..., 2, h, w)`` per-patch displacement -> ``(..., h, w)`` bool: patches that moved more than ``threshold``.

    ``dilate`` grows the mask by that many patches in each direction (DreamVLA dilates its mask).
    """
    if displacement.ndim < 3 or displacement.shape[-3] != 2:
        raise ValueError(f"expected (..., 2, h, w) displacement, got shape {tuple(displacement.shape)}")
    mask = displacement.float().norm(dim=-3) > threshold
    if dilate > 0:
        lead, (h, w) = mask.shape[:-2], mask.shape[-2:]
        flat = mask.reshape(-1, 1, h, w).float()
        flat = F.max_pool2d(flat, kernel_size=2 * dilate + 1, stride=1, padding=dilate)
        mask = flat.reshape(*lead, h, w) > 0
    return mask


def patch_displacement(flow: torch.Tensor, grid: int) -> torch.Tensor:
    """``(N, 2, H, W)`` dense flow -> ``(N, 2, H / grid, W / grid)``: the mean displacement of each patch."""
    h, w = flow.shape[-2:]
    if h % grid or w % grid:
        raise TeacherError(f"frames of {h}x{w} do not split into {grid}x{grid} patches; choose a grid dividing both")
    return F.avg_pool2d(flow, kernel_size=grid)


class MotionTeacher(Teacher):
    """Whole-episode teacher: row ``t`` is the per-patch displacement from frame ``t`` to ``min(t + gap, T - 1)``."""

    per_episode = True

    def __init__(self, gap: int, grid: int, batch_size: int) -> None:
        super().__init__()
        if gap < 1 or grid < 1 or batch_size < 1:
            raise TeacherError(f"gap, grid and batch_size must be positive, got {gap}, {grid}, {batch_size}")
        self.gap, self.grid, self.batch_size = int(gap), int(grid), int(batch_size)

    def compute(self, inputs: torch.Tensor) -> torch.Tensor:
        length = inputs.shape[0]
        far = torch.clamp(torch.arange(length, device=inputs.device) + self.gap, max=length - 1)
        rows = []
        for start in range(0, length, self.batch_size):
            near_index = torch.arange(start, min(start + self.batch_size, length), device=inputs.device)
            rows.append(self.displacement(inputs, near_index, far[near_index]))
        return torch.cat(rows).to(self.storage_dtype)

    @abstractmethod
    def displacement(self, frames: torch.Tensor, near: torch.Tensor, far: torch.Tensor) -> torch.Tensor:
        """``(len(near), 2, H / grid, W / grid)`` float pixels moved from ``frames[near]`` to ``frames[far]``."""


class FlowTeacher(MotionTeacher):
    """A motion teacher from dense optical flow: subclasses give :meth:`flow`, pooling is shared."""

    def displacement(self, frames: torch.Tensor, near: torch.Tensor, far: torch.Tensor) -> torch.Tensor:
        return patch_displacement(self.flow(frames[near], frames[far]), self.grid)

    @abstractmethod
    def flow(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """``(N, 2, H, W)`` float flow in pixels (x, y) at the frames' own size, from uint8 ``(N, 3, H, W)``."""


RAFT_MIN_SIDE = 128


def weights_file(teacher: str, path: str) -> Path:
    """``path`` itself, or the one ``.safetensors`` / ``.pt`` / ``.pth`` file of the folder ``path``."""
    file = Path(path).expanduser()
    if file.is_dir():
        found = sorted(p for p in file.iterdir() if p.suffix in (".safetensors", ".pt", ".pth"))
        if len(found) != 1:
            raise TeacherError(
                f"teacher {teacher!r}: {file} is not a model folder: expected exactly one .safetensors/.pt/.pth "
                f"weights file in it, found {[p.name for p in found]}"
            )
        file = found[0]
    if not file.is_file():
        raise TeacherError(f"teacher {teacher!r}: weights path {file} does not exist")
    return file


def load_state_dict(teacher: str, file: Path) -> dict[str, torch.Tensor]:
    """A state dict from ``.safetensors``, or from ``.pt``/``.pth`` read with ``weights_only=True`` (no pickle code)."""
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(file))
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise TeacherError(f"teacher {teacher!r}: cannot read weights {file}: {type(exc).__name__}: {exc}") from exc


@register_teacher("raft")
class RaftTeacher(FlowTeacher):
    """torchvision's RAFT optical flow (``raft_small`` / ``raft_large``, built with ``weights=None``).

    ``path``: a state dict (torchvision's released ``.pth`` files, or ``.safetensors``), or a folder holding one.
    ``input_size`` (default: the frames' size) must be a multiple of 8; the flow is scaled back to the frames'
    size before pooling, so displacements are in the frames' pixels.
    """

    licence = "torchvision RAFT weights: BSD-3-Clause"

    def __init__(
        self,
        path: str,
        variant: str = "small",
        gap: int = 3,
        grid: int = 8,
        num_flow_updates: int = 12,
        input_size: list[int] | None = None,
        batch_size: int = 16,
    ) -> None:
        super().__init__(gap, grid, batch_size)
        from torchvision.models.optical_flow import raft_large, raft_small

        builders = {"small": raft_small, "large": raft_large}
        if variant not in builders:
            raise TeacherError(f"teacher {self.name!r}: variant={variant!r}; expected one of {sorted(builders)}")
        self.model = builders[variant](weights=None)
        file = weights_file(self.name, path)
        try:
            self.model.load_state_dict(load_state_dict(self.name, file))
        except RuntimeError as exc:
            raise TeacherError(f"teacher {self.name!r}: {file} is not a raft_{variant} state dict: {exc}") from None
        self.model.eval().requires_grad_(False)
        self.num_flow_updates = int(num_flow_updates)
        self.input_size = None if input_size is None else self._model_size(input_size)
        self.teacher_id = make_teacher_id(
            self.name,
            file_digest(file)[:16],
            variant=variant,
            gap=self.gap,
            grid=self.grid,
            num_flow_updates=self.num_flow_updates,
            input_size=self.input_size,
        )

    def flow(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        size = tuple(first.shape[-2:])
        model_size = self.input_size or self._model_size(size)
        a, b = (_to_raft(x, model_size) for x in (first, second))
        flow = self.model(a, b, num_flow_updates=self.num_flow_updates)[-1]
        if model_size != size:
            flow = F.interpolate(flow, size=size, mode="bilinear", align_corners=False)
            scale = torch.tensor([size[1] / model_size[1], size[0] / model_size[0]], device=flow.device)
            flow = flow * scale.view(1, 2, 1, 1)
        return flow

    def _model_size(self, size: tuple[int, int] | list[int]) -> tuple[int, int]:
        """RAFT downsamples by 8 and builds a 4-level correlation pyramid: sides must be multiples of 8, >= 128."""
        size = check_size(self.name, size, 8, "RAFT's stride")
        if min(size) < RAFT_MIN_SIDE:
            raise TeacherError(
                f"teacher {self.name!r}: RAFT cannot take {size[0]}x{size[1]} frames (its correlation pyramid needs "
                f"sides of at least {RAFT_MIN_SIDE}); set input_size=[{RAFT_MIN_SIDE}, {RAFT_MIN_SIDE}] to upsample"
            )
        return size


def _to_raft(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    x = frames.float() / 127.5 - 1.0  # RAFT's input range, as torchvision's Raft transforms
    if tuple(x.shape[-2:]) != size:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return x


COTRACKER_INSTALL = (
    "CoTracker3 is not on PyPI: `pip install git+https://github.com/facebookresearch/co-tracker.git`, and download "
    "a checkpoint (scaled_offline.pth) yourself; its weights are licensed CC-BY-NC 4.0 (non-commercial)"
)


@register_teacher("cotracker")
class CoTrackerTeacher(MotionTeacher):
    """CoTracker3 point tracks of the patch centres from frame ``t`` through ``t + gap`` (when installed).

    Each row is where the ``grid x grid`` patch centres of frame ``t`` moved by frame ``min(t + gap, T - 1)``:
    the same ``(2, H / grid, W / grid)`` target as :class:`RaftTeacher`, from tracks instead of dense flow.
    """

    licence = "CoTracker code and weights: CC-BY-NC 4.0 (non-commercial)"

    def __init__(self, path: str, gap: int = 3, grid: int = 8, batch_size: int = 8) -> None:
        super().__init__(gap, grid, batch_size)
        try:
            from cotracker.predictor import CoTrackerPredictor
        except ImportError:
            raise TeacherError(f"teacher {self.name!r} needs the cotracker package. {COTRACKER_INSTALL}") from None
        file = Path(path).expanduser()
        if not file.is_file():
            raise TeacherError(f"teacher {self.name!r}: checkpoint {file} does not exist. {COTRACKER_INSTALL}")
        self.model = CoTrackerPredictor(checkpoint=str(file))
        self.teacher_id = make_teacher_id(self.name, file_digest(file)[:16], gap=self.gap, grid=self.grid)

    def displacement(self, frames: torch.Tensor, near: torch.Tensor, far: torch.Tensor) -> torch.Tensor:
        h, w = frames.shape[-2:]
        if h % self.grid or w % self.grid:
            raise TeacherError(f"frames of {h}x{w} do not split into {self.grid}x{self.grid} patches")
        gh, gw = h // self.grid, w // self.grid
        steps = torch.arange(self.gap + 1, device=frames.device)
        clip_index = torch.minimum(near[:, None] + steps, far[:, None])  # (N, gap + 1), clamped like `far`
        video = frames[clip_index].float()  # (N, gap + 1, 3, H, W) in [0, 255], CoTracker's input
        ys, xs = torch.meshgrid(
            (torch.arange(gh, device=frames.device) + 0.5) * self.grid,
            (torch.arange(gw, device=frames.device) + 0.5) * self.grid,
            indexing="ij",
        )
        points = torch.stack([xs.flatten(), ys.flatten()], dim=-1)  # (gh * gw, 2), x then y
        queries = torch.cat([torch.zeros(len(points), 1, device=frames.device), points], dim=-1)
        tracks, _visibility = self.model(video, queries=queries.expand(len(near), -1, -1))
        moved = tracks[:, -1] - points  # (N, gh * gw, 2)
        return moved.transpose(1, 2).reshape(len(near), 2, gh, gw).float()
