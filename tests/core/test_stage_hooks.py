"""``Method.on_stage_start``: called once per stage on its starting weights, and replayed on resume so a resumed
stage holds the state the interrupted run built (a CLAP-style frozen reference copy), never one rebuilt from
weights trained since."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from foresight import checkpoint
from foresight.budget import Budget
from foresight.interfaces import Method, Stage
from foresight.registry import register_method
from foresight.train import EXIT_STOPPED, main
from foresight.types import ACTION, ACTION_IS_PAD, STATE, Batch, DataSpec

HOOK_CALLS: list[tuple[str, torch.Tensor]] = []
"""(stage, the policy's first weight when the hook ran), appended by every call in this process."""


@dataclass
class ReferenceConfig:
    hidden: int = 16
    steps: int = 6
    anchor: float = 1.0  # weight of the pull towards the frozen reference in stage "tune"


@register_method("tiny_reference")
class TinyReference(Method):
    """Stage ``pretrain`` learns a policy; stage ``tune`` keeps training it, pulled towards a frozen copy of the
    policy as stage ``tune`` found it (CLAP's reference policy): the copy is made by :meth:`on_stage_start`."""

    Config = ReferenceConfig

    def __init__(self, config: ReferenceConfig, info) -> None:
        super().__init__(config, info)
        proprio = info.proprio_dim(("joint_states",))
        self.policy = nn.Sequential(nn.Linear(proprio, config.hidden), nn.Tanh(), nn.Linear(config.hidden, 7))
        self.reference = copy.deepcopy(self.policy).requires_grad_(False)  # declared here, filled by the hook

    def stages(self) -> list[Stage]:
        c = self.config
        return [
            Stage("pretrain", ("policy",), Budget(steps=c.steps, batch_size=8, lr=1e-2)),
            Stage("tune", ("policy",), Budget(steps=c.steps, batch_size=8, lr=1e-2)),
        ]

    def data_spec(self, stage: str | None = None) -> DataSpec:
        return DataSpec(obs_offsets=(0,), action_offsets=(0,), proprio_keys=("joint_states",))

    def on_stage_start(self, stage: str) -> None:
        HOOK_CALLS.append((stage, self.policy[0].weight.detach().clone()))
        if stage == "tune":
            self.reference.load_state_dict(self.policy.state_dict())

    def compute_loss(self, batch: Batch, stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        state = batch[STATE][:, -1]
        real = (~batch[ACTION_IS_PAD][:, 0]).float()
        loss = (((self.policy(state) - batch[ACTION][:, 0]) ** 2).mean(-1) * real).mean()
        if stage == "tune":
            with torch.no_grad():
                anchor = self.reference(state)
            loss = loss + self.config.anchor * ((self.policy(state) - anchor) ** 2).mean()
        return loss, {}

    def predict_action_chunk(self, batch: Batch, *, generator=None) -> torch.Tensor:
        return self.policy(batch[STATE][:, -1]).unsqueeze(1)


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("demo")


def run(demo_path: Path, run_dir: Path, *args: str) -> int:
    return main(["method=tiny_reference", "data=demo", f"data.path={demo_path}", f"run_dir={run_dir}",
                 "train.logger=none", "train.num_workers=0", "train.log_every=1", "train.checkpoint_every=2",
                 *args])  # fmt: skip


def weights(run_dir: Path, stage: str) -> dict[str, torch.Tensor]:
    return load_file(str(checkpoint.final_checkpoint(run_dir / stage) / checkpoint.MODEL_FILE))


def losses(run_dir: Path, stage: str) -> list[float]:
    lines = (run_dir / stage / "metrics.jsonl").read_text().splitlines()
    return [r["loss"] for r in map(json.loads, lines) if "loss" in r]


def test_the_hook_runs_once_per_stage_on_the_stage_s_starting_weights(demo_path, tmp_path):
    HOOK_CALLS.clear()
    assert run(demo_path, tmp_path / "r") == 0
    assert [stage for stage, _ in HOOK_CALLS] == ["pretrain", "tune"]
    pretrained, tuned = weights(tmp_path / "r", "pretrain"), weights(tmp_path / "r", "tune")
    torch.testing.assert_close(HOOK_CALLS[1][1], pretrained["policy.0.weight"], rtol=0, atol=0)
    for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
        assert torch.equal(tuned[f"reference.{name}"], pretrained[f"policy.{name}"])  # the copy, saved
        assert not torch.equal(tuned[f"policy.{name}"], pretrained[f"policy.{name}"])  # the policy trained on
    # A finished run re-run does not start its stages again.
    HOOK_CALLS.clear()
    assert run(demo_path, tmp_path / "r") == 0 and HOOK_CALLS == []


def test_a_resumed_stage_restores_the_reference_instead_of_rebuilding_it(demo_path, tmp_path):
    assert run(demo_path, tmp_path / "full") == 0
    assert run(demo_path, tmp_path / "split", "train.stop_at_step=3") == EXIT_STOPPED  # stops inside "pretrain"
    assert (
        run(demo_path, tmp_path / "split", "train.stop_at_step=3") == EXIT_STOPPED
    )  # finishes it, stops "tune" at step 3...
    assert checkpoint.final_checkpoint(tmp_path / "split" / "tune") is None
    stopped = checkpoint.list_checkpoints(tmp_path / "split" / "tune")[-1]
    at_stop = load_file(str(stopped / checkpoint.MODEL_FILE))
    assert not torch.equal(at_stop["policy.0.weight"], at_stop["reference.0.weight"])  # ...with a trained policy

    HOOK_CALLS.clear()
    assert run(demo_path, tmp_path / "split") == 0
    pretrained = weights(tmp_path / "split", "pretrain")
    # The resume replayed the hook on the stage's starting weights (stage 1's final), not on random or trained ones.
    assert [stage for stage, _ in HOOK_CALLS] == ["tune"]
    assert torch.equal(HOOK_CALLS[0][1], pretrained["policy.0.weight"])
    full, split = weights(tmp_path / "full", "tune"), weights(tmp_path / "split", "tune")
    assert torch.equal(split["reference.0.weight"], pretrained["policy.0.weight"])
    for name in full:
        torch.testing.assert_close(split[name], full[name], rtol=1e-6, atol=1e-7)
    assert losses(tmp_path / "split", "tune") == pytest.approx(losses(tmp_path / "full", "tune"), rel=1e-6)
