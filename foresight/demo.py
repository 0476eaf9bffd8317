"""``make demo`` / ``python -m foresight.demo``: the embedded end-to-end job, offline, on a CPU.

It builds the small demo dataset (official LIBERO HDF5 schema, cached after the first run), trains the ``dp``
baseline through the same trainer as any real run, and scores the trained policy open-loop on the held-out
episodes: the error of its sampled action chunks against the demonstrations, next to a baseline that always
predicts the mean training action. The result is written to ``<run_dir>/demo_result.json``.

Any ``key=value`` argument is passed to the trainer (``train.steps=1000``, ``method.vision_width=32``), and
re-running resumes a run that was interrupted.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from foresight import checkpoint
from foresight.config import validate
from foresight.data import DataConfig, EpisodeDataset, WindowDataset, open_dataset, split_episodes
from foresight.train import main as train
from foresight.types import ACTION, ACTION_IS_PAD

DEFAULTS = [
    "method=dp",
    "data=demo",
    "run_dir=runs/demo",
    "train.steps=300",
    "train.batch_size=32",
    "train.lr=1e-3",
    "train.warmup_steps=20",
    "train.checkpoint_every=100",
    "train.num_workers=1",
    "method.vision_width=16",
    "method.hidden_dim=128",
    "method.sampler=ddim",
    "method.num_inference_steps=10",
]


def merge(defaults: list[str], overrides: list[str]) -> list[str]:
    """Command-line ``key=value`` pairs replace the demo's defaults of the same key."""
    given = {item.split("=", 1)[0] for item in overrides}
    return [item for item in defaults if item.split("=", 1)[0] not in given] + overrides


@torch.no_grad()
def open_loop_score(run_dir: Path, max_windows: int = 256) -> dict[str, float | int]:
    """Mean squared error (normalised units) of sampled chunks on held-out episodes, and of the mean action."""
    policy = checkpoint.load_policy(run_dir)
    config = policy.config
    dataset = open_dataset(validate(config.data, DataConfig, "data"))
    train_idx, val_idx = split_episodes(len(dataset.episodes), config.data.val_fraction, config.seed)
    windows = WindowDataset(dataset, policy.spec, policy.normalizer, episode_indices=val_idx or train_idx)
    generator = torch.Generator().manual_seed(0)
    loader = DataLoader(windows, batch_size=64, shuffle=True, generator=generator)
    policy_error = baseline_error = count = 0.0
    mean_action = policy.normalizer.normalize(ACTION, _mean_training_action(dataset, train_idx))
    for batch in loader:
        real = ~batch[ACTION_IS_PAD]
        chunk = policy.method.predict_action_chunk(batch, generator=generator)
        target = batch[ACTION][:, -chunk.shape[1] :]
        mask = real[:, -chunk.shape[1] :].unsqueeze(-1).float()
        policy_error += float(((chunk - target) ** 2 * mask).sum())
        baseline_error += float(((mean_action - target) ** 2 * mask).sum())
        count += float(mask.sum()) * target.shape[-1]
        if count >= max_windows * target.shape[1] * target.shape[-1]:
            break
    return {
        "policy_mse": policy_error / count,
        "mean_action_mse": baseline_error / count,
        "held_out_episodes": len(val_idx),
    }


def _mean_training_action(dataset: EpisodeDataset, episodes: list[int]) -> torch.Tensor:
    actions = np.concatenate([np.asarray(dataset.episodes[e].actions) for e in episodes])
    return torch.as_tensor(actions.mean(axis=0), dtype=torch.float32)


def main(argv: list[str] | None = None) -> int:
    args = merge(DEFAULTS, sys.argv[1:] if argv is None else list(argv))
    run_dir = Path(next(a.split("=", 1)[1] for a in args if a.startswith("run_dir=")))
    print("foresight demo: demo dataset -> dp training -> open-loop score on held-out episodes")
    print("(about 5-10 minutes on 2 CPU cores; the dataset is built once and cached)\n")
    start = time.time()
    status = train(args)
    if status != 0:
        return status
    if checkpoint.final_checkpoint(run_dir / "policy") is None:
        print("training stopped before the end; run `make demo` again to resume", file=sys.stderr)
        return 0
    score = open_loop_score(run_dir)
    result = {**score, "run_dir": str(run_dir), "wall_time_s": round(time.time() - start, 1)}
    checkpoint.atomic_write_text(run_dir / "demo_result.json", json.dumps(result, indent=2) + "\n")
    print(
        f"\nopen-loop action error on held-out episodes (normalised units): policy {score['policy_mse']:.4f} vs "
        f"mean-action baseline {score['mean_action_mse']:.4f}\nresult: {run_dir / 'demo_result.json'}\n"
        f"next: tensorboard --logdir {run_dir}; the real-data path is in README.md"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
