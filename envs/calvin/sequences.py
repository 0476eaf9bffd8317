"""The official evaluation chains and the simulator state each one starts from.

An initial condition names where things are (``slider: left``, ``red_block: slider_right``, ...); the official
``calvin_agent.evaluation.utils.get_env_state_for_initial_condition`` turns it into the 15 + 24 numbers that
``PlayTableSimEnv.reset(robot_obs, scene_obs)`` takes. :func:`reset_state` does the same, value for value:

* ``robot_obs`` is one fixed arm pose with the gripper open;
* the sliding door is at 0.28 (left) or 0 (right), the drawer at 0.22 (open) or 0 (closed), the switch at 0.088
  when the light bulb is on, and the light bulb and LED states are copied;
* a block on the left or right of the sliding cabinet sits at that fixed spot; blocks on the table take the two
  table spots in an order shuffled by a seeded generator, and every block gets a yaw drawn from
  ``[pi/2 - pi/8, pi/2 + pi/8]``. The seed is ``fnv1_32(str(cond.values()))``, so it depends on the condition's
  values *and their order* (led, lightbulb, slider, drawer, red_block, blue_block, pink_block, grasped), which
  is why the chains are kept as ordered JSON objects.

The official code draws from NumPy's global generator inside ``temp_seed(seed)`` (``np.random.seed``, then
``shuffle`` and three ``uniform`` calls); a ``RandomState(seed)`` produces the identical stream without touching
global state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from foresight.envs.calvin.config import CHAIN_LENGTH
from foresight.envs.calvin.fnv import fnv1_32

CONDITION_VALUES: dict[str, tuple[Any, ...]] = {
    "led": (0, 1),
    "lightbulb": (0, 1),
    "slider": ("left", "right"),
    "drawer": ("open", "closed"),
    "red_block": ("table", "slider_left", "slider_right"),
    "blue_block": ("table", "slider_left", "slider_right"),
    "pink_block": ("table", "slider_left", "slider_right"),
    "grasped": (0,),
}
"""Keys of an initial condition, in the order the official generator writes them, and their possible values."""

ROBOT_OBS = (
    # tcp position (3), tcp euler (3), gripper opening width, 7 arm joints, gripper action (open)
    *(0.02586889, -0.2313129, 0.5712808),
    *(3.09045411, -0.02908596, 1.50013585),
    0.07999963,
    *(-1.21779124, 1.03987629, 2.11978254, -2.34205014, -0.87015899, 1.64119093, 0.55344928),
    1.0,
)
"""The fixed arm state every chain starts from (get_env_state_for_initial_condition)."""

SLIDER_LEFT = 0.28  # sliding-door joint when the condition says "left"
DRAWER_OPEN = 0.22  # drawer joint when "open"
SWITCH_ON = 0.088  # switch joint when the light bulb is on
BLOCK_SPOTS = {
    "slider_left": (-2.40851662e-01, 9.24044687e-02, 4.60990009e-01),
    "slider_right": (7.03416330e-02, 9.24044687e-02, 4.60990009e-01),
}
TABLE_SPOTS = ((5.00000896e-02, -1.20000177e-01, 4.59990009e-01), (2.29995412e-01, -1.19995140e-01, 4.59990010e-01))
BLOCK_YAW_RANGE = (np.pi / 2 - np.pi / 8, np.pi / 2 + np.pi / 8)
BLOCK_SLICES = {"red_block": slice(6, 9), "blue_block": slice(12, 15), "pink_block": slice(18, 21)}
BLOCK_YAW_INDEX = {"red_block": 11, "blue_block": 17, "pink_block": 23}


@dataclass(frozen=True)
class EvalSequence:
    """One evaluation chain: where it starts and the five subtasks to do in order."""

    index: int
    initial_condition: dict[str, Any]
    subtasks: tuple[str, ...]


def load_sequences(path: str | Path, known_tasks: set[str] | None = None) -> list[EvalSequence]:
    """Read ``[[initial_condition, [subtask, ...]], ...]``; every entry is checked, naming the file and index."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"CALVIN sequences file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"CALVIN sequences file {path} is not valid JSON: {exc}") from None
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"CALVIN sequences file {path} must hold a non-empty list of [initial_condition, subtasks]")
    return [_parse_entry(entry, i, path, known_tasks) for i, entry in enumerate(raw)]


def _parse_entry(entry: Any, index: int, path: Path, known_tasks: set[str] | None) -> EvalSequence:
    where = f"{path} entry {index}"
    if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], dict) and isinstance(entry[1], list)):
        raise ValueError(f"{where} must be [initial_condition (object), subtasks (list)], got {entry!r:.200}")
    condition, subtasks = entry
    check_condition(condition, where)
    if len(subtasks) != CHAIN_LENGTH or not all(isinstance(s, str) for s in subtasks):
        raise ValueError(f"{where}: a chain has {CHAIN_LENGTH} subtask names, got {subtasks!r}")
    if known_tasks is not None:
        unknown = [s for s in subtasks if s not in known_tasks]
        if unknown:
            raise ValueError(f"{where} names unknown subtasks {unknown}; the task oracle knows {sorted(known_tasks)}")
    return EvalSequence(index=index, initial_condition=dict(condition), subtasks=tuple(subtasks))


def check_condition(condition: dict[str, Any], where: str = "initial condition") -> None:
    """Raise a ValueError naming the key and the valid values if ``condition`` is not a CALVIN initial condition."""
    keys = list(condition)
    if keys != list(CONDITION_VALUES):
        raise ValueError(
            f"{where}: the keys must be {list(CONDITION_VALUES)} in this order (the order seeds the block layout), "
            f"got {keys}"
        )
    for key, allowed in CONDITION_VALUES.items():
        value = condition[key]
        # The type matters as much as the value: 1.0 or True would print differently and change the seed.
        if type(value) is not type(allowed[0]) or value not in allowed:
            raise ValueError(f"{where}: {key}={value!r} is not one of {list(allowed)}")


def condition_seed(condition: dict[str, Any]) -> int:
    """The official seed: FNV-1 of the text of ``condition.values()`` (``"dict_values([1, 0, 'left', ...])"``)."""
    return fnv1_32(str(condition.values()))


def reset_state(condition: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(robot_obs (15,), scene_obs (24,))`` float64 for ``PlayTableSimEnv.reset``, as the official evaluation."""
    check_condition(condition)
    rng = np.random.RandomState(condition_seed(condition))
    table = [np.array(spot) for spot in TABLE_SPOTS]
    rng.shuffle(table)

    scene = np.zeros(24)
    scene[0] = SLIDER_LEFT if condition["slider"] == "left" else 0.0
    scene[1] = DRAWER_OPEN if condition["drawer"] == "open" else 0.0
    scene[3] = SWITCH_ON if condition["lightbulb"] == 1 else 0.0
    scene[4] = condition["lightbulb"]
    scene[5] = condition["led"]
    # Table spots: red takes the first when it is on the table; blue takes the second if red is on the table too,
    # else the first; pink always the second (two blocks at most are on the table in a valid condition).
    table_spot = {
        "red_block": table[0],
        "blue_block": table[1] if condition["red_block"] == "table" else table[0],
        "pink_block": table[1],
    }
    for block in ("red_block", "blue_block", "pink_block"):
        place = condition[block]
        scene[BLOCK_SLICES[block]] = BLOCK_SPOTS[place] if place in BLOCK_SPOTS else table_spot[block]
        scene[BLOCK_YAW_INDEX[block]] = rng.uniform(*BLOCK_YAW_RANGE)
    return np.array(ROBOT_OBS), scene
