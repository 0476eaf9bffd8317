from dataclasses import dataclass, field

import pytest

from foresight.config import ConfigError, compose, load_group, parse_overrides, to_yaml, validate


@dataclass
class Inner:
    depth: int = 2
    scale: float = 1.0


@dataclass
class Schema:
    hidden_dim: int = 1024
    dropout: float = 0.1
    views: tuple[str, ...] = ("agentview", "wrist")
    offsets: list[int] = field(default_factory=lambda: [0])
    use_recon: bool = True
    note: str | None = None
    inner: Inner = field(default_factory=Inner)


def test_overrides_split_groups_from_dotted_and_parse_values_as_yaml():
    choices, dotted = parse_overrides(["method=clad", "train.steps=10", "train.lr=3e-4", "x.views=[a, b]", "x.n=null"])
    assert choices == {"method": "clad"}
    assert dotted == [("train.steps", 10), ("train.lr", 3e-4), ("x.views", ["a", "b"]), ("x.n", None)]


def test_override_without_equals_is_an_error():
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_overrides(["train.steps"])


def test_validate_builds_the_dataclass_converting_only_lossless_types():
    cfg = validate({"hidden_dim": 64, "dropout": 0, "views": ["a"], "inner": {"scale": 2}}, Schema, "method")
    assert cfg == Schema(hidden_dim=64, dropout=0.0, views=("a",), inner=Inner(depth=2, scale=2.0))
    assert isinstance(cfg.dropout, float) and isinstance(cfg.views, tuple)


def test_misspelled_key_names_close_matches_and_valid_keys():
    with pytest.raises(ConfigError) as err:
        validate({"hiden_dim": 64}, Schema, "method")
    message = str(err.value)
    assert "unknown key 'hiden_dim' in method" in message
    assert "Did you mean 'hidden_dim'?" in message
    assert "Valid keys: dropout, hidden_dim, inner, note, offsets, use_recon, views" in message


def test_misspelled_nested_key_names_its_path():
    with pytest.raises(ConfigError, match=r"unknown key 'dpeth' in method.inner\. Did you mean 'depth'"):
        validate({"inner": {"dpeth": 3}}, Schema, "method")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"hidden_dim": "big"}, "method.hidden_dim = 'big': expected an integer"),
        ({"hidden_dim": 1.5}, "method.hidden_dim = 1.5: expected an integer"),
        ({"use_recon": 1}, "method.use_recon = 1: expected true or false"),
        # bool is an int in Python: `true` where a number is expected must still be refused
        ({"hidden_dim": True}, "method.hidden_dim = True: expected an integer"),
        ({"dropout": False}, "method.dropout = False: expected a number (float)"),
        ({"offsets": [0, True]}, "method.offsets[1] = True: expected an integer"),
        ({"inner": {"depth": True}}, "method.inner.depth = True: expected an integer"),
        ({"dropout": "x"}, "method.dropout = 'x': expected a number (float)"),
        ({"views": "agentview"}, "method.views = 'agentview': expected tuple[str]"),
        ({"offsets": [0, "a"]}, "method.offsets[1] = 'a': expected an integer"),
        ({"note": 3}, "method.note = 3: expected str or null"),
    ],
)
def test_wrong_type_names_the_expected_type(values, expected):
    with pytest.raises(ConfigError) as err:
        validate(values, Schema, "method")
    assert str(err.value) == expected


def test_compose_applies_group_file_then_dotted_overrides(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: dp\nhidden_dim: 32\n")
    cfg = compose([f"method={path}", "method.hidden_dim=64", "train.steps=7", "seed=3"])
    assert cfg.method.name == "dp" and cfg.method.hidden_dim == 64
    assert cfg.train.steps == 7 and cfg.seed == 3
    assert cfg.train.grad_clip == 1.0  # untouched default from configs/train.yaml


def test_compose_rejects_an_unknown_top_level_section_with_a_suggestion():
    with pytest.raises(ConfigError, match=r"unknown key 'trian' in the run config\. Did you mean 'train'"):
        compose(["trian.steps=3"])


def test_unknown_preset_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match=r"unknown data 'no_such_data'\. Available: .*demo"):
        load_group("data", "no_such_data")


def test_unknown_method_lists_installed_methods():
    with pytest.raises(ConfigError, match=r"unknown method 'nonexistent'\..*Available: .*dp"):
        load_group("method", "nonexistent")


def test_to_yaml_round_trips_a_dataclass():
    import yaml

    assert yaml.safe_load(to_yaml(Schema(hidden_dim=8)))["hidden_dim"] == 8
