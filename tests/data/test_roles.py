"""Roles: each reader says which camera is primary / wrist and which proprio key is arm / gripper / eef."""

from __future__ import annotations

import pytest
import torch

from foresight.config import ConfigError
from foresight.data.config import DataConfig
from foresight.data.lerobot import infer_roles
from foresight.data.source import open_dataset
from foresight.roles import assign, resolve
from foresight.types import DatasetInfo


def calvin_like() -> DatasetInfo:
    return DatasetInfo(
        action_dim=7,
        proprio_dims={"robot_obs": 15, "joint_states": 7, "gripper_width": 1},
        image_shapes={"static": (3, 200, 200), "gripper": (3, 84, 84)},
        tasks=("open_drawer",),
        instructions=("open the drawer",),
        view_roles={"primary": "static", "wrist": "gripper"},
        proprio_roles={"arm": "joint_states", "gripper": "gripper_width"},
    )


def test_roles_resolve_to_keys_and_keys_stay_keys():
    info = calvin_like()
    assert info.resolve_views(("primary", "wrist")) == ("static", "gripper")
    assert info.resolve_views(("gripper", "primary")) == ("gripper", "static")  # explicit key, then a role
    assert info.resolve_proprio(("arm", "gripper")) == ("joint_states", "gripper_width")
    assert info.proprio_dim(("arm", "gripper")) == 8
    assert resolve(("arm", "gripper", "robot_obs"), {"state": 8, "robot_obs": 15}, {"arm": "state", "gripper": "state"},
                   "proprio keys") == ("state", "robot_obs")  # fmt: skip


def test_an_unknown_name_is_one_error_naming_keys_and_roles():
    with pytest.raises(ConfigError) as exc:
        calvin_like().resolve_views(("agentview",))
    message = str(exc.value)
    assert "asks for view 'agentview'" in message and "views: ['gripper', 'static']" in message
    assert "primary=static, wrist=gripper" in message and "data.roles.agentview" in message
    with pytest.raises(ConfigError, match="asks for proprio key 'eef'"):
        calvin_like().resolve_proprio(("eef",))


def test_assign_keeps_present_keys_and_applies_overrides():
    declared = {"primary": "agentview", "wrist": "wrist", "arm": "joint_states", "eef": "ee_states"}
    views, proprio = assign(declared, None, ["agentview"], ["joint_states"])
    assert views == {"primary": "agentview"} and proprio == {"arm": "joint_states"}  # absent keys stay unassigned
    views, proprio = assign(declared, {"wrist": "agentview", "eef": "joint_states"}, ["agentview"], ["joint_states"])
    assert views == {"primary": "agentview", "wrist": "agentview"} and proprio["eef"] == "joint_states"
    with pytest.raises(ConfigError, match=r"data.roles.elbow: unknown role"):
        assign({}, {"elbow": "x"}, [], [])
    with pytest.raises(ConfigError, match=r"data.roles.wrist='joint_states' is not a view"):
        assign({}, {"wrist": "joint_states"}, ["agentview"], ["joint_states"])


def test_lerobot_names_are_mapped_by_their_meaning():
    roles = infer_roles(["front", "left_wrist_cam"], ["joint_positions", "gripper_opening", "tcp_pose", "state"])
    assert roles == {
        "wrist": "left_wrist_cam",
        "primary": "front",
        "arm": "joint_positions",
        "gripper": "gripper_opening",
        "eef": "tcp_pose",
    }
    assert infer_roles(["cam_high", "agentview"], ["state"])["primary"] == "agentview"
    assert infer_roles(["hand"], []) == {"wrist": "hand"}


def test_libero_reader_declares_roles_and_data_roles_overrides(tmp_path):
    cfg = DataConfig(name="demo", format="demo", path=str(tmp_path / "demo"))
    cfg.demo.episodes_per_task, cfg.demo.length, cfg.demo.image_size = 1, 4, 8
    info = open_dataset(cfg).info
    assert info.view_roles == {"primary": "agentview", "wrist": "wrist"}
    assert info.proprio_roles == {"arm": "joint_states", "gripper": "gripper_states", "eef": "ee_states"}
    cfg.roles = {"primary": "wrist", "eef": "ee_pos"}
    info = open_dataset(cfg).info
    assert info.view_roles["primary"] == "wrist" and info.proprio_roles["eef"] == "ee_pos"
    assert info.resolve_views(("primary",)) == ("wrist",)


def test_methods_default_to_roles_and_build_on_calvin_keys():
    """dp and CLaD, with their default configs, take CALVIN's cameras and robot_obs parts by role."""
    from foresight.methods.clad import CLaD, CLaDConfig
    from foresight.methods.dp import DiffusionPolicy, DiffusionPolicyConfig

    info = calvin_like()
    dp = DiffusionPolicy(DiffusionPolicyConfig(vision_width=8, hidden_dim=32, num_blocks=1), info)
    spec = dp.data_spec("policy")
    assert spec.views == ("static", "gripper") and spec.proprio_keys == ("joint_states", "gripper_width")
    assert set(dp.image_encoders) == {"static", "gripper"}
    with torch.device("meta"):
        clad = CLaD(CLaDConfig(), info)
    spec = clad.data_spec("policy")
    assert spec.views == ("static",) and spec.proprio_keys == ("joint_states", "gripper_width")
    assert spec.features[0].sources == ("static", "instruction")


def test_a_method_that_cannot_use_a_dataset_says_so_in_one_line(tmp_path, capsys):
    from foresight import cli

    args = ["method=dp", "data=demo", f"data.path={tmp_path / 'demo'}", "data.demo.length=4",
            "data.demo.episodes_per_task=1", "data.views={agentview: agentview_rgb}", f"run_dir={tmp_path / 'run'}",
            "train.steps=1", "train.num_workers=0", "train.logger=none"]  # fmt: skip
    assert cli.main("train", args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("foresight train: error: the method asks for view 'wrist'")
    assert "views: ['agentview']" in err
