"""Every method's ``<name>_tiny`` preset trains on LIBERO, CALVIN and LeRobot-format data with no override.

The methods name cameras and proprio by role (``primary``, ``wrist``, ``arm``, ``gripper``); each reader says
which of its keys plays each role, so no view or proprio key is given here. The CALVIN data is the trimmed
recording in tests/fixtures/calvin; the LeRobot data a v3.0 dataset written by tests/data/test_lerobot.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_lerobot import write_v30

from foresight import registry
from foresight.checkpoint import load_policy
from foresight.config import config_root
from foresight.train import main as train

CALVIN = Path(__file__).resolve().parents[1] / "fixtures" / "calvin" / "dataset"
TINY = sorted(n for n in registry.METHODS.available() if (config_root() / "method" / f"{n}_tiny.yaml").exists())
FORMATS = ("libero_hdf5", "calvin", "lerobot")


def data_args(fmt: str, tmp_path: Path) -> list[str]:
    if fmt == "libero_hdf5":  # the demo dataset is written in the official LIBERO HDF5 schema
        return ["data=demo", f"data.path={tmp_path / 'demo'}", "data.demo.length=14", "data.demo.episodes_per_task=1"]
    if fmt == "calvin":
        return ["data=calvin_debug", f"data.path={CALVIN}"]
    return ["data.format=lerobot", "data.name=lerobot_v30", f"data.path={write_v30(tmp_path / 'lerobot')}"]


@pytest.mark.slow  # a few training steps per method and format, and a tiny frozen encoder for CLaD
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", TINY)
def test_tiny_preset_trains_on_every_format_by_role(name, fmt, tmp_path):
    run_dir = tmp_path / "run"
    args = [f"method={name}_tiny", *data_args(fmt, tmp_path), f"run_dir={run_dir}", "data.val_fraction=0",
            "train.steps=2", "train.batch_size=2", "train.num_workers=0", "train.logger=none"]  # fmt: skip
    assert train(args) == 0
    loaded = load_policy(run_dir)
    info, spec = loaded.method.info, loaded.method.data_spec(None)
    assert spec.views and set(spec.views) <= set(info.image_shapes)
    assert spec.views[0] == info.view_roles["primary"]  # the role, resolved to this format's camera
    assert set(spec.proprio_keys) <= set(info.proprio_dims)
    assert spec.proprio_keys and set(spec.proprio_keys) <= set(info.proprio_roles.values())  # asked for by role


def test_every_method_has_a_tiny_preset():
    assert set(TINY) >= {"dp", "clad"}
