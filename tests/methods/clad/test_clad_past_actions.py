"""CLaD at evaluation reads the executed past actions a_(t-τ:t) the runner supplies, exactly as stage 2 trains."""

from __future__ import annotations

import numpy as np
import torch
from clad_fixtures import ACTION_DIM, PROPRIO_DIM, build, inference_batch, stage2_batch

from foresight.data import Normalizer
from foresight.eval.policy import BatchedPolicy, Query
from foresight.interfaces import Encoder
from foresight.methods.clad.tiny import TINY_EMBED_DIM
from foresight.types import ACTION, ACTION_IS_PAD, STATE

TAU = 6


def _window(size: int = 4) -> dict:
    """A stage-2 window: row 0 at t = 2 (4 past actions before the start, clamped to a_0), row 1 at t = 0."""
    batch = stage2_batch(size=size, seed=3)
    batch[ACTION_IS_PAD][0, :4] = True
    batch[ACTION][0, :4] = batch[ACTION][0, 4]
    batch[ACTION_IS_PAD][1, :TAU] = True
    return batch


def test_inference_plans_and_acts_as_the_stage2_training_path_on_the_same_window():
    model = build().eval()
    train, infer = _window(), inference_batch(_window())

    # the foresight the policy is trained on (compute_loss -> plan) is the one evaluation plans with
    planned, trained = model.plan(infer), model.plan(train)
    for name in ("proprio", "semantic"):
        torch.testing.assert_close(planned.embeddings[name], trained.embeddings[name], rtol=0, atol=0)
    torch.manual_seed(0)
    loss, _ = model(train, stage="policy")
    torch.manual_seed(0)  # planning draws its (rate-0) masking from the global generator too: plan again here
    chunk, valid = train[ACTION][:, TAU:], ~train[ACTION_IS_PAD][:, TAU:]
    cond = model.policy.condition(infer, model.plan(infer))
    torch.testing.assert_close(loss, model.policy.head.loss(cond, chunk, valid), rtol=0, atol=0)

    out = model.predict_action_chunk(infer, generator=torch.Generator().manual_seed(1))
    expected = model.policy.sample(train, trained, generator=torch.Generator().manual_seed(1))
    assert out.shape == (4, TAU, ACTION_DIM)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_output_follows_the_real_past_actions_and_ignores_padded_values():
    model = build().eval()
    infer = inference_batch(_window())

    def chunk(batch: dict) -> torch.Tensor:
        return model.predict_action_chunk(batch, generator=torch.Generator().manual_seed(0))

    base = chunk(infer)
    changed = dict(infer, **{ACTION: infer[ACTION].clone()})
    changed[ACTION][:, -1] += 0.5  # a_{t-1}, real in rows 0, 2, 3
    moved = chunk(changed)
    assert not torch.allclose(moved[[0, 2, 3]], base[[0, 2, 3]], atol=1e-4)
    torch.testing.assert_close(moved[1], base[1], rtol=0, atol=0)  # row 1 is all padding: the value is unused

    padded_values = dict(infer, **{ACTION: infer[ACTION].clone()})
    padded_values[ACTION][0, :4] = -0.7  # before the episode start: the learned mask token either way
    torch.testing.assert_close(chunk(padded_values), base, rtol=0, atol=0)
    no_actions = {k: v for k, v in infer.items() if k not in (ACTION, ACTION_IS_PAD)}
    torch.testing.assert_close(chunk(no_actions)[1], base[1], rtol=0, atol=0)  # all padding == no action context
    assert model.dynamics.encode(infer)["action_mask"].tolist()[:2] == [[True] * 4 + [False] * 2, [True] * TAU]


class _ColourVLM(Encoder):
    """A stand-in VLM: a fixed projection of each image's mean colour, and of each instruction's length."""

    output_dim = TINY_EMBED_DIM

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("proj", torch.randn(3, TINY_EMBED_DIM, generator=torch.Generator().manual_seed(0)))

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        return (images.float().mean(dim=(-1, -2)) / 255.0) @ self.proj

    def encode_text(self, texts) -> torch.Tensor:
        return torch.tensor([[len(t) / 100.0] * 3 for t in texts]) @ self.proj + 0.1


def _normalizer() -> Normalizer:
    stats = {
        STATE: {"min": -np.ones(PROPRIO_DIM), "max": np.ones(PROPRIO_DIM)},
        ACTION: {"min": np.full(ACTION_DIM, -0.5), "max": np.full(ACTION_DIM, 1.5)},
    }
    for s in stats.values():
        s.update(mean=np.zeros_like(s["min"]), std=np.ones_like(s["min"]))
    return Normalizer({STATE: "min_max", ACTION: "min_max"}, stats)


def _query(executed: np.ndarray, seed: int) -> Query:
    """What a worker sends at t = len(executed) (>= 1): two frames, and a_(t-τ:t) clamped to a_0 and flagged."""
    rng = np.random.default_rng(seed)
    t = len(executed)
    index = np.array([t + o for o in range(-TAU, 0)])
    return Query(
        task="task_a",
        observation={
            "images": {"agentview": rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)},
            "proprio": rng.uniform(-1, 1, (2, PROPRIO_DIM)).astype(np.float32),
            "is_pad": np.array([t < TAU, False]),
            "instruction": "open the microwave",
            "past_actions": executed[np.clip(index, 0, None)].astype(np.float32),
            "past_actions_is_pad": index < 0,
        },
    )


def test_the_runners_batch_reaches_the_planner_normalised():
    model = build().eval()
    model.use_vlm(_ColourVLM())
    normalizer = _normalizer()
    policy = BatchedPolicy(model, normalizer, model.data_spec(None), seed=5)
    rng = np.random.default_rng(0)
    queries = [_query(rng.uniform(-0.5, 1.5, (t, ACTION_DIM)), seed=t) for t in (9, 3)]

    batch = policy.batch(queries)
    raw = np.stack([q.observation["past_actions"] for q in queries])
    torch.testing.assert_close(batch[ACTION], torch.from_numpy(raw - 0.5), rtol=0, atol=1e-6)  # min-max [-0.5, 1.5]
    assert batch[ACTION_IS_PAD].tolist() == [[False] * TAU, [True] * 3 + [False] * 3]

    actions = policy(queries)
    assert actions.shape == (2, TAU, ACTION_DIM)  # the chunk a_(t:t+τ), nothing of the past
    direct = model.predict_action_chunk(batch, generator=torch.Generator().manual_seed(5))
    np.testing.assert_allclose(actions, normalizer.unnormalize(ACTION, direct).numpy(), rtol=0, atol=1e-6)

    other = [_query(rng.uniform(-0.5, 1.5, (t, ACTION_DIM)), seed=t) for t in (9, 3)]  # same frames, other past
    replay = BatchedPolicy(model, normalizer, model.data_spec(None), seed=5)
    assert not np.allclose(replay(other), actions, atol=1e-4)
