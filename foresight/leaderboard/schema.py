"""The results schema (version 1): one evaluation, as the evaluation runner writes it and the store files it.

The runner builds a result with :func:`make_result` from raw counts; everything derived (rates, Wilson
intervals, totals, CALVIN chain statistics, the config hash and the protocol id) is computed here, once, so
files cannot disagree with themselves. :func:`validate_result` checks a document against the JSON Schema
shipped next to this module (``result.schema.json``) and then against the consistency rules a schema cannot
express; both report every problem by field path.

Every row carries its protocol because a LIBERO number from 10 trials per task and one from 50 are different
measurements (anchors §3); :attr:`Protocol.protocol_id` is the key the leaderboard groups comparable rows by.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from foresight.leaderboard.benchmarks import BENCHMARKS, CALVIN_CHAIN_LENGTH
from foresight.leaderboard.canonical import canonical_json, config_hash, pretty_json, sha256_hex
from foresight.leaderboard.provenance import hardware_info
from foresight.leaderboard.stats import wilson_interval
from foresight.leaderboard.validation import Issue, ResultValidationError, schema_issues

SCHEMA_VERSION = 1
SCHEMA_FILE = "result.schema.json"
KINDS = ("reproduced", "oracle")
STUDY_FIELDS = ("study", "components", "evidence")
"""Optional top-level fields a study's results carry (added in place, schema version unchanged)."""
_TOL = 1e-6  # float slack for files written by other tools; Python itself round-trips floats exactly


@dataclass(frozen=True)
class Protocol:
    """How an evaluation was run. Two results are ranked together only if every field here is equal."""

    trials_per_task: int
    seeds: tuple[int, ...]
    max_steps: int
    warmup_steps: int
    image_convention: str  # "rot180" | "flipud" | "raw": what was done to the render before the policy saw it
    action_execution: str = "receding_horizon"  # or "temporal_ensemble" (ACT) / "adaptive_ensemble" (CogACT)
    replan_every: int = 1
    ensemble_decay: float | None = None  # the ensemble's weight parameter: ACT's k or CogACT's alpha
    init_states: str = "libero_official"  # | "calvin_official" | "random"
    num_chains: int | None = None  # CALVIN only
    checkpoints_averaged: int = 1

    def fields(self) -> dict[str, Any]:
        """The protocol without its id: what the id is derived from."""
        return {
            "trials_per_task": self.trials_per_task,
            "seeds": list(self.seeds),
            "max_steps": self.max_steps,
            "warmup_steps": self.warmup_steps,
            "image_convention": self.image_convention,
            "action_execution": self.action_execution,
            "replan_every": self.replan_every,
            "ensemble_decay": self.ensemble_decay,
            "init_states": self.init_states,
            "num_chains": self.num_chains,
            "checkpoints_averaged": self.checkpoints_averaged,
        }

    @property
    def protocol_id(self) -> str:
        return protocol_id(self.fields())

    def to_dict(self) -> dict[str, Any]:
        return {**self.fields(), "protocol_id": self.protocol_id}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Protocol:
        kwargs = {k: v for k, v in d.items() if k != "protocol_id"}
        kwargs["seeds"] = tuple(kwargs["seeds"])
        return cls(**kwargs)


def protocol_id(fields: Mapping[str, Any]) -> str:
    """``p-`` + 12 hex digits of the canonical protocol fields (excluding any ``protocol_id``)."""
    return "p-" + sha256_hex({k: v for k, v in fields.items() if k != "protocol_id"})[:12]


@dataclass(frozen=True)
class Rate:
    successes: int
    trials: int
    rate: float
    ci95: tuple[float, float]

    @classmethod
    def from_counts(cls, successes: int, trials: int) -> Rate:
        return cls(successes, trials, successes / trials, wilson_interval(successes, trials))

    def to_dict(self) -> dict[str, Any]:
        return {"successes": self.successes, "trials": self.trials, "rate": self.rate, "ci95": list(self.ci95)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Rate:
        return cls(d["successes"], d["trials"], d["rate"], tuple(d["ci95"]))


@dataclass(frozen=True)
class TaskResult:
    index: int  # position in the suite's official task order
    name: str
    successes: int
    trials: int
    rate: float
    ci95: tuple[float, float]

    @classmethod
    def from_counts(cls, index: int, name: str, successes: int, trials: int) -> TaskResult:
        r = Rate.from_counts(successes, trials)
        return cls(index, name, successes, trials, r.rate, r.ci95)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "successes": self.successes,
            "trials": self.trials,
            "rate": self.rate,
            "ci95": list(self.ci95),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TaskResult:
        return cls(d["index"], d["name"], d["successes"], d["trials"], d["rate"], tuple(d["ci95"]))


@dataclass(frozen=True)
class CalvinStats:
    """CALVIN's chain metrics (calvin_agent/evaluation/utils.py: count_success), from per-chain counts."""

    completed_histogram: tuple[int, ...]  # chains that completed exactly k subtasks, k = 0..5
    success_in_a_row: tuple[Rate, ...]  # k = 1..5: chains that completed at least k subtasks
    avg_len: float

    @classmethod
    def from_chain_lengths(cls, lengths: Sequence[int]) -> CalvinStats:
        if not lengths:
            raise ValueError("CALVIN statistics need at least one chain")
        bad = [n for n in lengths if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 5]
        if bad:
            raise ValueError(f"completed subtasks per chain must be integers in 0..5, got {bad[:5]}")
        hist = tuple(sum(1 for n in lengths if n == k) for k in range(CALVIN_CHAIN_LENGTH + 1))
        return cls.from_histogram(hist)

    @classmethod
    def from_histogram(cls, hist: Sequence[int]) -> CalvinStats:
        total = sum(hist)
        in_a_row = tuple(Rate.from_counts(sum(hist[k:]), total) for k in range(1, CALVIN_CHAIN_LENGTH + 1))
        avg_len = sum(k * h for k, h in enumerate(hist)) / total
        return cls(tuple(hist), in_a_row, avg_len)

    def to_dict(self) -> dict[str, Any]:
        return {
            "completed_histogram": list(self.completed_histogram),
            "success_in_a_row": [r.to_dict() for r in self.success_in_a_row],
            "avg_len": self.avg_len,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CalvinStats:
        return cls(
            tuple(d["completed_histogram"]), tuple(Rate.from_dict(r) for r in d["success_in_a_row"]), d["avg_len"]
        )


@dataclass(frozen=True)
class Checkpoint:
    """Where the evaluated weights came from: enough to rebuild them."""

    git_sha: str
    package_version: str
    data_fingerprint: str
    training_steps: int | tuple[int, ...]  # a tuple when several checkpoints are averaged
    run_dir: str
    schedule: dict[str, Any] | None = None  # the evaluated stage's learning-rate schedule (older results: none)

    def to_dict(self) -> dict[str, Any]:
        steps = list(self.training_steps) if isinstance(self.training_steps, tuple) else self.training_steps
        schedule = {"schedule": dict(self.schedule)} if self.schedule is not None else {}
        return {
            "git_sha": self.git_sha,
            "package_version": self.package_version,
            "data_fingerprint": self.data_fingerprint,
            "training_steps": steps,
            "run_dir": self.run_dir,
            **schedule,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Checkpoint:
        steps = d["training_steps"]
        return cls(
            d["git_sha"],
            d["package_version"],
            d["data_fingerprint"],
            tuple(steps) if isinstance(steps, list) else steps,
            d["run_dir"],
            d.get("schedule"),
        )


@dataclass(frozen=True)
class Hardware:
    cpu: str
    gpus: tuple[str, ...]
    platform: str

    def to_dict(self) -> dict[str, Any]:
        return {"cpu": self.cpu, "gpus": list(self.gpus), "platform": self.platform}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Hardware:
        return cls(d["cpu"], tuple(d["gpus"]), d["platform"])

    @classmethod
    def detect(cls) -> Hardware:
        info = hardware_info()
        return cls(info["cpu"], tuple(info["gpus"]), info["platform"])


@dataclass(frozen=True)
class Result:
    """One evaluation; :meth:`to_dict` is the results-file content."""

    kind: str
    method: str
    config: Mapping[str, Any]
    checkpoint: Checkpoint
    benchmark: str
    suite: str
    protocol: Protocol
    tasks: tuple[TaskResult, ...]
    aggregate: Rate
    calvin: CalvinStats | None
    wall_time_s: float
    hardware: Hardware
    timestamp: str
    notes: str = ""
    config_hash: str = field(default="")
    labels: tuple[str, ...] = ()  # the method's result labels (e.g. MoLA's "imagination: oracle" upper bound)
    study: Mapping[str, Any] | None = None  # {name, arm, label, seed}: an arm of a study (foresight.study)
    components: Mapping[str, str] | None = None  # encoder, head, data, protocol, foresight (foresight.study)
    evidence: Mapping[str, str] | None = None  # {episodes_sha256}: the episodes the counts were computed from

    def to_dict(self) -> dict[str, Any]:
        out = {
            "schema_version": SCHEMA_VERSION,
            "kind": self.kind,
            "method": {"name": self.method, "config": dict(self.config), "config_hash": self.config_hash},
            "checkpoint": self.checkpoint.to_dict(),
            "benchmark": self.benchmark,
            "suite": self.suite,
            "protocol": self.protocol.to_dict(),
            "tasks": [t.to_dict() for t in self.tasks],
            "aggregate": self.aggregate.to_dict(),
            "calvin": self.calvin.to_dict() if self.calvin else None,
            "wall_time_s": self.wall_time_s,
            "hardware": self.hardware.to_dict(),
            "timestamp": self.timestamp,
        }
        if self.notes:
            out["notes"] = self.notes
        if self.labels:
            out["method"]["labels"] = list(self.labels)
        for key in STUDY_FIELDS:
            if getattr(self, key) is not None:
                out[key] = dict(getattr(self, key))
        return out

    def to_json(self) -> str:
        """The on-disk form: key-sorted, indented JSON with a final newline."""
        return pretty_json(self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str | None = None) -> Result:
        """Validate ``d`` (raising :class:`ResultValidationError`) and load it."""
        validate_result(d, source=source)
        return cls(
            kind=d["kind"],
            method=d["method"]["name"],
            config=d["method"]["config"],
            config_hash=d["method"]["config_hash"],
            checkpoint=Checkpoint.from_dict(d["checkpoint"]),
            benchmark=d["benchmark"],
            suite=d["suite"],
            protocol=Protocol.from_dict(d["protocol"]),
            tasks=tuple(TaskResult.from_dict(t) for t in d["tasks"]),
            aggregate=Rate.from_dict(d["aggregate"]),
            calvin=CalvinStats.from_dict(d["calvin"]) if d["calvin"] is not None else None,
            wall_time_s=d["wall_time_s"],
            hardware=Hardware.from_dict(d["hardware"]),
            timestamp=d["timestamp"],
            notes=d.get("notes", ""),
            labels=tuple(d["method"].get("labels", ())),
            **{key: d[key] for key in STUDY_FIELDS if key in d},
        )


@dataclass(frozen=True)
class TaskOutcome:
    """Raw per-task counts, as the evaluation runner has them."""

    index: int
    name: str
    successes: int
    trials: int


def make_result(
    *,
    method: str,
    config: Mapping[str, Any],
    checkpoint: Checkpoint,
    benchmark: str,
    suite: str,
    protocol: Protocol,
    tasks: Sequence[TaskOutcome],
    wall_time_s: float,
    kind: str = "reproduced",
    chain_lengths: Sequence[int] | None = None,
    hardware: Hardware | None = None,
    timestamp: str | None = None,
    notes: str = "",
    labels: Sequence[str] = (),
) -> Result:
    """Build and validate a result from raw counts.

    ``chain_lengths`` (CALVIN only) holds, per evaluated chain, how many of its 5 subtasks were completed in a
    row. ``hardware`` defaults to this machine, ``timestamp`` to now (UTC). Raises
    :class:`ResultValidationError` naming every inconsistent field.
    """
    try:
        hashed = config_hash(config)
    except (TypeError, ValueError) as exc:
        raise ResultValidationError([("method.config", f"not JSON-serialisable: {exc}")]) from None
    ordered = sorted(tasks, key=lambda t: t.index)
    count_issues = [
        (
            f"tasks[{i}]",
            f"task {t.name!r}: need integers 0 <= successes <= trials, trials >= 1 (got {t.successes}/{t.trials})",
        )
        for i, t in enumerate(ordered)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (t.successes, t.trials))
        or not 0 <= t.successes <= t.trials
        or t.trials < 1
    ]
    if not ordered:
        count_issues.append(("tasks", "no task outcomes given"))
    if count_issues:
        raise ResultValidationError(count_issues)
    task_results = tuple(TaskResult.from_counts(t.index, t.name, t.successes, t.trials) for t in ordered)
    aggregate = Rate.from_counts(sum(t.successes for t in ordered), sum(t.trials for t in ordered))
    calvin = CalvinStats.from_chain_lengths(chain_lengths) if chain_lengths is not None else None
    result = Result(
        kind=kind,
        method=method,
        config=config,
        config_hash=hashed,
        labels=tuple(labels),
        checkpoint=checkpoint,
        benchmark=benchmark,
        suite=suite,
        protocol=protocol,
        tasks=task_results,
        aggregate=aggregate,
        calvin=calvin,
        wall_time_s=float(wall_time_s),
        hardware=hardware or Hardware.detect(),
        timestamp=timestamp or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        notes=notes,
    )
    validate_result(result.to_dict())
    return result


def validate_result(obj: Any, source: str | None = None) -> None:
    """Raise :class:`ResultValidationError` listing every schema violation and inconsistency in ``obj``."""
    try:
        canonical_json(obj)
    except (TypeError, ValueError) as exc:
        raise ResultValidationError([("", f"not JSON-serialisable: {exc}")], source) from None
    issues = schema_issues(obj, SCHEMA_FILE)
    if not issues:
        issues = _consistency_issues(obj)
    if issues:
        raise ResultValidationError(issues, source)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= _TOL


def _rate_issues(path: str, r: Mapping[str, Any]) -> list[Issue]:
    s, n = r["successes"], r["trials"]
    if s > n:
        return [(f"{path}.successes", f"{s} successes exceed {n} trials")]
    issues: list[Issue] = []
    if not _close(r["rate"], s / n):
        issues.append((f"{path}.rate", f"{r['rate']} != successes/trials = {s}/{n} = {s / n}"))
    lo, hi = wilson_interval(s, n)
    if not (_close(r["ci95"][0], lo) and _close(r["ci95"][1], hi)):
        issues.append((f"{path}.ci95", f"{r['ci95']} is not the Wilson 95% interval of {s}/{n} = [{lo}, {hi}]"))
    return issues


def _consistency_issues(d: Mapping[str, Any]) -> list[Issue]:
    issues: list[Issue] = []
    bench, suite, proto = d["benchmark"], d["suite"], d["protocol"]
    suites = BENCHMARKS[bench]
    if suite not in suites:
        issues.append(("suite", f"{suite!r} is not a {bench} suite (valid: {', '.join(sorted(suites))})"))

    expected_hash = config_hash(d["method"]["config"])
    if d["method"]["config_hash"] != expected_hash:
        issues.append(("method.config_hash", f"does not match the config (expected {expected_hash})"))
    expected_id = protocol_id(proto)
    if proto["protocol_id"] != expected_id:
        issues.append(("protocol.protocol_id", f"does not match the protocol fields (expected {expected_id})"))

    comps = d.get("components")
    if comps is not None and comps["protocol"] != proto["protocol_id"]:
        issues.append(("components.protocol", f"{comps['protocol']!r} is not this result's {proto['protocol_id']!r}"))
    if comps is not None and comps["data"] != d["checkpoint"]["data_fingerprint"]:
        issues.append(("components.data", "is not this result's checkpoint.data_fingerprint"))
    ensembling = proto["action_execution"] in ("temporal_ensemble", "adaptive_ensemble")
    if ensembling != (proto["ensemble_decay"] is not None):
        issues.append(
            (
                "protocol.ensemble_decay",
                "must be a number for temporal_ensemble or adaptive_ensemble and null otherwise",
            )
        )
    if bench == "calvin":
        if proto["num_chains"] is None:
            issues.append(("protocol.num_chains", "required for CALVIN (the standard protocol evaluates 1000)"))
        if proto["init_states"] == "libero_official":
            issues.append(("protocol.init_states", "'libero_official' cannot be used on CALVIN"))
    else:
        if proto["num_chains"] is not None:
            issues.append(("protocol.num_chains", "must be null for LIBERO"))
        if proto["init_states"] == "calvin_official":
            issues.append(("protocol.init_states", "'calvin_official' cannot be used on LIBERO"))

    k = proto["checkpoints_averaged"]
    steps = d["checkpoint"]["training_steps"]
    if isinstance(steps, list) and len(steps) != k:
        issues.append(("checkpoint.training_steps", f"lists {len(steps)} checkpoints but checkpoints_averaged={k}"))
    if isinstance(steps, int) and k != 1:
        issues.append(("checkpoint.training_steps", f"give one step count per checkpoint ({k} averaged)"))

    tasks = d["tasks"]
    names = [t["name"] for t in tasks]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        issues.append(("tasks", f"duplicate task names: {dupes}"))
    indices = sorted(t["index"] for t in tasks)
    if len(set(indices)) != len(indices):
        issues.append(("tasks", "duplicate task indices"))
    spec = suites.get(suite)
    if spec is not None and spec.num_tasks is not None:
        if len(tasks) != spec.num_tasks:
            issues.append(("tasks", f"{spec.label} has {spec.num_tasks} tasks, the result lists {len(tasks)}"))
        elif indices != list(range(spec.num_tasks)):
            issues.append(("tasks", f"task indices must be 0..{spec.num_tasks - 1}, got {indices}"))
    for i, t in enumerate(tasks):
        issues += _rate_issues(f"tasks[{i}]", t)
        if bench == "libero" and t["trials"] != proto["trials_per_task"] * k:
            issues.append(
                (
                    f"tasks[{i}].trials",
                    f"{t['trials']} != trials_per_task × checkpoints_averaged = {proto['trials_per_task']} × {k}",
                )
            )

    agg = d["aggregate"]
    total_s, total_n = sum(t["successes"] for t in tasks), sum(t["trials"] for t in tasks)
    if (agg["successes"], agg["trials"]) != (total_s, total_n):
        issues.append(("aggregate", f"{agg['successes']}/{agg['trials']} != task totals {total_s}/{total_n}"))
    else:
        issues += _rate_issues("aggregate", agg)

    calvin = d["calvin"]
    if bench == "calvin" and calvin is None:
        issues.append(("calvin", "required for CALVIN results (chain statistics)"))
    if bench != "calvin" and calvin is not None:
        issues.append(("calvin", "must be null for LIBERO results"))
    if bench == "calvin" and calvin is not None:
        issues += _calvin_issues(calvin, proto, tasks)
    return issues


def _calvin_issues(calvin: Mapping[str, Any], proto: Mapping[str, Any], tasks: Sequence[Mapping]) -> list[Issue]:
    issues: list[Issue] = []
    hist = calvin["completed_histogram"]
    total = sum(hist)
    expected_chains = (proto["num_chains"] or 0) * proto["trials_per_task"] * proto["checkpoints_averaged"]
    if total != expected_chains:
        issues.append(
            (
                "calvin.completed_histogram",
                f"counts {total} chains, expected num_chains × trials_per_task × checkpoints_averaged = "
                f"{expected_chains}",
            )
        )
    if total == 0:
        return issues
    for k, r in enumerate(calvin["success_in_a_row"], start=1):
        path = f"calvin.success_in_a_row[{k - 1}]"
        if (r["successes"], r["trials"]) != (sum(hist[k:]), total):
            issues.append(
                (path, f"{r['successes']}/{r['trials']} != chains with >= {k} completed {sum(hist[k:])}/{total}")
            )
        else:
            issues += _rate_issues(path, r)
    avg = sum(k * h for k, h in enumerate(hist)) / total
    if not _close(calvin["avg_len"], avg):
        issues.append(("calvin.avg_len", f"{calvin['avg_len']} != mean completed subtasks {avg}"))
    # Each chain attempts subtasks until its first failure: completed + 1 attempts, at most 5.
    attempts = sum(h * min(k + 1, CALVIN_CHAIN_LENGTH) for k, h in enumerate(hist))
    completed = sum(k * h for k, h in enumerate(hist))
    task_s, task_n = sum(t["successes"] for t in tasks), sum(t["trials"] for t in tasks)
    if (task_s, task_n) != (completed, attempts):
        issues.append(
            ("tasks", f"subtask totals {task_s}/{task_n} != {completed}/{attempts} implied by the chain histogram")
        )
    return issues
