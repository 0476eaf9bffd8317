"""Training-data throughput: pixels versus cached frozen-encoder features, side by side in one run.

Uses CLaD's data spec (observations at t-6, t, t+6, actions a_{t-6} .. a_{t+5}, views agentview and wrist,
proprio joint + gripper states; clad-paper §4.1 and §5.1, tau = 6) on the synthetic demo dataset in the LIBERO
HDF5 schema, with a small random-weight conv net standing in for the frozen vision-language model. Modes:

* ``pixels``: the DataLoader decodes frames (what every batch costs without a cache, before any encoder runs);
* ``pixels+encode``: the same, then the frozen encoder runs on every frame of the batch (training without a cache);
* ``cached``: ``spec.load_pixels=False`` and the features come from the memory-mapped cache.

Peak RSS is the process's high-water mark during each mode (``VmHWM``, reset between modes through
``/proc/self/clear_refs``; with workers it covers the main process only). The one-off cache build is timed apart.

    python benchmarks/data_throughput.py [--episodes-per-task 10] [--length 120] [--image-size 128] \
        [--batch-size 64] [--batches 30] [--workers 0] [--device cpu]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from foresight.data.cache import feature_extras
from foresight.data.config import DataConfig
from foresight.data.normalize import Normalizer
from foresight.data.source import open_dataset
from foresight.data.windows import WindowDataset
from foresight.encoders import register_encoder
from foresight.interfaces import Encoder
from foresight.types import DataSpec, FeatureSpec, image_key

TAU = 6  # CLaD's foresight horizon (clad-paper §5.1)
VIEWS = ("agentview", "wrist")


@register_encoder("bench_tiny_conv")
class TinyConvEncoder(Encoder):
    """Stand-in for a frozen VLM image tower: 4 strided convs + pooling to 512-d; seeded, never trained."""

    output_dim = 512

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        widths = (3, 32, 64, 128, 256)
        layers: list[nn.Module] = []
        for cin, cout in itertools.pairwise(widths):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, self.output_dim))
        self.requires_grad_(False)
        self.feature_id = f"bench_tiny_conv:seed{seed}"

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images.float() / 255.0)

    def encode_text(self, texts) -> torch.Tensor:
        return torch.stack([torch.full((self.output_dim,), float(len(t))) for t in texts])


def peak_rss_reset() -> None:
    with contextlib.suppress(OSError):  # not Linux: the figure below is then the process's lifetime peak
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(
    loader: DataLoader, batches: int, after: Callable[[dict], None] | None = None, warmup: int = 2
) -> tuple[float, float, float]:
    """(samples/s, ms/batch, peak RSS MB) over ``batches`` batches after ``warmup`` ones."""
    peak_rss_reset()
    iterator = iter(loader)
    for _ in range(warmup):
        batch = next(iterator)
        if after is not None:
            after(batch)
    samples, start = 0, time.perf_counter()
    for _ in range(batches):
        batch = next(iterator)
        if after is not None:
            after(batch)
        samples += len(batch["instruction"])
    elapsed = time.perf_counter() - start
    return samples / elapsed, 1000 * elapsed / batches, peak_rss_mb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes-per-task", type=int, default=10)
    parser.add_argument("--length", type=int, default=120)
    parser.add_argument("--image-size", type=int, default=128, help="LIBERO's native 128x128")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", default=None, help="demo folder (default: a temporary one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        cfg = DataConfig(name="demo", format="demo", path=args.data or str(Path(tmp) / "demo"), cache_dir=tmp)
        cfg.demo.episodes_per_task, cfg.demo.length, cfg.demo.image_size = (
            args.episodes_per_task,
            args.length,
            args.image_size,
        )
        ds = open_dataset(cfg)
        frames = sum(ep.length for ep in ds.episodes)
        feature = FeatureSpec(name="vlm", encoder="bench_tiny_conv", sources=(*VIEWS, "instruction"))
        common = {
            "obs_offsets": (-TAU, 0, TAU),
            "action_offsets": tuple(range(-TAU, TAU)),  # a_{t-τ:t} for stage 1, a_{t:t+τ} to learn in stage 2
            "views": VIEWS,
            "proprio_keys": ("joint_states", "gripper_states"),
        }
        pixel_spec = DataSpec(**common)
        cached_spec = DataSpec(**common, features=(feature,), load_pixels=False)
        norm = Normalizer.from_dataset(ds, pixel_spec, cache=False)
        encoder = TinyConvEncoder().eval().to(args.device)

        start = time.perf_counter()
        extras = feature_extras(
            ds, cached_spec, args.device, 256, root=Path(tmp) / "features", encoders={"vlm": encoder}
        )
        build_s = time.perf_counter() - start

        def loader(spec: DataSpec, extra=()) -> DataLoader:
            data = WindowDataset(ds, spec, norm, extras=extra)
            generator = torch.Generator().manual_seed(0)
            return DataLoader(
                data,
                batch_size=args.batch_size,
                shuffle=True,
                generator=generator,
                num_workers=args.workers,
                drop_last=True,
                persistent_workers=args.workers > 0,
            )

        @torch.inference_mode()
        def encode(batch: dict) -> None:
            for view in VIEWS:
                pixels = batch[image_key(view)].to(args.device)
                encoder.encode_images(pixels.flatten(0, 1))
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()

        needed = (args.batches + 2) * args.batch_size
        if needed > frames:
            raise SystemExit(
                f"{needed} samples needed but the dataset has {frames}: raise --episodes-per-task/--length"
            )
        results = {
            "pixels": measure(loader(pixel_spec), args.batches),
            "pixels+encode": measure(loader(pixel_spec), args.batches, encode),
            "cached": measure(loader(cached_spec, extras), args.batches),
        }

    print(
        f"demo dataset: {len(ds.episodes)} episodes, {frames} frames, {args.image_size}x{args.image_size}, views "
        f"{VIEWS}; batch {args.batch_size}, {args.batches} timed batches, {args.workers} workers, "
        f"device {args.device}, torch threads {torch.get_num_threads()}"
    )
    print(f"cache build (one-off): {build_s:.2f} s for {frames * len(VIEWS)} frames")
    base = results["pixels"][0]
    print(f"{'mode':<15}{'samples/s':>12}{'ms/batch':>12}{'peak RSS MB':>14}{'speed-up':>11}")
    for mode, (rate, ms, rss) in results.items():
        print(f"{mode:<15}{rate:>12.1f}{ms:>12.1f}{rss:>14.0f}{rate / base:>10.1f}x")


if __name__ == "__main__":
    main()
