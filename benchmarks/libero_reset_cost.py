"""Per-trial reset cost of a LIBERO simulator: robosuite's hard reset against keeping the compiled model.

For each ``env.reset`` mode, one simulator (built by its first reset) resets to the first ``--trials`` official
initial states of a task in a row, as an evaluation worker does. Each time is the whole
``LiberoRolloutEnv.reset``: robosuite's reset, the initial state and the 10 warm-up steps (the last one renders)::

    python benchmarks/libero_reset_cost.py                       # libero_object task 0, 5 trials per mode
    python benchmarks/libero_reset_cost.py --suite libero_10 --task 3 --trials 8

The throughput of whole evaluations with both modes is benchmarks/eval_throughput.py.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from foresight.envs.libero import LiberoConfig, LiberoEnv


def reset_times(suite: str, task: int, trials: int, mode: str) -> list[float]:
    """Seconds of each reset, the first (which builds the simulator and compiles the model) included."""
    env = LiberoEnv(LiberoConfig(suite=suite, tasks=(task,), trials_per_task=trials, reset=mode))
    rollout = env.make_env()
    times = []
    try:
        for episode in env.episodes():
            began = time.perf_counter()
            rollout.reset(episode)
            times.append(time.perf_counter() - began)
    finally:
        rollout.close()
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="libero_object")
    parser.add_argument("--task", type=int, default=0)
    parser.add_argument("--trials", type=int, default=5, help="resets per mode, the first one builds")
    args = parser.parse_args(argv)
    if args.trials < 2:
        parser.error("--trials must be at least 2: the first reset builds the simulator")
    print(f"{args.suite} task {args.task}, {args.trials} resets per mode, load average {os.getloadavg()[0]:.1f}")
    print("| env.reset | first reset (builds) s | later resets s | mean later s | x |")
    print("|---|---|---|---|---|")
    baseline = None
    for mode in ("hard", "reuse_model"):  # the official hard reset first: the baseline
        first, *later = reset_times(args.suite, args.task, args.trials, mode)
        mean = float(np.mean(later))
        baseline = baseline or mean
        shown = " ".join(f"{t:.2f}" for t in later)
        print(f"| {mode} | {first:.1f} | {shown} | {mean:.2f} | {baseline / mean:.2f}x |", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
