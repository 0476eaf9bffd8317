from dataclasses import dataclass, field

import pytest

from foresight.config import ConfigError, compose, load_group, parse_overrides, to_yaml, validate
from foresight.train import TrainConfig


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
    assert validate(cfg.train, TrainConfig, "train").grad_clip == 1.0  # untouched TrainConfig default


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


# ------------------------------------------------------------------------ presets hold only what differs


@dataclass
class Budgeted:
    width: int = 8
    inner: Inner = field(default_factory=lambda: Inner(depth=5, scale=0.5))  # not Inner's own defaults


def test_a_partial_nested_section_keeps_the_parents_default_for_the_rest():
    built = validate({"inner": {"scale": 2.0}}, Budgeted, "method")
    assert built.inner == Inner(depth=5, scale=2.0)  # depth from Budgeted's default, not Inner()'s 2


def test_a_key_that_moved_into_a_section_names_its_new_place():
    from foresight.factory import method_config

    with pytest.raises(ConfigError, match=r"unknown key 'depth' in method: it is now method\.inner\.depth"):
        validate({"depth": 3}, Budgeted, "method")
    with pytest.raises(ConfigError, match=r"it is now method\.policy\.budget\.steps"):
        method_config(compose(["method=clad", "method.policy.steps=5"]).method)


@pytest.mark.parametrize("suite", ["libero_10", "libero_spatial", "libero_object", "libero_goal", "libero_90"])
def test_per_suite_presets_are_the_family_preset_with_its_suite(suite):
    from foresight.data.config import load_data_config

    thin, family = load_data_config([f"data={suite}"]), load_data_config(["data=libero", f"data.suite={suite}"])
    assert thin == family
    assert (thin.name, thin.suite, thin.subfolder, thin.format) == (suite, suite, suite, "libero_hdf5")
    assert load_group("env", suite) == {**load_group("env", "libero"), "suite": suite}


def test_extends_chains_presets_and_rejects_loops(tmp_path):
    (tmp_path / "base.yaml").write_text("name: dp\nhidden_dim: 32\ndropout: 0.2\n")
    (tmp_path / "mine.yaml").write_text("extends: base.yaml\nhidden_dim: 64\n")
    assert load_group("method", str(tmp_path / "mine.yaml")) == {"name": "dp", "hidden_dim": 64, "dropout": 0.2}
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match=r"extend each other in a loop: .*a\.yaml -> .*b\.yaml -> .*a\.yaml"):
        load_group("method", str(tmp_path / "a.yaml"))


def _leaves(node, prefix=""):
    if isinstance(node, dict) and node:
        return [leaf for key, value in node.items() for leaf in _leaves(value, f"{prefix}{key}.")]
    return [(prefix[:-1], node)]


def _nested(key, value):
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


@pytest.mark.parametrize("group", ["method", "data", "env"])
def test_shipped_presets_repeat_no_default(group):
    """A preset names what it selects (name, suite) and sets only values that differ from the dataclass."""
    from foresight.config import available, config_root, load_yaml
    from foresight.data.config import DataConfig
    from foresight.registry import get_env, get_method

    for preset in available(group):
        values = load_yaml(config_root() / group / f"{preset}.yaml")
        name = load_group(group, preset).get("name")
        schema = DataConfig if group == "data" else (get_method if group == "method" else get_env)(name).Config
        defaults = schema()
        for key, value in _leaves(values):
            if key in ("name", "suite", "extends") or str(value).startswith("${"):
                continue
            try:
                built = validate(_nested(key, value), schema, group)
            except ConfigError as err:
                if "unknown key" in str(err):
                    raise
                continue  # valid only with the preset's other values (a width and its head count): not the default
            assert built != defaults, f"configs/{group}/{preset}.yaml: {key}: {value!r} repeats the default"
