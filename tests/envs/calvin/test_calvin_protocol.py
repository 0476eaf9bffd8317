"""The protocol's data against the fixtures recorded with the official code: chains, reset states, seeds."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from foresight.envs.calvin import CalvinConfig, fnv1_32, load_sequences, reset_state
from foresight.envs.calvin.language import load_instructions
from foresight.envs.calvin.protocol import load_protocol
from foresight.envs.calvin.resources import INSTRUCTIONS, SEQUENCES, TASKS, data_file
from foresight.envs.calvin.sequences import condition_seed

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "calvin"  # trimmed copy, see its README


def test_fnv1_32_matches_pyfasthash_test_vectors() -> None:
    # pyfasthash tests/test_fnv1.py: fnv1_32 of b"test", of b"test" seeded with that hash, and of u"test".
    assert fnv1_32(b"test") == 3698262380
    assert fnv1_32(b"test", seed=3698262380) == 660137056
    assert fnv1_32("test") == 3910690890
    # By hand: from seed 0, byte 0x61 gives 0 * prime ^ 0x61; then (0x61 * 16777619) mod 2**32 ^ 0x62.
    assert fnv1_32(b"a") == 0x61
    assert fnv1_32(b"ab") == ((0x61 * 16777619) % 2**32) ^ 0x62
    assert fnv1_32("a") == fnv1_32(b"a\x00")  # text is hashed as UTF-16-LE code units
    with pytest.raises(TypeError, match="str or bytes"):
        fnv1_32(5)  # type: ignore[arg-type]


def test_shipped_sequences_are_byte_identical_to_the_recorded_official_ones() -> None:
    shipped, recorded = data_file(SEQUENCES).read_bytes(), (FIXTURES / "eval_sequences.json").read_bytes()
    assert hashlib.sha256(shipped).hexdigest() == hashlib.sha256(recorded).hexdigest()
    assert json.loads(shipped) == json.loads(recorded)
    chains = load_sequences(data_file(SEQUENCES))
    assert len(chains) == 1000 and [c.index for c in chains] == list(range(1000))
    first = json.loads(recorded)[0]
    assert chains[0].initial_condition == first[0] and list(chains[0].subtasks) == first[1]
    assert chains[0].subtasks[0] == "rotate_blue_block_right"  # also in RoboFlamingo's committed copy


def test_reset_states_equal_the_official_ones_for_the_first_20_chains() -> None:
    recorded = json.loads((FIXTURES / "initial_states.json").read_text())
    chains = load_sequences(data_file(SEQUENCES))
    assert [r["index"] for r in recorded] == list(range(20))
    for entry in recorded:
        assert chains[entry["index"]].initial_condition == entry["initial_condition"]
        assert list(chains[entry["index"]].subtasks) == entry["subtasks"]
        robot_obs, scene_obs = reset_state(entry["initial_condition"])
        assert robot_obs.dtype == scene_obs.dtype == np.float64
        # Bit-exact: the official function's output was recorded, not the simulator's.
        np.testing.assert_array_equal(robot_obs, np.array(entry["robot_obs"]))
        np.testing.assert_array_equal(scene_obs, np.array(entry["scene_obs"]))


def test_the_seed_is_fnv1_of_the_condition_values_text() -> None:
    condition = json.loads((FIXTURES / "initial_states.json").read_text())[0]["initial_condition"]
    text = "dict_values([1, 1, 'left', 'open', 'slider_left', 'table', 'slider_right', 0])"
    assert str(condition.values()) == text
    assert condition_seed(condition) == fnv1_32(text) == 2138410836  # the value checked against pyhash2


def test_reset_state_places_blocks_by_condition() -> None:
    condition = {
        "led": 0,
        "lightbulb": 1,
        "slider": "left",
        "drawer": "closed",
        "red_block": "slider_right",
        "blue_block": "table",
        "pink_block": "table",
        "grasped": 0,
    }
    robot_obs, scene = reset_state(condition)
    assert robot_obs[14] == 1.0 and robot_obs.shape == (15,) and scene.shape == (24,)
    assert (scene[0], scene[1], scene[3], scene[4], scene[5]) == (0.28, 0.0, 0.088, 1.0, 0.0)
    np.testing.assert_array_equal(scene[6:9], [7.03416330e-02, 9.24044687e-02, 4.60990009e-01])
    table_spots = {(5.00000896e-02, -1.20000177e-01, 4.59990009e-01), (2.29995412e-01, -1.19995140e-01, 4.59990010e-01)}
    # Red is off the table, so blue takes the first shuffled table spot and pink the second: both spots used once.
    assert {tuple(scene[12:15]), tuple(scene[18:21])} == table_spots
    for yaw in scene[[11, 17, 23]]:
        assert np.pi / 2 - np.pi / 8 <= yaw <= np.pi / 2 + np.pi / 8
    assert not np.any(scene[[2, 9, 10, 15, 16, 21, 22]])
    # Deterministic: the seed comes from the condition, not from global state.
    np.random.seed(123)
    again = reset_state(dict(condition))[1]
    np.testing.assert_array_equal(scene, again)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"led": 2}, r"led=2 is not one of \[0, 1\]"),
        ({"led": 1.0}, r"led=1.0 is not one of"),
        ({"lightbulb": True}, r"lightbulb=True is not one of"),
        ({"slider": "middle"}, r"slider='middle'"),
    ],
)
def test_bad_conditions_are_rejected_with_the_key_and_valid_values(change: dict, message: str) -> None:
    condition = dict(load_sequences(data_file(SEQUENCES))[0].initial_condition)
    condition.update(change)
    with pytest.raises(ValueError, match=message):
        reset_state(condition)


def test_reordered_condition_keys_are_rejected_because_the_order_seeds_the_layout() -> None:
    condition = load_sequences(data_file(SEQUENCES))[0].initial_condition
    reordered = dict(reversed(list(condition.items())))
    with pytest.raises(ValueError, match="in this order"):
        reset_state(reordered)


def test_sequences_file_errors_name_the_file_and_entry(tmp_path: Path) -> None:
    good = json.loads(data_file(SEQUENCES).read_text())[0]
    path = tmp_path / "seq.json"
    path.write_text(json.dumps([good, [good[0], good[1][:4]]]))
    with pytest.raises(ValueError, match=rf"{path} entry 1: a chain has 5 subtask names"):
        load_sequences(path)
    path.write_text(json.dumps([[good[0], [*good[1][:4], "juggle"]]]))
    with pytest.raises(ValueError, match=r"entry 0 names unknown subtasks \['juggle'\]"):
        load_sequences(path, known_tasks={"open_drawer"} | set(good[1]))
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_sequences(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_sequences(tmp_path / "missing.json")


def test_protocol_data_takes_the_first_chains_and_their_instructions() -> None:
    data = load_protocol(CalvinConfig(num_sequences=3))
    assert [c.index for c in data.chains] == [0, 1, 2]
    assert len(data.task_names) == 34 and data.task_names[0] == "rotate_red_block_right"
    assert data.instructions["rotate_blue_block_right"] == "take the blue block and rotate it to the right"
    assert set(data.instructions) == {t for c in data.chains for t in c.subtasks}
    with pytest.raises(ValueError, match=r"env.num_sequences=1001, but .* holds 1000 chains"):
        load_protocol(CalvinConfig(num_sequences=1001))


def test_every_oracle_task_has_exactly_one_validation_instruction() -> None:
    data = load_protocol(CalvinConfig())
    instructions = load_instructions(data_file(INSTRUCTIONS), data.task_names)
    assert len(instructions) == 34 and len(set(instructions.values())) == 34
    assert instructions["open_drawer"] == "pull the handle to open the drawer"
    assert instructions["lift_red_block_drawer"] == "Take the red block from the drawer"
    assert data_file(TASKS).read_text().startswith("# Official CALVIN task-oracle definitions")
    with pytest.raises(KeyError, match=r"no instruction for tasks \['juggle'\]"):
        load_instructions(data_file(INSTRUCTIONS), ["open_drawer", "juggle"])


def test_shipped_instructions_match_the_fixture_validation_annotations() -> None:
    recorded = np.load(FIXTURES / "dataset" / "validation" / "lang_annotations" / "embeddings.npy", allow_pickle=True)
    recorded = recorded.item()
    data = load_protocol(CalvinConfig())
    shipped = load_instructions(data_file(INSTRUCTIONS), data.task_names)
    assert {task: entry["ann"][0] for task, entry in recorded.items()} == shipped


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("suite", "abc", "CALVIN suite 'abc' is unknown"),
        ("num_sequences", 0, "num_sequences must be a positive integer"),
        ("ep_len", -1, "ep_len must be a positive integer"),
        ("oracle", "mine", "oracle 'mine' is unknown"),
        ("replan_every", 0, "replan_every must be a positive integer"),
    ],
)
def test_config_rejects_bad_values(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CalvinConfig(**{field: value})
