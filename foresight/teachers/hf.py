"""Loading frozen transformers models for teachers: local folders or hub ids already on disk, never a download.

A teacher's ``teacher_id`` carries a digest of the weight files (not the path), so weights saved over old ones
rebuild every cache built from them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from foresight.encoders.digest import files_digest
from foresight.teachers.base import TeacherError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def resolve_model_folder(teacher: str, path: str) -> Path:
    """A local model folder, or the snapshot of a hub id already in the local cache (``local_files_only``)."""
    folder = Path(path).expanduser()
    if folder.exists():
        if not (folder / "config.json").is_file():
            raise TeacherError(
                f"teacher {teacher!r}: {folder} is not a model folder (no config.json in it); point path= at a "
                "folder written by save_pretrained, or at a hub id already in the local Hugging Face cache"
            )
        return folder
    if path.count("/") == 1 and not path.startswith((".", "/", "~")):
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(path, local_files_only=True))
        except Exception as exc:
            raise TeacherError(
                f"teacher {teacher!r}: hub id {path!r} is not in the local Hugging Face cache and nothing is "
                f"downloaded at run time ({type(exc).__name__}); fetch it once with `hf download {path}` on a "
                "machine with network access, or pass a local folder"
            ) from None
    raise TeacherError(f"teacher {teacher!r}: model path {folder} does not exist")


def weights_digest(folder: Path) -> str:
    """Digest of the config and every weight file of a model folder."""
    return files_digest([folder / "config.json", *(p for p in folder.iterdir() if p.suffix in _WEIGHT_SUFFIXES)])


def load_pretrained(teacher: str, cls: type, folder: Path, model_types: tuple[str, ...]) -> Any:
    """``cls.from_pretrained(folder)`` in eval mode, with a clear error when the folder holds another model."""
    model_type = json.loads((folder / "config.json").read_text()).get("model_type")
    if model_type not in model_types:
        raise TeacherError(
            f"teacher {teacher!r}: {folder} holds a {model_type!r} model; this teacher loads {list(model_types)}"
        )
    try:
        model = cls.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise TeacherError(f"teacher {teacher!r}: cannot load {folder}: {exc}") from exc
    return model.eval().requires_grad_(False)


def normalization(folder: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std from the folder's ``preprocessor_config.json``, else ImageNet's (what these models train on)."""
    path = folder / "preprocessor_config.json"
    if path.is_file():
        config = json.loads(path.read_text())
        return tuple(config.get("image_mean", IMAGENET_MEAN)), tuple(config.get("image_std", IMAGENET_STD))
    return IMAGENET_MEAN, IMAGENET_STD


def preprocess(
    frames: torch.Tensor, size: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]
) -> torch.Tensor:
    """``(N, 3, H, W)`` uint8 -> resized (bilinear, antialiased) and normalised float32, batched on the device."""
    x = frames.float() / 255.0
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    mean_t = torch.tensor(mean, device=x.device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, device=x.device).view(1, -1, 1, 1)
    return (x - mean_t) / std_t


def check_size(teacher: str, size: tuple[int, int], multiple: int, what: str) -> tuple[int, int]:
    size = (int(size[0]), int(size[1]))
    if size[0] <= 0 or size[1] <= 0 or size[0] % multiple or size[1] % multiple:
        good = tuple(max(multiple, round(s / multiple) * multiple) for s in size)
        raise TeacherError(
            f"teacher {teacher!r}: input_size {list(size)} is not a positive multiple of {what} {multiple}; "
            f"use e.g. input_size={list(good)}"
        )
    return size


def pool_grid(features: torch.Tensor, pool: int | None) -> torch.Tensor:
    """``(N, C, h, w)`` -> ``(N, C, pool, pool)`` by adaptive average pooling (``None`` keeps the native grid)."""
    return features if pool is None else F.adaptive_avg_pool2d(features, pool)
