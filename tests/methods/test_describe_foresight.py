"""A study records each arm's foresight as ``Method.describe_foresight()`` and flags arms whose other components
differ: the sibling methods' ablation switches must show up there, and none may read as "no foresight"."""

from __future__ import annotations

import copy

import contract
import pytest

from foresight.config import load_group

SWITCHES = {
    "dreamvla": (("backbone", "attention"), "causal", "causal attention"),
    "mola": (("experts",), ["depth"], "latent actions (depth)"),
    "clap": (("rf", "finetune"), "insulation", "latent action codes (insulation,"),
}


@pytest.mark.parametrize("name", sorted(SWITCHES))
def test_an_ablation_switch_changes_the_recorded_foresight(name):
    path, value, expected = SWITCHES[name]
    node = load_group("method", f"{name}_tiny")
    switched = copy.deepcopy(node)
    section = switched
    for key in path[:-1]:
        section = section.setdefault(key, {})
    section[path[-1]] = value

    default, variant = contract.build(node).describe_foresight(), contract.build(switched).describe_foresight()
    assert default != variant
    assert expected in variant, variant
    assert "none" not in (default, variant)


def test_clad_names_the_foresight_its_policy_reads():
    node = load_group("method", "clad_tiny")
    node.setdefault("policy", {})["foresight"] = "proprio"
    assert contract.build(node).describe_foresight().endswith("(policy reads: proprio)")
