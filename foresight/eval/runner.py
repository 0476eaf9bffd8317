"""Run a protocol's episodes with a loaded policy: parallel simulators, batched inference, resumable results.

The main process holds the policy (on the GPU when there is one); simulator workers (:mod:`foresight.eval.worker`)
step episodes and send back stacked observations (with the past actions they executed, when the policy reads
them). Each round the policy is called once for every episode waiting for actions, and each worker executes its
share of the chunk. Under ``accelerate launch`` every process does this for its shard of the episodes (to-do
episodes by index modulo the number of processes) and the main process gathers the records and writes the
summary. The LIBERO and CALVIN adapters both run through here.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import PartialState
from accelerate.utils import gather_object, parse_flag_from_env
from tqdm.auto import tqdm

from foresight.eval.chunking import ActionQueue
from foresight.eval.config import EvalConfig
from foresight.eval.policy import BatchedPolicy, Query
from foresight.eval.pool import Crash, Worker, collect, shutdown
from foresight.eval.results import (
    EPISODES_FILE,
    ERROR,
    OK,
    POLICY_SEED,
    RESULT_FILE,
    SUMMARY_FILE,
    EpisodeLog,
    EvalError,
    check_run_identity,
    finished_keys,
    jsonable,
    latest_by_key,
)
from foresight.eval.summary import LeaderboardUnavailable, build_summary, leaderboard_result, utc_now
from foresight.eval.worker import WorkerSetup
from foresight.fileio import atomic_write_text, pretty_json
from foresight.rollout import EnvSuite, EpisodeSpec

SESSIONS_FILE = "sessions.jsonl"
VIDEO_DIR = "videos"


def process_state() -> PartialState:
    """accelerate's view of the evaluation processes.

    Without CUDA the processes must be told to use CPU (gloo): in accelerate 1.x ``accelerate launch --cpu
    --num_processes N`` starts a single process (several need mpirun), so several CPU processes come from
    ``accelerate launch --multi_gpu --num_processes N`` (torchrun), which leaves the device choice to us.
    """
    return PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU") or not torch.cuda.is_available())


def select_episodes(episodes: list[EpisodeSpec], config: EvalConfig) -> list[EpisodeSpec]:
    """The protocol's episodes restricted to ``eval.tasks`` and the first ``eval.trials`` trials of each task."""
    if config.tasks is not None:
        known = sorted({e.task_index for e in episodes})
        unknown = [t for t in config.tasks if t not in known]
        if unknown:
            raise EvalError(f"eval.tasks asks for tasks {unknown}; this protocol's tasks are {known}")
        episodes = [e for e in episodes if e.task_index in config.tasks]
    if config.trials is not None:
        episodes = [e for e in episodes if e.trial < config.trials]
    if not episodes:
        raise EvalError("eval.tasks / eval.trials select no episode of the protocol")
    return episodes


def check_task_set(suite: EnvSuite, episodes: list[EpisodeSpec], trained: tuple[str, ...], config: EvalConfig) -> None:
    """Refuse, before any simulator starts, episodes that ask for tasks the checkpoint was not trained on.

    A policy that embeds the task index has nothing to look up for such a task, and one conditioned on language
    is measured out of distribution; ``eval.allow_unseen_tasks=true`` evaluates anyway (zero-shot studies).
    """
    if config.allow_unseen_tasks:
        return
    known = set(trained)
    unknown = sorted({task for e in episodes for task in suite.episode_tasks(e) if task not in known})
    if unknown:
        shown = ", ".join(unknown[:8]) + (f" (+{len(unknown) - 8} more)" if len(unknown) > 8 else "")
        raise EvalError(
            f"the checkpoint was not trained on {len(unknown)} task(s) this evaluation asks for: {shown}; it knows "
            f"{len(known)} task(s) ({', '.join(list(trained)[:4])}{', ...' if len(known) > 4 else ''}). Evaluate "
            f"on the suite it was trained for, select episodes with eval.tasks, or set eval.allow_unseen_tasks=true"
        )


def resolve_execution(suite: EnvSuite, chunk_length: int) -> dict[str, Any]:
    """How chunks become actions, from the suite's protocol options ``replan_every`` / ``temporal_ensemble`` /
    ``adaptive_ensemble``.

    ``replan_every=None`` executes the whole chunk, or, with temporal (ACT) or adaptive (CogACT) ensembling,
    queries every step, so every step's frames are rendered.
    """
    decay = getattr(suite.config, "temporal_ensemble", None)
    alpha = getattr(suite.config, "adaptive_ensemble", None)
    if decay is not None and alpha is not None:
        raise EvalError("env.temporal_ensemble and env.adaptive_ensemble both set: choose one way to weigh chunks")
    replan = getattr(suite.config, "replan_every", None)
    if replan is None:
        replan = 1 if decay is not None or alpha is not None else chunk_length
    if replan > chunk_length:
        raise EvalError(
            f"env.replan_every={replan} exceeds the {chunk_length} actions the policy predicts from the current "
            f"step (its action offsets from 0 on): set env.replan_every to at most {chunk_length}"
        )
    mode = "temporal_ensemble" if decay is not None else "adaptive_ensemble" if alpha is not None else None
    return {
        "action_execution": mode or "receding_horizon",
        "replan_every": replan,
        "temporal_ensemble": decay,
        "adaptive_ensemble": alpha,
        "chunk_length": chunk_length,
    }


@dataclass
class ShardStats:
    """What one process did in this session; gathered on the main process."""

    records: list[dict[str, Any]] = field(default_factory=list)
    crashes: list[dict[str, Any]] = field(default_factory=list)
    env_steps: int = 0
    rendered_frames: int = 0
    reset_s: float = 0.0
    policy_s: float = 0.0
    policy_calls: int = 0
    policy_rows: int = 0
    wall_s: float = 0.0
    workers: int = 0


class _Shard:
    """One process's share of the episodes, run on its own worker pool."""

    def __init__(
        self,
        suite: EnvSuite,
        policy: BatchedPolicy,
        config: EvalConfig,
        execution: dict[str, Any],
        log: EpisodeLog,
        out_dir: Path,
        rank: int,
        progress: tqdm,
        prior: list[dict[str, Any]],
    ) -> None:
        self.suite = suite
        self.policy = policy
        self.config = config
        self.execution = execution
        self.log = log
        self.rank = rank
        self.progress = progress
        self.prior = prior
        self.setup = WorkerSetup(
            offsets=policy.spec.observation_offsets_at_inference,
            views=policy.views,
            proprio_keys=tuple(policy.spec.proprio_keys),
            video_dir=str(out_dir / VIDEO_DIR),
            video_fps=config.video_fps,
            action_offsets=policy.past_offsets,
            action_dim=policy.method.info.action_dim,
            replan_every=execution["replan_every"],
            render_every_step=config.render == "every_step",
        )
        self.stats = ShardStats()
        self.attempts: Counter[str] = Counter()
        self.queues: dict[int, ActionQueue] = {}
        self.steps: dict[int, int] = {}

    def run(self, episodes: list[EpisodeSpec], n_workers: int) -> ShardStats:
        began = time.perf_counter()
        pending = list(episodes)
        workers: list[Worker | None] = [None] * n_workers
        self.stats.workers = n_workers
        try:
            while pending or any(w is not None and w.episode is not None for w in workers):
                self._assign(pending, workers)
                replies, crashes = collect(workers, self.config.worker_timeout_s)
                for crash in crashes:
                    workers[crash.worker] = None
                    self._crashed(crash, pending)
                queries: list[tuple[Worker, Query]] = []
                for worker, message in replies:
                    assert worker.episode is not None
                    if message[0] == "done":
                        self._finished(worker.episode, message[1], worker)
                        worker.finish()
                        continue
                    _, observation, steps, policy_reset = message
                    self.steps[worker.index] = steps
                    if policy_reset:
                        self.queues[worker.index].reset()
                    queries.append((worker, Query(task=worker.episode.task, observation=observation)))
                if queries:
                    chunks = self.policy([q for _, q in queries])
                    for (worker, _), chunk in zip(queries, chunks, strict=True):
                        worker.act(self.queues[worker.index].plan(self.steps[worker.index], chunk))
        finally:
            shutdown(workers)
            self.stats.wall_s = time.perf_counter() - began
            self.stats.policy_s = self.policy.seconds
            self.stats.policy_calls = self.policy.calls
            self.stats.policy_rows = self.policy.rows
        return self.stats

    def _assign(self, pending: list[EpisodeSpec], workers: list[Worker | None]) -> None:
        """Give idle workers episodes, keeping each on one task: a new task rebuilds the simulator (LIBERO ~9 s)."""
        for index in range(len(workers)):
            worker = workers[index]
            if not pending or (worker is not None and worker.episode is not None):
                continue
            busy = {w.last_task for w in workers if w is not None and w.episode is not None}
            episode = _next_episode(pending, worker.last_task if worker is not None else None, busy)
            pending.remove(episode)
            if worker is None:
                worker = workers[index] = Worker(index, self.suite, self.setup)
            self.queues[index] = ActionQueue(
                self.execution["replan_every"],
                self.execution["temporal_ensemble"],
                self.execution.get("adaptive_ensemble"),
            )
            self.steps[index] = 0
            worker.start(episode, record_video=episode.trial < self.config.videos)

    def _finished(self, episode: EpisodeSpec, outcome: dict[str, Any], worker: Worker) -> None:
        self.stats.env_steps += outcome["steps"]
        self.stats.rendered_frames += outcome["rendered_frames"]
        self.stats.reset_s += outcome["reset_s"]
        self._record(episode, OK, worker=worker, **outcome)

    def _crashed(self, crash: Crash, pending: list[EpisodeSpec]) -> None:
        episode = crash.episode
        self.attempts[episode.key] += 1
        attempt = self.attempts[episode.key]
        retry = attempt <= self.config.retries
        self.stats.env_steps += self.steps.get(crash.worker, 0)
        self.stats.crashes.append(
            {"key": episode.key, "attempt": attempt, "pid": crash.pid, "rank": self.rank, "reason": crash.reason}
        )
        then = "retrying it on a new worker" if retry else "recording it as an error"
        tqdm.write(
            f"[foresight.eval] worker {crash.worker} (pid {crash.pid}) running episode {episode.key} "
            f"({episode.task}, attempt {attempt}) crashed: {crash.reason.rstrip()}; {then}",
            file=sys.stderr,
        )
        if retry:
            pending.insert(0, episode)
        else:
            self._record(episode, ERROR, success=False, error=crash.reason)

    def _record(self, episode: EpisodeSpec, status: str, worker: Worker | None = None, **fields: Any) -> None:
        record = {
            "key": episode.key,
            "task_index": episode.task_index,
            "task": episode.task,
            "trial": episode.trial,
            "init_index": episode.init_index,
            "seed": episode.seed,
            POLICY_SEED: self.config.seed,
            "status": status,
            "attempts": self.attempts[episode.key] + 1 if status == OK else self.attempts[episode.key],
            "rank": self.rank,
            "worker_pid": worker.process.pid if worker is not None else None,
            "finished_at": utc_now(),
            "info": {},
            **jsonable(fields),
        }
        self.log.append(record)
        self.stats.records.append(record)
        self.progress.update(1)
        _show_success(self.progress, self.prior + self.stats.records)


def _next_episode(pending: list[EpisodeSpec], last_task: int | None, busy: set[int | None]) -> EpisodeSpec:
    """Same task as before if any is left; else the task with most episodes left that no worker is on."""
    for episode in pending:
        if episode.task_index == last_task:
            return episode
    left = Counter(e.task_index for e in pending)
    task = max(left, key=lambda t: (t not in busy, left[t], -t))
    return next(e for e in pending if e.task_index == task)


def _show_success(progress: tqdm, records: list[dict[str, Any]]) -> None:
    ok = [r for r in records if r["status"] == OK]
    if ok:
        wins = sum(bool(r["success"]) for r in ok)
        progress.set_postfix_str(f"success {wins}/{len(ok)} ({100 * wins / len(ok):.1f}%)")


def evaluate(
    suite: EnvSuite,
    loaded: Any,
    config: EvalConfig,
    out_dir: str | Path,
    *,
    label: str | None = None,
    state: PartialState | None = None,
) -> dict[str, Any] | None:
    """Evaluate ``loaded`` (a :class:`foresight.checkpoint.LoadedPolicy`) on ``suite``; resumable in ``out_dir``.

    Returns the summary on the main process and ``None`` on the others. Every process of an ``accelerate
    launch`` must call this with the same arguments.
    """
    state = state or process_state()
    loaded.method.check_evaluable()
    began = time.perf_counter()
    out_dir = Path(out_dir)
    label = label or suite.name
    seed = config.seed + state.process_index
    policy = BatchedPolicy(loaded.method, loaded.normalizer, loaded.spec, device=loaded_device(loaded), seed=seed)
    chunk_length = len(loaded.spec.action_offsets) - policy.start
    execution = resolve_execution(suite, chunk_length)
    protocol = suite.protocol()
    selected = select_episodes(suite.episodes(), config)
    check_task_set(suite, selected, tuple(loaded.method.info.tasks), config)
    log = EpisodeLog(out_dir / EPISODES_FILE)
    identity = {"env": suite.name, "protocol": protocol, "execution": execution, "checkpoint": loaded.provenance}

    if state.is_main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        check_run_identity(out_dir, identity)
        dropped = log.repair()
        if dropped:
            tqdm.write(f"[foresight.eval] dropped a partial last line ({dropped} bytes) of {log.path}", file=sys.stderr)
    state.wait_for_everyone()
    if not state.is_main_process:
        check_run_identity(out_dir, identity)
    previous = log.read()
    done = finished_keys(previous)
    state.wait_for_everyone()  # every process has read the file before any appends to it

    todo = [e for e in selected if e.key not in done]
    mine = todo[state.process_index :: state.num_processes]
    n_workers = config.resolved_workers(max(1, len(mine)), state.num_processes)
    selected_keys = {e.key for e in selected}
    prior = [r for k, r in latest_by_key(previous).items() if k in done and k in selected_keys]
    show = config.progress and state.is_main_process
    shard_note = f" [process {state.process_index + 1}/{state.num_processes}]" if state.num_processes > 1 else ""
    progress = tqdm(
        total=len(prior) + len(mine), initial=len(prior), desc=f"{label}{shard_note}", unit="ep", disable=not show
    )
    _show_success(progress, prior)
    shard = _Shard(suite, policy, config, execution, log, out_dir, state.process_index, progress, prior)
    try:
        stats = shard.run(mine, n_workers) if mine else ShardStats(workers=0)
    finally:
        progress.close()

    gathered: list[ShardStats] = gather_object([stats])
    if not state.is_main_process:
        return None
    wall_s = time.perf_counter() - began
    records = previous + [r for s in gathered for r in s.records]
    crashes = [c for s in gathered for c in s.crashes]
    env_steps = sum(s.env_steps for s in gathered)
    policy_s = sum(s.policy_s for s in gathered)
    calls = sum(s.policy_calls for s in gathered)
    timing = {
        "wall_s": wall_s,
        "episodes_run": sum(len(s.records) for s in gathered),
        "env_steps": env_steps,
        "env_steps_per_s": env_steps / wall_s if wall_s > 0 else None,
        "render": config.render,
        "rendered_frames": sum(s.rendered_frames for s in gathered),
        "reset_s": sum(s.reset_s for s in gathered),
        "policy_s": policy_s,
        "policy_share": policy_s / sum(s.wall_s for s in gathered) if any(s.wall_s for s in gathered) else None,
        "policy_calls": calls,
        "mean_batch": sum(s.policy_rows for s in gathered) / calls if calls else None,
        "workers_per_process": max(s.workers for s in gathered),
        "processes": state.num_processes,
        "device": str(policy.device),
    }
    sessions = EpisodeLog(out_dir / SESSIONS_FILE)
    sessions.append({"finished_at": utc_now(), **timing})
    timing["wall_s_all_sessions"] = sum(s["wall_s"] for s in sessions.read())
    selection = {"tasks": config.tasks, "trials": config.trials, "episodes": len(selected)}
    summary = build_summary(
        suite,
        selected,
        records,
        protocol=protocol,
        execution=execution,
        selection=selection,
        provenance=loaded.provenance,
        timing=timing,
        crashes=crashes,
    )
    latest = latest_by_key(records)
    ok_records = [latest[e.key] for e in selected if e.key in latest and latest[e.key]["status"] == OK]
    try:
        result = leaderboard_result(
            summary,
            ok_records,
            loaded.config,
            loaded.method.name,
            timing["wall_s_all_sessions"],
            suite=suite,
            labels=loaded.method.result_labels(),
        )
    except LeaderboardUnavailable as exc:
        summary["leaderboard"] = {"written": False, "reason": str(exc)}
    else:
        atomic_write_text(out_dir / RESULT_FILE, pretty_json(result))
        protocol_id = result["protocol"]["protocol_id"]
        summary["leaderboard"] = {"written": True, "file": RESULT_FILE, "protocol_id": protocol_id}
    atomic_write_text(out_dir / SUMMARY_FILE, pretty_json(jsonable(summary)))
    return summary


def loaded_device(loaded: Any) -> Any:
    """The device the loaded method's weights live on (CPU for a method without parameters)."""
    for tensor in loaded.method.parameters():
        return tensor.device
    return "cpu"
