"""CogACT's adaptive action ensembling (``env.adaptive_ensemble``) against a hand computation, and as a protocol
option: it queries the policy every step (so every frame is rendered) and is recorded in the results."""

from __future__ import annotations

import math

import numpy as np
import pytest
from eval_fakes import ReachConfig, ReachSuite

from foresight.eval.chunking import ActionQueue, RenderPlan
from foresight.eval.runner import EvalError, resolve_execution
from foresight.leaderboard.protocols import _phrase


def test_adaptive_ensemble_weights_each_prediction_by_its_cosine_to_the_newest_by_hand() -> None:
    alpha = 0.5
    queue = ActionQueue(replan_every=1, adaptive_alpha=alpha)
    first = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    second = np.array([[0.0, 1.0], [1.0, 1.0], [3.0, 4.0]])
    np.testing.assert_allclose(queue.plan(0, first), [[1.0, 0.0]])
    # step 1: (1, 0) from the chunk of step 0, and the newest (0, 1): cosines 0 and 1
    w_old, w_new = 1.0, math.exp(alpha)
    expected = (w_old * np.array([1.0, 0.0]) + w_new * np.array([0.0, 1.0])) / (w_old + w_new)
    np.testing.assert_allclose(queue.plan(1, second)[0], expected, rtol=1e-6)
    # step 2: (0, 2), (1, 1), and the newest (3, 3): cosines 1/sqrt(2), 1, 1
    third = np.array([[3.0, 3.0], [0.0, 0.0], [0.0, 0.0]])
    w = np.exp(alpha * np.array([1 / math.sqrt(2), 1.0, 1.0]))
    expected = (w[0] * np.array([0.0, 2.0]) + w[1] * np.array([1.0, 1.0]) + w[2] * np.array([3.0, 3.0])) / w.sum()
    np.testing.assert_allclose(queue.plan(2, third)[0], expected, rtol=1e-6)
    queue.reset()
    np.testing.assert_allclose(queue.plan(7, second)[0], [0.0, 1.0])


def test_alpha_zero_is_the_plain_mean_and_both_ensembles_at_once_are_refused() -> None:
    queue = ActionQueue(replan_every=1, adaptive_alpha=0.0)
    queue.plan(0, np.array([[1.0], [3.0]]))
    assert queue.plan(1, np.array([[7.0], [0.0]]))[0, 0] == pytest.approx(5.0)
    with pytest.raises(ValueError, match="choose one"):
        ActionQueue(replan_every=1, ensemble_decay=0.1, adaptive_alpha=0.1)


def test_the_protocol_records_it_and_queries_every_step() -> None:
    execution = resolve_execution(ReachSuite(ReachConfig(replan_every=None, adaptive_ensemble=0.1)), 3)
    assert execution == {
        "action_execution": "adaptive_ensemble",
        "replan_every": 1,
        "temporal_ensemble": None,
        "adaptive_ensemble": 0.1,
        "chunk_length": 3,
    }
    plan = RenderPlan(execution["replan_every"], (-1, 0))
    assert [s for s in range(1, 6) if plan.needs_images(s)] == [1, 2, 3, 4, 5]
    with pytest.raises(EvalError, match="choose one"):
        resolve_execution(ReachSuite(ReachConfig(temporal_ensemble=0.2, adaptive_ensemble=0.1)), 3)
    protocol = {"action_execution": "adaptive_ensemble", "ensemble_decay": 0.1, "replan_every": 1}
    item = _phrase(protocol, "execution", "libero")
    assert item == "adaptive ensemble alpha=0.1, replan every 1"
