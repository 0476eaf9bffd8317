"""Scene geometry for the scripted expert: which geoms collide, their world boxes, widths across a footprint.

Every primitive asks the same questions of the simulator (how high is this object, which way is it narrowest,
what stands near this path), so they are answered here once, on MuJoCo's own per-geom bounding boxes
(``geom_aabb``: a box in the geom's frame, posed by ``geom_xpos`` / ``geom_xmat``). Functions take a MuJoCo model
and data (raw ``mujoco.MjModel`` / ``MjData`` or robosuite's wrappers, which expose the same fields), so they are
tested on a hand-written model without LIBERO.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

CORNER_SIGNS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)


def colliding(model: Any) -> np.ndarray:
    """Mask over geoms of those that take part in contacts: ``contype | conaffinity`` non-zero.

    MuJoCo makes a contact between geoms ``a`` and ``b`` when ``contype[a] & conaffinity[b]`` or
    ``contype[b] & conaffinity[a]`` is non-zero, so a geom with only ``conaffinity`` set still stops a geom
    whose ``contype`` is set: LIBERO's microwave body has ``contype=0, conaffinity=1`` and the robot's fingers
    (``contype=1``) hit it. Testing ``contype`` alone hides such fixtures from the carry and grasp planning;
    only a geom with both fields zero is purely visual (robosuite's visual meshes).
    """
    return (np.asarray(model.geom_contype) != 0) | (np.asarray(model.geom_conaffinity) != 0)


@dataclass(frozen=True)
class Boxes:
    """Oriented boxes in the world frame, one per geom: ``centres`` (n, 3), ``rotations`` (n, 3, 3), ``halves``."""

    centres: np.ndarray
    rotations: np.ndarray
    halves: np.ndarray

    def __len__(self) -> int:
        return len(self.centres)

    def world_halves(self) -> np.ndarray:
        """Half sizes of each box's axis-aligned world bounding box (a turned box takes more room)."""
        return np.einsum("gij,gj->gi", np.abs(self.rotations), self.halves)

    def aligned(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(centre, half size)`` of each box's axis-aligned world bounding box."""
        return list(zip(self.centres, self.world_halves(), strict=True))

    def aligned_corners(self) -> np.ndarray:
        """The low and high corners of each axis-aligned bounding box, (2n, 3)."""
        halves = self.world_halves()
        return np.concatenate([self.centres - halves, self.centres + halves]) if len(self) else np.zeros((0, 3))

    def corners(self) -> np.ndarray:
        """The 8 corners of each oriented box, (8n, 3): a turned footprint's true outline."""
        local = CORNER_SIGNS[None] * self.halves[:, None]  # (n, 8, 3) in each box's frame
        return (self.centres[:, None] + np.einsum("gij,gkj->gki", self.rotations, local)).reshape(-1, 3)

    def extent(self) -> tuple[np.ndarray, np.ndarray] | None:
        """World ``(lo, hi)`` around all boxes, or None when there are none."""
        if not len(self):
            return None
        halves = self.world_halves()
        return (self.centres - halves).min(axis=0), (self.centres + halves).max(axis=0)

    def distance(self, point: np.ndarray) -> np.ndarray:
        """Distance from ``point`` to each box (0 inside it), measured in each box's own frame."""
        local = np.einsum("gji,gj->gi", self.rotations, point - self.centres)
        return np.linalg.norm(np.maximum(np.abs(local) - self.halves, 0.0), axis=1)


def geom_boxes(model: Any, data: Any, geoms: Iterable[int] | np.ndarray) -> Boxes:
    """The world boxes of ``geoms`` (indices), from their local bounding boxes and current poses."""
    geoms = np.asarray(list(geoms) if not isinstance(geoms, np.ndarray) else geoms, dtype=np.int64)
    rotations = np.asarray(data.geom_xmat)[geoms].reshape(-1, 3, 3)
    aabb = np.asarray(model.geom_aabb)[geoms].reshape(-1, 6)
    centres = np.asarray(data.geom_xpos)[geoms].reshape(-1, 3) + np.einsum("gij,gj->gi", rotations, aabb[:, :3])
    return Boxes(centres, rotations, aabb[:, 3:].copy())


def body_boxes(model: Any, data: Any, bodies: int | Iterable[int]) -> Boxes:
    """Boxes of the colliding geoms attached directly to ``bodies`` (not to their children)."""
    wanted = np.atleast_1d(np.asarray(list(bodies) if not isinstance(bodies, int | np.integer) else bodies))
    on_body = np.isin(np.asarray(model.geom_bodyid), wanted)
    return geom_boxes(model, data, np.flatnonzero(on_body & colliding(model)))


def boxes_except(model: Any, data: Any, bodies: Iterable[int]) -> Boxes:
    """Boxes of every colliding geom not attached to ``bodies``: the obstacles around an object, fixtures included."""
    away = ~np.isin(np.asarray(model.geom_bodyid), np.asarray(list(bodies), dtype=np.int64))
    return geom_boxes(model, data, np.flatnonzero(away & colliding(model)))


SWEEP_ANGLES = 36  # horizontal directions tried, 5 degrees apart over half a turn (a width repeats after pi)


def widths(points: np.ndarray, samples: int = SWEEP_ANGLES) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal widths of a point cloud across ``samples`` directions in ``[0, pi)``: ``(angles, widths)``.

    The fingers must close across the narrowest one (a lying butter box is wider than the open gripper along
    its length), and a long object's length is the widest.
    """
    angles = np.linspace(0.0, np.pi, samples, endpoint=False)
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return angles, np.ptp(np.asarray(points)[:, :2] @ directions.T, axis=0)


def narrowest(points: np.ndarray, samples: int = SWEEP_ANGLES) -> tuple[float, float]:
    """``(angle, width)`` of the narrowest horizontal width of ``points`` (first of equal ones)."""
    angles, spans = widths(points, samples)
    best = int(np.argmin(spans))
    return float(angles[best]), float(spans[best])
