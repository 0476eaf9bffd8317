"""The method contract (contract.py) for every method the registry finds: in-tree ones through their entry points,
the example plugin (examples/foresight-bc) installed as a user installs it. Each method runs on its tiny preset
(``method=<name>_tiny``; a plugin without one on its defaults), in seconds on a CPU.

The fakes at the bottom prove that every check can fail: each is a correct method with one deliberate flaw, and
exactly the check aimed at that flaw rejects it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from typing import Any

import contract
import pytest
import torch
from torch import nn

from foresight import registry
from foresight.batch_check import BatchKeyError
from foresight.budget import Budget
from foresight.config import available, load_group
from foresight.interfaces import Method, Stage
from foresight.types import ACTION, ACTION_IS_PAD, STATE, TASK_INDEX, Batch, DataSpec, image_key

PLUGIN = "bc"  # examples/foresight-bc's entry point
IN_TREE = sorted(ep.name for ep in metadata.entry_points(group=registry.METHOD_GROUP) if ep.name != PLUGIN)


@pytest.fixture(params=[*IN_TREE, PLUGIN])
def node(request, monkeypatch) -> dict[str, Any]:
    """The method's tiny config section, its class found by the registry as ``method=<name>`` would find it."""
    name = request.param
    if name == PLUGIN:
        monkeypatch.syspath_prepend(str(request.getfixturevalue("plugin_site")))
    assert registry.get_method(name).name == name
    if f"{name}_tiny" in available("method"):
        return load_group("method", f"{name}_tiny")
    assert name not in available("method"), f"in-tree method {name!r} ships no configs/method/{name}_tiny.yaml"
    return {"name": name}


def test_in_tree_methods_are_found():
    assert {"dp", "clad", "dreamvla"} <= set(IN_TREE)


def test_stages_and_data_specs_agree(node):
    contract.check_stages_and_specs(contract.build(node))


def test_one_step_of_each_stage_changes_only_its_trainable_parameters(node):
    for stage in contract.build(node).stages():
        contract.check_stage_isolation(contract.build(node), stage)


def test_save_then_load_predicts_identically(node, tmp_path):
    contract.check_checkpoint_round_trip(contract.build(node), node, tmp_path)


def test_prediction_is_determined_by_the_generator(node):
    contract.check_deterministic(contract.build(node))


def test_inference_reads_no_future_observation(node):
    contract.check_no_future_observations(contract.build(node))


def test_a_missing_batch_key_is_one_clear_error(node):
    method = contract.build(node)
    for stage in method.stages():
        contract.check_missing_key_is_one_clear_error(method, stage)


# ---------------------------------------------------------------------------------------------- the fakes


@dataclass
class FakeConfig:
    hidden: int = 8


class Fake(Method):
    """A correct two-stage method (an image-and-proprio encoder, then a stochastic head): passes every check."""

    Config = FakeConfig
    name = "fake"

    def __init__(self, config: FakeConfig, info) -> None:
        super().__init__(config, info)
        self.encoder = nn.Linear(info.proprio_dim(("joint_states",)) + 1, config.hidden)
        self.head = nn.Linear(config.hidden, 2 * info.action_dim)

    def stages(self) -> list[Stage]:
        return [
            Stage("a", ("encoder",), Budget(steps=1, batch_size=2, lr=1e-2)),
            Stage("b", ("head",), Budget(steps=1, batch_size=2, lr=1e-2)),
        ]

    def data_spec(self, stage: str | None = None) -> DataSpec:
        if stage is not None:
            self.stage(stage)
        return DataSpec(obs_offsets=(0,), action_offsets=(0, 1), views=("agentview",), proprio_keys=("joint_states",))

    def features(self, batch: Batch) -> torch.Tensor:
        pixels = batch[image_key("agentview")][:, -1].float().mean(dim=(1, 2, 3)) / 255.0
        return torch.tanh(self.encoder(torch.cat([batch[STATE][:, -1], pixels[:, None]], dim=-1)))

    def compute_loss(self, batch: Batch, stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        z = self.features(batch)
        if stage == "a":
            return z.pow(2).mean() - z.mean(), {}
        error = (self.head(z).view_as(batch[ACTION]) - batch[ACTION]) ** 2
        return (error * (~batch[ACTION_IS_PAD])[..., None]).mean(), {}

    def noise(self, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return 0.01 * torch.randn(like.shape, generator=generator)

    def predict_action_chunk(self, batch: Batch, *, generator: torch.Generator | None = None) -> torch.Tensor:
        mean = self.head(self.features(batch)).view(-1, 2, self.info.action_dim)
        return mean + self.noise(mean, generator)


class BadStages(Fake):
    def stages(self) -> list[Stage]:
        return [
            Stage("a", ("encoder",), Budget(steps=1, batch_size=2, lr=1e-2)),
            Stage("b", ("optimizer",), Budget(steps=1, batch_size=2, lr=1e-2)),
        ]


class ReadsTheFuture(Fake):
    def data_spec(self, stage: str | None = None) -> DataSpec:
        spec = super().data_spec(stage)
        return spec if stage is not None else DataSpec(obs_offsets=(0, 1), action_offsets=(0, 1), views=spec.views,
                                                       proprio_keys=spec.proprio_keys)  # fmt: skip


class GlobalRandomness(Fake):
    def noise(self, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return 0.01 * torch.randn(like.shape)  # ignores the generator


class TouchesFrozenWeights(Fake):
    def on_optimizer_step(self, stage: str, step: int) -> None:
        with torch.no_grad():
            self.head.weight.mul_(0.999)  # "decays" the head in every stage, also while it is frozen


class StateOutsideStateDict(Fake):
    def __init__(self, config: FakeConfig, info) -> None:
        super().__init__(config, info)
        self.offset = torch.randn(info.action_dim)  # a plain attribute: never saved

    def predict_action_chunk(self, batch: Batch, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return super().predict_action_chunk(batch, generator=generator) + self.offset


class BypassesTheBatchCheck(Fake):
    def forward(self, batch: Batch, stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        return self.compute_loss(batch, stage)


FAKES = {cls.__name__: cls for cls in (Fake, BadStages, ReadsTheFuture, GlobalRandomness, TouchesFrozenWeights,
                                       StateOutsideStateDict, BypassesTheBatchCheck)}  # fmt: skip


@pytest.fixture
def fakes(monkeypatch):
    """The fakes registered under their own names (removed again afterwards), so checkpoints can rebuild them."""
    for name, cls in FAKES.items():
        monkeypatch.setitem(registry.METHODS._classes, name, cls)
        monkeypatch.setattr(cls, "name", name)
    return {name: {"name": name} for name in FAKES}


def run_check(check: str, node: dict[str, Any], tmp_path) -> None:
    if check == "stages":
        contract.check_stages_and_specs(contract.build(node))
    elif check == "future":
        contract.check_no_future_observations(contract.build(node))
    elif check == "determinism":
        contract.check_deterministic(contract.build(node))
    elif check == "isolation":
        for stage in contract.build(node).stages():
            contract.check_stage_isolation(contract.build(node), stage)
    elif check == "round_trip":
        contract.check_checkpoint_round_trip(contract.build(node), node, tmp_path)
    elif check == "missing_key":
        method = contract.build(node)
        for stage in method.stages():
            contract.check_missing_key_is_one_clear_error(method, stage)


FLAWS = {
    "stages": ("BadStages", "trains 'optimizer', which is not a submodule"),
    "future": ("ReadsTheFuture", r"reads observations at positive offsets \[1\]"),
    "determinism": ("GlobalRandomness", "not determined by its generator"),
    "isolation": ("TouchesFrozenWeights", r"a step of stage 'a' changed \['head.weight'\] outside \('encoder',\)"),
    "round_trip": ("StateOutsideStateDict", "predictions after save -> load differ"),
    "missing_key": ("BypassesTheBatchCheck", "not the core's BatchKeyError"),
}


@pytest.mark.parametrize("check", sorted(FLAWS))
def test_each_check_passes_the_correct_fake_and_rejects_its_flaw(check, fakes, tmp_path):
    run_check(check, fakes["Fake"], tmp_path / "good")
    flawed, message = FLAWS[check]
    with pytest.raises(AssertionError, match=message):
        run_check(check, fakes[flawed], tmp_path / "bad")


@pytest.mark.parametrize("check", sorted(FLAWS))
def test_each_flaw_is_caught_by_its_own_check_only(check, fakes, tmp_path):
    """The other checks pass the flawed fake: every check tests one thing."""
    flawed = FLAWS[check][0]
    for other in sorted(set(FLAWS) - {check}):
        if flawed == "BadStages" and other != "stages":
            continue  # a stage that trains no module cannot take a step at all
        run_check(other, fakes[flawed], tmp_path / other)


def test_the_batch_error_names_every_missing_key_and_what_the_batch_has(fakes):
    method = contract.build(fakes["Fake"])
    batch = contract.make_batch(method.data_spec("b"), contract.INFO, training=True)
    del batch[STATE], batch[ACTION]
    with pytest.raises(BatchKeyError) as info:  # a KeyError, so callers catching KeyError still do
        method(batch, stage="b")
    message = str(info.value)
    assert message.startswith("the batch for method 'Fake', stage 'b' lacks 'observation.state' (for proprio_keys")
    assert "'action' (for action_offsets)" in message and f"'{TASK_INDEX}'" in message
    assert isinstance(info.value, KeyError)
