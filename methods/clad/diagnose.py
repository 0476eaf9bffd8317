"""Diagnostics of a trained CLaD dynamics model: UMAP of ``z_dyn`` coloured by task (paper Figure 4) and
representation-collapse statistics (the per-dimension spread of the L2-normalised embeddings).

    python -m foresight.methods.clad.diagnose checkpoint=runs/clad-libero_10 [data=libero_10 data.path=...]
        [out=zdyn_umap.png] [max_samples=2000] [batch_size=64] [device=cpu] [seed=0]

Without ``data=`` the run's own data config is used. Writes the PNG and ``<out>.json`` (the statistics) atomically
and prints the statistics.

Reading the statistics: for N unit vectors spread evenly over the sphere in D dimensions, every coordinate has
standard deviation close to ``1/sqrt(D)``; a collapsed representation (every sample mapped to nearly the same
direction) has per-dimension standard deviations near 0. ``std_ratio`` is the mean std times ``sqrt(D)`` (1 =
evenly spread, 0 = collapsed); ``effective_rank`` is ``exp`` of the entropy of the normalised singular values of
the centred embeddings (how many directions the batch actually uses).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from foresight.config import ConfigError
from foresight.fileio import atomic_write, write_json

DEAD_STD = 1e-4
SVD_FLOOR = 1e-6


def collapse_statistics(embeddings: torch.Tensor) -> dict[str, float]:
    """Spread of ``(N, D)`` embeddings after L2 normalisation (see the module docstring)."""
    if embeddings.ndim != 2 or embeddings.shape[0] < 2:
        raise ValueError(f"need (N >= 2, D) embeddings, got {tuple(embeddings.shape)}")
    unit = torch.nn.functional.normalize(embeddings.double(), dim=-1)
    std = unit.std(dim=0)
    dim = unit.shape[1]
    singular = torch.linalg.svdvals(unit - unit.mean(dim=0))
    singular = singular[singular > SVD_FLOOR * unit.shape[0] ** 0.5]  # rounding noise of a collapsed set
    if singular.numel():
        p = singular / singular.sum()
        effective_rank = float(torch.exp(-(p * p.log()).sum()))
    else:
        effective_rank = 0.0
    return {
        "num_samples": int(unit.shape[0]),
        "dim": int(dim),
        "std_mean": float(std.mean()),
        "std_min": float(std.min()),
        "std_max": float(std.max()),
        "std_ratio": float(std.mean() * dim**0.5),
        "dead_fraction": float((std < DEAD_STD).double().mean()),
        "effective_rank": effective_rank,
    }


def umap_2d(embeddings: np.ndarray, seed: int = 0) -> np.ndarray:
    """``(N, D) -> (N, 2)`` UMAP of the L2-normalised embeddings (cosine geometry, as in the latent loss)."""
    import umap

    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True).clip(min=1e-12)
    neighbours = int(min(15, max(2, len(unit) - 1)))
    return umap.UMAP(n_components=2, n_neighbors=neighbours, random_state=seed, n_jobs=1).fit_transform(unit)


def plot_by_task(points: np.ndarray, labels: np.ndarray, task_names: list[str], path: Path, title: str) -> Path:
    """Scatter ``points`` coloured by task index, with a legend of task names; written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6), dpi=120)
    cmap = plt.get_cmap("tab10" if len(task_names) <= 10 else "tab20")
    for index in np.unique(labels):
        chosen = labels == index
        name = task_names[index] if 0 <= index < len(task_names) else f"task {index}"
        ax.scatter(points[chosen, 0], points[chosen, 1], s=6, color=cmap(int(index) % cmap.N), label=name[:40])
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=6, markerscale=2, loc="best")
    fig.tight_layout()
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    finally:
        plt.close(fig)


@torch.no_grad()
def collect_embeddings(
    method: Any, dataset: Any, normalizer: Any, max_samples: int, batch_size: int, device: str, seed: int
) -> dict[str, torch.Tensor]:
    """``z_dyn``, ``ẑ_p``, ``ẑ_s`` and task indices of up to ``max_samples`` windows drawn evenly at random."""
    from torch.utils.data import DataLoader, Subset

    from foresight.data import WindowDataset
    from foresight.types import TASK_INDEX

    windows = WindowDataset(dataset, method.data_spec("dynamics"), normalizer)
    generator = np.random.default_rng(seed)
    count = min(max_samples, len(windows))
    indices = np.sort(generator.choice(len(windows), size=count, replace=False)).tolist()
    loader = DataLoader(Subset(windows, indices), batch_size=batch_size, shuffle=False)
    out: dict[str, list[torch.Tensor]] = {"z_dyn": [], "proprio": [], "semantic": [], "task": []}
    for batch in loader:
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        foresight = method.plan(method.features.fill(batch))
        out["z_dyn"].append(foresight.extras["z_dyn"].cpu())
        out["proprio"].append(foresight.embeddings["proprio"].cpu())
        out["semantic"].append(foresight.embeddings["semantic"].cpu())
        out["task"].append(batch[TASK_INDEX].cpu())
    return {k: torch.cat(v) for k, v in out.items()}


@dataclass
class DiagnoseConfig:
    """Options besides ``data=`` / ``data.*`` (null data: the dataset the checkpoint was trained on)."""

    checkpoint: str | None = None  # required: a run, stage or checkpoint directory of a CLaD run
    out: str = "zdyn_umap.png"  # the UMAP plot; the statistics go beside it as .json
    max_samples: int = 2000  # windows drawn evenly at random
    batch_size: int = 64
    device: str = "cpu"
    seed: int = 0  # sampling of windows and the UMAP layout


def parse_args(argv: list[str]) -> tuple[DiagnoseConfig, list[str]]:
    from foresight import cli

    sections, rest = cli.split_args(argv, "data")
    options = cli.parse_options(rest, DiagnoseConfig, "diagnose")
    if options.checkpoint is None:
        raise ConfigError("missing checkpoint=<run, stage or checkpoint directory of a CLaD run>")
    return options, sections["data"]


def diagnose(args: list[str]) -> dict[str, Any]:
    """Plot and measure the dynamics latent of a checkpoint; the payload written beside the plot."""
    from foresight.checkpoint import load_policy
    from foresight.config import validate
    from foresight.data import DataConfig, load_data_config, open_dataset
    from foresight.methods.clad.method import CLaD

    options, data_args = parse_args(args)
    loaded = load_policy(options.checkpoint, device=options.device)
    method = loaded.method
    if not isinstance(method, CLaD) or method.dynamics is None:
        raise ConfigError(f"{loaded.path} is not a CLaD checkpoint with a dynamics model (policy.foresight != none)")
    data_cfg = load_data_config(data_args) if data_args else validate(loaded.config.data, DataConfig, "data")
    dataset = open_dataset(data_cfg)
    found = collect_embeddings(
        method, dataset, loaded.normalizer, options.max_samples, options.batch_size, options.device, options.seed,
    )  # fmt: skip
    stats = {name: collapse_statistics(found[name]) for name in ("z_dyn", "proprio", "semantic")}
    out = Path(options.out)
    points = umap_2d(found["z_dyn"].numpy(), seed=options.seed)
    stage, step = loaded.provenance.get("stage", "?"), loaded.provenance.get("step", "?")
    title = f"UMAP of z_dyn ({len(points)} windows, {stage} step {step})"
    plot_by_task(points, found["task"].numpy(), list(dataset.info.tasks), out, title)
    payload = {"checkpoint": str(loaded.path), "umap_png": str(out), "collapse": stats}
    write_json(out.with_suffix(".json"), payload)
    print(f"wrote {out} and {out.with_suffix('.json')}")
    for name, values in stats.items():
        print(
            f"{name:>9}: std_mean={values['std_mean']:.4f} (1/sqrt(D)={values['dim'] ** -0.5:.4f}, "
            f"ratio {values['std_ratio']:.2f}) std_min={values['std_min']:.2e} dead={values['dead_fraction']:.1%} "
            f"effective_rank={values['effective_rank']:.1f}/{min(values['dim'], values['num_samples'])}"
        )
    return payload


def resolved(args: list[str]) -> dict[str, Any]:
    from foresight.data import load_data_config

    options, data_args = parse_args(args)
    data = load_data_config(data_args) if data_args else "(the checkpoint's dataset)"
    return {"options": options, "data": data}


def run(args: list[str]) -> int:
    diagnose(args)
    return 0


def main(argv: list[str] | None = None) -> int:
    from foresight import cli

    return cli.main("diagnose", argv)


if __name__ == "__main__":
    sys.exit(main())
