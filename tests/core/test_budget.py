"""Budgets and their learning-rate schedules (issue #24: a schedule that fits the run it schedules)."""

from __future__ import annotations

import pytest
import torch

from foresight.budget import Budget, Schedule
from foresight.config import ConfigError, compose, validate
from foresight.demo import METHOD_OVERRIDES
from foresight.explain import effective_budgets
from foresight.factory import method_config
from foresight.train import TrainConfig


def run_schedule(schedule: Schedule) -> list[float]:
    """The learning rate of every optimizer step, from the scheduler the trainer builds (diffusers' cosine)."""
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=schedule.peak_lr)
    scheduler = schedule.scheduler(optimizer)
    lrs = []
    for _ in range(schedule.total_steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return [*lrs, optimizer.param_groups[0]["lr"]]  # and the lr after the last step


def test_schedule_matches_the_scheduler_the_trainer_runs():
    schedule = Budget(steps=50, batch_size=1, lr=1e-3, warmup_steps=10).schedule()
    expected = [schedule.lr_at(step) for step in range(51)]
    assert run_schedule(schedule) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert expected[5] == pytest.approx(5e-4) and expected[10] == pytest.approx(1e-3) and expected[50] == 0.0


def test_a_warmup_fraction_scales_with_the_steps():
    budget = Budget(steps=200_000, batch_size=128, lr=3e-4, warmup_fraction=0.01)
    assert budget.warmup == 2000  # the LBP fork's 2000 steps at the paper's budget
    assert budget.override({"steps": 1000}).warmup == 10
    assert budget.override({"warmup_steps": 50}).warmup == 50  # given in steps, the fraction is dropped
    assert budget.override({"warmup_steps": 50}).warmup_fraction is None


def test_a_warmup_not_shorter_than_the_run_is_an_error_naming_both_numbers_and_the_fix():
    with pytest.raises(ValueError) as err:
        Budget(steps=1000, batch_size=8, lr=1e-3, warmup_steps=2000)
    message = str(err.value)
    assert "2000 steps" in message and "1000 steps" in message and "train.warmup_fraction" in message
    with pytest.raises(ValueError, match="both set"):
        Budget(steps=10, batch_size=8, lr=1e-3, warmup_steps=1, warmup_fraction=0.1)
    with pytest.raises(ValueError, match=r"warmup_fraction must be in \[0, 1\)"):
        Budget(steps=10, batch_size=8, lr=1e-3, warmup_fraction=1.0)


def test_train_overrides_are_generated_from_the_budget_fields():
    train = validate({"steps": 300, "warmup_fraction": 0.1, "grad_clip": None}, TrainConfig, "train")
    assert (train.steps, train.warmup_fraction, train.lr, train.grad_clip) == (300, 0.1, None, None)
    with pytest.raises(ConfigError, match=r"train\.warmup_fraction = 'x': expected float or null"):
        validate({"warmup_fraction": "x"}, TrainConfig, "train")
    with pytest.raises(ConfigError, match=r"Did you mean 'warmup_fraction'"):
        validate({"warmup_frac": 0.1}, TrainConfig, "train")


def budgets(overrides: list[str]) -> dict[str, Budget]:
    cfg = compose(overrides)
    _, method_cfg = method_config(cfg.method)
    return effective_budgets(method_cfg, validate(cfg.train, TrainConfig, "train"))


@pytest.mark.parametrize(
    ("method", "short"),
    [
        ("dp", ["train.steps=300"]),
        ("clad", ["train.steps=300"]),
        ("clad", ["method.dynamics.budget.steps=40", "method.policy.budget.steps=60"]),
    ],
)
def test_at_a_short_budget_every_stage_reaches_its_peak_and_decays_to_its_end_within_the_run(method, short):
    for key, budget in budgets([f"method={method}", *short]).items():
        schedule = budget.schedule()
        lrs = run_schedule(schedule)
        peak = max(range(len(lrs)), key=lrs.__getitem__)
        assert 0 < schedule.warmup_steps < budget.steps, key
        assert lrs[peak] == pytest.approx(budget.lr) and peak == schedule.warmup_steps < budget.steps, key
        assert lrs[-1] == pytest.approx(schedule.final_lr, abs=1e-12), key  # the end value, reached in the run
        assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1 :], strict=False)), key


@pytest.mark.parametrize("method", ["dp", "clad"])
def test_at_the_papers_budget_the_warmup_is_the_papers(method):
    warmups = {key: b.warmup for key, b in budgets([f"method={method}"]).items()}
    expected = {"dp": {"method.budget": 2000}, "clad": {"method.dynamics.budget": 2000, "method.policy.budget": 2000}}
    assert warmups == expected[method]  # the LBP fork's WARM_STEPS for every stage


def test_make_demos_dp_leaves_warmup():
    """The demo's dp run (dp_tiny, 1000 steps at lr 1e-3) was still warming up at its end with 2000 warm-up steps."""
    (budget,) = budgets(["method=dp_tiny", *METHOD_OVERRIDES["dp"]]).values()
    lrs = run_schedule(budget.schedule())
    assert budget.steps == 1000 and budget.warmup == 10
    assert max(lrs) == pytest.approx(1e-3) and lrs[-1] == 0.0


def test_a_too_long_warmup_from_the_command_line_is_a_config_error():
    with pytest.raises(ConfigError, match=r"method\.budget .*2000 steps is not shorter than the run's 1000 steps"):
        budgets(["method=dp", "train.steps=1000", "train.warmup_steps=2000"])
