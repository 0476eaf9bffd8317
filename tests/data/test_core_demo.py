"""The demo dataset: built once and reused, content a pure function of its config, read as LIBERO files are."""

from __future__ import annotations

import h5py
import numpy as np

from foresight.data.config import load_data_config
from foresight.data.demo import MANIFEST, build_demo_dataset, render, task_names
from foresight.data.source import open_dataset

SMALL = {"num_tasks": 2, "episodes_per_task": 2, "length": 6, "image_size": 16, "seed": 0}


def contents(folder) -> dict[str, np.ndarray]:
    arrays = {}
    for path in sorted(folder.glob("*_demo.hdf5")):
        with h5py.File(path, "r") as f:
            f["data"].visititems(
                lambda name, obj, p=path: (
                    arrays.__setitem__(f"{p.name}/{name}", obj[()]) if isinstance(obj, h5py.Dataset) else None
                )
            )
    return arrays


def test_second_build_reuses_the_files(tmp_path):
    folder = build_demo_dataset(tmp_path / "demo", **SMALL)
    files = sorted(folder.glob("*_demo.hdf5"))
    assert [f.name for f in files] == sorted(f"{t}_demo.hdf5" for t in task_names(2))
    mtimes = [f.stat().st_mtime_ns for f in [*files, folder / MANIFEST]]
    assert build_demo_dataset(folder, **SMALL) == folder
    assert [f.stat().st_mtime_ns for f in [*files, folder / MANIFEST]] == mtimes


def test_content_is_a_pure_function_of_the_config(tmp_path):
    a = contents(build_demo_dataset(tmp_path / "a", **SMALL))
    b = contents(build_demo_dataset(tmp_path / "b", **SMALL))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    c = contents(build_demo_dataset(tmp_path / "c", **{**SMALL, "seed": 1}))
    actions = [k for k in a if k.endswith("/actions")]
    assert not all(np.array_equal(a[k], c[k]) for k in actions)
    # other arguments in the same folder rebuild it
    rebuilt = contents(build_demo_dataset(tmp_path / "a", **{**SMALL, "seed": 1}))
    assert all(np.array_equal(rebuilt[k], c[k]) for k in c)


def test_demo_reads_upright_and_actions_follow_the_expert(tmp_path):
    cfg = load_data_config(
        [
            "data=demo",
            f"data.path={tmp_path / 'demo'}",
            "data.demo.length=6",
            "data.demo.episodes_per_task=1",
            "data.demo.image_size=16",
        ]
    )
    ds = open_dataset(cfg)
    assert ds.source == f"demo:{tmp_path / 'demo'}"
    assert ds.info.instructions == ("reach the green dot", "reach the red dot")  # files in name order
    for episode in ds.episodes:
        p = episode.proprio["ee_pos"][:, :2].astype(np.float64)
        # the expert moves 0.1 * action per step, so consecutive positions differ by 0.1 * action[:2]
        np.testing.assert_allclose(p[1:] - p[:-1], 0.1 * episode.actions[:-1, :2], atol=1e-6)
        with h5py.File(episode.meta["file"], "r", locking=False) as f:
            stored = f[f"data/{episode.meta['demo']}/obs/agentview_rgb"][0]
        assert np.array_equal(episode.images["agentview"][0], stored[::-1])  # stored as OpenGL renders
    # the reader's frame 0 is the upright top view: the dots are drawn where render() puts them
    first = ds.episodes[0]
    with h5py.File(first.meta["file"], "r", locking=False) as f:
        dots = f[f"data/{first.meta['demo']}/states"][0, 2:].reshape(-1, 2)
    p0 = first.proprio["ee_pos"][0, :2].astype(np.float64)
    closed = bool(first.actions[0, 6] > 0)
    expected = render(p0, dots, 16, closed, zoom=1.0, centre=np.zeros(2))
    assert np.array_equal(first.images["agentview"][0], expected)
