"""CLAP speed and memory: training samples/s per stage, latency of one action chunk as NTP and as RF, peak memory.

    python benchmarks/clap_speed.py --tiny --threads 1          # seconds on a CPU (the clap_tiny preset)
    python benchmarks/clap_speed.py --preset clap_4090          # the one-4090 preset on CUDA
    python benchmarks/clap_speed.py --preset clap_4090 --bf16 --json results.json
    python benchmarks/clap_speed.py --preset clap_4090 --tiny-frozen --threads 1 --batch-size 4   # CPU, no files

Random data in LIBERO's shapes (two 128x128 views, 7-d actions). Training reads features the way a cached run
does (frozen-encoder embeddings and DINO targets computed once, outside the timing), as the trainer does with
``train.feature_cache=true``. Baselines in the same run:

* inference: CLAP-NTP (autoregressive decoding of ``N_q`` codes, then the Act-VAE decoder) is the baseline of
  CLAP-RF (``rf.inference_steps`` Euler steps of the flow head on one backbone pass): §III-E's claim is that RF
  lowers the latency of a chunk;
* training: ``rf_km`` with Knowledge Matching against plain fine-tuning (``rf.finetune=finetune``), the price of
  the frozen reference's extra forward pass.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from contextlib import nullcontext

import torch

from foresight.benchmarking import median_seconds, peak_memory_gb, reset_peak
from foresight.config import load_group, validate
from foresight.fileio import write_json
from foresight.methods.clap import CLAP, CLAPConfig
from foresight.params import LIBERO_INFO
from foresight.train import configure_trainable, set_stage_modes
from foresight.types import ACTION, ACTION_IS_PAD, INSTRUCTION, OBS_IS_PAD, STATE, TASK_INDEX, image_key

STAGES = ("act_vae", "vd_vae", "ntp", "rf_km")


def preset(name: str) -> CLAPConfig:
    values = load_group("method", name)
    values.pop("name")
    return validate(values, CLAPConfig, "method")


def random_batch(model: CLAP, stage: str | None, size: int, device: torch.device) -> dict:
    """The stage's data spec filled with random pixels and actions, then its features computed once (the cache)."""
    spec = model.data_spec(stage)
    g = torch.Generator().manual_seed(0)
    frames = len(spec.obs_offsets)
    actions = len(spec.action_offsets) if stage is not None else 0
    batch: dict = {
        INSTRUCTION: [LIBERO_INFO.instructions[i % 10] for i in range(size)],
        TASK_INDEX: torch.arange(size) % 10,
        OBS_IS_PAD: torch.zeros(size, frames, dtype=torch.bool),
    }
    if spec.proprio_keys:
        batch[STATE] = torch.rand(size, frames, LIBERO_INFO.proprio_dim(spec.proprio_keys), generator=g) * 2 - 1
    for view in spec.views:
        batch[image_key(view)] = torch.randint(0, 256, (size, frames, 3, 128, 128), dtype=torch.uint8, generator=g)
    if actions:
        batch[ACTION] = torch.rand(size, actions, 7, generator=g) * 2 - 1
        batch[ACTION_IS_PAD] = torch.zeros(size, actions, dtype=torch.bool)
    batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
    if stage == "vd_vae":
        target = spec.targets[0]
        batch[f"targets.{target.name}.{target.sources[0]}"] = model.dino.get(batch)
    elif spec.features:
        batch = model.features.fill(batch)
    if spec.features or stage == "vd_vae":  # training then reads cached features only, as a cached run does
        batch = {k: v for k, v in batch.items() if not k.startswith("observation.images.")}
    return batch


def train_throughput(model: CLAP, stage: str, batch: dict, device, repeats: int, warmup: int, autocast) -> float:
    """Samples/s of whole optimizer steps (forward, backward, AdamW, the stage's step hook)."""
    st = model.stage(stage)
    model.on_stage_start(stage)
    params = configure_trainable(model, st, model.intended_grad)
    set_stage_modes(model, st)
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    size = len(batch[INSTRUCTION])

    def one_step() -> None:
        with autocast():
            loss, _ = model.compute_loss(batch, stage)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        model.on_optimizer_step(stage, 1)

    return size / median_seconds(one_step, device, repeats, warmup)


def build(cfg: CLAPConfig, device: torch.device) -> CLAP:
    torch.manual_seed(0)
    model = CLAP(cfg, LIBERO_INFO).to(device)
    model.intended_grad = {name: p.requires_grad for name, p in model.named_parameters()}  # as the trainer records
    return model


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="the clap_tiny preset (CPU smoke run)")
    parser.add_argument("--preset", default=None, help="a configs/method preset (default clap_4090; --tiny: clap_tiny)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=None, help="training batch (default 64, tiny 8)")
    parser.add_argument("--repeats", type=int, default=None, help="timed iterations (default 20, tiny 10)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed iterations first (default 3, tiny 1)")
    parser.add_argument(
        "--tiny-frozen", action="store_true", help="the tiny random frozen encoder and DINO teacher (no model files)"
    )
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast for training (CUDA)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (a shared CPU: use 1)")
    parser.add_argument("--json", default=None, help="also write the results here (atomically)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = args.preset or ("clap_tiny" if args.tiny else "clap_4090")
    size = args.batch_size or (8 if args.tiny else 64)
    repeats, warmup = args.repeats or (10 if args.tiny else 20), args.warmup or (1 if args.tiny else 3)
    autocast = (
        (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if args.bf16 else nullcontext
    )  # fmt: skip
    cfg = preset(name)
    if args.tiny_frozen:  # the trained parts at the preset's size; the frozen models at clap_tiny's
        tiny = preset("clap_tiny")
        frozen = {k: getattr(tiny.vd_vae, k) for k in ("teacher", "teacher_kwargs", "feature_dim", "feature_tokens")}
        cfg = dataclasses.replace(cfg, vlm=tiny.vlm, vd_vae=dataclasses.replace(cfg.vd_vae, **frozen))
        name += " (tiny frozen models)"
    results: dict = {"preset": name, "device": str(device), "batch_size": size, "train": {}, "memory_gb": {}}

    model = build(cfg, device)
    for stage in STAGES:
        batch = random_batch(model, stage, size, device)
        reset_peak(device)
        results["train"][stage] = train_throughput(model, stage, batch, device, repeats, warmup, autocast)
        results["memory_gb"][f"train {stage}"] = peak_memory_gb(device)
    plain = build(dataclasses.replace(cfg, rf=dataclasses.replace(cfg.rf, finetune="finetune")), device)
    batch = random_batch(plain, "rf_km", size, device)
    results["train"]["rf_km (plain fine-tuning, baseline)"] = train_throughput(
        plain, "rf_km", batch, device, repeats, warmup, autocast
    )

    model.eval()
    one = random_batch(model, None, 1, device)
    results["latency_ms"] = {}
    for mode in ("ntp", "rf"):
        model.set_inference(mode)
        reset_peak(device)
        with torch.no_grad():
            seconds = median_seconds(lambda: model.predict_action_chunk(one), device, repeats * 3, warmup)
        results["latency_ms"][mode] = 1000 * seconds
        results["memory_gb"][f"inference {mode}"] = peak_memory_gb(device)
    print(report(results, cfg))
    if args.json:
        write_json(args.json, results)
    return results


def report(r: dict, cfg: CLAPConfig) -> str:
    lines = [f"CLAP speed ({r['preset']}, {r['device']}, training batch {r['batch_size']}, features cached)", ""]
    lines.append(f"{'training stage':<40}{'samples/s':>12}")
    for stage, value in r["train"].items():
        lines.append(f"{stage:<40}{value:>12.1f}")
    km, plain = r["train"]["rf_km"], r["train"]["rf_km (plain fine-tuning, baseline)"]
    lines.append(f"{'  KM cost vs plain fine-tuning':<40}{plain / km:>11.2f}x")
    lines += ["", f"{'one chunk of ' + str(cfg.rf.horizon) + ' actions, batch 1':<40}{'ms':>12}"]
    ntp, rf = r["latency_ms"]["ntp"], r["latency_ms"]["rf"]
    lines.append(f"{'NTP (' + str(cfg.act_vae.num_codes) + ' codes, baseline)':<40}{ntp:>12.2f}")
    lines.append(f"{'RF (' + str(cfg.rf.inference_steps) + ' Euler steps)':<40}{rf:>12.2f}")
    lines.append(f"{'  RF speed-up over NTP':<40}{ntp / rf:>11.2f}x")
    lines += ["", f"{'peak memory':<40}{'GB':>12}"]
    kind = "CUDA allocator" if r["device"].startswith("cuda") else "process RSS (cumulative)"
    for name, value in r["memory_gb"].items():
        lines.append(f"{name:<40}{value:>12.2f}")
    lines.append(f"({kind})")
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
