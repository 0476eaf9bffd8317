"""The shipped env=libero_* presets compose into the community protocol (no simulator needed)."""

from __future__ import annotations

import pytest

from foresight.config import ConfigError, compose, load_group
from foresight.envs.libero import LiberoConfig, LiberoEnv
from foresight.factory import build_env

# openpi examples/libero/main.py and OpenVLA run_libero_eval.py: max_steps per suite.
COMMUNITY_STEPS = {"libero_spatial": 220, "libero_object": 280, "libero_goal": 300, "libero_10": 520, "libero_90": 400}


@pytest.mark.parametrize("suite", sorted(COMMUNITY_STEPS))
def test_preset_composes_into_the_community_protocol(suite: str) -> None:
    node = load_group("env", suite)
    assert node["name"] == "libero" and node["suite"] == suite
    env = build_env(node)
    assert isinstance(env, LiberoEnv)
    cfg = env.config
    assert isinstance(cfg, LiberoConfig)
    assert (cfg.suite, cfg.trials_per_task, cfg.seed, cfg.num_steps_wait) == (suite, 50, 7, 10)
    assert cfg.step_limit == COMMUNITY_STEPS[suite] and cfg.max_steps is None  # None: the suite's limit
    assert cfg.camera_size == 128 and cfg.image_convention == "opengl"
    assert cfg.replan_every is None and cfg.temporal_ensemble is None and cfg.tasks is None
    recorded = cfg.to_dict()
    assert recorded["max_steps"] == COMMUNITY_STEPS[suite] and recorded["trials_per_task"] == 50


def test_overrides_reach_the_protocol_and_typos_name_the_valid_keys() -> None:
    run = compose(["env=libero_10", "env.trials_per_task=10", "env.replan_every=5", "env.tasks=[0,3]"])
    cfg = build_env(run.env).config
    assert (cfg.trials_per_task, cfg.replan_every, cfg.tasks, cfg.step_limit) == (10, 5, (0, 3), 520)
    with pytest.raises(ConfigError, match=r"unknown key 'trials' in env\. Valid keys: .*trials_per_task"):
        build_env(compose(["env=libero_10", "env.trials=10"]).env)
    with pytest.raises(ConfigError, match=r"libero_11.*choose one of \['libero_spatial'"):
        build_env(compose(["env=libero_10", "env.suite=libero_11"]).env)
    with pytest.raises(ConfigError, match="image_convention 'opencv2' is unknown"):
        build_env(compose(["env=libero_object", "env.image_convention=opencv2"]).env)
