"""Collapse statistics and the UMAP figure of ``python -m foresight.methods.clad.diagnose``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from foresight.config import ConfigError
from foresight.methods.clad.diagnose import collapse_statistics, parse_args, plot_by_task, umap_2d


def test_a_collapsed_representation_has_zero_spread():
    same = torch.tensor([[1.0, 2.0, 3.0]]).repeat(50, 1) * torch.rand(50, 1)  # one direction, any length
    stats = collapse_statistics(same)
    assert stats["std_mean"] == pytest.approx(0.0, abs=1e-7)
    assert stats["dead_fraction"] == 1.0 and stats["effective_rank"] == 0.0


def test_isotropic_embeddings_spread_like_uniform_points_on_the_sphere():
    x = torch.randn(4000, 16, generator=torch.Generator().manual_seed(0))
    stats = collapse_statistics(x)
    assert stats["std_ratio"] == pytest.approx(1.0, abs=0.03)  # coordinate std of uniform unit vectors: 1/sqrt(D)
    assert stats["dead_fraction"] == 0.0
    assert stats["effective_rank"] > 15  # all 16 directions used


def test_a_rank_two_representation_has_effective_rank_two():
    basis = torch.randn(2, 32, generator=torch.Generator().manual_seed(1))
    coeff = torch.randn(500, 2, generator=torch.Generator().manual_seed(2))
    # a rank-two subspace through the origin; after normalisation still within span, so about 2 directions
    stats = collapse_statistics(coeff @ basis)
    assert 1.5 < stats["effective_rank"] < 2.5


def test_plot_writes_a_png_atomically(tmp_path):
    points = np.random.default_rng(0).normal(size=(30, 2))
    labels = np.arange(30) % 3
    out = plot_by_task(points, labels, ["a", "b", "c"], tmp_path / "fig" / "umap.png", "title")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert sorted(p.name for p in out.parent.iterdir()) == ["umap.png"]  # no temporary file left behind


def test_arguments_are_checked():
    options, data = parse_args(["checkpoint=runs/x", "data=demo", "data.path=/d", "max_samples=10"])
    assert options.checkpoint == "runs/x" and options.max_samples == 10 and data == ["data=demo", "data.path=/d"]
    with pytest.raises(ConfigError, match="missing checkpoint="):
        parse_args(["data=demo"])
    with pytest.raises(ConfigError, match=r"unknown key 'samples' in diagnose\. Did you mean 'max_samples'"):
        parse_args(["checkpoint=x", "samples=3"])


@pytest.mark.slow
def test_umap_separates_two_well_separated_clusters():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 8)) * 0.05 + np.eye(8)[0]
    b = rng.normal(size=(40, 8)) * 0.05 + np.eye(8)[1]
    points = umap_2d(np.concatenate([a, b]), seed=0)
    assert points.shape == (80, 2)
    gap = np.linalg.norm(points[:40].mean(0) - points[40:].mean(0))
    assert gap > 3 * max(points[:40].std(0).max(), points[40:].std(0).max())
