"""Timing and memory helpers the speed benchmarks (``benchmarks/*_speed.py``) share, so every method's numbers are
taken the same way: CUDA work is synchronised before a clock is read, and peak memory is the allocator's on a GPU
and the process's resident set on a CPU (which never goes down: measure the larger phase last)."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1) -> list[float]:
    """Wall seconds of each of ``repeats`` calls of ``fn``, after ``warmup`` untimed ones (allocator, autotuning)."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return times


def median_seconds(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1) -> float:
    """The median of :func:`timed`: robust to the odd slow call on a shared machine."""
    return statistics.median(timed(fn, device, repeats, warmup))


def peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux -> GiB


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
