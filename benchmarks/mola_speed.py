"""MoLA speed and memory, printed next to the paper's Table 8 (RTX 4090): per-step latency with imagination,
training samples/s, peak memory.

    python benchmarks/mola_speed.py --tiny                           # seconds on a CPU (tiny model, tiny SVD)
    python benchmarks/mola_speed.py --svd /models/mola-svd --device cuda --bf16

Measures, on random data of LIBERO's shapes (128x128 primary view, 9-d proprio, 7-d actions):

* at batch 1, the latency of one policy call split as Table 8 splits it: imagination (the video model's one
  denoising step), MoIDM (three experts) and the action head (flow-matching sampling); their sum is the paper's
  129.6 ms "total inference time" (Table 10, one step);
* training throughput (samples/s, optimizer step included) of stage idm, and of stage policy with the imagined
  frames read from the cache (``cached``) against the baseline of imagining them in every step (``svd``), the
  choice the one-4090 preset makes;
* peak memory: CUDA allocator peak, or the process's peak RSS on CPU.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext

import torch

from foresight.benchmarking import median_seconds, peak_memory_gb
from foresight.fileio import write_json
from foresight.methods.mola import MoLA
from foresight.methods.mola.imagination import FEATURE_NAME
from foresight.methods.mola.tiny import tiny_config
from foresight.params import LIBERO_INFO
from foresight.types import ACTION, ACTION_IS_PAD, STATE, TASK_INDEX, Batch, DataSpec, feature_key, image_key

PAPER_MS = {"imagination": 79.85, "moidm": 12.93, "head": 8.26, "total": 129.6}  # Table 8; Table 10 (1 step)
INFO = LIBERO_INFO.__class__(**{**LIBERO_INFO.__dict__, "image_shapes": {"agentview": (3, 128, 128)}})


def batch_for(spec: DataSpec, size: int, device: torch.device, training: bool) -> Batch:
    g = torch.Generator().manual_seed(0)
    frames = len(spec.obs_offsets)
    batch: Batch = {
        image_key(v): torch.randint(0, 256, (size, frames, 3, 128, 128), dtype=torch.uint8, generator=g)
        for v in spec.views
    }
    batch[STATE] = torch.rand(size, frames, INFO.proprio_dim(spec.proprio_keys), generator=g) * 2 - 1
    batch[TASK_INDEX] = torch.zeros(size, dtype=torch.long)
    if training:
        batch[ACTION] = torch.rand(size, len(spec.action_offsets), INFO.action_dim, generator=g) * 2 - 1
        batch[ACTION_IS_PAD] = torch.zeros(size, len(spec.action_offsets), dtype=torch.bool)
    return {k: v.to(device) for k, v in batch.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="the mola_tiny preset and its tiny random SVD")
    parser.add_argument("--svd", help="a StableVideoDiffusionPipeline folder (save_pretrained) for the paper size")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=8, help="training batch for the throughput rows")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA)")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args(argv)
    if not args.tiny and not args.svd:
        parser.error("give --svd FOLDER (the paper-size video model), or --tiny")
    device = torch.device(args.device)
    torch.manual_seed(0)
    cfg = tiny_config() if args.tiny else None
    if cfg is None:
        from foresight.methods.mola.config import MoLAConfig

        cfg = MoLAConfig()
        cfg.imagination.kwargs["path"] = args.svd
        cfg.imagination.backend = "cached"
    method = MoLA(cfg, INFO).to(device)
    autocast = torch.autocast(device.type, torch.bfloat16) if args.bf16 else nullcontext()
    view = method.config.views[0]

    # ---- inference at batch 1, split as Table 8
    method.eval()
    obs = batch_for(method.data_spec(None), 1, device, training=False)
    frames = obs[image_key(view)][:, 0]
    imaginer = method.imagination.imaginer(device)
    with torch.no_grad(), autocast:
        pair = imaginer.encode_images(frames)
        cond = method.condition({**obs, feature_key(FEATURE_NAME, view): pair[:, None]}, "cached", (0,))
        ms = {
            "imagination": median_seconds(lambda: imaginer.encode_images(frames), device, args.repeats),
            "moidm": median_seconds(lambda: method.moidm(pair[:, 0], pair[:, 1]), device, args.repeats),
            "head": median_seconds(lambda: method.policy.head.sample(cond), device, args.repeats),
            "total": median_seconds(lambda: method.predict_action_chunk(obs), device, args.repeats),
        }
    ms = {k: 1000 * v for k, v in ms.items()}

    # ---- training throughput
    def step_rate(stage: str, batch: Batch) -> float:
        method.train()
        params = [p for a in method.stage(stage).trainable for p in getattr(method, a).parameters()]
        optimizer = torch.optim.AdamW(params, lr=1e-4)

        def step() -> None:
            with autocast:
                loss, _ = method(batch, stage=stage)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return args.batch / median_seconds(step, device, args.repeats)

    idm_batch = method.targets.fill(batch_for(method.data_spec("idm"), args.batch, device, training=True))
    rates = {"idm": step_rate("idm", idm_batch)}
    policy_batch = batch_for(method.data_spec("policy"), args.batch, device, training=True)
    with torch.no_grad():
        cached = imaginer.encode_images(policy_batch[image_key(view)][:, 0])[:, None]
    rates["policy (cached imagination)"] = step_rate(
        "policy", {**policy_batch, feature_key(FEATURE_NAME, view): cached}
    )
    rates["policy (svd live, baseline)"] = step_rate("policy", policy_batch)
    memory = peak_memory_gb(device)

    size = "mola_tiny" if args.tiny else "paper size"
    print(f"MoLA {size} on {device} ({torch.get_num_threads()} threads), repeats {args.repeats}, median")
    print(f"{'per-step latency, batch 1':<34}{'ours (ms)':>12}{'paper 4090 (ms)':>17}")
    for key in ("imagination", "moidm", "head", "total"):
        print(f"  {key:<32}{ms[key]:>12.2f}{PAPER_MS[key]:>17.2f}")
    print(f"{f'training, batch {args.batch}':<34}{'samples/s':>12}")
    for key, rate in rates.items():
        print(f"  {key:<32}{rate:>12.1f}")
    speedup = rates["policy (cached imagination)"] / rates["policy (svd live, baseline)"]
    print(f"  cached vs live imagination: {speedup:.2f}x")
    print(f"peak memory ({'CUDA allocated' if device.type == 'cuda' else 'RSS'}): {memory:.2f} GiB")
    if args.json:
        write_json(args.json, {"latency_ms": ms, "samples_per_s": rates, "peak_memory_gb": memory, "size": size})
    return 0


if __name__ == "__main__":
    sys.exit(main())
