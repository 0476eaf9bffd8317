"""Semantic targets: SAM / SAM 2 image embeddings and DINOv2 patch features (transformers), pooled on a grid."""

from __future__ import annotations

import json

import torch

from foresight.teachers.base import Teacher, TeacherError, make_teacher_id
from foresight.teachers.hf import (
    check_size,
    load_pretrained,
    normalization,
    pool_grid,
    preprocess,
    resolve_model_folder,
    weights_digest,
)
from foresight.teachers.registry import register_teacher


def _pool(pool: int | None) -> int | None:
    if pool is not None and int(pool) <= 0:
        raise TeacherError(f"pool must be a positive grid size or null (native grid), got {pool!r}")
    return None if pool is None else int(pool)


@register_teacher("sam")
class SamTeacher(Teacher):
    """The image encoder's embedding of SAM (``SamModel``) or SAM 2 (``Sam2Model``), by the folder's model type.

    Yields ``(256, pool, pool)`` float16 per frame (SAM's 64x64 grid average-pooled; ``pool=None`` keeps it:
    2 MiB per frame). Frames are resized to the model's square input (1024 for the released weights); SAM takes no
    other size.
    """

    licence = "SAM and SAM 2 weights: Apache-2.0"

    def __init__(self, path: str, pool: int | None = 16) -> None:
        super().__init__()
        folder = resolve_model_folder(self.name, path)
        model_type = json.loads((folder / "config.json").read_text()).get("model_type")
        cls = _sam2_class() if model_type == "sam2" else _sam_class()
        self.model = load_pretrained(self.name, cls, folder, ("sam", "sam2"))
        vision = self.model.config.vision_config
        image_size = getattr(vision, "image_size", None) or vision.backbone_config.image_size  # SAM 2: Hiera's
        side = image_size if isinstance(image_size, int) else image_size[0]
        self.input_size = (int(side), int(side))
        self.pool = _pool(pool)
        self.mean, self.std = normalization(folder)
        self.teacher_id = make_teacher_id(
            self.name, weights_digest(folder), input_size=self.input_size, pool=self.pool, mean=self.mean, std=self.std
        )

    def compute(self, inputs: torch.Tensor) -> torch.Tensor:
        embeddings = self.model.get_image_embeddings(preprocess(inputs, self.input_size, self.mean, self.std))
        if isinstance(embeddings, (list, tuple)):  # SAM 2: multi-scale maps, the last is the prompt decoder's input
            embeddings = embeddings[-1]
        return pool_grid(embeddings, self.pool).to(self.storage_dtype)


def _sam_class() -> type:
    from transformers import SamModel

    return SamModel


def _sam2_class() -> type:
    try:
        from transformers import Sam2Model
    except ImportError:
        import transformers

        raise TeacherError(
            f"this folder holds a SAM 2 model, which needs a newer transformers (Sam2Model) than the installed "
            f"{transformers.__version__}: pip install -U transformers"
        ) from None
    return Sam2Model


@register_teacher("dinov2")
class Dinov2Teacher(Teacher):
    """DINOv2 patch tokens (``Dinov2Model``, last layer, layer-normed) as a ``(C, pool, pool)`` float16 grid.

    ``pool=None`` keeps the native ``input_size / 14`` grid (DINOv2-B at 224: 768x16x16, 384 KiB per frame);
    ``input_size`` defaults to the config's image size and must be a multiple of the patch size.
    """

    licence = "DINOv2 weights: Apache-2.0"

    def __init__(self, path: str, input_size: list[int] | None = None, pool: int | None = 8) -> None:
        super().__init__()
        from transformers import Dinov2Model

        folder = resolve_model_folder(self.name, path)
        self.model = load_pretrained(self.name, Dinov2Model, folder, ("dinov2",))
        config = self.model.config
        self.patch = int(config.patch_size)
        self.input_size = check_size(self.name, input_size or [config.image_size] * 2, self.patch, "the patch size")
        self.pool = _pool(pool)
        self.mean, self.std = normalization(folder)
        self.teacher_id = make_teacher_id(
            self.name, weights_digest(folder), input_size=self.input_size, pool=self.pool, mean=self.mean, std=self.std
        )

    def compute(self, inputs: torch.Tensor) -> torch.Tensor:
        tokens = self.model(pixel_values=preprocess(inputs, self.input_size, self.mean, self.std)).last_hidden_state
        h, w = self.input_size[0] // self.patch, self.input_size[1] // self.patch
        grid = tokens[:, -h * w :].transpose(1, 2).reshape(tokens.shape[0], -1, h, w)  # drop CLS (and registers)
        return pool_grid(grid, self.pool).to(self.storage_dtype)
