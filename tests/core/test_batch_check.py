"""The keys a DataSpec promises (foresight.batch_check): alternatives the data layer may deliver instead, and the
one error that names everything missing."""

from __future__ import annotations

import pytest

from foresight.batch_check import BatchKeyError, check_batch, required_keys
from foresight.types import ACTION, ACTION_IS_PAD, INSTRUCTION, STATE, DataSpec, FeatureSpec, feature_key, image_key

VLM = FeatureSpec(name="vlm", encoder="decisionnce", sources=("agentview", "instruction"))
SPEC = DataSpec(obs_offsets=(-6, 0), action_offsets=tuple(range(-6, 6)), views=("agentview", "wrist"),
                proprio_keys=("joint_states",), features=(VLM,))  # fmt: skip


def test_views_may_arrive_as_cached_features_and_instruction_features_as_text():
    assert required_keys(SPEC, training=True) == [
        ((STATE,), "proprio_keys ['joint_states']"),
        ((image_key("agentview"), feature_key("vlm", "agentview")), "view 'agentview'"),
        ((image_key("wrist"),), "view 'wrist'"),
        ((feature_key("vlm", "instruction"), INSTRUCTION), "feature 'vlm' of 'instruction'"),
        ((ACTION,), "action_offsets"),
        ((ACTION_IS_PAD,), "action_offsets"),
    ]
    cached = {STATE: 0, feature_key("vlm", "agentview"): 0, image_key("wrist"): 0, INSTRUCTION: 0, ACTION: 0,
              ACTION_IS_PAD: 0}  # fmt: skip
    check_batch(cached, SPEC, training=True, where="method 'm'")  # the trainer's batch when the cache covers a view


def test_inference_needs_actions_only_for_negative_offsets():
    present_only = DataSpec(obs_offsets=(0,), action_offsets=(0, 1, 2), proprio_keys=("joint_states",))
    assert required_keys(present_only, training=False) == [((STATE,), "proprio_keys ['joint_states']")]
    past = [alts for alts, _ in required_keys(SPEC, training=False)]
    assert (ACTION,) in past and (ACTION_IS_PAD,) in past


def test_one_error_names_every_missing_key_and_the_batch_s_keys():
    with pytest.raises(BatchKeyError) as info:
        check_batch({STATE: 0, ACTION: 0, "extra": 1}, SPEC, training=True, where="method 'clad', stage 'policy'")
    message = str(info.value)
    assert message.startswith(
        "the batch for method 'clad', stage 'policy' lacks 'observation.images.agentview' or "
        "'features.vlm.agentview' (for view 'agentview'); 'observation.images.wrist' (for view 'wrist'); "
        "'features.vlm.instruction' or 'instruction' (for feature 'vlm' of 'instruction'); 'action_is_pad' "
        "(for action_offsets). The batch has ['action', 'extra', 'observation.state']"
    )
    assert isinstance(info.value, KeyError)
