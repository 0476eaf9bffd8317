"""The trainer builds a method's missing teacher targets before training, as it does frozen-encoder features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from teacher_fakes import MeanColourTeacher
from torch import nn

from foresight.budget import Budget
from foresight.interfaces import Method, Stage
from foresight.registry import register_method
from foresight.teachers import teacher_outputs
from foresight.train import main
from foresight.types import ACTION, STATE, Batch, DataSpec, TeacherSpec, target_key

TARGET = TeacherSpec(name="colour", teacher="test_mean_colour_teacher", sources=("agentview",), offsets=(2,))


@dataclass
class TargetConfig:
    steps: int = 2


@register_method("tiny_teacher_targets")
class TinyTeacherTargets(Method):
    """Predicts the teacher's output at t + 2 from the state at t (a DreamVLA-style auxiliary target, tiny)."""

    Config = TargetConfig
    seen: ClassVar[list[tuple[torch.Tensor, torch.Tensor]]] = []

    def __init__(self, config: TargetConfig, info) -> None:
        super().__init__(config, info)
        self.net = nn.Linear(info.proprio_dim(("joint_states",)), 3)
        self.head = nn.Linear(info.proprio_dim(("joint_states",)), info.action_dim)

    def stages(self) -> list[Stage]:
        return [Stage("main", ("net", "head"), Budget(steps=self.config.steps, batch_size=4, lr=1e-2))]

    def data_spec(self, stage: str | None = None) -> DataSpec:
        return DataSpec(
            obs_offsets=(0, 2) if stage is not None else (0,),
            action_offsets=(0,),
            views=("agentview",),
            proprio_keys=("joint_states",),
            targets=(TARGET,) if stage is not None else (),
        )

    def compute_loss(self, batch: Batch, stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        target = batch[target_key("colour", "agentview")]  # (B, 1, 3) float16
        TinyTeacherTargets.seen.append((target.clone(), batch["observation.images.agentview"][:, 1].clone()))
        predicted = self.net(batch[STATE][:, 0])
        action = self.head(batch[STATE][:, 0])
        return nn.functional.mse_loss(predicted, target[:, 0].float()) + nn.functional.mse_loss(
            action, batch[ACTION][:, 0]
        ), {}

    def predict_action_chunk(self, batch: Batch, *, generator=None) -> torch.Tensor:
        return self.head(batch[STATE][:, -1]).unsqueeze(1)


def test_trainer_builds_missing_teacher_targets_and_feeds_them(tmp_path, monkeypatch):
    monkeypatch.setenv("FORESIGHT_CACHE", str(tmp_path / "cache"))
    args = [
        "method=tiny_teacher_targets",
        "data=demo",
        f"data.path={tmp_path / 'demo'}",
        "data.demo.episodes_per_task=1",
        "data.demo.length=8",
        "data.demo.image_size=16",
        "train.logger=none",
        "train.num_workers=0",
    ]
    TinyTeacherTargets.seen = []
    assert main([*args, f"run_dir={tmp_path / 'r1'}"]) == 0
    built = list((tmp_path / "cache" / "targets").glob("test_mean_colour_teacher-*/agentview.npy"))
    assert len(built) == 1
    teacher = MeanColourTeacher()
    assert len(TinyTeacherTargets.seen) >= 2  # training steps, plus validation batches (they read targets too)
    for target, pixels_at_t_plus_2 in TinyTeacherTargets.seen:
        # the target at t + 2 is the teacher's output on the frame the window put at offset +2
        expected = teacher_outputs(teacher, pixels_at_t_plus_2.permute(0, 2, 3, 1).numpy())
        torch.testing.assert_close(target[:, 0], torch.from_numpy(expected))
    stamp = built[0].stat().st_mtime_ns
    assert main([*args, f"run_dir={tmp_path / 'r2'}"]) == 0
    assert built[0].stat().st_mtime_ns == stamp  # the second run reused the cache
