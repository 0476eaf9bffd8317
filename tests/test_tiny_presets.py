"""``method=<name>_tiny``: every method's CPU smoke preset trains on LIBERO-format data (two 128² views, LIBERO
proprio) through the real trainer in seconds, its frozen models written as tiny random-weight files on first use."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from foresight import checkpoint
from foresight.config import available, config_root, load_yaml
from foresight.encoders import build_encoder
from foresight.encoders.decisionnce_tiny import tiny_decisionnce_path, write_tiny_decisionnce
from foresight.encoders.digest import file_digest
from foresight.registry import get_method
from foresight.train import main
from foresight.types import ACTION, ACTION_IS_PAD, INSTRUCTION, STATE, TASK_INDEX, image_key

LIBERO_DATA = ["data=demo", "data.demo.image_size=128", "data.val_fraction=0"]


def test_every_method_preset_has_a_tiny_preset_and_none_repeats_a_default():
    full = [name for name in available("method") if not name.endswith("_tiny")]
    assert {"dp", "clad"} <= set(full)
    for name in full:  # a variant preset (dreamvla_4090: name dreamvla) shares its method's tiny preset
        method = load_yaml(config_root() / "method" / f"{name}.yaml")["name"]
        assert f"{method}_tiny" in available("method"), f"configs/method/{name}.yaml: no {method}_tiny.yaml"
    for name in (n for n in available("method") if n.endswith("_tiny")):
        preset = load_yaml(config_root() / "method" / f"{name}.yaml")
        defaults = dataclasses.asdict(get_method(preset.pop("name")).Config())
        for where, value, default in _leaves(preset, defaults, "method"):
            assert value != default, f"{name}.yaml: {where} repeats the default {value!r}"


def _leaves(values: dict, defaults: dict, where: str):
    """(dotted key, preset value, dataclass default) for every value a preset sets."""
    for key, value in values.items():
        default = defaults[key]
        # a free-form dict (an encoder's or teacher's kwargs) whose keys the default lacks is compared whole
        if isinstance(value, dict) and isinstance(default, dict) and value and set(value) <= set(default):
            yield from _leaves(value, default, f"{where}.{key}")
        else:
            yield f"{where}.{key}", value, list(default) if isinstance(default, tuple) else default


def run(tmp_path: Path, *args: str) -> int:
    return main([*LIBERO_DATA, f"data.path={tmp_path / 'demo'}", f"run_dir={tmp_path / 'run'}", "train.logger=none",
                 "train.num_workers=0", "train.log_every=1", *args])  # fmt: skip


def inference_batch(spec, info) -> dict:
    """One observation as the evaluation runner builds it, at the inference spec's offsets (past actions zero)."""
    frames = len(spec.obs_offsets)
    g = torch.Generator().manual_seed(0)
    batch = {
        image_key(v): torch.randint(0, 256, (1, frames, 3, 128, 128), dtype=torch.uint8, generator=g)
        for v in spec.views
    }
    batch[STATE] = torch.zeros(1, frames, info.proprio_dim(spec.proprio_keys))
    batch[INSTRUCTION], batch[TASK_INDEX] = [info.instructions[0]], torch.tensor([0])
    past = sum(o < 0 for o in spec.action_offsets)
    if past:
        batch[ACTION], batch[ACTION_IS_PAD] = torch.zeros(1, past, info.action_dim), torch.ones(1, past, dtype=bool)
    return batch


def test_dp_tiny_trains_on_libero_format_data(tmp_path):
    assert run(tmp_path, "method=dp_tiny", "train.steps=3") == 0
    policy = checkpoint.load_policy(tmp_path / "run")
    assert policy.provenance["step"] == 3
    assert policy.method.config.vision_width == 16 and policy.method.config.views == ("agentview", "wrist")
    assert policy.method.info.image_shapes == {"agentview": (3, 128, 128), "wrist": (3, 128, 128)}
    chunk = policy.method.predict_action_chunk(inference_batch(policy.spec, policy.method.info))
    assert chunk.shape == (1, 6, 7) and torch.isfinite(chunk).all()


def test_clad_tiny_trains_both_stages_with_a_tiny_vlm_written_on_first_use(tmp_path, monkeypatch):
    monkeypatch.setenv("FORESIGHT_CACHE", str(tmp_path / "cache"))
    assert not tiny_decisionnce_path().exists()
    assert run(tmp_path, "method=clad_tiny", "train.steps=2") == 0
    written = tiny_decisionnce_path()
    assert written.is_file() and written.parent == tmp_path / "cache" / "encoders"
    for stage in ("dynamics", "policy"):
        assert checkpoint.final_checkpoint(tmp_path / "run" / stage).name == "step_0000002"

    # The checkpoint names the encoder, not a file: on a machine without the file it is written again, same bytes.
    digest = file_digest(written)
    written.unlink()
    policy = checkpoint.load_policy(tmp_path / "run")
    assert policy.method.config.vlm.encoder == "decisionnce_tiny" and policy.method.config.vlm.kwargs == {}
    chunk = policy.method.predict_action_chunk(inference_batch(policy.spec, policy.method.info))
    assert chunk.shape == (1, 6, 7) and torch.isfinite(chunk).all()
    assert file_digest(written) == digest


def test_writing_the_tiny_vlm_leaves_the_global_rng_alone(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    write_tiny_decisionnce(tmp_path / "a.pth", seed=0)
    assert torch.equal(torch.rand(3), expected)  # a run that writes it on first use resumes exactly
    write_tiny_decisionnce(tmp_path / "b.pth", seed=0)
    assert file_digest(tmp_path / "a.pth") == file_digest(tmp_path / "b.pth")
    assert file_digest(write_tiny_decisionnce(tmp_path / "c.pth", seed=1)) != file_digest(tmp_path / "a.pth")
    assert not list(tmp_path.glob(".tmp-*"))


def test_the_tiny_encoder_is_a_registered_decisionnce_of_32_dimensions(tmp_path, monkeypatch):
    monkeypatch.setenv("FORESIGHT_CACHE", str(tmp_path))
    encoder = build_encoder("decisionnce_tiny")
    features = encoder.encode_images(torch.zeros(2, 3, 128, 128, dtype=torch.uint8))
    assert features.shape == (2, 32) and encoder.encode_text(["pick up the bowl"]).shape == (1, 32)
    digest = file_digest(tiny_decisionnce_path())
    assert encoder.feature_id.startswith(f"decisionnce:DecisionNCE-T:sha256-{digest[:16]}")


@pytest.mark.parametrize("name", ["dp_tiny", "clad_tiny", "dreamvla_tiny"])
def test_tiny_preset_builds_a_small_model(name):
    from foresight.config import load_group
    from foresight.factory import build_method
    from foresight.methods.clad.params import LIBERO_INFO

    method = build_method(load_group("method", name), LIBERO_INFO)
    assert sum(p.numel() for p in method.parameters()) < 3_000_000
