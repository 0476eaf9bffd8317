"""A CALVIN evaluation as the leaderboard's inputs: its :class:`Protocol`, per-subtask outcomes, chain lengths.

The shared runner builds a leaderboard result with :func:`foresight.leaderboard.schema.make_result`; for CALVIN
it needs the subtask counts (not one "task" per chain) and ``chain_lengths``, which these helpers derive from
the episode records, and a :class:`Protocol` with ``init_states="calvin_official"`` and ``num_chains``. The runner
reaches them through :meth:`CalvinEnv.leaderboard_inputs` (its leaderboard hook,
:data:`foresight.eval.summary.LEADERBOARD_HOOK`), which imports this module only when a result is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from foresight.envs.calvin.config import NUM_SEQUENCES
from foresight.envs.calvin.summary import chain_outcome, subtask_counts
from foresight.eval.summary import LeaderboardInputs, ensemble_parameter
from foresight.leaderboard.schema import Protocol, TaskOutcome


def leaderboard_protocol(protocol: Mapping[str, Any], execution: Mapping[str, Any], seeds: Sequence[int]) -> Protocol:
    """The leaderboard protocol of a :meth:`CalvinEnv.protocol` record and the runner's execution record.

    ``seeds`` are the policy's sampling seeds (``eval.seed``). Only the official chains qualify as
    ``calvin_official``: the shipped 1000 (the schema defines it as ``get_sequences(num_chains)``, and a prefix
    of fewer chains is not what ``get_sequences(N)`` returns).
    """
    if protocol["sequences_file"] != "official (shipped)" or protocol["num_sequences"] != NUM_SEQUENCES:
        raise ValueError(
            f"only the official {NUM_SEQUENCES} chains make a leaderboard CALVIN result; this evaluation ran "
            f"num_sequences={protocol['num_sequences']} from {protocol['sequences_file']}"
        )
    return Protocol(
        trials_per_task=protocol["trials_per_sequence"],
        seeds=tuple(seeds),
        max_steps=protocol["ep_len"],
        warmup_steps=0,
        image_convention="raw",  # pybullet renders upright; nothing is done to the frames
        action_execution=execution["action_execution"],
        replan_every=execution["replan_every"],
        ensemble_decay=ensemble_parameter(execution),
        init_states="calvin_official",
        num_chains=protocol["num_sequences"],
    )


def leaderboard_outcomes(
    records: Sequence[Mapping[str, Any]], task_names: Sequence[str]
) -> tuple[list[TaskOutcome], list[int]]:
    """Per-subtask :class:`TaskOutcome` (index = official task id) and each chain's completed count."""
    outcomes = [chain_outcome(r, f"record {r.get('key', i)}") for i, r in enumerate(records)]
    attempts, successes = subtask_counts(outcomes)
    order = {name: i for i, name in enumerate(task_names)}
    tasks = [TaskOutcome(order[name], name, successes[name], n) for name, n in attempts.items()]
    return sorted(tasks, key=lambda t: t.index), [completed for completed, _ in outcomes]


def leaderboard_inputs(
    protocol: Mapping[str, Any],
    execution: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    *,
    seeds: Sequence[int],
    task_names: Sequence[str],
) -> LeaderboardInputs:
    """The runner's leaderboard inputs for the chain records of a complete evaluation; ``task_names`` in the
    official task-id order (``tasks.yaml``). Raises ``ValueError`` for a protocol the leaderboard does not rank."""
    tasks, chain_lengths = leaderboard_outcomes(records, task_names)
    return LeaderboardInputs(leaderboard_protocol(protocol, execution, seeds), tasks, chain_lengths)
