"""Checkpoint directories: written atomically, read without pickle, loadable for evaluation on their own.

Layout of ``<run_dir>/<stage>/checkpoints/step_0001000/``:

=====================  ===================================================================================
``model.safetensors``  the whole method's state dict (earlier stages' frozen weights included)
``ema.safetensors``    EMA of the stage's trainable weights, when the stage uses one
``trainer_state.pt``   optimizer, LR scheduler, step, data-sampler position (``torch.load(weights_only=True)``)
``rng_<rank>.pt``      every RNG of each training process, for exact resumption
``stats.safetensors``  normalisation statistics the data was trained with
``config.yaml``        the resolved run config
``info.json``          the DatasetInfo the method was built from (dimensions, views, tasks)
``meta.json``          stage, step, method, package version, git SHA, data fingerprint and source
=====================  ===================================================================================

A directory appears under its final name only once complete (:func:`foresight.fileio.atomic_dir`: written
as ``.tmp-*``, fsynced, then renamed), so a crash mid-save never leaves a checkpoint that looks whole. A
``final`` file in the stage directory names the checkpoint that ended the stage.
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from foresight.fileio import atomic_dir, pretty_json
from foresight.nn.ema import EMA
from foresight.types import DatasetInfo

MODEL_FILE = "model.safetensors"
EMA_FILE = "ema.safetensors"
TRAINER_STATE_FILE = "trainer_state.pt"
STATS_FILE = "stats.safetensors"
CONFIG_FILE = "config.yaml"
INFO_FILE = "info.json"
META_FILE = "meta.json"
FINAL_MARKER = "final"
REQUIRED_FILES = (MODEL_FILE, TRAINER_STATE_FILE, STATS_FILE, CONFIG_FILE, INFO_FILE, META_FILE)


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, incomplete or corrupted; the message names the file."""


def step_dir_name(step: int) -> str:
    return f"step_{step:07d}"


def checkpoints_dir(stage_dir: Path) -> Path:
    return stage_dir / "checkpoints"


def list_checkpoints(stage_dir: Path) -> list[Path]:
    root = checkpoints_dir(stage_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_"))


def final_checkpoint(stage_dir: Path) -> Path | None:
    marker = stage_dir / FINAL_MARKER
    if not marker.exists():
        return None
    path = checkpoints_dir(stage_dir) / marker.read_text().strip()
    if not path.is_dir():
        raise CheckpointError(f"{marker} names checkpoint {path.name}, which does not exist")
    return path


def write_checkpoint(target: Path, files: dict[str, Any]) -> Path:
    """Write ``files`` (name -> tensors dict / bytes / str / callable(path)) into ``target`` atomically."""
    with atomic_dir(target) as tmp:
        for name, content in files.items():
            path = tmp / name
            if callable(content):
                content(path)
            elif name.endswith(".safetensors"):
                save_file({k: v.detach().contiguous().cpu() for k, v in content.items()}, str(path))
            elif name.endswith(".pt"):
                torch.save(content, path)
            elif name.endswith(".json"):
                path.write_text(pretty_json(content))
            else:
                path.write_text(content)
    return target


def prune(stage_dir: Path, keep_last: int) -> None:
    """Delete all but the newest ``keep_last`` checkpoints, never the stage's final one."""
    keep = {p.name for p in list_checkpoints(stage_dir)[-keep_last:]} if keep_last > 0 else set()
    final = stage_dir / FINAL_MARKER
    if final.exists():
        keep.add(final.read_text().strip())
    for path in list_checkpoints(stage_dir):
        if path.name not in keep:
            shutil.rmtree(path)


def verify(ckpt: Path) -> None:
    if not ckpt.is_dir():
        raise CheckpointError(f"checkpoint {ckpt} does not exist")
    missing = [name for name in REQUIRED_FILES if not (ckpt / name).exists()]
    if missing:
        raise CheckpointError(f"checkpoint {ckpt} is incomplete: missing {', '.join(missing)}")


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} does not exist") from exc
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path} is corrupted or truncated ({exc}); resume from an earlier checkpoint with "
            f"train.resume=<its directory>, or delete this one"
        ) from exc


def load_model_weights(model: nn.Module, path: Path, *, strict: bool = True) -> None:
    state = load_tensors(path)
    result = model.load_state_dict(state, strict=False)
    problems = []
    if strict and result.missing_keys:
        problems.append(f"missing {_preview(result.missing_keys)}")
    if result.unexpected_keys:
        problems.append(f"unexpected {_preview(result.unexpected_keys)}")
    if problems:
        raise CheckpointError(
            f"{path} does not fit this model ({'; '.join(problems)}): was it saved with a different method config?"
        )


def _preview(keys: list[str]) -> str:
    shown = ", ".join(keys[:5])
    return f"{shown} (+{len(keys) - 5} more)" if len(keys) > 5 else shown


def load_torch_state(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} does not exist") from exc
    except pickle.UnpicklingError as exc:
        # torch's message suggests weights_only=False, i.e. running the file's code: never repeat it.
        if "Unsupported global" in str(exc):
            raise CheckpointError(
                f"refused to load {path} as unsafe: it holds Python objects beyond tensors and plain containers, "
                "and unpickling them could run arbitrary code. foresight never writes such files; load only "
                "checkpoints written by foresight, or re-save this one's tensors with safetensors"
            ) from None
        raise CheckpointError(f"{path} is corrupted or truncated (it does not unpickle as a torch file)") from None
    except Exception as exc:  # torch raises RuntimeError, EOFError... for damaged files
        raise CheckpointError(f"{path} is corrupted or truncated ({type(exc).__name__}: {exc})") from exc


def load_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is corrupted: {exc}") from exc


def info_to_json(info: DatasetInfo) -> dict[str, Any]:
    return asdict(info)


def info_from_json(data: dict[str, Any]) -> DatasetInfo:
    return DatasetInfo(
        action_dim=int(data["action_dim"]),
        proprio_dims={k: int(v) for k, v in data["proprio_dims"].items()},
        image_shapes={k: tuple(v) for k, v in data["image_shapes"].items()},
        tasks=tuple(data["tasks"]),
        instructions=tuple(data["instructions"]),
        fps=data.get("fps"),
        view_roles=dict(data.get("view_roles", {})),
        proprio_roles=dict(data.get("proprio_roles", {})),
    )


def git_sha() -> str | None:
    """The commit of the foresight source tree, with ``-dirty`` when it has local changes; None outside git."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def resolve(path: str | Path) -> Path:
    """A checkpoint directory from a checkpoint, a stage directory or a run directory.

    A run directory resolves to its last stage's final checkpoint (the one evaluation wants), falling back to
    the newest checkpoint of the newest stage that has any.
    """
    path = Path(path).expanduser()
    if (path / META_FILE).exists() or (path / MODEL_FILE).exists():
        return path
    if checkpoints_dir(path).is_dir():
        found = final_checkpoint(path) or (list_checkpoints(path) or [None])[-1]
        if found is None:
            raise CheckpointError(f"{path} has no checkpoints yet")
        return found
    if not path.is_dir():
        raise CheckpointError(f"{path} does not exist")
    order = _stage_order(path)
    stage_dirs = [path / name for name in order if (path / name).is_dir()]
    for stage_dir in reversed(stage_dirs):
        found = final_checkpoint(stage_dir) or (list_checkpoints(stage_dir) or [None])[-1]
        if found is not None:
            return found
    raise CheckpointError(f"{path} is not a checkpoint, stage or run directory (no {META_FILE} or checkpoints/)")


def run_complete(run_dir: Path) -> bool:
    """Whether every stage of a run ended (its last stage has a final checkpoint), not just stopped."""
    order = _stage_order(run_dir) if run_dir.is_dir() else []
    return bool(order) and final_checkpoint(run_dir / order[-1]) is not None


def _stage_order(run_dir: Path) -> list[str]:
    manifest = run_dir / "stages.json"
    if manifest.exists():
        return list(load_json(manifest)["stages"])
    return sorted(p.name for p in run_dir.iterdir() if checkpoints_dir(p).is_dir())


@dataclass
class LoadedPolicy:
    """Everything evaluation needs from a checkpoint, nothing it has to guess."""

    method: Any  # foresight.interfaces.Method, in eval mode, EMA weights applied when saved
    normalizer: Any  # foresight.data.Normalizer
    config: Any  # resolved run config (DictConfig)
    spec: Any  # DataSpec for inference
    provenance: dict[str, Any]
    path: Path


def load_policy(path: str | Path, device: str | torch.device = "cpu") -> LoadedPolicy:
    """Rebuild a trained method from a checkpoint (or run) directory, ready for ``predict_action_chunk``."""
    from omegaconf import OmegaConf

    from foresight.data import Normalizer
    from foresight.factory import build_method

    ckpt = resolve(path)
    verify(ckpt)
    config = OmegaConf.create((ckpt / CONFIG_FILE).read_text())
    info = info_from_json(load_json(ckpt / INFO_FILE))
    method = build_method(config.method, info)
    load_model_weights(method, ckpt / MODEL_FILE)
    meta = load_json(ckpt / META_FILE)
    if (ckpt / EMA_FILE).exists():
        modules = trainable_modules(method, method.stage(meta["stage"]).trainable)
        ema = EMA(modules, decay=0.0)
        try:
            ema.load_state_dict(load_tensors(ckpt / EMA_FILE))
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"{ckpt / EMA_FILE} does not fit the method: {exc}") from exc
        ema.copy_to(modules)
    method.to(device).eval()
    normalizer = Normalizer.load(ckpt / STATS_FILE)
    return LoadedPolicy(
        method=method,
        normalizer=normalizer,
        config=config,
        spec=method.data_spec(None),
        provenance={**meta, "checkpoint": str(ckpt)},
        path=ckpt,
    )


def trainable_modules(method: nn.Module, names: tuple[str, ...]) -> nn.ModuleDict:
    """The stage's trainable submodules under their attribute names, so EMA keys read ``<module>.<param>``."""
    return nn.ModuleDict({name: getattr(method, name) for name in names})
