"""Run a study: (data) -> for every seed and arm: train -> evaluate -> record; then the report.

Layout of ``<out>`` (``runs/study/<name>`` by default)::

    data/                       scripted demonstrations, when the study generates its own
    runs/<arm>/seed<k>/         the trainer's run directory (checkpoints, config, logs)
    eval/<arm>/seed<k>/         the evaluation runner's folder (episodes.jsonl, summary.json, result.json)
    records/<arm>__seed<k>.json the study's record of one arm and seed (counts, components, timing, parameters)
    logs/                       the trainer's console output, one file per arm and seed
    report/                     README.md and plots

Every phase resumes from what is on disk. Training runs in a child process (``python -m foresight.train``, the
command a user would type) that resumes from its last checkpoint, which it writes every ``train.checkpoint_every``
steps and when it is stopped with SIGTERM/SIGINT; the child is told to stop if the study process dies. Evaluation
runs in this process and skips episodes already in ``episodes.jsonl``. A record is written atomically once its
evaluation is complete, so a finished arm is never trained or evaluated again: adding an arm to the study file
and re-running trains and evaluates only the new one.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from foresight.config import ConfigError, compose, load_group, validate
from foresight.fileio import atomic_write_text, write_json
from foresight.study.components import components
from foresight.study.spec import ArmSpec, StudySpec, env_overrides, train_overrides

RECORD_VERSION = 1
STUDY_TRAIN_LOG = "study_train_sessions.jsonl"
STOPPED = "stopped"


class StudyInterrupted(Exception):
    """The study was asked to stop (SIGTERM / Ctrl-C); re-running the same command resumes it."""


@dataclass(frozen=True)
class Unit:
    arm: ArmSpec
    seed: int
    out: Path

    @property
    def tag(self) -> str:
        return f"{self.arm.name}__seed{self.seed}"

    @property
    def run_dir(self) -> Path:
        return self.out / "runs" / self.arm.name / f"seed{self.seed}"

    @property
    def eval_dir(self) -> Path:
        return self.out / "eval" / self.arm.name / f"seed{self.seed}"

    @property
    def record(self) -> Path:
        return self.out / "records" / f"{self.tag}.json"

    @property
    def log(self) -> Path:
        return self.out / "logs" / f"{self.tag}.train.log"


def format_value(value: Any) -> str:
    """A value as ``key=value`` text that :func:`foresight.config.parse_value` reads back as the same value."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def train_args(spec: StudySpec, unit: Unit) -> list[str]:
    choices, dotted = train_overrides(spec, unit.arm, unit.seed, unit.run_dir)
    return [*choices, *(f"{k}={format_value(v)}" for k, v in dotted)]


def train_config(spec: StudySpec, unit: Unit) -> DictConfig:
    return compose(train_args(spec, unit), root="train")


def env_node(spec: StudySpec) -> DictConfig:
    node = OmegaConf.create(load_group("env", spec.env.preset))
    for key, value in env_overrides(spec):
        OmegaConf.update(node, key.removeprefix("env."), value, merge=True)
    return node


def eval_config(spec: StudySpec, out_dir: Path) -> Any:
    from foresight.eval.config import EvalConfig

    values = {"render": "on_query", **spec.eval, "out": str(out_dir), "progress": False}
    return validate(values, EvalConfig, "eval")


def planned_steps(cfg: DictConfig, info: Any) -> dict[str, int]:
    """Optimizer steps per stage the trainer will run for ``cfg`` (the method built on the meta device)."""
    import torch

    from foresight.budget import overrides_of
    from foresight.factory import method_config
    from foresight.train import RunConfig

    run = validate(cfg, RunConfig, "config")
    cls, method_cfg = method_config(cfg.method)
    with torch.device("meta"):
        method = cls(method_cfg, info)
    return {
        s.name: s.budget.override(overrides_of(run.train)).steps for s in method.stages() if run.stage in (None, s.name)
    }


def steps_done(run_dir: Path, plan: dict[str, int]) -> int:
    """Optimizer steps already saved in ``run_dir``: whole finished stages plus the latest checkpoint of the next."""
    from foresight.checkpoint import final_checkpoint, list_checkpoints

    done = 0
    for stage, steps in plan.items():
        stage_dir = run_dir / stage
        if not stage_dir.is_dir():
            break
        try:
            if final_checkpoint(stage_dir) is not None:
                done += steps
                continue
        except Exception:  # a marker being written right now: count it on the next poll
            pass
        saved = list_checkpoints(stage_dir)
        done += int(saved[-1].name.removeprefix("step_")) if saved else 0
        break
    return done


def final_steps(run_dir: Path) -> dict[str, int]:
    """Optimizer steps of each stage's final checkpoint (CLaD: dynamics and policy)."""
    from foresight.checkpoint import final_checkpoint

    stages = json.loads((run_dir / "stages.json").read_text())["stages"]
    return {s: int(final_checkpoint(run_dir / s).name.removeprefix("step_")) for s in stages}


def episodes_done(eval_dir: Path, keys: set[str]) -> int:
    from foresight.eval.results import EPISODES_FILE, EpisodeLog, finished_keys

    try:
        return len(finished_keys(EpisodeLog(eval_dir / EPISODES_FILE).read()) & keys)
    except Exception:  # a line being appended right now
        return 0


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGTERM the trainer when the study process dies, so a killed study never leaves it running."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setpgrp()  # the terminal's Ctrl-C reaches the study, which stops the trainer with a checkpoint


class Study:
    """One study file, run or resumed in ``spec.out_dir``."""

    def __init__(self, spec: StudySpec, *, progress: bool = True, python: str = sys.executable) -> None:
        self.spec = spec
        self.out = spec.out_dir
        self.progress = progress
        self.python = python
        self.units = [Unit(arm, seed, self.out) for arm, seed in spec.units()]
        self._stop = False
        self._child: subprocess.Popen | None = None

    # ----------------------------------------------------------------------------------------------- phases
    def generate_data(self) -> None:
        """Record the study's demonstrations (``foresight data generate``; resumable per task) when it has any.

        In a child process: a simulator rendering with EGL in this process would make the later import of the
        policy's libraries crash (two LLVM builds in one process, docs/envs/libero.md).
        """
        gen = self.spec.data.generate
        if gen is None:
            return
        from foresight.data.generate import complete_demos
        from foresight.data.libero_writer import demo_file_name
        from foresight.envs.libero.cli import build_libero

        out = self.data_dir()
        suite = build_libero(OmegaConf.create(load_group("env", gen.env)))
        if all(complete_demos(out / demo_file_name(t.name)) >= gen.demos_per_task for t in suite.tasks()):
            return
        args = [f"env={gen.env}", f"demos_per_task={gen.demos_per_task}", f"init={gen.init}", f"seed={gen.seed}",
                f"out={out}"] + ([f"max_attempts={gen.max_attempts}"] if gen.max_attempts else [])  # fmt: skip
        code = subprocess.call([self.python, "-m", "foresight.data.generate", *args], preexec_fn=_die_with_parent)
        if self._stop:
            raise StudyInterrupted
        if code != 0:
            raise ConfigError(f"recording the study's demonstrations failed (exit {code}); re-run to resume")

    def data_dir(self) -> Path:
        """Where generated demonstrations go: the study's ``data.path`` (``{out}/data`` in the shipped files)."""
        path = self.spec.data.overrides.get("path")
        return Path(str(path).replace("{out}", str(self.out))) if path else self.out / "data"

    def train(self, unit: Unit) -> None:
        from foresight.checkpoint import run_complete

        if run_complete(unit.run_dir):
            return
        unit.log.parent.mkdir(parents=True, exist_ok=True)
        began = time.time()
        cmd = [self.python, "-m", "foresight.train", *train_args(self.spec, unit)]
        with open(unit.log, "a") as log:
            log.write(f"\n$ {' '.join(cmd)}\n")
            log.flush()
            env = dict(os.environ)
            if self.spec.threads is not None:  # oversubscribed OpenMP threads spin: on a shared CPU, fewer is faster
                env.update(OMP_NUM_THREADS=str(self.spec.threads), MKL_NUM_THREADS=str(self.spec.threads))
            self._child = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent, env=env
            )
            try:
                code = self._child.wait()
            finally:
                self._child = None
        session = {"wall_s": time.time() - began, "exit": code, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
        unit.run_dir.mkdir(parents=True, exist_ok=True)
        with open(unit.run_dir / STUDY_TRAIN_LOG, "a") as fh:
            fh.write(json.dumps(session) + "\n")
        if self._stop:
            raise StudyInterrupted
        if code != 0 or not run_complete(unit.run_dir):
            raise RuntimeError(f"training {unit.tag} failed (exit {code}); its output is in {unit.log}")

    def evaluate(self, unit: Unit) -> dict[str, Any]:
        """Evaluate the unit's final checkpoint (resuming), timing the policy's planning and chunk calls."""
        from foresight.checkpoint import load_policy
        from foresight.eval.cli import match_training_resolution
        from foresight.eval.runner import evaluate, process_state
        from foresight.factory import build_env

        if self.spec.threads is not None:
            import torch

            torch.set_num_threads(self.spec.threads)
        run = _EvalJob(env_node(self.spec), eval_config(self.spec, unit.eval_dir))
        suite = build_env(run.env)
        loaded = load_policy(unit.run_dir, device=run.eval.device or "cpu")
        suite = match_training_resolution(suite, run, loaded)
        timer = LatencyTimer(loaded.method, noise_seed=run.eval.seed)
        try:
            label, state = self.spec.env.preset, process_state()
            summary = evaluate(suite, loaded, run.eval, unit.eval_dir, label=label, state=state)
        finally:
            timer.remove()
        timer.save(unit.eval_dir / "latency.jsonl")
        if summary is None or not summary["complete"]:
            raise RuntimeError(f"evaluation of {unit.tag} is incomplete: see {unit.eval_dir}/summary.json")
        return summary

    def record(self, unit: Unit, summary: dict[str, Any]) -> dict[str, Any]:
        """The study's record of one arm and seed, and its leaderboard result when the benchmark has one."""
        from foresight.checkpoint import load_policy
        from foresight.eval.results import EPISODES_FILE, OK, RESULT_FILE, EpisodeLog, latest_by_key
        from foresight.params import count

        loaded = load_policy(unit.run_dir)
        method = loaded.method
        protocol_id = _protocol_id(summary, unit.eval_dir / RESULT_FILE)
        comps = components(method, loaded.provenance["data_fingerprint"], protocol_id)
        latest = latest_by_key(EpisodeLog(unit.eval_dir / EPISODES_FILE).read())
        per_task: dict[int, dict[str, Any]] = {}
        for rec in sorted(latest.values(), key=lambda r: r["key"]):
            if rec["status"] != OK:
                continue
            row = per_task.setdefault(rec["task_index"], {"index": rec["task_index"], "name": rec["task"],
                                                          "successes": 0, "trials": 0})  # fmt: skip
            row["successes"] += int(bool(rec["success"]))
            row["trials"] += 1
        stage_steps = final_steps(unit.run_dir)
        sessions = [json.loads(line) for line in (unit.run_dir / STUDY_TRAIN_LOG).read_text().splitlines() if line]
        timing = summary["timing"]
        lat = LatencyTimer.load(unit.eval_dir / "latency.jsonl")
        record = {
            "record_version": RECORD_VERSION,
            "study": self.spec.name,
            "arm": unit.arm.name,
            "label": unit.arm.label or unit.arm.name,
            "method": method.name,
            "seed": unit.seed,
            "components": comps,
            "tasks": [per_task[i] for i in sorted(per_task)],
            "train": {
                "steps": sum(stage_steps.values()),
                "stages": stage_steps,
                "wall_s": sum(s["wall_s"] for s in sessions),
                "sessions": len(sessions),
            },
            "latency_ms": {
                "chunk": lat["chunk"],
                "plan": lat["plan"],
                "chunk_at_eval": 1000 * timing["policy_s"] / timing["policy_calls"] if timing["policy_calls"] else None,
                "mean_batch": timing.get("mean_batch"),  # episodes per policy call (one per simulator worker at most)
            },
            "params": {
                "total": count(method),
                "foresight": sum(count(m) for m in _foresight_modules(method)),
            },
            "episodes": {
                "file": str(Path("eval") / unit.arm.name / f"seed{unit.seed}" / EPISODES_FILE),
                "sha256": file_digest(unit.eval_dir / EPISODES_FILE),
            },
            "eval_wall_s": timing.get("wall_s_all_sessions"),
            "leaderboard_result": None,
        }
        result_path = unit.eval_dir / RESULT_FILE
        if result_path.is_file():
            result = json.loads(result_path.read_text())
            result = attach_study(result, record)
            write_json(unit.eval_dir / "study_result.json", result)
            record["leaderboard_result"] = str(Path("eval") / unit.arm.name / f"seed{unit.seed}" / "study_result.json")
        write_json(unit.record, record)
        return record

    # ------------------------------------------------------------------------------------------------- run
    def run(self) -> list[dict[str, Any]]:
        """Every unit to a record (skipping finished ones), then the report; returns the records."""
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.out / "study.json", json.dumps(_spec_dict(self.spec), indent=2, sort_keys=True) + "\n")
        self.generate_data()
        totals, done_fn = self._work_plan()
        bar = tqdm(total=sum(totals.values()), desc=f"study {self.spec.name}", unit="work", disable=not self.progress,
                   dynamic_ncols=True)  # fmt: skip
        poller = _Poller(bar, done_fn)
        previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, self._on_signal)}
        records = []
        try:
            poller.start()
            for unit in self.units:
                if unit.record.is_file():
                    records.append(json.loads(unit.record.read_text()))
                    continue
                bar.set_postfix_str(f"{unit.arm.name} seed {unit.seed}: train")
                self.train(unit)
                bar.set_postfix_str(f"{unit.arm.name} seed {unit.seed}: evaluate")
                summary = self.evaluate(unit)
                if self._stop:
                    raise StudyInterrupted
                records.append(self.record(unit, summary))
                poller.poll()
        except KeyboardInterrupt:
            self._stop_child()
            raise StudyInterrupted from None
        finally:
            poller.stop()
            bar.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return records

    def _work_plan(self) -> tuple[dict[str, int], Callable[[], int]]:
        """Work units of the whole study (training steps + episodes) and a function counting those done."""
        from foresight.data import open_dataset
        from foresight.data.config import DataConfig
        from foresight.eval.runner import select_episodes
        from foresight.factory import build_env

        info = None
        plans: dict[str, dict[str, int]] = {}
        suite = build_env(env_node(self.spec))
        keys = {e.key for e in select_episodes(suite.episodes(), eval_config(self.spec, self.out))}
        totals: dict[str, int] = {}
        for unit in self.units:
            if unit.record.is_file():
                plans[unit.tag] = {}
                totals[unit.tag] = 1
                continue
            cfg = train_config(self.spec, unit)
            if info is None:
                info = open_dataset(validate(cfg.data, DataConfig, "data")).info
            plans[unit.tag] = planned_steps(cfg, info)
            totals[unit.tag] = sum(plans[unit.tag].values()) + len(keys)

        def done() -> int:
            total = 0
            for unit in self.units:
                if unit.record.is_file():
                    total += totals[unit.tag]
                    continue
                total += steps_done(unit.run_dir, plans[unit.tag]) + episodes_done(unit.eval_dir, keys)
            return total

        return totals, done

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._stop = True
        self._stop_child()
        if self._child is None:  # evaluating in this process: stop like Ctrl-C, finished episodes are kept
            raise KeyboardInterrupt

    def _stop_child(self) -> None:
        child = self._child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)  # the trainer saves a checkpoint and exits


@dataclass
class _EvalJob:
    """What :func:`foresight.eval.cli.match_training_resolution` reads of an evaluation command line."""

    env: DictConfig
    eval: Any
    env_overrides: tuple[str, ...] = ()


def _row(batch: dict[str, Any], i: int) -> dict[str, Any]:
    return {k: v[i : i + 1] for k, v in batch.items()}


def _digest(batch: dict[str, Any], seed: int) -> int:
    import torch

    h = hashlib.sha256(str(seed).encode())
    for key in sorted(batch):
        value = batch[key]
        h.update(key.encode())
        if isinstance(value, torch.Tensor):
            h.update(value.detach().to("cpu").contiguous().numpy().tobytes())
        else:
            h.update(json.dumps(value, default=str).encode())
    return int.from_bytes(h.digest()[:8], "little") & ((1 << 63) - 1)


def observation_seeded(predict: Callable[..., Any], seed: int) -> Callable[..., Any]:
    """``predict_action_chunk`` whose sampling noise is a function of each row's observation and ``seed`` alone.

    The evaluation runner draws a policy's noise from one generator per session, so an episode's outcome depends
    on which episodes ran before it and with which it was batched: a resumed evaluation is a valid measurement
    but not the same one. A study evaluates each row on its own, with a generator seeded from that row's batch
    (images, proprio, instruction, past actions) and ``eval.seed``: every episode's trajectory is then a
    function of the policy, the environment and the seed only, whatever was interrupted and resumed around it.
    """
    import torch

    def wrapper(batch: dict[str, Any], *, generator: Any = None) -> Any:
        sizes = {len(v) for v in batch.values() if isinstance(v, torch.Tensor | list)}
        (rows,) = sizes or {1}
        outs = []
        for i in range(rows):
            row = _row(batch, i)
            device = next((v.device for v in row.values() if isinstance(v, torch.Tensor)), torch.device("cpu"))
            outs.append(predict(row, generator=torch.Generator(device=device).manual_seed(_digest(row, seed))))
        return torch.cat(outs, dim=0)

    return wrapper


class LatencyTimer:
    """Wall time of every ``plan`` (the foresight alone, where a method has one) and ``predict_action_chunk`` call.

    Installed on the loaded method for the evaluation, so latencies are measured on the benchmark's own
    observations; sessions of a resumed evaluation are appended to one file. With ``noise_seed`` the chunk calls
    are :func:`observation_seeded` (one row per call, so the chunk latency is per episode).
    """

    def __init__(self, method: Any, noise_seed: int | None = None) -> None:
        self.method = method
        self.calls: dict[str, list[float]] = {"plan": [], "chunk": []}
        self._originals: dict[str, Any] = {}
        for name, key in (("plan", "plan"), ("predict_action_chunk", "chunk")):
            original = getattr(method, name, None)
            if original is None:
                continue
            self._originals[name] = original
            if key == "chunk" and noise_seed is not None:
                original = observation_seeded(original, noise_seed)
            setattr(method, name, self._timed(original, key))

    def _timed(self, fn: Callable[..., Any], key: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            out = fn(*args, **kwargs)
            self.calls[key].append(time.perf_counter() - began)
            return out

        return wrapper

    def remove(self) -> None:
        for name in self._originals:
            delattr(self.method, name)  # the instance attribute; the class's method shows through again

    def save(self, path: Path) -> None:
        if not any(self.calls.values()):
            return
        with open(path, "a") as fh:
            fh.write(json.dumps({k: {"n": len(v), "sum_s": sum(v)} for k, v in self.calls.items()}) + "\n")

    @staticmethod
    def load(path: Path) -> dict[str, float | None]:
        """Mean milliseconds per call over every session in ``path`` (None where nothing was timed)."""
        sums = {"plan": [0, 0.0], "chunk": [0, 0.0]}
        if path.is_file():
            for line in path.read_text().splitlines():
                for key, value in json.loads(line).items():
                    sums[key][0] += value["n"]
                    sums[key][1] += value["sum_s"]
        return {k: (1000 * s / n if n else None) for k, (n, s) in sums.items()}


class _Poller:
    """Refreshes the study's progress bar from disk every few seconds (checkpoints written, episodes finished)."""

    def __init__(self, bar: tqdm, done: Callable[[], int], every_s: float = 2.0) -> None:
        self.bar, self.done, self.every_s = bar, done, every_s
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._lock = threading.Lock()

    def start(self) -> None:
        self.poll()
        self._thread.start()

    def _loop(self) -> None:
        while not self._halt.wait(self.every_s):
            self.poll()

    def poll(self) -> None:
        with self._lock:
            value = self.done()
            if value != self.bar.n:
                self.bar.n = value
                self.bar.refresh()

    def stop(self) -> None:
        self._halt.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.poll()


def _foresight_modules(method: Any) -> list[Any]:
    from foresight.interfaces import Foresight

    return [m for m in method.modules() if isinstance(m, Foresight)]


def _protocol_id(summary: dict[str, Any], result_path: Path) -> str:
    """The leaderboard's protocol id when the benchmark has one, else a digest of the env's protocol record."""
    from foresight.leaderboard.canonical import sha256_hex

    if result_path.is_file():
        return json.loads(result_path.read_text())["protocol"]["protocol_id"]
    return "p-" + sha256_hex({"protocol": summary["protocol"], "execution": summary["execution"]})[:12]


def attach_study(result: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """A leaderboard result with the study's fields: which study, arm and seed; components; evidence."""
    from foresight.leaderboard.schema import validate_result

    out = dict(result)
    out["study"] = {"name": record["study"], "arm": record["arm"], "label": record["label"], "seed": record["seed"]}
    out["components"] = dict(record["components"])
    out["evidence"] = {"episodes_sha256": record["episodes"]["sha256"]}
    validate_result(out)
    return out


def _spec_dict(spec: StudySpec) -> dict[str, Any]:
    from foresight.cli import plain

    return plain(spec)
