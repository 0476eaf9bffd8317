"""A small synthetic dataset in the official LIBERO schema, so everything runs without downloads.

The world is a 2-D table seen from above. Each task has a coloured dot ("reach the red dot"); every frame shows
the dots of *all* tasks, so the instruction says which one to reach, and the effector (a white square, grey when
closed). The expert moves the effector toward the task's dot (``action[:2] = clip(3 (goal - p), -1, 1)``, moving
``0.1 action`` per step) and closes the gripper within 0.1 of it. The wrist view is centred on the effector at
twice the zoom. The action is therefore a function of the images and the instruction only: a policy that reads
them can learn it; one that ignores them cannot.

Frames are written upside down with convention ``"opengl"`` (as robosuite renders), so reading the demo
exercises the same orientation path as real LIBERO files. Unlike the official recordings (observation after the
action), frame ``k`` here is the view the expert chose ``actions[k]`` from, which keeps the demo's mapping exact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from foresight.data.config import DataConfig, cache_root
from foresight.data.libero_hdf5 import read_libero
from foresight.data.libero_writer import LiberoHDF5Writer, demo_file_name
from foresight.data.source import DataError, EpisodeDataset, register_format
from foresight.fileio import write_json

COLOURS = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 90, 240),
    "yellow": (235, 220, 40),
    "magenta": (220, 50, 220),
    "cyan": (40, 220, 230),
}
MANIFEST = "demo_manifest.json"
_VERSION = 1  # bump when the generator's output changes, so cached copies are rebuilt
_STEP = 0.1  # effector displacement per unit action
_GAIN = 3.0
_REACHED = 0.1
_BACKGROUND = (40, 40, 40)


def task_names(num_tasks: int) -> list[str]:
    return [f"DEMO_reach_the_{colour}_dot" for colour in list(COLOURS)[:num_tasks]]


def build_demo_dataset(
    path: str | os.PathLike[str],
    *,
    num_tasks: int = 2,
    episodes_per_task: int = 4,
    length: int = 40,
    image_size: int = 64,
    seed: int = 0,
) -> Path:
    """Write (or find already written) the demo dataset in folder ``path``; returns the folder.

    The content is a pure function of the arguments. A manifest records them with the files' sizes, so a second
    call with the same arguments returns at once; other arguments rebuild the folder's demo files.
    """
    if not 1 <= num_tasks <= len(COLOURS):
        raise ValueError(f"num_tasks must be between 1 and {len(COLOURS)}, got {num_tasks}")
    if episodes_per_task < 1 or length < 2 or image_size < 8:
        raise ValueError(
            f"need episodes_per_task >= 1, length >= 2 and image_size >= 8; got {episodes_per_task}, {length}, "
            f"{image_size}"
        )
    folder = Path(path).expanduser()
    params = {
        "version": _VERSION,
        "num_tasks": num_tasks,
        "episodes_per_task": episodes_per_task,
        "length": length,
        "image_size": image_size,
        "seed": seed,
    }
    if _manifest_matches(folder, params):
        return folder
    _check_writable_here(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)
    for old in folder.glob("DEMO_*_demo.hdf5"):
        old.unlink()
    colours = list(COLOURS)[:num_tasks]
    sizes = {}
    for task_index, task in enumerate(task_names(num_tasks)):
        with LiberoHDF5Writer(
            folder,
            task,
            language_instruction=f"reach the {colours[task_index]} dot",
            problem_name="demo_reach_dot",
            env_name="DemoReachDot",
            image_convention="opengl",
        ) as writer:
            for episode in range(episodes_per_task):
                rng = np.random.default_rng([seed, task_index, episode])
                _record(writer, rng, task_index, num_tasks, length, image_size)
        sizes[demo_file_name(task)] = (folder / demo_file_name(task)).stat().st_size
    write_json(folder / MANIFEST, {**params, "files": sizes})
    return folder


def _check_writable_here(folder: Path) -> None:
    """The demo builder writes only into a new or empty folder or one it built before (it has the manifest):
    never next to a user's own files, which a later run would then read mixed with synthetic demos."""
    if folder.exists() and not folder.is_dir():
        raise DataError(
            f"data.path {folder} is a file, but format 'demo' builds a synthetic dataset in a folder: to train on "
            f"that file, give data.path alone (its format is detected) or data=<its preset>"
        )
    if not folder.is_dir() or (folder / MANIFEST).exists():
        return
    others = sorted(p.name for p in folder.iterdir() if p.name != ".foresight")
    if others:
        shown = ", ".join(others[:3]) + (f" (+{len(others) - 3} more)" if len(others) > 3 else "")
        raise DataError(
            f"data.path {folder} already holds files ({shown}) that are not a demo dataset: format 'demo' writes "
            f"synthetic files only into an empty folder or one it built. To train on these files, give data.path "
            f"alone (its format is detected) or data=<its preset>; for the demo, choose another data.path"
        )


def _manifest_matches(folder: Path, params: dict[str, int]) -> bool:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    files = manifest.pop("files", {})
    if manifest != params:
        return False
    return all((folder / name).exists() and (folder / name).stat().st_size == size for name, size in files.items())


def _record(writer: LiberoHDF5Writer, rng: np.random.Generator, task: int, num_tasks: int, length: int, size: int):
    dots = rng.uniform(-0.8, 0.8, size=(num_tasks, 2))
    goal = dots[task]
    p = rng.uniform(-0.8, 0.8, size=2)
    writer.start_demo(model_file="<mujoco model='demo_reach_dot'/>")
    for _ in range(length):
        closed = bool(np.linalg.norm(goal - p) < _REACHED)
        action = np.zeros(7)
        action[:2] = np.clip(_GAIN * (goal - p), -1.0, 1.0)
        action[6] = 1.0 if closed else -1.0
        agentview = render(p, dots, size, closed, zoom=1.0, centre=np.zeros(2))
        wrist = render(p, dots, size, closed, zoom=2.0, centre=p)
        obs = {
            # as a simulator renders them: upside down (OpenGL rows start at the bottom)
            "agentview_image": agentview[::-1],
            "robot0_eye_in_hand_image": wrist[::-1],
            "robot0_joint_pos": np.array([p[0], p[1], p[0] * p[1], np.sin(p[0]), np.cos(p[1]), 0.0, 0.0]),
            "robot0_gripper_qpos": np.array([0.0, 0.0]) if closed else np.array([0.04, -0.04]),
            "robot0_eef_pos": np.array([p[0], p[1], 0.0]),
            "robot0_eef_quat": np.array([0.0, 0.0, 0.0, 1.0]),
        }
        writer.add_step(obs, action, state=np.concatenate([p, dots.reshape(-1)]))
        p = p + _STEP * action[:2]
    writer.end_demo()


def render(p: np.ndarray, dots: np.ndarray, size: int, closed: bool, *, zoom: float, centre: np.ndarray) -> np.ndarray:
    """An upright ``(size, size, 3)`` uint8 top view; world ``[-1, 1]^2`` (y up), ``zoom`` about ``centre``."""
    image = np.empty((size, size, 3), dtype=np.uint8)
    image[:] = _BACKGROUND
    rows, cols = np.mgrid[0:size, 0:size]
    scale = (size - 1) / 2.0

    def pixel(xy: np.ndarray) -> tuple[float, float]:
        x, y = (xy - centre) * zoom
        return (1.0 - y) * scale, (x + 1.0) * scale  # (row, col): row 0 is the top (y = +1)

    radius = size / 14.0 * zoom
    for colour, dot in zip(COLOURS.values(), dots, strict=False):
        r, c = pixel(dot)
        image[(rows - r) ** 2 + (cols - c) ** 2 <= radius**2] = colour
    r, c = pixel(p)
    half = size / 24.0 * zoom
    image[(np.abs(rows - r) <= half) & (np.abs(cols - c) <= half)] = (130, 130, 130) if closed else (255, 255, 255)
    return image


def default_demo_path(cfg: DataConfig) -> Path:
    d = cfg.demo
    name = f"t{d.num_tasks}-e{d.episodes_per_task}-l{d.length}-s{d.image_size}-seed{d.seed}"
    return cache_root() / "demo" / name


@register_format("demo")
def open_demo(cfg: DataConfig) -> EpisodeDataset:
    """Build the demo dataset if needed (at ``data.path`` or under the foresight cache) and read it."""
    d = cfg.demo
    path = Path(cfg.path).expanduser() if cfg.path else default_demo_path(cfg)
    build_demo_dataset(
        path,
        num_tasks=d.num_tasks,
        episodes_per_task=d.episodes_per_task,
        length=d.length,
        image_size=d.image_size,
        seed=d.seed,
    )
    return read_libero(path, cfg, source=f"demo:{path}")
