"""The protocol's configuration data shipped with the package, and where each piece came from.

All four files are data copied from the official repositories (MIT, Copyright (c) 2021 Oier Mees), never code:

``eval_sequences.json``
    The 1000 evaluation chains in the order ``calvin_agent.evaluation.multistep_sequences.get_sequences(1000)``
    produces them (mees/calvin@fa03f01). Generating them takes minutes of rejection sampling, so they ship
    precomputed; the file is byte-identical to the one recorded with the official module.
``tasks.yaml``
    The task oracle's definitions, ``calvin_models/conf/callbacks/rollout/tasks/new_playtable_tasks.yaml``.
``new_playtable_validation.yaml``
    The evaluation instructions, ``calvin_models/conf/annotations/new_playtable_validation.yaml``.
``scene_D.yaml``
    calvin_env's own config composed for scene D with the static and gripper cameras (calvin_env@797142c).

Their SHA-256 digests go into the protocol record, so a result says exactly which chains, oracle definitions and
instructions it was measured with.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

SEQUENCES = "eval_sequences.json"
TASKS = "tasks.yaml"
INSTRUCTIONS = "new_playtable_validation.yaml"
SCENE_D = "scene_D.yaml"


def data_file(name: str) -> Path:
    """Path of a shipped data file (``foresight/envs/calvin/data/<name>``)."""
    path = Path(str(resources.files("foresight.envs.calvin") / "data" / name))
    if not path.is_file():
        raise FileNotFoundError(
            f"the CALVIN adapter's data file {path} is missing: the foresight installation is incomplete "
            "(package data of foresight.envs.calvin); reinstall foresight"
        )
    return path


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
