"""``accelerate launch -m foresight.train method=clad data=libero_10``: the multi-stage trainer.

One command trains every stage of a method in order (CLaD: ``dynamics`` then ``policy``), each stage starting
from the weights the previous one saved; ``stage=NAME`` runs one stage alone. The same command runs on one CPU
process, one GPU or several (DDP) under ``accelerate launch``. Runs are resumable at any checkpoint and resume
exactly: the data order, augmentation and every RNG are restored, so an interrupted run ends with the same
weights and logged losses as an uninterrupted one.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator, DistributedDataParallelKwargs
from accelerate.utils import gather_object, set_seed
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from foresight import __version__, checkpoint, checks, cli, resume, rng
from foresight.budget import Budget, BudgetOverrides, Schedule, overrides_of
from foresight.config import ConfigError, compose, to_yaml, validate
from foresight.data import Augment, DataConfig, Normalizer, WindowDataset, open_dataset, split_episodes
from foresight.factory import method_config
from foresight.fileio import atomic_write_text
from foresight.interfaces import Method, Stage
from foresight.nn.ema import EMA
from foresight.sampler import EpochIndexed, GlobalBatchSampler
from foresight.types import DataSpec


@dataclass
class TrainConfig(BudgetOverrides):
    """``train.*``: how a stage is optimised.

    The :class:`~foresight.budget.Budget` fields (``steps``, ``batch_size``, ``lr``, ``weight_decay``,
    ``warmup_steps``, ``warmup_fraction``, ``ema_decay``) are inherited from ``BudgetOverrides``: ``None`` keeps
    the stage's paper default from the method config, a value replaces it for every stage.
    """

    grad_clip: float | None = 1.0  # max global grad norm; None disables clipping
    grad_accum: int = 1  # micro-batches per optimizer step (each batch_size / grad_accum / processes)
    mixed_precision: str = "no"  # "no" | "bf16" | "fp16" (fp16 needs a GPU)
    num_workers: int = 2  # DataLoader worker processes per training process
    checkpoint_every: int = 1000  # steps between checkpoints (one is always written at the end of a stage)
    keep_last: int = 3  # checkpoints kept per stage (the final one is never pruned)
    log_every: int = 10  # steps between logged metrics
    val_every: int | None = None  # steps between validation losses on held-out episodes; None: only at the end
    val_batches: int = 4  # batches per validation pass
    resume: str = "auto"  # auto: continue from run_dir's latest checkpoint; never: refuse if one exists; or a path
    stop_at_step: int | None = None  # stop (with a checkpoint) after this step, e.g. to fit a job's slot; resume later
    logger: str = "tensorboard"  # tensorboard | wandb | none
    init_from: str | None = None  # a run dir or checkpoint whose weights start the first stage run (stage=policy)
    feature_cache: bool = True  # frozen-encoder features from the on-disk cache; False encodes every step (augment)

    def __post_init__(self) -> None:
        if self.mixed_precision not in ("no", "bf16", "fp16"):
            raise ValueError(f"train.mixed_precision={self.mixed_precision!r}: expected 'no', 'bf16' or 'fp16'")
        if self.logger not in ("tensorboard", "wandb", "none"):
            raise ValueError(f"train.logger={self.logger!r}: expected 'tensorboard', 'wandb' or 'none'")
        for name in ("grad_accum", "checkpoint_every", "log_every", "val_batches"):
            checks.at_least(f"train.{name}", getattr(self, name), 1)
        for name in ("steps", "batch_size", "val_every", "stop_at_step"):
            checks.at_least(f"train.{name}", getattr(self, name), 1, optional=True)
        for name in ("weight_decay", "warmup_steps"):
            checks.at_least(f"train.{name}", getattr(self, name), 0, optional=True)
        checks.positive("train.lr", self.lr, optional=True)
        checks.positive("train.grad_clip", self.grad_clip, optional=True)
        checks.at_least("train.num_workers", self.num_workers, 0)
        checks.at_least("train.keep_last", self.keep_last, 0)


@dataclass
class RunConfig:
    """The root of a training config; ``method`` is validated against the chosen method's own Config."""

    method: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 42  # seeds Python, NumPy and torch on every process (accelerate.utils.set_seed)
    run_dir: str | None = None  # None: runs/<method>-<data>; re-running the same command resumes it
    stage: str | None = None  # None: every stage of the method in order; a name runs that stage only


@dataclass(frozen=True)
class StagePlan:
    """A stage's effective optimisation settings: the method's budget overridden by ``train.*``."""

    stage: Stage
    budget: Budget

    @property
    def steps(self) -> int:
        return self.budget.steps

    @property
    def batch_size(self) -> int:
        return self.budget.batch_size

    @property
    def schedule(self) -> Schedule:
        return self.budget.schedule()


class StopRequested(Exception):
    """Raised inside the loop when a stop was asked for (signal or ``train.stop_at_step``) after a checkpoint."""


class Trainer:
    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.run = validate(cfg, RunConfig, "config")
        self.method_cls, self.method_cfg = method_config(cfg.method)
        self.train_cfg = self.run.train
        if self.train_cfg.mixed_precision == "fp16" and not torch.cuda.is_available():
            raise ConfigError("train.mixed_precision=fp16 needs a GPU; use bf16 or no on the CPU")
        self.run_dir = Path(self.run.run_dir or f"runs/{self.method_cls.name}-{self.run.data.name}").expanduser()
        log_with = None if self.train_cfg.logger == "none" else self.train_cfg.logger
        if log_with == "wandb":
            try:
                import wandb  # noqa: F401
            except ImportError as exc:
                raise ConfigError("train.logger=wandb needs the wandb package: pip install 'foresight[wandb]'") from exc
        self.accelerator = Accelerator(
            # Without CUDA, `cpu=True` is what makes a multi-process launch (torchrun) form a gloo process group.
            cpu=not torch.cuda.is_available(),
            mixed_precision=self.train_cfg.mixed_precision,
            log_with=log_with,
            project_dir=str(self.run_dir),
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
        )
        self._stop_signal: int | None = None
        self.stage_names: list[str] = []

    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    def print(self, *args: Any) -> None:
        self.accelerator.print(*args)

    def fit(self) -> str:
        """Train the selected stages; returns ``"done"`` or ``"stopped"`` (resumable)."""
        set_seed(self.run.seed)
        self.print(f"resolved config:\n{to_yaml(self.cfg)}")
        acc = self.accelerator
        self.print(f"processes: {acc.num_processes} ({acc.distributed_type.value}), device: {acc.device}")
        with self.accelerator.main_process_first():  # building a demo set or a download happens once
            self.dataset = open_dataset(self.run.data)
        method = self.method_cls(self.method_cfg, self.dataset.info)
        self.intended_grad = {name: p.requires_grad for name, p in method.named_parameters()}
        stages = method.stages()
        names = self.stage_names = [s.name for s in stages]
        if self.run.stage is not None and self.run.stage not in names:
            raise ConfigError(f"stage={self.run.stage!r}: method {method.name!r} has stages {names}")
        for stage in stages:  # a budget that cannot run fails now, not after the stages before it trained
            if self.run.stage in (None, stage.name):
                self.plan(stage)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.is_main:
            atomic_write_text(self.run_dir / "config.yaml", to_yaml(self.cfg))
            atomic_write_text(self.run_dir / "stages.json", json.dumps({"stages": names}))
        if self.accelerator.log_with:
            self.accelerator.init_trackers("tb", config=_flat_hparams(self.cfg))
        self._install_signal_handlers()
        try:
            for index, stage in enumerate(stages):
                if self.run.stage is not None and stage.name != self.run.stage:
                    continue
                previous = stages[index - 1] if index > 0 else None
                if self.train_stage(method, stage, previous) == "stopped":
                    return "stopped"
        finally:
            self.accelerator.end_training()
        return "done"

    # ----------------------------------------------------------------------------------------------- stages

    def plan(self, stage: Stage) -> StagePlan:
        try:
            return StagePlan(stage=stage, budget=stage.budget.override(overrides_of(self.train_cfg)))
        except ValueError as exc:
            raise ConfigError(f"stage {stage.name!r}: {exc}") from exc

    def stage_dir(self, stage: Stage) -> Path:
        return self.run_dir / stage.name

    def _resume_point(self, stage: Stage) -> Path | None:
        wanted = self.train_cfg.resume
        existing = checkpoint.list_checkpoints(self.stage_dir(stage))
        if wanted == "auto":
            return existing[-1] if existing else None
        if wanted == "never":
            if existing:
                raise ConfigError(
                    f"{self.stage_dir(stage)} already has checkpoints and train.resume=never: choose another "
                    f"run_dir, or resume with train.resume=auto"
                )
            return None
        return resume.explicit_resume_point(checkpoint.resolve(wanted), stage.name, self.stage_names)

    def _initial_weights(self, stage: Stage, previous: Stage | None, *, required: bool = True) -> Path | None:
        """Where a stage's starting weights come from: ``train.init_from``, else the previous stage's final save.

        A resumed stage (``required=False``) asks again only to replay :meth:`Method.on_stage_start` on them; its
        checkpoint holds everything else, so a previous stage deleted since is no error there.
        """
        if self.train_cfg.init_from:
            return checkpoint.resolve(self.train_cfg.init_from)
        if previous is None:
            return None
        final = checkpoint.final_checkpoint(self.stage_dir(previous))
        if final is None and not required:
            return None
        if final is None:
            raise ConfigError(
                f"stage {stage.name!r} starts from the weights of stage {previous.name!r}, but "
                f"{self.stage_dir(previous)} has no finished run: train it first (stage={previous.name}) or set "
                f"train.init_from=<a run or checkpoint directory>"
            )
        return final

    def train_stage(self, method: Method, stage: Stage, previous: Stage | None) -> str:
        plan = self.plan(stage)
        stage_dir = self.stage_dir(stage)
        final = checkpoint.final_checkpoint(stage_dir)
        if final is not None and self.run.stage is None and self.train_cfg.resume != "never":
            self.print(f"stage {stage.name!r} already finished ({final}); loading its weights")
            checkpoint.load_model_weights(method, final / checkpoint.MODEL_FILE)
            return "done"

        resume_from = self._resume_point(stage)
        spec = method.data_spec(stage.name)
        if resume_from is not None:
            checkpoint.verify(resume_from)
            changes = resume.check_resume(resume_from, self.cfg, self.dataset.fingerprint, plan.steps)
            normalizer = Normalizer.load(resume_from / checkpoint.STATS_FILE)
        else:
            with self.accelerator.main_process_first():  # statistics are computed once, then read from cache
                normalizer = Normalizer.from_dataset(self.dataset, spec, episode_indices=self._split()[0])
        init = self._initial_weights(stage, previous, required=resume_from is None)
        if init is not None:
            if resume_from is None:
                self.print(f"stage {stage.name!r}: starting from {init}")
            checkpoint.load_model_weights(method, init / checkpoint.MODEL_FILE)
        # The stage's own setup, on its starting weights; a resume replays it, then loads its checkpoint over it.
        method.on_stage_start(stage.name)

        params = configure_trainable(method, stage, self.intended_grad)
        budget = plan.budget
        ema_modules = checkpoint.trainable_modules(method, stage.trainable) if budget.ema_decay else None
        ema = EMA(ema_modules, budget.ema_decay) if ema_modules is not None else None
        optimizer = torch.optim.AdamW(params, lr=budget.lr, weight_decay=budget.weight_decay)
        scheduler = plan.schedule.scheduler(optimizer)
        self.print(f"stage {stage.name!r}: batch {budget.batch_size}, {plan.schedule.describe()}")

        start_step = 0
        stage_dir.mkdir(parents=True, exist_ok=True)
        if resume_from is not None:
            start_step = self._load_resume_state(resume_from, method, optimizer, scheduler, ema)
            self.print(f"stage {stage.name!r}: resuming from {resume_from} at step {start_step}")
            if changes:
                self.print(f"stage {stage.name!r}: resumed with changes {changes} (recorded in {resume.RESUMES_FILE})")
                if self.is_main:
                    resume.record_changes(stage_dir, resume_from, start_step, changes)
        if self.is_main:
            self._truncate_metrics(stage_dir / "metrics.jsonl", start_step)

        model, optimizer = self.accelerator.prepare(method, optimizer)
        if ema is not None:
            ema.to(self.accelerator.device)
        set_stage_modes(method, stage)
        # Building a frozen encoder or teacher draws random initial weights before loading its own (even when its
        # cache exists): kept off the training streams, so a resumed stage draws what an uninterrupted one does.
        with torch.random.fork_rng(devices=[torch.cuda.current_device()] if torch.cuda.is_available() else []):
            spec, extras = self._features(spec)
            extras = extras + self._teacher_targets(spec)
        loader = self._loader(spec, normalizer, plan, start_step, extras)
        val_loader = self._val_loader(spec, normalizer, plan, extras)
        try:
            self._loop(model, method, plan, optimizer, scheduler, ema, loader, val_loader, normalizer, start_step)
        except StopRequested:
            return "stopped"
        finally:
            self.accelerator.free_memory()
        return "done"

    # ------------------------------------------------------------------------------------------------- data

    def _split(self) -> tuple[list[int], list[int]]:
        """Train / validation episodes: by episode, fixed by the seed; statistics use the training ones only."""
        try:
            return split_episodes(len(self.dataset.episodes), self.run.data.val_fraction, self.run.seed)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc

    def _micro_batch(self, plan: StagePlan) -> int:
        world, accum = self.accelerator.num_processes, self.train_cfg.grad_accum
        if plan.batch_size % (world * accum):
            raise ConfigError(
                f"train.batch_size={plan.batch_size} must be divisible by processes x train.grad_accum "
                f"({world} x {accum})"
            )
        return plan.batch_size // accum

    def _features(self, spec: DataSpec) -> tuple[DataSpec, list]:
        """Frozen-encoder features from the on-disk cache (built once, on the main process first).

        When the cached features cover every view the stage reads, pixels are not decoded at all: this is where
        most of the training speed on a frozen VLM comes from. With ``train.feature_cache=false`` the method
        computes features from pixels on the fly instead (needed when augmenting images).
        """
        if not spec.features or not self.train_cfg.feature_cache:
            return spec, []
        if self.run.data.augment.enabled:
            raise ConfigError(
                "data.augment.enabled=true with cached features: the cache holds features of un-augmented frames. "
                "Set train.feature_cache=false to encode augmented pixels on the fly, or turn augmentation off"
            )
        from foresight.data.cache import feature_extras

        with self.accelerator.main_process_first():
            extras = feature_extras(self.dataset, spec, self.accelerator.device, progress=self.is_main)
        covered = {source for feature in spec.features for source in feature.sources}
        if set(spec.views) <= covered:
            spec = replace(spec, load_pixels=False)
        return spec, extras

    def _teacher_targets(self, spec: DataSpec) -> list:
        """Teacher targets (depth, motion, SAM, DINO) from their caches, built on the main process first if missing.

        Unlike encoder features they are never computed on the fly: the cache is the only path (docs/teachers.md).
        """
        if not spec.targets:
            return []
        from foresight.teachers.cache import target_extras

        with self.accelerator.main_process_first():
            return target_extras(self.dataset, spec, self.accelerator.device, progress=self.is_main, log=self.print)

    def _loader(
        self, spec: DataSpec, normalizer: Normalizer, plan: StagePlan, start_step: int, extras: list
    ) -> DataLoader:
        windows = WindowDataset(
            self.dataset,
            spec,
            normalizer,
            episode_indices=self._split()[0],
            augment=Augment.from_config(self.run.data.augment),
            seed=self.run.seed,
            extras=extras,
        )
        sampler = GlobalBatchSampler(
            len(windows),
            self._micro_batch(plan),
            seed=self.run.seed,
            rank=self.accelerator.process_index,
            world_size=self.accelerator.num_processes,
            start_batch=start_step * self.train_cfg.grad_accum,
        )
        workers = self.train_cfg.num_workers
        return DataLoader(
            EpochIndexed(windows),
            batch_sampler=sampler,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=torch.cuda.is_available(),
            # DataLoader draws its worker base seed from this generator, not the global one, so creating the
            # iterator after a resume does not shift the restored torch RNG stream.
            generator=torch.Generator().manual_seed(self.run.seed),
        )

    def _val_loader(self, spec: DataSpec, normalizer: Normalizer, plan: StagePlan, extras: list) -> DataLoader | None:
        val_idx = self._split()[1]
        if len(val_idx) == 0:
            return None
        windows = WindowDataset(
            self.dataset, spec, normalizer, episode_indices=val_idx, seed=self.run.seed, extras=extras
        )
        size = min(self._micro_batch(plan) // self.accelerator.num_processes, len(windows))
        generator = torch.Generator().manual_seed(self.run.seed)
        return DataLoader(windows, batch_size=size, shuffle=True, generator=generator, drop_last=True)

    def _to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        device = self.accelerator.device
        return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}

    # ------------------------------------------------------------------------------------------------- loop

    def _loop(
        self,
        model: torch.nn.Module,
        method: Method,
        plan: StagePlan,
        optimizer: Any,
        scheduler: Any,
        ema: EMA | None,
        loader: DataLoader,
        val_loader: DataLoader | None,
        normalizer: Normalizer,
        start_step: int,
    ) -> None:
        t, stage = self.train_cfg, plan.stage
        batches = iter(loader)
        progress = tqdm(
            total=plan.steps, initial=start_step, desc=f"{method.name}:{stage.name}", disable=not self.is_main
        )
        window: list[dict[str, float]] = []
        params = [p for group in optimizer.param_groups for p in group["params"]]
        for step in range(start_step + 1, plan.steps + 1):
            logs = self._train_step(model, stage, optimizer, params, batches)
            scheduler.step()
            method.on_optimizer_step(stage.name, step)
            if ema is not None:
                ema.update(checkpoint.trainable_modules(method, stage.trainable))
            window.append(logs)
            progress.update(1)
            if step % t.log_every == 0 or step == plan.steps:
                record = self._log(stage, step, window, scheduler.get_last_lr()[0])
                progress.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{record['lr']:.2e}")
                window = []
            if val_loader is not None and ((t.val_every and step % t.val_every == 0) or step == plan.steps):
                self._validate(model, method, stage, step, val_loader)
            stop = self._stop_requested() or step == t.stop_at_step
            if step % t.checkpoint_every == 0 or step == plan.steps or stop:
                self._save(method, plan, step, optimizer, scheduler, ema, normalizer, final=step == plan.steps)
            if stop and step < plan.steps:
                progress.close()
                reason = f"signal {self._stop_signal}" if self._stop_signal else f"train.stop_at_step={step}"
                self.print(f"stopped at step {step} ({reason}); resume with the same command")
                raise StopRequested
        progress.close()

    def _train_step(
        self, model: torch.nn.Module, stage: Stage, optimizer: Any, params: list, batches: Any
    ) -> dict[str, float]:
        accum = self.train_cfg.grad_accum
        totals: dict[str, float] = {}
        for micro in range(accum):
            batch = self._to_device(next(batches))
            sync = micro == accum - 1
            with nullcontext() if sync else self.accelerator.no_sync(model):
                loss, logs = model(batch, stage=stage.name)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"stage {stage.name!r}: loss became {loss.item()}; lower train.lr")
                self.accelerator.backward(loss / accum)
            for key, value in {"loss": loss.item(), **logs}.items():
                totals[key] = totals.get(key, 0.0) + float(value) / accum
        if self.train_cfg.grad_clip is not None:
            norm = self.accelerator.clip_grad_norm_(params, self.train_cfg.grad_clip)
            totals["grad_norm"] = float(norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return totals

    def _log(self, stage: Stage, step: int, window: list[dict[str, float]], lr: float) -> dict[str, float]:
        keys = sorted({k for logs in window for k in logs})
        local = torch.tensor([sum(w.get(k, 0.0) for w in window) / len(window) for k in keys])
        averaged = self.accelerator.reduce(local.to(self.accelerator.device), reduction="mean").cpu()
        record = {k: float(v) for k, v in zip(keys, averaged, strict=True)}
        record["lr"] = lr
        if self.is_main:
            self.accelerator.log({f"{stage.name}/{k}": v for k, v in record.items()}, step=step)
            with open(self.stage_dir(stage) / "metrics.jsonl", "a") as f:
                f.write(json.dumps({"step": step, **record}) + "\n")
        return record

    @torch.no_grad()
    def _validate(self, model: torch.nn.Module, method: Method, stage: Stage, step: int, loader: DataLoader) -> None:
        """Mean loss on held-out episodes, with its own RNG so training's random stream is untouched."""
        method.eval()
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.run.seed)
            losses = []
            for i, batch in enumerate(loader):
                if i >= self.train_cfg.val_batches:
                    break
                loss, _ = model(self._to_device(batch), stage=stage.name)
                losses.append(loss.item())
        set_stage_modes(method, stage)
        if losses and self.is_main:
            value = sum(losses) / len(losses)
            self.accelerator.log({f"{stage.name}/val_loss": value}, step=step)
            with open(self.stage_dir(stage) / "metrics.jsonl", "a") as f:
                f.write(json.dumps({"step": step, "val_loss": value}) + "\n")

    # ------------------------------------------------------------------------------------------ checkpoints

    def _save(
        self,
        method: Method,
        plan: StagePlan,
        step: int,
        optimizer: Any,
        scheduler: Any,
        ema: EMA | None,
        normalizer: Normalizer,
        *,
        final: bool,
    ) -> None:
        rng_states = gather_object([rng.capture()])
        if not self.is_main:
            self.accelerator.wait_for_everyone()
            return
        stage_dir = self.stage_dir(plan.stage)
        files: dict[str, Any] = {
            checkpoint.MODEL_FILE: self.accelerator.unwrap_model(method).state_dict(),
            checkpoint.TRAINER_STATE_FILE: {
                "step": step,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "world_size": self.accelerator.num_processes,
            },
            checkpoint.STATS_FILE: normalizer.save,
            checkpoint.CONFIG_FILE: to_yaml(self.cfg),
            checkpoint.INFO_FILE: checkpoint.info_to_json(self.dataset.info),
            checkpoint.META_FILE: {
                "stage": plan.stage.name,
                "step": step,
                "total_steps": plan.steps,
                "schedule": plan.schedule.to_dict(),
                "method": method.name,
                "version": __version__,
                "git_sha": checkpoint.git_sha(),
                "data_fingerprint": self.dataset.fingerprint,
                "data_source": self.dataset.describe_source(),
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        }
        for rank, state in enumerate(rng_states):
            files[f"rng_{rank}.pt"] = state
        if ema is not None:
            files[checkpoint.EMA_FILE] = ema.state_dict()
        target = checkpoint.checkpoints_dir(stage_dir) / checkpoint.step_dir_name(step)
        checkpoint.write_checkpoint(target, files)
        if final:
            atomic_write_text(stage_dir / checkpoint.FINAL_MARKER, target.name)
        checkpoint.prune(stage_dir, self.train_cfg.keep_last)
        self.accelerator.wait_for_everyone()

    def _load_resume_state(self, ckpt: Path, method: Method, optimizer: Any, scheduler: Any, ema: EMA | None) -> int:
        checkpoint.load_model_weights(method, ckpt / checkpoint.MODEL_FILE)
        state = checkpoint.load_torch_state(ckpt / checkpoint.TRAINER_STATE_FILE)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if ema is not None:
            ema.load_state_dict(checkpoint.load_tensors(ckpt / checkpoint.EMA_FILE))
        rank_file = ckpt / f"rng_{self.accelerator.process_index}.pt"
        if state.get("world_size") == self.accelerator.num_processes and rank_file.exists():
            rng.restore(checkpoint.load_torch_state(rank_file))
        else:
            self.print(f"warning: {ckpt} was saved by {state.get('world_size')} processes; RNG streams restart")
            set_seed(self.run.seed + int(state["step"]) + self.accelerator.process_index)
        return int(state["step"])

    @staticmethod
    def _truncate_metrics(path: Path, step: int) -> None:
        """Drop lines logged after the checkpoint we resume from: those steps are about to be run again."""
        if not path.exists():
            return
        kept = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= step]
        atomic_write_text(path, "".join(f"{line}\n" for line in kept))

    # -------------------------------------------------------------------------------------------- signals

    def _install_signal_handlers(self) -> None:
        def request_stop(signum: int, _frame: Any) -> None:
            if self._stop_signal is not None:  # a second Ctrl-C means now
                raise KeyboardInterrupt
            self._stop_signal = signum
            print(f"\nsignal {signum}: finishing this step and saving a checkpoint (again to abort)", file=sys.stderr)

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, request_stop)

    def _stop_requested(self) -> bool:
        flag = torch.tensor([1.0 if self._stop_signal is not None else 0.0], device=self.accelerator.device)
        if self.accelerator.num_processes > 1:
            flag = self.accelerator.reduce(flag, reduction="sum")
        return bool(flag.item() > 0)


def configure_trainable(method: Method, stage: Stage, intended_grad: dict[str, bool]) -> list[torch.nn.Parameter]:
    """Freeze everything outside the stage's modules; inside them keep what the method itself froze.

    ``intended_grad`` is ``requires_grad`` per parameter name as the method was built, before any stage froze
    anything (a later stage must not unfreeze what the method froze on purpose).
    """
    trainable_ids = {id(p) for p in method.trainable_parameters(stage)}
    params = []
    for name, param in method.named_parameters():
        param.requires_grad_(id(param) in trainable_ids and intended_grad.get(name, True))
        if param.requires_grad:
            params.append(param)
    if not params:
        raise ConfigError(f"stage {stage.name!r} of method {method.name!r} has no trainable parameters")
    return params


def set_stage_modes(method: Method, stage: Stage) -> None:
    """Train mode for the stage's modules, eval mode (no dropout, frozen norm statistics) for every other one."""
    method.train()
    for name, child in method.named_children():
        if name not in stage.trainable:
            child.eval()


def _flat_hparams(cfg: DictConfig) -> dict[str, Any]:
    """TensorBoard takes scalar hyperparameters only: flatten, and stringify the rest."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            key = prefix[:-1]
            flat[key] = node if isinstance(node, int | float | str | bool) else str(node)

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return flat


EXIT_STOPPED = 75
"""Exit status of a run stopped before its end (a signal or ``train.stop_at_step``): EX_TEMPFAIL, "try again",
so ``train && eval`` does not evaluate an unfinished run. Re-running the same command resumes it."""


def resolved(args: list[str]) -> dict[str, Any]:
    """The run config of ``args`` with the method section validated against its Config (``--cfg``)."""
    cfg = compose(args, root="train")
    run = validate(cfg, RunConfig, "config")
    cls, method_cfg = method_config(cfg.method)
    return {"method": {"name": cls.name, **cli.plain(method_cfg)}} | {
        k: v for k, v in cli.plain(run).items() if k != "method"
    }


def run(args: list[str]) -> int:
    """Compose the config from ``args``, then train every stage (or ``stage=``) to its end or a requested stop."""
    try:
        trainer = Trainer(compose(args, root="train"))
    except ValueError as exc:  # a config check that escaped foresight.config.validate: still one line
        raise ConfigError(str(exc)) from exc
    status = trainer.fit()
    if status == "stopped":
        print(f"training stopped early (exit {EXIT_STOPPED}); re-run the same command to resume", file=sys.stderr)
        return EXIT_STOPPED
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.main("train", argv)


if __name__ == "__main__":
    sys.exit(main())
