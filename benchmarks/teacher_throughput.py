"""Teacher throughput and storage: frames/s and bytes/frame per teacher, and what a whole LIBERO suite would cost.

    python benchmarks/teacher_throughput.py                      # tiny presets on CPU (seconds)
    python benchmarks/teacher_throughput.py --real               # + real-size architectures, random weights
    python benchmarks/teacher_throughput.py --device cuda --real --frames 64

For each teacher: compute throughput (frames/s through ``teacher_outputs``, as the cache build runs it), bytes per
frame of its cached target, and the projected time and disk for one LIBERO suite (``--suite-frames`` per view x
``--views``). The baseline in the same run is reading those targets back from a built cache (frames/s), the
cost a training step pays instead. Real-size models have random weights: same architecture, same cost.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from foresight.data.source import EpisodeDataset, info_from_episodes
from foresight.teachers import Teacher, build_teacher, teacher_outputs
from foresight.teachers.cache import ensure_teacher_cache, human_bytes
from foresight.types import Episode, TeacherSpec

# LeRobot's LIBERO release: 273,465 frames over the four suites (../shared/notes/data-formats.md), per view.
SUITE_FRAMES = 273_465 // 4
TINY = {
    "depth_anything_tiny": {},
    "sam_tiny": {},
    "sam2_tiny": {},
    "dinov2_tiny": {},
    "raft_tiny": {},
}


def real_size_teachers(folder: Path) -> dict[str, Teacher]:
    """Released architectures (DINOv2-S/14, Depth-Anything-V2-Small, RAFT-small) with random weights."""
    from safetensors.torch import save_file
    from torchvision.models.optical_flow import raft_small
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, Dinov2Model

    from foresight.teachers.depth import DepthAnythingTeacher
    from foresight.teachers.motion import RaftTeacher
    from foresight.teachers.semantic import Dinov2Teacher

    small = {"hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 6, "intermediate_size": 1536}
    Dinov2Model(Dinov2Config(**small, image_size=224, patch_size=14)).save_pretrained(folder / "dinov2-s")
    backbone = Dinov2Config(
        **small, image_size=518, patch_size=14, out_indices=[3, 6, 9, 12], reshape_hidden_states=False
    )
    depth = DepthAnythingConfig(backbone_config=backbone, neck_hidden_sizes=[48, 96, 192, 384], fusion_hidden_size=64)
    DepthAnythingForDepthEstimation(depth).save_pretrained(folder / "depth-anything-s")
    (folder / "raft").mkdir()
    save_file(
        {k: v.contiguous() for k, v in raft_small(weights=None).state_dict().items()},
        str(folder / "raft/m.safetensors"),
    )
    return {
        "dinov2 (S/14, 224, pool 8)": Dinov2Teacher(str(folder / "dinov2-s"), pool=8),
        "depth_anything (V2-S, 518 -> 56x56)": DepthAnythingTeacher(str(folder / "depth-anything-s")),
        "raft (small, 12 updates, 8 px grid)": RaftTeacher(str(folder / "raft")),
    }


def clip(frames: int, size: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(frames, size, size, 3), dtype=np.uint8)


def measure(name: str, teacher: Teacher, frames: np.ndarray, device: torch.device, batch: int, root: Path) -> dict:
    teacher.eval().to(device)
    teacher_outputs(teacher, frames[:2], batch)  # warm-up (lazy init, cudnn autotune)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = teacher_outputs(teacher, frames, batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    episode = Episode("ep", "t", "i", np.zeros((len(frames), 1), np.float32), {}, {"cam": frames})
    ds = EpisodeDataset([episode], info_from_episodes([episode]), f"bench-{name}", "bench", cache_dir=None)
    spec = TeacherSpec(name="t", teacher=teacher.name, sources=("cam",), offsets=(0,))
    cache = ensure_teacher_cache(
        ds, spec, device, batch, teacher=teacher, root=root, progress=False, log=lambda _: None
    )
    index = np.arange(len(frames))
    start = time.perf_counter()
    for i in index:
        cache.lookup(0, [i], "cam")
    read = len(index) / (time.perf_counter() - start)
    return {"fps": len(frames) / seconds, "bytes": out[0].nbytes, "shape": list(out.shape[1:]), "read": read}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--frames", type=int, default=16, help="frames timed per teacher")
    parser.add_argument("--size", type=int, default=128, help="frame side (LIBERO: 128)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--real", action="store_true", help="also time real-size architectures (random weights)")
    parser.add_argument("--suite-frames", type=int, default=SUITE_FRAMES, help="frames per view of one suite")
    parser.add_argument("--views", type=int, default=2, help="views cached per suite (LIBERO: agentview, wrist)")
    args = parser.parse_args()
    device = torch.device(args.device)
    frames = clip(args.frames, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        teachers = {name: build_teacher(name, **kwargs) for name, kwargs in TINY.items()}
        if args.real:
            teachers.update(real_size_teachers(Path(tmp) / "models"))
        suite = args.suite_frames * args.views
        print(f"device {device}, {args.frames} frames of {args.size}x{args.size}; suite = {suite:,} frames")
        header = f"{'teacher':38s} {'target':>14s} {'B/frame':>10s} {'frames/s':>9s} {'read/s':>9s}"
        print(f"{header} {'suite time':>11s} {'suite disk':>11s}")
        for name, teacher in teachers.items():
            row = measure(name, teacher, frames, device, args.batch_size, Path(tmp) / "cache")
            hours = suite / row["fps"] / 3600
            print(
                f"{name:38s} {'x'.join(map(str, row['shape'])):>14s} {human_bytes(row['bytes']):>10s} "
                f"{row['fps']:9.1f} {row['read']:9.0f} {hours:10.2f}h {human_bytes(row['bytes'] * suite):>11s}"
            )


if __name__ == "__main__":
    main()
