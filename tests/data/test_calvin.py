"""CALVIN reader on the real-format fixture recorded with calvin_env (tests/fixtures/calvin, see its README)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from foresight.data.calvin import read_calvin, split_folder
from foresight.data.config import DataConfig
from foresight.data.options import CalvinConfig
from foresight.data.source import DataError, open_dataset

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "calvin" / "dataset"


def frame(split: str, frame_id: int) -> np.lib.npyio.NpzFile:
    return np.load(ROOT / split / f"episode_{frame_id:07d}.npz")


def annotations(split: str) -> dict:
    # The official annotation file is a pickled dict: allow_pickle is required for this trusted fixture.
    return np.load(ROOT / split / "lang_annotations" / "auto_lang_ann.npy", allow_pickle=True).item()


@pytest.fixture(scope="module")
def training():
    return open_dataset(DataConfig(name="calvin_fixture", format="calvin", path=str(ROOT), cache_dir="/tmp/unused"))


def test_format_is_detected_from_the_dataset_root():
    ds = open_dataset(DataConfig(name="c", format="auto", path=str(ROOT)))
    assert ds.meta["format"] == "calvin" and ds.meta["split"] == "training"


def test_language_windows_become_episodes(training):
    ann = annotations("training")
    assert len(training.episodes) == len(ann["info"]["indx"]) == 3
    for ep, (start, end), sentence, task in zip(
        training.episodes, ann["info"]["indx"], ann["language"]["ann"], ann["language"]["task"], strict=True
    ):
        assert (ep.meta["first_frame"], ep.meta["last_frame"]) == (start, end)
        assert ep.instruction == sentence and ep.task == task
        assert ep.length == end - start + 1
        with frame("training", int(end)) as last:
            np.testing.assert_array_equal(ep.actions[-1], last["rel_actions"])
    assert training.info.tasks == ("open_drawer", "move_slider_left", "turn_on_led")
    assert training.info.instructions[2] == "turn on the green light"
    assert training.info.fps == 30.0


def test_values_equal_the_npz_files(training):
    ep = training.episodes[1]  # frames 358525..358565
    wanted = [17, 0, 40, 17]  # out of order, repeated: as windows clamp at episode ends
    for key, arr in [("rel_actions", ep.actions), *((k, ep.proprio[k]) for k in ("robot_obs", "scene_obs"))]:
        expected = np.stack([frame("training", 358525 + i)[key] for i in wanted])
        np.testing.assert_array_equal(arr[wanted], expected)
        assert arr[wanted].dtype == np.float64  # the real files hold float64 (fixture README)
    for view, key in (("static", "rgb_static"), ("gripper", "rgb_gripper")):
        expected = np.stack([frame("training", 358525 + i)[key] for i in wanted])
        np.testing.assert_array_equal(ep.images[view][wanted], expected)  # stored upright: unchanged
    assert ep.images["static"].shape == (41, 200, 200, 3)
    assert ep.images["gripper"].shape == (41, 84, 84, 3)
    parts = {"ee_pose": (0, 6), "gripper_width": (6, 7), "joint_states": (7, 14), "gripper_action": (14, 15)}
    assert training.info.proprio_dims == {"robot_obs": 15, "scene_obs": 24} | {k: b - a for k, (a, b) in parts.items()}
    robot = np.stack([frame("training", 358525 + i)["robot_obs"] for i in wanted])
    for key, (a, b) in parts.items():  # robot_obs: tcp pos, tcp orn, gripper width, 7 joints, gripper action
        np.testing.assert_array_equal(ep.proprio[key][wanted], robot[:, a:b])
    assert training.info.view_roles == {"primary": "static", "wrist": "gripper"}
    assert training.info.proprio_roles == {"arm": "joint_states", "gripper": "gripper_width", "eef": "ee_pose"}
    np.testing.assert_array_equal(np.asarray(ep.actions)[5], frame("training", 358530)["rel_actions"])


def test_absolute_actions_validation_split_and_play_episodes():
    folder = ROOT / "validation"
    episodes = read_calvin(folder, CalvinConfig(actions="actions"))
    assert [ep.instruction for ep in episodes] == annotations("validation")["language"]["ann"]
    np.testing.assert_array_equal(episodes[0].actions[3], frame("validation", 553567 + 3)["actions"])
    play = read_calvin(folder, CalvinConfig(episodes="play"))
    ids = np.load(folder / "ep_start_end_ids.npy")
    assert [(ep.meta["first_frame"], ep.meta["last_frame"]) for ep in play] == [tuple(r) for r in ids.tolist()]
    assert {ep.instruction for ep in play} == {""}


def test_resize_matches_torchvision_on_the_raw_frame():
    ep = read_calvin(ROOT / "training", CalvinConfig(), image_size=(64, 48))[0]
    raw = frame("training", 358482 + 4)["rgb_static"]
    expected = TF.resize(torch.from_numpy(raw).permute(2, 0, 1)[None], [64, 48], antialias=True)[0].permute(1, 2, 0)
    assert ep.images["static"].shape == (43, 64, 48, 3)
    np.testing.assert_array_equal(ep.images["static"][4], expected.numpy())


def test_task_filter_and_fingerprint(training):
    only = open_dataset(DataConfig(name="c", format="calvin", path=str(ROOT), tasks=["turn_on_led"]))
    assert [ep.task for ep in only.episodes] == ["turn_on_led"]
    assert only.fingerprint != training.fingerprint
    again = open_dataset(DataConfig(name="calvin_fixture", format="calvin", path=str(ROOT), cache_dir="/tmp/unused"))
    assert again.fingerprint == training.fingerprint
    with pytest.raises(DataError, match=r"data.tasks \['no_such_task'\].*open_drawer"):
        open_dataset(DataConfig(name="c", format="calvin", path=str(ROOT), tasks=["no_such_task"]))


def _linked_split(tmp_path: Path, skip: set[str]) -> Path:
    """A copy of the training split made of symlinks, without the files named in ``skip``."""
    dest = tmp_path / "training"
    dest.mkdir()
    for item in (ROOT / "training").iterdir():
        if item.name not in skip:
            (dest / item.name).symlink_to(item)
    return dest


def test_missing_episode_ids_is_named(tmp_path):
    folder = _linked_split(tmp_path, {"ep_start_end_ids.npy"})
    with pytest.raises(DataError, match=r"missing .*training/ep_start_end_ids\.npy"):
        open_dataset(DataConfig(name="c", format="calvin", path=str(tmp_path)))
    with pytest.raises(DataError, match=r"missing .*training/ep_start_end_ids\.npy"):
        open_dataset(DataConfig(name="c", format="calvin", path=str(folder)))


def test_missing_language_annotations_are_named(tmp_path):
    folder = _linked_split(tmp_path, {"lang_annotations"})
    with pytest.raises(DataError, match=r"missing .*lang_annotations/auto_lang_ann\.npy .*data\.calvin\.episodes=play"):
        read_calvin(folder, CalvinConfig())
    assert len(read_calvin(folder, CalvinConfig(episodes="play"))) == 3


def test_missing_frames_are_named(tmp_path):
    folder = _linked_split(tmp_path, {"episode_0358524.npz"})
    with pytest.raises(DataError, match=r"episode_0358524\.npz is missing \(window ann00000\)"):
        read_calvin(folder, CalvinConfig())


def test_missing_inner_frame_is_named_on_read(tmp_path):
    folder = _linked_split(tmp_path, {"episode_0358530.npz"})
    ep = read_calvin(folder, CalvinConfig())[1]  # frames 358525..358565
    with pytest.raises(DataError, match=r"episode_0358530\.npz is missing"):
        ep.images["static"][[5]]


def test_missing_key_and_bad_options_are_named():
    with pytest.raises(DataError, match=r"episode_0358482\.npz has no key 'rgb_tactile'.*rgb_gripper"):
        read_calvin(ROOT / "training", CalvinConfig(), views={"tactile": "rgb_tactile"})
    with pytest.raises(DataError, match=r"data.calvin.actions='abs'.*'rel_actions', 'actions'"):
        read_calvin(ROOT / "training", CalvinConfig(actions="abs"))
    with pytest.raises(DataError, match=r"no split folder 'test'.*\['training', 'validation'\]"):
        split_folder(ROOT, "test")
