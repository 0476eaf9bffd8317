"""``python -m foresight.data.inspect data=PRESET [data.key=value ...]``: what a user checks before training.

Prints where the data came from, how many episodes and frames it has, its tasks with their instructions and
episode counts, every key a sample can read with its per-frame shape and dtype, and per-dimension action
statistics, and every episode whose actions or proprio hold a NaN or infinity (exit status 1 when there is one).
A dataset or config that cannot be read ends with one line on stderr and exit status 2, so a typo in
``data.path`` is caught here rather than an hour into a job.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np

from foresight import cli
from foresight.config import ConfigError
from foresight.data.config import DataConfig, load_data_config
from foresight.data.normalize import compute_stats, describe_nonfinite, key_values, nonfinite
from foresight.data.source import EpisodeDataset, open_dataset
from foresight.roles import PROPRIO_ROLES, VIEW_ROLES
from foresight.types import ACTION

MAX_INSTRUCTIONS = 3  # per task; CALVIN tasks have many phrasings, listing them all buries the summary


def _dtype(array: Any) -> np.dtype:
    """The dtype of an array or a lazy frame stack (which declares one); reads one frame only if it must."""
    dtype = getattr(array, "dtype", None)
    return np.dtype(dtype) if dtype is not None else np.asarray(array[0]).dtype


def _per_frame_shape(array: Any) -> tuple[int, ...]:
    return tuple(int(n) for n in np.shape(array)[1:]) if hasattr(array, "shape") else np.shape(array[0])


def keys_table(dataset: EpisodeDataset) -> list[tuple[str, tuple[int, ...], np.dtype]]:
    """(name, per-frame shape, dtype) of the actions, each proprio key and each view, from the first episode."""
    first = dataset.episodes[0]
    rows = [(ACTION, _per_frame_shape(first.actions), _dtype(first.actions))]
    rows += [(f"proprio.{k}", _per_frame_shape(v), _dtype(v)) for k, v in first.proprio.items()]
    rows += [(f"images.{k}", _per_frame_shape(v), _dtype(v)) for k, v in first.images.items()]
    return rows


def report(dataset: EpisodeDataset, out: TextIO) -> list[str]:
    """Write the summary of ``dataset`` to ``out``; returns the non-finite-value findings (empty when clean)."""
    episodes = dataset.episodes
    lengths = [ep.length for ep in episodes]
    fps = dataset.info.fps
    print(f"source:   {dataset.describe_source()}", file=out)
    print(f"episodes: {len(episodes)}", file=out)
    print(
        f"frames:   {sum(lengths)} (per episode: min {min(lengths)}, mean {np.mean(lengths):.1f}, max {max(lengths)})"
        + (f" at {fps:g} fps" if fps else ""),
        file=out,
    )
    counts = Counter(ep.task for ep in episodes)
    phrasings: dict[str, Counter[str]] = {}
    for ep in episodes:
        phrasings.setdefault(ep.task, Counter())[ep.instruction] += 1
    print(f"tasks:    {len(counts)}", file=out)
    for index, task in enumerate(dataset.info.tasks):
        print(f"  [{index}] {task} ({counts[task]} episodes)", file=out)
        common = phrasings[task].most_common()
        for instruction, _ in common[:MAX_INSTRUCTIONS]:
            print(f"        {instruction!r}", file=out)
        if len(common) > MAX_INSTRUCTIONS:
            print(f"        ... and {len(common) - MAX_INSTRUCTIONS} more phrasings", file=out)
    print("keys (per frame):", file=out)
    rows = keys_table(dataset)
    width = max(len(name) for name, _, _ in rows)
    for name, shape, dtype in rows:
        print(f"  {name:<{width}}  {shape!s:<16} {dtype}", file=out)
    info = dataset.info
    roles = {**info.view_roles, **info.proprio_roles}
    print("roles (what methods ask for by default; data.roles.<role>=<key> changes one):", file=out)
    for role in (*VIEW_ROLES, *PROPRIO_ROLES):
        print(f"  {role:<8} {roles.get(role, '(none: a method asking for it cannot use this dataset)')}", file=out)
    problems = nonfinite_report(dataset)
    values = np.concatenate([key_values(ep, ACTION, (), check=False) for ep in episodes])
    finite = np.isfinite(values).all(axis=1)
    values = values[finite]
    stats = compute_stats(values)
    left_out = f" ({int((~finite).sum())} with a non-finite value left out)" if not finite.all() else ""
    print(f"action statistics over {len(values)} frames{left_out}:", file=out)
    print(f"  {'dim':>4} {'min':>11} {'max':>11} {'mean':>11} {'std':>11}", file=out)
    for dim in range(values.shape[1]):
        cells = " ".join(f"{float(stats[s][dim]):>11.4g}" for s in ("min", "max", "mean", "std"))
        print(f"  {dim:>4} {cells}", file=out)
    print(f"non-finite values (NaN / inf): {len(problems) or 'none'}", file=out)
    for line in problems:
        print(f"  {line}", file=out)
    return problems


def nonfinite_report(dataset: EpisodeDataset) -> list[str]:
    """One line per episode and key (actions, each proprio key) holding a NaN or infinity: file, episode, where."""
    lines = []
    for ep in dataset.episodes:
        arrays = [("actions", ep.actions), *((f"proprio {k!r}", v) for k, v in ep.proprio.items())]
        for what, array in arrays:
            found = nonfinite(np.asarray(array[:], dtype=np.float64))
            if found is not None:
                lines.append(describe_nonfinite(ep, what, found))
    return lines


def resolved(args: list[str]) -> DataConfig:
    sections, others = cli.split_args(args, "data")
    if others:
        raise ConfigError(f"unexpected arguments {others}: inspect takes data=NAME and data.<key>=value only")
    return load_data_config(sections["data"])


def run(args: list[str]) -> int:
    """Inspect the dataset the ``data=`` arguments describe; 1 when it holds non-finite values."""
    problems = report(open_dataset(resolved(args)), sys.stdout)
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main("data inspect", argv)


if __name__ == "__main__":
    sys.exit(main())
