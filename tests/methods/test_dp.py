"""The ``dp`` baseline on a tiny config: built from a hand-made DatasetInfo and batch (no data layer)."""

from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file, save_file

from foresight.config import ConfigError
from foresight.methods.dp import DiffusionPolicy, DiffusionPolicyConfig
from foresight.registry import get_method
from foresight.types import ACTION, ACTION_IS_PAD, INSTRUCTION, STATE, TASK_INDEX, DatasetInfo, image_key

B, HORIZON, ACTION_DIM = 4, 6, 7
INFO = DatasetInfo(
    action_dim=ACTION_DIM,
    proprio_dims={"joint_states": 7, "gripper_states": 2, "ee_pos": 3},
    image_shapes={"agentview": (3, 64, 64), "wrist": (3, 64, 64)},
    tasks=tuple(f"task_{i}" for i in range(B)),
    instructions=tuple(f"do thing {i}" for i in range(B)),
    view_roles={"primary": "agentview", "wrist": "wrist"},
    proprio_roles={"arm": "joint_states", "gripper": "gripper_states"},
)
TINY = DiffusionPolicyConfig(
    vision_width=8,
    num_keypoints=8,
    image_feature_dim=16,
    proprio_hidden_dim=32,
    proprio_feature_dim=16,
    task_embedding_dim=16,
    hidden_dim=128,
    num_blocks=2,
    dropout=0.0,
    time_hidden_dim=64,
    noise_samples=16,
)
OVERFIT_STEPS, OVERFIT_FACTOR = 80, 5.0


def make_batch(seed: int = 0, obs: int = 1) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {
        image_key("agentview"): torch.randint(0, 256, (B, obs, 3, 64, 64), dtype=torch.uint8, generator=g),
        image_key("wrist"): torch.randint(0, 256, (B, obs, 3, 64, 64), dtype=torch.uint8, generator=g),
        STATE: torch.randn(B, obs, 9, generator=g),
        ACTION: torch.rand(B, HORIZON, ACTION_DIM, generator=g) * 2 - 1,
        ACTION_IS_PAD: torch.zeros(B, HORIZON, dtype=torch.bool),
        TASK_INDEX: torch.arange(B),
        INSTRUCTION: list(INFO.instructions),
    }


def eval_loss(model: DiffusionPolicy, batch: dict) -> float:
    """The training loss with fixed draws, averaged over a few seeds (the per-step loss is noisy)."""
    model.eval()
    with torch.no_grad():
        cond = model.condition(batch)
        losses = [model.head.loss(cond, batch[ACTION], generator=torch.Generator().manual_seed(s)) for s in range(4)]
    model.train()
    return float(torch.stack(losses).mean())


def sample_error(model: DiffusionPolicy, batch: dict) -> float:
    model.eval()
    chunk = model.predict_action_chunk(batch, generator=torch.Generator().manual_seed(0))
    model.train()
    return float((chunk - batch[ACTION]).abs().mean())


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """Run this module single-threaded. For models this small, intra-op threads only add overhead. On a busy
    shared machine their spin-waiting made the overfit loop about 9x slower (measured: 86 s against 10 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def overfit():
    """One model trained on one fixed batch with AdamW, shared by the tests that need a trained policy."""
    torch.manual_seed(0)
    model = DiffusionPolicy(TINY, INFO)
    batch = make_batch()
    before = {"loss": eval_loss(model, batch), "sample_error": sample_error(model, batch)}
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    stage = model.stages()[0]
    for _ in range(OVERFIT_STEPS):
        loss, logs = model.compute_loss(batch, stage.name)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert logs["loss"] == pytest.approx(loss.item())
    model.eval()
    return model, batch, before


def test_registered_under_dp():
    assert get_method("dp") is DiffusionPolicy
    assert DiffusionPolicy.Config is DiffusionPolicyConfig


def test_stage_and_data_spec_follow_the_config():
    model = DiffusionPolicy(replace(TINY, obs_offsets=(-6, 0), horizon=4), INFO)
    (stage,) = model.stages()
    assert stage.name == "policy"
    assert stage.trainable == ("image_encoders", "proprio_encoder", "task_embedding", "head")
    budget = stage.budget
    assert (budget.steps, budget.batch_size, budget.lr, budget.warmup) == (200_000, 128, 3e-4, 2000)
    assert (budget.weight_decay, budget.ema_decay) == (0.0, None)
    trained = {id(p) for p in model.trainable_parameters(stage)}
    assert trained == {id(p) for p in model.parameters()}

    spec = model.data_spec("policy")
    assert spec.obs_offsets == (-6, 0)
    assert spec.action_offsets == (0, 1, 2, 3)
    assert spec.views == ("agentview", "wrist")
    assert spec.proprio_keys == ("joint_states", "gripper_states")
    assert model.data_spec(None) == spec
    with pytest.raises(KeyError, match="no stage 'dynamics'"):
        model.data_spec("dynamics")


def test_history_frames_feed_the_condition():
    torch.manual_seed(0)
    model = DiffusionPolicy(replace(TINY, obs_offsets=(-6, 0)), INFO).eval()
    batch = make_batch(obs=2)
    cond = model.condition(batch)
    assert cond.shape == (B, 2 * (2 * 16 + 16) + 16)
    changed = dict(batch)
    changed[STATE] = batch[STATE].clone()
    changed[STATE][:, 0] += 1.0  # the past frame alone
    assert not torch.allclose(model.condition(changed), cond)
    assert model.predict_action_chunk(batch, generator=torch.Generator().manual_seed(0)).shape == (B, HORIZON, 7)


def test_overfits_one_batch(overfit):
    model, batch, before = overfit
    after = eval_loss(model, batch)
    assert after * OVERFIT_FACTOR < before["loss"], f"loss {before['loss']:.3f} -> {after:.3f}"


def test_sampled_chunk_is_close_to_the_training_actions(overfit):
    model, batch, before = overfit
    chunk = model.predict_action_chunk(batch, generator=torch.Generator().manual_seed(0))
    assert chunk.shape == (B, HORIZON, ACTION_DIM)
    error = float((chunk - batch[ACTION]).abs().mean())
    assert error < 0.2, error  # actions are uniform in [-1, 1]: mean |a| is 0.5; measured 0.14
    assert error < 0.3 * before["sample_error"]
    # each row reproduces its own task's chunk, not another row's
    distances = torch.cdist(chunk.flatten(1), batch[ACTION].flatten(1))
    assert torch.equal(distances.argmin(dim=1), torch.arange(B))


def test_sampling_is_deterministic_given_a_generator(overfit):
    model, batch, _ = overfit
    first = model.predict_action_chunk(batch, generator=torch.Generator().manual_seed(3))
    again = model.predict_action_chunk(batch, generator=torch.Generator().manual_seed(3))
    other = model.predict_action_chunk(batch, generator=torch.Generator().manual_seed(4))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_safetensors_round_trip_gives_identical_predictions(overfit, tmp_path):
    model, batch, _ = overfit
    path = tmp_path / "model.safetensors"
    save_file(model.state_dict(), str(path))
    torch.manual_seed(123)
    fresh = DiffusionPolicy(TINY, INFO).eval()
    fresh.load_state_dict(load_file(str(path)))
    for sampler in ("ddpm", "ddim"):
        fresh.head.sampler = model.head.sampler = sampler
        expected = model.predict_action_chunk(batch, generator=torch.Generator().manual_seed(1))
        torch.testing.assert_close(
            fresh.predict_action_chunk(batch, generator=torch.Generator().manual_seed(1)), expected, rtol=0, atol=0
        )
    model.head.sampler = "ddpm"


def test_padding_flags_become_the_head_mask():
    torch.manual_seed(0)
    model = DiffusionPolicy(TINY, INFO).eval()
    batch = make_batch()
    batch[ACTION_IS_PAD] = torch.zeros(B, HORIZON, dtype=torch.bool)
    batch[ACTION_IS_PAD][0, 3:] = True
    torch.manual_seed(5)
    loss, _ = model.compute_loss(batch, "policy")
    cond = model.condition(batch)
    torch.manual_seed(5)
    masked = model.head.loss(cond, batch[ACTION], ~batch[ACTION_IS_PAD])
    torch.manual_seed(5)
    unmasked = model.head.loss(cond, batch[ACTION])
    torch.testing.assert_close(loss, masked)
    assert not torch.allclose(loss, unmasked)


def test_unknown_task_index_falls_back_to_the_instruction():
    torch.manual_seed(0)
    model = DiffusionPolicy(TINY, INFO).eval()
    batch = make_batch()
    expected = model.condition(batch)
    batch[TASK_INDEX] = torch.tensor([0, -1, 2, -1])  # what the evaluation runner sends for unseen task names
    torch.testing.assert_close(model.condition(batch), expected)
    del batch[TASK_INDEX]
    torch.testing.assert_close(model.condition(batch), expected)
    batch[INSTRUCTION] = ["do thing 0", "fly to the moon", "do thing 2", "do thing 3"]
    with pytest.raises(ValueError, match="row 1: task_index -1 and instruction 'fly to the moon'"):
        model.condition(batch)


def test_bad_inputs_are_named():
    with pytest.raises(ConfigError, match=r"asks for view 'top'.*views: \['agentview', 'wrist'\]"):
        DiffusionPolicy(replace(TINY, views=("agentview", "top")), INFO)
    with pytest.raises(ConfigError, match=r"asks for proprio key 'joint_vel'.*arm=joint_states"):
        DiffusionPolicy(replace(TINY, proprio_keys=("joint_vel",)), INFO)
    with pytest.raises(ValueError, match="no future frames"):
        replace(TINY, obs_offsets=(0, 6))
    with pytest.raises(ValueError, match=r"method\.sampler='dpm'"):
        replace(TINY, sampler="dpm")
    model = DiffusionPolicy(TINY, INFO)
    batch = make_batch()
    del batch[STATE]
    with pytest.raises(KeyError, match=r"dp needs batch key 'observation\.state'"):
        model.compute_loss(batch, "policy")
    batch = make_batch(obs=2)
    with pytest.raises(ValueError, match=r"must be \(B, 1, 3, H, W\) uint8"):
        model.condition(batch)
    with pytest.raises(KeyError, match="no stage 'dynamics'"):
        model.compute_loss(make_batch(), "dynamics")
