"""CALVIN benchmark adapter (``env=calvin_abc_d``): the official 1000-chain long-horizon protocol in scene D.

Importing this package imports no simulator: calvin_env (installed from its repository, docs/envs/calvin.md) is
imported inside :meth:`CalvinEnv.make_env`'s simulator, in an evaluation worker. The protocol's data (the 1000
chains, the task oracle's definitions, the validation instructions, the scene-D config) ships in ``data/``.
:mod:`foresight.envs.calvin.leaderboard` turns an evaluation into leaderboard inputs; it is not imported here so
that simulator workers do not load the leaderboard.
"""

from foresight.envs.calvin.config import CHAIN_LENGTH, EP_LEN, NUM_SEQUENCES, CalvinConfig
from foresight.envs.calvin.fnv import fnv1_32
from foresight.envs.calvin.oracle import OfficialOracle, TaskOracle, make_oracle
from foresight.envs.calvin.rollout import CalvinRolloutEnv
from foresight.envs.calvin.sequences import EvalSequence, load_sequences, reset_state
from foresight.envs.calvin.sim import CalvinNotInstalled, make_sim
from foresight.envs.calvin.suite import CalvinEnv

__all__ = [
    "CHAIN_LENGTH",
    "EP_LEN",
    "NUM_SEQUENCES",
    "CalvinConfig",
    "CalvinEnv",
    "CalvinNotInstalled",
    "CalvinRolloutEnv",
    "EvalSequence",
    "OfficialOracle",
    "TaskOracle",
    "fnv1_32",
    "load_sequences",
    "make_oracle",
    "make_sim",
    "reset_state",
]
