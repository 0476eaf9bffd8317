"""The guarantees every registered method gives, as checks that raise AssertionError (tests/methods/test_contract.py).

In the spirit of LeRobot's tests/policies/test_policies.py: each check drives a method only through the public
interface and the core's own code (the trainer's freezing rules, the checkpoint writer and loader), so a new method
gets the guarantees dp and CLaD have without anyone writing them again. Batches are synthetic, built from the
method's data spec the way the data layer and the evaluation runner build them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

from foresight import checkpoint
from foresight.batch_check import BatchKeyError, required_keys
from foresight.config import to_yaml
from foresight.data import Normalizer
from foresight.factory import build_method
from foresight.interfaces import Method, Stage
from foresight.teachers import build_teacher
from foresight.teachers.base import teacher_outputs
from foresight.train import configure_trainable, set_stage_modes
from foresight.types import (
    ACTION,
    ACTION_IS_PAD,
    INSTRUCTION,
    OBS_IS_PAD,
    STATE,
    TASK_INDEX,
    DatasetInfo,
    DataSpec,
    image_key,
    target_key,
)

INFO = DatasetInfo(
    action_dim=7,  # LIBERO: OSC delta pose (6) + gripper
    proprio_dims={"joint_states": 7, "gripper_states": 2, "ee_states": 6},
    image_shapes={"agentview": (3, 128, 128), "wrist": (3, 128, 128)},
    tasks=("put_the_bowl_in_the_drawer", "open_the_microwave"),
    instructions=("put the bowl in the drawer", "open the microwave"),
    fps=20.0,
    view_roles={"primary": "agentview", "wrist": "wrist"},
    proprio_roles={"arm": "joint_states", "gripper": "gripper_states", "eef": "ee_states"},
)
"""A small LIBERO-format dataset: two 128² views, LIBERO proprio and actions, two tasks, the LIBERO reader's roles."""


def make_batch(spec: DataSpec, info: DatasetInfo, *, training: bool, size: int = 2, seed: int = 0) -> dict[str, Any]:
    """A batch holding exactly what ``spec`` promises: a training window, or what the runner gives at inference."""
    g = torch.Generator().manual_seed(seed)
    frames = len(spec.obs_offsets)
    batch: dict[str, Any] = {
        OBS_IS_PAD: torch.zeros(size, frames, dtype=torch.bool),
        INSTRUCTION: [info.instructions[i % len(info.instructions)] for i in range(size)],
        TASK_INDEX: torch.arange(size) % len(info.tasks),
    }
    for view in spec.views:
        shape = (size, frames, *info.image_shapes[view])
        batch[image_key(view)] = torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)
    if spec.proprio_keys:
        batch[STATE] = torch.rand(size, frames, info.proprio_dim(spec.proprio_keys), generator=g) * 2 - 1
    actions = len(spec.action_offsets) if training else sum(o < 0 for o in spec.action_offsets)
    if actions:
        batch[ACTION] = torch.rand(size, actions, info.action_dim, generator=g) * 2 - 1
        batch[ACTION_IS_PAD] = torch.zeros(size, actions, dtype=torch.bool)
    if training:
        for target in spec.targets:
            for source in target.sources:
                batch[target_key(target.name, source)] = teacher_targets(spec, target, batch[image_key(source)])
    return batch


_TEACHERS: dict[tuple, Any] = {}
_TARGETS: dict[tuple, torch.Tensor] = {}


def teacher_targets(spec: DataSpec, target: Any, frames: torch.Tensor) -> torch.Tensor:
    """``(B, K, ...)`` targets as the trainer's cache holds them: the real teacher run on each sample's frames.

    A sample's observation frames stand in for its episode (a whole-episode teacher such as motion sees them in
    order); the rows at the target's offsets are kept. Memoised: the checks build the same batches many times.
    """
    key = (target, spec.obs_offsets, frames.shape, hash(frames.numpy().tobytes()))
    if key not in _TARGETS:
        ident = (target.teacher, target.kwargs)
        if ident not in _TEACHERS:
            _TEACHERS[ident] = build_teacher(target.teacher, **dict(target.kwargs)).eval()
        rows = [spec.obs_offsets.index(o) for o in target.offsets]
        outputs = [teacher_outputs(_TEACHERS[ident], sample.permute(0, 2, 3, 1).numpy())[rows] for sample in frames]
        _TARGETS[key] = torch.from_numpy(np.stack(outputs))
    return _TARGETS[key].clone()


def build(node: dict[str, Any], info: DatasetInfo = INFO, seed: int = 0) -> Method:
    torch.manual_seed(seed)
    method = build_method(node, info)
    assert isinstance(method, Method), f"{type(method).__name__} is not a foresight.interfaces.Method"
    return method


# ------------------------------------------------------------------------------------------------------- checks


def check_stages_and_specs(method: Method, info: DatasetInfo = INFO) -> None:
    """Stages are named once, train real submodules, and each has a data spec the dataset can satisfy."""
    stages = method.stages()
    names = [s.name for s in stages]
    assert stages and len(set(names)) == len(names), f"{method.name}: stage names must be unique, got {names}"
    for stage in stages:
        budget = stage.budget
        assert budget.steps >= 1 and budget.batch_size >= 1 and budget.lr > 0, f"{method.name}: budget of {stage}"
        assert stage.trainable, f"{method.name}: stage {stage.name!r} trains nothing"
        for attr in stage.trainable:
            module = getattr(method, attr, None)
            assert isinstance(module, torch.nn.Module) and any(True for _ in module.parameters()), (
                f"{method.name}: stage {stage.name!r} trains {attr!r}, which is not a submodule with parameters"
            )
        assert method.stage(stage.name) == stage
    try:
        method.data_spec("no_such_stage")
    except KeyError:
        pass
    else:
        raise AssertionError(f"{method.name}: data_spec of an unknown stage must raise KeyError")
    for name in [*names, None]:
        spec = method.data_spec(name)
        assert isinstance(spec, DataSpec), f"{method.name}: data_spec({name!r}) returned {type(spec).__name__}"
        unknown_views = [v for v in spec.views if v not in info.image_shapes]
        assert not unknown_views, f"{method.name}: data_spec({name!r}) reads views {unknown_views} not in the data"
        info.proprio_dim(spec.proprio_keys)  # KeyError for a key the data lacks


def check_no_future_observations(method: Method, info: DatasetInfo = INFO) -> None:
    """Inference reads observations at offsets <= 0 only, and predicts from exactly what the runner supplies."""
    spec = method.data_spec(None)
    future = [o for o in spec.obs_offsets if o > 0]
    assert not future, f"{method.name}: the inference spec reads observations at positive offsets {future}"
    method.eval()
    chunk = method.predict_action_chunk(make_batch(spec, info, training=False))
    allowed = {sum(o >= 0 for o in spec.action_offsets), len(spec.action_offsets)}
    assert chunk.shape[0] == 2 and chunk.shape[1] in allowed and chunk.shape[2] == info.action_dim, (
        f"{method.name}: predict_action_chunk returned {tuple(chunk.shape)}; expected (2, n in {sorted(allowed)}, "
        f"{info.action_dim})"
    )


def check_deterministic(method: Method, info: DatasetInfo = INFO) -> None:
    """Same generator seed, same chunk, whatever the global RNG does in between."""
    method.eval()
    batch = make_batch(method.data_spec(None), info, training=False)
    outputs = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        outputs.append(method.predict_action_chunk(batch, generator=torch.Generator().manual_seed(0)))
    assert torch.isfinite(outputs[0]).all(), f"{method.name}: predictions are not finite"
    assert torch.equal(outputs[0], outputs[1]), (
        f"{method.name}: predict_action_chunk is not determined by its generator"
    )


def intended_grad(method: Method) -> dict[str, bool]:
    """``requires_grad`` as the method was built, before a stage froze anything (what the trainer records)."""
    return {name: p.requires_grad for name, p in method.named_parameters()}


def take_stage_step(method: Method, stage: Stage, intended: dict[str, bool], info: DatasetInfo = INFO) -> torch.Tensor:
    """One optimiser step of ``stage`` as the trainer takes it: hook, freezing rules, modes, AdamW, step hook."""
    method.on_stage_start(stage.name)
    params = configure_trainable(method, stage, intended)
    set_stage_modes(method, stage)
    optimizer = torch.optim.AdamW(params, lr=stage.budget.lr, weight_decay=stage.budget.weight_decay)
    loss, logs = method(make_batch(method.data_spec(stage.name), info, training=True), stage=stage.name)
    assert loss.dim() == 0 and torch.isfinite(loss), f"{method.name}: stage {stage.name!r} loss {loss}"
    assert all(isinstance(v, float | int) for v in logs.values()), f"{method.name}: logs must be numbers: {logs}"
    loss.backward()
    optimizer.step()
    method.on_optimizer_step(stage.name, 1)
    return loss


def check_stage_isolation(method: Method, stage: Stage, info: DatasetInfo = INFO) -> None:
    """One optimiser step of a stage changes its trainable modules (some of them) and nothing else at all."""
    before = {k: v.clone() for k, v in method.state_dict().items()}
    take_stage_step(method, stage, intended_grad(method), info)
    after = method.state_dict()
    prefixes = tuple(f"{attr}." for attr in stage.trainable)
    outside = [k for k in before if not k.startswith(prefixes) and not torch.equal(before[k], after[k])]
    assert not outside, f"{method.name}: a step of stage {stage.name!r} changed {outside[:5]} outside {stage.trainable}"
    trained = [n for n, p in method.named_parameters() if n.startswith(prefixes) and not torch.equal(before[n], p)]
    assert trained, f"{method.name}: a step of stage {stage.name!r} changed none of {stage.trainable}"


def save_checkpoint(method: Method, node: dict[str, Any], folder: Path, info: DatasetInfo = INFO) -> Path:
    """Write ``method`` with the real checkpoint writer, the files a training run writes."""
    normalizer = Normalizer({ACTION: "identity", STATE: "identity"}, {})
    last = method.stages()[-1].name
    files = {
        checkpoint.MODEL_FILE: method.state_dict(),
        checkpoint.TRAINER_STATE_FILE: {"step": 1},
        checkpoint.STATS_FILE: normalizer.save,
        checkpoint.CONFIG_FILE: to_yaml(OmegaConf.create({"method": node})),
        checkpoint.INFO_FILE: checkpoint.info_to_json(info),
        checkpoint.META_FILE: {"stage": last, "step": 1, "method": method.name},
    }
    return checkpoint.write_checkpoint(checkpoint.checkpoints_dir(folder / last) / checkpoint.step_dir_name(1), files)


def check_checkpoint_round_trip(method: Method, node: dict[str, Any], folder: Path, info: DatasetInfo = INFO) -> None:
    """Trained weights saved and loaded through :mod:`foresight.checkpoint` predict exactly the same chunk."""
    intended = intended_grad(method)
    for stage in method.stages():  # weights away from their initialisation, every stage's hook state included
        take_stage_step(method, stage, intended, info)
    method.eval()
    batch = make_batch(method.data_spec(None), info, training=False)
    torch.manual_seed(0)  # both predictions draw the same numbers, from the generator or not (that is another check)
    expected = method.predict_action_chunk(batch, generator=torch.Generator().manual_seed(0))
    ckpt = save_checkpoint(method, node, folder, info)
    torch.manual_seed(12345)  # the loaded model is built from other random numbers: only the files carry state
    loaded = checkpoint.load_policy(ckpt)
    assert type(loaded.method) is type(method) and not loaded.method.training
    torch.manual_seed(0)
    got = loaded.method.predict_action_chunk(batch, generator=torch.Generator().manual_seed(0))
    assert torch.equal(got, expected), (
        f"{method.name}: predictions after save -> load differ by {(got - expected).abs().max():.3g}: some state "
        "lives outside state_dict"
    )


def check_missing_key_is_one_clear_error(method: Method, stage: Stage, info: DatasetInfo = INFO) -> None:
    """Each key the stage's spec asks for, when absent, is one BatchKeyError that names it."""
    spec = method.data_spec(stage.name)
    full = make_batch(spec, info, training=True)
    set_stage_modes(method, stage)
    for alternatives, _ in required_keys(spec, training=True):
        batch = {k: v for k, v in full.items() if k not in alternatives}
        try:
            method(batch, stage=stage.name)
        except BatchKeyError as exc:
            assert repr(alternatives[0]) in str(exc), f"{method.name}: the error does not name {alternatives[0]}"
        except Exception as exc:
            raise AssertionError(
                f"{method.name}: a batch without {alternatives[0]!r} raised {type(exc).__name__}: {exc}, not the "
                "core's BatchKeyError naming the key"
            ) from exc
        else:
            raise AssertionError(f"{method.name}: a batch without {alternatives[0]!r} raised nothing")
