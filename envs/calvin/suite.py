"""CALVIN as an :class:`~foresight.interfaces.EnvSuite`: one episode per evaluation chain of 5 subtasks.

Episode ``(task_index=i, trial=t)`` is official chain ``i`` (its position in ``eval_sequences.json``), run for
the ``t``-th time; its ``task`` is the chain's subtasks joined by " -> ". ``eval.tasks=0,5,9`` therefore runs
chains 0, 5 and 9 of the full protocol, and a later run without it completes the same measurement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from foresight.envs.calvin.config import CalvinConfig
from foresight.envs.calvin.protocol import ProtocolData, load_protocol
from foresight.envs.calvin.resources import sha256_file
from foresight.envs.calvin.rollout import CalvinRolloutEnv, SimFactory
from foresight.envs.calvin.sequences import EvalSequence
from foresight.envs.calvin.sim import PROPRIO_DIMS, VIEWS, calvin_env_commit, env_config_path
from foresight.envs.calvin.summary import summarize_chains
from foresight.registry import register_env
from foresight.rollout import EnvSuite, EpisodeSpec

if TYPE_CHECKING:
    from foresight.eval.summary import LeaderboardInputs


def chain_name(chain: EvalSequence) -> str:
    return " -> ".join(chain.subtasks)


@register_env("calvin")
class CalvinEnv(EnvSuite):
    """CALVIN ABC->D (or ABCD->D, D->D) under the official long-horizon protocol.

    ``sim_factory`` replaces the calvin_env simulator (tests drive the whole adapter with a stand-in); the
    protocol record then names it instead of calvin_env's commit.
    """

    Config = CalvinConfig

    def __init__(self, config: CalvinConfig | None = None, sim_factory: SimFactory | None = None) -> None:
        super().__init__(config if config is not None else CalvinConfig())
        self.sim_factory = sim_factory
        self._data: ProtocolData | None = None

    @property
    def data(self) -> ProtocolData:
        if self._data is None:
            self._data = load_protocol(self.config)
        return self._data

    def episodes(self) -> list[EpisodeSpec]:
        return [
            EpisodeSpec(task_index=chain.index, task=chain_name(chain), trial=trial, init_index=chain.index, seed=trial)
            for chain in self.data.chains
            for trial in range(self.config.trials_per_sequence)
        ]

    def episode_tasks(self, episode: EpisodeSpec) -> tuple[str, ...]:
        """A chain asks the policy for its five subtasks, one after the other (never for the chain as a task)."""
        return tuple(episode.task.split(" -> "))  # chain_name's inverse

    def protocol(self) -> dict[str, Any]:
        """The measurement's definition; raises :class:`~foresight.envs.calvin.sim.CalvinNotInstalled` early,
        in the main process, when the real simulator is to be used but calvin_env is not installed."""
        if self.sim_factory is None:
            simulator = {"package": "calvin_env", "commit": calvin_env_commit()}
        else:
            simulator = {"factory": f"{self.sim_factory.__module__}:{self.sim_factory.__qualname__}"}
        config = self.config
        return {
            "benchmark": "calvin",
            **config.to_dict(),
            "sequences_file": str(config.sequences_file) if config.sequences_file else "official (shipped)",
            "env_config": str(env_config_path(config)) if config.env_config else "shipped scene_D.yaml",
            "env_config_sha256": sha256_file(env_config_path(config)),
            **self.data.digests(),
            "simulator": simulator,
            "scene": "calvin_scene_D",
            "init_states": "official get_env_state_for_initial_condition of each chain's initial condition",
            "episode": f"one chain of 5 subtasks, at most {config.ep_len} steps each, ended by its first failure",
            "episode_seed": "the trial index (the simulator is deterministic; eval.seed seeds the policy)",
            "success": f"{config.oracle} oracle over tasks.yaml after every step: was the subtask done between "
            "env.get_info() at its start and now (Tasks.get_task_info_for_set)",
            "instructions": "new_playtable_validation.yaml, first sentence per task",
            "policy_reset": "at every new subtask (evaluate_policy.rollout: model.reset())",
            "views": dict(VIEWS),
            "proprio": dict(PROPRIO_DIMS),
            "action": "7-dim rel_actions (xyz x 0.02 m, euler x 0.05 rad, not clipped), gripper +1 if > 0 else -1",
        }

    def make_env(self) -> CalvinRolloutEnv:
        return CalvinRolloutEnv(self.config, sim_factory=self.sim_factory, protocol=self.data)

    def summarize(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """Success for 1..5 subtasks in a row, average length and per-subtask rates, each with a Wilson interval.

        Each result is a chain record (``info.completed``, ``info.subtasks``); chains of the protocol missing from
        ``results`` are counted in ``chains_missing``, so a partial evaluation cannot pass for a full one.
        """
        return summarize_chains(
            results,
            suite=self.config.suite,
            task_names=self.data.task_names,
            instructions=self.data.instructions,
            expected=len(self.data.chains) * self.config.trials_per_sequence,
        )

    def leaderboard_inputs(
        self,
        protocol: Mapping[str, Any],
        execution: Mapping[str, Any],
        records: Sequence[Mapping[str, Any]],
        *,
        seeds: Sequence[int],
    ) -> LeaderboardInputs:
        """The shared runner's leaderboard hook (:data:`foresight.eval.summary.LEADERBOARD_HOOK`): the leaderboard
        counts subtasks (by official task id) and chain lengths, not one task per chain, and ranks only the
        official 1000 chains. Imported here so that simulator workers, which import this module, never load the
        leaderboard."""
        from foresight.envs.calvin.leaderboard import leaderboard_inputs

        return leaderboard_inputs(protocol, execution, records, seeds=seeds, task_names=self.data.task_names)
