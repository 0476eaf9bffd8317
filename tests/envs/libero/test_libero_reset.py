"""ModelReuse on a small MuJoCo scene run through robosuite's reset sequence in miniature (no LIBERO, seconds).

The real-simulator comparison against robosuite's hard reset is tests/envs/libero/test_libero_fast_reset.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from foresight.envs.libero import LiberoConfig
from foresight.envs.libero.reset import ModelReuse, mujoco_arrays

mujoco = pytest.importorskip("mujoco")

SCENE = """<mujoco><worldbody><geom type="plane" size="1 1 .1"/>
<body name="table" pos="0.2 0 0"><geom type="box" size=".1 .1 .02"/></body>
<body name="box" pos="0 0 .3"><freejoint/><geom type="box" size=".05 .05 .05"/></body>
</worldbody></mujoco>"""


class ToySim:
    """The parts of robosuite's ``MjSim`` that ModelReuse touches."""

    def __init__(self, xml: str) -> None:
        self.model = SimpleNamespace(_model=mujoco.MjModel.from_xml_string(xml))
        self.data = SimpleNamespace(_data=mujoco.MjData(self.model._model))

    def forward(self) -> None:
        mujoco.mj_forward(self.model._model, self.data._data)

    def step(self, n: int) -> None:
        for _ in range(n):
            mujoco.mj_step(self.model._model, self.data._data)


class ToyEnv:
    """robosuite's ``MujocoEnv.reset`` with ``hard_reset=True`` in miniature: destroy, load, compile, then a
    ``_reset_internal`` that places a fixture by writing into the model, as LIBERO's does."""

    control_freq = 20
    has_offscreen_renderer = False

    def __init__(self, xml: str) -> None:
        self.xml = xml
        self.sim: ToySim | None = None
        self._xml_processor = None
        self.model = SimpleNamespace(get_xml=lambda: self.xml)
        self.destroyed = 0

    def _destroy_sim(self) -> None:
        if self.sim is not None:
            self.sim = None
            self.destroyed += 1

    def _initialize_sim(self, xml_string: str | None = None) -> None:
        self.sim = ToySim(xml_string or self.model.get_xml())
        self.sim.forward()
        self.initialize_time(self.control_freq)

    def initialize_time(self, control_freq: float) -> None:
        self.cur_time = 0

    def reset(self, table_shift: float) -> None:
        self._destroy_sim()
        self._initialize_sim()
        assert self.sim is not None
        table = mujoco.mj_name2id(self.sim.model._model, mujoco.mjtObj.mjOBJ_BODY, "table")
        self.sim.model._model.body_pos[table, 0] += table_shift
        self.sim.forward()


def _state(env: ToyEnv) -> dict[str, np.ndarray]:
    assert env.sim is not None
    data = env.sim.data._data
    return {name: np.array(v) for name, v in mujoco_arrays(data).items() if not name.startswith("efc_")}


def test_the_second_reset_restores_the_compiled_model_and_matches_a_fresh_compile() -> None:
    env, reference, reuse = ToyEnv(SCENE), ToyEnv(SCENE), ModelReuse()
    with reuse.applied(env):
        env.reset(0.1)
    first = env.sim
    assert (reuse.compiles, reuse.reuses) == (1, 0)
    assert first is not None
    first.step(200)  # the box falls and lands: the episode changes the data
    first.model._model.opt.timestep = 0.01  # and a setting of the model
    with reuse.applied(env):
        env.reset(0.1)
    reference.reset(0.1)
    assert (reuse.compiles, reuse.reuses) == (1, 1)
    assert env.sim is first and env.destroyed == 0, "the compiled model and data are kept"
    assert reference.sim is not None
    table = mujoco.mj_name2id(first.model._model, mujoco.mjtObj.mjOBJ_BODY, "table")
    assert first.model._model.body_pos[table, 0] == pytest.approx(0.3), "the shift applies to the compiled value"
    model, fresh = mujoco_arrays(first.model._model), mujoco_arrays(reference.sim.model._model)
    for name, value in fresh.items():
        np.testing.assert_array_equal(model[name], value, err_msg=name)
    assert first.model._model.opt.timestep == reference.sim.model._model.opt.timestep == 0.002
    for name, value in _state(reference).items():
        np.testing.assert_array_equal(_state(env)[name], value, err_msg=name)
    assert first.data._data.qpos[2] == pytest.approx(0.3), "the box is back at its start"
    first.step(50)
    reference.sim.step(50)
    for name, value in _state(reference).items():
        np.testing.assert_array_equal(_state(env)[name], value, err_msg=f"{name} after 50 steps")


def test_another_scene_is_compiled_and_robosuite_methods_come_back() -> None:
    env, reuse = ToyEnv(SCENE), ModelReuse()
    with reuse.applied(env):
        env.reset(0.0)
    first = env.sim
    env.xml = SCENE.replace('size=".05 .05 .05"', 'size=".04 .04 .04"')  # _load_model built another XML
    with reuse.applied(env):
        env.reset(0.0)
    assert (reuse.compiles, reuse.reuses) == (2, 0)
    assert env.sim is not first and env.destroyed == 1
    assert env.sim is not None and env.sim.model._model.geom_size[2, 0] == pytest.approx(0.04)
    assert "_destroy_sim" not in vars(env) and "_initialize_sim" not in vars(env)
    env._destroy_sim()  # close() after an evaluation must really free the simulator
    assert env.sim is None


def test_the_reset_option_is_checked_and_is_not_part_of_the_protocol() -> None:
    assert LiberoConfig().reset == "reuse_model"
    with pytest.raises(ValueError, match=r"env.reset 'soft' is unknown; choose one of \['reuse_model', 'hard'\]"):
        LiberoConfig(reset="soft")
    assert LiberoConfig(reset="hard").to_dict() == LiberoConfig().to_dict()
    assert "reset" not in LiberoConfig().to_dict()
