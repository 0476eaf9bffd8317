"""Each teacher backend on a tiny random-weight model saved and reloaded: shapes, dtypes, values, ids, errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from teacher_fakes import write_calvin_split

from foresight.data.config import DataConfig
from foresight.data.options import CalvinConfig
from foresight.data.source import open_dataset
from foresight.registry import RegistryError
from foresight.teachers import TeacherError, available_teachers, build_teacher, teacher_outputs
from foresight.teachers.depth import DepthAnythingTeacher
from foresight.teachers.motion import RaftTeacher
from foresight.teachers.semantic import Dinov2Teacher, SamTeacher
from foresight.teachers.tiny import tiny_root

FRAMES = np.random.default_rng(0).integers(0, 256, size=(3, 128, 128, 3), dtype=np.uint8)

# (preset, its base class, expected per-frame shape on 128x128 frames)
BACKENDS = [
    ("depth_anything_tiny", DepthAnythingTeacher, (1, 28, 28)),
    ("sam_tiny", SamTeacher, (16, 4, 4)),
    ("sam2_tiny", SamTeacher, (16, 4, 4)),
    ("dinov2_tiny", Dinov2Teacher, (32, 4, 4)),
    ("raft_tiny", RaftTeacher, (2, 16, 16)),
]


@pytest.mark.parametrize(("name", "base", "shape"), BACKENDS)
def test_tiny_backend_saved_reloaded_shapes_dtypes(name, base, shape):
    teacher = build_teacher(name)
    out = teacher_outputs(teacher, FRAMES, batch_size=2)
    assert out.shape == (3, *shape) and out.dtype == np.float16 and np.isfinite(out).all()
    assert out.astype(np.float32).std() > 0  # not a constant: the random weights really ran
    folder = tiny_root() / name.removesuffix("_tiny")
    assert folder.is_dir() and any(p.suffix == ".safetensors" for p in folder.iterdir())
    # The base class loading the saved folder (a user's own weights path) gives the same outputs.
    kwargs = {"num_flow_updates": 2} if base is RaftTeacher else {}
    reloaded = base(path=str(folder), **{**_tiny_defaults(name), **kwargs}).eval()
    np.testing.assert_array_equal(teacher_outputs(reloaded, FRAMES, batch_size=2), out)
    assert reloaded.teacher_id.split(":")[1] == teacher.teacher_id.split(":")[1]  # same weights digest


def _tiny_defaults(name: str) -> dict:
    return {
        "depth_anything_tiny": {"resolution": (28, 28)},
        "sam_tiny": {"pool": 4},
        "sam2_tiny": {"pool": None},
        "dinov2_tiny": {"pool": None},
        "raft_tiny": {},
    }[name]


def test_presets_are_listed_and_unknown_names_suggest():
    names = available_teachers()
    for expected in ("depth_anything", "sam", "dinov2", "raft", "cotracker", "calvin_depth", "raft_tiny"):
        assert expected in names
    with pytest.raises(RegistryError, match=r"unknown teacher 'dinov_tiny'.*Did you mean 'dinov2_tiny'"):
        build_teacher("dinov_tiny")
    with pytest.raises(TypeError, match=r"teacher 'sam_tiny' .*unexpected keyword argument 'pooll'"):
        build_teacher("sam_tiny", pooll=2)


def test_teacher_id_follows_weights_resolution_grid_and_gap(tmp_path):
    build_teacher("dinov2_tiny")  # writes the tiny model on first use: this test may run before any other
    folder = tiny_root() / "dinov2"
    base = Dinov2Teacher(str(folder), pool=None)
    assert Dinov2Teacher(str(folder), pool=None).teacher_id == base.teacher_id
    assert Dinov2Teacher(str(folder), pool=2).teacher_id != base.teacher_id
    assert Dinov2Teacher(str(folder), input_size=[70, 70], pool=None).teacher_id != base.teacher_id
    copy = tmp_path / "dinov2"
    shutil.copytree(folder, copy)
    assert Dinov2Teacher(str(copy), pool=None).teacher_id == base.teacher_id  # content, not path
    weights = load_file(str(copy / "model.safetensors"))
    first = sorted(weights)[0]
    weights[first] = weights[first] + 1.0
    save_file(weights, str(copy / "model.safetensors"), metadata={"format": "pt"})
    assert Dinov2Teacher(str(copy), pool=None).teacher_id != base.teacher_id
    raft = build_teacher("raft_tiny")
    assert build_teacher("raft_tiny", gap=1).teacher_id != raft.teacher_id
    assert build_teacher("raft_tiny", grid=16).teacher_id != raft.teacher_id


def test_dinov2_pooling_is_the_mean_of_the_native_grid():
    native = teacher_outputs(build_teacher("dinov2_tiny"), FRAMES).astype(np.float32)  # (3, 32, 4, 4)
    pooled = teacher_outputs(build_teacher("dinov2_tiny", pool=2), FRAMES).astype(np.float32)
    expected = native.reshape(3, 32, 2, 2, 2, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(pooled, expected, atol=2e-3)


def test_dinov2_grid_equals_the_models_patch_tokens():
    teacher = build_teacher("dinov2_tiny")
    frames = torch.from_numpy(FRAMES).permute(0, 3, 1, 2)
    x = F.interpolate(frames.float() / 255, size=(56, 56), mode="bilinear", antialias=True, align_corners=False)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    x = (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    with torch.no_grad():
        tokens = teacher.model(pixel_values=x).last_hidden_state[:, 1:]  # (3, 16, 32): CLS first, then row-major
    expected = tokens.reshape(3, 4, 4, 32).permute(0, 3, 1, 2).to(torch.float16).numpy()
    np.testing.assert_array_equal(teacher_outputs(teacher, FRAMES), expected)


def test_depth_resolution_is_chosen_by_the_consumer():
    native = build_teacher("depth_anything_tiny", resolution=None)
    out = teacher_outputs(native, FRAMES)
    assert out.shape == (3, 1, 56, 56)  # the model's own output size at its 56x56 input
    small = teacher_outputs(build_teacher("depth_anything_tiny", resolution=[14, 14]), FRAMES).astype(np.float32)
    expected = F.interpolate(
        torch.from_numpy(out.astype(np.float32)), size=(14, 14), mode="bilinear", antialias=True, align_corners=False
    )
    np.testing.assert_allclose(small, expected.numpy(), rtol=1e-2, atol=1e-2)


def test_calvin_recorded_depth_is_read_as_ground_truth(tmp_path):
    depth = write_calvin_split(tmp_path / "training")
    cfg = DataConfig(name="c", format="calvin", path=str(tmp_path), calvin=CalvinConfig(episodes="play"))
    ds = open_dataset(cfg)
    native = build_teacher("calvin_depth", resolution=None)
    out = teacher_outputs(native, native.read(ds.episodes[1], "static"))
    expected = np.stack([depth[f] for f in range(103, 107)])[:, None].astype(np.float16)
    np.testing.assert_array_equal(out, expected)
    gripper = teacher_outputs(native, native.read(ds.episodes[0], "gripper"))
    assert gripper.shape == (3, 1, 8, 8) and gripper.dtype == np.float16
    pooled = build_teacher("calvin_depth", resolution=10)
    assert teacher_outputs(pooled, pooled.read(ds.episodes[0], "static")).shape == (3, 1, 10, 10)
    with pytest.raises(TeacherError, match=r"no depth key for view 'side'"):
        native.read(ds.episodes[0], "side")


def test_a_folder_that_is_not_a_model_is_named(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(TeacherError, match=r"teacher 'dinov2': .* is not a model folder \(no config.json in it\)"):
        build_teacher("dinov2", path=str(tmp_path))
    with pytest.raises(TeacherError, match=r"model path .*missing does not exist"):
        build_teacher("depth_anything", path=str(tmp_path / "missing"))
    with pytest.raises(TeacherError, match=r"hub id 'nobody/no-such-model' is not in the local Hugging Face cache"):
        build_teacher("sam", path="nobody/no-such-model")
    with pytest.raises(TeacherError, match=r"is not a model folder: expected exactly one .safetensors/.pt/.pth"):
        build_teacher("raft", path=str(tmp_path))
    other = tmp_path / "other"
    build_teacher("sam_tiny")  # writes the tiny model on first use: this test may run before any other
    shutil.copytree(tiny_root() / "sam", other)
    with pytest.raises(TeacherError, match=r"holds a 'sam' model; this teacher loads \['dinov2'\]"):
        build_teacher("dinov2", path=str(other))
    (other / "model.safetensors").unlink()
    with pytest.raises(TeacherError, match=r"teacher 'sam': cannot load .*other: .*no file named model.safetensors"):
        build_teacher("sam", path=str(other))


def test_image_sizes_the_model_cannot_take_are_named():
    with pytest.raises(TeacherError, match=r"input_size \[50, 50\] is not a positive multiple of the patch size 14; "):
        build_teacher("dinov2_tiny", input_size=[50, 50])
    with pytest.raises(TeacherError, match=r"use e.g. input_size=\[56, 56\]"):
        build_teacher("depth_anything_tiny", input_size=[60, 60])
    raft = build_teacher("raft_tiny")
    with pytest.raises(TeacherError, match=r"RAFT cannot take 64x64 frames .* set input_size=\[128, 128\]"):
        teacher_outputs(raft, FRAMES[:, :64, :64])
    with pytest.raises(TeacherError, match=r"not a positive multiple of RAFT's stride 8"):
        teacher_outputs(raft, np.zeros((2, 132, 132, 3), np.uint8))


def test_a_plugin_teacher_loads_through_its_entry_point(monkeypatch):
    from importlib import metadata

    from foresight.teachers import registry

    point = metadata.EntryPoint(
        name="plugin_colour", value="teacher_fakes:PluginColourTeacher", group=registry.TEACHER_GROUP
    )
    monkeypatch.setattr(registry.TEACHERS, "_entry_points", lambda: {"plugin_colour": point})
    assert "plugin_colour" in available_teachers()
    teacher = build_teacher("plugin_colour", scale=3.0)
    assert type(teacher).__name__ == "PluginColourTeacher" and teacher.scale == 3.0
    assert teacher.teacher_id.startswith("plugin_colour:")


def test_a_weights_file_of_another_model_is_named(tmp_path):
    save_file({"weight": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(TeacherError, match=r"other.safetensors is not a raft_small state dict"):
        build_teacher("raft", path=str(tmp_path / "other.safetensors"))
    (tmp_path / "broken.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(TeacherError, match=r"cannot read weights .*broken.pth"):
        build_teacher("raft", path=str(tmp_path / "broken.pth"))


def test_command_line_error_is_one_line_and_exit_code_2(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "foresight.data.cache", "teacher=dinov2", f"teacher.path={tmp_path}", "data=demo"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"foresight data cache: error: teacher 'dinov2': {tmp_path} is not a model folder (no config.json in it); "
        "point path= at a folder "
        "written by save_pretrained, or at a hub id already in the local Hugging Face cache"
    ]
