"""Results schema v1: derived fields, round trips, and errors that name the field and the reason."""

import copy
import dataclasses
import hashlib
import json
import re

import pytest
from lb_factories import calvin_result, calvin_tasks, checkpoint, libero_protocol, libero_result

from foresight.leaderboard import ResultValidationError, make_result, validate_result
from foresight.leaderboard.schema import Protocol, Result, TaskOutcome
from foresight.leaderboard.validation import load_schema


def test_libero_result_derives_rates_intervals_and_totals():
    res = libero_result(successes=(50, 50, 49, 47, 45, 50, 47, 50, 41, 44))
    t3 = res.tasks[3]
    assert (t3.index, t3.successes, t3.trials, t3.rate) == (3, 47, 50, 0.94)
    assert t3.ci95 == pytest.approx((0.8378265663, 0.9793854036), abs=1e-9)  # hand value, see stats test
    assert (res.aggregate.successes, res.aggregate.trials) == (473, 500)
    assert res.aggregate.rate == pytest.approx(0.946)
    assert res.calvin is None
    d = res.to_dict()
    assert d["schema_version"] == 1 and d["kind"] == "reproduced"
    assert d["protocol"]["trials_per_task"] == 50 and d["protocol"]["seeds"] == [7]


def test_config_hash_is_sha256_of_canonical_json():
    config = {"b": [1, 2.5], "a": {"z": "é", "y": None}}
    res = libero_result(config=config)
    canonical = '{"a":{"y":null,"z":"é"},"b":[1,2.5]}'
    assert res.config_hash == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    # Key order does not matter; values do.
    assert libero_result(config={"a": {"y": None, "z": "é"}, "b": [1, 2.5]}).config_hash == res.config_hash
    assert libero_result(config={**config, "b": [1, 2.6]}).config_hash != res.config_hash


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("trials_per_task", 20),
        ("seeds", (7, 8)),
        ("max_steps", 600),
        ("warmup_steps", 5),
        ("image_convention", "flipud"),
        ("replan_every", 1),
        ("init_states", "random"),
        ("checkpoints_averaged", 3),
    ],
)
def test_protocol_id_changes_with_every_field(field, value):
    base = libero_protocol()
    changed = dataclasses.replace(base, **{field: value})
    assert base.protocol_id != changed.protocol_id
    assert base.protocol_id == libero_protocol().protocol_id  # stable across constructions
    assert base.protocol_id.startswith("p-") and len(base.protocol_id) == 14


def test_round_trip_through_json_is_exact():
    res = libero_result()
    text = res.to_json()
    again = Result.from_dict(json.loads(text))
    assert again == res
    assert again.to_json() == text
    assert text.endswith("\n") and text.index('"aggregate"') < text.index('"benchmark"')  # sorted keys


def test_a_checkpoint_schedule_is_validated_and_round_trips():
    schedule = {"warmup_steps": 10, "total_steps": 1000, "peak_lr": 3e-4, "decay": "cosine", "final_lr": 0.0}
    res = dataclasses.replace(
        libero_result(), checkpoint=dataclasses.replace(libero_result().checkpoint, schedule=schedule)
    )
    validate_result(res.to_dict())
    assert Result.from_dict(json.loads(res.to_json())) == res
    broken = res.to_dict()
    del broken["checkpoint"]["schedule"]["peak_lr"]
    with pytest.raises(ResultValidationError, match="peak_lr"):
        validate_result(broken)
    assert "schedule" not in libero_result().to_dict()["checkpoint"]  # results made before #24 stay valid


def test_calvin_chain_statistics_match_hand_counts():
    lengths = (5, 5, 4, 3, 2, 5, 1, 0, 5, 4)
    res = calvin_result(chain_lengths=lengths)
    cal = res.calvin
    assert cal.completed_histogram == (1, 1, 1, 1, 2, 4)
    assert [r.successes for r in cal.success_in_a_row] == [9, 8, 7, 6, 4]
    assert [r.rate for r in cal.success_in_a_row] == [0.9, 0.8, 0.7, 0.6, 0.4]
    assert cal.avg_len == pytest.approx(34 / 10)
    # Subtask totals: 34 completed out of sum(min(l + 1, 5)) = 5+5+5+4+3+5+2+1+5+5 = 40 attempts.
    assert (res.aggregate.successes, res.aggregate.trials) == (34, 40)
    assert Result.from_dict(json.loads(res.to_json())) == res


def test_make_result_rejects_inconsistent_counts():
    with pytest.raises(ResultValidationError) as err:
        make_result(
            method="clad",
            config={},
            checkpoint=checkpoint(),
            benchmark="libero",
            suite="libero_10",
            protocol=libero_protocol(trials=50),
            tasks=[TaskOutcome(i, f"task {i}", 10, 20) for i in range(10)],
            wall_time_s=1.0,
        )
    assert err.value.path == "tasks[0].trials"
    assert "20 != trials_per_task × checkpoints_averaged = 50 × 1" in str(err.value)


def test_make_result_names_impossible_counts():
    with pytest.raises(ResultValidationError) as err:
        libero_result(successes=(50, 50, 51, 50, 50, 50, 50, 50, 50, 50))
    assert err.value.path == "tasks[2]"
    assert "need integers 0 <= successes <= trials" in str(err.value) and "51/50" in str(err.value)


def test_make_result_rejects_calvin_tasks_that_contradict_the_chains():
    lengths = (5, 0, 2)
    tasks = calvin_tasks(lengths)
    tasks[0] = dataclasses.replace(tasks[0], successes=tasks[0].successes + 1, trials=tasks[0].trials + 1)
    with pytest.raises(ResultValidationError, match="implied by the chain histogram"):
        make_result(
            method="clad",
            config={},
            checkpoint=checkpoint(),
            benchmark="calvin",
            suite="abc_d",
            protocol=calvin_result(chain_lengths=lengths).protocol,
            tasks=tasks,
            chain_lengths=lengths,
            wall_time_s=1.0,
        )


def _mutated(path, value=None, delete=False):
    d = libero_result().to_dict()
    target = d
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return d


@pytest.mark.parametrize(
    ("doc", "path", "reason"),
    [
        (_mutated(("protocol", "seeds"), delete=True), "protocol.seeds", "required field is missing"),
        (
            _mutated(("benchmark",), "metaworld"),
            "benchmark",
            "'metaworld' is not a valid value (valid: 'libero', 'calvin')",
        ),
        (
            _mutated(("protocol", "image_convention"), "flipped"),
            "protocol.image_convention",
            "valid: 'rot180', 'flipud', 'raw'",
        ),
        (_mutated(("protocol", "trials"), 50), "protocol.trials", "unknown field (valid fields: action_execution"),
        (_mutated(("tasks", 2, "successes"), 51), "tasks[2].successes", "51 successes exceed 50 trials"),
        (_mutated(("tasks", 0, "rate"), 0.5), "tasks[0].rate", "0.5 != successes/trials = 50/50"),
        (_mutated(("tasks", 1, "ci95"), [0.9, 1.0]), "tasks[1].ci95", "not the Wilson 95% interval of 50/50"),
        (_mutated(("tasks", 1, "ci95"), [0.9]), "tasks[1].ci95", "too short"),
        (_mutated(("method", "config_hash"), "sha256:" + "0" * 64), "method.config_hash", "does not match the config"),
        (_mutated(("method", "config", "lr"), 1e-3), "method.config_hash", "does not match the config"),
        (_mutated(("protocol", "max_steps"), 600), "protocol.protocol_id", "does not match the protocol fields"),
        (
            _mutated(("suite",), "libero_100"),
            "suite",
            "'libero_100' is not a libero suite (valid: libero_10, libero_90",
        ),
        (
            _mutated(("calvin",), {"completed_histogram": [1, 0, 0, 0, 0, 0], "success_in_a_row": [], "avg_len": 0}),
            "calvin.success_in_a_row",
            "is too short",
        ),
        (_mutated(("timestamp",), "2026-01-02 03:04:05"), "timestamp", "does not match"),
        (_mutated(("checkpoint", "git_sha"), "main"), "checkpoint.git_sha", "does not match"),
        (
            _mutated(("checkpoint", "training_steps"), [100, 200]),
            "checkpoint.training_steps",
            "lists 2 checkpoints but checkpoints_averaged=1",
        ),
        (_mutated(("aggregate", "successes"), 400), "aggregate", "400/500 != task totals 473/500"),
        (_mutated(("schema_version",), 2), "schema_version", "2 is not supported (expected 1)"),
        (_mutated(("method", "name"), "CLaD v2"), "method.name", "does not match"),
    ],
)
def test_validation_names_field_and_reason(doc, path, reason):
    with pytest.raises(ResultValidationError) as err:
        validate_result(doc, source="results.json")
    paths = [p for p, _ in err.value.issues]
    assert path in paths, err.value.issues
    why = dict(err.value.issues)[path]
    assert reason in why, why
    assert "results.json" in str(err.value) and path in str(err.value)


def test_validation_reports_every_problem_at_once():
    d = _mutated(("protocol", "seeds"), delete=True)
    d["benchmark"] = "metaworld"
    with pytest.raises(ResultValidationError) as err:
        validate_result(d, source="x.json")
    msg = str(err.value)
    assert msg.startswith("x.json: 2 problem(s):")
    assert "  benchmark: 'metaworld' is not a valid value" in msg
    assert "  protocol.seeds: required field is missing" in msg


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (
            {"action_execution": "temporal_ensemble"},
            "protocol.ensemble_decay",
            "must be a number for temporal_ensemble",
        ),
        ({"num_chains": 1000}, "protocol.num_chains", "must be null for LIBERO"),
        ({"init_states": "calvin_official"}, "protocol.init_states", "cannot be used on LIBERO"),
    ],
)
def test_protocol_rules(change, path, reason):
    d = libero_result().to_dict()
    d["protocol"].update(change)
    d["protocol"]["protocol_id"] = Protocol.from_dict(d["protocol"]).protocol_id
    with pytest.raises(ResultValidationError) as err:
        validate_result(d)
    assert reason in dict(err.value.issues)[path]


def test_calvin_result_needs_chain_statistics_and_consistent_histogram():
    d = calvin_result().to_dict()
    bad = copy.deepcopy(d)
    bad["calvin"] = None
    with pytest.raises(ResultValidationError, match="calvin: required for CALVIN results"):
        validate_result(bad)
    bad = copy.deepcopy(d)
    bad["calvin"]["avg_len"] = 3.5
    with pytest.raises(ResultValidationError, match=r"calvin.avg_len: 3.5 != mean completed subtasks 3.4"):
        validate_result(bad)
    bad = copy.deepcopy(d)
    bad["calvin"]["success_in_a_row"][4]["successes"] = 5
    with pytest.raises(ResultValidationError, match=r"calvin.success_in_a_row\[4\]"):
        validate_result(bad)


def test_libero_suite_must_list_every_task_once():
    d = libero_result().to_dict()
    short = copy.deepcopy(d)
    short["tasks"] = short["tasks"][:9]
    short["aggregate"] = {"successes": 0, "trials": 1, "rate": 0.0, "ci95": [0.0, 1.0]}
    with pytest.raises(ResultValidationError, match="LIBERO-Long \\(libero_10\\) has 10 tasks, the result lists 9"):
        validate_result(short)
    dup = copy.deepcopy(d)
    dup["tasks"][1]["name"] = dup["tasks"][0]["name"]
    with pytest.raises(ResultValidationError, match="duplicate task names"):
        validate_result(dup)


def test_checkpoints_averaged_needs_one_step_count_each():
    res = libero_result(
        protocol=libero_protocol(trials=20, checkpoints=3), successes=(55,) * 10, steps=(180_000, 190_000, 200_000)
    )
    assert res.tasks[0].trials == 60 and res.checkpoint.training_steps == (180_000, 190_000, 200_000)
    with pytest.raises(ResultValidationError, match="give one step count per checkpoint"):
        libero_result(protocol=libero_protocol(trials=20, checkpoints=3), successes=(55,) * 10, steps=200_000)


def test_non_json_values_are_refused():
    with pytest.raises(ResultValidationError, match="not JSON-serialisable"):
        libero_result(config={"lr": float("nan")})


def test_shipped_schema_is_a_valid_draft_2020_12_schema():
    schema = load_schema("result.schema.json")
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["required"]) >= {"protocol", "tasks", "aggregate", "calvin", "hardware", "wall_time_s"}


def test_hardware_defaults_to_this_machine():
    import torch

    res = make_result(
        method="clad",
        config={},
        checkpoint=checkpoint(),
        benchmark="libero",
        suite="libero_10",
        protocol=libero_protocol(),
        tasks=[TaskOutcome(i, f"task {i}", 25, 50) for i in range(10)],
        wall_time_s=1.0,
    )
    assert res.hardware.cpu and res.hardware.platform
    expected = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    )
    assert list(res.hardware.gpus) == expected
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", res.timestamp)
