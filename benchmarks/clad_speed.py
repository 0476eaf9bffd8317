"""CLaD speed and memory, printed next to the paper's figures (§5.1, Tables 2-3; RTX 4090).

    python benchmarks/clad_speed.py --tiny                    # seconds on a laptop CPU (tiny model, tiny VLM)
    python benchmarks/clad_speed.py                           # paper size on CUDA (H = 1024, RN50 DecisionNCE)
    python benchmarks/clad_speed.py --checkpoint DecisionNCE-T.pth --bf16 --json results.json

Measures, on random data of LIBERO's shapes (128x128 images, 9-d proprio, 7-d actions):

* stage-1 and stage-2 training throughput (samples/s, optimizer steps included) reading cached VLM features
  versus computing them from pixels with the frozen VLM, and the implied time of the paper's schedules
  (25k x 128 and 200k x 128);
* at batch 1: planning latency (the dynamics model's foresight from cached features; and with the VLM encoding
  of the current frame), and the latency of a whole action chunk from pixels (VLM + plan + DDPM sampling);
* peak memory: CUDA allocator peak for inference and for each training stage, or peak RSS on CPU.

Weights are random (same architecture, same cost): pass --checkpoint to time the real DecisionNCE file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path

import torch

from foresight.benchmarking import peak_memory_gb, reset_peak, timed
from foresight.fileio import write_json
from foresight.methods.clad import CLaD, CLaDConfig
from foresight.methods.clad.params import LIBERO_INFO
from foresight.methods.clad.tiny import tiny_config, write_tiny_decisionnce
from foresight.types import ACTION, ACTION_IS_PAD, INSTRUCTION, STATE, feature_key, image_key

PAPER = {
    "stage1_hours": 2.0,  # §5.1: 25k steps x 128 on one RTX 4090
    "stage2_hours": 20.0,  # §5.1: 200k steps x 128
    "inference_hz": 25.0,  # Table 2
    "memory_gb": 4.0,  # Table 2
    "planning_s": 0.012,  # Table 3
}


PAPER_STEPS = {"dynamics": 25_000, "policy": 200_000}  # §5.1
PAPER_BATCH = 128  # §5.1


def write_random_rn50(path: Path) -> Path:
    """A random-weight CLIP-RN50 in DecisionNCE's checkpoint layout: DecisionNCE's cost without its file."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    model = CLIP(
        1024,
        vision_cfg=CLIPVisionCfg(layers=(3, 4, 6, 3), width=64, image_size=224),
        text_cfg=CLIPTextCfg(context_length=77, vocab_size=49408, width=512, heads=8, layers=12),
        quick_gelu=True,
    )
    torch.save({"model": {f"model.{k}": v for k, v in model.state_dict().items() if k != "logit_scale"}}, path)
    return path


def make_batch(
    model: CLaD, size: int, frames: int, actions: int, image: int, device: torch.device, pixels: bool
) -> dict:
    """Random batch in the data layer's layout; features precomputed (the cache path) unless ``pixels``."""
    cfg = model.config.vlm
    g = torch.Generator().manual_seed(0)
    batch = {
        STATE: torch.randn(size, frames, 9, generator=g),
        ACTION: torch.rand(size, actions, 7, generator=g) * 2 - 1,
        ACTION_IS_PAD: torch.zeros(size, actions, dtype=torch.bool),
        INSTRUCTION: [LIBERO_INFO.instructions[i % 10] for i in range(size)],
    }
    for view in cfg.views:
        if pixels:
            batch[image_key(view)] = torch.randint(
                0, 256, (size, frames, 3, image, image), dtype=torch.uint8, generator=g
            )
        else:
            batch[feature_key(cfg.encoder, view)] = torch.randn(size, frames, cfg.image_dim, generator=g)
    if not pixels:
        batch[feature_key(cfg.encoder, "instruction")] = torch.randn(size, cfg.text_dim, generator=g)
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def train_throughput(
    model: CLaD, stage: str, batch: dict, device: torch.device, repeats: int, warmup: int, autocast
) -> float:
    """Samples/s of full optimizer steps (forward, backward, AdamW, EMA targets) as the trainer runs them."""
    st = model.stage(stage)
    trainable = {id(p) for p in model.trainable_parameters(st)}
    params = [p for p in model.parameters() if id(p) in trainable]
    for p in model.parameters():
        p.requires_grad_(id(p) in trainable)
    model.train()
    for name, child in model.named_children():
        if name not in st.trainable:
            child.eval()
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    size = len(batch[INSTRUCTION])

    def one_step() -> None:
        with autocast():
            loss, _ = model(batch, stage=stage)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        model.on_optimizer_step(stage, 1)

    times = timed(one_step, device, repeats, warmup)
    return size / statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny model and VLM (CPU smoke run)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=None, help="training batch (default 128, tiny 8)")
    parser.add_argument("--repeats", type=int, default=None, help="timed iterations (default 20, tiny 3)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed iterations first (default 5, tiny 1)")
    parser.add_argument("--image-size", type=int, default=128, help="LIBERO frames are 128x128")
    parser.add_argument("--checkpoint", default=None, help="a real DecisionNCE file instead of random RN50 weights")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast for training (CUDA)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (a shared CPU: use 1)")
    parser.add_argument("--json", default=None, help="also write the results here (atomically)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    batch_size = args.batch_size or (8 if args.tiny else 128)
    repeats = args.repeats or (3 if args.tiny else 20)
    warmup = args.warmup if args.warmup is not None else (1 if args.tiny else 5)

    with tempfile.TemporaryDirectory() as tmp:
        if args.tiny:
            cfg = tiny_config(args.checkpoint or write_tiny_decisionnce(Path(tmp) / "tiny.pth"))
        else:
            cfg = CLaDConfig()
            cfg.vlm.kwargs = {"checkpoint": args.checkpoint or str(write_random_rn50(Path(tmp) / "rn50.pth"))}
        torch.manual_seed(0)
        model = CLaD(cfg, LIBERO_INFO).to(device)
        model.features.encoder.to(device)  # build the frozen VLM now, outside every timing
        tau = cfg.dynamics.tau
        autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if args.bf16 else (lambda: nullcontext())
        results: dict = {"device": str(device), "tiny": args.tiny, "batch_size": batch_size, "bf16": args.bf16}
        if device.type == "cuda":
            results["gpu"] = torch.cuda.get_device_name(device)

        # --- inference at batch 1 -------------------------------------------------------------------
        reset_peak(device)
        model.eval()
        # Inference batches as the evaluation runner builds them: frames t-tau and t, and the tau actions
        # executed since t-tau (unpadded), so planning times real action tokens.
        cached = make_batch(model, 1, 2, model.tau, args.image_size, device, pixels=False)
        pixels = make_batch(model, 1, 2, model.tau, args.image_size, device, pixels=True)
        with torch.no_grad():
            plan_times = timed(
                lambda: model.plan(model.prepare_inference_batch(dict(cached))), device, repeats * 5, warmup
            )
            model.features._text_cache.clear()
            vlm_plan_times = timed(
                lambda: model.plan(model.prepare_inference_batch(dict(pixels))), device, repeats * 5, warmup
            )
            chunk_times = timed(lambda: model.predict_action_chunk(dict(pixels)), device, repeats * 5, warmup)
        results["planning_s"] = statistics.median(plan_times)
        results["planning_with_vlm_s"] = statistics.median(vlm_plan_times)
        results["chunk_s"] = statistics.median(chunk_times)
        results["chunk_hz"] = 1.0 / results["chunk_s"]
        results["control_hz_open_loop"] = tau / results["chunk_s"]
        results["inference_peak_gb"] = peak_memory_gb(device)

        # --- training throughput --------------------------------------------------------------------
        for stage, frames, actions, steps, hours in (
            ("dynamics", 3, tau, PAPER_STEPS["dynamics"], "stage1_hours"),
            ("policy", 2, 2 * tau, PAPER_STEPS["policy"], "stage2_hours"),
        ):
            for source in ("cached", "pixels"):
                reset_peak(device)
                batch = make_batch(model, batch_size, frames, actions, args.image_size, device, source == "pixels")
                rate = train_throughput(model, stage, batch, device, repeats, warmup, autocast)
                results[f"{stage}_{source}_samples_per_s"] = rate
                results[f"{stage}_{source}_peak_gb"] = peak_memory_gb(device)
                results[f"{stage}_{source}_{hours}"] = steps * PAPER_BATCH / rate / 3600  # the paper's schedule

    print(report(results))
    if args.json:
        write_json(args.json, results)
    return results


def report(r: dict) -> str:
    where = r.get("gpu", r["device"]) + (" (tiny model)" if r["tiny"] else "")
    memory = "CUDA peak allocated" if r["device"].startswith("cuda") else "process peak RSS"
    lines = [
        f"CLaD speed on {where}, training batch {r['batch_size']}{', bf16' if r['bf16'] else ''}; memory = {memory}",
        f"{'measure':<58}{'ours':>12}{'paper (4090)':>14}",
    ]

    def row(name: str, ours: str, paper: str = "") -> None:
        lines.append(f"{name:<58}{ours:>12}{paper:>14}")

    for stage, hours in (("dynamics", "stage1_hours"), ("policy", "stage2_hours")):
        for source in ("cached", "pixels"):
            row(f"{stage} training, {source} features (samples/s)", f"{r[f'{stage}_{source}_samples_per_s']:.1f}")
            paper = f"{PAPER[hours]:.0f} h" if source == "cached" else ""
            steps = "25k" if stage == "dynamics" else "200k"
            row(f"  -> time for {steps} steps x 128 (h)", f"{r[f'{stage}_{source}_{hours}']:.2f} h", paper)
            row("  peak memory (GB)", f"{r[f'{stage}_{source}_peak_gb']:.2f}")
    row("planning latency, batch 1, cached features (s)", f"{r['planning_s']:.4f}", f"{PAPER['planning_s']}")
    row("planning latency, batch 1, incl. VLM on the frame (s)", f"{r['planning_with_vlm_s']:.4f}")
    row("action chunk from pixels, batch 1 (s)", f"{r['chunk_s']:.4f}")
    row("  -> chunks per second (Hz)", f"{r['chunk_hz']:.1f}", f"{PAPER['inference_hz']:.0f}")
    row("  -> actions per second, whole chunk executed (Hz)", f"{r['control_hz_open_loop']:.1f}")
    row("inference peak memory (GB)", f"{r['inference_peak_gb']:.2f}", f"{PAPER['memory_gb']:.0f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
