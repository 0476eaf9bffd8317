"""The expert's scene geometry on a hand-written MuJoCo model: colliding geoms, world boxes, narrowest widths."""

from __future__ import annotations

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")

from foresight.envs.libero.scene import (  # noqa: E402
    Boxes,
    body_boxes,
    boxes_except,
    colliding,
    geom_boxes,
    narrowest,
    widths,
)

# "can" holds a box turned a quarter turn about z, a purely visual sphere (both contact fields 0, bigger than
# everything) and a small box that only has conaffinity set, as LIBERO's microwave does: the fingers
# (contype 1) still hit it. "bar" is a long thin box turned 30 degrees about z.
SCENE = """
<mujoco>
  <worldbody>
    <body name="can" pos="0.5 0 0.9">
      <geom name="body" type="box" size="0.05 0.02 0.01" euler="0 0 90" contype="1" conaffinity="1"/>
      <geom name="visual" type="sphere" size="0.2" contype="0" conaffinity="0"/>
      <geom name="shell" type="box" size="0.01 0.01 0.01" pos="0.1 0 0" contype="0" conaffinity="1"/>
    </body>
    <body name="bar" pos="0 0.3 0.8" euler="0 0 30">
      <geom name="bar" type="box" size="0.05 0.02 0.03"/>
    </body>
  </worldbody>
</mujoco>
"""


@pytest.fixture(scope="module")
def scene() -> tuple[object, object]:
    model = mujoco.MjModel.from_xml_string(SCENE)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return model, data


def body(model, name: str) -> int:
    return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)


def test_a_geom_collides_when_contype_or_conaffinity_is_set(scene) -> None:
    model, _ = scene
    names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) for g in range(model.ngeom)]
    assert dict(zip(names, colliding(model).tolist(), strict=True)) == {
        "body": True,
        "visual": False,  # purely visual
        "shell": True,  # conaffinity only: contype alone would miss it
        "bar": True,  # MuJoCo's defaults: contype = conaffinity = 1
    }


def test_body_extent_spans_the_turned_box_and_the_conaffinity_only_shell(scene) -> None:
    model, data = scene
    boxes = body_boxes(model, data, body(model, "can"))
    assert len(boxes) == 2  # the visual sphere (radius 0.2) is left out
    lo, hi = boxes.extent()
    # The turned box spans 0.02 along x and 0.05 along y around (0.5, 0, 0.9); the shell 0.01 around (0.6, 0, 0.9).
    np.testing.assert_allclose(lo, [0.48, -0.05, 0.89], atol=1e-9)
    np.testing.assert_allclose(hi, [0.61, 0.05, 0.91], atol=1e-9)
    np.testing.assert_allclose(boxes.world_halves()[0], [0.02, 0.05, 0.01], atol=1e-9)
    assert body_boxes(model, data, []).extent() is None


def test_oriented_corners_follow_a_turned_box_where_its_aligned_box_does_not(scene) -> None:
    model, data = scene
    bar = body_boxes(model, data, body(model, "bar"))
    corners = bar.corners()
    assert corners.shape == (8, 3)
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    # Each corner is the centre plus the box's axes (turned 30 degrees) times +-half sizes.
    expected = [
        [0.0 + x * 0.05 * c - y * 0.02 * s, 0.3 + x * 0.05 * s + y * 0.02 * c, 0.8 + z * 0.03]
        for x in (-1, 1)
        for y in (-1, 1)
        for z in (-1, 1)
    ]
    np.testing.assert_allclose(np.sort(corners, axis=0), np.sort(np.array(expected), axis=0), atol=1e-9)
    # The axis-aligned box around it is wider: |cos| * 0.05 + |sin| * 0.02 along x.
    lo, hi = bar.aligned_corners()
    assert hi[0] - lo[0] == pytest.approx(2 * (0.05 * c + 0.02 * s))
    assert np.ptp(corners[:, 0]) == pytest.approx(2 * (0.05 * c + 0.02 * s))


def test_the_narrowest_width_of_a_turned_bar_is_across_its_short_side(scene) -> None:
    model, data = scene
    angle, width = narrowest(body_boxes(model, data, body(model, "bar")).corners())
    assert angle == pytest.approx(np.deg2rad(120))  # the short side's axis: 30 + 90 degrees
    assert width == pytest.approx(0.04)
    angles, spans = widths(body_boxes(model, data, body(model, "bar")).corners())
    assert len(angles) == 36 and angles[6] == pytest.approx(np.deg2rad(30))
    assert spans[6] == pytest.approx(0.1)  # along its length: 2 x 0.05
    assert 0.1 < spans.max() <= 2 * np.hypot(0.05, 0.02)  # widest near the diagonal


def test_obstacles_are_every_colliding_geom_off_the_excluded_bodies(scene) -> None:
    model, data = scene
    others = boxes_except(model, data, [body(model, "can")])
    assert len(others) == 1
    np.testing.assert_allclose(others.centres[0], [0.0, 0.3, 0.8], atol=1e-9)
    # 0.13 m above the bar's centre is 0.1 m above its top face (z half size 0.03).
    assert others.distance(np.array([0.0, 0.3, 0.93]))[0] == pytest.approx(0.1)
    everything = boxes_except(model, data, [])
    assert len(everything) == 3


def test_geom_boxes_of_no_geoms_are_empty(scene) -> None:
    model, data = scene
    boxes = geom_boxes(model, data, [])
    assert isinstance(boxes, Boxes) and len(boxes) == 0 and boxes.corners().shape == (0, 3)


# A pot-like body turned 90 degrees about z: an 8 cm square body and a handle of two boxes sticking out along
# the body's local +y (world -x after the turn), 5.5 and 7 cm from the origin; and a 4 cm wide box.
POT = """
<mujoco>
  <worldbody>
    <body name="pot" pos="0.2 0.1 0.9" euler="0 0 90">
      <geom type="box" size="0.04 0.04 0.06"/>
      <geom type="box" size="0.006 0.012 0.006" pos="0 0.055 0.05"/>
      <geom type="box" size="0.006 0.006 0.03" pos="0 0.07 0.02"/>
    </body>
    <body name="box" pos="0 0 0.9">
      <geom type="box" size="0.04 0.02 0.01"/>
    </body>
  </worldbody>
</mujoco>
"""


def test_a_body_too_wide_to_grip_is_held_by_the_geoms_sticking_out_along_its_length() -> None:
    from types import SimpleNamespace

    from foresight.envs.libero.expert_params import ExpertParams
    from foresight.envs.libero.pick_place import handle_of

    model = mujoco.MjModel.from_xml_string(POT)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    ids = {name: body(model, name) for name in ("pot", "box")}
    expert = SimpleNamespace(
        params=ExpertParams(),
        boxes=lambda name: body_boxes(model, data, ids[name]),
        body_pos=lambda name: np.array(data.xpos[ids[name]]),
    )
    handle, along = handle_of(expert, "pot")
    np.testing.assert_allclose(along, [-1.0, 0.0], atol=1e-9)  # local +y turned a quarter turn: world -x
    # Both handle boxes (centres 5.5 and 7 cm out, beyond handle_offset), not the body.
    np.testing.assert_allclose(np.sort(handle.centres[:, 0]), [0.2 - 0.07, 0.2 - 0.055], atol=1e-9)
    # Narrower than handle_min_width: gripped across its middle. With handle_offset beyond both handle boxes,
    # the pot has no handle either.
    assert handle_of(expert, "box") is None
    assert handle_of(SimpleNamespace(**{**vars(expert), "params": ExpertParams(handle_offset=0.08)}), "pot") is None
