"""The instruction a policy is given for each subtask: the official validation annotation.

``evaluate_policy.rollout`` gives the policy ``val_annotations[subtask][0]`` from
``conf/annotations/new_playtable_validation.yaml``: one fixed sentence per task, none of which occurs among the
training annotations (``new_playtable.yaml``), so evaluation also tests generalisation to unseen phrasings.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml


def load_instructions(path: str | Path, tasks: Iterable[str]) -> dict[str, str]:
    """``{task: instruction}`` for ``tasks``; a task without an annotation is an error naming the file."""
    path = Path(path)
    try:
        annotations = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"CALVIN instruction file {path} does not exist") from None
    if not isinstance(annotations, dict):
        raise ValueError(f"{path} must map task names to lists of instructions")
    tasks = list(tasks)
    missing = [t for t in tasks if t not in annotations]
    if missing:
        raise KeyError(f"{path} has no instruction for tasks {missing}")
    out = {}
    for task in tasks:
        sentences = annotations[task]
        if not (isinstance(sentences, list) and sentences and all(isinstance(s, str) for s in sentences)):
            raise ValueError(f"{path}: {task} must be a non-empty list of sentences, got {sentences!r}")
        out[task] = sentences[0]
    return out
