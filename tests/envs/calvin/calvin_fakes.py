"""A stand-in for calvin_env's ``PlayTableSimEnv`` and a scripted policy, to drive the CALVIN adapter without it.

The fake keeps the door, drawer and light states of ``scene_obs`` and answers ``get_info()`` in calvin_env's
layout (``scene_info.doors.<joint>.current_state``, ``lights.<name>.logical_state``, blocks resting on the table
with contact tuples), so the real task oracle decides success. Its dynamics are trivial and exact:

* action[0] moves the drawer by ``0.035 * a`` (open_drawer needs 4 full steps to exceed 0.12),
* action[1] moves the sliding door by ``0.035 * a`` (move_slider_left needs 5 steps to exceed 0.15),
* action[2] > 0.5 toggles the light bulb, < -0.5 toggles the LED (one step).

Like calvin_env it asserts that the gripper command is exactly +-1 and echoes it in ``robot_obs[14]``, and its
observation is built the same way: ``get_obs()`` = ``get_camera_obs()`` (rendering each of ``self.cameras``, which
the fake counts) + ``get_state_obs()``, called at the end of ``reset`` and ``step``.
Importable by spawned evaluation workers (pytest puts this folder on ``sys.path``, ``spawn`` passes it on).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from foresight.checkpoint import LoadedPolicy
from foresight.data import Normalizer
from foresight.envs.calvin.oracle import load_task_definitions
from foresight.envs.calvin.resources import TASKS, data_file
from foresight.interfaces import Budget, Method, Stage
from foresight.types import ACTION, INSTRUCTION, STATE, TASK_INDEX, DatasetInfo, DataSpec

STEP = 0.035  # no multiple of it lies on an oracle threshold (0.12, 0.15): no float ties
ROBOT_UID, TABLE_UID = 0, 5
# An initial condition in the official sequences' vocabulary: drawer closed, both lights off.
CLOSED_DARK = {
    "led": 0,
    "lightbulb": 0,
    "slider": "right",
    "drawer": "closed",
    "red_block": "table",
    "blue_block": "slider_left",
    "pink_block": "table",
    "grasped": 0,
}
BLOCK_UIDS = {"block_red": 2, "block_blue": 3, "block_pink": 4}
BLOCK_SLICES = {"block_red": slice(6, 12), "block_blue": slice(12, 18), "block_pink": slice(18, 24)}
TABLE_LINKS = {"base_link": -1, "plank_link": 6, "drawer_link": 3, "slide_link": 2}


def _contact(body_a: int, body_b: int, link_b: int) -> list[Any]:
    """A pybullet contact point (14 fields); the oracle reads index 2 (other body) and 4 (its link)."""
    return [0, body_a, body_b, -1, link_b, [0, 0, 0], [0, 0, 0], [0, 0, 1], 0.0, 1.0, 0.0, [1, 0, 0], 0.0, [0, 1, 0]]


def _yaw_quaternion(yaw: float) -> list[float]:
    return [0.0, 0.0, float(np.sin(yaw / 2)), float(np.cos(yaw / 2))]


class FakeRobot:
    def __init__(self) -> None:
        self.gripper_action = -1  # as if a previous chain ended with the gripper closed


class FakeCamera:
    """calvin_env's camera interface (``name``, ``render() -> (rgb, depth)``); frames show the scene's doors."""

    def __init__(self, table: FakePlayTable, name: str, size: int, door: int) -> None:
        self.table, self.name, self.size, self.door = table, name, size, door

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        self.table.renders.append((len(self.table.actions), self.name))
        level = np.uint8(round(100 * self.table.scene_obs[self.door]) % 256)
        rgb = np.full((self.size, self.size, 3), level, dtype=np.uint8)
        if self.name == "static":
            rgb[0] = 255  # top row marked
        return rgb, np.zeros((self.size, self.size), np.float32)


class FakePlayTable:
    """Records every reset and step it receives, for the tests to check what the adapter sent."""

    def __init__(self, config: Any = None) -> None:
        self.config = config
        # the static image shows the drawer's opening, the gripper's the sliding door's position
        self.cameras = [FakeCamera(self, "static", 200, door=1), FakeCamera(self, "gripper", 84, door=0)]
        self.renders: list[tuple[int, str]] = []  # (steps taken so far, camera) per render
        self.robot = FakeRobot()
        self.cid = 0
        self.resets: list[dict[str, Any]] = []
        self.actions: list[np.ndarray] = []
        self.info_calls = 0
        self.closed = False

    def reset(self, robot_obs: np.ndarray | None = None, scene_obs: np.ndarray | None = None) -> dict[str, Any]:
        assert robot_obs is not None and scene_obs is not None, "CALVIN evaluation resets to explicit states"
        self.resets.append(
            {"robot_obs": np.array(robot_obs), "scene_obs": np.array(scene_obs), "gripper": self.robot.gripper_action}
        )
        self.robot_obs = np.array(robot_obs, dtype=np.float64)
        self.scene_obs = np.array(scene_obs, dtype=np.float64)
        self.robot_obs[14] = self.robot.gripper_action
        return self.get_obs()

    def step(self, action: np.ndarray) -> tuple[dict[str, Any], int, bool, dict[str, Any]]:
        assert isinstance(action, np.ndarray) and action.shape == (7,)
        assert action[6] in (-1, 1), "calvin_env asserts the gripper command is exactly +-1"
        self.actions.append(action.copy())
        self.robot.gripper_action = action[6]
        self.robot_obs[:3] += STEP * action[:3]
        self.robot_obs[14] = action[6]
        self.scene_obs[1] = float(np.clip(self.scene_obs[1] + STEP * action[0], 0.0, 0.24))
        self.scene_obs[0] = float(np.clip(self.scene_obs[0] + STEP * action[1], 0.0, 0.56))
        if action[2] > 0.5:
            self.scene_obs[4] = 1.0 - self.scene_obs[4]
            self.scene_obs[3] = 0.088 * self.scene_obs[4]
        elif action[2] < -0.5:
            self.scene_obs[5] = 1.0 - self.scene_obs[5]
        return self.get_obs(), 0, False, self.get_info()

    def get_camera_obs(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        rgb_obs, depth_obs = {}, {}
        for camera in self.cameras:
            rgb, depth = camera.render()
            rgb_obs[f"rgb_{camera.name}"] = rgb
            depth_obs[f"depth_{camera.name}"] = depth
        return rgb_obs, depth_obs

    def get_state_obs(self) -> dict[str, Any]:
        return {"robot_obs": self.robot_obs.copy(), "scene_obs": self.scene_obs.copy()}

    def get_obs(self) -> dict[str, Any]:
        rgb_obs, depth_obs = self.get_camera_obs()
        return {"rgb_obs": rgb_obs, "depth_obs": depth_obs, **self.get_state_obs()}

    def get_info(self) -> dict[str, Any]:
        self.info_calls += 1
        blocks = {}
        for name, uid in BLOCK_UIDS.items():
            pose = self.scene_obs[BLOCK_SLICES[name]]
            blocks[name] = {
                "current_pos": tuple(pose[:3]),
                "current_orn": _yaw_quaternion(pose[5]),
                "current_lin_vel": (0.0, 0.0, 0.0),
                "current_ang_vel": (0.0, 0.0, 0.0),
                "contacts": (tuple(_contact(uid, TABLE_UID, TABLE_LINKS["base_link"])),),
                "uid": uid,
            }
        return {
            "robot_info": {"uid": ROBOT_UID, "contacts": (), "gripper_action": self.robot.gripper_action},
            "scene_info": {
                "fixed_objects": {"table": {"uid": TABLE_UID, "links": dict(TABLE_LINKS), "contacts": ()}},
                "movable_objects": blocks,
                "doors": {
                    "base__slide": {"current_state": float(self.scene_obs[0])},
                    "base__drawer": {"current_state": float(self.scene_obs[1])},
                },
                "buttons": {"base__button": {"joint_state": 0.0, "logical_state": int(self.scene_obs[5])}},
                "switches": {"base__switch": {"joint_state": float(self.scene_obs[3]), "logical_state": 0}},
                "lights": {
                    "lightbulb": {"logical_state": int(self.scene_obs[4])},
                    "led": {"logical_state": int(self.scene_obs[5])},
                },
            },
        }

    def close(self) -> None:
        self.closed = True


def fake_sim(config: Any) -> FakePlayTable:
    """The ``sim_factory`` the tests give :class:`~foresight.envs.calvin.CalvinEnv`."""
    return FakePlayTable(config)


SCRIPT = {
    "pull the handle to open the drawer": (1.0, 0.0, 0.0),
    "push the handle to close the drawer": (-1.0, 0.0, 0.0),
    "push the sliding door to the left side": (0.0, 1.0, 0.0),
    "push the sliding door to the right side": (0.0, -1.0, 0.0),
    "use the switch to turn on the light bulb": (0.0, 0.0, 1.0),
    "use the switch to turn off the light bulb": (0.0, 0.0, 1.0),
    "press the button to turn on the led light": (0.0, 0.0, -1.0),
    "press the button to turn off the led light": (0.0, 0.0, -1.0),
}
"""The scripted policy: official validation instruction -> the fake's motion that does it (else stand still)."""

SUBTASK_MOTION = {
    "open_drawer": (1.0, 0.0, 0.0),
    "close_drawer": (-1.0, 0.0, 0.0),
    "move_slider_left": (0.0, 1.0, 0.0),
    "move_slider_right": (0.0, -1.0, 0.0),
    "turn_on_lightbulb": (0.0, 0.0, 1.0),
    "turn_off_lightbulb": (0.0, 0.0, 1.0),
    "turn_on_led": (0.0, 0.0, -1.0),
    "turn_off_led": (0.0, 0.0, -1.0),
}
"""The same motions keyed by subtask name, for a policy that knows its task by index rather than by sentence."""

STEPS_NEEDED = {
    "open_drawer": 4,
    "close_drawer": 4,
    "move_slider_left": 5,
    "move_slider_right": 5,
    "turn_on_lightbulb": 1,
    "turn_off_lightbulb": 1,
    "turn_on_led": 1,
    "turn_off_led": 1,
}
"""Steps the scripted policy needs on the fake for each subtask it can do (the oracle's thresholds / STEP, up)."""


def scripted_action(instruction: str, gripper: float = 0.7) -> np.ndarray:
    """One 7-dim action for ``instruction``; the gripper value is continuous, as a policy's would be."""
    motion = SCRIPT.get(instruction, (0.0, 0.0, 0.0))
    return np.array([*motion, 0.0, 0.0, 0.0, gripper])


HORIZON = 6


class ScriptedPolicy(Method):
    """Predicts ``HORIZON`` copies of the scripted action for each row's instruction; logs what it was asked."""

    Config = dict
    name = "calvin_scripted"

    def __init__(self, info: DatasetInfo) -> None:
        super().__init__({}, info)
        self.scale = nn.Parameter(torch.ones(()))
        self.seen_instructions: list[str] = []

    def stages(self) -> list[Stage]:
        return [Stage("policy", ("scale",), Budget(steps=1, batch_size=1, lr=0.0))]

    def data_spec(self, stage: str | None = None) -> DataSpec:
        return DataSpec(
            obs_offsets=(-1, 0),
            action_offsets=tuple(range(HORIZON)),
            views=("static", "gripper"),
            proprio_keys=("robot_obs", "scene_obs"),
            normalization={ACTION: "identity", STATE: "identity"},
        )

    def compute_loss(self, batch: dict[str, Any], stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        return self.scale * 0, {}

    def predict_action_chunk(self, batch: dict[str, Any], *, generator: torch.Generator | None = None) -> torch.Tensor:
        self.seen_instructions.extend(batch[INSTRUCTION])
        rows = [np.tile(scripted_action(text), (HORIZON, 1)) for text in batch[INSTRUCTION]]
        return torch.from_numpy(np.stack(rows)).float() * self.scale


class SubtaskIndexPolicy(Method):
    """Acts on ``task_index`` alone, as ``dp``'s task embedding does: the scripted motion of the subtask
    ``info.tasks[task_index]``. A row whose task is not a training task (``-1``, e.g. a whole chain) is an error.
    Logs ``(task_index, instruction)`` of every row; reads no pixels, so a 1000-chain run moves little data."""

    Config = dict
    name = "calvin_subtask_index"

    def __init__(self, info: DatasetInfo) -> None:
        super().__init__({}, info)
        self.scale = nn.Parameter(torch.ones(()))
        self.seen: list[tuple[int, str]] = []

    def stages(self) -> list[Stage]:
        return [Stage("policy", ("scale",), Budget(steps=1, batch_size=1, lr=0.0))]

    def data_spec(self, stage: str | None = None) -> DataSpec:
        return DataSpec(action_offsets=tuple(range(HORIZON)), normalization={ACTION: "identity", STATE: "identity"})

    def compute_loss(self, batch: dict[str, Any], stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        return self.scale * 0, {}

    def predict_action_chunk(self, batch: dict[str, Any], *, generator: torch.Generator | None = None) -> torch.Tensor:
        indices = batch[TASK_INDEX].tolist()
        self.seen.extend(zip(indices, batch[INSTRUCTION], strict=True))
        if min(indices) < 0:
            raise ValueError(f"task_index {indices} names no training task")
        motions = [SUBTASK_MOTION.get(self.info.tasks[i], (0.0, 0.0, 0.0)) for i in indices]
        rows = [np.tile(np.array([*motion, 0.0, 0.0, 0.0, 0.7]), (HORIZON, 1)) for motion in motions]
        return torch.from_numpy(np.stack(rows)).float() * self.scale


def calvin_tasks() -> tuple[str, ...]:
    """The 34 official CALVIN tasks (tasks.yaml order): a policy trained on ABC has seen every one of them."""
    return tuple(load_task_definitions(data_file(TASKS)))


def calvin_info(tasks: tuple[str, ...] | None = None) -> DatasetInfo:
    tasks = calvin_tasks() if tasks is None else tasks
    return DatasetInfo(
        action_dim=7,
        proprio_dims={"robot_obs": 15, "scene_obs": 24},
        image_shapes={"static": (200, 200, 3), "gripper": (84, 84, 3)},
        tasks=tasks,
        instructions=tuple(f"instruction of {t}" for t in tasks),
    )


def loaded_policy(tmp: Path, method: Method | None = None) -> LoadedPolicy:
    """``method`` (default: the :class:`ScriptedPolicy`) as a loaded checkpoint with complete provenance."""
    method = (method or ScriptedPolicy(calvin_info())).eval()
    return LoadedPolicy(
        method=method,
        normalizer=Normalizer({ACTION: "identity", STATE: "identity"}, {}),
        config={"method": {"name": method.name}},
        spec=method.data_spec(None),
        provenance={
            "checkpoint": str(tmp / "run" / "policy" / "checkpoints" / "step_0000001"),
            "step": 1,
            "stage": "policy",
            "method": method.name,
            "git_sha": "0123abc",
            "version": "0.1.0",
            "data_fingerprint": "fp-calvin-fake",
        },
        path=tmp / "ckpt",
    )
