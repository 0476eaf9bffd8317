"""DreamVLA speed and memory, with the same model without world knowledge (Table 3's "Vanilla VLA": no <dream>
queries, no decoders) measured in the same run as the baseline.

    python benchmarks/dreamvla_speed.py --tiny --threads 1     # the dreamvla_tiny preset, seconds on a CPU
    python benchmarks/dreamvla_speed.py --bf16                 # paper size on CUDA (GPT-2 medium, DiT-B)
    python benchmarks/dreamvla_speed.py --batch-size 8 --json results.json

Measures, on random data of LIBERO's shapes (two 128x128 views, 7-d actions) and random teacher targets of the
configured shapes (what the trainer reads from the teacher cache):

* fine-tuning throughput (samples/s of full optimizer steps: frozen encoders on the pixels, backbone, decoders,
  the DiT loss over ``noise_samples`` repeats) and its peak memory;
* inference latency of one action chunk at batch 1 (encoders, backbone, DDIM sampling with guidance; no
  decoder), and its peak memory;
* peak memory: CUDA allocator peak, or the process's peak RSS on a CPU (which only grows: read it per run).

Weights are random (same architecture, same cost): the frozen CLIP / MAE are written from their default
transformers configs (ViT-B/32 text, ViT-B/16) into a temporary folder unless --tiny.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path

import torch

from foresight.benchmarking import median_seconds, peak_memory_gb, reset_peak
from foresight.config import load_group, validate
from foresight.fileio import write_json
from foresight.methods.dreamvla import DreamVLA, DreamVLAConfig
from foresight.params import LIBERO_INFO
from foresight.types import ACTION, ACTION_IS_PAD, INSTRUCTION, OBS_IS_PAD, STATE, image_key, target_key

PAPER_BATCH = 64  # Table 11: 8 per GPU x 8 GPUs


def random_encoders(folder: Path) -> tuple[str, str]:
    """Random-weight CLIP ViT-B/32 text and MAE ViT-B/16 folders (their transformers default configs)."""
    from transformers import CLIPTextConfig, CLIPTextModel, ViTMAEConfig, ViTMAEModel

    from foresight.methods.dreamvla.tiny import _clip_tokenizer_files

    text, image = folder / "clip_text", folder / "vit_mae"
    text.mkdir(parents=True)
    _clip_tokenizer_files(text)
    CLIPTextModel(CLIPTextConfig()).save_pretrained(text)
    ViTMAEModel(ViTMAEConfig(mask_ratio=0.0)).save_pretrained(image)
    return str(text), str(image)


def target_shape(cfg: DreamVLAConfig, name: str, image: int) -> tuple[int, ...]:
    """Per frame, as the configured teacher writes it."""
    k = cfg.knowledge
    if name == "motion":
        side = (k.motion_kwargs.get("input_size") or [image])[0] // k.motion_grid
        return (2, side, side)
    if name == "depth":
        return (1, *k.depth_kwargs.get("resolution", [56, 56]))
    if name == "sam":
        return (k.sam_dim, k.sam_kwargs["pool"], k.sam_kwargs["pool"])
    return (k.dino_dim, k.dino_kwargs["pool"], k.dino_kwargs["pool"])


def make_batch(model: DreamVLA, stage: str | None, size: int, image: int, device: torch.device) -> dict:
    spec = model.data_spec(stage)
    frames = len(spec.obs_offsets)
    g = torch.Generator().manual_seed(0)
    batch = {
        STATE: torch.randn(size, frames, LIBERO_INFO.proprio_dim(spec.proprio_keys), generator=g),
        OBS_IS_PAD: torch.zeros(size, frames, dtype=torch.bool),
        INSTRUCTION: [LIBERO_INFO.instructions[i % 10] for i in range(size)],
    }
    for view in spec.views:
        batch[image_key(view)] = torch.randint(0, 256, (size, frames, 3, image, image), dtype=torch.uint8, generator=g)
    if stage is not None:
        batch[ACTION] = torch.rand(size, len(spec.action_offsets), 7, generator=g) * 2 - 1
        batch[ACTION_IS_PAD] = torch.zeros(size, len(spec.action_offsets), dtype=torch.bool)
        for target in spec.targets:
            shape = (size, len(target.offsets), *target_shape(model.config, target.name, image))
            for view in target.sources:
                batch[target_key(target.name, view)] = (torch.rand(shape, generator=g) * 3 + 0.1).half()
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def measure(cfg: DreamVLAConfig, args: argparse.Namespace, device: torch.device) -> dict:
    torch.manual_seed(0)
    model = DreamVLA(cfg, LIBERO_INFO).to(device)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if args.bf16 else nullcontext
    out: dict = {"trained_params": sum(p.numel() for p in model.parameters())}

    reset_peak(device)
    model.eval()
    obs = make_batch(model, None, 1, args.image_size, device)
    gen = torch.Generator(device=device)
    with torch.no_grad(), autocast():
        out["chunk_s"] = median_seconds(lambda: model.predict_action_chunk(obs, generator=gen.manual_seed(0)), device,
                               args.repeats, args.warmup)  # fmt: skip
    out["inference_peak_gb"] = peak_memory_gb(device)

    reset_peak(device)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = make_batch(model, "finetune", args.batch_size, args.image_size, device)

    def step() -> None:
        with autocast():
            loss, _ = model(batch, stage="finetune")
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    out["train_samples_per_s"] = args.batch_size / median_seconds(step, device, args.repeats, args.warmup)
    out["train_peak_gb"] = peak_memory_gb(device)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="the dreamvla_tiny preset (CPU smoke run)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=None, help=f"training batch (default {PAPER_BATCH // 8} "
                        "per GPU as the paper, tiny 8)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=None, help="timed iterations (default 10, tiny 3)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed iterations first (default 3, tiny 1)")
    parser.add_argument("--image-size", type=int, default=128, help="LIBERO frames are 128x128")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (a shared CPU: use 1)")
    parser.add_argument("--json", default=None, help="also write the results here (atomically)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    args.batch_size = args.batch_size or (8 if args.tiny else PAPER_BATCH // 8)
    args.repeats = args.repeats or (3 if args.tiny else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.tiny else 3)

    with tempfile.TemporaryDirectory() as tmp:
        if args.tiny:
            values = load_group("method", "dreamvla_tiny")
            values.pop("name")
            cfg = validate(values, DreamVLAConfig, "method")
        else:
            text, image = random_encoders(Path(tmp))
            cfg = DreamVLAConfig()
            cfg.encoders = dataclasses.replace(cfg.encoders, text=text, image=image)
        vanilla = dataclasses.replace(cfg, knowledge=dataclasses.replace(cfg.knowledge, types=()), pretrain=False)
        results = {
            "device": str(device),
            "tiny": args.tiny,
            "batch_size": args.batch_size,
            "bf16": args.bf16,
            "dreamvla": measure(cfg, args, device),
            "vanilla": measure(vanilla, args, device),  # the baseline, same run, same data
        }
        if device.type == "cuda":
            results["gpu"] = torch.cuda.get_device_name(device)
    print(report(results))
    if args.json:
        write_json(args.json, results)
    return results


def report(r: dict) -> str:
    where = r.get("gpu", r["device"]) + (" (tiny preset)" if r["tiny"] else " (paper size)")
    memory = "CUDA peak allocated" if r["device"].startswith("cuda") else "process peak RSS (cumulative)"
    d, v = r["dreamvla"], r["vanilla"]
    lines = [
        f"DreamVLA speed on {where}, training batch {r['batch_size']}{', bf16' if r['bf16'] else ''}; "
        f"memory = {memory}",
        f"{'measure':<50}{'DreamVLA':>12}{'vanilla VLA':>13}{'ratio':>8}",
    ]
    for name, key, fmt in (
        ("fine-tuning throughput (samples/s)", "train_samples_per_s", "{:.2f}"),
        ("fine-tuning peak memory (GB)", "train_peak_gb", "{:.2f}"),
        ("action chunk latency, batch 1 (s)", "chunk_s", "{:.4f}"),
        ("inference peak memory (GB)", "inference_peak_gb", "{:.2f}"),
        ("trained parameters (M)", "trained_params", "{:.1f}"),
    ):
        a, b = d[key], v[key]
        if key == "trained_params":
            a, b = a / 1e6, b / 1e6
        lines.append(f"{name:<50}{fmt.format(a):>12}{fmt.format(b):>13}{a / b:>8.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
