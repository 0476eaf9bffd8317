"""LIBERO benchmark adapter (``env=libero_spatial|libero_object|libero_goal|libero_10|libero_90``).

Importing this package starts no simulator: :meth:`LiberoEnv.make_env` builds one inside an evaluation worker.
The scripted expert (:mod:`foresight.envs.libero.expert`) makes demonstrations that
``python -m foresight.data.generate`` writes in the official HDF5 schema.
"""

from foresight.envs.libero.config import MAX_STEPS, SUITES, LiberoConfig
from foresight.envs.libero.expert import ScriptedExpert, run_expert
from foresight.envs.libero.expert_params import ExpertParams
from foresight.envs.libero.planner import UnsupportedGoal
from foresight.envs.libero.rollout import LiberoRolloutEnv
from foresight.envs.libero.suite import LiberoEnv

__all__ = [
    "MAX_STEPS",
    "SUITES",
    "ExpertParams",
    "LiberoConfig",
    "LiberoEnv",
    "LiberoRolloutEnv",
    "ScriptedExpert",
    "UnsupportedGoal",
    "run_expert",
]
