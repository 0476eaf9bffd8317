"""What a resumed training run may change, and what it must not.

A resumed stage continues the checkpoint's optimiser, scheduler, sampler position and RNG streams, so the
config that produced the checkpoint has to be the config that continues it. :func:`check_resume` compares the
two (and the data fingerprints) and refuses a difference it cannot honour, naming the keys and the ways out.

The changes a resume does honour are the ones that do not alter what has been computed so far: how long to train
(``train.steps``, ``train.stop_at_step``; the cosine schedule is stretched to the new length from the current
step on), how often to log, validate and checkpoint, how many checkpoints to keep, loader workers, the logger,
and where files are (``run_dir``, ``data.path``, ``data.cache_dir``: the data fingerprint still has to match).
Honoured changes are printed and appended to ``<stage>/resumes.jsonl``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from foresight import checkpoint
from foresight.config import ConfigError

SAFE_TRAIN_KEYS = frozenset(
    {
        "steps",
        "stop_at_step",
        "checkpoint_every",
        "keep_last",
        "log_every",
        "val_every",
        "val_batches",
        "num_workers",
        "logger",
        "resume",
        "init_from",
        "feature_cache",
    }
)
"""Leaf names under ``train.`` that a resume may change (matched by leaf, wherever train groups them)."""

SAFE_KEYS = frozenset({"run_dir", "stage", "data.name", "data.path", "data.cache_dir", "data.repo_id"})
"""Other dotted keys a resume may change: labels and locations, checked by the data fingerprint instead."""

RESUMES_FILE = "resumes.jsonl"


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 1}}`` -> ``{"train.lr": 1}``; lists are compared whole."""
    if isinstance(node, dict):
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: node}


def is_safe(key: str) -> bool:
    if key in SAFE_KEYS:
        return True
    return key.startswith("train.") and key.rsplit(".", 1)[-1] in SAFE_TRAIN_KEYS


def config_changes(saved: dict[str, Any], current: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Dotted key -> (value in the checkpoint, value now), for every key whose value differs or exists in one only."""
    old, new = flatten(saved), flatten(current)
    missing = object()
    changes = {}
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key, missing), new.get(key, missing)
        if before != after:
            changes[key] = (None if before is missing else before, None if after is missing else after)
    return changes


def check_resume(
    ckpt: Path, cfg: DictConfig | dict[str, Any], fingerprint: str, steps: int
) -> dict[str, tuple[Any, Any]]:
    """Refuse resuming ``ckpt`` under ``cfg`` / data ``fingerprint`` for a stage of ``steps`` steps unless only safe
    keys changed and steps remain; returns the changes."""
    saved = yaml.safe_load((ckpt / checkpoint.CONFIG_FILE).read_text()) or {}
    current = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    changes = config_changes(saved, current)  # type: ignore[arg-type]
    unsafe = {k: v for k, v in changes.items() if not is_safe(k)}
    way_out = (
        "start a fresh run instead (another run_dir, or train.resume=never after moving this one away), "
        "or resume with the checkpoint's values"
    )
    if unsafe:
        listed = "; ".join(f"{k}: {old!r} in the checkpoint, {new!r} now" for k, (old, new) in unsafe.items())
        raise ConfigError(
            f"cannot resume {ckpt}: the config changed ({listed}). A resume continues the saved optimiser, "
            f"schedule and data order, so only {', '.join(sorted(SAFE_TRAIN_KEYS))} (train.*) and "
            f"{', '.join(sorted(SAFE_KEYS))} may change; {way_out}"
        )
    meta = checkpoint.load_json(ckpt / checkpoint.META_FILE)
    if steps <= int(meta.get("step", 0)):
        raise ConfigError(
            f"cannot resume {ckpt}: it is at step {meta.get('step')} and this stage is planned for {steps} steps, so "
            f"nothing is left to train; raise train.steps, or evaluate the checkpoint as it is"
        )
    saved_fp = meta.get("data_fingerprint")
    if saved_fp is not None and saved_fp != fingerprint:
        raise ConfigError(
            f"cannot resume {ckpt}: it was trained on data {meta.get('data_source')!r} (fingerprint {saved_fp}), "
            f"the data now has fingerprint {fingerprint} (other files, file times or read options); {way_out}"
        )
    return {k: v for k, v in changes.items() if k not in ("train.resume",)}


def record_changes(stage_dir: Path, ckpt: Path, step: int, changes: dict[str, tuple[Any, Any]]) -> None:
    """Append the honoured changes to ``<stage>/resumes.jsonl`` so the run's record says what changed when."""
    entry = {
        "resumed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "from": str(ckpt),
        "step": step,
        "changed": {k: {"checkpoint": old, "now": new} for k, (old, new) in changes.items()},
    }
    with open(stage_dir / RESUMES_FILE, "a") as f:
        f.write(json.dumps(entry, default=str) + "\n")


def explicit_resume_point(ckpt: Path, stage: str, stages: list[str]) -> Path | None:
    """``train.resume=<checkpoint>`` for ``stage``: the checkpoint when it is this stage's, ``None`` for a stage
    after the checkpoint's (that stage starts from the finished earlier one), an error otherwise."""
    saved_stage = checkpoint.load_json(ckpt / checkpoint.META_FILE).get("stage")
    if saved_stage == stage:
        return ckpt
    if saved_stage in stages and stages.index(saved_stage) < stages.index(stage):
        return None
    raise ConfigError(
        f"train.resume={ckpt} is a checkpoint of stage {saved_stage!r}, but this run trains stage {stage!r} "
        f"(stages: {stages}): run stage={saved_stage} to resume it, or drop train.resume"
    )


def unfinished_note(ckpt: Path, provenance: dict[str, Any]) -> str | None:
    """Why evaluating ``ckpt`` measures an unfinished training run, or ``None`` when the run finished."""
    step, total = provenance.get("step"), provenance.get("total_steps")
    if step is not None and total is not None and step < total:
        return f"{ckpt} is step {step} of {total} of stage {provenance.get('stage')!r}: training did not finish"
    if ckpt.parent.name == "checkpoints":
        run_dir = ckpt.parents[2]
        if (run_dir / "stages.json").exists() and not checkpoint.run_complete(run_dir):
            last = checkpoint.load_json(run_dir / "stages.json")["stages"][-1]
            stage = provenance.get("stage")
            return f"{ckpt} is from stage {stage!r}, but the run's last stage ({last!r}) has not finished"
    return None
