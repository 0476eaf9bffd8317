"""The CALVIN evaluation protocol as a dataclass: everything that changes a CALVIN score is a field here.

Defaults are the official long-horizon protocol of ``calvin_models/calvin_agent/evaluation/evaluate_policy.py``
(Mees et al., CALVIN, IEEE RA-L 7(3) 2022; DreamVLA and MoLA report CALVIN ABC->D this way):
``NUM_SEQUENCES = 1000`` chains of 5 subtasks from ``get_sequences(1000)``, ``EP_LEN = 360`` steps per subtask; a
chain stops at its first failed subtask and the score is the success rate of 1..5 subtasks in a row and the
average number completed. The whole dataclass is recorded with every result (:meth:`CalvinEnv.protocol`).

The simulator resets deterministically to each chain's initial state, so the only randomness left is the
policy's own sampling, seeded by ``eval.seed`` (the official script's ``seed_everything(0)`` plays that role).
``num_sequences`` < 1000 takes the first N official chains, which is *not* what the official
``get_sequences(N)`` returns (its per-state split and final shuffle depend on N).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

NUM_SEQUENCES = 1000
"""Chains in the official protocol (evaluate_policy.py: NUM_SEQUENCES)."""

EP_LEN = 360
"""Policy steps allowed per subtask (evaluate_policy.py: EP_LEN); 12 s at CALVIN's 30 Hz control."""

CHAIN_LENGTH = 5
"""Subtasks per chain (multistep_sequences.get_sequences: five tasks per initial state)."""

SUITES = ("abc_d", "abcd_d", "d_d")
"""Training splits evaluated in scene D; the protocol is the same for all, the label names the leaderboard row."""

ORACLES = ("calvin_env", "foresight")


@dataclass(frozen=True)
class CalvinConfig:
    """CALVIN ``env.*``: the official long-horizon protocol and how the simulator is built.

    ``suite`` names the training split (``abc_d``: trained on scenes A, B, C and evaluated in D). ``num_sequences``
    runs the first N official chains (a smaller protocol, recorded as such); to run a subset of the full
    protocol that can be resumed into the whole measurement, use ``eval.tasks`` with chain indices instead.
    ``trials_per_sequence`` repeats every chain (the official protocol runs each once). ``sequences_file`` replaces
    the shipped official chains with a JSON file in the same format (``[[initial_condition, [5 subtasks]], ...]``).
    ``env_config`` is a calvin_env config to build the simulator from: a dataset's ``validation`` folder or its
    ``.hydra/merged_config.yaml`` (what the official evaluation loads); ``None`` uses the shipped scene-D config.
    ``use_egl`` renders with pybullet's EGL plugin (as the official dataset was rendered) instead of its
    TinyRenderer; the two give different pixels. ``oracle`` decides subtask success: ``calvin_env`` calls the
    official ``Tasks`` class, ``foresight`` its data-driven re-implementation (:mod:`foresight.envs.calvin.oracle`,
    verified equal on recorded rollouts); both read the shipped official ``tasks.yaml``.
    ``replan_every`` / ``temporal_ensemble`` choose how predicted chunks are executed, as for LIBERO.
    """

    suite: str = "abc_d"  # the training split, for the leaderboard row (abc_d | abcd_d | d_d)
    num_sequences: int = NUM_SEQUENCES  # evaluate_policy.py NUM_SEQUENCES; the first N official chains when smaller
    ep_len: int = EP_LEN  # evaluate_policy.py EP_LEN: steps per subtask
    trials_per_sequence: int = 1  # each chain once, as the official protocol
    sequences_file: str | None = None  # None: the shipped official chains (get_sequences(1000))
    env_config: str | None = None  # None: shipped scene-D config; or a dataset's validation/ folder
    use_egl: bool = True  # pybullet EGL renderer, as the dataset was rendered; False: TinyRenderer (other pixels)
    oracle: str = "calvin_env"  # the official Tasks class; or "foresight", its re-implementation (ORACLES)
    replan_every: int | None = None  # actions executed per predicted chunk; None: the whole chunk
    temporal_ensemble: float | None = None  # ACT-style chunk averaging with weights exp(-k * age); None: off
    adaptive_ensemble: float | None = None  # CogACT / DreamVLA adaptive ensembling alpha (CogACT: 0.1); None: off

    def __post_init__(self) -> None:
        if self.suite not in SUITES:
            raise ValueError(f"CALVIN suite {self.suite!r} is unknown; choose one of {list(SUITES)}")
        for name in ("num_sequences", "ep_len", "trials_per_sequence"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"env.{name} must be a positive integer, got {value!r}")
        if self.oracle not in ORACLES:
            raise ValueError(f"env.oracle {self.oracle!r} is unknown; choose one of {list(ORACLES)}")
        if self.replan_every is not None and (not isinstance(self.replan_every, int) or self.replan_every <= 0):
            raise ValueError(f"env.replan_every must be a positive integer or None, got {self.replan_every!r}")
        if self.temporal_ensemble is not None and not self.temporal_ensemble >= 0:
            raise ValueError(f"env.temporal_ensemble must be a non-negative k or None, got {self.temporal_ensemble!r}")
        if self.adaptive_ensemble is not None and not self.adaptive_ensemble >= 0:
            raise ValueError(
                f"env.adaptive_ensemble must be a non-negative alpha or None, got {self.adaptive_ensemble!r}"
            )
        if self.adaptive_ensemble is not None and self.temporal_ensemble is not None:
            raise ValueError("env.temporal_ensemble and env.adaptive_ensemble are both set: choose one")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
