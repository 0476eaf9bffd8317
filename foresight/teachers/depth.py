"""Depth targets: Depth-Anything (transformers) from pixels, or CALVIN's recorded depth cameras as ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from foresight.teachers.base import Teacher, TeacherError, make_teacher_id
from foresight.teachers.hf import (
    check_size,
    load_pretrained,
    normalization,
    preprocess,
    resolve_model_folder,
    weights_digest,
)
from foresight.teachers.registry import register_teacher
from foresight.types import Episode


def _resize(x: torch.Tensor, resolution: tuple[int, int] | None) -> torch.Tensor:
    if resolution is None or tuple(x.shape[-2:]) == tuple(resolution):
        return x
    return F.interpolate(x, size=tuple(resolution), mode="bilinear", align_corners=False, antialias=True)


def _resolution(value: list[int] | tuple[int, int] | int | None) -> tuple[int, int] | None:
    if value is None:
        return None
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or min(pair) <= 0:
        raise TeacherError(f"resolution must be a positive size or [height, width], got {value!r}")
    return int(pair[0]), int(pair[1])


@register_teacher("depth_anything")
class DepthAnythingTeacher(Teacher):
    """Relative depth from Depth-Anything (v1 or v2 weights: both load as ``DepthAnythingForDepthEstimation``).

    Yields ``(1, h, w)`` float16 per frame: the model's relative inverse depth (larger is nearer; no metric scale),
    resized to ``resolution`` (the consumer's choice; ``None`` keeps the model's output size). ``input_size``
    defaults to the processor's size (518 for the released weights) and must be a multiple of the patch size (14).
    """

    licence = "Depth-Anything-V2-Small: Apache-2.0; Base/Large/Giant: CC-BY-NC-4.0 (check the model card)"

    def __init__(
        self,
        path: str,
        input_size: list[int] | None = None,
        resolution: list[int] | int | None = (56, 56),
    ) -> None:
        super().__init__()
        from transformers import DepthAnythingForDepthEstimation

        folder = resolve_model_folder(self.name, path)
        self.model = load_pretrained(self.name, DepthAnythingForDepthEstimation, folder, ("depth_anything",))
        config = self.model.config
        native = _processor_size(folder) or [config.backbone_config.image_size] * 2
        self.input_size = check_size(self.name, input_size or native, config.patch_size, "the patch size")
        self.resolution = _resolution(resolution)
        self.mean, self.std = normalization(folder)
        self.teacher_id = make_teacher_id(
            self.name,
            weights_digest(folder),
            input_size=self.input_size,
            resolution=self.resolution,
            mean=self.mean,
            std=self.std,
        )

    def compute(self, inputs: torch.Tensor) -> torch.Tensor:
        depth = self.model(pixel_values=preprocess(inputs, self.input_size, self.mean, self.std)).predicted_depth
        return _resize(depth.unsqueeze(1), self.resolution).to(self.storage_dtype)


def _processor_size(folder: Path) -> list[int] | None:
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        return None
    size = json.loads(path.read_text()).get("size") or {}
    if "height" in size and "width" in size:
        return [size["height"], size["width"]]
    return None


@register_teacher("calvin_depth")
class CalvinDepthTeacher(Teacher):
    """CALVIN's recorded depth cameras (``depth_static``, ``depth_gripper`` in each frame's npz) as ground truth.

    Yields ``(1, h, w)`` float16 depth in metres as rendered by calvin_env, resized to ``resolution`` (``None``:
    native 200x200 / 84x84). ``keys`` maps view names to npz keys, as ``data.views`` maps them to RGB keys.
    """

    licence = "the CALVIN dataset's licence (MIT)"

    def __init__(self, resolution: list[int] | int | None = (56, 56), keys: dict[str, str] | None = None) -> None:
        super().__init__()
        self.resolution = _resolution(resolution)
        self.keys = dict(keys) if keys is not None else {"static": "depth_static", "gripper": "depth_gripper"}
        self.teacher_id = make_teacher_id(self.name, "recorded", resolution=self.resolution, keys=self.keys)

    def read(self, episode: Episode, source: str) -> np.ndarray:
        from foresight.data.calvin import _read_key, frame_path

        if source not in self.keys:
            raise TeacherError(f"teacher {self.name!r}: no depth key for view {source!r}; keys= maps {self.keys}")
        first, last = episode.meta.get("first_frame"), episode.meta.get("last_frame")
        if first is None or last is None:
            raise TeacherError(
                f"teacher {self.name!r}: episode {episode.episode_id} is not from a CALVIN split (no frame ids); "
                "recorded depth exists only in CALVIN's npz frames"
            )
        folder = Path(episode.source)
        frames = [_read_key(frame_path(folder, i), self.keys[source]) for i in range(first, last + 1)]
        return np.stack(frames).astype(np.float32)

    def to_tensor(self, inputs: np.ndarray, device: torch.device) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(inputs)).unsqueeze(1).to(device)

    def compute(self, inputs: torch.Tensor) -> torch.Tensor:
        return _resize(inputs.float(), self.resolution).to(self.storage_dtype)
