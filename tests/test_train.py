"""The trainer end to end on the demo dataset (official LIBERO HDF5 schema), in-process and under accelerate."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from foresight import checkpoint
from foresight.encoders import register_encoder
from foresight.interfaces import Budget, Encoder, Method, Stage
from foresight.registry import register_method
from foresight.train import EXIT_STOPPED, main
from foresight.types import ACTION, ACTION_IS_PAD, STATE, Batch, DataSpec, FeatureSpec, feature_key, image_key


@dataclass
class TinyConfig:
    hidden: int = 16
    steps_a: int = 6
    steps_b: int = 6
    ema_decay: float | None = None
    dropout: float = 0.1
    noise: float = 0.01


@register_method("tiny_two_stage")
class TinyTwoStage(Method):
    """Two stages like CLaD (an encoder, then a head on the frozen encoder), small enough to train in a second.

    It reads pixels (so augmentation in DataLoader workers matters), uses dropout and draws noise (so the
    torch RNG matters): everything an exact resume must restore.
    """

    Config = TinyConfig

    def __init__(self, config: TinyConfig, info) -> None:
        super().__init__(config, info)
        proprio = info.proprio_dim(("joint_states",))
        self.encoder = nn.Sequential(nn.Linear(proprio + 3, config.hidden), nn.Dropout(config.dropout), nn.Tanh())
        self.aux = nn.Linear(config.hidden, proprio)
        self.head = nn.Linear(config.hidden, 2 * info.action_dim)

    def stages(self) -> list[Stage]:
        c = self.config
        return [
            Stage("a", ("encoder", "aux"), Budget(steps=c.steps_a, batch_size=8, lr=1e-2, warmup_steps=1)),
            Stage("b", ("head",), Budget(steps=c.steps_b, batch_size=8, lr=1e-2, ema_decay=c.ema_decay)),
        ]

    def data_spec(self, stage: str | None = None) -> DataSpec:
        return DataSpec(obs_offsets=(0,), action_offsets=(0, 1), views=("agentview",), proprio_keys=("joint_states",))

    def _encode(self, batch: Batch) -> torch.Tensor:
        pixels = batch[image_key("agentview")][:, -1].float().mean(dim=(-1, -2)) / 255.0
        return self.encoder(torch.cat([batch[STATE][:, -1], pixels], dim=-1))

    def compute_loss(self, batch: Batch, stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        z = self._encode(batch)
        if stage == "a":
            noisy = batch[STATE][:, -1] + self.config.noise * torch.randn_like(batch[STATE][:, -1])
            return nn.functional.mse_loss(self.aux(z), noisy), {}
        return self._action_loss(z, batch), {}

    def _action_loss(self, z: torch.Tensor, batch: Batch) -> torch.Tensor:
        real = (~batch[ACTION_IS_PAD]).unsqueeze(-1).float()
        error = (self.head(z).view_as(batch[ACTION]) - batch[ACTION]) ** 2 * real
        return error.sum() / real.sum().clamp(min=1)

    def predict_action_chunk(self, batch: Batch, *, generator=None) -> torch.Tensor:
        return self.head(self._encode(batch)).view(-1, 2, self.info.action_dim)


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("demo")


def run(demo_path: Path, run_dir: Path, *args: str) -> int:
    return main(
        [
            "method=tiny_two_stage",
            "data=demo",
            f"data.path={demo_path}",
            f"run_dir={run_dir}",
            "train.logger=none",
            "train.num_workers=0",
            "train.log_every=1",
            "train.checkpoint_every=2",
            *args,
        ]
    )


def losses(run_dir: Path, stage: str) -> list[tuple[int, float]]:
    lines = (run_dir / stage / "metrics.jsonl").read_text().splitlines()
    return [(r["step"], r["loss"]) for r in map(json.loads, lines) if "loss" in r]


def final_weights(run_dir: Path, stage: str) -> dict[str, torch.Tensor]:
    return load_file(str(checkpoint.final_checkpoint(run_dir / stage) / checkpoint.MODEL_FILE))


@pytest.mark.parametrize("workers", [0, 2])
def test_a_run_stopped_and_resumed_matches_an_uninterrupted_one(demo_path, tmp_path, workers):
    extra = [f"train.num_workers={workers}", "data.augment.enabled=true"]
    assert run(demo_path, tmp_path / "full", *extra) == 0
    assert run(demo_path, tmp_path / "split", *extra, "train.stop_at_step=3") == EXIT_STOPPED
    assert checkpoint.final_checkpoint(tmp_path / "split" / "a") is None  # really stopped inside stage a
    assert run(demo_path, tmp_path / "split", *extra) == 0

    for stage in ("a", "b"):
        full, split = losses(tmp_path / "full", stage), losses(tmp_path / "split", stage)
        assert [s for s, _ in full] == [s for s, _ in split] == list(range(1, 7))
        assert [v for _, v in split] == pytest.approx([v for _, v in full], rel=1e-6, abs=1e-7)
        expected, resumed = final_weights(tmp_path / "full", stage), final_weights(tmp_path / "split", stage)
        for name in expected:
            torch.testing.assert_close(resumed[name], expected[name], rtol=1e-6, atol=1e-7)


def test_a_run_resumed_with_ema_restores_the_average_and_its_update_count(demo_path, tmp_path):
    """Stopped at step 3 of stage a, then at step 3 of stage b (where the EMA runs), then finished: the saved
    EMA (which evaluation loads) equals the uninterrupted run's, not an average of the steps after the resume."""
    assert run(demo_path, tmp_path / "full", "method.ema_decay=0.9") == 0
    for _ in range(2):
        assert run(demo_path, tmp_path / "split", "method.ema_decay=0.9", "train.stop_at_step=3") == EXIT_STOPPED
    assert checkpoint.final_checkpoint(tmp_path / "split" / "a") is not None
    assert checkpoint.final_checkpoint(tmp_path / "split" / "b") is None  # really stopped inside stage b
    assert run(demo_path, tmp_path / "split", "method.ema_decay=0.9") == 0

    def final_ema(run_dir: Path) -> dict[str, torch.Tensor]:
        return load_file(str(checkpoint.final_checkpoint(run_dir / "b") / checkpoint.EMA_FILE))

    expected, resumed = final_ema(tmp_path / "full"), final_ema(tmp_path / "split")
    assert int(resumed["__num_updates__"]) == int(expected["__num_updates__"]) == 6
    for name in expected:
        torch.testing.assert_close(resumed[name], expected[name], rtol=1e-6, atol=1e-7)
    assert not torch.allclose(expected["head.weight"], final_weights(tmp_path / "full", "b")["head.weight"])


def test_stage_b_starts_from_stage_a_and_leaves_it_unchanged(demo_path, tmp_path):
    assert run(demo_path, tmp_path / "r", "method.ema_decay=0.5") == 0
    after_a, after_b = final_weights(tmp_path / "r", "a"), final_weights(tmp_path / "r", "b")
    for name in after_a:
        if name.startswith(("encoder.", "aux.")):
            assert torch.equal(after_a[name], after_b[name]), name
    assert not torch.equal(after_a["head.weight"], after_b["head.weight"])  # the head did train

    # EMA of the trainable weights is saved, and evaluation loads it instead of the raw weights
    final_b = checkpoint.final_checkpoint(tmp_path / "r" / "b")
    ema = load_file(str(final_b / checkpoint.EMA_FILE))
    policy = checkpoint.load_policy(tmp_path / "r")
    assert policy.path == final_b
    torch.testing.assert_close(policy.method.head.weight, ema["head.weight"])
    assert not torch.equal(ema["head.weight"], after_b["head.weight"])
    assert policy.provenance["stage"] == "b" and policy.provenance["step"] == 6
    assert not policy.method.training


def test_stage_alone_loads_the_earlier_stage_or_says_how_to_get_it(demo_path, tmp_path, capsys):
    assert run(demo_path, tmp_path / "r", "stage=b") == 2
    assert "stage 'b' starts from the weights of stage 'a'" in capsys.readouterr().err
    assert run(demo_path, tmp_path / "r", "stage=a") == 0
    assert run(demo_path, tmp_path / "r", "stage=b") == 0
    encoder_a = final_weights(tmp_path / "r", "a")["encoder.0.weight"]
    assert torch.equal(encoder_a, final_weights(tmp_path / "r", "b")["encoder.0.weight"])


def test_checkpoints_carry_config_stats_info_and_provenance(demo_path, tmp_path, capsys):
    assert run(demo_path, tmp_path / "r", "train.keep_last=1") == 0
    out = capsys.readouterr().out  # the effective schedule, printed as each stage starts
    assert "stage 'a': batch 8, linear warm-up 1 of 6 steps to lr 0.01, then cosine decay to 0" in out
    assert "stage 'b': batch 8, linear warm-up 0 of 6 steps to lr 0.01, then cosine decay to 0" in out
    stage_dir = tmp_path / "r" / "a"
    assert [p.name for p in checkpoint.list_checkpoints(stage_dir)] == ["step_0000006"]
    ckpt = checkpoint.final_checkpoint(stage_dir)
    checkpoint.verify(ckpt)
    meta = json.loads((ckpt / checkpoint.META_FILE).read_text())
    assert meta["stage"] == "a" and meta["step"] == 6 and meta["method"] == "tiny_two_stage"
    assert meta["version"] and meta["data_fingerprint"]
    assert meta["schedule"] == {
        "warmup_steps": 1,
        "total_steps": 6,
        "peak_lr": 0.01,
        "decay": "cosine",
        "final_lr": 0.0,
    }
    assert "tiny_two_stage" in (ckpt / checkpoint.CONFIG_FILE).read_text()
    info = json.loads((ckpt / checkpoint.INFO_FILE).read_text())
    assert info["action_dim"] == 7 and info["proprio_dims"]["joint_states"] == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["method=nonexistent"], "unknown method 'nonexistent'"),
        (["method.hiden=3"], "unknown key 'hiden' in method. Did you mean 'hidden'?"),
        (["train.steps=abc"], "train.steps = 'abc': expected int or null"),
        (["train.checkpoint_every=true"], "train.checkpoint_every = True: expected an integer"),  # bool is an int
        (["train.mixed_precision=fp8"], "train.mixed_precision='fp8': expected 'no', 'bf16' or 'fp16'"),
        (["train.warmup_steps=6"], "stage 'a': a warm-up of 6 steps is not shorter than the run's 6 steps"),
        (["data.format=libero_hdf5", "data.path=/nonexistent/libero"], "/nonexistent/libero"),
    ],
)
def test_bad_input_is_one_clear_message(demo_path, tmp_path, capsys, args, message):
    assert run(demo_path, tmp_path / "r", *args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_truncated_checkpoint_on_resume_is_a_clear_error(demo_path, tmp_path, capsys):
    assert run(demo_path, tmp_path / "r", "train.stop_at_step=3") == EXIT_STOPPED
    latest = checkpoint.list_checkpoints(tmp_path / "r" / "a")[-1]
    weights = latest / checkpoint.MODEL_FILE
    weights.write_bytes(weights.read_bytes()[:100])
    assert run(demo_path, tmp_path / "r") == 2
    assert f"{weights} is corrupted or truncated" in capsys.readouterr().err


def test_resume_never_refuses_to_touch_an_existing_run(demo_path, tmp_path, capsys):
    assert run(demo_path, tmp_path / "r", "train.stop_at_step=2") == EXIT_STOPPED
    assert run(demo_path, tmp_path / "r", "train.resume=never") == 2
    assert "already has checkpoints and train.resume=never" in capsys.readouterr().err


def accelerate_launch(*args: str, processes: int = 1, cwd: Path) -> subprocess.CompletedProcess:
    """``accelerate launch`` as a user types it; on a CPU-only machine ``--multi_gpu`` starts torchrun processes
    that the trainer joins into a gloo group (``--cpu`` alone always runs one process)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    mode = ["--multi_gpu"] if processes > 1 else []
    command = [
        sys.executable, "-m", "accelerate.commands.launch", *mode, "--num_processes", str(processes),
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "-m", "foresight.train", *args,
    ]  # fmt: skip
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


DP_TINY = [
    "method=dp",
    "method.vision_width=8",
    "method.hidden_dim=32",
    "method.views=[agentview]",
    "train.batch_size=8",
    "train.logger=tensorboard",
    "train.num_workers=0",
    "train.checkpoint_every=2",
]


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_accelerate_launch_trains_dp_on_cpu(demo_path, tmp_path, processes):
    result = accelerate_launch(
        *DP_TINY, "data=demo", f"data.path={demo_path}", f"run_dir={tmp_path / 'r'}", "train.steps=4",
        processes=processes, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resolved config:" in result.stdout
    assert f"processes: {processes} ({'MULTI_CPU' if processes > 1 else 'NO'})" in result.stdout
    final = checkpoint.final_checkpoint(tmp_path / "r" / "policy")
    assert final is not None and final.name == "step_0000004"
    assert sorted(p.name for p in final.glob("rng_*.pt")) == [f"rng_{rank}.pt" for rank in range(processes)]
    assert list((tmp_path / "r" / "tb").rglob("events.out.tfevents.*"))
    policy = checkpoint.load_policy(tmp_path / "r")
    assert policy.method.name == "dp"


class MeanColour(Encoder):
    """A frozen 'VLM' whose features are checkable by hand: mean colour per image, length per instruction."""

    output_dim = 3

    def __init__(self) -> None:
        super().__init__()
        self.feature_id = "test-mean-colour-v1"

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        return images.float().mean(dim=(-1, -2)) / 255.0

    def encode_text(self, texts) -> torch.Tensor:
        return torch.tensor([[len(t) / 100.0] * 3 for t in texts])


register_encoder("test_mean_colour")(MeanColour)
ENCODER = MeanColour()
FEATURES = FeatureSpec(name="test_mean_colour", encoder="test_mean_colour", sources=("agentview", "instruction"))


@register_method("tiny_features")
class TinyFeatures(TinyTwoStage):
    """Reads the frozen encoder's features, from the batch when cached, else computed from pixels."""

    seen_pixels: ClassVar[list[bool]] = []

    def data_spec(self, stage: str | None = None) -> DataSpec:
        return replace(super().data_spec(stage), features=(FEATURES,))

    def _encode(self, batch: Batch) -> torch.Tensor:
        key = feature_key("test_mean_colour", "agentview")
        TinyFeatures.seen_pixels.append(image_key("agentview") in batch)
        if key not in batch:
            frames = batch[image_key("agentview")]
            batch[key] = ENCODER.encode_images(frames.flatten(0, 1)).view(*frames.shape[:2], -1)
        return self.encoder(torch.cat([batch[STATE][:, -1], batch[key][:, -1].float()], dim=-1))


def test_cached_features_train_exactly_like_on_the_fly_ones_without_decoding_pixels(demo_path, tmp_path, monkeypatch):
    monkeypatch.setenv("FORESIGHT_CACHE", str(tmp_path / "cache"))
    args = ["method=tiny_features", "method.steps_b=1"]
    TinyFeatures.seen_pixels = []
    assert run(demo_path, tmp_path / "cached", *args) == 0
    assert not any(TinyFeatures.seen_pixels)  # the cache covered the view: no image was decoded
    assert list((tmp_path / "cache").rglob("*.npy"))
    TinyFeatures.seen_pixels = []
    assert run(demo_path, tmp_path / "live", *args, "train.feature_cache=false") == 0
    assert all(TinyFeatures.seen_pixels)
    cached, live = losses(tmp_path / "cached", "a"), losses(tmp_path / "live", "a")
    assert [v for _, v in cached] == pytest.approx([v for _, v in live], rel=1e-5)


def test_cached_features_with_augmentation_is_refused(demo_path, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FORESIGHT_CACHE", str(tmp_path / "cache"))
    assert run(demo_path, tmp_path / "r", "method=tiny_features", "data.augment.enabled=true") == 2
    assert "train.feature_cache=false" in capsys.readouterr().err


@pytest.mark.slow
def test_accelerate_launch_trains_both_clad_stages_with_two_processes(demo_path, tmp_path):
    run_dir = tmp_path / "r"
    result = accelerate_launch(
        "method=clad_tiny", "data=demo", f"data.path={demo_path}", f"run_dir={run_dir}",
        "train.logger=none", "train.num_workers=0", "method.dynamics.budget.steps=4", "method.policy.budget.steps=4",
        processes=2, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "processes: 2 (MULTI_CPU)" in result.stdout
    assert "stage 'policy': starting from" in result.stdout  # stage 2 picked up stage 1 by itself
    for stage in ("dynamics", "policy"):
        assert checkpoint.final_checkpoint(run_dir / stage).name == "step_0000004"
    policy = checkpoint.load_policy(run_dir)
    assert policy.method.name == "clad" and policy.provenance["stage"] == "policy"


def test_gradient_accumulation_matches_one_big_batch(demo_path, tmp_path):
    """Two micro-batches of 4 give the gradient of one batch of 8 (no dropout or noise to tell them apart)."""
    deterministic = ["method.dropout=0.0", "method.noise=0.0", "train.grad_clip=null"]
    assert run(demo_path, tmp_path / "one", *deterministic) == 0
    assert run(demo_path, tmp_path / "two", *deterministic, "train.grad_accum=2") == 0
    for stage in ("a", "b"):
        one, two = final_weights(tmp_path / "one", stage), final_weights(tmp_path / "two", stage)
        for name in one:
            torch.testing.assert_close(two[name], one[name], rtol=1e-5, atol=1e-6)
        assert [v for _, v in losses(tmp_path / "two", stage)] == pytest.approx(
            [v for _, v in losses(tmp_path / "one", stage)], rel=1e-5
        )


@pytest.mark.slow
def test_bf16_autocast_trains_on_cpu_and_saves_fp32_weights(demo_path, tmp_path):
    # A subprocess: Accelerate's process state is a singleton, fixed by the first run of this test session.
    run_dir = tmp_path / "r"
    result = subprocess.run(
        [sys.executable, "-m", "foresight.train", *DP_TINY, "data=demo", f"data.path={demo_path}",
         f"run_dir={run_dir}", "train.steps=3", "train.mixed_precision=bf16", "train.logger=none"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = (run_dir / "policy" / "metrics.jsonl").read_text().splitlines()
    assert all(math.isfinite(json.loads(line).get("loss", 0.0)) for line in metrics)
    weights = final_weights(run_dir, "policy")
    assert all(t.dtype == torch.float32 for t in weights.values())
