"""Subtask success: which CALVIN tasks a change from one ``env.get_info()`` to another accomplishes.

The official evaluation asks ``calvin_env.envs.tasks.Tasks`` after every step whether the current subtask was
done since the subtask began: ``get_task_info_for_set(start_info, current_info, {subtask})``. The tasks are
data, ``tasks.yaml``: ``name: [check, *arguments]`` such as ``open_drawer: [move_door_rel, base__drawer, 0.12]``.

Two oracles read the same shipped ``tasks.yaml``:

* :class:`OfficialOracle` instantiates calvin_env's ``Tasks`` (the default; calvin_env is installed wherever the
  simulator runs);
* :class:`TaskOracle` evaluates the same checks written here from their documented semantics, so success can be
  decided, tested and audited without calvin_env. The tests hold it to the official results recorded from the
  real simulator (``oracle_traces.json``: every positive and negative rollout) and, where calvin_env is
  installed, to calvin_env's ``Tasks`` on thousands of perturbed infos.

Infos are nested dicts as ``PlayTableSimEnv.get_info()`` returns them (with ``use_scene_info=True``); pybullet
contact points are 14-tuples whose index 2 is the other body's id and index 4 the other body's link. The checks
accept tuples or lists (a JSON round trip turns one into the other).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml

Info = Mapping[str, Any]

CONTACT_BODY = 2  # pybullet getContactPoints: bodyUniqueIdB
CONTACT_LINK = 4  # linkIndexB


class SubtaskOracle(Protocol):
    """What the rollout needs from an oracle."""

    task_names: tuple[str, ...]

    def completed(self, start_info: Info, end_info: Info, tasks: Iterable[str] | None = None) -> set[str]: ...


def load_task_definitions(path: str | Path) -> dict[str, list[Any]]:
    """``tasks:`` of a Tasks config as ``{name: [check, *args]}`` in file order (the official task ids)."""
    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"CALVIN task definitions {path} do not exist") from None
    tasks = cfg.get("tasks") if isinstance(cfg, dict) else None
    if not isinstance(tasks, dict) or not tasks:
        raise ValueError(
            f"{path} must hold a 'tasks' mapping of name -> [check, *arguments] (new_playtable_tasks.yaml)"
        )
    for name, spec in tasks.items():
        if not (isinstance(spec, list) and spec and isinstance(spec[0], str)):
            raise ValueError(f"{path}: task {name!r} must be [check, *arguments], got {spec!r}")
    return dict(tasks)


# --- the checks ---------------------------------------------------------------------------------------------------


def _object(info: Info, name: str) -> Mapping[str, Any]:
    return info["scene_info"]["movable_objects"][name]


def _bodies(contacts: Iterable[Sequence[Any]]) -> set[int]:
    return {c[CONTACT_BODY] for c in contacts}


def _body_links(contacts: Iterable[Sequence[Any]]) -> set[tuple[int, int]]:
    return {(c[CONTACT_BODY], c[CONTACT_LINK]) for c in contacts}


def _robot(info: Info) -> int:
    return info["robot_info"]["uid"]


def _fixed_link(info: Info, body: str, link: str) -> tuple[int, int]:
    fixed = info["scene_info"]["fixed_objects"][body]
    return fixed["uid"], fixed["links"][link]


def _displacement(start: Info, end: Info, obj: str) -> np.ndarray:
    return np.asarray(_object(end, obj)["current_pos"], dtype=float) - np.asarray(
        _object(start, obj)["current_pos"], dtype=float
    )


def rotate_object(
    start: Info,
    end: Info,
    obj: str,
    z_degrees: float,
    x_y_threshold: float = 30,
    z_threshold: float = 180,
    movement_threshold: float = 0.1,
) -> bool:
    """Turned about z by more than ``z_degrees`` (sign = direction) while tilting less than ``x_y_threshold``
    about x and y, staying within ``movement_threshold`` m of where it was, and touching something besides the
    robot at the end (so it was put down, not held in the air)."""
    from scipy.spatial.transform import Rotation

    if np.linalg.norm(_displacement(start, end, obj)) > movement_threshold:
        return False
    if not _bodies(_object(end, obj)["contacts"]) - {_robot(start)}:
        return False
    turn = (
        Rotation.from_quat(_object(end, obj)["current_orn"])
        * Rotation.from_quat(_object(start, obj)["current_orn"]).inv()
    )
    x, y, z = turn.as_euler("xyz", degrees=True)
    upright = abs(x) < x_y_threshold and abs(y) < x_y_threshold
    if z_degrees > 0:
        return upright and z_degrees < z < z_threshold
    return upright and -z_threshold < z < z_degrees


def push_object(start: Info, end: Info, obj: str, x_direction: float, y_direction: float) -> bool:
    """Slid more than the signed distance along x (or y; exactly one is non-zero) while resting on a surface at
    both ends, on at least the surfaces it started on (contacts with the robot do not count)."""
    if (x_direction == 0) == (y_direction == 0):
        raise ValueError(f"push_object needs exactly one non-zero direction, got x={x_direction}, y={y_direction}")
    robot = _robot(start)
    before = {c for c in _body_links(_object(start, obj)["contacts"]) if c[0] != robot}
    after = {c for c in _body_links(_object(end, obj)["contacts"]) if c[0] != robot}
    if not (before and after and before <= after):
        return False
    axis, distance = (0, x_direction) if x_direction != 0 else (1, y_direction)
    moved = _displacement(start, end, obj)[axis]
    return moved > distance if distance > 0 else moved < distance


def lift_object(
    start: Info,
    end: Info,
    obj: str,
    z_direction: float,
    surface_body: str | None = None,
    surface_link: str | None = None,
) -> bool:
    """Raised by more than ``z_direction`` m and touching only the robot at the end, having started on the given
    surface (body, or body and link)."""
    if not z_direction > 0:
        raise ValueError(f"lift_object needs a positive height, got {z_direction}")
    start_contacts = _object(start, obj)["contacts"]
    if surface_body is not None:
        fixed = start["scene_info"]["fixed_objects"][surface_body]
        if surface_link is None:
            on_surface = fixed["uid"] in _bodies(start_contacts)
        else:
            on_surface = _fixed_link(start, surface_body, surface_link) in _body_links(start_contacts)
        if not on_surface:
            return False
    end_bodies = _bodies(_object(end, obj)["contacts"])
    return _displacement(start, end, obj)[2] > z_direction and end_bodies == {_robot(start)}


def place_object(start: Info, end: Info, dest_body: str, dest_link: str | None = None) -> bool:
    """The one object the robot held (touched only by the robot) is released and rests on the destination."""
    robot = _robot(start)
    held = _bodies(start["robot_info"]["contacts"])
    if len(held) != 1:
        return False
    (held_uid,) = held
    if held_uid in _bodies(end["robot_info"]["contacts"]):
        return False
    names = [name for name, o in start["scene_info"]["movable_objects"].items() if o["uid"] == held_uid]
    if len(names) != 1:
        return False
    if _bodies(_object(start, names[0])["contacts"]) != {robot}:
        return False
    end_contacts = _object(end, names[0])["contacts"]
    if dest_link is None:
        return end["scene_info"]["fixed_objects"][dest_body]["uid"] in _bodies(end_contacts)
    return _fixed_link(end, dest_body, dest_link) in _body_links(end_contacts)


def push_object_into(
    start: Info, end: Info, obj: str | Sequence[str], src_body: str, src_link: str, dest_body: str, dest_link: str
) -> bool:
    """An object (any of a list) moves from resting only on the source link to touching the destination link.

    The official check also means to require that the robot touches the object at neither end, but it looks for
    the robot's body id among ``(body, link)`` pairs, where it can never be, so that condition never fails. The
    oracle is defined by what the official code decides, so it is left out here too: a block pushed into the
    drawer counts even if the gripper still touches it.
    """
    if not isinstance(obj, str):
        return any(push_object_into(start, end, o, src_body, src_link, dest_body, dest_link) for o in obj)
    before = _body_links(_object(start, obj)["contacts"])
    after = _body_links(_object(end, obj)["contacts"])
    return before == {_fixed_link(start, src_body, src_link)} and _fixed_link(end, dest_body, dest_link) in after


def move_door_rel(start: Info, end: Info, joint: str, threshold: float) -> bool:
    """A door or drawer joint moved by more than ``threshold`` in the threshold's direction."""
    moved = end["scene_info"]["doors"][joint]["current_state"] - start["scene_info"]["doors"][joint]["current_state"]
    return moved > threshold > 0 or moved < threshold < 0


def toggle_light(start: Info, end: Info, light: str, start_state: int, end_state: int) -> bool:
    lights_before, lights_after = start["scene_info"]["lights"], end["scene_info"]["lights"]
    return lights_before[light]["logical_state"] == start_state and lights_after[light]["logical_state"] == end_state


def _block_contacts(start: Info, end: Info) -> list[tuple[Mapping[str, Any], Mapping[str, Any], set[int], set[int]]]:
    """Per block: its start and end entries and the bodies it touches at each."""
    rows = []
    for name in start["scene_info"]["movable_objects"]:
        before, after = _object(start, name), _object(end, name)
        rows.append((before, after, _bodies(before["contacts"]), _bodies(after["contacts"])))
    return rows


def _slow(obj: Mapping[str, Any], max_vel: float) -> bool:
    return bool(np.all(np.abs(obj["current_lin_vel"]) < max_vel) and np.all(np.abs(obj["current_ang_vel"]) < max_vel))


def _block_ids(info: Info) -> set[int]:
    return {o["uid"] for o in info["scene_info"]["movable_objects"].values()}


def stack_objects(start: Info, end: Info, max_vel: float = 1) -> bool:
    """A block touching no block at the start ends up touching blocks only, and has come (nearly) to rest."""
    blocks = _block_ids(start)
    return any(
        not blocks & touched_before and blocks & touched_after and not touched_after - blocks and _slow(after, max_vel)
        for _, after, touched_before, touched_after in _block_contacts(start, end)
    )


def unstack_objects(start: Info, end: Info, max_vel: float = 1) -> bool:
    """A block that rested on blocks only, nearly still, touches no block at the end."""
    blocks = _block_ids(start)
    return any(
        blocks & touched_before
        and not touched_before - blocks
        and not blocks & touched_after
        and _slow(before, max_vel)
        for before, _, touched_before, touched_after in _block_contacts(start, end)
    )


CHECKS: dict[str, Callable[..., bool]] = {
    "rotate_object": rotate_object,
    "push_object": push_object,
    "lift_object": lift_object,
    "place_object": place_object,
    "push_object_into": push_object_into,
    "move_door_rel": move_door_rel,
    "toggle_light": toggle_light,
    "stack_objects": stack_objects,
    "unstack_objects": unstack_objects,
}
"""The checks ``tasks.yaml`` may name, by the names the official ``Tasks`` class gives them."""


class TaskOracle:
    """calvin_env's ``Tasks`` semantics over a ``tasks.yaml``, without calvin_env."""

    def __init__(self, tasks_file: str | Path) -> None:
        self.definitions = load_task_definitions(tasks_file)
        unknown = {spec[0] for spec in self.definitions.values()} - set(CHECKS)
        if unknown:
            raise ValueError(f"{tasks_file} uses checks {sorted(unknown)}; this oracle implements {sorted(CHECKS)}")
        self.task_names = tuple(self.definitions)

    def completed(self, start_info: Info, end_info: Info, tasks: Iterable[str] | None = None) -> set[str]:
        """The tasks (among ``tasks``, default all) that the change from ``start_info`` to ``end_info`` achieved."""
        names = self.task_names if tasks is None else _known(tasks, self.definitions)
        done = set()
        for name in names:
            check, *args = self.definitions[name]
            if CHECKS[check](start_info, end_info, *args):
                done.add(name)
        return done


class OfficialOracle:
    """calvin_env's own ``Tasks``, configured by the same ``tasks.yaml``; needs calvin_env."""

    def __init__(self, tasks_file: str | Path) -> None:
        try:
            from calvin_env.envs.tasks import Tasks  # imported here: only simulator workers have calvin_env
        except ImportError as exc:
            from foresight.envs.calvin.sim import missing_calvin_env

            raise missing_calvin_env(exc.name or "calvin_env", exc) from exc

        self.definitions = load_task_definitions(tasks_file)
        self._tasks = Tasks(self.definitions)
        self.task_names = tuple(self.definitions)

    def completed(self, start_info: Info, end_info: Info, tasks: Iterable[str] | None = None) -> set[str]:
        if tasks is None:
            return set(self._tasks.get_task_info(start_info, end_info))
        return set(self._tasks.get_task_info_for_set(start_info, end_info, set(_known(tasks, self.definitions))))


def _known(tasks: Iterable[str], definitions: Mapping[str, Any]) -> list[str]:
    names = list(tasks)
    unknown = [t for t in names if t not in definitions]
    if unknown:
        raise KeyError(f"unknown CALVIN tasks {unknown}; the oracle knows {sorted(definitions)}")
    return names


def make_oracle(kind: str, tasks_file: str | Path) -> SubtaskOracle:
    """``calvin_env`` (official ``Tasks``) or ``foresight`` (:class:`TaskOracle`)."""
    if kind == "calvin_env":
        return OfficialOracle(tasks_file)
    if kind == "foresight":
        return TaskOracle(tasks_file)
    raise ValueError(f"unknown CALVIN oracle {kind!r}; choose 'calvin_env' or 'foresight'")
