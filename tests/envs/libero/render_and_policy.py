"""Render a LIBERO frame and sample a tiny ``dp`` from it in one process, in either order (run as a script).

``python render_and_policy.py render-first`` builds the simulator with cameras and renders before anything
imports diffusers (so triton loads after Mesa's LLVM: the order that used to segfault);
``policy-first`` imports diffusers and builds the policy before the first GL context. Either way, prints one
JSON line: the rendered frames' digests, the same frame rendered again after the other half ran, and the
sampled chunk's shape.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

import numpy as np

import foresight  # noqa: F401  (installs the triton import guard, as any use of the library does)

SIZE = 64


def render() -> tuple[Any, Any]:
    """(rollout env, observation of libero_10 task 0 from official init state 0)."""
    from foresight.envs.libero import LiberoConfig, LiberoEnv

    suite = LiberoEnv(LiberoConfig(suite="libero_10", tasks=(0,), trials_per_task=1, camera_size=SIZE))
    rollout = suite.make_env()
    return rollout, rollout.reset(suite.episodes()[0])


def raw_agentview(rollout: Any) -> np.ndarray:
    return rollout._sim.sim.render(camera_name="agentview", width=SIZE, height=SIZE)


def build_policy() -> Any:
    import diffusers.utils.torch_utils  # noqa: F401  (torch._dynamo -> triton: the import that crashed)
    import torch

    from foresight.methods.dp import DiffusionPolicy, DiffusionPolicyConfig
    from foresight.types import DatasetInfo

    torch.manual_seed(0)
    info = DatasetInfo(
        action_dim=7,
        proprio_dims={"joint_states": 7, "gripper_states": 2},
        image_shapes={"agentview": (3, SIZE, SIZE), "wrist": (3, SIZE, SIZE)},
        tasks=("task",),
        instructions=("do the task",),
        view_roles={"primary": "agentview", "wrist": "wrist"},
        proprio_roles={"arm": "joint_states", "gripper": "gripper_states"},
    )
    config = DiffusionPolicyConfig(
        vision_width=8,
        num_keypoints=8,
        image_feature_dim=16,
        proprio_hidden_dim=32,
        proprio_feature_dim=16,
        task_embedding_dim=16,
        hidden_dim=64,
        num_blocks=1,
        time_hidden_dim=32,
    )
    return DiffusionPolicy(config, info).eval()


def sample(policy: Any, obs: Any) -> np.ndarray:
    """One action chunk from the rendered observation, laid out as a training batch."""
    import torch

    from foresight.types import INSTRUCTION, OBS_IS_PAD, STATE, TASK_INDEX, image_key

    batch = {image_key(view): torch.from_numpy(obs.images[view]).permute(2, 0, 1)[None, None] for view in obs.images}
    proprio = np.concatenate([obs.proprio["joint_states"], obs.proprio["gripper_states"]]).astype(np.float32)
    batch[STATE] = torch.from_numpy(proprio)[None, None]
    batch[OBS_IS_PAD] = torch.zeros(1, 1, dtype=torch.bool)
    batch[INSTRUCTION] = [obs.instruction]
    batch[TASK_INDEX] = torch.zeros(1, dtype=torch.long)
    with torch.no_grad():
        return policy.predict_action_chunk(batch, generator=torch.Generator().manual_seed(0)).numpy()


def digest(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()[:16]


def main(order: str) -> None:
    if order == "render-first":
        rollout, obs = render()
        before = raw_agentview(rollout)
        policy = build_policy()
    elif order == "policy-first":
        policy = build_policy()
        rollout, obs = render()
        before = raw_agentview(rollout)
    else:
        raise SystemExit(f"order must be render-first or policy-first, not {order!r}")
    chunk = sample(policy, obs)
    after = raw_agentview(rollout)  # the GL driver still renders the same frame once triton is loaded
    rollout.close()
    report = {
        "views": {view: digest(image) for view, image in obs.images.items()},
        "agentview_std": float(obs.images["agentview"].std()),
        "rerender_equal": bool(np.array_equal(before, after)),
        "raw_agentview": digest(before),
        "chunk_shape": list(chunk.shape),
        "chunk_finite": bool(np.isfinite(chunk).all()),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
