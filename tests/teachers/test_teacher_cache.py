"""Teacher targets in the cache: bit-identical to computing on the fly, rebuilt on a new teacher_id, resumable,
sized before building, refused when the disk would fill, read at a DataSpec's offsets."""

from __future__ import annotations

import json
import shutil
from collections import namedtuple

import numpy as np
import pytest
import torch
from teacher_fakes import LENGTHS, MeanColourTeacher, make_dataset

from foresight.data.cache import FeatureCache
from foresight.data.cache import main as cache_main
from foresight.data.config import DataConfig
from foresight.data.normalize import Normalizer
from foresight.data.source import DataError, open_dataset
from foresight.data.windows import WindowDataset
from foresight.teachers import Teacher, TeacherError, build_teacher, make_teacher_id, register_teacher, teacher_outputs
from foresight.teachers.cache import ensure_teacher_cache, target_extras
from foresight.types import DataSpec, TeacherSpec, target_key

SPEC = TeacherSpec(name="colour", teacher="test_mean_colour_teacher", sources=("front", "wrist"), offsets=(0,))


def build(ds, spec=SPEC, teacher=None, root=None, **kwargs):
    return ensure_teacher_cache(
        ds, spec, batch_size=3, teacher=teacher, root=root, progress=False, log=lambda _: None, **kwargs
    )


@pytest.mark.parametrize(
    ("name", "shape"), [("depth_anything_tiny", (1, 28, 28)), ("sam_tiny", (16, 4, 4)), ("dinov2_tiny", (32, 4, 4))]
)
def test_cache_round_trip_is_bit_identical_to_on_the_fly(tmp_path, name, shape):
    ds = make_dataset()
    spec = TeacherSpec(name="t", teacher=name, sources=("front", "wrist"), offsets=(0,))
    cache = build(ds, spec, root=tmp_path).bind(ds)
    teacher = build_teacher(name)
    for e, episode in enumerate(ds.episodes):
        for view in ("front", "wrist"):
            expected = teacher_outputs(teacher, teacher.read(episode, view), batch_size=3)
            got = cache.lookup(e, np.arange(episode.length), view)
            assert got.shape == (episode.length, *shape) and got.dtype == np.float16
            np.testing.assert_array_equal(got, expected)
    entry = json.loads((cache.directory / "manifest.json").read_text())["sources"]["front"]
    assert entry == {"shape": list(shape), "dtype": "float16", "complete": True}


def test_second_call_computes_nothing_and_a_new_teacher_id_rebuilds(tmp_path):
    ds = make_dataset()
    first = build(ds, teacher=MeanColourTeacher(), root=tmp_path)
    again = MeanColourTeacher()
    assert build(ds, teacher=again, root=tmp_path).directory == first.directory and again.calls == 0
    changed = MeanColourTeacher(scale=2.0)
    rebuilt = build(ds, teacher=changed, root=tmp_path)
    assert rebuilt.directory != first.directory and changed.frames == 2 * sum(LENGTHS) + 2  # + a dry-run frame each
    np.testing.assert_array_equal(
        rebuilt.lookup(1, [0, 6], "front").astype(np.float32),
        (first.lookup(1, [0, 6], "front").astype(np.float32) * 2),
    )
    # The values are the mean colour, checked by hand.
    pixels = ds.episodes[2].images["wrist"][3].astype(np.float32)
    np.testing.assert_allclose(first.lookup(2, [3], "wrist")[0], pixels.mean(axis=(0, 1)) / 255, rtol=1e-3)


def test_interrupted_build_resumes_without_recomputing_finished_episodes(tmp_path):
    ds = make_dataset()
    reference = build(ds, teacher=MeanColourTeacher(), root=tmp_path / "a")
    # dry runs: one call per source; then front: episode 0 (2 batches of 3), episode 1 (3 batches) dies after 1
    with pytest.raises(KeyboardInterrupt):
        build(ds, teacher=MeanColourTeacher(fail_after=2 + 2 + 1), root=tmp_path / "b")
    partial = next((tmp_path / "b").iterdir())
    assert np.load(partial / "front.done.npy").tolist() == [True, False, False]
    assert FeatureCache(partial).sources == []  # nothing half-written looks complete
    assert json.loads((partial / "manifest.json").read_text())["sources"]["front"]["complete"] is False
    resumed_teacher = MeanColourTeacher()
    resumed = build(ds, teacher=resumed_teacher, root=tmp_path / "b")
    # front: episodes 1 and 2 only (7 + 4 frames); wrist: all; plus one dry-run frame per source
    assert resumed_teacher.frames == (7 + 4) + sum(LENGTHS) + 2
    for view in ("front", "wrist"):
        np.testing.assert_array_equal(
            np.load(resumed.directory / f"{view}.npy"), np.load(reference.directory / f"{view}.npy")
        )


def test_size_is_printed_before_building(tmp_path):
    lines = []
    ensure_teacher_cache(
        make_dataset(), SPEC, teacher=MeanColourTeacher(), root=tmp_path, progress=False, log=lines.append
    )
    text = "\n".join(lines)
    # mean colour: 3 float16 = 6 bytes per frame, 16 frames -> 96 bytes per source
    assert "front: [3] float16, 6 B/frame x 16 frames = 96 B (96 B still to compute)" in text
    assert "wrist: [3] float16, 6 B/frame x 16 frames = 96 B" in text


def test_disk_space_refusal_names_the_size_and_options_and_writes_nothing(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**12, 10**12 - 1000, 1000))
    root = tmp_path / "cache"
    with pytest.raises(TeacherError) as info:
        build(make_dataset(), teacher=MeanColourTeacher(), root=root, min_free_bytes=900)
    message = str(info.value)
    assert "need 192 B on disk and would leave 808 B free" in message
    assert "safe margin of 900 B" in message
    for option in ("teacher.pool=", "smaller model variant", "sources=[...]", "FORESIGHT_CACHE=", "min_free_gb="):
        assert option in message
    assert not root.exists()


def test_image_size_error_surfaces_before_anything_is_written(tmp_path):
    spec = TeacherSpec(name="flow", teacher="raft_tiny", sources=("front",), offsets=(0,))
    with pytest.raises(TeacherError, match="RAFT cannot take 16x16 frames"):
        build(make_dataset(), spec, root=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_bad_sources_are_named(tmp_path):
    spec = TeacherSpec(name="c", teacher="test_mean_colour_teacher", sources=("side",), offsets=(0,))
    with pytest.raises(DataError, match=r"source 'side' is not a view of memory; expected one of \['front', 'wrist'\]"):
        build(make_dataset(), spec, root=tmp_path)


def test_window_dataset_reads_targets_at_future_offsets(tmp_path):
    ds = make_dataset()
    ds.cache_dir = str(tmp_path / "stats")
    target = TeacherSpec(name="colour", teacher="test_mean_colour_teacher", sources=("front",), offsets=(3,))
    spec = DataSpec(obs_offsets=(0, 3), action_offsets=(0,), views=("front",), targets=(target,))
    extras = target_extras(ds, spec, root=tmp_path, progress=False, log=lambda _: None)
    windows = WindowDataset(ds, spec, Normalizer.from_dataset(ds, spec, cache=False), extras=extras)
    teacher = MeanColourTeacher()
    for index, (episode, t) in [(0, (0, 0)), (3, (0, 3)), (6, (1, 1))]:
        sample = windows[index]
        frame = min(t + 3, LENGTHS[episode] - 1)
        expected = teacher_outputs(teacher, ds.episodes[episode].images["front"][[frame]])
        assert sample[target_key("colour", "front")].shape == (1, 3)
        torch.testing.assert_close(sample[target_key("colour", "front")], torch.from_numpy(expected))
    with pytest.raises(ValueError, match=r"teacher target 'colour': offsets \(3,\) must be non-empty and among"):
        DataSpec(obs_offsets=(0,), action_offsets=(0,), targets=(target,))


def test_command_line_estimates_builds_and_reuses(tmp_path, capsys):
    demo = tmp_path / "demo"
    open_dataset(_demo_config(demo))
    args = [
        "teacher=dinov2_tiny",
        "teacher.pool=2",
        "data=demo",
        f"data.path={demo}",
        "data.demo.episodes_per_task=1",
        "data.demo.length=6",
        "data.demo.image_size=32",
        f"root={tmp_path / 'targets'}",
        "sources=[agentview]",
    ]
    assert cache_main(args) == 0
    out = capsys.readouterr().out
    assert "agentview: [32, 2, 2] float16, 256 B/frame x 12 frames = 3.0 KiB" in out
    assert "2 episodes, 12 frames" in out
    assert cache_main(args) == 0
    assert "still to compute" not in capsys.readouterr().out  # complete: nothing estimated, nothing computed
    assert cache_main([*args, "sourcez=[x]"]) == 2
    assert "unknown key 'sourcez' in cache. Did you mean 'sources'?" in capsys.readouterr().err


def _demo_config(path):
    cfg = DataConfig(name="demo", format="demo", path=str(path), val_fraction=0.0)
    cfg.demo.episodes_per_task, cfg.demo.length, cfg.demo.image_size = 1, 6, 32
    return cfg


@register_teacher("test_edges")
class EdgeTeacher(Teacher):
    """The uint8 example of docs/teachers.md ("Plugging in another teacher")."""

    storage_dtype = torch.uint8

    def __init__(self, threshold: int = 40):
        super().__init__()
        self.threshold = threshold
        self.teacher_id = make_teacher_id(self.name, "none", threshold=threshold)

    def compute(self, inputs):
        grey = inputs.float().mean(1, keepdim=True)
        return ((grey[..., 1:, :] - grey[..., :-1, :]).abs() > self.threshold).to(torch.uint8)


def test_uint8_targets_are_stored_as_uint8(tmp_path):
    ds = make_dataset()
    spec = TeacherSpec(name="edges", teacher="test_edges", sources=("front",), offsets=(0,))
    cache = build(ds, spec, root=tmp_path)
    assert cache.manifest["sources"]["front"] == {"shape": [1, 15, 16], "dtype": "uint8", "complete": True}
    frames = ds.episodes[1].images["front"].astype(np.float32).mean(-1)
    expected = (np.abs(frames[:, 1:] - frames[:, :-1]) > 40).astype(np.uint8)[:, None]
    got = cache.lookup(1, np.arange(7), "front")
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)
    assert (cache.directory / "front.npy").stat().st_size < 7 * 16 * 16 * 2 + 16 * 15 * 16 + 200  # 1 byte a value
