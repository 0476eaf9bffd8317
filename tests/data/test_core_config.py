"""The ``data=`` config group: every preset validates; per-format option groups ``data.lerobot`` / ``data.calvin``."""

from __future__ import annotations

from pathlib import Path

import pytest

from foresight.config import ConfigError, available
from foresight.data.config import DataConfig, load_data_config
from foresight.data.options import CalvinConfig, LeRobotConfig


@pytest.mark.parametrize("preset", available("data"))
def test_every_shipped_preset_validates(preset):
    cfg = load_data_config([f"data={preset}"])
    # the LIBERO family preset is named after its suite (runs/<method>-libero_10), like the per-suite presets
    assert isinstance(cfg, DataConfig) and cfg.name == ("libero_10" if preset == "libero" else preset)


def test_libero_lerobot_preset_undoes_the_converters_rotation():
    cfg = load_data_config(["data=libero_lerobot"])
    assert (cfg.format, cfg.repo_id, cfg.path) == ("lerobot", "lerobot/libero", None)
    assert cfg.lerobot == LeRobotConfig(image_convention="opengl", rotated_180=True)
    assert cfg.calvin == CalvinConfig()


def test_option_groups_take_overrides():
    cfg = load_data_config(
        ["data=libero_lerobot", "data.lerobot.image_convention=opencv", "data.lerobot.revision=v3.0"]
    )
    assert cfg.lerobot.image_convention == "opencv" and cfg.lerobot.revision == "v3.0" and cfg.lerobot.rotated_180
    cfg = load_data_config(["data=calvin_debug", "data.calvin.split=validation", "data.calvin.episodes=play"])
    assert cfg.calvin == CalvinConfig(split="validation", episodes="play")
    assert load_data_config([]).lerobot == LeRobotConfig()  # defaults without a preset section


def test_misspelled_option_names_the_close_match():
    with pytest.raises(ConfigError, match=r"unknown key 'rotated180' in data.lerobot. Did you mean 'rotated_180'\?"):
        load_data_config(["data=libero_lerobot", "data.lerobot.rotated180=true"])
    with pytest.raises(ConfigError, match=r"unknown key 'splt' in data.calvin. Did you mean 'split'\?"):
        load_data_config(["data=calvin_abc", "data.calvin.splt=validation"])
    with pytest.raises(ConfigError, match=r"data.lerobot.rotated_180 = 'maybe': expected true or false"):
        load_data_config(["data=libero_lerobot", "data.lerobot.rotated_180=maybe"])


CALVIN_FIXTURE = str(Path(__file__).resolve().parents[1] / "fixtures" / "calvin" / "dataset")  # from calvin_env


def test_calvin_split_option_reaches_the_reader(tmp_path):
    from foresight.data.source import open_dataset

    common = ["data=calvin_debug", f"data.path={CALVIN_FIXTURE}", f"data.cache_dir={tmp_path}"]
    training = open_dataset(load_data_config(common))
    validation = open_dataset(load_data_config([*common, "data.calvin.split=validation"]))
    assert len(training) > 0 and {ep.source for ep in training.episodes} == {f"{CALVIN_FIXTURE}/training"}
    assert len(validation) > 0 and {ep.source for ep in validation.episodes} == {f"{CALVIN_FIXTURE}/validation"}
    assert training.fingerprint != validation.fingerprint
