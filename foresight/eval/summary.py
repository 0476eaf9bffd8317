"""``<out>/summary.json`` (every evaluation) and ``<out>/result.json`` (complete ones, in the leaderboard schema).

The summary is for the person who ran the evaluation: success per task and suite with Wilson intervals (the
suite's own :meth:`~foresight.interfaces.EnvSuite.summarize`), the protocol, how actions were executed, the
checkpoint's provenance, errors and crashes, and speed. The leaderboard result is written only when the whole
protocol ran without errors, since a partial measurement must not be ranked beside a full one.

How an evaluation maps to the leaderboard is the benchmark's business, but this module must not import benchmark
adapters (the core stays free of them). A suite whose leaderboard tasks are not its episodes (CALVIN: an episode
is a chain of 5 subtasks, the leaderboard counts subtasks and chain lengths) provides the mapping itself, as a
method ``leaderboard_inputs`` (:data:`LEADERBOARD_HOOK`); a suite that counts one task per episode (LIBERO) only
needs its protocol mapper in :data:`PROTOCOL_MAPPERS`. The hook is a method rather than a table the adapter fills
on import because the mapping needs the suite's own data (CALVIN's task ids) and the suite object is at hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from foresight import __version__
from foresight.eval.results import ERROR, OK, POLICY_SEED, latest_by_key
from foresight.leaderboard.schema import Checkpoint, Protocol, TaskOutcome, make_result
from foresight.leaderboard.validation import ResultValidationError
from foresight.rollout import EnvSuite, EpisodeSpec


class LeaderboardUnavailable(ValueError):
    """Why an evaluation cannot become a leaderboard row (incomplete, unmapped benchmark, missing provenance)."""


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_summary(
    suite: EnvSuite,
    selected: Sequence[EpisodeSpec],
    records: Sequence[dict[str, Any]],
    *,
    protocol: dict[str, Any],
    execution: dict[str, Any],
    selection: dict[str, Any],
    provenance: dict[str, Any],
    timing: dict[str, Any],
    crashes: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """The summary of the selected episodes, from their latest records (earlier sessions included)."""
    latest = latest_by_key(records)
    chosen = [latest[e.key] for e in selected if e.key in latest]
    ok = [r for r in chosen if r["status"] == OK]
    errors = [r["key"] for r in chosen if r["status"] == ERROR]
    missing = [e.key for e in selected if e.key not in latest]
    return {
        "env": suite.name,
        "complete": not errors and not missing and len(ok) == len(suite.episodes()),
        "results": suite.summarize(ok) if ok else None,
        "episodes": {
            "protocol": len(suite.episodes()),
            "selected": len(selected),
            "ok": len(ok),
            "error": len(errors),
            "missing": len(missing),
        },
        "errors": errors,
        "worker_crashes": list(crashes),
        "protocol": protocol,
        "execution": execution,
        "selection": selection,
        "checkpoint": provenance,
        "timing": timing,
        "foresight_version": __version__,
        "finished_at": utc_now(),
    }


def ensemble_parameter(execution: Mapping[str, Any]) -> float | None:
    """The leaderboard's ``ensemble_decay``: ACT's ``k`` or CogACT's ``alpha``, per ``action_execution``."""
    alpha = execution.get("adaptive_ensemble")
    return alpha if alpha is not None else execution["temporal_ensemble"]


def _libero_protocol(protocol: Mapping[str, Any], execution: Mapping[str, Any]) -> Protocol:
    # What was done to the render before the policy saw it: LIBERO's to_upright reverses the rows of an
    # "opengl" render (foresight.data.orientation) and leaves "opencv" as is.
    convention = {"opengl": "flipud", "opencv": "raw"}[protocol["image_convention"]]
    return Protocol(
        trials_per_task=protocol["trials_per_task"],
        seeds=(protocol["seed"],),
        max_steps=protocol["max_steps"],
        warmup_steps=protocol["num_steps_wait"],
        image_convention=convention,
        action_execution=execution["action_execution"],
        replan_every=execution["replan_every"],
        ensemble_decay=ensemble_parameter(execution),
        init_states="libero_official",
    )


PROTOCOL_MAPPERS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], Protocol]] = {
    "libero": _libero_protocol,
}
"""``protocol["benchmark"]`` -> the leaderboard :class:`Protocol` of an env's protocol record, for benchmarks whose
leaderboard tasks are the episodes' tasks; suites with a :data:`LEADERBOARD_HOOK` are not looked up here."""


@dataclass(frozen=True)
class LeaderboardInputs:
    """A benchmark's part of a leaderboard result: the protocol, per-task counts and (CALVIN) chain lengths.

    ``chain_lengths`` holds, per chain, how many subtasks it completed in a row; it is what
    :func:`~foresight.leaderboard.schema.make_result` derives CALVIN's 1..5-in-a-row rates and average length from.
    """

    protocol: Protocol
    tasks: list[TaskOutcome]
    chain_lengths: list[int] | None = None


LEADERBOARD_HOOK = "leaderboard_inputs"
"""Optional :class:`~foresight.interfaces.EnvSuite` method ``leaderboard_inputs(protocol, execution, records, *,
seeds) -> LeaderboardInputs``: ``protocol`` is the suite's :meth:`protocol` record, ``execution`` the runner's,
``records`` the ok episode records of the whole protocol and ``seeds`` the policy's ``eval.seed`` values. A
``ValueError`` or ``KeyError`` it raises (a protocol the leaderboard does not rank) is reported as the reason no
result was written."""


def episode_task_outcomes(records: Sequence[Mapping[str, Any]]) -> list[TaskOutcome]:
    """Successes over trials per episode task: the leaderboard tasks of a benchmark that runs one task per episode."""
    tasks: dict[int, TaskOutcome] = {}
    for r in records:
        t = tasks.get(r["task_index"], TaskOutcome(r["task_index"], r["task"], 0, 0))
        tasks[r["task_index"]] = TaskOutcome(t.index, t.name, t.successes + bool(r["success"]), t.trials + 1)
    return list(tasks.values())


def policy_seeds(records: Sequence[Mapping[str, Any]]) -> tuple[int, ...]:
    """The ``eval.seed`` values the episodes ran under: several when a resumed run changed it, which makes a
    different protocol on the leaderboard than one seed."""
    missing = [r["key"] for r in records if POLICY_SEED not in r]
    if missing:
        raise LeaderboardUnavailable(
            f"episodes {missing[:3]} do not record the policy's eval.seed ({POLICY_SEED!r}); they were written by an "
            "older foresight: evaluate into a new eval.out"
        )
    return tuple(sorted({int(r[POLICY_SEED]) for r in records}))


def leaderboard_inputs(
    suite: EnvSuite | None,
    protocol: Mapping[str, Any],
    execution: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
) -> LeaderboardInputs:
    """The suite's :data:`LEADERBOARD_HOOK` when it has one, else its benchmark's entry in :data:`PROTOCOL_MAPPERS`
    with one leaderboard task per episode task."""
    hook = getattr(suite, LEADERBOARD_HOOK, None)
    if hook is not None:
        try:
            return hook(protocol, execution, records, seeds=policy_seeds(records))
        except (KeyError, ValueError) as exc:
            reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            raise LeaderboardUnavailable(f"{type(suite).__name__} does not rank this evaluation: {reason}") from exc
    benchmark = protocol.get("benchmark")
    if benchmark not in PROTOCOL_MAPPERS:
        raise LeaderboardUnavailable(f"no leaderboard protocol mapping for benchmark {benchmark!r}")
    return LeaderboardInputs(PROTOCOL_MAPPERS[benchmark](protocol, execution), episode_task_outcomes(records))


def _run_dir(checkpoint_path: str) -> str:
    """``<run>/<stage>/checkpoints/step_N`` -> ``<run>``; any other layout is kept as given."""
    path = Path(checkpoint_path)
    return str(path.parents[2]) if path.parent.name == "checkpoints" and len(path.parents) > 2 else str(path)


def leaderboard_result(
    summary: Mapping[str, Any],
    ok_records: Sequence[dict[str, Any]],
    run_config: Any,
    method_name: str,
    wall_s: float,
    suite: EnvSuite | None = None,
    labels: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The evaluation as a validated leaderboard result document; raises :class:`LeaderboardUnavailable`.

    ``labels`` are the method's :meth:`~foresight.interfaces.Method.result_labels`, carried as ``method.labels``.

    ``suite`` is the evaluated suite, asked for its :data:`LEADERBOARD_HOOK`; without one the benchmark named in
    the protocol record must be in :data:`PROTOCOL_MAPPERS`.
    """
    if not summary["complete"]:
        counts = summary["episodes"]
        raise LeaderboardUnavailable(
            f"{counts['ok']} of the protocol's {counts['protocol']} episodes finished without error "
            f"({counts['selected']} selected, {counts['error']} errors, {counts['missing']} missing): run the "
            "whole protocol"
        )
    protocol, execution, prov = summary["protocol"], summary["execution"], summary["checkpoint"]
    needed = ("git_sha", "version", "data_fingerprint", "step", "checkpoint")
    absent = [k for k in needed if prov.get(k) is None]
    if absent:
        raise LeaderboardUnavailable(f"the checkpoint's provenance lacks {absent}")
    inputs = leaderboard_inputs(suite, protocol, execution, ok_records)
    config = OmegaConf.to_container(run_config, resolve=True) if isinstance(run_config, DictConfig) else run_config
    try:
        result = make_result(
            method=method_name,
            config=dict(config or {}),
            checkpoint=Checkpoint(
                git_sha=prov["git_sha"],
                package_version=prov["version"],
                data_fingerprint=prov["data_fingerprint"],
                training_steps=prov["step"],
                run_dir=_run_dir(prov["checkpoint"]),
                schedule=prov.get("schedule"),
            ),
            benchmark=protocol["benchmark"],
            suite=protocol["suite"],
            protocol=inputs.protocol,
            tasks=inputs.tasks,
            wall_time_s=wall_s,
            chain_lengths=inputs.chain_lengths,
            labels=labels,
        )
    except (ResultValidationError, KeyError, TypeError) as exc:
        raise LeaderboardUnavailable(f"the leaderboard schema rejects this evaluation: {exc}") from exc
    return result.to_dict()
